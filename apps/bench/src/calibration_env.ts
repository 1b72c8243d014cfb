import * as tf from '@tensorflow/tfjs-core';
import { type Calibration, calibrate, setCalibration } from '@tensorized/decomp';

/**
 * The bench app's TENSORIZED_CALIBRATION, applied once the backend is set (the libraries read no
 * environment): unset, the planner uses the backend's checked-in cost profile; `measure`, the running
 * machine's measured speeds; a Calibration as JSON (what `tensorized-bench calibrate` prints), those
 * speeds. Worker processes inherit it. A resumed run still restores its checkpoint's calibration
 * afterwards. Throws an Error naming the variable for anything else.
 */
export function applyCalibrationEnv(text: string | undefined = process.env['TENSORIZED_CALIBRATION']): void {
  if (!text) return;
  if (text === 'measure') {
    // Measured afresh, whatever the process planned with before.
    calibrate({ force: true });
    return;
  }
  let parsed: Calibration;
  try {
    parsed = JSON.parse(text) as Calibration;
  } catch {
    throw new Error(
      `TENSORIZED_CALIBRATION must be 'measure' or a Calibration as JSON (as \`tensorized-bench calibrate\` prints), got ${text}`,
    );
  }
  setCalibration({ ...parsed, backend: tf.getBackend() });
}
