import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/data/polyphonic beside the repository (or TENSORIZED_SHARED_DIR/data/polyphonic). */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const POLYPHONIC_DIR = join(
  process.env['TENSORIZED_SHARED_DIR'] ?? resolve(repoRoot, '..', 'shared'),
  'data',
  'polyphonic',
);
export const HAVE_SHARED = existsSync(join(POLYPHONIC_DIR, 'README.md'));

export interface IntegrityRow {
  dataset: string;
  split: string;
  sequences: number;
  steps: number;
  minNote: number;
  maxNote: number;
  notesPerStep: string;
  emptySteps: number;
}

/** The integrity table of the shared README, parsed: the independent facts the loaders must match. */
export function integrityTable(): IntegrityRow[] {
  const text = readFileSync(join(POLYPHONIC_DIR, 'README.md'), 'utf8');
  const rows: IntegrityRow[] = [];
  for (const line of text.split('\n')) {
    const cells = line
      .split('|')
      .map((c) => c.trim())
      .slice(1, -1);
    if (cells.length !== 7 || !/^\d+$/.test(cells[2]!)) continue;
    const [lo, hi] = cells[4]!.split(/[–-]/).map(Number);
    rows.push({
      dataset: cells[0]!,
      split: cells[1]!,
      sequences: Number(cells[2]),
      steps: Number(cells[3]),
      minNote: lo!,
      maxNote: hi!,
      notesPerStep: cells[5]!,
      emptySteps: Number(cells[6]),
    });
  }
  return rows;
}
