import * as tf from '@tensorflow/tfjs-core';
import { addBias } from '@tensorized/decomp';
import { type CellConfig, type CellKind, gateCount, planMatrices } from './config.js';
import { check } from './errors.js';
import { gruSequence } from './gru_sequence.js';
import { storedShape } from './stored_layout.js';
import { stackLeading, unstackLeading } from './unstack.js';
import { type AppliedWeight, defaultVariable, type VariableFactory, WeightMatrix } from './weight.js';

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
 * A GRU or LSTM cell whose input-to-hidden W and hidden-to-hidden U are dense or factorised (CP,
 * Tucker, TT-matrix), following PAPER.md: gates folded into the last output mode, the GRU's reset
 * gate applied after U, biases b_W and b_U (zero-initialised).
 */
export class RecurrentCell {
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
    const [w, u] = planMatrices(config);
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
    const [bW, bU] = tf.tidy(() => [make('bW', tf.zeros([this.gates * this.hiddenSize])), make('bU', tf.zeros([this.gates * this.hiddenSize]))]);
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
      const a = addBias(w.apply(x), this.bW as tf.Tensor1D);
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
  stepper(batch: number, uses = 1000): { step(x: tf.Tensor2D, state: readonly tf.Tensor2D[]): StepResult; dispose(): void } {
    check(Number.isInteger(batch) && batch > 0, 'SHAPE_MISMATCH', () => `stepper: batch must be a positive integer, got ${JSON.stringify(batch)}`);
    const w = this.W.prepare(batch, uses);
    const u = this.U.prepare(batch, uses, this.config.matmulPath);
    return {
      step: (x, state) => {
        this.checkInput('step', x, 2);
        check(x.shape[0] === batch, 'SHAPE_MISMATCH', () => `step: this stepper was prepared for batch ${batch}, got x of shape [${x.shape.join(', ')}]`);
        this.checkState('step', state, batch);
        return tf.tidy(() => {
          const next = this.gateStep(addBias(w.apply(x), this.bW as tf.Tensor1D), state, u);
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
    check(badMask < 0, 'SHAPE_MISMATCH', () => `run: mask must hold only 0 and 1, got ${maskValues![badMask]} at [${Math.floor(badMask / steps)}, ${badMask % steps}]`);
    const padded = maskValues?.includes(0) ?? false;
    return tf.tidy(() => {
      const path = this.config.matmulPath;
      // Padded steps select zeros instead of their inputs (a product with the mask would let a NaN in
      // padding through: 0 x NaN is NaN); their outputs keep the previous state.
      if (padded) {
        const keep = tf.cast(tf.broadcastTo(tf.reshape(mask!, [batch, steps, 1]), inputs.shape), 'bool');
        inputs = tf.where(keep, inputs, tf.zerosLike(inputs)) as tf.Tensor3D;
      }
      // W is applied once to all B x T inputs: always the planner's choice.
      const w = this.W.prepare(batch * steps, 1);
      const flat = tf.reshape(inputs, [batch * steps, this.inputSize]) as tf.Tensor2D;
      const projected = tf.reshape(addBias(w.apply(flat), this.bW as tf.Tensor1D), [batch, steps, this.gates * this.hiddenSize]);
      w.dispose();
      // The GRU's recurrence forms U's gradients itself (gruSequence); the LSTM's goes through autodiff.
      const u = this.U.prepare(batch, steps, path, { fusedGradient: this.kind === 'gru' && this.fusable });
      let state: tf.Tensor2D[] = initialState ? [...initialState] : this.initialState(batch);
      if (this.kind === 'gru' && this.fusable) {
        // The fused recurrence with its own backward pass (see gru_sequence.ts).
        const timeMajor = tf.transpose(projected, [1, 0, 2]) as tf.Tensor3D;
        const maskTM = mask ? (tf.reshape(tf.transpose(tf.cast(mask, 'float32')), [steps, batch, 1]) as tf.Tensor3D) : undefined;
        const hs = gruSequence(timeMajor, state[0]!, this.bU as tf.Tensor1D, u, maskTM);
        u.dispose();
        const last = tf.reshape(tf.slice(hs, [steps - 1, 0, 0], [1, -1, -1]), [batch, this.hiddenSize]) as tf.Tensor2D;
        return { outputs: tf.transpose(hs, [1, 0, 2]) as tf.Tensor3D, state: [last] };
      }
      // Time-major, then split by halving (see unstackLeading).
      const a = unstackLeading(tf.transpose(projected, [1, 0, 2])) as tf.Tensor2D[];
      const m = mask ? (unstackLeading(tf.reshape(tf.transpose(tf.cast(mask, 'float32')), [steps, batch, 1])) as tf.Tensor2D[]) : undefined;
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
   * Whether the fused GRU recurrence (gru_sequence.ts) computes this cell: the paper's GRU (reset
   * after U, sigmoid gates). The other GRU variants run step by step through autodiff, like the LSTM.
   */
  private get fusable(): boolean {
    return this.config.resetAfter !== false && (this.config.recurrentActivation ?? 'sigmoid') === 'sigmoid';
  }

  /** The gates' activation. */
  private gate(x: tf.Tensor): tf.Tensor {
    // hardSigmoid as TF.js defines it: max(0, min(1, 0.2 x + 0.5)).
    return this.config.recurrentActivation === 'hardSigmoid' ? tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1) : tf.sigmoid(x);
  }

  /** The gate equations of PAPER.md, given a = x W + b_W for this step. */
  private gateStep(a: tf.Tensor2D, state: readonly tf.Tensor2D[], u: AppliedWeight): tf.Tensor2D[] {
    const H = this.hiddenSize;
    const h = state[0]!;
    const uh = addBias(u.apply(h), this.bU as tf.Tensor1D);
    if (this.kind === 'gru') {
      const rz = this.gate(tf.add(tf.slice(a, [0, 0], [-1, 2 * H]), tf.slice(uh, [0, 0], [-1, 2 * H])));
      const r = tf.slice(rz, [0, 0], [-1, H]);
      const z = tf.slice(rz, [0, H], [-1, H]);
      // Reset gate after U (default; PyTorch/cuDNN): n = tanh(a_n + r * (U h + b_U)_n). Before U
      // (resetAfter false; TF.js, Keras 1): n = tanh(a_n + ((r * h) U + b_U)_n), a second product.
      const un = this.config.resetAfter === false ? tf.slice(addBias(u.apply(tf.mul(r, h) as tf.Tensor2D), this.bU as tf.Tensor1D), [0, 2 * H], [-1, H]) : tf.mul(r, tf.slice(uh, [0, 2 * H], [-1, H]));
      const n = tf.tanh(tf.add(tf.slice(a, [0, 2 * H], [-1, H]), un));
      // h' = (1 - z) n + z h = n + z (h - n)
      return [tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D];
    }
    const c = state[1]!;
    const s = tf.add(a, uh);
    const gatesIF = this.gate(tf.slice(s, [0, 0], [-1, 2 * H]));
    const i = tf.slice(gatesIF, [0, 0], [-1, H]);
    const f = tf.slice(gatesIF, [0, H], [-1, H]);
    const g = tf.tanh(tf.slice(s, [0, 2 * H], [-1, H]));
    const o = this.gate(tf.slice(s, [0, 3 * H], [-1, H]));
    const cNext = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    return [tf.mul(o, tf.tanh(cNext)) as tf.Tensor2D, cNext];
  }

  /**
   * Sets variables from values by name (see namedVariables). Every name and shape is checked before
   * anything is assigned, so a bad set leaves the cell as it was.
   */
  setWeights(values: Readonly<Record<string, tf.Tensor>>): void {
    const vars = new Map(this.namedVariables());
    for (const [name, value] of Object.entries(values)) {
      const v = vars.get(name);
      check(v !== undefined, 'BAD_WEIGHTS', () => `setWeights: unknown weight '${name}'; expected one of ${[...vars.keys()].join(', ')}`);
      const shape = storedShape(name, value.shape, v.shape);
      check(
        v.shape.length === shape.length && v.shape.every((s, i) => s === shape[i]),
        'BAD_WEIGHTS',
        () => `setWeights: '${name}' must have shape [${v.shape.join(', ')}], got [${value.shape.join(', ')}]`,
      );
    }
    // A Tucker core in the 2-D layout of older files is read in the variable's shape (storedShape).
    for (const [name, value] of Object.entries(values)) tf.tidy(() => vars.get(name)!.assign(tf.reshape(value, vars.get(name)!.shape)));
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
      () => `${fn}: input must have at least one ${rank === 2 ? 'row' : 'sequence and one step'}, got shape [${x.shape.join(', ')}]`,
    );
    check(
      x.shape.length === rank && x.shape[rank - 1] === this.inputSize,
      'SHAPE_MISMATCH',
      () => `${fn}: input must have shape [${rank === 2 ? 'B' : 'B, T'}, ${this.inputSize}], got [${x.shape.join(', ')}]`,
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

/** A cell from a configuration (validated; errors name the argument). */
export function createCell(config: CellConfig, options: { makeVariable?: VariableFactory } = {}): RecurrentCell {
  return new RecurrentCell(config, options);
}
