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

# 3. The 11K budget again at lr 5e-3 where the JSB-selected lr 1e-2 diverged (docs/results.md):
#    Nottingham's TT-GRU ranks 11 and Tucker-GRU (2,4,2,4), MuseData's TT-GRU ranks 11. Resumable
#    as the grid is: a finished run (its line in the results file) is skipped, one with a checkpoint
#    resumes.
out=results/grid-lr5e-3
rerun() {
  local dataset=$1 model=$2 ranks=$3 batch=$4
  local name="$model-r${ranks//,/-}-lr0.005-do0.5-b$batch-e50-s1-W200-p10"
  local dir="$out/$dataset/$name" done_before resume
  mkdir -p "$out/$dataset"
  done_before=$(node -e '
    const [file, dataset, model, ranks] = process.argv.slice(1);
    const lines = require("node:fs").existsSync(file) ? require("node:fs").readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    console.log(lines.some((l) => { const c = JSON.parse(l).config; return c.dataset === dataset && c.model === model && String(c.ranks) === ranks; }));
  ' "$out/results.jsonl" "$dataset" "$model" "$ranks")
  [ "$done_before" = true ] && return 0
  resume=(--overwrite)
  [ -f "$dir/checkpoint.safetensors" ] && resume=(--resume)
  node $cli train --dataset "$dataset" --model "$model" --ranks "$ranks" --batch-size "$batch" --lr 0.005 \
    --dropout 0.5 --epochs 50 --seed 1 --window 200 --patience 10 --data-dir "$data_dir" --out-dir "$dir" \
    --results "$out/results.jsonl" "${resume[@]}"
}
# One queue per core (each result is one line appended to results.jsonl in a single write); the
# MuseData run, the longest, follows the shorter Nottingham Tucker run.
rerun nottingham tt-gru 1,11,11,11,1 8 &
{ rerun nottingham tucker-gru 2,4,2,4 16; rerun musedata tt-gru 1,11,11,11,1 8; } &
wait
