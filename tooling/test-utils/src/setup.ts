// Vitest setup (vitest.config.ts): with TENSORIZED_WASM_THREADS=n, each test file's process starts the
// wasm backend on n threads before its tests, so that every test that runs on wasm runs threaded
// (later useBackend('wasm') calls keep the count). `pnpm test:threads` sets it. Without it nothing is
// imported here (the helpers in index.ts read the same variable: wasmTestOptions).
const threads = process.env['TENSORIZED_WASM_THREADS'];
if (threads) {
  const { useBackend } = await import('@tensorized/backends');
  await useBackend('wasm', { threads: Number(threads) });
}
