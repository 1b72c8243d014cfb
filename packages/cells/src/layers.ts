import * as tf from '@tensorflow/tfjs-core';
import { initializers, type LayersModel, layers, loadLayersModel as tfLoadLayersModel } from '@tensorflow/tfjs-layers';
import { type RecurrentCell, createCell } from './cell.js';
import { type CellConfig, formatList, WEIGHT_FORMATS, type WeightFormat, type WeightSpec } from './config.js';
import { balancedModes } from './budget.js';

/** A tfjs-layers shape: dimensions, null where the batch goes. */
type Shape = Array<number | null>;
import { CellError } from './errors.js';
import { resolveMatrices } from './config.js';
import { FORMATS, type FormatSpec, formatDefinition, prod } from '@tensorized/decomp';

/**
 * Arguments of TensorizedRNNCell: the cell configuration plus the usual layer arguments. The
 * configuration may leave out `inputSize` (and `inputModes`): they are taken from the input at build
 * time (the modes as balancedModes of the input size, one per hidden mode).
 */
export interface TensorizedRNNCellArgs {
  cell: CellConfig | (Omit<CellConfig, 'inputSize'> & { inputSize?: number });
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
  private config: CellConfig;
  private cell: RecurrentCell | undefined;

  /** The cell's configuration (complete once built: the input size comes from the input). */
  get cellConfig(): CellConfig {
    return this.config;
  }

  constructor(args: TensorizedRNNCellArgs) {
    // Everything a TF.js user might pass is used or refused: the sizes and formats live in `cell`.
    // (customObjects comes from tfjs-layers' own deserialisation.)
    const unknown = Object.keys(args ?? {}).filter(
      (k) => !['cell', 'name', 'trainable', 'dtype', 'customObjects'].includes(k),
    );
    if (unknown.length) {
      throw new CellError(
        'INVALID_CONFIG',
        `TensorizedRNNCell: ${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not an option of this cell (it takes cell, name, trainable); sizes, formats and activations go in cell (a CellConfig)${unknown.includes('units') ? `: units is cell.hiddenSize (${args.cell?.hiddenSize})` : ''}`,
      );
    }
    super({
      ...(args.name ? { name: args.name } : {}),
      ...(args.trainable !== undefined ? { trainable: args.trainable } : {}),
    });
    // Validate now, not at build time (with a stand-in input size when the input decides it).
    resolveMatrices(completeInput(args.cell, args.cell.inputSize ?? defaultInputSize(args.cell)));
    this.config = structuredClone(args.cell) as CellConfig;
    const h = args.cell.hiddenSize;
    this.stateSize = args.cell.kind === 'gru' ? h : [h, h];
  }

  override build(inputShape?: Shape | Shape[]): void {
    if (this.built) return;
    if (this.config.inputSize === undefined) {
      const shape = (Array.isArray(inputShape?.[0]) ? inputShape[0] : inputShape) as Shape | undefined;
      const n = shape?.[shape.length - 1];
      if (typeof n !== 'number')
        throw new CellError(
          'INVALID_CONFIG',
          `TensorizedRNNCell: the input size is not known at build (input shape ${JSON.stringify(inputShape)}); give the layer an inputShape or the cell an inputSize`,
        );
      this.config = completeInput(this.config, n);
      resolveMatrices(this.config);
    }
    this.cell = createCell(this.config, {
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
    return { ...super.getConfig(), cell: this.config as unknown as tf.serialization.ConfigDictValue };
  }
}

tf.serialization.registerClass(TensorizedRNNCell);

/**
 * tf.layers.rnn over a TensorizedRNNCell that prepares the cell's W and U once per call (per batch
 * of sequences) in inference, as RecurrentCell.run does, instead of at every time step: tfjs-layers
 * steps the cell one call at a time, and a factorised W and U made ready anew at each step (CP's
 * factors rebuilt, a TT-matrix's cores merged) cost more than the step itself. What it prepares is
 * freed when the call returns; under a gradient tape (model.fit) nothing changes. tensorizedGru and
 * tensorizedLstm return this layer; saved and loaded as 'TensorizedRNN'.
 */
export class TensorizedRNN extends layers.RNN {
  static override className = 'TensorizedRNN';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Parameters<layers.RNN['call']>[1]): tf.Tensor | tf.Tensor[] {
    const cell = this.cell instanceof TensorizedRNNCell && this.cell.built ? this.cell.recurrentCell : undefined;
    if (!cell || cell.keepsPrepared) return super.call(inputs, kwargs);
    cell.keepPrepared();
    try {
      return super.call(inputs, kwargs);
    } finally {
      cell.keepPrepared(false);
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    // RNN nests its cell's config only for itself (for subclasses, GRU and LSTM, it spreads it flat):
    // nested as for RNN, which fromConfig reads.
    return { ...super.getConfig(), cell: { className: this.cell.getClassName(), config: this.cell.getConfig() } };
  }
}

tf.serialization.registerClass(TensorizedRNN);

/** A configuration with its input size (and, for a factorised W without them, balanced input modes). */
function completeInput(config: TensorizedRNNCellArgs['cell'], inputSize: number): CellConfig {
  const needsModes = config.input.format !== 'dense' && !config.inputModes;
  const d = config.hiddenModes?.length ?? 4;
  return { ...config, inputSize, ...(needsModes ? { inputModes: balancedModes(inputSize, d) } : {}) } as CellConfig;
}

/** A stand-in input size for validating a configuration before the input is known: 2^d. */
function defaultInputSize(config: TensorizedRNNCellArgs['cell']): number {
  return config.inputModes ? prod(config.inputModes) : 2 ** (config.hiddenModes?.length ?? 4);
}

/** Options of tensorizedGru and tensorizedLstm: the tfjs-layers RNN options that apply, and the cell's format. */
export interface TensorizedRnnLayerArgs {
  units: number;
  /** W's and U's format (default 'tt'). */
  format?: WeightFormat;
  /** TT: d + 1 ranks (r_0 = r_d = 1); TR: d + 1 ranks (r_0 = r_d); Tucker, BT: d ranks. Required for those formats. */
  ranks?: number[];
  /** Tucker: output ranks, when not the same as `ranks`. */
  outRanks?: number[];
  /** CP rank. Required for CP. */
  rank?: number;
  /** Block-Term: the number of blocks. Required for BT (with d `ranks`). */
  blocks?: number;
  /** Factorisations of the input size and of units (default: balanced, d = the ranks' d, else 4). */
  inputModes?: number[];
  hiddenModes?: number[];
  /** GRU only: false is TF.js' own GRU (reset gate before U). Default true. */
  resetAfter?: boolean;
  recurrentActivation?: 'sigmoid' | 'hardSigmoid';
  init?: CellConfig['init'];
  seed?: number;
  returnSequences?: boolean;
  returnState?: boolean;
  goBackwards?: boolean;
  stateful?: boolean;
  unroll?: boolean;
  inputShape?: Shape;
  batchInputShape?: Shape;
  batchSize?: number;
  name?: string;
  trainable?: boolean;
}

const RNN_OPTIONS = [
  'returnSequences',
  'returnState',
  'goBackwards',
  'stateful',
  'unroll',
  'inputShape',
  'batchInputShape',
  'batchSize',
  'name',
  'trainable',
] as const;

/** Every option the layer takes: its own (the cell's), then what goes on to tf.layers.rnn. */
const LAYER_OPTIONS: readonly string[] = [
  'units',
  'format',
  'ranks',
  'outRanks',
  'rank',
  'blocks',
  'inputModes',
  'hiddenModes',
  'resetAfter',
  'recurrentActivation',
  'init',
  'seed',
  ...RNN_OPTIONS,
];

function tensorizedRnn(kind: 'gru' | 'lstm', fn: string, args: TensorizedRnnLayerArgs): TensorizedRNN {
  const unknown = Object.keys(args ?? {}).filter((k) => !LAYER_OPTIONS.includes(k));
  if (unknown.length)
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: ${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length > 1 ? 'are not options' : 'is not an option'} of this layer; it takes ${LAYER_OPTIONS.join(', ')}`,
    );
  if (!Number.isInteger(args.units) || args.units < 1)
    throw new CellError('INVALID_CONFIG', `${fn}: units must be a positive integer, got ${JSON.stringify(args.units)}`);
  if (kind === 'lstm' && args.resetAfter !== undefined)
    throw new CellError('INVALID_CONFIG', `${fn}: resetAfter applies to a GRU only`);
  const format = args.format ?? 'tt';
  if (!WEIGHT_FORMATS.includes(format))
    throw new CellError('INVALID_CONFIG', `${fn}: format must be ${formatList()}, got ${JSON.stringify(format)}`);
  const fields = format === 'dense' ? [] : formatDefinition(format).specFields;
  const foreign = Object.values(FORMATS)
    .flatMap((f) => f.specFields)
    .filter((f, i, all) => all.indexOf(f) === i && !fields.includes(f))
    .filter((f) => args[f as keyof TensorizedRnnLayerArgs] !== undefined);
  if (foreign.length)
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: ${foreign.join(', ')} ${foreign.length > 1 ? 'do' : 'does'} not apply to format '${format}'${fields.length ? ` (it takes ${fields.join(', ')})` : ''}`,
    );
  let spec: WeightSpec = { format: 'dense' };
  let d = args.hiddenModes?.length ?? 4;
  if (format !== 'dense') {
    const def = formatDefinition(format);
    const given = def.specFields.filter((f) => args[f as keyof TensorizedRnnLayerArgs] !== undefined);
    // The first field is the one every spec of the format needs (ranks, rank).
    if (!given.includes(def.specFields[0]!))
      throw new CellError('INVALID_CONFIG', `${fn}: format '${format}' needs ${def.specHelp}`);
    spec = {
      format,
      ...Object.fromEntries(given.map((f) => [f, args[f as keyof TensorizedRnnLayerArgs]])),
    } as WeightSpec;
    d = def.modeCount(spec as FormatSpec) ?? d;
  }
  const declared =
    args.inputShape?.[args.inputShape.length - 1] ??
    args.batchInputShape?.[args.batchInputShape.length - 1] ??
    undefined;
  const cell: TensorizedRNNCellArgs['cell'] = {
    kind,
    hiddenSize: args.units,
    ...(typeof declared === 'number' ? { inputSize: declared } : {}),
    ...(format !== 'dense' ? { hiddenModes: args.hiddenModes ?? balancedModes(args.units, d) } : {}),
    ...(args.inputModes ? { inputModes: args.inputModes } : {}),
    input: spec,
    recurrent: spec,
    ...(args.resetAfter !== undefined ? { resetAfter: args.resetAfter } : {}),
    ...(args.recurrentActivation !== undefined ? { recurrentActivation: args.recurrentActivation } : {}),
    ...(args.init !== undefined ? { init: args.init } : {}),
    ...(args.seed !== undefined ? { seed: args.seed } : {}),
  };
  const rnnArgs = Object.fromEntries(RNN_OPTIONS.filter((k) => args[k] !== undefined).map((k) => [k, args[k]]));
  return new TensorizedRNN({
    ...rnnArgs,
    cell: new TensorizedRNNCell({ cell: typeof declared === 'number' ? completeInput(cell, declared) : cell }),
  });
}

/**
 * A GRU layer with factorised weights, as `tf.layers.gru` is used: `tensorizedGru({ units: 512,
 * format: 'tt', ranks: [1, 11, 11, 11, 1], returnSequences: true, inputShape: [T, 256] })`. An RNN
 * layer over a TensorizedRNNCell: it trains with model.fit, saves and loads like any layer. Options
 * that do not apply are refused, naming them.
 */
export function tensorizedGru(args: TensorizedRnnLayerArgs): TensorizedRNN {
  return tensorizedRnn('gru', 'tensorizedGru', args);
}

/** The LSTM form of tensorizedGru. */
export function tensorizedLstm(args: TensorizedRnnLayerArgs): TensorizedRNN {
  return tensorizedRnn('lstm', 'tensorizedLstm', args);
}

/** A tfjs-layers RNN cell for a cell configuration. */
export function tensorizedRNNCell(args: TensorizedRNNCellArgs): TensorizedRNNCell {
  return new TensorizedRNNCell(args);
}

/**
 * A dense tensorized cell that computes exactly what a `tf.layers.gru` or `tf.layers.lstm` (or a
 * `tf.layers.rnn` over a GRUCell/LSTMCell) computes, with its weights: for compressCell, or to run
 * the layer's recurrence with RecurrentCell.run. TF.js' GRU applies the reset gate before U and
 * orders its gates (z, r, h); the cell takes `resetAfter: false` and the columns reordered to
 * (r, z, n). Both layers' default recurrent activation, hardSigmoid, becomes
 * `recurrentActivation: 'hardSigmoid'`. The activation must be tanh; the layer must be built.
 */
export function fromLayersRnn(layer: tfLayer): RecurrentCell {
  const fn = 'fromLayersRnn';
  const className = (layer as { getClassName?: () => string }).getClassName?.();
  const rnnCell = className === 'RNN' ? ((layer as unknown as { cell: tfLayer }).cell as tfLayer) : layer;
  const cellClass = (rnnCell as { getClassName?: () => string }).getClassName?.();
  const kind =
    cellClass === 'GRU' || cellClass === 'GRUCell'
      ? 'gru'
      : cellClass === 'LSTM' || cellClass === 'LSTMCell'
        ? 'lstm'
        : undefined;
  if (!kind)
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: layer must be a tf.layers.gru, tf.layers.lstm or an RNN over a GRUCell/LSTMCell, got ${JSON.stringify(className ?? typeof layer)}`,
    );
  const config = rnnCell.getConfig() as Record<string, unknown>;
  const activationName = (a: unknown): string =>
    (typeof a === 'string'
      ? a
      : ((a as { className?: string; getClassName?: () => string } | undefined)?.getClassName?.() ?? String(a))
    ).toLowerCase();
  const activation = activationName(config['activation']);
  if (activation !== 'tanh')
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: activation must be tanh, got ${JSON.stringify(config['activation'])}`,
    );
  const recurrent = activationName(config['recurrentActivation']).replace(/_/g, '');
  if (recurrent !== 'sigmoid' && recurrent !== 'hardsigmoid') {
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: recurrentActivation must be sigmoid or hardSigmoid, got ${JSON.stringify(config['recurrentActivation'])}`,
    );
  }
  if (config['resetAfter'] === true)
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: resetAfter true is not a TF.js GRU (a Keras GRU with reset_after=True is not a TF.js layer)`,
    );
  const weights = layer.getWeights();
  if (weights.length === 0)
    throw new CellError(
      'INVALID_CONFIG',
      `${fn}: the layer has no weights yet; build it (call it on an input or predict once) first`,
    );
  const [kernel, recurrentKernel, bias] = weights as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D | undefined];
  const H = recurrentKernel.shape[0];
  const N = kernel.shape[0];
  const cell = createCell({
    kind,
    inputSize: N,
    hiddenSize: H,
    input: { format: 'dense' },
    recurrent: { format: 'dense' },
    ...(kind === 'gru' ? { resetAfter: false } : {}),
    recurrentActivation: recurrent === 'sigmoid' ? 'sigmoid' : 'hardSigmoid',
  });
  // GRU: TF.js columns (z, r, h) to ours (r, z, n). LSTM: both (i, f, c/g, o).
  const reorder = (t: tf.Tensor): tf.Tensor => (kind === 'lstm' ? tf.clone(t) : zrhToRzn(t, H));
  const values = tf.tidy(() => ({
    W: reorder(kernel),
    U: reorder(recurrentKernel),
    bW: bias ? reorder(bias) : tf.zeros([cell.gates * H]),
    bU: tf.zeros([cell.gates * H]),
  }));
  try {
    cell.setWeights(values);
  } finally {
    tf.dispose(Object.values(values));
  }
  return cell;
}

type tfLayer = ReturnType<typeof layers.gru>;

/** A GRU's gate blocks (last axis, H each) from TF.js' and Keras' order (z, r, h) to the cells' (r, z, n). */
function zrhToRzn(t: tf.Tensor, H: number): tf.Tensor {
  const block = (g: number): tf.Tensor => (t.rank === 1 ? tf.slice(t, [g * H], [H]) : tf.slice(t, [0, g * H], [-1, H]));
  return tf.tidy(() => tf.concat([block(1), block(0), block(2)], -1));
}
type tfLayersModel = LayersModel;

type Json = Record<string, unknown>;

/**
 * `tf.loadLayersModel` for models that TF.js refuses: a tfjs-converter layers-model (model.json and
 * its weights; a URL, an IOHandler such as `tf.io.fromMemory`, or the artifacts themselves) whose
 * Keras GRU layers have `reset_after=True` (the TF2 Keras default; TF.js' GRU does not support it,
 * tfjs issues 4621 and 5728) loads with each such layer replaced by an RNN over a dense
 * TensorizedRNNCell that computes exactly Keras' GRU: h = z h' + (1 - z) n,
 * n = tanh(x W_h + b_ih + r (h U_h + b_hh)), gates (z, r, h) reordered to the cell's (r, z, n), the
 * two biases (input, recurrent) to bW and bU. `hard_sigmoid` is Keras 2's max(0, min(1, 0.2 x + 0.5)).
 * Every other layer is left to tfjs-layers. The result trains with `model.fit` and saves like any
 * LayersModel; compress its cell with compressCell and fromLayersRnn's recipe.
 */
export async function loadLayersModel(source: string | tf.io.IOHandler | tf.io.ModelArtifacts): Promise<tfLayersModel> {
  const fn = 'loadLayersModel';
  const artifacts: tf.io.ModelArtifacts =
    typeof source === 'string'
      ? await tf.io.http(source).load!()
      : 'load' in source && typeof source.load === 'function'
        ? await source.load()
        : (source as tf.io.ModelArtifacts);
  if (!artifacts?.modelTopology || !artifacts.weightSpecs || !artifacts.weightData) {
    throw new CellError(
      'BAD_WEIGHTS',
      `${fn}: expected a layers-model (model topology, weight specs and weight data), got ${artifacts ? Object.keys(artifacts).join(', ') : String(artifacts)}`,
    );
  }
  const topology = structuredClone(artifacts.modelTopology) as Json;
  const modelConfig = ((topology['model_config'] as Json | undefined) ?? topology) as Json;
  const layersList = (modelConfig['config'] as Json | undefined)?.['layers'];
  if (!Array.isArray(layersList))
    throw new CellError('BAD_WEIGHTS', `${fn}: the model topology has no layers list (config.layers)`);
  const weights = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs);
  for (const layer of layersList as Json[]) {
    const config = layer['config'] as Json;
    if (layer['class_name'] !== 'GRU' || config['reset_after'] !== true) continue;
    const name = config['name'] as string;
    const units = config['units'] as number;
    const activation = config['activation'];
    const recurrent = config['recurrent_activation'];
    if (activation !== 'tanh')
      throw new CellError(
        'INVALID_CONFIG',
        `${fn}: GRU layer '${name}' has activation ${JSON.stringify(activation)}; only tanh is supported`,
      );
    if (recurrent !== 'sigmoid' && recurrent !== 'hard_sigmoid')
      throw new CellError(
        'INVALID_CONFIG',
        `${fn}: GRU layer '${name}' has recurrent_activation ${JSON.stringify(recurrent)}; expected sigmoid or hard_sigmoid`,
      );
    if (config['use_bias'] === false)
      throw new CellError('INVALID_CONFIG', `${fn}: GRU layer '${name}' has use_bias false; not supported`);
    const find = (suffix: string) => {
      const key = Object.keys(weights).find(
        (k) => k === `${name}/${suffix}` || (k.startsWith(`${name}/`) && k.endsWith(`/${suffix}`)),
      );
      if (!key)
        throw new CellError(
          'BAD_WEIGHTS',
          `${fn}: GRU layer '${name}' has no weight ${suffix} (weights: ${
            Object.keys(weights)
              .filter((k) => k.startsWith(`${name}/`))
              .join(', ') || 'none'
          })`,
        );
      const t = weights[key]!;
      delete weights[key];
      return t;
    };
    const [kernel, recurrentKernel, bias] = [find('kernel'), find('recurrent_kernel'), find('bias')];
    if (bias.shape.length !== 2 || bias.shape[0] !== 2)
      throw new CellError(
        'BAD_WEIGHTS',
        `${fn}: GRU layer '${name}' with reset_after has bias of shape [${bias.shape.join(', ')}]; expected [2, ${3 * units}]`,
      );
    const H = units;
    const reorder = (t: tf.Tensor): tf.Tensor => zrhToRzn(t, H);
    const [bIn, bRec] = tf.unstack(bias);
    weights[`${name}/W`] = reorder(kernel);
    weights[`${name}/U`] = reorder(recurrentKernel);
    weights[`${name}/bW`] = reorder(bIn!);
    weights[`${name}/bU`] = reorder(bRec!);
    tf.dispose([kernel, recurrentKernel, bias, bIn!, bRec!]);
    const keep = [
      'name',
      'trainable',
      'batch_input_shape',
      'dtype',
      'return_sequences',
      'return_state',
      'go_backwards',
      'stateful',
      'unroll',
    ];
    layer['class_name'] = 'RNN';
    layer['config'] = {
      ...Object.fromEntries(keep.filter((k) => k in config).map((k) => [k, config[k]])),
      cell: {
        class_name: 'TensorizedRNNCell',
        config: {
          name: `${name}_cell`,
          trainable: config['trainable'] ?? true,
          // Pythonic keys, as the converter writes them: tfjs-layers turns them into camelCase.
          cell: {
            kind: 'gru',
            input_size: kernel.shape[0],
            hidden_size: H,
            input: { format: 'dense' },
            recurrent: { format: 'dense' },
            reset_after: true,
            recurrent_activation: recurrent === 'sigmoid' ? 'sigmoid' : 'hardSigmoid',
          },
        },
      },
    };
  }
  const encoded = await tf.io.encodeWeights(weights);
  tf.dispose(Object.values(weights));
  return tfLoadLayersModel(
    tf.io.fromMemory({ ...artifacts, modelTopology: topology, weightSpecs: encoded.specs, weightData: encoded.data }),
  );
}
