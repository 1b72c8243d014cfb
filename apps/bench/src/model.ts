import * as tf from '@tensorflow/tfjs-core';
import { matMulBias } from '@tensorized/decomp/stages';
import { type CellConfig, createCell, type RecurrentCell } from '@tensorized/cells';
import { KEYS } from '@tensorized/datasets';
import { dropout as dropOut } from './dropout.js';

/**
 * The model of PAPER.md: Linear(88 -> input) + LeakyReLU(0.1) -> recurrent cell -> dropout ->
 * Linear(hidden -> 88) -> sigmoid (the sigmoid lives in the loss, which takes logits).
 */
export class PolyphonicModel {
  readonly cell: RecurrentCell;
  readonly inW: tf.Variable;
  readonly inB: tf.Variable;
  readonly outW: tf.Variable;
  readonly outB: tf.Variable;

  constructor(
    readonly cellConfig: CellConfig,
    seed: number,
  ) {
    this.cell = createCell({ ...cellConfig, seed });
    // PyTorch's default for nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
    const linear = (fanIn: number, fanOut: number, s: number): [tf.Variable, tf.Variable] =>
      tf.tidy(() => {
        const bound = 1 / Math.sqrt(fanIn);
        return [
          tf.variable(tf.randomUniform([fanIn, fanOut], -bound, bound, 'float32', s)),
          tf.variable(tf.randomUniform([fanOut], -bound, bound, 'float32', s + 1)),
        ];
      });
    [this.inW, this.inB] = linear(KEYS, cellConfig.inputSize, seed + 5000);
    [this.outW, this.outB] = linear(cellConfig.hiddenSize, KEYS, seed + 6000);
  }

  /** Variables by name, in a fixed order: `in.W`, `in.b`, `cell.<name>`..., `out.W`, `out.b`. */
  namedVariables(): Array<[string, tf.Variable]> {
    return [
      ['in.W', this.inW],
      ['in.b', this.inB],
      ...this.cell.namedVariables().map(([n, v]) => [`cell.${n}`, v] as [string, tf.Variable]),
      ['out.W', this.outW],
      ['out.b', this.outB],
    ];
  }

  /**
   * Logits (B*T, 88) for inputs (B, T, 88) and mask (B, T). Dropout (rate, seeded) applies to the
   * cell's outputs when `dropout` > 0: pass it while training only.
   */
  logits(inputs: tf.Tensor3D, mask: tf.Tensor2D, dropout = 0, seed = 0): tf.Tensor2D {
    return this.window(inputs, mask, undefined, dropout, seed).logits;
  }

  /**
   * Logits of a window of time steps that continues from `state` (the cell's state after the
   * previous window; zeros when absent), and the state after it: long pieces are evaluated window by
   * window with the state carried across, exactly as if whole.
   */
  window(
    inputs: tf.Tensor3D,
    mask: tf.Tensor2D,
    state?: readonly tf.Tensor2D[],
    dropout = 0,
    seed = 0,
  ): { logits: tf.Tensor2D; state: tf.Tensor2D[] } {
    return tf.tidy(() => {
      const [B, T] = inputs.shape;
      const x = matMulBias(
        tf.reshape(inputs, [B * T, KEYS]) as tf.Tensor2D,
        this.inW as tf.Tensor2D,
        this.inB as tf.Tensor1D,
        // The piano roll is data: no gradient for it.
        { leakyAlpha: 0.1, aGradient: false },
      );
      const run = this.cell.run(tf.reshape(x, [B, T, this.cellConfig.inputSize]) as tf.Tensor3D, {
        mask,
        ...(state ? { initialState: state } : {}),
      });
      let flat = tf.reshape(run.outputs, [B * T, this.cellConfig.hiddenSize]) as tf.Tensor2D;
      if (dropout > 0) flat = dropOut(flat, dropout, seed);
      return { logits: matMulBias(flat, this.outW as tf.Tensor2D, this.outB as tf.Tensor1D), state: run.state };
    });
  }

  /**
   * Frame-by-frame inference (generation): the cell's W and U prepared once (RecurrentCell.stepper),
   * each call takes a batch of frames (B, 88) and the state, and gives the logits (B, 88) and the
   * next state. Dispose it when done.
   */
  stepper(batch: number): {
    step(frames: tf.Tensor2D, state?: readonly tf.Tensor2D[]): { logits: tf.Tensor2D; state: tf.Tensor2D[] };
    dispose(): void;
  } {
    const cell = this.cell.stepper(batch);
    // The layers as one fused kernel each (product, bias, activation), called directly with matrices
    // (every backend's kernel takes them; @tensorized/backends makes wasm's do): a frame is a handful
    // of small products, where a separate Add or LeakyRelu launch costs about as much as the product,
    // and tf.fused.matMul's reshapes to rank 3 and its gradient wrapper would cost more than they save.
    const layer = (
      a: tf.Tensor2D,
      w: tf.Variable,
      bias: tf.Variable,
      activation: 'leakyrelu' | 'linear',
    ): tf.Tensor2D =>
      tf
        .engine()
        .runKernel(
          '_FusedMatMul',
          { a, b: w, bias },
          { transposeA: false, transposeB: false, activation, leakyreluAlpha: 0.1 },
        ) as tf.Tensor2D;
    return {
      step: (frames, state) =>
        tf.tidy(() => {
          const x = layer(frames, this.inW, this.inB, 'leakyrelu');
          const out = cell.step(x, state ?? this.cell.initialState(batch));
          return { logits: layer(out.output, this.outW, this.outB, 'linear'), state: out.state };
        }),
      dispose: () => cell.dispose(),
    };
  }

  /** RNN parameters counted the paper's way. */
  rnnParams(): number {
    return this.cell.paramCount();
  }

  dispose(): void {
    this.cell.dispose();
    tf.dispose([this.inW, this.inB, this.outW, this.outB]);
  }
}
