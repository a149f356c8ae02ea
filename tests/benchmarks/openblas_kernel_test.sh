#!/usr/bin/env bash
# Tests benchmarks/openblas_kernel.sh, which chooses the OpenBLAS kernel for the PyTorch side of
# the throughput benchmark and refuses a run whose kernel does not match the CPU. Fake
# /proc/cpuinfo files and fake reported core names: no Python, torch or network needed.
#
#   bash tests/benchmarks/openblas_kernel_test.sh [path/to/openblas_kernel.sh]
set -euo pipefail

helper="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/benchmarks/openblas_kernel.sh}"
[[ -f "$helper" ]] || { echo "FAIL: $helper does not exist"; echo "0 passed, 1 failed"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset HPT_OPENBLAS_CORETYPE

# Flag lines as Linux prints them (trimmed to what matters plus some neighbours).
cpu() { printf 'processor\t: 0\nvendor_id\t: X\nflags\t\t: %s\nbugs\t\t:\n\n' "$2" >"$work/$1"; }
base="fpu sse sse2 ht syscall nx lm pni pclmulqdq ssse3 cx16 sse4_1 sse4_2 popcnt"
cpu zen4 "$base fma aes xsave avx f16c avx2 bmi2 avx512f avx512dq avx512ifma avx512cd avx512bw \
avx512vl avx512_bf16 avx512vbmi"
cpu skylakex "$base fma aes xsave avx f16c avx2 bmi2 avx512f avx512dq avx512cd avx512bw avx512vl"
cpu knl "$base fma avx f16c avx2 avx512f avx512pf avx512er avx512cd"   # no BW/DQ/VL
cpu haswell "$base fma movbe xsave avx f16c avx2 bmi1 bmi2"
cpu sandybridge "$base xsave avx"
cpu nehalem "$base"
cpu core2 "fpu sse sse2 lm pni ssse3 cx16"
cpu prescott "fpu sse sse2 lm pni"
printf 'processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n' >"$work/arm64"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

run() {  # run ARGS...: sets out, err, status
  status=0
  out="$(bash "$helper" "$@" 2>"$work/stderr")" || status=$?
  err="$(cat "$work/stderr")"
}

expect_core() {  # CPUINFO CORETYPE ACCEPTED
  run coretype "$work/$1"
  if [[ $status == 0 && "$out" == "$2" ]]; then ok; else
    fail "coretype $1: got '$out' (exit $status), want '$2'"; fi
  run accepted "$work/$1"
  if [[ $status == 0 && "$out" == "$3" ]]; then ok; else
    fail "accepted $1: got '$out' (exit $status), want '$3'"; fi
}

expect_accept() {  # CPUINFO CORE
  run check "$2" "$work/$1"
  if [[ $status == 0 && "$out" == *"matches"* ]]; then ok; else
    fail "check $2 on $1 refused (exit $status): $err"; fi
}

expect_refuse() {  # CPUINFO CORE EXPECTED
  run check "$2" "$work/$1"
  if [[ $status == 1 && "$err" == *refused* && "$err" == *"runs the ${2:-unknown} kernel"* &&
    "$err" == *"expected kernel is $3"* && -z "$out" ]]; then
    ok
  else
    fail "check $2 on $1 not refused as expected (exit $status): out '$out' err '$err'"
  fi
}

# The CPU's flags decide the kernel to force and the kernels accepted.
expect_core zen4 SkylakeX "SkylakeX Cooperlake"
expect_core skylakex SkylakeX SkylakeX
expect_core knl Haswell "Haswell Zen"
expect_core haswell Haswell "Haswell Zen"
expect_core sandybridge Sandybridge Sandybridge
expect_core nehalem Nehalem Nehalem
expect_core core2 Core2 Core2
expect_core prescott Prescott Prescott

# The trap of issue 9: an AVX-512 CPU on which OpenBLAS fell back to Prescott is refused.
expect_refuse zen4 Prescott SkylakeX
expect_refuse skylakex Prescott SkylakeX
expect_refuse zen4 Haswell SkylakeX
expect_refuse zen4 Sandybridge SkylakeX
expect_refuse zen4 "" SkylakeX
expect_accept zen4 SkylakeX
expect_accept zen4 Cooperlake        # OpenBLAS's own choice on AVX512-BF16 CPUs
expect_accept zen4 skylakex          # names compare case-insensitively, as in OpenBLAS
expect_refuse skylakex Cooperlake SkylakeX   # no BF16 on this CPU
expect_accept haswell Haswell
expect_accept haswell Zen
expect_refuse haswell Prescott Haswell
expect_refuse haswell SkylakeX Haswell
expect_refuse knl SkylakeX Haswell
expect_accept prescott Prescott

# The override: forced, and then the only kernel accepted.
export HPT_OPENBLAS_CORETYPE=haswell
expect_core zen4 Haswell Haswell
expect_accept zen4 Haswell
expect_refuse zen4 SkylakeX Haswell
HPT_OPENBLAS_CORETYPE=Skylake
run coretype "$work/zen4"
if [[ $status == 2 && "$err" == *"not an OpenBLAS"* ]]; then ok; else
  fail "unknown override accepted: '$out' $err"; fi
unset HPT_OPENBLAS_CORETYPE

# No x86 flags (another architecture) or no file: an error, not a guess.
run coretype "$work/arm64"
if [[ $status == 2 && -z "$out" && "$err" == *HPT_OPENBLAS_CORETYPE* ]]; then ok; else
  fail "arm64: '$out' (exit $status)"; fi
run coretype "$work/missing"
if [[ $status == 2 && -z "$out" ]]; then ok; else fail "missing cpuinfo: '$out' (exit $status)"; fi
run check Prescott "$work/arm64"
if [[ $status == 2 ]]; then ok; else fail "check on arm64: exit $status"; fi

echo "$passed passed, $failed failed"
((failed == 0))
