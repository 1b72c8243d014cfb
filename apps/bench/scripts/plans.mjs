// Prints the plans of the paper's cells (path, TT grouping, gradient route, inference path of W and U)
// for a checkout, so that a change to the cost model can be checked against the code before it:
//   node apps/bench/scripts/plans.mjs /path/to/old-checkout wasm > old.txt
//   node apps/bench/scripts/plans.mjs . wasm > new.txt && diff old.txt new.txt
// Each checkout must be built (pnpm build).
const dir = process.argv[2] ?? '.';
const { resolve } = await import('node:path');
const base = resolve(dir, 'packages');
const backends = await import(`${base}/backends/dist/index.js`);
const cells = await import(`${base}/cells/dist/index.js`);
await backends.useBackend(process.argv[3] ?? 'wasm');
const out = [];
for (const model of ['tt-gru', 'cp-gru', 'tucker-gru']) {
  const variants = model === 'tt-gru' ? [2, 4, 5, 8, 11, 16, 20, 32].map((r) => ({ ranks: [1, r, r, r, 1] })) : model === 'cp-gru' ? [20, 50, 80, 110, 200].map((rank) => ({ rank })) : [[2, 2, 2, 2], [2, 4, 2, 4], [4, 4, 4, 4]].map((ranks) => ({ ranks }));
  for (const v of variants) {
    const cell = cells.createCell(cells.paperCellConfig(model, { seed: 1, ...v }));
    for (const [batch, uses] of [[1, 1], [1, 1000], [16, 64], [8, 200], [16, 200], [32, 64]]) {
      for (const m of [cell.W, cell.U]) {
        const p = m.plannedPath(batch, uses, 'auto', true, m === cell.U);
        const g = m.plannedGroups(batch, uses, 'auto', true, m === cell.U);
        const r = m === cell.U ? m.plannedWeightGradient(batch, uses) : '';
        const inf = m.plannedPath(batch, uses, 'auto', false, false);
        out.push(`${model} ${JSON.stringify(v)} ${m.name} B${batch} T${uses}: train ${p}${g ? ' ' + g.join('+') : ''} ${r} | infer ${inf}`);
      }
    }
    cell.dispose();
  }
}
console.log(out.join('\n'));
