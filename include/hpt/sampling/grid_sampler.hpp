#pragma once
/// @file grid_sampler.hpp
/// @brief The grid sampler: the full factorial grid in order or in a seeded shuffle, one
/// configuration at a time.

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/random.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {
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
  [[nodiscard]] Config ask(std::size_t trial) const {
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

}  // namespace hpt
