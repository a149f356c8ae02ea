#pragma once
/// @file successive_halving.hpp
/// @brief Successive halving (Jamieson & Talwalkar 2016), as the inner loop of Hyperband, with
/// the options that reproduce scikit-learn's HalvingGridSearchCV / HalvingRandomSearchCV.
///
/// With n configurations, minimum resource r, reduction factor eta and maximum resource R, let
/// K_n = floor(log_eta n) and K_R = floor(log_eta(R / r)), both in exact integer arithmetic.
/// By default (the paper) rung i = 0 .. min(K_n, K_R) runs floor(n / eta^i) configurations to
/// resource r * eta^i, i.e. rungs go on while floor(n / eta^i) >= 1 and r * eta^i <= R; the best
/// floor(n_i / eta) advance and resume.
///
/// scikit-learn's rules (BaseSuccessiveHalving._run_search in
/// sklearn/model_selection/_search_successive_halving.py) in these terms: its
/// n_required_iterations is K_n + 1, n_possible_iterations K_R + 1, and it keeps
/// ceil(n_i / eta) candidates after each iteration (`Keep::ceil`; nested ceilings give
/// ceil(n / eta^i) at rung i). With `aggressive_elimination` it runs all K_n + 1 rungs and rung i
/// gets r * eta^max(0, i - K_n + K_R): when resources are short the first K_n - K_R + 1 rungs all
/// run at r, and when they are plentiful the rungs start above r so that the last one is at
/// r * eta^K_R (scikit-learn does both). Its 'exhaust' min_resources is `exhaust_min_resource`.
///
/// Where hpt's model differs: a rung's resource is the cumulative steps a trial has done, and a
/// promoted trial resumes rather than being refit from scratch, so a rung at the same resource as
/// the one before runs no step at all and only re-ranks the same results (keeping the best
/// ceil(n_i / eta) of them). The rungs are scikit-learn's; what they cost differs. scikit-learn
/// computes both logarithms in floating point, and log(243) / log(3) = 4.999... makes it drop a
/// rung when n or R / r is 3^5; hpt keeps that rung. Factors are integers here.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
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

/// @brief How many of a rung's n_i configurations advance to the next rung.
enum class Keep {
  floor,  ///< floor(n_i / eta): Jamieson & Talwalkar, and Hyperband's inner loop (the default).
  ceil,   ///< ceil(n_i / eta): scikit-learn's HalvingGridSearchCV and HalvingRandomSearchCV.
};

/// @brief Synchronous successive halving; new configurations come from `sampler`.
template <SamplerSettings Sampling = RandomSampling>
struct BasicSuccessiveHalving {
  std::size_t configurations = 27;    ///< n: configurations in the first rung.
  std::int64_t min_resource = 1;      ///< r: steps in the first rung.
  std::int64_t max_resource = 27;     ///< R: no rung runs past it.
  std::int64_t reduction_factor = 3;  ///< eta.
  Keep keep = Keep::floor;            ///< How many configurations each rung promotes.
  /// Run floor(log_eta n) + 1 rungs whatever R / r allows, the last at r * eta^K_R, repeating r
  /// at the start when R is short (scikit-learn's `aggressive_elimination`; see the file comment).
  bool aggressive_elimination = false;
  /// Which configuration each new trial gets (random by default; any SamplerSettings).
  Sampling sampler{};

  void validate() const {
    if (configurations < 1)
      detail::invalid_setting("SuccessiveHalving", "configurations", std::to_string(configurations),
                              "must be at least 1");
    detail::check_budget("SuccessiveHalving", min_resource, max_resource, reduction_factor);
    if (keep != Keep::floor && keep != Keep::ceil)
      detail::invalid_setting("SuccessiveHalving", "keep", std::to_string(static_cast<int>(keep)),
                              "must be hpt::Keep::floor or hpt::Keep::ceil");
    // A plan whose steps overflow int64 cannot be counted (Schedule::total_resource) nor run.
    if (!detail::checked_total_resource({bracket()}))
      detail::invalid_setting(
          "SuccessiveHalving", "configurations", std::to_string(configurations),
          "with min_resource = " + std::to_string(min_resource) +
              ", max_resource = " + std::to_string(max_resource) +
              " and reduction_factor = " + std::to_string(reduction_factor) + " needs more than " +
              std::to_string(std::numeric_limits<std::int64_t>::max()) + " steps in all");
  }

  [[nodiscard]] Schedule schedule(const SearchSpace& = {}) const {
    validate();
    return {"SuccessiveHalving", {bracket()}};
  }

  [[nodiscard]] detail::BracketScheduler<SamplerOf<Sampling>> make_scheduler(
      const SearchSpace& space, std::uint64_t seed) const {
    return {sampler.make_sampler(space, seed), schedule(space)};
  }

 private:
  /// The rungs, for settings that passed the field checks.
  [[nodiscard]] Bracket bracket() const {
    const auto eta = static_cast<std::uint64_t>(reduction_factor);
    const int by_count = detail::floor_log(configurations, eta);  // K_n: counts stay >= 1
    const int by_budget = detail::integer_log(max_resource, min_resource, reduction_factor);  // K_R
    const int last = aggressive_elimination ? by_count : std::min(by_count, by_budget);
    Bracket bracket;
    std::uint64_t count = configurations;
    for (int i = 0; i <= last; ++i) {
      // Never above K_R, so r * eta^power <= R and scikit-learn's cap at R never binds.
      const int power = aggressive_elimination ? std::max(0, i - by_count + by_budget) : i;
      bracket.rungs.push_back({static_cast<std::size_t>(count),
                               min_resource * detail::integer_power(reduction_factor, power)});
      count = keep == Keep::ceil ? detail::ceil_div(count, eta) : count / eta;
    }
    return bracket;
  }
};

/// @brief SuccessiveHalving with random sampling, as the papers run it.
using SuccessiveHalving = BasicSuccessiveHalving<>;

/// @brief scikit-learn's `min_resources='exhaust'`: the largest first-rung resource with which
/// floor(log_eta n) + 1 rungs still fit under `max_resource`, that is
/// max(smallest, floor(R / eta^floor(log_eta n))), with an exact integer logarithm.
///
/// Its last rung then uses as much of R as a multiple of eta^K_n allows. `smallest` is the value
/// scikit-learn would start from otherwise ('smallest': 1 when the resource is not n_samples, as
/// for steps). For n = 243, eta = 3, R = 1000 this is 1000 / 243 = 4, where scikit-learn's
/// floating-point log(243, 3) = 4.999... gives 1000 / 81 = 12 and one rung fewer.
/// @throws std::invalid_argument naming the argument when one is out of range.
[[nodiscard]] inline std::int64_t exhaust_min_resource(std::size_t configurations,
                                                       std::int64_t max_resource,
                                                       std::int64_t reduction_factor = 3,
                                                       std::int64_t smallest = 1) {
  const std::string name = "exhaust_min_resource";
  if (configurations < 1)
    detail::invalid_setting(name, "configurations", std::to_string(configurations),
                            "must be at least 1");
  if (smallest < 1)
    detail::invalid_setting(name, "smallest", std::to_string(smallest), "must be at least 1");
  if (max_resource < smallest)
    detail::invalid_setting(name, "max_resource", std::to_string(max_resource),
                            "must be at least smallest (" + std::to_string(smallest) + ")");
  if (reduction_factor < 2)
    detail::invalid_setting(name, "reduction_factor", std::to_string(reduction_factor),
                            "must be at least 2");
  const int top_rung =
      detail::floor_log(configurations, static_cast<std::uint64_t>(reduction_factor));  // K_n
  std::int64_t quotient = max_resource;  // floor(R / eta^K_n) as K_n floor divisions: no eta^K_n
  for (int i = 0; i < top_rung && quotient > 0; ++i) quotient /= reduction_factor;
  return std::max(smallest, quotient);
}

}  // namespace hpt
