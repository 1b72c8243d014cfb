import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import {
  DecompError,
  FORMAT_NAMES,
  FORMATS,
  type FormatSpec,
  formatDefinition,
  matrixToDense,
  trMatrix,
} from '../index.js';
import { prod } from '../prod.js';

const IN = [4, 2, 3];
const OUT = [2, 3, 6];
const SPECS: FormatSpec[] = [
  { format: 'tt', ranks: [1, 3, 2, 1] },
  { format: 'cp', rank: 4 },
  { format: 'tucker', ranks: [2, 2, 3] },
  { format: 'tucker', ranks: [2, 1, 3], outRanks: [1, 3, 2] },
  { format: 'tr', ranks: [2, 3, 2, 2] },
  { format: 'tr', ranks: [1, 3, 2, 1] },
  { format: 'bt', ranks: [2, 3, 2], blocks: 2 },
  { format: 'bt', ranks: [1, 1, 1], blocks: 1 },
];

describe('the format registry', () => {
  it('lists every format once, by name and by kind', () => {
    expect(FORMAT_NAMES).toEqual(['tt', 'cp', 'tucker', 'tr', 'bt']);
    for (const name of FORMAT_NAMES) {
      const def = FORMATS[name];
      expect(def.name).toBe(name);
      expect(formatDefinition(name)).toBe(def);
      expect(formatDefinition(def.kind)).toBe(def);
    }
    expect(() => formatDefinition('svd')).toThrow(/format must be one of 'tt', 'cp', 'tucker', 'tr', 'bt', got "svd"/);
  });

  it('spec -> shape -> spec is the identity; bad ranks are refused naming the field', () => {
    for (const spec of SPECS) {
      const def = formatDefinition(spec.format);
      expect(def.spec(def.shape('t', spec, { inModes: IN, outModes: OUT }))).toEqual(spec);
    }
    const bad = (spec: FormatSpec) => () =>
      formatDefinition(spec.format).shape('f', spec, { inModes: IN, outModes: OUT });
    expect(bad({ format: 'tt', ranks: [2, 3, 2, 1] })).toThrow(/f: ranks must start and end with 1/);
    expect(bad({ format: 'cp', rank: 0 })).toThrow(/f: rank must be a positive integer, got 0/);
    expect(bad({ format: 'tucker', ranks: [5, 1, 1] })).toThrow(/inRanks\[0\] = 5 exceeds its mode size 4/);
    expect(bad({ format: 'tr', ranks: [2, 3, 2, 3] })).toThrow(
      /f: ranks must close the ring, r_0 = r_d, got \[2, 3, 2, 3\]/,
    );
    expect(bad({ format: 'tr', ranks: [2, 3, 2] })).toThrow(/f: ranks must have d \+ 1 = 4 entries/);
    expect(bad({ format: 'bt', ranks: [2, 2, 2], blocks: 0 })).toThrow(/f: blocks must be a positive integer, got 0/);
    expect(bad({ format: 'bt', ranks: [2, 2], blocks: 1 })).toThrow(/f: ranks must have d = 3 entries/);
    expect(bad({ format: 'bt', ranks: [9, 1, 1], blocks: 1 })).toThrow(/ranks\[0\] = 9 exceeds n_0 m_0 = 8/);
    expect(() =>
      formatDefinition('tr').shape('f', { format: 'tr', ranks: [2, 2] }, { inModes: [4], outModes: [4] }),
    ).toThrow(/f: a tensor ring needs d >= 2 modes/);
    expect(() =>
      formatDefinition('tt').shape(
        'f',
        { format: 'tt', ranks: [1, 1, 1, 1] },
        { inModes: IN, outModes: OUT },
        { inSize: 23 },
      ),
    ).toThrow(DecompError);
  });

  it('paramCount equals the parts the format stores; parts name distinct tensors', () => {
    for (const spec of SPECS) {
      const def = formatDefinition(spec.format);
      const shape = def.shape('t', spec, { inModes: IN, outModes: OUT });
      const parts = def.parts(shape);
      expect(new Set(parts.map((p) => p.name)).size).toBe(parts.length);
      expect(def.paramCount(shape)).toBe(parts.reduce((n, p) => n + prod(p.shape), 0));
      expect(def.modeCount(spec) ?? IN.length).toBe(IN.length);
    }
  });

  it('largestWithin: at most the budget, and no spec the exhaustive search finds is larger', () => {
    const matrices = [
      { inModes: IN, outModes: OUT },
      { inModes: [3, 3, 2], outModes: OUT },
    ];
    const count = (spec: FormatSpec): number => {
      const def = formatDefinition(spec.format);
      return matrices.reduce((n, m) => n + def.paramCount(def.shape('t', spec, m)), 0);
    };
    // Every spec a search may consider, exhaustively: TT bonds up to what either side can use (6 and
    // 12 here), Tucker ranks up to the smallest mode at each position (2, 2, 2), CP ranks up to 40.
    const all: FormatSpec[] = [];
    for (let a = 1; a <= 40; a++) all.push({ format: 'cp', rank: a });
    for (let a = 1; a <= 6; a++) for (let b = 1; b <= 12; b++) all.push({ format: 'tt', ranks: [1, a, b, 1] });
    for (let a = 1; a <= 2; a++)
      for (let b = 1; b <= 2; b++) for (let c = 1; c <= 2; c++) all.push({ format: 'tucker', ranks: [a, b, c] });
    // TR searches uniform rings (r, r, r, r), the form TR-LSTM uses.
    for (let r = 1; r <= 12; r++) all.push({ format: 'tr', ranks: [r, r, r, r] });
    // BT searches uniform ranks with 1 to 8 blocks.
    for (let blocks = 1; blocks <= 8; blocks++)
      for (let r = 1; r <= 6; r++) all.push({ format: 'bt', ranks: [r, r, r], blocks });
    for (const name of FORMAT_NAMES) {
      const def = FORMATS[name];
      for (const budget of [150, 300, 600]) {
        const best = def.largestWithin(matrices, budget);
        expect(best, `${name} within ${budget}`).toBeDefined();
        const c = count(best!);
        expect(c).toBeLessThanOrEqual(budget);
        const better = all.filter((s) => s.format === name && count(s) <= budget && count(s) > c);
        expect(better, `${name} within ${budget}`).toEqual([]);
      }
      expect(def.largestWithin(matrices, count(def.smallest(3)) - 1)).toBeUndefined();
    }
  });
});

describeEachBackend('trMatrix', () => {
  it('refuses a ring that does not close and a single core, naming the cores', () => {
    const cores = [tf.zeros([2, 3, 2, 4]), tf.zeros([4, 2, 2, 3])];
    expect(() => trMatrix(cores)).toThrow(
      /trMatrix: the ring must close, r_0 = r_d: cores\[0\] starts with 2 but cores\[1\] ends with 3/,
    );
    expect(() => trMatrix([tf.zeros([2, 3, 2, 2])])).toThrow(/at least 2 cores/);
    const w = trMatrix([cores[0]!, tf.zeros([4, 2, 2, 2])]);
    expect(w.ranks).toEqual([2, 4, 2]);
    tf.dispose([...cores, ...w.cores]);
  });
});

describeEachBackend('the format registry', () => {
  it('init gives the parts; assemble(tensors) rebuilds the same matrix; no leaks', () => {
    const before = tf.memory().numTensors;
    for (const spec of SPECS) {
      const def = formatDefinition(spec.format);
      const shape = def.shape('t', spec, { inModes: IN, outModes: OUT });
      const w = def.init(shape, { seed: 3 });
      const tensors = def.tensors(w);
      expect(tensors.map((t) => t.shape)).toEqual(def.parts(shape).map((p) => p.shape));
      const again = def.assemble(shape, tensors) as typeof w;
      const [a, b] = [matrixToDense(w), matrixToDense(again)];
      expect(a.shape).toEqual([prod(IN), prod(OUT)]);
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([a, b, ...tensors]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
