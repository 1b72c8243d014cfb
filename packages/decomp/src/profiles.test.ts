import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { COST_PROFILES, calibrate } from './index.js';

describeEachBackend('checked-in cost profiles (reproducible plans by default)', () => {
  it("calibrate() is the backend's checked-in profile, not a measurement; measuring is an opt-in", () => {
    const profile = COST_PROFILES[tf.getBackend()];
    if (!profile) return; // a backend without a profile is measured (tested in planner.test.ts)
    expect(calibrate()).toBe(profile);
    const measured = calibrate({ measure: true });
    expect(measured).not.toBe(profile);
    expect(measured.backend).toBe(tf.getBackend());
    // Once measured, that is what the process plans with.
    expect(calibrate()).toBe(measured);
  });
});
