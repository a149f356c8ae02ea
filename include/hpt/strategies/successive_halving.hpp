#pragma once
/// @file successive_halving.hpp
/// @brief Successive halving (Jamieson & Talwalkar 2016), as the inner loop of Hyperband.
///
/// With n configurations, minimum resource r, reduction factor eta and maximum resource R:
/// rung i runs floor(n / eta^i) configurations to resource r * eta^i, for i = 0, 1, ... while
/// floor(n / eta^i) >= 1 and r * eta^i <= R; the best floor(n_i / eta) advance and resume.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hpt/schedule.hpp"
#include "hpt/search_space.hpp"
#include "hpt/strategies/halving_bracket.hpp"
#include "hpt/strategies/strategy.hpp"

namespace hpt {

/// @brief Synchronous successive halving over random configurations.
struct SuccessiveHalving {
  std::size_t configurations = 27;    ///< n: configurations in the first rung.
  std::int64_t min_resource = 1;      ///< r: steps in the first rung.
  std::int64_t max_resource = 27;     ///< R: no rung runs past it.
  std::int64_t reduction_factor = 3;  ///< eta.

  void validate() const {
    if (configurations < 1)
      detail::invalid_setting("SuccessiveHalving", "configurations", std::to_string(configurations),
                              "must be at least 1");
    detail::check_budget("SuccessiveHalving", min_resource, max_resource, reduction_factor);
  }

  [[nodiscard]] Schedule schedule(const SearchSpace& = {}) const {
    validate();
    Bracket bracket;
    std::size_t count = configurations;
    std::int64_t resource = min_resource;
    while (count >= 1) {
      bracket.rungs.push_back({count, resource});
      if (resource > max_resource / reduction_factor) break;
      resource *= reduction_factor;
      count /= static_cast<std::size_t>(reduction_factor);
    }
    return {"SuccessiveHalving", {std::move(bracket)}};
  }

  [[nodiscard]] detail::BracketScheduler<RandomSampler> scheduler(const SearchSpace& space,
                                                                  std::uint64_t seed) const {
    return {RandomSampler(space, seed), schedule(space)};
  }
};

}  // namespace hpt
