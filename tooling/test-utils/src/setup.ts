// Vitest setup (vitest.config.ts): with TENSORIZED_WASM_THREADS=n, each test file's process starts the
// wasm backend on n threads before its tests, so that every test that runs on wasm runs threaded
// (later useBackend('wasm') calls keep the count). `pnpm test:threads` sets it.
import { useBackend } from '@tensorized/backends';
import { wasmTestOptions } from './index.js';

if (wasmTestOptions().threads) await useBackend('wasm', wasmTestOptions());
