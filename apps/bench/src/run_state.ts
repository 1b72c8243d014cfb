import { MODEL_NAMES } from '@tensorized/cells';

/**
 * The schema of a checkpoint's state (RunState in train.ts), checked on load: a state that passes
 * is one that training could have written. Throws an Error naming the first field that does not.
 */
const fail = (path: string, value: unknown, expected: string): never => {
  throw new Error(`${path} is ${JSON.stringify(value)}; expected ${expected}`);
};
const obj = (path: string, x: unknown): Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x)
    ? (x as Record<string, unknown>)
    : fail(path, x, 'an object');
const int = (path: string, x: unknown, min: number): number =>
  Number.isSafeInteger(x) && (x as number) >= min ? (x as number) : fail(path, x, `an integer >= ${min}`);
const num = (path: string, x: unknown, ok: (v: number) => boolean, expected: string): number =>
  typeof x === 'number' && ok(x) ? x : fail(path, x, expected);
const finite = (path: string, x: unknown): number => num(path, x, Number.isFinite, 'a finite number');

export function validateRunState(state: unknown): void {
  const s = obj('state', state);
  if (s['version'] !== 1 && s['version'] !== 2) fail('version', s['version'], '1 or 2');
  const epochs = validateRunConfig(s['config']);
  if (s['dataHash'] !== undefined && !(typeof s['dataHash'] === 'string' && /^[0-9a-f]{64}$/.test(s['dataHash'])))
    fail('dataHash', s['dataHash'], 'a sha256 in hex');
  validateProgress(s, epochs);
}

/** The schema of a run's configuration (RunConfig); returns its epochs. */
export function validateRunConfig(config: unknown): number {
  const c = obj('config', config);
  const optional = (o: Record<string, unknown>, key: string, check: (path: string, x: unknown) => unknown): void => {
    if (o[key] !== undefined) check(`config.${key}`, o[key]);
  };
  if (typeof c['dataset'] !== 'string' || c['dataset'] === '') fail('config.dataset', c['dataset'], 'a dataset name');
  if (!(MODEL_NAMES as readonly unknown[]).includes(c['model']))
    fail('config.model', c['model'], `one of ${MODEL_NAMES.join(', ')}`);
  num('config.lr', c['lr'], (x) => x >= 0 && Number.isFinite(x), 'a learning rate >= 0');
  num('config.dropout', c['dropout'], (x) => x >= 0 && x < 1, 'a rate in [0, 1)');
  int('config.batchSize', c['batchSize'], 1);
  const epochs = int('config.epochs', c['epochs'], 1);
  int('config.seed', c['seed'], Number.MIN_SAFE_INTEGER);
  num('config.clip', c['clip'], (x) => x > 0, 'a number > 0');
  const positiveInts = (path: string, x: unknown): void => {
    if (!Array.isArray(x) || x.length === 0) fail(path, x, 'a non-empty array of positive integers');
    for (const [i, v] of (x as unknown[]).entries()) int(`${path}[${i}]`, v, 1);
  };
  optional(c, 'ranks', positiveInts);
  optional(c, 'inputModes', positiveInts);
  optional(c, 'hiddenModes', positiveInts);
  for (const key of ['rank', 'blocks', 'inputSize', 'hiddenSize', 'maxLength', 'window', 'patience'])
    optional(c, key, (p, x) => int(p, x, 1));
  if (c['weights'] !== undefined) {
    const w = obj('config.weights', c['weights']);
    for (const k of ['input', 'recurrent'])
      if (typeof obj(`config.weights.${k}`, w[k])['format'] !== 'string')
        fail(`config.weights.${k}.format`, (w[k] as { format?: unknown }).format, 'a format name');
  }
  if (
    c['initialWeights'] !== undefined &&
    !(typeof c['initialWeights'] === 'string' && /^[0-9a-f]{64}$/.test(c['initialWeights']))
  )
    fail('config.initialWeights', c['initialWeights'], 'a sha256 in hex');
  return epochs;
}

function validateProgress(s: Record<string, unknown>, epochs: number): void {
  const epoch = int('epoch', s['epoch'], 0);
  if (epoch > epochs) fail('epoch', epoch, `at most config.epochs = ${epochs}`);
  const history = Array.isArray(s['history']) ? (s['history'] as unknown[]) : fail('history', s['history'], 'an array');
  if (history.length !== epoch) fail('history', `${history.length} records`, `one per epoch (${epoch})`);
  const validNlls = history.map((h, i) => {
    const r = obj(`history[${i}]`, h);
    if (r['epoch'] !== i + 1) fail(`history[${i}].epoch`, r['epoch'], String(i + 1));
    for (const split of ['valid', 'test']) {
      const m = obj(`history[${i}].${split}`, r[split]);
      num(`history[${i}].${split}.nll`, m['nll'], (x) => Number.isFinite(x) && x >= 0, 'a finite NLL >= 0');
      num(`history[${i}].${split}.accuracy`, m['accuracy'], (x) => x >= 0 && x <= 1, 'an accuracy in [0, 1]');
    }
    finite(`history[${i}].seconds`, r['seconds']);
    return (r['valid'] as { nll: number }).nll;
  });

  if (epoch === 0) {
    if (s['best'] !== null) fail('best', s['best'], 'null before the first epoch');
  } else {
    const b = obj('best', s['best']);
    const at = int('best.epoch', b['epoch'], 1);
    if (at > epoch) fail('best.epoch', at, `at most epoch = ${epoch}`);
    const first = validNlls.indexOf(Math.min(...validNlls)) + 1;
    if (at !== first) fail('best.epoch', at, `the first epoch of lowest validation NLL in the history (${first})`);
    const rec = history[at - 1] as { valid: { nll: number }; test: { nll: number; accuracy: number } };
    if (b['validNll'] !== rec.valid.nll)
      fail('best.validNll', b['validNll'], `history[${at - 1}].valid.nll = ${rec.valid.nll}`);
    if (b['testNll'] !== rec.test.nll)
      fail('best.testNll', b['testNll'], `history[${at - 1}].test.nll = ${rec.test.nll}`);
    if (b['testAccuracy'] !== rec.test.accuracy)
      fail('best.testAccuracy', b['testAccuracy'], `history[${at - 1}].test.accuracy = ${rec.test.accuracy}`);
  }
  const adamStep = int('adamStep', s['adamStep'], 0);
  if ((adamStep === 0) !== (epoch === 0))
    fail('adamStep', adamStep, epoch === 0 ? '0 before the first epoch' : 'at least one step per epoch');
  if (adamStep < epoch) fail('adamStep', adamStep, `at least one step per epoch (${epoch})`);
  int('rnnParams', s['rnnParams'], 1);
  if (s['stoppedEarly'] !== undefined && s['stoppedEarly'] !== epoch)
    fail('stoppedEarly', s['stoppedEarly'], `the last epoch (${epoch}) or absent`);
}
