#pragma once
// Helpers that feed hand-made learning curves to a stopping policy, step by step, the way the
// engine does: one StepReport per step, steps counted from 1.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "hpt/stopping/policy.hpp"

namespace stopping_test {

inline constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
inline constexpr double infinity = std::numeric_limits<double>::infinity();

using Values = std::vector<std::pair<std::string, double>>;

/// Shows the policy one step of one trial.
template <class Policy>
hpt::Verdict feed(Policy& policy, std::size_t trial, std::int64_t step, double objective,
                  hpt::Direction direction = hpt::minimize, Values values = {}) {
  const hpt::Metrics metrics{.objective = objective, .values = std::move(values)};
  const hpt::StepReport report{.trial = trial,
                               .step = step,
                               .objective = objective,
                               .metrics = &metrics,
                               .direction = direction};
  return policy.check(report);
}

/// Where a curve stopped: step 0 when the policy let it run to the end.
struct Outcome {
  std::int64_t step = 0;
  hpt::Verdict verdict{};
};

/// Feeds an objective curve to one trial until the policy stops it.
template <class Policy>
Outcome run(Policy& policy, const std::vector<double>& objectives,
            hpt::Direction direction = hpt::minimize, std::size_t trial = 0) {
  for (std::size_t index = 0; index < objectives.size(); ++index) {
    const auto step = static_cast<std::int64_t>(index + 1);
    hpt::Verdict verdict = feed(policy, trial, step, objectives[index], direction);
    if (verdict.stops()) return {step, std::move(verdict)};
  }
  return {};
}

/// Feeds a curve of the named metric (with the given objectives) until the policy stops it.
template <class Policy>
Outcome run_metric(Policy& policy, const std::string& name, const std::vector<double>& metric,
                   const std::vector<double>& objectives, hpt::Direction direction = hpt::minimize,
                   std::size_t trial = 0) {
  for (std::size_t index = 0; index < metric.size(); ++index) {
    const auto step = static_cast<std::int64_t>(index + 1);
    hpt::Verdict verdict =
        feed(policy, trial, step, objectives.at(index), direction, Values{{name, metric[index]}});
    if (verdict.stops()) return {step, std::move(verdict)};
  }
  return {};
}

}  // namespace stopping_test
