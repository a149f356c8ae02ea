#!/usr/bin/env bash
# hpt's full test: installs the dependencies (scripts/install-deps.sh), then for each configuration
# configures, builds everything (library checks, tests, examples, benchmarks) and runs ctest.
#
#   scripts/test.sh              gcc, clang, asan and tsan (what CI runs)
#   scripts/test.sh gcc [...]    only the named configurations
#
# Configurations are the CMake presets of CMakePresets.json (build dirs build/<name>):
#   gcc     g++, Release, -Werror
#   clang   clang++, Release, -Werror; builds what asan does not (the header checks, the benchmarks,
#           the hpt tool for the install) and runs the tests that depend on the compiler (the
#           packaging tests, the compile-fail tests). The tests, examples and fuzz targets are
#           compiled by clang -Werror in asan already, and run there under ASan and UBSan: building
#           them again in Release took 23 of the ~100 minutes a full run took here, for no signal
#   asan    clang++, Debug at -O1, -fsanitize=address,undefined -fno-sanitize-recover=all (no
#           header checks or benchmarks: gcc and clang compile those), and
#           each libFuzzer target (fuzz/) run for HPT_FUZZ_SECONDS (30 s, docs/robustness.md)
#   tsan    clang++, Debug at -O1, -fsanitize=thread; builds and runs only what runs threads
#           (hpt_engine_tests and the parallel example): the rest is single-threaded
#   native  g++, Release, -march=native (not in the default set)
# HPT_JOBS sets the build and ctest parallelism (default 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

known=(gcc clang asan tsan native)
default=(gcc clang asan tsan)
# Configurations that build and test a part only: targets, and a ctest regex over test names.
declare -A only_targets=([tsan]="hpt_engine_tests hpt_parallel"
  [clang]="hpt_header_check hpt_benchmarks hpt_cli")
declare -A only_tests=([tsan]="^(hpt_engine_tests|hpt_example_parallel)$"
  [clang]="^(hpt_install|hpt_consumer_.*|hpt_compile_fail_.*|hpt_benchmarks_openblas_kernel)$")
jobs="${HPT_JOBS:-2}"

if (($# > 0)); then
  configs=("$@")
else
  configs=("${default[@]}")
fi
for config in "${configs[@]}"; do
  if [[ " ${known[*]} " != *" $config "* ]]; then
    echo "test.sh: unknown configuration '$config' (known: ${known[*]})" >&2
    exit 2
  fi
done

banner() { printf '\n==== %s ====\n' "$*"; }

start_all=$SECONDS
banner "dependencies"
"$root/scripts/install-deps.sh"
echo "$(cmake --version | head -n1); $(g++ --version | head -n1); $(clang++ --version | head -n1)"
echo "configurations: ${configs[*]}; parallelism: $jobs; $(nproc) cores"

declare -A outcome duration
failures=0

# stage CONFIG NAME COMMAND...: runs one stage, records its time; returns the command's status.
stage() {
  local config=$1 name=$2
  shift 2
  banner "$config: $name ($*)"
  local start=$SECONDS status=0
  "$@" || status=$?
  duration[$config/$name]=$((SECONDS - start))
  if ((status != 0)); then
    echo "test.sh: $config: $name FAILED (exit $status)" >&2
  fi
  return "$status"
}

for config in "${configs[@]}"; do
  if stage "$config" configure cmake --preset "$config" &&
    stage "$config" build cmake --build --preset "$config" --parallel "$jobs" \
      ${only_targets[$config]:+--target ${only_targets[$config]}} &&
    stage "$config" test ctest --preset "$config" --parallel "$jobs" --output-on-failure \
      ${only_tests[$config]:+--tests-regex "${only_tests[$config]}"}; then
    outcome[$config]=passed
  else
    outcome[$config]=FAILED
    failures=$((failures + 1))
  fi
done

banner "summary"
printf '%-8s %-8s %10s %8s %8s\n' config result configure build test
for config in "${configs[@]}"; do
  printf '%-8s %-8s %9ss %7ss %7ss\n' "$config" "${outcome[$config]}" \
    "${duration[$config/configure]:--}" "${duration[$config/build]:--}" \
    "${duration[$config/test]:--}"
done
echo "total: $((SECONDS - start_all))s"
if ((failures > 0)); then
  echo "test.sh: $failures of ${#configs[@]} configuration(s) FAILED" >&2
  exit 1
fi
echo "test.sh: all ${#configs[@]} configuration(s) passed"
