#!/usr/bin/env bash
# Which OpenBLAS kernel the PyTorch side of the benchmarks must run on this CPU, and whether the
# kernel that actually ran is that one (see docs/performance.md, "PyTorch's OpenBLAS kernel"):
#
#   benchmarks/openblas_kernel.sh coretype [CPUINFO]       the name to set as OPENBLAS_CORETYPE
#   benchmarks/openblas_kernel.sh accepted [CPUINFO]       the kernels that match this CPU
#   benchmarks/openblas_kernel.sh check CORE [CPUINFO]     exit 0 if CORE (what OpenBLAS's
#                                                          openblas_get_corename() returned in the
#                                                          benchmark process) matches, else 1
#
# CPUINFO defaults to /proc/cpuinfo (tests pass fake ones). HPT_OPENBLAS_CORETYPE, if set, is the
# kernel to use instead of the one derived from the CPU's flags, and then the only one accepted.
#
# Why: OpenBLAS 0.3.21 (Debian 12) picks its kernel from the CPU model; on a CPU model it does not
# know it may fall back to an old kernel (Prescott: SSE3, no FMA), which runs torch.mm 3-6x
# slower, and every hpt / PyTorch ratio then flatters hpt. So the kernel is derived from the
# instruction sets the CPU has, forced with OPENBLAS_CORETYPE, and checked after loading.
#
# Names are those of OpenBLAS 0.3.21's x86_64 DYNAMIC_ARCH build (driver/others/dynamic.c).
# Kernels with the same single-precision GEMM code are accepted as equal: Cooperlake is SkylakeX
# plus bfloat16 kernels (used by OpenBLAS's own detection on AVX512-BF16 CPUs such as AMD Zen 4),
# Zen uses Haswell's AVX2 kernels (OpenBLAS's choice on AMD Zen 1-3). SkylakeX rather than
# Cooperlake is what gets forced: 0.3.21's OPENBLAS_CORETYPE lookup stops before Cooperlake, so
# that name falls through to OpenBLAS's own detection, the very thing being guarded against.
set -euo pipefail

known_cores=(Katmai Coppermine Northwood Prescott Banias Atom Core2 Penryn Dunnington Nehalem
  Athlon Opteron Opteron_SSE3 Barcelona Nano Sandybridge Bobcat Bulldozer Piledriver Haswell
  Steamroller Excavator Zen SkylakeX Cooperlake)

die() {
  echo "openblas_kernel.sh: $*" >&2
  exit 2
}

# The instruction-set tier of the CPU: prints "CORETYPE|ACCEPTED...|DESCRIPTION".
cpu_tier() {
  local cpuinfo="$1" line
  [[ -r "$cpuinfo" ]] || die "cannot read $cpuinfo"
  line="$(grep -m1 '^flags[[:space:]]*:' "$cpuinfo" || true)"
  [[ -n "$line" ]] ||
    die "no 'flags' line in $cpuinfo (not an x86_64 CPU?); set HPT_OPENBLAS_CORETYPE"
  local -A has=()
  local flag
  for flag in ${line#*:}; do has[$flag]=1; done
  all() {
    local f
    for f; do [[ -n "${has[$f]:-}" ]] || return 1; done
  }
  # OpenBLAS's SkylakeX kernels use AVX-512 F, BW, DQ and VL; Linux lists a flag only when the
  # kernel also saves the registers, which is OpenBLAS's other condition (xgetbv).
  if all avx512f avx512bw avx512dq avx512vl; then
    if all avx512_bf16; then
      echo "SkylakeX|SkylakeX Cooperlake|AVX-512 and BF16"
    else
      echo "SkylakeX|SkylakeX|AVX-512"
    fi
  elif all avx2 fma; then
    echo "Haswell|Haswell Zen|AVX2 and FMA"
  elif all avx; then
    echo "Sandybridge|Sandybridge|AVX"
  elif all sse4_2; then
    echo "Nehalem|Nehalem|SSE4.2"
  elif all ssse3; then
    echo "Core2|Core2|SSSE3"
  elif all pni; then
    echo "Prescott|Prescott|SSE3"
  else
    die "no OpenBLAS x86_64 kernel known for the flags in $cpuinfo; set HPT_OPENBLAS_CORETYPE"
  fi
}

# The canonical spelling of a known core name (OpenBLAS compares names case-insensitively).
canonical() {
  local name
  for name in "${known_cores[@]}"; do
    if [[ "${name,,}" == "${1,,}" ]]; then
      echo "$name"
      return 0
    fi
  done
  return 1
}

# Sets coretype, accepted (array) and reason for CPUINFO, honouring HPT_OPENBLAS_CORETYPE.
decide() {
  if [[ -n "${HPT_OPENBLAS_CORETYPE:-}" ]]; then
    coretype="$(canonical "$HPT_OPENBLAS_CORETYPE")" ||
      die "HPT_OPENBLAS_CORETYPE=$HPT_OPENBLAS_CORETYPE is not an OpenBLAS 0.3.21 x86_64 kernel" \
        "(one of: ${known_cores[*]})"
    accepted=("$coretype")
    reason="set by HPT_OPENBLAS_CORETYPE"
    return
  fi
  local tier
  tier="$(cpu_tier "$1")"
  coretype="${tier%%|*}"
  tier="${tier#*|}"
  read -r -a accepted <<<"${tier%%|*}"
  reason="this CPU has ${tier#*|}"
}

command="${1:-}"
case "$command" in
  coretype | accepted)
    (($# <= 2)) || die "usage: $0 $command [CPUINFO]"
    decide "${2:-/proc/cpuinfo}"
    if [[ $command == coretype ]]; then echo "$coretype"; else echo "${accepted[*]}"; fi
    ;;
  check)
    (($# >= 2 && $# <= 3)) || die "usage: $0 check CORE [CPUINFO]"
    actual="$2"
    decide "${3:-/proc/cpuinfo}"
    for name in "${accepted[@]}"; do
      if [[ "${name,,}" == "${actual,,}" ]]; then
        echo "OpenBLAS kernel $actual matches ($reason; accepted: ${accepted[*]})"
        exit 0
      fi
    done
    {
      echo "refused: PyTorch's OpenBLAS runs the ${actual:-unknown} kernel, but the expected" \
        "kernel is $coretype ($reason; accepted: ${accepted[*]})."
      echo "  A comparison against a mismatched kernel flatters hpt. Run PyTorch with" \
        "OPENBLAS_CORETYPE=$coretype (benchmarks/run_throughput.sh does), or set" \
        "HPT_OPENBLAS_CORETYPE to the kernel you want."
    } >&2
    exit 1
    ;;
  *)
    die "usage: $0 coretype|accepted [CPUINFO] | check CORE [CPUINFO]"
    ;;
esac
