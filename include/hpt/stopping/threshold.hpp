#pragma once
/// @file threshold.hpp
/// @brief Threshold: stop a trial that reached a target, or that left fixed bounds.

#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "hpt/core/direction.hpp"
#include "hpt/stopping/policy.hpp"

namespace hpt {

/// @brief Stops a trial once its watched value is good enough (`target`), or once it falls
/// outside fixed bounds (`lower`, `upper`).
///
/// After each step, with v the watched value:
///   - target: the trial stops ("reached target") when v is at least as good as the target
///     (v <= target when minimizing, v >= target when maximizing). Checked at every step.
///   - bounds: from step at_step on, the trial stops when v < lower or v > upper (a NaN metric is
///     outside every bound). The bounds do not depend on the direction: they catch values that
///     leave the range where a trial is worth going on (Optuna's ThresholdPruner rule).
/// Both stop with status stopped; the trial's result is its last step.
struct Threshold {
  /// Stop once the value is at least as good as this.
  std::optional<double> target{};
  /// Stop once the value is below this (from at_step on).
  std::optional<double> lower{};
  /// Stop once the value is above this (from at_step on).
  std::optional<double> upper{};
  /// The first step at which the bounds apply.
  std::int64_t at_step = 1;
  /// Which way is better, for the target; the study's direction when empty.
  std::optional<Direction> direction{};
  /// The watched metric; empty for the objective.
  std::string metric{};

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("Threshold")
        .add("target", target)
        .add("lower", lower)
        .add("upper", upper)
        .add("at_step", at_step)
        .add("direction", direction)
        .metric("metric", metric)
        .str();
  }

  void validate() const {
    if (!target && !lower && !upper)
      throw std::invalid_argument(
          "hpt::Threshold: set at least one of target, lower, upper (all are empty)");
    if (target && !std::isfinite(*target)) fail("target must be finite", number(*target));
    if (lower && !std::isfinite(*lower)) fail("lower must be finite", number(*lower));
    if (upper && !std::isfinite(*upper)) fail("upper must be finite", number(*upper));
    if (lower && upper && *lower > *upper)
      fail("lower must be <= upper", "lower " + number(*lower) + " and upper " + number(*upper));
    if (at_step < 1) fail("at_step must be >= 1 (steps count from 1)", std::to_string(at_step));
  }

  /// @brief Nothing to remember between steps.
  struct State {};

  /// @brief Judges a trial after its step.
  [[nodiscard]] Verdict check(State&, const StepReport& report) const {
    validate();
    const double value = report.value(metric);
    const std::string watched =
        metric.empty() ? std::string("objective") : "metric \"" + metric + "\"";
    const std::string where = " at step " + std::to_string(report.step);
    if (target && !std::isnan(value) &&
        !is_better(direction.value_or(report.direction), *target, value))
      return Verdict::stop("Threshold", "reached target " + number(*target) + ": the " + watched +
                                            " is " + number(value) + where);
    if (report.step < at_step) return Verdict::proceed();
    // Outside the bounds the trial is hopeless rather than done: pruned, as Optuna records it.
    if (lower && !(value >= *lower))
      return Verdict::prune("Threshold", "the " + watched + " " + number(value) + where +
                                             " is outside the lower bound " + number(*lower));
    if (upper && !(value <= *upper))
      return Verdict::prune("Threshold", "the " + watched + " " + number(value) + where +
                                             " is outside the upper bound " + number(*upper));
    return Verdict::proceed();
  }

 private:
  [[noreturn]] static void fail(const std::string& rule, const std::string& value) {
    throw std::invalid_argument("hpt::Threshold: " + rule + ", got " + value);
  }
  static std::string number(double value) { return format_short(value); }
};

}  // namespace hpt
