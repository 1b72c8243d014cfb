// Install size of each publishable package with its dependencies (peers not counted): each packed
// (pnpm pack) and installed alone with npm into a fresh project, then node_modules measured without
// the TF.js peers it names (npm install --omit=peer). Run from the repository root after `pnpm build`:
//   node tooling/install-check/scripts/sizes.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve('.');
const packages = ['decomp', 'cells', 'backends', 'datasets'];

function du(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, f) => n + du(join(path, f)), 0);
}

const rows = [];
for (const p of packages) {
  const project = mkdtempSync(join(tmpdir(), 'tensorized-size-'));
  const tarballs = [];
  // A package's workspace dependencies come as tarballs too.
  const manifest = JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8'));
  const local = Object.keys(manifest.dependencies ?? {}).filter((d) => d.startsWith('@tensorized/'));
  for (const name of [p, ...local.map((d) => d.slice('@tensorized/'.length))]) {
    execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: join(root, 'packages', name), stdio: 'pipe' });
  }
  for (const f of readdirSync(project)) if (f.endsWith('.tgz')) tarballs.push(`./${f}`);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'size', private: true, type: 'module' }));
  const peers = Object.keys(manifest.peerDependencies ?? {});
  execFileSync('npm', ['install', '--omit=peer', '--no-audit', '--no-fund', '--loglevel', 'error', ...tarballs], {
    cwd: project,
    stdio: 'pipe',
  });
  const nm = join(project, 'node_modules');
  const bytes = du(nm);
  const biggest = readdirSync(nm)
    .flatMap((d) => (d.startsWith('@') ? readdirSync(join(nm, d)).map((e) => `${d}/${e}`) : [d]))
    .filter((d) => !d.startsWith('.'))
    .map((d) => [d, du(join(nm, d))])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([d, b]) => `${d} ${(b / 1024 / 1024).toFixed(1)}`)
    .join(', ');
  // Every installed package (scoped ones counted inside their scope).
  const count = readdirSync(nm)
    .filter((d) => !d.startsWith('.'))
    .reduce((n, d) => n + (d.startsWith('@') ? readdirSync(join(nm, d)).length : 1), 0);
  rows.push(
    `| @tensorized/${p} | ${(bytes / 1024 / 1024).toFixed(1)} MB | ${count} | ${biggest} | ${peers.join(', ') || '-'} |`,
  );
  rmSync(project, { recursive: true, force: true });
}
console.log('| package | installed with its dependencies | packages | largest (MB) | peers (not installed) |');
console.log('| --- | ---: | ---: | --- | --- |');
console.log(rows.join('\n'));
