import type { Calibration } from './planner.js';

/**
 * The checked-in cost profiles: the speeds the planner plans with by default, per backend, so that
 * the paths a model takes (and so how its numbers round) do not depend on a timing taken at run
 * time: the same seed on the same backend gives the same numbers on any machine. Measured on the
 * project's 2-core machine with `tensorized-bench calibrate --backend <name>` (the fastest of three
 * calibrations, trainings paused; 2026-12-01), which anyone can rerun to refresh them. A backend
 * without a profile (webgl, tensorflow) is measured at run time, as `calibrate({ measure: true })`
 * does for any backend.
 */
export const COST_PROFILES: Readonly<Record<string, Calibration>> = {
  wasm: {
    backend: 'wasm',
    overheadMs: 0.00214,
    flopsPerMs: 3.47e7,
    movedPerMs: 8.86e5,
    readPerMs: 2.52e7,
    packPerMs: 3.16e5,
    widePerMs: 4.82e5,
  },
  cpu: {
    backend: 'cpu',
    overheadMs: 0.00366,
    flopsPerMs: 9.91e5,
    movedPerMs: 2.26e4,
    readPerMs: 1.95e6,
    packPerMs: 4.89e5,
    widePerMs: 2.54e4,
  },
};
