import { describe, expect, it } from 'vitest';
import { balancedModes, proposeConfig } from './index.js';

describe('proposeConfig', () => {
  it('hits the paper configurations exactly when the budget is their count', () => {
    const base = { inputSize: 256, hiddenSize: 512, inputModes: [4, 4, 4, 4], hiddenModes: [8, 4, 4, 4] };
    expect(proposeConfig({ ...base, format: 'tt', budget: 11_392 }).paramCount).toBe(11_392);
    const cp = proposeConfig({ ...base, format: 'cp', budget: 8_896 });
    expect(cp.paramCount).toBe(8_896);
    expect(cp.config.input).toEqual({ format: 'cp', rank: 80 });
    expect(proposeConfig({ ...base, format: 'tucker', budget: 10_008 }).paramCount).toBe(10_008);
  });

  it('TR: the largest uniform ring within the budget; the count is 256 r^2 + 1536 at the paper sizes', () => {
    const base = { inputSize: 256, hiddenSize: 512, inputModes: [4, 4, 4, 4], hiddenModes: [8, 4, 4, 4] };
    // W: r^2 (4*8 + 4*4 + 4*4 + 4*12) = 112 r^2; U: r^2 (8*8 + 4*4 + 4*4 + 4*12) = 144 r^2; bias 1536.
    for (const [budget, r] of [
      [4096, 3],
      [7168, 4],
      [11_392, 6],
    ] as const) {
      const p = proposeConfig({ ...base, format: 'tr', budget });
      expect(p.config.input).toEqual({ format: 'tr', ranks: [r, r, r, r, r] });
      expect(p.paramCount).toBe(256 * r * r + 1536);
    }
    expect(() => proposeConfig({ ...base, format: 'tr', budget: 1700 })).toThrow(
      /budget 1700 is below the smallest tr gru of these sizes \(1792 parameters\)/,
    );
  });

  it('never exceeds the budget and finds the best count (checked against exhaustive search)', () => {
    // 6 = 3x2 -> hidden 4 = 2x2, gates folded (2, 6): count TT ranks (1, r, 1) by hand. A bond rank
    // above min(n_1 m_1, n_2 m_2) = 4 (U's left side) would add parameters and no expressive power,
    // so r runs over 1..4.
    const count = (r: number) => 1 * 3 * 2 * r + r * 2 * 6 * 1 + (1 * 2 * 2 * r + r * 2 * 6 * 1) + 12;
    for (const budget of [50, 100, 137, 250]) {
      const p = proposeConfig({
        inputSize: 6,
        hiddenSize: 4,
        inputModes: [3, 2],
        hiddenModes: [2, 2],
        format: 'tt',
        budget,
      });
      const best = Math.max(...[1, 2, 3, 4].map(count).filter((c) => c <= budget));
      expect(p.paramCount).toBe(best);
      expect(p.paramCount).toBeLessThanOrEqual(budget);
    }
  });

  it('says when the budget is too small, and splits sizes into balanced modes', () => {
    expect(() => proposeConfig({ inputSize: 256, hiddenSize: 512, format: 'cp', budget: 1000 })).toThrow(
      /budget 1000 is below the smallest cp gru of these sizes \(1628 parameters\)/,
    );
    expect(balancedModes(512, 4)).toEqual([8, 4, 4, 4]);
    expect(balancedModes(256, 4)).toEqual([4, 4, 4, 4]);
    expect(balancedModes(88, 2)).toEqual([11, 8]);
  });
});
