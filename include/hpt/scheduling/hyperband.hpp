#pragma once
/// @file hyperband.hpp
/// @brief Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, JMLR 2018), exactly as the
/// paper defines it.
///
/// s_max = floor(log_eta(R / r)), computed in integers; for s = s_max, ..., 0 a bracket of
/// n = ceil((s_max + 1) / (s + 1) * eta^s) configurations starting at resource r_s = R * eta^-s,
/// run as successive halving: rung i has floor(n * eta^-i) configurations at resource
/// r_s * eta^i, i = 0 .. s, and keeps the best floor(n_i / eta).
///
/// Resources are whole steps: R * eta^(i-s) is rounded to the nearest integer (never below r);
/// when R = r * eta^k every rung is exact, as in the paper's table. Other libraries differ: some
/// compute s_max with a floating-point logarithm and lose the top bracket when R / r is a power
/// of eta (log(243) / log(3) = 4.999...), some round n or the resources otherwise.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpt/sampling/random_sampler.hpp"
#include "hpt/sampling/sampler.hpp"
#include "hpt/scheduling/detail/halving_bracket.hpp"
#include "hpt/scheduling/detail/integer_math.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/scheduling/schedule.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {

/// @brief Hyperband; new configurations come from `sampler`.
template <SamplerSettings Sampling = RandomSampling>
struct BasicHyperband {
  std::int64_t min_resource = 1;      ///< r: the smallest budget a configuration gets.
  std::int64_t max_resource = 81;     ///< R: the largest budget a configuration gets.
  std::int64_t reduction_factor = 3;  ///< eta.
  /// Which configuration each new trial gets (random by default; any SamplerSettings).
  Sampling sampler{};

  void validate() const {
    detail::check_budget("Hyperband", min_resource, max_resource, reduction_factor);
  }

  /// @brief s_max = floor(log_eta(R / r)), in exact integer arithmetic.
  [[nodiscard]] int max_bracket() const {
    validate();
    return detail::integer_log(max_resource, min_resource, reduction_factor);
  }

  [[nodiscard]] Schedule schedule(const SearchSpace& = {}) const {
    const int s_max = max_bracket();
    const std::int64_t eta = reduction_factor;
    Schedule result{"Hyperband", {}};
    for (int s = s_max; s >= 0; --s) {
      // n = ceil((s_max + 1) * eta^s / (s + 1)), in integers.
      const std::int64_t power = detail::integer_power(eta, s);
      if (power > std::numeric_limits<std::int64_t>::max() / (s_max + 1))
        throw std::overflow_error("hpt::Hyperband: " + settings() + ": bracket " +
                                  std::to_string(s) +
                                  " would need more configurations than 64 bits can count");
      const std::int64_t numerator = (s_max + 1) * power;
      const auto n = static_cast<std::size_t>((numerator + s) / (s + 1));
      Bracket bracket{s, {}};
      std::size_t count = n;
      for (int i = 0; i <= s; ++i) {
        const std::int64_t divisor = detail::integer_power(eta, s - i);
        std::int64_t resource =
            max_resource % divisor == 0
                ? max_resource / divisor
                : std::llround(static_cast<double>(max_resource) / static_cast<double>(divisor));
        if (resource < min_resource) resource = min_resource;
        bracket.rungs.push_back({count, resource});
        count /= static_cast<std::size_t>(eta);
      }
      result.brackets.push_back(std::move(bracket));
    }
    // Schedule::total_resource() counts in int64: refuse a plan it cannot count.
    if (!detail::checked_total_resource(result.brackets))
      throw std::overflow_error("hpt::Hyperband: " + settings() + ": the brackets need more than " +
                                std::to_string(std::numeric_limits<std::int64_t>::max()) +
                                " steps in all");
    return result;
  }

  [[nodiscard]] detail::BracketScheduler<SamplerOf<Sampling>> make_scheduler(
      const SearchSpace& space, std::uint64_t seed) const {
    return {sampler.make_sampler(space, seed), schedule(space)};
  }

 private:
  [[nodiscard]] std::string settings() const {
    return "max_resource = " + std::to_string(max_resource) +
           " with min_resource = " + std::to_string(min_resource) +
           " and reduction_factor = " + std::to_string(reduction_factor);
  }
};

/// @brief Hyperband with random sampling, as the papers run it.
using Hyperband = BasicHyperband<>;

}  // namespace hpt
