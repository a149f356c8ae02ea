/// @file engine_overhead.cpp
/// @brief What hpt's engine costs per trial and per reported step, with a trainable whose step is
/// one line of arithmetic, for each schedule at 1e3, 1e4 and 1e5 trials.
///
/// One benchmark iteration is one whole study: hpt::tune() from the call to the returned Study's
/// destruction (sampling, construction of trainables, scheduling, stopping policies, the
/// recorded learning curves). Counters:
///   trials, steps        - per study (the same in every iteration: the seed is fixed);
///   seconds_per_trial    - CPU time / trials (shown as e.g. "3.2us");
///   seconds_per_step     - CPU time / reported steps.
/// BM_TrainableAlone is the trivial trainable by itself (made from a configuration and stepped
/// 27 times per trial, no engine): subtract it to read the engine's overhead net.
///
/// benchmarks/optuna_overhead.py runs the same schedules with Optuna and
/// benchmarks/compare_overhead.py puts both side by side (see docs/performance.md).

#include <benchmark/benchmark.h>

#include "build_context.hpp"
#include "overhead_support.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "hpt/engine/tune.hpp"
#include "hpt/scheduling/asha.hpp"
#include "hpt/scheduling/detail/halving_bracket.hpp"
#include "hpt/scheduling/fixed_budget.hpp"
#include "hpt/scheduling/hyperband.hpp"
#include "hpt/scheduling/successive_halving.hpp"
#include "hpt/space/hyperparameter.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/stopping/median_stopping.hpp"

namespace {

using namespace hpt_bench::overhead;

/// Runs one study per iteration and sets the counters from it.
template <class Strategy, class Policy>
void run(benchmark::State& state, const Strategy& strategy, const Policy& policy) {
  std::size_t trials = 0;
  std::int64_t steps = 0;
  for (auto _ : state) {
    const hpt::Study study = hpt::tune<Quadratic>(space(), strategy, policy, {.seed = 42});
    trials = study.trials().size();
    steps = total_steps(study);
    benchmark::DoNotOptimize(study.trials().data());
  }
  set_counters(state, trials, steps);
}

std::size_t trials_argument(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

void BM_TrainableAlone(benchmark::State& state) {
  const std::size_t trials = trials_argument(state);
  const hpt::Config config = space().sample(42, 0);
  for (auto _ : state) {
    for (std::size_t trial = 0; trial < trials; ++trial) {
      benchmark::DoNotOptimize(config);  // made anew from the configuration each trial
      Quadratic trainable(config);
      for (std::int64_t step = 0; step < steps_per_trial; ++step) {
        const hpt::Metrics metrics = trainable.step();
        benchmark::DoNotOptimize(metrics.objective);
      }
    }
  }
  set_counters(state, trials, static_cast<std::int64_t>(trials) * steps_per_trial);
}

void BM_RandomSearch(benchmark::State& state) {
  run(state, hpt::RandomSearch{.trials = trials_argument(state), .max_resource = steps_per_trial},
      hpt::NoStopping{});
}

void BM_SuccessiveHalving(benchmark::State& state) {
  run(state,
      hpt::SuccessiveHalving{.configurations = trials_argument(state),
                             .min_resource = 1,
                             .max_resource = steps_per_trial,
                             .reduction_factor = 3},
      hpt::NoStopping{});
}

void BM_Hyperband(benchmark::State& state) {
  run(state,
      RepeatedHyperband{.hyperband = hyperband_27,
                        .iterations = hyperband_iterations(trials_argument(state))},
      hpt::NoStopping{});
}

/// The same Hyperband iterations through the public API: one hpt::Hyperband study each.
void BM_HyperbandSeparateStudies(benchmark::State& state) {
  const std::size_t iterations = hyperband_iterations(trials_argument(state));
  std::size_t trials = 0;
  std::int64_t steps = 0;
  for (auto _ : state) {
    trials = 0;
    steps = 0;
    for (std::size_t iteration = 0; iteration < iterations; ++iteration) {
      const hpt::Study study =
          hpt::tune<Quadratic>(space(), hyperband_27, hpt::NoStopping{}, {.seed = iteration});
      trials += study.trials().size();
      steps += total_steps(study);
      benchmark::DoNotOptimize(study.trials().data());
    }
  }
  set_counters(state, trials, steps);
}

void BM_Asha(benchmark::State& state) {
  run(state,
      hpt::Asha{.trials = trials_argument(state),
                .min_resource = 1,
                .max_resource = steps_per_trial,
                .reduction_factor = 3},
      hpt::NoStopping{});
}

void BM_MedianStopping(benchmark::State& state) {
  // Defaults as Optuna's MedianPruner: 5 startup trials, no warm-up, a check every step.
  run(state, hpt::RandomSearch{.trials = trials_argument(state), .max_resource = steps_per_trial},
      hpt::MedianStopping{});
}

void trial_counts(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("trials")->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_TrainableAlone)->Apply(trial_counts);
BENCHMARK(BM_RandomSearch)->Apply(trial_counts);
BENCHMARK(BM_SuccessiveHalving)->Apply(trial_counts);
BENCHMARK(BM_Hyperband)->Apply(trial_counts);
BENCHMARK(BM_HyperbandSeparateStudies)->Apply(trial_counts);
BENCHMARK(BM_Asha)->Apply(trial_counts);
BENCHMARK(BM_MedianStopping)->Apply(trial_counts);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::AddCustomContext("trainable", "Quadratic: one line of arithmetic per step");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
