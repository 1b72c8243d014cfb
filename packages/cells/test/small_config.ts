import type { CellConfig, WeightSpec } from '../src/index.js';

/** A small cell for tests: input 12 = 2x3x2, hidden 8 = 2x2x2; gates folded: 2x2x(3*2) or 2x2x(4*2). */
export function smallConfig(kind: 'gru' | 'lstm', spec: WeightSpec, extra: Partial<CellConfig> = {}): CellConfig {
  return {
    kind,
    inputSize: 12,
    hiddenSize: 8,
    inputModes: [2, 3, 2],
    hiddenModes: [2, 2, 2],
    input: spec,
    recurrent: spec,
    seed: 3,
    init: 0.3,
    ...extra,
  };
}
