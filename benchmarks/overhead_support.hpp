#pragma once
// What the overhead benchmarks share (engine_overhead.cpp, storage_overhead.cpp): the trivial
// trainable, its space, Hyperband repeated to reach 1e3 .. 1e5 trials in one study, and the
// per-trial counters.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hpt/engine/tune.hpp"
#include "hpt/scheduling/detail/halving_bracket.hpp"
#include "hpt/scheduling/hyperband.hpp"
#include "hpt/space/hyperparameter.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt_bench::overhead {

inline constexpr std::int64_t steps_per_trial = 27;

/// The trivial trainable: a bowl in log10(learning_rate) plus a 1/t "learning curve", so that
/// halving and median stopping have something to rank and stop.
struct Quadratic {
  double distance;
  int step_count = 0;

  explicit Quadratic(const hpt::Config& config)
      : distance(std::log10(config.get<double>("learning_rate")) + 3) {}

  hpt::Metrics step() {
    ++step_count;
    return {.objective = distance * distance + 1.0 / step_count};
  }
};

inline const hpt::SearchSpace& space() {
  static const hpt::SearchSpace instance{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::ordinal("minibatch_size", {1, 2, 4, 8, 16, 32, 64, 128, 256})};
  return instance;
}

/// Hyperband's outer loop, as in the paper's infinite-horizon variant: `iterations` repetitions
/// of all Hyperband brackets (here R = 27, r = 1, eta = 3: 27 + 12 + 6 + 4 = 49 trials each), in
/// one study. hpt::Hyperband runs one iteration; this reuses its schedule and its bracket
/// scheduler so that one study reaches 1e3 .. 1e5 trials.
struct RepeatedHyperband {
  hpt::Hyperband hyperband;
  std::size_t iterations = 1;

  void validate() const { hyperband.validate(); }
  [[nodiscard]] hpt::Schedule schedule(const hpt::SearchSpace& search_space) const {
    const hpt::Schedule once = hyperband.schedule(search_space);
    hpt::Schedule repeated{"RepeatedHyperband", {}};
    for (std::size_t iteration = 0; iteration < iterations; ++iteration)
      repeated.brackets.insert(repeated.brackets.end(), once.brackets.begin(), once.brackets.end());
    return repeated;
  }
  [[nodiscard]] hpt::detail::BracketScheduler<hpt::RandomSampler> make_scheduler(
      const hpt::SearchSpace& search_space, std::uint64_t seed) const {
    return {hpt::RandomSampler(search_space, seed), schedule(search_space)};
  }
};

inline const hpt::Hyperband hyperband_27{
    .min_resource = 1, .max_resource = 27, .reduction_factor = 3};

/// Hyperband iterations that give at least `trials` trials.
inline std::size_t hyperband_iterations(std::size_t trials) {
  const std::size_t per_iteration = *hyperband_27.schedule().trials();
  return (trials + per_iteration - 1) / per_iteration;
}

inline std::int64_t total_steps(const hpt::Study& study) {
  std::int64_t steps = 0;
  for (const auto& trial : study.trials()) steps += trial.resource;
  return steps;
}

inline void set_counters(benchmark::State& state, std::size_t trials, std::int64_t steps) {
  using benchmark::Counter;
  const auto per_item = Counter::kIsIterationInvariantRate | Counter::kInvert;
  state.counters["trials"] = static_cast<double>(trials);
  state.counters["steps"] = static_cast<double>(steps);
  state.counters["seconds_per_trial"] = Counter(static_cast<double>(trials), per_item);
  state.counters["seconds_per_step"] = Counter(static_cast<double>(steps), per_item);
}

}  // namespace hpt_bench::overhead
