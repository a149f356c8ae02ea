#pragma once
/// @file divergence.hpp
/// @brief Divergence: end a trial as diverged when its watched value blows up.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/stopping/policy.hpp"

namespace hpt {

/// @brief Ends a trial with Verdict::diverge when its watched value is not finite, or has grown
/// far worse than a reference, or is worse than an absolute limit.
///
/// The rules work on the loss L = as_loss(direction, value): the value itself when minimizing,
/// its negation when maximizing. After each step:
///   1. a NaN or infinite value diverges, at any step (it never recovers);
///   2. from min_step on, with `factor` set and a reference loss R > 0:
///      the trial diverges when L > factor * R. The reference is the trial's first loss
///      (relative_to = first) or its best loss before this step (relative_to = best).
///      Minimizing a positive loss: value > factor * reference. Maximizing a negative value
///      (a negated loss, a log-likelihood): value < factor * reference. When R <= 0 (a
///      minimized value that can be zero or negative, a maximized accuracy) "factor times worse"
///      has no meaning and the rule is skipped: use `limit` instead;
///   3. from min_step on, with `limit` set: the trial diverges when the value is worse than the
///      limit (above it when minimizing, below it when maximizing).
/// References are tracked from the first step, the grace period only delays rules 2 and 3.
struct Divergence {
  /// @brief What the factor multiplies.
  enum class Reference {
    first,  ///< The trial's first watched value.
    best,   ///< The trial's best watched value before the current step.
  };
  static constexpr Reference first = Reference::first;
  static constexpr Reference best = Reference::best;

  /// Diverge when the loss exceeds factor times the reference loss; empty disables the rule.
  std::optional<double> factor = 10.0;
  /// The reference of the factor rule.
  Reference relative_to = Reference::first;
  /// Which way is better; the study's direction when empty.
  std::optional<Direction> direction{};
  /// The watched metric; empty for the objective.
  std::string metric{};
  /// An absolute bound: diverge when the value is worse than it.
  std::optional<double> limit{};
  /// The first step at which the factor and limit rules apply (a grace period for warm-up).
  std::int64_t min_step = 1;

  /// @brief One trial's references.
  struct State {
    double first_loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN until the first step
    double best_loss = std::numeric_limits<double>::infinity();
  };

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("Divergence")
        .add("factor", factor)
        .text("relative_to", relative_to == Reference::first ? "first" : "best")
        .add("direction", direction)
        .metric("metric", metric)
        .add("limit", limit)
        .add("min_step", min_step)
        .str();
  }

  void validate() const {
    if (factor && !(std::isfinite(*factor) && *factor > 1))
      fail("factor must be finite and > 1", number(*factor));
    if (limit && !std::isfinite(*limit)) fail("limit must be finite", number(*limit));
    if (min_step < 1) fail("min_step must be >= 1 (steps count from 1)", std::to_string(min_step));
  }

  /// @brief Judges a trial after its step.
  [[nodiscard]] Verdict check(State& state, const StepReport& report) const {
    validate();
    const Direction sense = direction.value_or(report.direction);
    const double value = report.value(metric);
    const std::string watched =
        metric.empty() ? std::string("objective") : "metric \"" + metric + "\"";
    if (!std::isfinite(value))
      return Verdict::diverge("Divergence", "the " + watched + " is " + number(value) +
                                                " at step " + std::to_string(report.step));

    const double loss = as_loss(sense, value);
    if (std::isnan(state.first_loss)) state.first_loss = loss;
    const double reference_loss = relative_to == first ? state.first_loss : state.best_loss;
    state.best_loss = std::min(state.best_loss, loss);
    if (report.step < min_step) return Verdict::proceed();

    if (factor && reference_loss > 0 && std::isfinite(reference_loss) &&
        loss > *factor * reference_loss) {
      const char* name = relative_to == first ? "first" : "best";
      return Verdict::diverge("Divergence", "the " + watched + " " + number(value) + " at step " +
                                                std::to_string(report.step) + " is worse than " +
                                                number(*factor) + " x its " + name + " value " +
                                                number(as_loss(sense, reference_loss)));
    }
    if (limit && loss > as_loss(sense, *limit))
      return Verdict::diverge("Divergence", "the " + watched + " " + number(value) + " at step " +
                                                std::to_string(report.step) +
                                                " is worse than the limit " + number(*limit));
    return Verdict::proceed();
  }

 private:
  [[noreturn]] static void fail(const std::string& rule, const std::string& value) {
    throw std::invalid_argument("hpt::Divergence: " + rule + ", got " + value);
  }
  static std::string number(double value) { return format_short(value); }
};

}  // namespace hpt
