#!/usr/bin/env bash
# Before/after speed of a change, interleaved on one machine (the only fair comparison on a shared,
# noisy machine): `speed epoch --dataset jsb --rounds 1` and `speed cells`, alternating the two
# checkouts for ROUNDS rounds. Each checkout must be built (`pnpm build` in it). Pause background
# trainings first (kill -STOP). Prints every round; keep each model's fastest.
#
#   apps/bench/scripts/before-after.sh <old checkout> <new checkout> [rounds] > out.txt
#
# PARTS=cells (or PARTS=epoch) runs only that part.
set -euo pipefail
old=$1
new=$2
rounds=${3:-3}
parts=${PARTS:-epoch cells}
data_dir=${TENSORIZED_DATA_DIR:-$(pwd)/../shared/data/polyphonic}
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    dir=$old
    [ "$side" = new ] && dir=$new
    echo "## round $r, $side ($dir, $(git -C "$dir" rev-parse --short HEAD))"
    if [[ " $parts " == *" epoch "* ]]; then
      (cd "$dir" && node apps/bench/dist/cli.js speed epoch --dataset jsb --rounds 1 --data-dir "$data_dir" 2>&1 | grep '^|')
    fi
    if [[ " $parts " == *" cells "* ]]; then
      (cd "$dir" && node apps/bench/dist/cli.js speed cells 2>&1 | grep '^|')
    fi
  done
done
