import * as tf from '@tensorflow/tfjs-core';
import { COST_PROFILES, calibrate, setCalibration } from '@tensorized/decomp';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { applyCalibrationEnv } from './calibration_env.js';

beforeAll(async () => {
  await useBackend('wasm');
});

it('TENSORIZED_CALIBRATION: unset keeps the profile, JSON pins a calibration, measure measures, anything else is refused', () => {
  const profile = COST_PROFILES['wasm']!;
  try {
    setCalibration(profile);
    applyCalibrationEnv(undefined);
    expect(calibrate()).toEqual(profile);
    // As at the app's start, with the profile in place: measured speeds instead.
    applyCalibrationEnv('measure');
    expect(calibrate()).not.toEqual(profile);
    expect(calibrate().backend).toBe(tf.getBackend());
    const pinned = { overheadMs: 0.02, flopsPerMs: 2e7, movedPerMs: 1e6, readPerMs: 1e7, packPerMs: 2e5 };
    applyCalibrationEnv(JSON.stringify(pinned));
    expect(calibrate()).toEqual({ backend: tf.getBackend(), ...pinned });
    expect(() => applyCalibrationEnv('{"overheadMs": ')).toThrow(
      /TENSORIZED_CALIBRATION must be 'measure' or a Calibration as JSON/,
    );
    expect(() => applyCalibrationEnv(JSON.stringify({ overheadMs: 0 }))).toThrow(/setCalibration: expected/);
  } finally {
    setCalibration(profile);
  }
});
