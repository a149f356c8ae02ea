#!/usr/bin/env bash
# Runs one libFuzzer executable for a fixed time and fails if it finds anything.
#
#   run_fuzzer.sh FUZZER SECONDS WORK_DIRECTORY SEED_DIRECTORY [INPUT_DIRECTORY...]
#
# WORK_DIRECTORY/corpus collects what the run discovers (kept between runs, so longer local runs
# build on shorter ones); the seed and input directories (the regression corpus) are read only.
# A finding is written to WORK_DIRECTORY/findings/ and its path printed; minimise it with
# `FUZZER -minimize_crash=1 -runs=10000 FILE` and add it to fuzz/regression/<target>/.
#
# Limits: 10 s per input (a hang), 256 MB for one allocation and 2 GB in all (inputs are at most
# a few hundred kilobytes: a reader that asks for more is sized by a claim in the input, not by
# its bytes).
set -euo pipefail

if (($# < 4)); then
  echo "usage: $0 FUZZER SECONDS WORK_DIRECTORY SEED_DIRECTORY [INPUT_DIRECTORY...]" >&2
  exit 2
fi
fuzzer=$1 seconds=$2 work=$3
shift 3
for input in "$@"; do
  if [[ ! -d "$input" ]]; then
    echo "run_fuzzer.sh: no input directory $input" >&2
    exit 2
  fi
done
rm -rf "$work/findings"
mkdir -p "$work/corpus" "$work/findings"

dictionary=()
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "$(basename "$fuzzer")" in
  *json* | *safetensors* | *sqlite*) dictionary=(-dict="$here/dictionaries/json.dict") ;;
  *csv*) dictionary=(-dict="$here/dictionaries/csv.dict") ;;
esac

# Mutate up to twice the largest seed: the regression corpus holds inputs of hundreds of
# kilobytes, which would otherwise set libFuzzer's length limit and slow every run down.
largest=$(find "$1" -type f -printf '%s\n' | sort -n | tail -n 1)
max_len=$((2 * ${largest:-0}))
((max_len >= 4096)) || max_len=4096

status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=256 -rss_limit_mb=2048 \
  -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$work/findings/" \
  "${dictionary[@]}" "$work/corpus" "$@" >"$work/last_run.log" 2>&1 || status=$?
# The log without libFuzzer's line per new input: the start, any report, the final statistics.
grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$work/last_run.log" || true
if ((status != 0)); then
  echo "run_fuzzer.sh: $(basename "$fuzzer") FOUND A PROBLEM (exit $status); input(s):" >&2
  ls -1 "$work/findings/"* >&2 || true
  exit 1
fi
echo "run_fuzzer.sh: $(basename "$fuzzer"): nothing found in ${seconds}s;" \
  "corpus $(find "$work/corpus" -type f | wc -l) inputs"
