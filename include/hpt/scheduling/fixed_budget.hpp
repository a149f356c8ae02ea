#pragma once
/// @file fixed_budget.hpp
/// @brief GridSearch and RandomSearch: every configuration runs to the same budget.

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/random.hpp"
#include "hpt/sampling/grid_sampler.hpp"
#include "hpt/sampling/random_sampler.hpp"
#include "hpt/sampling/sampler.hpp"
#include "hpt/scheduling/detail/integer_math.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/scheduling/schedule.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {

/// @brief Runs trials 0 .. count-1 one after another, each to the full budget.
template <class Sampler>
class FixedBudgetScheduler {
 public:
  FixedBudgetScheduler(Sampler sampler, std::size_t count, std::int64_t resource)
      : sampler_(std::move(sampler)), count_(count), resource_(resource) {}

  std::optional<Job> next() {
    if (issued_ == count_) return std::nullopt;
    return Job{issued_++, resource_, 0, 0, true};
  }
  void report(const Job&, const Outcome&, std::vector<Pruning>&) { ++reported_; }
  [[nodiscard]] bool finished() const { return reported_ == count_; }
  /// @brief Every trial runs its whole budget: none is ever left paused.
  [[nodiscard]] std::vector<Pruning> unpromoted() const { return {}; }
  [[nodiscard]] Config config(std::size_t trial) { return sampler_.ask(trial); }
  /// @brief Passes a job's result on to the sampler (a learning sampler's input).
  void tell(const SampleFeedback& feedback) { tell_sampler(sampler_, feedback); }

 private:
  Sampler sampler_;
  std::size_t count_;
  std::int64_t resource_;
  std::size_t issued_ = 0;
  std::size_t reported_ = 0;
};

namespace detail {

/// @brief count * resource steps, or a refusal naming the setting: Schedule::total_resource()
/// counts in int64 and must not wrap.
inline void check_fixed_total(const std::string& strategy, const std::string& field,
                              const std::string& value, std::uint64_t count,
                              std::int64_t resource) {
  const auto most = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (count > most / static_cast<std::uint64_t>(resource))
    invalid_setting(strategy, field, value,
                    "gives " + std::to_string(count) + " trials x " + std::to_string(resource) +
                        " steps, more than the " + std::to_string(most) +
                        " steps in all that a schedule can count");
}

}  // namespace detail

/// @brief Grid search: every configuration of the grid, each to `max_resource` steps.
struct GridSearch {
  std::int64_t max_resource = 1;  ///< Steps per trial.
  bool shuffle = false;           ///< Run the grid in a seeded random order.

  void validate() const {
    if (max_resource < 1)
      detail::invalid_setting("GridSearch", "max_resource", std::to_string(max_resource),
                              "must be at least 1");
  }
  [[nodiscard]] Schedule schedule(const SearchSpace& space) const {
    validate();
    const std::uint64_t size = space.grid_size();
    check_total(size);
    return {"GridSearch", {{0, {{static_cast<std::size_t>(size), max_resource}}}}};
  }
  [[nodiscard]] FixedBudgetScheduler<GridSampler> make_scheduler(const SearchSpace& space,
                                                                 std::uint64_t seed) const {
    validate();
    GridSampler sampler(space, shuffle, seed);
    const auto count = static_cast<std::size_t>(sampler.size());
    check_total(count);
    return {std::move(sampler), count, max_resource};
  }

 private:
  void check_total(std::uint64_t size) const {
    detail::check_fixed_total("GridSearch", "max_resource", std::to_string(max_resource), size,
                              max_resource);
  }
};

/// @brief `trials` configurations from `sampler` (random by default: random search), each to
/// `max_resource` steps.
template <SamplerSettings Sampling = RandomSampling>
struct BasicRandomSearch {
  std::size_t trials = 10;
  std::int64_t max_resource = 1;
  /// Which configuration each new trial gets (random by default; any SamplerSettings).
  Sampling sampler{};

  void validate() const {
    if (trials < 1)
      detail::invalid_setting("RandomSearch", "trials", std::to_string(trials),
                              "must be at least 1");
    if (max_resource < 1)
      detail::invalid_setting("RandomSearch", "max_resource", std::to_string(max_resource),
                              "must be at least 1");
    detail::check_fixed_total("RandomSearch", "trials", std::to_string(trials), trials,
                              max_resource);
  }
  [[nodiscard]] Schedule schedule(const SearchSpace&) const {
    validate();
    return {"RandomSearch", {{0, {{trials, max_resource}}}}};
  }
  [[nodiscard]] FixedBudgetScheduler<SamplerOf<Sampling>> make_scheduler(const SearchSpace& space,
                                                                         std::uint64_t seed) const {
    validate();
    return {sampler.make_sampler(space, seed), trials, max_resource};
  }
};

/// @brief RandomSearch with random sampling, as the papers run it.
using RandomSearch = BasicRandomSearch<>;

}  // namespace hpt
