#pragma once
/// @file fixed_budget.hpp
/// @brief GridSearch and RandomSearch: every configuration runs to the same budget.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hpt/config.hpp"
#include "hpt/random.hpp"
#include "hpt/schedule.hpp"
#include "hpt/search_space.hpp"
#include "hpt/strategies/strategy.hpp"

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
  [[nodiscard]] Config config(std::size_t trial) const { return sampler_.config(trial); }

 private:
  Sampler sampler_;
  std::size_t count_;
  std::int64_t resource_;
  std::size_t issued_ = 0;
  std::size_t reported_ = 0;
};

/// @brief The full factorial grid, in a deterministic order (optionally shuffled by the seed).
class GridSampler {
 public:
  GridSampler(const SearchSpace& space, bool shuffle, std::uint64_t seed) : configs_(space.grid()) {
    if (shuffle) {
      Random random(derive_seed(seed, 0x67726964));  // its own stream: "grid"
      random.shuffle(configs_.begin(), configs_.end());
    }
  }
  [[nodiscard]] Config config(std::size_t trial) const { return configs_.at(trial); }
  [[nodiscard]] std::size_t size() const noexcept { return configs_.size(); }

 private:
  std::vector<Config> configs_;
};

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
    return {"GridSearch", {{0, {{space.grid_size(), max_resource}}}}};
  }
  [[nodiscard]] FixedBudgetScheduler<GridSampler> scheduler(const SearchSpace& space,
                                                            std::uint64_t seed) const {
    validate();
    GridSampler sampler(space, shuffle, seed);
    const std::size_t count = sampler.size();
    return {std::move(sampler), count, max_resource};
  }
};

/// @brief Random search: `trials` seeded random configurations, each to `max_resource` steps.
struct RandomSearch {
  std::size_t trials = 10;
  std::int64_t max_resource = 1;

  void validate() const {
    if (trials < 1)
      detail::invalid_setting("RandomSearch", "trials", std::to_string(trials),
                              "must be at least 1");
    if (max_resource < 1)
      detail::invalid_setting("RandomSearch", "max_resource", std::to_string(max_resource),
                              "must be at least 1");
  }
  [[nodiscard]] Schedule schedule(const SearchSpace&) const {
    validate();
    return {"RandomSearch", {{0, {{trials, max_resource}}}}};
  }
  [[nodiscard]] FixedBudgetScheduler<RandomSampler> scheduler(const SearchSpace& space,
                                                              std::uint64_t seed) const {
    validate();
    return {RandomSampler(space, seed), trials, max_resource};
  }
};

}  // namespace hpt
