#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { type BackendRequest, useBackend } from '@tensorized/backends';
import { runDemo } from './demo.js';
import { cellSpeedTable, runCellSpeed } from './speed_cells.js';
import { decompSpeedTable, runDecompSpeed } from './speed_decomp.js';

const USAGE = `Usage: tensorized-bench <command> [options]

Commands:
  demo                 a short tour of the math core (compression, factorised matmul)
  speed decomp         ms per call and FLOPs: dense, TT contraction, rebuild + dense, planner's pick
  speed cells          ms per step of the paper's GRU, CP-GRU, Tucker-GRU, TT-GRU (inference, training)

Options:
  --backend <name>     wasm (default), node, cpu or auto
  --min-ms <n>         time spent measuring each figure (speed; default 200)
  -h, --help           this text
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      backend: { type: 'string', default: 'wasm' },
      'min-ms': { type: 'string', default: '200' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return;
  }
  const backend = values.backend as BackendRequest;
  if (!['wasm', 'node', 'cpu', 'auto'].includes(backend)) {
    throw new UsageError(`--backend must be one of wasm, node, cpu, auto; got '${values.backend}'`);
  }
  const minMs = Number(values['min-ms']);
  if (!(minMs > 0)) throw new UsageError(`--min-ms must be a positive number, got '${values['min-ms']}'`);
  const command = positionals.join(' ');
  if (!['demo', 'speed decomp', 'speed cells'].includes(command)) throw new UsageError(`unknown command '${command}'`);

  const info = await useBackend(backend);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(`backend: ${info.name} (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread${info.threads > 1 ? 's' : ''}; ${Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(', ')})\n`);
  if (command === 'demo') {
    runDemo(log);
    return;
  }
  if (command === 'speed cells') {
    const rows = runCellSpeed({
      minMs,
      onRow: (r) => {
        if (process.stderr.isTTY) process.stderr.write(`\r${r.model}      `);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    log(cellSpeedTable(rows));
    return;
  }
  const rows = runDecompSpeed({
    minMs,
    onRow: (r) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${r.matrix} rank ${r.rank} B ${r.batch}      `);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  log(decompSpeedTable(rows));
  const ok = rows.filter((r) => r.pickWithin10).length;
  log(`\nplanner's pick within 10% of the faster path: ${ok}/${rows.length} cases (${((100 * ok) / rows.length).toFixed(0)}%; target 90%)`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`tensorized-bench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  process.stderr.write(`tensorized-bench: ${(error as Error).message}\n`);
  process.exit(1);
});
