import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from '@tensorized/backends';

/**
 * Adam (Kingma & Ba; the form of PyTorch's torch.optim.Adam) with gradient-norm clipping, whose whole
 * state is named tensors and a step count, so that a checkpoint restores it exactly.
 */
export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly clip: number;
  step = 0;
  private readonly fused: boolean;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    readonly variables: readonly tf.Variable[],
    options: {
      lr: number;
      clip: number;
      beta1?: number;
      beta2?: number;
      eps?: number;
      /** Use the backend's fused Adam kernel where it has one (default true; false: op by op). */
      fusedKernel?: boolean;
    },
  ) {
    this.fused = options.fusedKernel ?? true;
    this.lr = options.lr;
    this.clip = options.clip;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.m = tf.tidy(() => variables.map((w) => tf.variable(tf.zerosLike(w), false)));
    this.v = tf.tidy(() => variables.map((w) => tf.variable(tf.zerosLike(w), false)));
  }

  /**
   * One update from gradients in the order of `variables`; gradients whose global norm exceeds
   * `clip` are scaled down to it. Returns the norm before clipping.
   */
  apply(grads: readonly tf.Tensor[]): number {
    this.step++;
    const t = this.step;
    // Every variable's update and the norm in one launch where the backend has the kernel
    // (@tensorized/backends: cpu and wasm); else the norm by ops and a launch per variable.
    if (this.fused && grads.length > 0 && this.clip > 0 && tf.getKernel(FUSED_KERNELS.adamAll, tf.getBackend())) {
      const inputs: tf.NamedTensorMap = {};
      grads.forEach((g, i) => {
        inputs[`w${i}`] = this.variables[i]!;
        inputs[`m${i}`] = this.m[i]!;
        inputs[`v${i}`] = this.v[i]!;
        inputs[`g${i}`] = g;
      });
      const attrs = {
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        step: t,
        variables: grads.length,
        clip: this.clip,
      };
      const outs = tf.engine().runKernel(FUSED_KERNELS.adamAll, inputs, attrs as never) as tf.Tensor[];
      grads.forEach((_, i) => {
        this.variables[i]!.assign(outs[3 * i]!);
        this.m[i]!.assign(outs[3 * i + 1]!);
        this.v[i]!.assign(outs[3 * i + 2]!);
      });
      const norm = outs[outs.length - 1]!;
      const value = norm.dataSync()[0]!;
      tf.dispose(outs);
      return value;
    }
    const norm = tf.tidy(
      () => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(tf.reshape(g, [-1])))))).dataSync()[0]!,
    );
    const scale = norm > this.clip ? this.clip / (norm + 1e-6) : 1;
    // One fused pass per variable where the backend has the kernel (@tensorized/backends registers it
    // for cpu); else the same update op by op.
    if (this.fused && tf.getKernel(FUSED_KERNELS.adam, tf.getBackend())) {
      const attrs = { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, step: t, scale };
      tf.tidy(() => {
        grads.forEach((g, i) => {
          const [w, m, v] = tf
            .engine()
            .runKernel(
              FUSED_KERNELS.adam,
              { w: this.variables[i]!, m: this.m[i]!, v: this.v[i]!, g },
              attrs as never,
            ) as tf.Tensor[];
          this.m[i]!.assign(m!);
          this.v[i]!.assign(v!);
          this.variables[i]!.assign(w!);
        });
      });
      return norm;
    }
    tf.tidy(() => {
      grads.forEach((grad, i) => {
        // All on flat views: one kernel shape for every variable, whatever its rank.
        const flat = (t: tf.Tensor): tf.Tensor1D => tf.reshape(t, [-1]);
        const g = scale === 1 ? flat(grad) : tf.mul(flat(grad), scale);
        const m = tf.add(tf.mul(flat(this.m[i]!), this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(flat(this.v[i]!), this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        // w -= lr m_hat / (sqrt(v_hat) + eps), with the bias-corrected moments.
        const denom = tf.add(tf.sqrt(tf.div(v, 1 - this.beta2 ** t)), this.eps);
        const w = tf.sub(flat(this.variables[i]!), tf.mul(tf.div(tf.div(m, 1 - this.beta1 ** t), denom), this.lr));
        const shape = grad.shape;
        this.m[i]!.assign(tf.reshape(m, shape));
        this.v[i]!.assign(tf.reshape(v, shape));
        this.variables[i]!.assign(tf.reshape(w, shape));
      });
    });
    return norm;
  }

  /** The moment tensors, named after the variable names given. */
  state(names: readonly string[]): Array<[string, tf.Tensor]> {
    return names.flatMap(
      (n, i) =>
        [
          [`adam.m/${n}`, this.m[i]!],
          [`adam.v/${n}`, this.v[i]!],
        ] as Array<[string, tf.Tensor]>,
    );
  }

  restore(names: readonly string[], values: ReadonlyMap<string, tf.Tensor>, step: number): void {
    names.forEach((n, i) => {
      this.m[i]!.assign(values.get(`adam.m/${n}`)!);
      this.v[i]!.assign(values.get(`adam.v/${n}`)!);
    });
    this.step = step;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
