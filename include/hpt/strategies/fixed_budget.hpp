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

namespace detail {

/// @brief A seeded permutation of [0, size), computed one position at a time: a balanced
/// four-round Feistel network on the smallest even number of bits that holds size - 1, walked
/// until it lands inside [0, size) (fewer than 4 steps on average, since 4 * size exceeds the
/// network's domain).
class SeededPermutation {
 public:
  SeededPermutation(std::uint64_t size, std::uint64_t seed) : size_(size) {
    int bits = 0;
    while (bits < 64 && (std::uint64_t{1} << bits) < size) ++bits;
    half_ = (bits + 1) / 2;
    mask_ = half_ == 32 ? 0xFFFF'FFFFULL : (std::uint64_t{1} << half_) - 1;
    for (std::size_t round = 0; round < keys_.size(); ++round)
      keys_[round] = derive_seed(seed, round);
  }

  /// @brief The position that `index` (< size) moves to.
  [[nodiscard]] std::uint64_t operator()(std::uint64_t index) const noexcept {
    do index = encrypt(index);
    while (index >= size_);
    return index;
  }

 private:
  [[nodiscard]] std::uint64_t encrypt(std::uint64_t x) const noexcept {
    std::uint64_t left = x >> half_, right = x & mask_;
    for (const auto key : keys_) {
      const std::uint64_t next = left ^ (mix_seed(right ^ key) & mask_);
      left = right;
      right = next;
    }
    return (left << half_) | right;
  }

  std::uint64_t size_;
  int half_ = 0;
  std::uint64_t mask_ = 0;
  std::array<std::uint64_t, 4> keys_{};
};

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

/// @brief The full factorial grid, in a deterministic order (optionally shuffled by the seed),
/// computed one configuration at a time (hpt::Grid): a grid costs memory for its parameters'
/// lists, not for its configurations.
///
/// A shuffled grid of up to max_listed_shuffle configurations is a Fisher-Yates shuffle of its
/// indices (8 bytes each); a larger one uses a seeded Feistel permutation computed per trial.
/// Either order depends only on the seed.
class GridSampler {
 public:
  /// The largest grid shuffled through a list of its indices.
  static constexpr std::uint64_t max_listed_shuffle = 1'000'000;

  GridSampler(const SearchSpace& space, bool shuffle, std::uint64_t seed) : grid_(space) {
    if (!shuffle) return;
    const std::uint64_t stream = derive_seed(seed, 0x67726964);  // its own stream: "grid"
    if (grid_.size() <= max_listed_shuffle) {
      order_.resize(static_cast<std::size_t>(grid_.size()));
      std::iota(order_.begin(), order_.end(), std::uint64_t{0});
      Random random(stream);
      random.shuffle(order_.begin(), order_.end());
    } else {
      permutation_.emplace(grid_.size(), stream);
    }
  }
  /// @brief Throws std::out_of_range for a trial past the grid's end.
  [[nodiscard]] Config config(std::size_t trial) const {
    if (trial >= grid_.size())
      throw std::out_of_range("hpt::GridSampler: no trial " + std::to_string(trial) +
                              " in a grid of " + std::to_string(grid_.size()));
    if (!order_.empty()) return grid_.config(order_[trial]);
    return grid_.config(permutation_ ? (*permutation_)(trial) : trial);
  }
  [[nodiscard]] std::uint64_t size() const noexcept { return grid_.size(); }

 private:
  Grid grid_;
  std::vector<std::uint64_t> order_;  // a listed shuffle
  std::optional<detail::SeededPermutation> permutation_;
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
    const std::uint64_t size = space.grid_size();
    check_total(size);
    return {"GridSearch", {{0, {{static_cast<std::size_t>(size), max_resource}}}}};
  }
  [[nodiscard]] FixedBudgetScheduler<GridSampler> scheduler(const SearchSpace& space,
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
    detail::check_fixed_total("RandomSearch", "trials", std::to_string(trials), trials,
                              max_resource);
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
