#!/usr/bin/env bash
# Model throughput, hpt next to PyTorch, in one command (see docs/performance.md):
#
#   benchmarks/run_throughput.sh [PRESET] [PLOT]
#
# PRESET  CMake configure preset to build with: gcc (default; portable flags, Eigen uses SSE2
#         only) or native (-march=native); the build directory is build/PRESET.
# PLOT    PNG for the 1-thread figure (default build/PRESET/throughput/throughput.png; the
#         2-thread figure gets _2threads before the extension). docs/img/throughput.png is
#         `benchmarks/run_throughput.sh native docs/img/throughput.png`.
#
# Builds hpt_bench_model_throughput, then for 1 and 2 threads and each model (and the large GEMM)
# runs hpt's benchmark and PyTorch's (benchmarks/pytorch_throughput.py) one after the other, and
# finally benchmarks/compare_throughput.py, which prints the Markdown tables (also written to
# build/PRESET/throughput/tables.md) and draws the plots. Raw JSON in build/PRESET/throughput/.
#
# PyTorch: Debian's python3-torch calls the BLAS behind libblas.so.3, which is the netlib
# reference implementation unless an optimised one is installed (about 2.5 GFLOP/s here, 40 times
# below OpenBLAS). So that the comparison is with PyTorch as it is normally deployed (MKL or
# OpenBLAS), this script unpacks Debian's libopenblas0-openmp into build/openblas-openmp (apt-get
# download, no installation: the system's BLAS is not changed) and puts it first on
# LD_LIBRARY_PATH for PyTorch's runs only. A short run on the system's own BLAS (1 thread,
# minibatch 1, 16, 256) is added as the last column; HPT_THROUGHPUT_REFERENCE=0 skips it.
#
# OpenBLAS's kernel: OpenBLAS 0.3.21 picks it from the CPU model and, on a model it does not know,
# can fall back to an old one (Prescott: torch.mm at 26 instead of 151 GFLOP/s on an AVX-512
# machine), which would make every ratio flatter hpt. So benchmarks/openblas_kernel.sh derives the
# kernel from the CPU's flags (SkylakeX for AVX-512, Haswell for AVX2 and FMA, ...; override with
# HPT_OPENBLAS_CORETYPE), the PyTorch commands alone run with OPENBLAS_CORETYPE set to it and
# OPENBLAS_L2_SIZE unset, and every PyTorch process checks the kernel it actually loaded
# (openblas_get_corename) and refuses to measure on a mismatch; so does a check before the build.
# The kernel is in the tables, run_info.txt and the JSON, and compare_throughput.py refuses
# PyTorch results whose kernel was not checked or does not match.
#
# The machine may be shared and its speed varies by tens of percent from minute to minute, so the
# whole measurement is made in HPT_THROUGHPUT_ROUNDS rounds (default 2), each measuring every
# model with hpt and then PyTorch, for 1 then 2 threads; each run has HPT_THROUGHPUT_REPETITIONS
# timed repetitions (default 3) of at least HPT_THROUGHPUT_MIN_TIME seconds (default 0.1).
# compare_throughput.py reports the best repetition of all rounds for each side (see there).
# The whole run takes 8-10 minutes on 2 idle cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${1:-gcc}"
plot="${2:-$root/build/$preset/throughput/throughput.png}"
min_time="${HPT_THROUGHPUT_MIN_TIME:-0.1}"
repetitions="${HPT_THROUGHPUT_REPETITIONS:-3}"
rounds="${HPT_THROUGHPUT_ROUNDS:-2}"
python=/usr/bin/python3
build="$root/build/$preset"
out="$build/throughput"
binary="$build/benchmarks/hpt_bench_model_throughput"

cd "$root"

# PyTorch's side needs Debian's python3-torch, and the plots matplotlib.
installed() { [[ "$(dpkg -s "$1" 2>/dev/null)" == *"Status: install ok installed"* ]]; }
missing=()
for package in python3-torch python3-matplotlib; do
  installed "$package" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  if ((EUID != 0)); then
    echo "run_throughput.sh: install ${missing[*]} (apt-get, as root) first" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" </dev/null
fi

# The OpenBLAS kernel for PyTorch's runs (fails here on a bad HPT_OPENBLAS_CORETYPE).
openblas_core="$(bash benchmarks/openblas_kernel.sh coretype)"

# OpenBLAS for PyTorch, unpacked once and shared by every preset.
openblas="$root/build/openblas-openmp"
openblas_lib="$openblas/usr/lib/x86_64-linux-gnu/openblas-openmp"
if [[ ! -e "$openblas_lib/libblas.so.3" ]]; then
  download="$(mktemp -d)"
  if (cd "$download" && apt-get download libopenblas0-openmp >/dev/null 2>&1); then
    dpkg -x "$download"/libopenblas0-openmp_*.deb "$openblas"
  fi
  rm -rf "$download"
fi
if [[ ! -e "$openblas_lib/libblas.so.3" ]]; then
  # The reference BLAS is 40 times slower than OpenBLAS: no comparison rather than a flattering one.
  echo "run_throughput.sh: could not download libopenblas0-openmp; refusing to compare against" \
    "PyTorch on the system's reference BLAS" >&2
  exit 1
fi
# Every PyTorch command runs under this: OpenBLAS first, its kernel forced, and OPENBLAS_L2_SIZE
# unset (OpenBLAS 0.3.28 and later size their blocks from it; 0.3.21 ignores it). hpt's runs do
# not get it.
pytorch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$openblas_core"
  LD_LIBRARY_PATH="$openblas_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
# Before anything is built or measured: the kernel OpenBLAS actually loads must match the CPU.
openblas_check="$("${pytorch_env[@]}" "$python" benchmarks/pytorch_throughput.py \
  --check-openblas-only 2>&1)" || {
  echo "$openblas_check" >&2
  exit 1
}
echo "$openblas_check" >&2

cmake --preset "$preset" >/dev/null
cmake --build "$build" --target hpt_bench_model_throughput -j2
mkdir -p "$out"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD) ($(git status --porcelain --untracked-files=no -- include | wc -l) modified files under include/)"
  echo "preset: $preset"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  echo "PyTorch's OpenBLAS: OPENBLAS_CORETYPE=$openblas_core, OPENBLAS_L2_SIZE unset;" \
    "$openblas_check"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/run_info.txt"

# For each thread count, each model is measured by hpt and then by PyTorch, one process each, so
# that both sides of a table row are measured within a minute or two of each other.
# The machine may be shared: before each measurement, wait (at most HPT_THROUGHPUT_IDLE_WAIT
# seconds, default 120) until the cores were at least 90 % idle over 2 seconds, and log what was
# found.
idle_percent() {
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 2
  read -r -a b < <(grep '^cpu ' /proc/stat)
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $(((b[4] - a[4] + b[5] - a[5]) * 100 / (total > 0 ? total : 1)))
}
wait_for_idle() {
  local waited=0 idle
  idle=$(idle_percent)
  while ((idle < 90 && waited < ${HPT_THROUGHPUT_IDLE_WAIT:-120})); do
    sleep 3
    waited=$((waited + 5))
    idle=$(idle_percent)
  done
  echo "$1: cores ${idle} % idle before it (waited ${waited} s)" | tee -a "$out/run_info.txt" >&2
}

hpt_json=()
pytorch_json=()
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    for model in gemm mlp lstm gru; do
      wait_for_idle "round $round: hpt $model, $threads thread(s)"
      json="$out/hpt_${threads}threads_${model}_round$round.json"
      HPT_BENCH_THREADS=$threads OMP_NUM_THREADS=$threads "$binary" \
        --benchmark_filter="^${model}[_/]" \
        --benchmark_min_time="$min_time" --benchmark_min_warmup_time=0.05 \
        --benchmark_repetitions="$repetitions" --benchmark_display_aggregates_only=true \
        --benchmark_out="$json" --benchmark_out_format=json
      hpt_json+=("$json")

      wait_for_idle "round $round: PyTorch $model, $threads thread(s)"
      json="$out/pytorch_${threads}threads_${model}_round$round.json"
      if [[ $model == gemm ]]; then
        selection=(--models)
      else
        selection=(--models "$model" --gemm)
      fi
      "${pytorch_env[@]}" OMP_NUM_THREADS=$threads \
        "$python" benchmarks/pytorch_throughput.py --threads "$threads" "${selection[@]}" \
        --min-time "$min_time" --repetitions "$repetitions" \
        --label "OpenBLAS ($openblas_core forced) via LD_LIBRARY_PATH" --output "$json"
      pytorch_json+=("$json")
    done
  done
done

reference=()
if [[ "${HPT_THROUGHPUT_REFERENCE:-1}" != 0 ]]; then
  wait_for_idle "PyTorch on the system BLAS, 1 thread"
  # The system's BLAS on purpose (not checked); pinned too in case it is an OpenBLAS.
  env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$openblas_core" OMP_NUM_THREADS=1 \
    "$python" benchmarks/pytorch_throughput.py --threads 1 --batches 1 16 256 --openblas-check off \
    --min-time "$min_time" --repetitions 1 --label "system libblas.so.3" \
    --output "$out/pytorch_system_blas_1threads.json"
  reference=(--reference-json "$out/pytorch_system_blas_1threads.json")
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/run_info.txt"

"$python" benchmarks/compare_throughput.py --hpt-json "${hpt_json[@]}" \
  --pytorch-json "${pytorch_json[@]}" "${reference[@]}" --plot "$plot" \
  --markdown "$out/tables.md"
cat "$out/run_info.txt"
