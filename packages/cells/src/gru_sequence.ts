import * as tf from '@tensorflow/tfjs-core';
import { unstackLeading } from './unstack.js';

/**
 * The GRU recurrence over a whole sequence as one differentiable op with its backward pass written
 * out (backpropagation through time), for U given as a chain of plain matrices
 * U = M_1 ... M_k (dense: U; CP and Tucker: their two bottleneck factors; a rebuilt U).
 *
 * Why: left to autodiff, every step adds a (hidden x 3 hidden) gradient of U and a matMul to make
 * it; here the weight gradients are one matMul per M_i over all steps at once,
 * dM_i = [c^{i-1}_1 .. c^{i-1}_T]^T [g^i_1 .. g^i_T], and the backward pass uses no transposed matMul
 * kernels (slow on wasm).
 *
 * a: (T, B, 3H) time-major input projections x_t W + b_W; h0: (B, H); bU: (3H); mask: (T, B, 1) or
 * none. Returns the states h_1..h_T, (T, B, H); a masked step keeps the previous state.
 */
export function gruSequence(a: tf.Tensor3D, h0: tf.Tensor2D, bU: tf.Tensor1D, chain: readonly tf.Tensor2D[], mask?: tf.Tensor3D): tf.Tensor3D {
  const k = chain.length;
  const H = h0.shape[1];
  const T = a.shape[0];
  const op = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [aIn, hIn, bIn, ...rest] = args.slice(0, -1) as tf.Tensor[];
    const mats = rest.slice(0, k) as tf.Tensor2D[];
    const m = mask ? (unstackLeading(rest[k]!) as tf.Tensor2D[]) : undefined;
    const steps = unstackLeading(aIn!) as tf.Tensor2D[];
    // Kept for the backward pass, per kind over all steps: h_{t-1}, r, z, n, (U h + b_U)_n, and the
    // chain's intermediate products. (customGrad copies what it saves: a few stacked tensors cost
    // far less than T small ones.)
    const kinds: tf.Tensor2D[][] = Array.from({ length: 5 + k - 1 }, () => []);
    const outputs: tf.Tensor2D[] = [];
    let h = hIn as tf.Tensor2D;
    for (let t = 0; t < T; t++) {
      const at = steps[t]!;
      let c: tf.Tensor2D = h;
      const inter: tf.Tensor2D[] = [];
      for (let i = 0; i < k; i++) {
        c = tf.matMul(c, mats[i]!);
        if (i < k - 1) inter.push(c);
      }
      const u = tf.add(c, bIn!) as tf.Tensor2D;
      const rz = tf.sigmoid(tf.add(tf.slice(at, [0, 0], [-1, 2 * H]), tf.slice(u, [0, 0], [-1, 2 * H])));
      const r = tf.slice(rz, [0, 0], [-1, H]);
      const z = tf.slice(rz, [0, H], [-1, H]);
      const un = tf.slice(u, [0, 2 * H], [-1, H]);
      const n = tf.tanh(tf.add(tf.slice(at, [0, 2 * H], [-1, H]), tf.mul(r, un)));
      let next = tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D;
      if (m) next = tf.add(h, tf.mul(m[t]!, tf.sub(next, h))) as tf.Tensor2D;
      for (const [j, x] of [h, r, z, n, un, ...inter].entries()) kinds[j]!.push(x as tf.Tensor2D);
      outputs.push(next);
      h = next;
    }
    save([...mats, ...(mask ? [rest[k]!] : []), ...kinds.map((list) => tf.stack(list))]);
    return {
      value: tf.stack(outputs) as tf.Tensor3D,
      gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => backward(dy as tf.Tensor3D, kept, k, T, Boolean(mask)),
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(a, h0, bU, ...chain, ...(mask ? [mask] : [])) as tf.Tensor3D;
}

function backward(dy: tf.Tensor3D, kept: tf.Tensor[], k: number, T: number, masked: boolean): tf.Tensor[] {
  const mats = kept.slice(0, k) as tf.Tensor2D[];
  const m = masked ? (unstackLeading(kept[k]!) as tf.Tensor2D[]) : undefined;
  const kinds = kept.slice(k + (masked ? 1 : 0)).map((s) => unstackLeading(s) as tf.Tensor2D[]);
  const at = (t: number, j: number): tf.Tensor2D => kinds[j]![t]!;
  const matsT = mats.map((w) => tf.transpose(w));
  const dOut = unstackLeading(dy) as tf.Tensor2D[];
  const dA: tf.Tensor2D[] = new Array(T);
  // g[i][t]: gradient with respect to the output of M_{i+1} at step t (g[k-1] is d(U h)).
  const g: tf.Tensor2D[][] = Array.from({ length: k }, () => new Array<tf.Tensor2D>(T));
  let dh: tf.Tensor2D | undefined;
  for (let t = T - 1; t >= 0; t--) {
    const [hPrev, r, z, n, un] = [at(t, 0), at(t, 1), at(t, 2), at(t, 3), at(t, 4)];
    const total = dh ? (tf.add(dh, dOut[t]!) as tf.Tensor2D) : dOut[t]!;
    // A masked step passed the state through: h_t = h_{t-1} + m (h'_t - h_{t-1}).
    const dNext = m ? (tf.mul(total, m[t]!) as tf.Tensor2D) : total;
    let carry = m ? (tf.sub(total, dNext) as tf.Tensor2D) : undefined;
    // h' = n + z (h - n)
    const dn = tf.mul(dNext, tf.sub(1, z));
    const dz = tf.mul(dNext, tf.sub(hPrev, n));
    const direct = tf.mul(dNext, z) as tf.Tensor2D;
    carry = carry ? (tf.add(carry, direct) as tf.Tensor2D) : direct;
    // n = tanh(a_n + r u_n); r, z = sigmoid(a + u)
    const dPreN = tf.mul(dn, tf.sub(1, tf.square(n)));
    const dr = tf.mul(dPreN, un);
    const dPreR = tf.mul(dr, tf.mul(r, tf.sub(1, r)));
    const dPreZ = tf.mul(dz, tf.mul(z, tf.sub(1, z)));
    dA[t] = tf.concat([dPreR, dPreZ, dPreN], 1) as tf.Tensor2D;
    let gi = tf.concat([dPreR, dPreZ, tf.mul(dPreN, r)], 1) as tf.Tensor2D;
    for (let i = k - 1; i >= 0; i--) {
      g[i]![t] = gi;
      gi = tf.matMul(gi, matsT[i]!);
    }
    dh = tf.add(carry, gi) as tf.Tensor2D;
  }
  const dU = tf.concat(g[k - 1]!, 0);
  const dMats = mats.map((_, i) => {
    // Inputs of M_{i+1} at every step, stacked: h_{t-1} for M_1, the chain's products after it.
    const stacked = kept[k + (masked ? 1 : 0) + (i === 0 ? 0 : 4 + i)]!;
    const inputs = tf.reshape(stacked, [-1, stacked.shape[2]!]);
    return tf.matMul(tf.transpose(inputs), tf.concat(g[i]!, 0));
  });
  // Column sums as a product with ones: a reduction over the leading axis is slow on wasm.
  const dBias = tf.reshape(tf.matMul(tf.ones([1, dU.shape[0]!]), dU), [-1]);
  return [tf.stack(dA), dh!, dBias, ...dMats, ...(masked ? [tf.zerosLike(kept[k]!)] : [])];
}
