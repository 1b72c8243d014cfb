import { prod } from '@tensorized/decomp';

/**
 * The shape to read a stored weight in, for a variable of shape `shape`. Weight files of layout
 * version 1 (and checkpoints of the bench app written before 2026-12-02) keep a Tucker core
 * (inRanks..., outRanks...) as a (prod inRanks x prod outRanks) matrix under `<W|U>.core`; such a
 * value holds the same numbers in the same order and is read in the variable's shape. Any other
 * stored shape is returned as it is (a mismatch is then the caller's error to report). `name` may
 * carry a prefix (`adam.m/rnn.U.core`, `best/rnn.W.core`).
 */
export function storedShape(name: string, stored: readonly number[], shape: readonly number[]): number[] {
  const d = shape.length / 2;
  const legacyCore =
    /(^|\.)core$/.test(name) &&
    stored.length === 2 &&
    shape.length >= 4 &&
    shape.length % 2 === 0 &&
    stored[0] === prod(shape.slice(0, d)) &&
    stored[1] === prod(shape.slice(d));
  return legacyCore ? [...shape] : [...stored];
}
