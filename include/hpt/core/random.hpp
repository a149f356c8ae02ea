#pragma once
/// @file random.hpp
/// @brief Seeded random numbers that give the same values with every compiler and library.
///
/// The standard distributions (std::uniform_real_distribution, ...) are implementation-defined,
/// so the same seed would give other trials with libstdc++ than with libc++. hpt uses the
/// engine std::mt19937_64, whose output the standard fixes, and converts it itself.

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

namespace hpt {

/// @brief Mixes a 64-bit value into a well-spread one (splitmix64's finaliser). Used to derive
/// independent seeds, e.g. one per trial from the study's seed, so that trial k's configuration
/// does not depend on the order in which trials run.
constexpr std::uint64_t mix_seed(std::uint64_t value) noexcept {
  value += 0x9E3779B97F4A7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

/// @brief A seed for stream `stream` (a trial id, a layer, ...) derived from a base seed.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) noexcept {
  return mix_seed(mix_seed(seed) ^ mix_seed(stream + 0x632BE59BD9B4E019ULL));
}

/// @brief A reproducible random source: std::mt19937_64 with portable conversions.
class Random {
 public:
  explicit Random(std::uint64_t seed = 0) : engine_(seed) {}

  /// @brief A uniformly distributed double in [0, 1), with 53 random bits.
  double uniform() noexcept { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// @brief A uniformly distributed double in [low, high).
  double uniform(double low, double high) noexcept {
    const double u = uniform();
    const double width = high - low;
    if (std::isfinite(width)) return low + width * u;
    // Wider than the largest double (-DBL_MAX .. DBL_MAX): low + width * u would be infinite, so
    // interpolate between the ends instead (only here: ordinary ranges keep their exact values).
    const double x = low * (1 - u) + high * u;
    return x < high ? x : std::nextafter(high, low);
  }

  /// @brief A uniformly distributed integer in [0, count), without modulo bias (rejection).
  std::uint64_t below(std::uint64_t count) {
    if (count == 0)
      throw std::invalid_argument("hpt::Random::below: count must be positive, got 0");
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                                std::numeric_limits<std::uint64_t>::max() % count;
    std::uint64_t draw = 0;
    do draw = engine_();
    while (draw >= limit);
    return draw % count;
  }

  /// @brief A uniformly distributed integer in [low, high] (both included).
  std::int64_t between(std::int64_t low, std::int64_t high) {
    if (low > high)
      throw std::invalid_argument("hpt::Random::between: low " + std::to_string(low) + " > high " +
                                  std::to_string(high));
    // In unsigned arithmetic: high - low overflows int64 for ranges wider than half of it.
    const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    const std::uint64_t offset =
        span == std::numeric_limits<std::uint64_t>::max() ? engine_() : below(span + 1);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + offset);
  }

  /// @brief A standard normal draw (Box-Muller on the portable uniforms).
  double normal() noexcept {
    const double u1 = 1.0 - uniform();  // in (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }

  /// @brief The raw engine, for std::shuffle-like algorithms written on it.
  std::mt19937_64& engine() noexcept { return engine_; }

  /// @brief Shuffles [first, last) with Fisher-Yates on below(): the same order everywhere
  /// (std::shuffle's order is implementation-defined).
  template <class RandomIt>
  void shuffle(RandomIt first, RandomIt last) {
    const auto count = static_cast<std::uint64_t>(last - first);
    for (std::uint64_t i = count; i > 1; --i) {
      const auto j = below(i);
      using std::swap;
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }

  friend bool operator==(const Random&, const Random&) = default;

  /// @brief Writes the engine's full state (text), for checkpoints.
  template <class Out>
  friend Out& operator<<(Out& out, const Random& random) {
    return out << random.engine_;
  }
  /// @brief Reads a state written by operator<<.
  template <class In>
  friend In& operator>>(In& in, Random& random) {
    return in >> random.engine_;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace hpt
