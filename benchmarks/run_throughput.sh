#!/usr/bin/env bash
# Model throughput, hpt next to PyTorch, in one command (see docs/performance.md):
#
#   benchmarks/run_throughput.sh [PRESET] [PLOT]
#
# PRESET  CMake configure preset to build with: gcc (default; portable flags, Eigen uses SSE2
#         only) or native (-march=native); the build directory is build/PRESET.
# PLOT    PNG for the 1-thread figure (default docs/img/throughput.png; the 2-thread figure gets
#         _2threads before the extension).
#
# Builds hpt_bench_model_throughput, then for 1 and 2 threads runs hpt's benchmark and PyTorch's
# (benchmarks/pytorch_throughput.py) one after the other, and finally
# benchmarks/compare_throughput.py, which prints the Markdown tables (also written to
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
# Environment: HPT_THROUGHPUT_MIN_TIME (seconds per timed run, default 0.2) and
# HPT_THROUGHPUT_REPETITIONS (default 3); the whole run takes 6-8 minutes on 2 idle cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${1:-gcc}"
plot="${2:-$root/docs/img/throughput.png}"
min_time="${HPT_THROUGHPUT_MIN_TIME:-0.2}"
repetitions="${HPT_THROUGHPUT_REPETITIONS:-3}"
python=/usr/bin/python3
build="$root/build/$preset"
out="$build/throughput"
binary="$build/benchmarks/hpt_bench_model_throughput"

cd "$root"
cmake --preset "$preset" >/dev/null
cmake --build "$build" --target hpt_bench_model_throughput -j2
mkdir -p "$out"

# OpenBLAS for PyTorch, unpacked once and shared by every preset.
openblas="$root/build/openblas-openmp"
openblas_lib="$openblas/usr/lib/x86_64-linux-gnu/openblas-openmp"
if [[ ! -e "$openblas_lib/libblas.so.3" ]]; then
  download="$(mktemp -d)"
  if (cd "$download" && apt-get download libopenblas0-openmp >/dev/null 2>&1); then
    dpkg -x "$download"/libopenblas0-openmp_*.deb "$openblas"
  else
    echo "warning: could not download libopenblas0-openmp; PyTorch runs on the system BLAS" >&2
  fi
  rm -rf "$download"
fi
pytorch_library_path="${LD_LIBRARY_PATH:-}"
[[ -e "$openblas_lib/libblas.so.3" ]] && pytorch_library_path="$openblas_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD) ($(git status --porcelain --untracked-files=no -- include | wc -l) modified files under include/)"
  echo "preset: $preset"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/run_info.txt"

hpt_json=()
pytorch_json=()
for threads in 1 2; do
  echo "== hpt, $threads thread(s)" >&2
  HPT_BENCH_THREADS=$threads OMP_NUM_THREADS=$threads "$binary" \
    --benchmark_min_time="$min_time" --benchmark_min_warmup_time=0.05 \
    --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/hpt_${threads}threads.json" --benchmark_out_format=json
  hpt_json+=("$out/hpt_${threads}threads.json")

  echo "== PyTorch, $threads thread(s)" >&2
  LD_LIBRARY_PATH="$pytorch_library_path" OMP_NUM_THREADS=$threads \
    "$python" benchmarks/pytorch_throughput.py --threads "$threads" --min-time "$min_time" \
    --repetitions "$repetitions" --label "OpenBLAS via LD_LIBRARY_PATH" \
    --output "$out/pytorch_${threads}threads.json"
  pytorch_json+=("$out/pytorch_${threads}threads.json")
done

reference=()
if [[ "${HPT_THROUGHPUT_REFERENCE:-1}" != 0 ]]; then
  echo "== PyTorch on the system BLAS, 1 thread" >&2
  OMP_NUM_THREADS=1 "$python" benchmarks/pytorch_throughput.py --threads 1 --batches 1 16 256 \
    --min-time "$min_time" --repetitions 1 --label "system libblas.so.3" \
    --output "$out/pytorch_system_blas_1threads.json"
  reference=(--reference-json "$out/pytorch_system_blas_1threads.json")
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/run_info.txt"

"$python" benchmarks/compare_throughput.py --hpt-json "${hpt_json[@]}" \
  --pytorch-json "${pytorch_json[@]}" "${reference[@]}" --plot "$plot" \
  --markdown "$out/tables.md"
cat "$out/run_info.txt"
