#!/usr/bin/env bash
# Runs a benchmark command and keeps its output, with the command and the time, as
# results/speed/<name>/<UTC time>.txt; `node docs/bench/update-performance.mjs` then regenerates
# docs/performance.md (every recording, newest first) and the current tables in the package READMEs.
#
#   docs/bench/record.sh <name> [--note "what else was running"] -- <command...>
#   docs/bench/record.sh cells --note "trainings paused" -- pnpm bench:cells
#
# Run from the repository root. Pause background trainings first (kill -STOP by PID), and say so in
# the note: the machine is shared and noisy, compare only within one recording.
set -euo pipefail
name=${1:?usage: record.sh <name> [--note text] -- <command...>}
shift
note=""
if [[ ${1:-} == --note ]]; then
  note=${2:?--note needs a text}
  shift 2
fi
[[ ${1:-} == -- ]] || { echo "record.sh: expected -- before the command" >&2; exit 2; }
shift
[[ $# -gt 0 ]] || { echo "record.sh: no command given" >&2; exit 2; }
dir=results/speed/$name
mkdir -p "$dir"
stamp=$(date -u +%Y-%m-%dT%H%M)
out=$dir/$stamp.txt
tmp=$out.tmp
{
  echo "\$ $*"
  echo "# recorded $(date -u '+%Y-%m-%d %H:%M') UTC on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')${note:+; $note}"
  "$@" 2>&1 | grep -v -e '^Hi, looks like you are running TensorFlow.js' -e '^=\{10,\}$' -e '^$'
} > "$tmp"
mv "$tmp" "$out"
echo "recorded $out"
