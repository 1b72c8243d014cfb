import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The publishable packages as a user gets them: packed (pnpm pack, the workspace protocol replaced by
 * versions), installed with npm into a fresh project outside the repository, and the README examples
 * marked `<!-- install-check -->` run there with plain Node. The examples are the code this test runs,
 * so they cannot drift from what works.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PACKAGES = ['decomp', 'cells', 'backends', 'datasets'];
/**
 * The TF.js version the consumer installs: 4.22.0, or TENSORIZED_INSTALL_TFJS (e.g. 4.20.0) to check
 * that the peer ranges hold for another 4.x.
 */
const TFJS = process.env['TENSORIZED_INSTALL_TFJS'] ?? '4.22.0';
const PEERS = [
  `@tensorflow/tfjs-core@${TFJS}`,
  `@tensorflow/tfjs-backend-cpu@${TFJS}`,
  `@tensorflow/tfjs-backend-wasm@${TFJS}`,
];

/** The ```ts blocks of a README preceded by an `<!-- install-check -->` line. */
function markedExamples(markdown: string): string[] {
  const out: string[] = [];
  const re = /<!-- install-check -->\s*\n```ts\n([\s\S]*?)\n```/g;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) out.push(m[1]!);
  return out;
}

const examples = PACKAGES.flatMap((p) =>
  markedExamples(readFileSync(join(root, 'packages', p, 'README.md'), 'utf8')).map(
    (code, i) => [`${p} README, example ${i + 1}`, code] as const,
  ),
);

// The datasets example reads TENSORIZED_DATA_DIR: the project's data beside the repository, if any.
const dataDir = process.env['TENSORIZED_DATA_DIR'] ?? resolve(root, '../shared/data/polyphonic');
const haveData = existsSync(join(dataDir, 'JSB Chorales.pickle')) || existsSync(dataDir);

let project = '';
let installLog = '';

describe('the packages installed from their tarballs into a fresh project', () => {
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'tensorized-install-'));
    for (const p of PACKAGES) {
      const dir = join(root, 'packages', p);
      if (!existsSync(join(dir, 'dist'))) throw new Error(`packages/${p} is not built: run pnpm build first`);
      execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: dir, stdio: 'pipe' });
    }
    const tarballs = readdirSync(project).filter((f) => f.endsWith('.tgz'));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    const r = spawnSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel', 'warn', ...tarballs.map((t) => `./${t}`), ...PEERS],
      { cwd: project, encoding: 'utf8' },
    );
    installLog = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`npm install failed:\n${installLog}`);
  }, 600_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('installs with npm without a warning (no peer conflicts, no --legacy-peer-deps)', () => {
    const lines = installLog.split('\n').filter((l) => /npm (warn|WARN)/.test(l));
    // No warning at all: no peer conflict, and no dependency with an install script (npm 11 names
    // those; core-js, which came with the @tensorflow/tfjs union, was the last one).
    expect(lines).toEqual([]);
  });

  it('finds the marked examples in the READMEs', () => {
    expect(examples.map(([name]) => name)).toEqual(
      expect.arrayContaining(['decomp README, example 1', 'cells README, example 1', 'backends README, example 1']),
    );
  });

  for (const [name, code] of examples) {
    const needsData = code.includes('loadPolyphonic');
    it.skipIf(needsData && !haveData)(
      `${name} runs in the installed project`,
      () => {
        // The examples are TypeScript: types stripped, nothing else changed.
        const js = ts.transpileModule(code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        const file = join(project, `${name.replace(/[^a-z0-9]+/gi, '-')}.mjs`);
        writeFileSync(file, js);
        const r = spawnSync('node', [file], {
          cwd: project,
          encoding: 'utf8',
          timeout: 300_000,
          env: { ...process.env, TENSORIZED_DATA_DIR: dataDir },
        });
        expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      },
      300_000,
    );
  }
});
