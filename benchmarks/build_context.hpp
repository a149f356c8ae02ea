#pragma once
// Google Benchmark context shared by hpt's benchmarks: which compiler built them and whether
// assertions were on, so that a JSON file says whether its figures mean anything.
#include <benchmark/benchmark.h>

namespace hpt_bench {

inline void add_build_context() {
#if defined(__clang__)
  benchmark::AddCustomContext("compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  benchmark::AddCustomContext("compiler", "g++ " __VERSION__);
#endif
#if defined(NDEBUG)
  benchmark::AddCustomContext("assertions", "off (NDEBUG)");
#else
  benchmark::AddCustomContext("assertions", "on: not an optimised build");
#endif
}

}  // namespace hpt_bench
