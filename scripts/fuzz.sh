#!/usr/bin/env bash
# Fuzzes one reader (or all) for longer than CI does, with libFuzzer under ASan and UBSan.
#
#   scripts/fuzz.sh TARGET [SECONDS]   TARGET: one of --list, or "all"; SECONDS per target (600)
#   scripts/fuzz.sh --list             the targets
#
# Builds the asan configuration's fuzz targets (build/asan), writes the seed corpus, then runs
# fuzz/run_fuzzer.sh: the corpus grows in build/asan/fuzz/runs/TARGET/corpus across runs, findings
# go to build/asan/fuzz/runs/TARGET/findings/, and the final statistics (executions, coverage) are
# printed. Exits non-zero if anything was found. See docs/robustness.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
targets=(study_csv study_jsonl config_json dataset_csv safetensors_float safetensors_double
  mlp_trainer_restore sequence_trainer_restore sqlite_event_row)

if (($# == 1)) && [[ "$1" == "--list" ]]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
if (($# < 1 || $# > 2)); then
  echo "usage: scripts/fuzz.sh TARGET [SECONDS]   (TARGET: all or one of: ${targets[*]})" >&2
  exit 2
fi
if [[ "$1" == all ]]; then
  chosen=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $1 "* ]]; then
  chosen=("$1")
else
  echo "scripts/fuzz.sh: unknown target '$1' (known: ${targets[*]})" >&2
  exit 2
fi
seconds="${2:-600}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "scripts/fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi

cmake --preset asan >/dev/null
cmake --build --preset asan --parallel "${HPT_JOBS:-2}" --target hpt_fuzz_seeds \
  "${chosen[@]/#/hpt_fuzz_}"
build=build/asan/fuzz
# Seeds of its own, so that runs on several targets at once do not rewrite each other's.
seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
"$build/hpt_fuzz_seeds" "$seeds" >/dev/null

failures=0
for target in "${chosen[@]}"; do
  echo "==== $target: ${seconds}s"
  fuzz/run_fuzzer.sh "$build/hpt_fuzz_$target" "$seconds" "$build/runs/$target" \
    "$seeds/$target" "fuzz/regression/$target" || failures=$((failures + 1))
done
if ((failures > 0)); then
  echo "scripts/fuzz.sh: $failures target(s) found problems" >&2
  exit 1
fi
