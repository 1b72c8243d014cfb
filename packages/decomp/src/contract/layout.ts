import { prod } from '../prod.js';
import type { ViewOp } from './tt.js';

/**
 * The view that lays out a value of axes `sizes` (after the batch axis) in the order `perm` and
 * flattens it to rows of `inner`: axes that stay neighbours are merged first, so that the transpose
 * has as few axes as possible (a ring's running value has up to 2d + 1 axes; transposes of many axes
 * are slow on some backends, and XNNPACK's stop at 6).
 */
export function layoutView(sizes: readonly number[], perm: readonly number[], inner: number): ViewOp[] {
  if (perm.every((p, i) => p === i)) return [{ reshape: [-1, inner] }];
  // Runs of source axes that are consecutive in perm become one axis.
  const runs: number[][] = [];
  for (const p of perm) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1]! + 1 === p) last.push(p);
    else runs.push([p]);
  }
  const bySource = [...runs].sort((a, b) => a[0]! - b[0]!);
  const dims = bySource.map((run) => prod(run.map((a) => sizes[a]!)));
  const order = runs.map((run) => bySource.indexOf(run));
  return [{ reshape: [-1, ...dims] }, { transpose: [0, ...order.map((o) => o + 1)] }, { reshape: [-1, inner] }];
}
