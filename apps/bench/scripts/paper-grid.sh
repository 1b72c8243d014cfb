#!/usr/bin/env bash
# The rest of the paper's comparison (issue 10), resumable: run it again after a kill or in the next
# session and it continues where it stopped (finished runs are skipped, a run in progress resumes
# from its checkpoint). Two worker processes share the runs (--jobs 2: both cores).
#
#   1. JSB Chorales, seeds 2 and 3 of every configuration at the lr/dropout selected on JSB's
#      validation (seed 1 is the grid in results/grid), the paper's epochs (50, dense GRU 100).
#   2. Piano-midi.de, Nottingham, MuseData: every configuration at its JSB-selected point, whole
#      pieces in truncated-BPTT windows of 200 frames (state carried), early stopping with patience 10.
#
# Run from the repository root after `pnpm build`. The data directory is TENSORIZED_DATA_DIR or
# ../shared/data/polyphonic.
set -euo pipefail
data_dir=${TENSORIZED_DATA_DIR:-../shared/data/polyphonic}
jobs=${JOBS:-2}
cli=apps/bench/dist/cli.js
node $cli grid --datasets jsb --seeds 2,3 --select-on jsb --data-dir "$data_dir" --out-dir results/grid --jobs "$jobs"
node $cli grid --datasets pianomidi,nottingham,musedata --select-on jsb --window 200 --patience 10 \
  --data-dir "$data_dir" --out-dir results/grid --jobs "$jobs"
