import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CompressMatrixOptions, compressMatrix, Rng } from '@tensorized/decomp';
import { markdownTable } from './table.js';

export interface CompressSpeedRow {
  matrix: string;
  case: string;
  ranks: string;
  params: number;
  relativeError: number;
  seconds: number;
  /** The same conversion in NumPy (apps/bench/scripts/compress_numpy.py), one thread; absent without python3 + numpy. */
  numpySeconds?: number;
}

const OUT_MODES = [8, 4, 4, 12];

/** The conversions timed, by the names the NumPy script prints (the searches have no NumPy peer). */
const CASES: Array<[string, Omit<CompressMatrixOptions, 'inModes' | 'outModes'>]> = [
  ['tt ranks 1,8,8,8,1', { format: 'tt', ranks: [1, 8, 8, 8, 1] }],
  ['tt full (no cap)', { format: 'tt', eps: 1e-12 }],
  ['cp R 50, 20 sweeps', { format: 'cp', rank: 50, maxIter: 20, tol: 0 }],
  ['tucker 2,4,2,4 / 2,4,2,4, 10 sweeps', { format: 'tucker', ranks: [2, 4, 2, 4, 2, 4, 2, 4], maxIter: 10 }],
  ['tt budget 5000 (search)', { format: 'tt', budget: 5000 }],
  ['cp budget 5000 (search)', { format: 'cp', budget: 5000, maxIter: 20 }],
  ['tucker budget 5000 (search)', { format: 'tucker', budget: 5000 }],
];

/**
 * compressMatrix at the paper's sizes: W (256 x 1536, modes 4x4x4x4 by 8x4x4x12) and U (512 x 1536,
 * 8x4x4x4 by 8x4x4x12) of random N(0, 1) entries; each case the faster of two runs. Where python3
 * with NumPy is found, the same conversions in NumPy with one thread, for the ratio.
 */
export function runCompressSpeed(): CompressSpeedRow[] {
  const rng = new Rng(1);
  const rows: CompressSpeedRow[] = [];
  for (const [name, n, inModes] of [
    ['W 256 x 1536', 256, [4, 4, 4, 4]],
    ['U 512 x 1536', 512, [8, 4, 4, 4]],
  ] as const) {
    const w = { shape: [n, 1536], data: rng.normalArray(n * 1536) };
    for (const [label, options] of CASES) {
      let best = Infinity;
      let report: ReturnType<typeof compressMatrix>['report'] | undefined;
      for (let i = 0; i < 2; i++) {
        const t0 = performance.now();
        report = compressMatrix(w, { ...options, inModes, outModes: OUT_MODES } as CompressMatrixOptions).report;
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      rows.push({
        matrix: name,
        case: label,
        ranks: report!.ranks.join(','),
        params: report!.params,
        relativeError: report!.relativeError,
        seconds: best,
      });
    }
  }
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'compress_numpy.py');
  if (existsSync(script)) {
    const r = spawnSync('python3', [script], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    });
    if (r.status === 0) {
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const p = JSON.parse(line) as { matrix: string; case: string; seconds: number };
        const row = rows.find((x) => x.matrix === p.matrix && x.case === p.case);
        if (row) row.numpySeconds = p.seconds;
      }
    }
  }
  return rows;
}

export function compressSpeedTable(rows: readonly CompressSpeedRow[]): string {
  return markdownTable(
    ['matrix', 'conversion', 'ranks', 'params', 'rel. error', 's', 'NumPy s (1 thread)', 'vs NumPy'],
    rows.map((r) => [
      r.matrix,
      r.case,
      r.ranks,
      r.params,
      r.relativeError.toFixed(4),
      r.seconds.toFixed(2),
      r.numpySeconds?.toFixed(2) ?? '',
      r.numpySeconds ? `${(r.seconds / r.numpySeconds).toFixed(1)}x` : '',
    ]),
  );
}
