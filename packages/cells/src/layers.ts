import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers } from '@tensorflow/tfjs-layers';
import { type RecurrentCell, createCell } from './cell.js';
import type { CellConfig } from './config.js';
import { planMatrices } from './config.js';

/** Arguments of TensorizedRNNCell: the cell configuration plus the usual layer arguments. */
export interface TensorizedRNNCellArgs {
  cell: CellConfig;
  name?: string;
  trainable?: boolean;
}

/**
 * Any tensorized cell as a tfjs-layers RNN cell: use it in `tf.layers.rnn({ cell })`, train with
 * `model.fit`, save and load (the class is registered; its config is the cell configuration). The
 * layer steps through time one call at a time, as tfjs-layers does; `RecurrentCell.run` is the
 * faster path when you drive the recurrence yourself.
 */
export class TensorizedRNNCell extends layers.RNNCell {
  static className = 'TensorizedRNNCell';
  readonly stateSize: number | number[];
  readonly cellConfig: CellConfig;
  private cell: RecurrentCell | undefined;

  constructor(args: TensorizedRNNCellArgs) {
    super({ ...(args.name ? { name: args.name } : {}), ...(args.trainable !== undefined ? { trainable: args.trainable } : {}) });
    planMatrices(args.cell); // validate now, not at build time
    this.cellConfig = structuredClone(args.cell);
    const h = args.cell.hiddenSize;
    this.stateSize = args.cell.kind === 'gru' ? h : [h, h];
  }

  override build(): void {
    if (this.built) return;
    this.cell = createCell(this.cellConfig, {
      // A layer weight, so that tfjs-layers trains, saves and loads it; filled with the cell's own
      // initial value (the paper's initialisers), not a layers initializer.
      makeVariable: (name, initial) => {
        const weight = this.addWeight(name, [...initial.shape], 'float32', initializers.zeros());
        weight.write(initial);
        return weight.read() as tf.Variable;
      },
    });
    this.built = true;
  }

  /** The underlying cell (after build): its paramCount, namedVariables, run, ... */
  get recurrentCell(): RecurrentCell {
    if (!this.cell) throw new Error('TensorizedRNNCell: the layer is not built yet');
    return this.cell;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const [x, ...states] = list as tf.Tensor2D[];
      const { output, state } = this.recurrentCell.step(x!, states);
      return [output, ...state];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), cell: this.cellConfig as unknown as tf.serialization.ConfigDictValue };
  }
}

tf.serialization.registerClass(TensorizedRNNCell);

/** A tfjs-layers RNN cell for a cell configuration. */
export function tensorizedRNNCell(args: TensorizedRNNCellArgs): TensorizedRNNCell {
  return new TensorizedRNNCell(args);
}
