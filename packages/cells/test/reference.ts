// The GRU and LSTM equations of PAPER.md evaluated in float64 with plain loops, from dense W, U and
// the biases: the independent reference the cells are checked against.

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export interface DenseWeights {
  W: Float64Array; // (N x G H), row-major
  U: Float64Array; // (H x G H)
  bW: Float64Array;
  bU: Float64Array;
  N: number;
  H: number;
}

function project(x: ArrayLike<number>, w: Float64Array, rows: number, cols: number, bias: Float64Array): Float64Array {
  const out = Float64Array.from(bias);
  for (let i = 0; i < rows; i++) {
    const xi = x[i]!;
    for (let j = 0; j < cols; j++) out[j]! += xi * w[i * cols + j]!;
  }
  return out;
}

/** One step for one sequence; returns the new state ([h] or [h, c]). */
export function referenceStep(
  kind: 'gru' | 'lstm',
  w: DenseWeights,
  x: ArrayLike<number>,
  state: Float64Array[],
): Float64Array[] {
  const { H, N } = w;
  const G = kind === 'gru' ? 3 : 4;
  const h = state[0]!;
  const a = project(x, w.W, N, G * H, w.bW);
  const u = project(h, w.U, H, G * H, w.bU);
  const out = new Float64Array(H);
  if (kind === 'gru') {
    for (let k = 0; k < H; k++) {
      const r = sigmoid(a[k]! + u[k]!);
      const z = sigmoid(a[H + k]! + u[H + k]!);
      const n = Math.tanh(a[2 * H + k]! + r * u[2 * H + k]!);
      out[k] = (1 - z) * n + z * h[k]!;
    }
    return [out];
  }
  const c = state[1]!;
  const cOut = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    const i = sigmoid(a[k]! + u[k]!);
    const f = sigmoid(a[H + k]! + u[H + k]!);
    const g = Math.tanh(a[2 * H + k]! + u[2 * H + k]!);
    const o = sigmoid(a[3 * H + k]! + u[3 * H + k]!);
    cOut[k] = f * c[k]! + i * g;
    out[k] = o * Math.tanh(cOut[k]!);
  }
  return [out, cOut];
}

/**
 * A masked sequence batch: inputs (B, T, N) flat, mask (B, T) flat; a padded step keeps the state.
 * Returns the outputs (B, T, H) flat.
 */
export function referenceRun(
  kind: 'gru' | 'lstm',
  w: DenseWeights,
  inputs: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  B: number,
  T: number,
): Float64Array {
  const { H, N } = w;
  const out = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    let state: Float64Array[] = kind === 'gru' ? [new Float64Array(H)] : [new Float64Array(H), new Float64Array(H)];
    for (let t = 0; t < T; t++) {
      const x = Array.prototype.slice.call(inputs, (b * T + t) * N, (b * T + t + 1) * N) as number[];
      if (!mask || mask[b * T + t]) state = referenceStep(kind, w, x, state);
      out.set(state[0]!, (b * T + t) * H);
    }
  }
  return out;
}
