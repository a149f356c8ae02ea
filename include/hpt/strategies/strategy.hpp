#pragma once
/// @file strategy.hpp
/// @brief The concepts a search strategy and its run-time scheduler model.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "hpt/config.hpp"
#include "hpt/schedule.hpp"
#include "hpt/search_space.hpp"

namespace hpt {

/// @brief The run-time state of a strategy, driven by the study engine (see schedule.hpp).
template <class S>
concept Scheduler = requires(S& scheduler, const S& view, const Job& job, const Outcome& outcome,
                             std::vector<Pruning>& prunings, std::size_t trial) {
  { scheduler.next() } -> std::same_as<std::optional<Job>>;
  scheduler.report(job, outcome, prunings);
  { view.finished() } -> std::same_as<bool>;
  { scheduler.config(trial) } -> std::same_as<Config>;  // the configuration of a new trial
};

/// @brief A strategy: settings that validate themselves, show their plan, and make a scheduler.
template <class S>
concept SearchStrategy = requires(const S& strategy, const SearchSpace& space, std::uint64_t seed) {
  strategy.validate();
  { strategy.schedule(space) } -> std::same_as<Schedule>;
  { strategy.scheduler(space, seed) } -> Scheduler;
};

/// @brief Configurations drawn at random, trial k from the study seed and k only, so that the
/// same seed gives the same trials whatever order they run in.
///
/// The sampler keeps its own copy of the space (shared between copies of the sampler): a
/// scheduler made from a temporary space, `Asha{}.scheduler(SearchSpace{...}, seed)`, must not
/// outlive what it samples from. The copy is made once per scheduler, never per trial.
class RandomSampler {
 public:
  RandomSampler(const SearchSpace& space, std::uint64_t seed)
      : space_(std::make_shared<const SearchSpace>(space)), seed_(seed) {}
  [[nodiscard]] Config config(std::size_t trial) const { return space_->sample(seed_, trial); }

 private:
  std::shared_ptr<const SearchSpace> space_;
  std::uint64_t seed_;
};

}  // namespace hpt
