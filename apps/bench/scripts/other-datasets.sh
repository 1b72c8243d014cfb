#!/usr/bin/env bash
# Trains one paper model on Piano-midi.de, Nottingham and MuseData in rounds: every round extends each
# run by STEP epochs (train --resume --epochs <more>), so an interrupted session leaves all three
# datasets with a comparable number of epochs, each run resumable from its last checkpoint.
#
#   apps/bench/scripts/other-datasets.sh tt-gru   [STEP=2] [MAX=50]
#   apps/bench/scripts/other-datasets.sh gru      [STEP=2] [MAX=100]
#
# Run from the repository root after `pnpm build`. The data directory is TENSORIZED_DATA_DIR or
# ../shared/data/polyphonic; results go to results/other/<dataset>/<run> and results/grid/results.jsonl.
set -euo pipefail
model=${1:?usage: other-datasets.sh tt-gru|gru [step] [max]}
step=${2:-2}
data_dir=${TENSORIZED_DATA_DIR:-../shared/data/polyphonic}
case $model in
  tt-gru) max=${3:-50}; args=(--model tt-gru --ranks 1,11,11,11,1 --lr 5e-3 --dropout 0.2 --batch-size 8); name=tt-gru-r11-lr0.005-do0.2-b8-L200 ;;
  gru) max=${3:-100}; args=(--model gru --lr 2.5e-3 --dropout 0.3 --batch-size 16); name=gru-dense-lr0.0025-do0.3-b16-L200 ;;
  *) echo "other-datasets.sh: model must be tt-gru or gru, got '$model'" >&2; exit 2 ;;
esac
for ((epochs = step; epochs <= max; epochs += step)); do
  for dataset in pianomidi nottingham musedata; do
    out=results/other/$dataset/$name
    resume=()
    [[ -f $out/checkpoint.safetensors ]] && resume=(--resume)
    node apps/bench/dist/cli.js train --dataset "$dataset" --data-dir "$data_dir" "${args[@]}" --max-length 200 \
      --epochs "$epochs" --out-dir "$out" --results results/grid/results.jsonl "${resume[@]}"
  done
done
