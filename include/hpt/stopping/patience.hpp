#pragma once
/// @file patience.hpp
/// @brief Patience: stop a trial whose watched value has stopped improving (the rule of Keras's
/// EarlyStopping callback, step for step).

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

/// @brief Stops a trial after `patience` steps without improvement of its watched value.
///
/// The rule, checked after every step s >= start_step of a trial (v is the watched value):
///   - wait += 1;
///   - v improves when it is better than the trial's best by more than |min_delta| (NaN never
///     improves). On an improvement best = v, and wait is reset to 0 only if v also beats the
///     baseline by more than |min_delta| (or there is no baseline); the trial proceeds.
///   - otherwise the trial stops when wait >= patience, except at step 1.
///
/// This is Keras's EarlyStopping with Keras's 0-based epoch e mapped to hpt's step e + 1:
/// a trial that improves never stops at that step even when it has not beaten the baseline yet,
/// the very first step never stops, and start_from_epoch = N is start_step = N + 1 (start_step is
/// the first step that is watched). Unlike Keras, a metric that was not reported is an error
/// (Metrics::value throws) rather than a warning: a misspelt name must not disable the policy.
struct Patience {
  /// Steps without improvement tolerated; the trial stops on the first non-improving step at which
  /// this many steps have passed since the last improvement (0: stop at the first one).
  std::int64_t patience = 0;
  /// An improvement must beat the best by more than |min_delta| (Keras takes the absolute value).
  double min_delta = 0;
  /// Which way is better; the study's direction when empty.
  std::optional<Direction> direction{};
  /// The watched metric; empty for the objective.
  std::string metric{};
  /// When set, an improvement resets the wait only if it also beats this value.
  std::optional<double> baseline{};
  /// The first step that is watched; earlier steps are ignored entirely (warm-up).
  std::int64_t start_step = 1;
  // Keras's restore_best_weights is not a Patience setting: whether a trial's result is its best
  // or its last step is the study's rule (StudyOptions::result), the same for every trial.

  /// @brief One trial's progress, kept next to the trial by whoever runs it.
  struct State {
    double best_loss = std::numeric_limits<double>::infinity();  ///< as_loss of the best value
    std::int64_t best_step = 0;                                  ///< 0 until a step is watched
    std::int64_t wait = 0;  ///< watched steps since the last reset (Keras's wait)
  };

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("Patience")
        .add("patience", patience)
        .add("min_delta", min_delta)
        .add("direction", direction)
        .metric("metric", metric)
        .add("baseline", baseline)
        .add("start_step", start_step)
        .str();
  }

  void validate() const {
    if (patience < 0) fail("patience must be >= 0", integer(patience));
    if (!std::isfinite(min_delta)) fail("min_delta must be finite", number(min_delta));
    if (baseline && !std::isfinite(*baseline)) fail("baseline must be finite", number(*baseline));
    if (start_step < 1) fail("start_step must be >= 1 (steps count from 1)", integer(start_step));
  }

  /// @brief Judges a trial after its step.
  [[nodiscard]] Verdict check(State& state, const StepReport& report) const {
    validate();
    if (report.step < start_step) return Verdict::proceed();
    const Direction sense = direction.value_or(report.direction);
    const double value = report.value(metric);
    const double loss = as_loss(sense, value);  // NaN stays NaN and fails every comparison
    const double delta = std::abs(min_delta);

    if (state.best_step == 0) state.best_step = report.step;  // Keras keeps the first watched state
    ++state.wait;
    if (loss + delta < state.best_loss) {
      state.best_loss = loss;
      state.best_step = report.step;
      if (!baseline || loss + delta < as_loss(sense, *baseline)) state.wait = 0;
      return Verdict::proceed();
    }
    if (state.wait < patience || report.step <= 1) return Verdict::proceed();
    return Verdict::stop("Patience", reason(state, sense));
  }

 private:
  [[noreturn]] static void fail(const std::string& rule, const std::string& value) {
    throw std::invalid_argument("hpt::Patience: " + rule + ", got " + value);
  }
  static std::string integer(std::int64_t value) { return std::to_string(value); }
  static std::string number(double value) { return format_short(value); }

  [[nodiscard]] std::string reason(const State& state, Direction sense) const {
    const std::string watched = metric.empty() ? std::string("objective") : "\"" + metric + "\"";
    const std::string steps = std::to_string(state.wait) + (state.wait == 1 ? " step" : " steps");
    const std::string delta = " (min_delta " + number(std::abs(min_delta)) + ")";
    if (std::isinf(state.best_loss)) return "the " + watched + " had no valid value for " + steps;
    const double best = as_loss(sense, state.best_loss);  // as_loss is its own inverse
    const std::string best_text = number(best) + " (step " + std::to_string(state.best_step) + ")";
    if (baseline && !(state.best_loss + std::abs(min_delta) < as_loss(sense, *baseline)))
      return "the " + watched + " did not beat the baseline " + number(*baseline) + " in " + steps +
             "; best " + best_text + delta;
    return "no improvement of the " + watched + " over " + best_text + " for " + steps + delta;
  }
};

}  // namespace hpt
