#!/usr/bin/env bash
# The JSB grid of the formats beyond the paper (issue 16): TR-GRU (tensor rings of ranks 3, 4, 6:
# 3,840, 5,632 and 10,752 RNN parameters) and BT-GRU (Block-Term, ranks 2, 3, 4 with 4, 6, 6 blocks:
# 3,712, 7,116 and 10,752), at the JSB budgets of the paper's comparison, over the paper's lr
# {5e-3, 1e-2} x dropout {0.2, 0.5}, 50 epochs, seed 1, as the other formats' grid in results/grid.
# Resumable: run it again and it continues where it stopped (the TR runs first). One worker (JOBS),
# its own results directory, results/grid-tr (it began with TR alone; merge with `grid merge` or pass
# both results files to `report`).
#
# Run from the repository root after `pnpm build`. The data directory is TENSORIZED_DATA_DIR or
# ../shared/data/polyphonic.
set -euo pipefail
data_dir=${TENSORIZED_DATA_DIR:-../shared/data/polyphonic}
jobs=${JOBS:-1}
node apps/bench/dist/cli.js grid --datasets jsb --models tr-gru,bt-gru --data-dir "$data_dir" --out-dir results/grid-tr \
  --jobs "$jobs"
