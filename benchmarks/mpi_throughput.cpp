// The MPI executor's coordinator throughput (hpt/executors/mpi.hpp): jobs per second rank 0
// sustains with trivial trainables, and the overhead per trial next to the thread pool's in the
// same run. Run it under mpirun; rank 0 reports, the other ranks run trials:
//
//   mpirun --oversubscribe -np 4 build/gcc/benchmarks/hpt_bench_mpi_throughput
//     --benchmark_out=mpi_4.json --benchmark_out_format=json   (one line)
//
// Every rank runs the same benchmarks with fixed iteration counts, so that they call tune() the
// same number of times. The thread-pool benchmarks run on rank 0 alone (2 workers) while the
// other ranks wait for the next MPI study, asleep between probes.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "build_context.hpp"
#include "hpt/executors/mpi.hpp"
#include "hpt/scheduling/fixed_budget.hpp"
#include "hpt/stopping/policy.hpp"
#include "overhead_support.hpp"

namespace {

namespace overhead = hpt_bench::overhead;

int rank = 0;
int ranks = 1;

/// The trivial trainable with save() and restore(): a paused Hyperband trial moves to any rank.
struct MovingQuadratic : overhead::Quadratic {
  using Quadratic::Quadratic;
  void save(std::ostream& out) const { out << step_count; }
  void restore(std::istream& in) { in >> step_count; }
};

template <class T, class Strategy>
void run_study(benchmark::State& state, const Strategy& strategy, bool over_mpi) {
  std::size_t trials = 0;
  std::int64_t steps = 0;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    const hpt::StudyOptions options{.seed = seed++,
                                    .workers = over_mpi ? std::size_t{1} : std::size_t{2}};
    if (over_mpi) {
      const auto study = hpt::mpi::tune<T>(overhead::space(), strategy, hpt::NoStopping{}, options);
      if (study) {
        trials = study->trials().size();
        steps = overhead::total_steps(*study);
      }
    } else if (rank == 0) {
      const hpt::Study study =
          hpt::tune<T>(overhead::space(), strategy, hpt::NoStopping{}, options);
      trials = study.trials().size();
      steps = overhead::total_steps(study);
    }
  }
  overhead::set_counters(state, trials, steps);
  // Jobs: a random-search trial is one job; a Hyperband trial one per rung it reaches.
  state.counters["ranks"] = over_mpi ? ranks : 1;
}

void BM_MpiRandomSearchOneStep(benchmark::State& state) {
  const auto trials = static_cast<std::size_t>(state.range(0));
  run_study<overhead::Quadratic>(state, hpt::RandomSearch{.trials = trials, .max_resource = 1},
                                 true);
  state.counters["jobs_per_second"] = benchmark::Counter(
      static_cast<double>(trials), benchmark::Counter::kIsIterationInvariantRate);
}
void BM_ThreadPoolRandomSearchOneStep(benchmark::State& state) {
  const auto trials = static_cast<std::size_t>(state.range(0));
  run_study<overhead::Quadratic>(state, hpt::RandomSearch{.trials = trials, .max_resource = 1},
                                 false);
  state.counters["jobs_per_second"] = benchmark::Counter(
      static_cast<double>(trials), benchmark::Counter::kIsIterationInvariantRate);
}
void BM_MpiRandomSearch(benchmark::State& state) {
  run_study<overhead::Quadratic>(
      state,
      hpt::RandomSearch{.trials = static_cast<std::size_t>(state.range(0)),
                        .max_resource = overhead::steps_per_trial},
      true);
}
void BM_ThreadPoolRandomSearch(benchmark::State& state) {
  run_study<overhead::Quadratic>(
      state,
      hpt::RandomSearch{.trials = static_cast<std::size_t>(state.range(0)),
                        .max_resource = overhead::steps_per_trial},
      false);
}
void BM_MpiHyperband(benchmark::State& state) {
  run_study<MovingQuadratic>(
      state,
      overhead::RepeatedHyperband{
          overhead::hyperband_27,
          overhead::hyperband_iterations(static_cast<std::size_t>(state.range(0)))},
      true);
}
void BM_ThreadPoolHyperband(benchmark::State& state) {
  run_study<MovingQuadratic>(
      state,
      overhead::RepeatedHyperband{
          overhead::hyperband_27,
          overhead::hyperband_iterations(static_cast<std::size_t>(state.range(0)))},
      false);
}

void sizes(benchmark::internal::Benchmark* benchmark) {
  // Fixed iterations: every rank must make the same tune() calls.
  benchmark->ArgName("trials")
      ->Arg(10000)
      ->Iterations(5)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

BENCHMARK(BM_MpiRandomSearchOneStep)->Apply(sizes);
BENCHMARK(BM_ThreadPoolRandomSearchOneStep)->Apply(sizes);
BENCHMARK(BM_MpiRandomSearch)->Apply(sizes);
BENCHMARK(BM_ThreadPoolRandomSearch)->Apply(sizes);
BENCHMARK(BM_MpiHyperband)->Apply(sizes);
BENCHMARK(BM_ThreadPoolHyperband)->Apply(sizes);

/// The worker ranks' reporter: says nothing.
class Silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  hpt::mpi::Session mpi(argc, argv);
  rank = mpi.rank();
  ranks = mpi.ranks();
  // Only rank 0 writes the output file: the others drop --benchmark_out* (same benchmarks,
  // same fixed iterations, nothing reported).
  std::vector<char*> arguments(argv, argv + argc);
  if (rank != 0)
    std::erase_if(arguments, [](const char* argument) {
      return std::string_view(argument).starts_with("--benchmark_out");
    });
  argc = static_cast<int>(arguments.size());
  arguments.push_back(nullptr);
  argv = arguments.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::AddCustomContext("trainable", "Quadratic: one line of arithmetic per step");
  benchmark::AddCustomContext("mpi_ranks", std::to_string(ranks));
  if (rank == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    Silent silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
  return 0;
}
