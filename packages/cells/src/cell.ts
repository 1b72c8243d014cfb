import * as tf from '@tensorflow/tfjs-core';
import { addBias } from '@tensorized/decomp/stages';
import { type CellConfig, type CellKind, gateCount, resolveMatrices } from './config.js';
import { check } from './errors.js';
import { gruGates } from './gru_gates.js';
import { gruSequence } from './gru_sequence.js';
import { GRU_KERNELS, gateOf, gruStepper, hasFusedKernel } from './gru_step.js';
import { storedShape } from './stored_layout.js';
import { stackLeading, unstackLeading } from './unstack.js';
import {
  type AppliedWeight,
  defaultVariable,
  recordingGradients,
  type VariableFactory,
  WeightMatrix,
} from './weight.js';

/** @tensorized/backends' kernel for zeroPadded: rows kept or zeroed by a mask, one launch. */
export const ROW_MASK_KERNEL = 'TensorizedRowMask';

/**
 * inputs (B, T, n) where mask (B, T) is 1 and zeros where it is 0, selected (a product with the mask
 * would let a NaN in padding through: 0 x NaN is NaN). Its gradient is dy where the mask is 1 and 0
 * where it is 0. Where the backend has TensorizedRowMask, each way is that one kernel; else the
 * forward pass is a Select and the gradient one broadcast Multiply (left to autodiff, tf.where's
 * gradient and that of the zeros it selects took nine launches over the whole (B, T, n), about 1.9
 * ms of a JSB batch on wasm).
 */
function zeroPadded(inputs: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
  const [batch, steps] = mask.shape;
  const kernel = hasFusedKernel(ROW_MASK_KERNEL);
  const rows = (x: tf.Tensor, m: tf.Tensor): tf.Tensor =>
    (tf.engine().runKernel(ROW_MASK_KERNEL, { x, mask: m }, {}) as unknown as tf.Tensor[])[0]!;
  const op = tf.customGrad(((x: tf.Tensor3D, m: tf.Tensor2D, save: tf.GradSaveFunc) => {
    if (kernel) {
      save([m]);
      return {
        value: rows(x, m) as tf.Tensor3D,
        gradFunc: (dy: tf.Tensor, [kept]: tf.Tensor[]) => [rows(dy, kept!), tf.zerosLike(m)],
      };
    }
    const column = tf.reshape(m, [batch, steps, 1]);
    save([column]);
    // Cast before the broadcast: (B, T) values instead of (B, T, n).
    const keep = tf.broadcastTo(tf.cast(column, 'bool'), x.shape);
    return {
      value: tf.where(keep, x, tf.zerosLike(x)) as tf.Tensor3D,
      gradFunc: (dy: tf.Tensor, [kept]: tf.Tensor[]) => [tf.mul(dy, kept!), tf.zerosLike(m)],
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(inputs, mask) as tf.Tensor3D;
}

export interface StepResult {
  /** h_t, (B, hiddenSize). */
  output: tf.Tensor2D;
  /** The new state: [h] for a GRU, [h, c] for an LSTM. */
  state: tf.Tensor2D[];
}

export interface SequenceOptions {
  /** (B, T), 1 for a real step and 0 for padding: a padded step keeps the previous state. */
  mask?: tf.Tensor2D;
  /** The state before the first step (default zeros). */
  initialState?: readonly tf.Tensor2D[];
}

export interface SequenceResult {
  /** h_1..h_T, (B, T, hiddenSize); at a padded step, the state carried over. */
  outputs: tf.Tensor3D;
  /** The state after the last step. */
  state: tf.Tensor2D[];
}

/**
 * A recurrent cell whose input-to-hidden W and hidden-to-hidden U are dense or factorised (CP,
 * Tucker, TT-matrix), following PAPER.md: gates folded into the last output mode, biases b_W and b_U
 * (zero-initialised). What is common to GruCell and LstmCell (createCell makes either): the weights,
 * stepping, running over a sequence, weights by name. A subclass writes its gate equations
 * (gateStep) and may run a whole sequence its own way (fusedSequence).
 */
export abstract class RecurrentCell {
  readonly config: Readonly<CellConfig>;
  readonly kind: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly gates: number;
  /** Sizes of the state tensors: [H] (GRU) or [H, H] (LSTM: h, c). */
  readonly stateSize: readonly number[];
  readonly W: WeightMatrix;
  readonly U: WeightMatrix;
  readonly bW: tf.Variable;
  readonly bU: tf.Variable;

  constructor(config: CellConfig, options: { makeVariable?: VariableFactory } = {}) {
    const [w, u] = resolveMatrices(config);
    this.config = structuredClone(config);
    this.kind = config.kind;
    this.inputSize = config.inputSize;
    this.hiddenSize = config.hiddenSize;
    this.gates = gateCount(config.kind);
    this.stateSize = config.kind === 'gru' ? [config.hiddenSize] : [config.hiddenSize, config.hiddenSize];
    const seed = config.seed;
    const make = options.makeVariable ?? defaultVariable;
    this.W = new WeightMatrix(w, config.init, seed, make);
    this.U = new WeightMatrix(u, config.init, seed === undefined ? undefined : seed + 1000, make);
    const [bW, bU] = tf.tidy(() => [
      make('bW', tf.zeros([this.gates * this.hiddenSize])),
      make('bU', tf.zeros([this.gates * this.hiddenSize])),
    ]);
    this.bW = bW!;
    this.bU = bU!;
  }

  /** Variables by name (`W...`, `U...`, `bW`, `bU`), in a fixed order. */
  namedVariables(): Array<[string, tf.Variable]> {
    return [...this.W.variables, ...this.U.variables, ['bW', this.bW], ['bU', this.bU]] as Array<[string, tf.Variable]>;
  }

  get trainableVariables(): tf.Variable[] {
    return this.namedVariables().map(([, v]) => v);
  }

  /** RNN parameters counted the paper's way: W + U + one bias of gates x hidden. */
  paramCount(): number {
    return this.W.paramCount() + this.U.paramCount() + this.gates * this.hiddenSize;
  }

  /** All stored values, both biases included. */
  paramCountFull(): number {
    return this.paramCount() + this.gates * this.hiddenSize;
  }

  initialState(batch: number): tf.Tensor2D[] {
    return this.stateSize.map((s) => tf.zeros([batch, s]));
  }

  /** One step: x (B, inputSize) and the state give h_t and the new state. */
  step(x: tf.Tensor2D, state: readonly tf.Tensor2D[]): StepResult {
    this.checkInput('step', x, 2);
    const batch = x.shape[0];
    this.checkState('step', state, batch);
    return tf.tidy(() => {
      const w = this.W.prepare(batch, 1);
      const u = this.U.prepare(batch, 1, this.config.matmulPath);
      const a = w.apply(x, this.bW as tf.Tensor1D);
      const next = this.gateStep(a, state, u);
      w.dispose();
      u.dispose();
      return { output: next[0]!, state: next };
    });
  }

  /**
   * A step function with W and U prepared once for `uses` steps at this batch size (the planner
   * picks each matrix's path for that many uses: contracted every step, or rebuilt once), for
   * driving the recurrence step by step: generation, streaming. For inference: prepared outside a
   * gradient tape, the products do not differentiate to the variables. Dispose it when done.
   */
  stepper(
    batch: number,
    uses = 1000,
  ): { step(x: tf.Tensor2D, state: readonly tf.Tensor2D[]): StepResult; dispose(): void } {
    check(
      Number.isInteger(batch) && batch > 0,
      'SHAPE_MISMATCH',
      () => `stepper: batch must be a positive integer, got ${JSON.stringify(batch)}`,
    );
    const w = this.W.prepare(batch, uses);
    const u = this.U.prepare(batch, uses, this.config.matmulPath);
    return {
      step: (x, state) => {
        this.checkInput('step', x, 2);
        check(
          x.shape[0] === batch,
          'SHAPE_MISMATCH',
          () => `step: this stepper was prepared for batch ${batch}, got x of shape [${x.shape.join(', ')}]`,
        );
        this.checkState('step', state, batch);
        return tf.tidy(() => {
          const next = this.gateStep(w.apply(x, this.bW as tf.Tensor1D), state, u);
          return { output: next[0]!, state: next };
        });
      },
      dispose: () => {
        w.dispose();
        u.dispose();
      },
    };
  }

  /**
   * Runs over inputs (B, T, inputSize). The input projection of all T steps is one product before
   * the recurrence; U is prepared once per call (contracted per step or rebuilt once, as the planner
   * or `matmulPath` says).
   */
  run(inputs: tf.Tensor3D, options: SequenceOptions = {}): SequenceResult {
    this.checkInput('run', inputs, 3);
    const [batch, steps] = inputs.shape;
    const { mask, initialState } = options;
    if (mask) {
      check(
        mask.shape.length === 2 && mask.shape[0] === batch && mask.shape[1] === steps,
        'SHAPE_MISMATCH',
        () => `run: mask must have shape [${batch}, ${steps}] (B, T), got [${mask.shape.join(', ')}]`,
      );
    }
    if (initialState) this.checkState('run', initialState, batch);
    // The mask is read once (B x T values): it must be 0/1, and padded steps are known on the host.
    const maskValues = mask?.dataSync();
    const badMask = maskValues?.findIndex((m) => m !== 0 && m !== 1) ?? -1;
    check(
      badMask < 0,
      'SHAPE_MISMATCH',
      () =>
        `run: mask must hold only 0 and 1, got ${maskValues![badMask]} at [${Math.floor(badMask / steps)}, ${badMask % steps}]`,
    );
    const padded = maskValues?.includes(0) ?? false;
    return tf.tidy(() => {
      const path = this.config.matmulPath;
      // Padded steps select zeros instead of their inputs (a product with the mask would let a NaN in
      // padding through: 0 x NaN is NaN); their outputs keep the previous state.
      if (padded) inputs = zeroPadded(inputs, mask!);
      // W is applied once to all B x T inputs: always the planner's choice.
      const w = this.W.prepare(batch * steps, 1);
      const flat = tf.reshape(inputs, [batch * steps, this.inputSize]) as tf.Tensor2D;
      const projected = tf.reshape(w.apply(flat, this.bW as tf.Tensor1D), [batch, steps, this.gates * this.hiddenSize]);
      w.dispose();
      // A fused recurrence forms U's gradients itself (gruSequence); otherwise autodiff does.
      const u = this.U.prepare(batch, steps, path, { fusedGradient: this.fusesSequence });
      let state: tf.Tensor2D[] = initialState ? [...initialState] : this.initialState(batch);
      if (this.fusesSequence) {
        const maskTM = mask
          ? (tf.reshape(tf.transpose(tf.cast(mask, 'float32')), [steps, batch, 1]) as tf.Tensor3D)
          : undefined;
        const { outputs, state: last } = this.fusedSequence(projected as tf.Tensor3D, state, u, maskTM);
        u.dispose();
        return { outputs, state: last };
      }
      // Time-major, then split by halving (see unstackLeading).
      const a = unstackLeading(tf.transpose(projected, [1, 0, 2])) as tf.Tensor2D[];
      const m = mask
        ? (unstackLeading(tf.reshape(tf.transpose(tf.cast(mask, 'float32')), [steps, batch, 1])) as tf.Tensor2D[])
        : undefined;
      const outputs: tf.Tensor2D[] = [];
      for (let t = 0; t < steps; t++) {
        const next = this.gateStep(a[t]!, state, u);
        // A padded step keeps the previous state: s + m (s' - s).
        state = m ? next.map((s, i) => tf.add(state[i]!, tf.mul(m[t]!, tf.sub(s, state[i]!))) as tf.Tensor2D) : next;
        outputs.push(state[0]!);
      }
      u.dispose();
      return { outputs: tf.transpose(stackLeading(outputs), [1, 0, 2]) as tf.Tensor3D, state };
    });
  }

  /**
   * Whether run() hands the recurrence to fusedSequence (one op with a hand-written backward pass)
   * instead of stepping gateStep through autodiff.
   */
  protected get fusesSequence(): boolean {
    return false;
  }

  /**
   * The whole recurrence at once, for a subclass whose fusesSequence is true: a (B, T, gates x H)
   * batch-major input projections, U prepared for T uses, mask (T, B, 1) or none.
   */
  protected fusedSequence(
    _a: tf.Tensor3D,
    _state: readonly tf.Tensor2D[],
    _u: AppliedWeight,
    _mask: tf.Tensor3D | undefined,
  ): SequenceResult {
    throw new Error(`${this.constructor.name} has no fused sequence`);
  }

  /** The gate equations of PAPER.md for one step, given a = x W + b_W for this step. */
  protected abstract gateStep(a: tf.Tensor2D, state: readonly tf.Tensor2D[], u: AppliedWeight): tf.Tensor2D[];

  /** The gates' activation. */
  protected gate(x: tf.Tensor): tf.Tensor {
    return gateOf(x, this.config.recurrentActivation ?? 'sigmoid');
  }

  /**
   * Sets variables from values by name (see namedVariables). Every name and shape is checked before
   * anything is assigned, so a bad set leaves the cell as it was.
   */
  setWeights(values: Readonly<Record<string, tf.Tensor>>): void {
    const vars = new Map(this.namedVariables());
    for (const [name, value] of Object.entries(values)) {
      const v = vars.get(name);
      check(
        v !== undefined,
        'BAD_WEIGHTS',
        () => `setWeights: unknown weight '${name}'; expected one of ${[...vars.keys()].join(', ')}`,
      );
      const shape = storedShape(name, value.shape, v.shape);
      check(
        v.shape.length === shape.length && v.shape.every((s, i) => s === shape[i]),
        'BAD_WEIGHTS',
        () => `setWeights: '${name}' must have shape [${v.shape.join(', ')}], got [${value.shape.join(', ')}]`,
      );
    }
    // A Tucker core in the 2-D layout of older files is read in the variable's shape (storedShape).
    for (const [name, value] of Object.entries(values))
      tf.tidy(() => vars.get(name)!.assign(tf.reshape(value, vars.get(name)!.shape)));
  }

  /**
   * For repeated inference (evaluation, prediction): with `on`, step(), stepper() and run() outside
   * gradient tapes keep W and U as they prepared them (CP's and Tucker's bottleneck factors, a
   * TT-matrix's merged cores, a rebuilt matrix) and reuse them in later calls that take the same
   * path, until a variable is assigned (an optimiser step, loaded weights) or the backend changes;
   * under a tape they are prepared anew as always. Being reused, they are planned as for many uses
   * (as a stepper is): a path may differ from the one a single call takes, with the same results to
   * float32 rounding. What is kept counts in tf.memory() until
   * releasePrepared(), keepPrepared(false) or dispose(). Off by default.
   */
  keepPrepared(on = true): void {
    check(
      typeof on === 'boolean',
      'INVALID_CONFIG',
      () => `keepPrepared: on must be true or false, got ${JSON.stringify(on)}`,
    );
    this.W.keepPrepared(on);
    this.U.keepPrepared(on);
  }

  /** Whether keepPrepared is on. */
  get keepsPrepared(): boolean {
    return this.W.keepsPrepared;
  }

  /** Frees the prepared W and U products kept so far (see keepPrepared); dispose() frees them too. */
  releasePrepared(): void {
    this.W.releasePrepared();
    this.U.releasePrepared();
  }

  dispose(): void {
    this.W.dispose();
    this.U.dispose();
    this.bW.dispose();
    this.bU.dispose();
  }

  private checkInput(fn: string, x: tf.Tensor, rank: number): void {
    check(!x.isDisposed, 'SHAPE_MISMATCH', () => `${fn}: the input tensor has been disposed`);
    check(
      x.shape.slice(0, -1).every((d) => d > 0),
      'SHAPE_MISMATCH',
      () =>
        `${fn}: input must have at least one ${rank === 2 ? 'row' : 'sequence and one step'}, got shape [${x.shape.join(', ')}]`,
    );
    check(
      x.shape.length === rank && x.shape[rank - 1] === this.inputSize,
      'SHAPE_MISMATCH',
      () =>
        `${fn}: input must have shape [${rank === 2 ? 'B' : 'B, T'}, ${this.inputSize}], got [${x.shape.join(', ')}]`,
    );
  }

  private checkState(fn: string, state: readonly tf.Tensor[], batch: number): void {
    check(
      state.length === this.stateSize.length &&
        state.every((s, i) => s.shape.length === 2 && s.shape[0] === batch && s.shape[1] === this.stateSize[i]),
      'SHAPE_MISMATCH',
      () =>
        `${fn}: state must be ${this.stateSize.length} tensor(s) of shape [${batch}, ${this.hiddenSize}] (${this.kind === 'gru' ? 'h' : 'h, c'}), got ${state.map((s) => `[${s.shape.join(', ')}]`).join(', ')}`,
    );
  }
}

/**
 * The GRU of PAPER.md: r, z = gate(x W_rz + U_rz h + b), n = tanh(x W_n + r * (U h + b_U)_n),
 * h' = n + z (h - n), with the reset gate after U (or before it, `resetAfter: false`). A sequence
 * runs as one fused op with its own backward pass (gru_sequence.ts; either gate activation, either
 * place of the reset gate), each step one fused kernel where the backend has it (gru_step.ts; the
 * reset gate after U); gateStep and the op-by-op steps call the same gate arithmetic (gruGates).
 */
export class GruCell extends RecurrentCell {
  protected override get fusesSequence(): boolean {
    return true;
  }

  protected override fusedSequence(
    a: tf.Tensor3D,
    state: readonly tf.Tensor2D[],
    u: AppliedWeight,
    mask: tf.Tensor3D | undefined,
  ): SequenceResult {
    const [batch, steps] = a.shape;
    const hs = gruSequence(a, state[0]!, this.bU as tf.Tensor1D, u, mask, {
      gate: this.config.recurrentActivation ?? 'sigmoid',
      resetAfter: this.config.resetAfter !== false,
      batchMajor: true,
    });
    const last = tf.reshape(tf.slice(hs, [0, steps - 1, 0], [-1, 1, -1]), [batch, this.hiddenSize]) as tf.Tensor2D;
    return { outputs: hs, state: [last] };
  }

  protected override gateStep(a: tf.Tensor2D, state: readonly tf.Tensor2D[], u: AppliedWeight): tf.Tensor2D[] {
    const H = this.hiddenSize;
    const h = state[0]!;
    const gate = this.config.recurrentActivation ?? 'sigmoid';
    // Without a gradient tape (inference), the step's gate arithmetic is one fused kernel where the
    // backend has it (it has no gradient of its own: training runs the fused sequence or autodiff).
    if (this.config.resetAfter !== false && !recordingGradients() && hasFusedKernel(GRU_KERNELS.step)) {
      const step = gruStepper(tf.expandDims(a, 0) as tf.Tensor3D, this.bU as tf.Tensor1D, undefined, gate);
      return [step(0, u.apply(h), h, false).next];
    }
    const uh = addBias(u.apply(h), this.bU as tf.Tensor1D);
    const preRZ = tf.add(tf.slice(a, [0, 0], [-1, 2 * H]), tf.slice(uh, [0, 0], [-1, 2 * H])) as tf.Tensor2D;
    // Reset gate after U (default; PyTorch/cuDNN), or before U (resetAfter false; TF.js, Keras 1:
    // a second product, of r * h).
    const recurrentN =
      this.config.resetAfter === false
        ? (r: tf.Tensor2D) =>
            tf.slice(
              addBias(u.apply(tf.mul(r, h) as tf.Tensor2D), this.bU as tf.Tensor1D),
              [0, 2 * H],
              [-1, H],
            ) as tf.Tensor2D
        : (tf.slice(uh, [0, 2 * H], [-1, H]) as tf.Tensor2D);
    const aN = tf.slice(a, [0, 2 * H], [-1, H]) as tf.Tensor2D;
    return [gruGates(preRZ, aN, h, recurrentN, (x) => this.gate(x)).next];
  }
}

/**
 * The LSTM: i, f, o = gate(.), g = tanh(.) from x W + U h + b (gates stacked i, f, g, o),
 * c' = f c + i g, h' = o tanh(c'); state [h, c]. Runs step by step through autodiff.
 */
export class LstmCell extends RecurrentCell {
  protected override gateStep(a: tf.Tensor2D, state: readonly tf.Tensor2D[], u: AppliedWeight): tf.Tensor2D[] {
    const H = this.hiddenSize;
    const [h, c] = state as [tf.Tensor2D, tf.Tensor2D];
    const s = tf.add(a, addBias(u.apply(h), this.bU as tf.Tensor1D));
    const gatesIF = this.gate(tf.slice(s, [0, 0], [-1, 2 * H]));
    const i = tf.slice(gatesIF, [0, 0], [-1, H]);
    const f = tf.slice(gatesIF, [0, H], [-1, H]);
    const g = tf.tanh(tf.slice(s, [0, 2 * H], [-1, H]));
    const o = this.gate(tf.slice(s, [0, 3 * H], [-1, H]));
    const cNext = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    return [tf.mul(o, tf.tanh(cNext)) as tf.Tensor2D, cNext];
  }
}

/** A cell from a configuration (validated; errors name the argument): a GruCell or an LstmCell. */
export function createCell(config: CellConfig, options: { makeVariable?: VariableFactory } = {}): RecurrentCell {
  // Either constructor validates the configuration (a bad kind included) before anything is made.
  return config.kind === 'lstm' ? new LstmCell(config, options) : new GruCell(config, options);
}
