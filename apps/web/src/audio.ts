// Plays piano-roll frames with Web Audio: one triangle-wave voice per held note, a short attack
// and release, frames at a fixed tempo (the MIDI file's: one frame per beat at 120 bpm).

const LOWEST_NOTE = 21;

/** The notes of frames as (key, first frame, frames held): a key held across frames sounds once. */
export function noteSpans(
  frames: readonly (readonly number[])[],
): Array<{ key: number; start: number; length: number }> {
  const spans: Array<{ key: number; start: number; length: number }> = [];
  const open = new Map<number, number>();
  for (let t = 0; t <= frames.length; t++) {
    const now = new Set(frames[t] ?? []);
    for (const [key, start] of open)
      if (!now.has(key)) {
        spans.push({ key, start, length: t - start });
        open.delete(key);
      }
    for (const key of now) if (!open.has(key)) open.set(key, t);
  }
  return spans.sort((a, b) => a.start - b.start || a.key - b.key);
}

export class Player {
  private context: AudioContext | undefined;
  private voices: OscillatorNode[] = [];
  private endTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts playing; resolves with the time (performance.now()) the first note sounds, and calls
   * `onEnd` when the piece is over or stopped.
   */
  async play(frames: readonly (readonly number[])[], secondsPerFrame: number, onEnd: () => void): Promise<number> {
    this.stop();
    this.context ??= new AudioContext();
    await this.context.resume();
    const ctx = this.context;
    const master = ctx.createGain();
    master.gain.value = 0.12;
    master.connect(ctx.destination);
    const t0 = ctx.currentTime + 0.05;
    const spans = noteSpans(frames);
    for (const { key, start, length } of spans) {
      const osc = ctx.createOscillator();
      osc.type = 'triangle';
      osc.frequency.value = 440 * 2 ** ((LOWEST_NOTE + key - 69) / 12);
      const env = ctx.createGain();
      const a = t0 + start * secondsPerFrame;
      const b = a + length * secondsPerFrame;
      env.gain.setValueAtTime(0, a);
      env.gain.linearRampToValueAtTime(1, a + 0.01);
      env.gain.setValueAtTime(1, Math.max(a + 0.01, b - 0.03));
      env.gain.linearRampToValueAtTime(0, b);
      osc.connect(env).connect(master);
      osc.start(a);
      osc.stop(b + 0.01);
      this.voices.push(osc);
    }
    this.endTimer = setTimeout(
      () => {
        this.voices = [];
        onEnd();
      },
      (frames.length * secondsPerFrame + 0.1) * 1000,
    );
    const firstNote = spans[0];
    return performance.now() + (firstNote ? 50 + firstNote.start * secondsPerFrame * 1000 : 50);
  }

  stop(): void {
    for (const v of this.voices) {
      try {
        v.stop();
      } catch {
        // already stopped
      }
    }
    this.voices = [];
    if (this.endTimer !== undefined) clearTimeout(this.endTimer);
    this.endTimer = undefined;
  }
}
