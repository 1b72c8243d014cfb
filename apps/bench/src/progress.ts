import type { Progress } from './train.js';

/**
 * A progress display for training: on a terminal, one line redrawn in place with a bar, the ETA of
 * the epoch and the live loss; elsewhere (CI logs, files), a plain line every `everyMs`.
 */
export function progressReporter(
  stream: NodeJS.WriteStream = process.stderr,
  everyMs = 15_000,
): { update(p: Progress): void; done(): void } {
  const tty = Boolean(stream.isTTY);
  let epochStart = performance.now();
  let lastEpoch = -1;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(p) {
      const now = performance.now();
      if (p.epoch !== lastEpoch) {
        lastEpoch = p.epoch;
        epochStart = now;
      }
      const elapsed = (now - epochStart) / 1000;
      const eta = p.batch ? (elapsed / p.batch) * (p.batches - p.batch) : 0;
      if (tty) {
        if (now - lastDraw < 100 && p.batch < p.batches) return;
        const width = 24;
        const filled = Math.round((width * p.batch) / p.batches);
        stream.write(
          `\r\x1b[Kepoch ${p.epoch}/${p.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.batch}/${p.batches}  loss ${p.loss.toFixed(3)}  ETA ${eta.toFixed(0)} s`,
        );
        drawn = true;
      } else {
        if (now - lastDraw < everyMs) return;
        stream.write(
          `epoch ${p.epoch}/${p.epochs}: batch ${p.batch}/${p.batches}, loss ${p.loss.toFixed(3)}, ETA ${eta.toFixed(0)} s\n`,
        );
      }
      lastDraw = now;
    },
    done() {
      if (tty && drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
