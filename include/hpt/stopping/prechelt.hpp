#pragma once
/// @file prechelt.hpp
/// @brief Prechelt's stopping criteria GL, PQ and UP (L. Prechelt, "Early stopping — but when?",
/// in Neural Networks: Tricks of the Trade, 1998).
///
/// Notation, for one trial after step t: E_va(t) is the validation error (the objective),
/// E_opt(t) = min over t' <= t of E_va(t'), and GL(t) = 100 · (E_va(t) / E_opt(t) − 1) is the
/// generalization loss in percent. A training strip of length k is a block of k consecutive
/// steps; strips are [1, k], [k+1, 2k], ..., so the end of a strip is a step t that is a multiple
/// of k. Over the strip ending at t, the training progress is
/// P_k(t) = 1000 · (sum of E_tr(t') / (k · min of E_tr(t')) − 1), t' = t−k+1 .. t, in per mille.
///
/// The criteria assume a minimized, positive error: they throw std::invalid_argument when the
/// study maximizes, and GL and PQ throw when E_opt is not positive (the ratio has no meaning).
/// Prechelt prescribes keeping the weights of the step with the lowest validation error: run the
/// study with `.result = hpt::TrialResult::best_step` (StudyOptions) to make that step each
/// trial's result; the default rule reports the last step, as every other trial's.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/stopping/policy.hpp"

namespace hpt {

namespace detail {

/// @brief Number formatting and the checks the three criteria share.
struct Prechelt {
  static std::string number(double value) { return format_short(value); }
  [[noreturn]] static void fail(const char* policy, const std::string& rule,
                                const std::string& value) {
    throw std::invalid_argument(std::string("hpt::") + policy + ": " + rule + ", got " + value);
  }
  static void require_minimize(const char* policy, const StepReport& report) {
    if (report.direction == Direction::maximize)
      throw std::invalid_argument(std::string("hpt::") + policy +
                                  ": Prechelt's criteria need a minimized, positive validation "
                                  "error as objective, but the study's direction is maximize");
  }
  /// @brief Updates E_opt with E_va(t) and returns GL(t).
  static double generalization_loss(const char* policy, const StepReport& report,
                                    double& best_error, std::int64_t& best_step) {
    if (report.objective < best_error) {
      best_error = report.objective;
      best_step = report.step;
    }
    if (!(best_error > 0))
      fail(policy, "the validation error must be positive (E_opt, its minimum so far, divides GL)",
           "E_opt " + number(best_error) + " at step " + std::to_string(best_step));
    return 100 * (report.objective / best_error - 1);
  }
};

}  // namespace detail

/// @brief GL_alpha: stops after the first step t with GL(t) > alpha (a generalization loss of
/// more than alpha percent over the best validation error so far).
struct GeneralizationLoss {
  /// The tolerated generalization loss in percent; must be set (> 0).
  double alpha = 0;

  /// @brief One trial's E_opt.
  struct State {
    double best_error = std::numeric_limits<double>::infinity();
    std::int64_t best_step = 0;
  };

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("GeneralizationLoss").add("alpha", alpha).str();
  }

  void validate() const {
    if (!(std::isfinite(alpha) && alpha > 0))
      detail::Prechelt::fail("GeneralizationLoss", "alpha must be finite and > 0",
                             detail::Prechelt::number(alpha));
  }

  /// @brief Judges a trial after its step.
  [[nodiscard]] Verdict check(State& state, const StepReport& report) const {
    validate();
    detail::Prechelt::require_minimize("GeneralizationLoss", report);
    const double loss = detail::Prechelt::generalization_loss("GeneralizationLoss", report,
                                                              state.best_error, state.best_step);
    if (!(loss > alpha)) return Verdict::proceed();
    using detail::Prechelt;
    return Verdict::stop("GeneralizationLoss",
                         "generalization loss GL = " + Prechelt::number(loss) + "% > alpha " +
                             Prechelt::number(alpha) + " at step " + std::to_string(report.step) +
                             ": validation error " + Prechelt::number(report.objective) +
                             ", best " + Prechelt::number(state.best_error) + " at step " +
                             std::to_string(state.best_step));
  }
};

/// @brief PQ_alpha: at the end of each training strip, stops when GL(t) / P_k(t) > alpha (the
/// generalization loss is high compared with the training progress).
///
/// The training error E_tr is the metric `training_metric`. A strip in which the training error
/// is NaN makes no decision (the Divergence policy deals with that). When P_k(t) = 0 (the training
/// error did not move), the quotient is infinite if GL(t) > 0, so the trial stops, and 0 if
/// GL(t) = 0. A non-positive training error throws std::invalid_argument.
struct ProgressQuotient {
  /// The tolerated quotient GL / P_k; must be set (> 0).
  double alpha = 0;
  /// k, the length of a training strip in steps.
  std::int64_t strip_length = 5;
  /// The metric holding the training error.
  std::string training_metric = "train_loss";

  /// @brief One trial's E_opt and its current strip.
  struct State {
    double best_error = std::numeric_limits<double>::infinity();
    std::int64_t best_step = 0;
    double strip_sum = 0;
    double strip_min = std::numeric_limits<double>::infinity();
    std::int64_t strip_count = 0;
  };

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("ProgressQuotient")
        .add("alpha", alpha)
        .add("strip_length", strip_length)
        .metric("training_metric", training_metric)
        .str();
  }

  void validate() const {
    using detail::Prechelt;
    if (!(std::isfinite(alpha) && alpha > 0))
      Prechelt::fail("ProgressQuotient", "alpha must be finite and > 0", Prechelt::number(alpha));
    if (strip_length < 1)
      Prechelt::fail("ProgressQuotient", "strip_length must be >= 1", std::to_string(strip_length));
    if (training_metric.empty())
      Prechelt::fail("ProgressQuotient",
                     "training_metric must name the metric holding the training error",
                     "an empty name");
  }

  /// @brief Judges a trial after its step.
  [[nodiscard]] Verdict check(State& state, const StepReport& report) const {
    using detail::Prechelt;
    validate();
    Prechelt::require_minimize("ProgressQuotient", report);
    const double loss = Prechelt::generalization_loss("ProgressQuotient", report, state.best_error,
                                                      state.best_step);

    if ((report.step - 1) % strip_length == 0) {  // a new strip begins
      state.strip_sum = 0;
      state.strip_min = std::numeric_limits<double>::infinity();
      state.strip_count = 0;
    }
    const double training_error = report.value(training_metric);
    if (training_error <= 0)
      Prechelt::fail("ProgressQuotient",
                     "the training error \"" + training_metric + "\" must be positive for P_k",
                     Prechelt::number(training_error) + " at step " + std::to_string(report.step));
    state.strip_sum += training_error;  // NaN poisons the sum: the strip decides nothing
    if (training_error < state.strip_min) state.strip_min = training_error;
    ++state.strip_count;
    if (report.step % strip_length != 0 || state.strip_count != strip_length ||
        std::isnan(state.strip_sum))
      return Verdict::proceed();

    const double k = static_cast<double>(strip_length);
    const double progress = 1000 * (state.strip_sum / (k * state.strip_min) - 1);
    const double quotient =
        progress > 0 ? loss / progress : (loss > 0 ? std::numeric_limits<double>::infinity() : 0);
    if (!(quotient > alpha)) return Verdict::proceed();
    return Verdict::stop(
        "ProgressQuotient",
        "GL / P_k = " + Prechelt::number(loss) + " / " + Prechelt::number(progress) + " = " +
            Prechelt::number(quotient) + " > alpha " + Prechelt::number(alpha) +
            " at the strip ending at step " + std::to_string(report.step) +
            " (k = " + std::to_string(strip_length) + "): validation error " +
            Prechelt::number(report.objective) + ", best " + Prechelt::number(state.best_error) +
            " at step " + std::to_string(state.best_step));
  }
};

/// @brief UP_s: stops at the end of a strip when the validation error at the end of each of the
/// last s strips was larger than at the end of the strip before it.
///
/// Prechelt's recursion (UP_1 stops at the first strip end t with E_va(t) > E_va(t − k); UP_s
/// stops at t when UP_{s−1} would stop at t − k and E_va(t) > E_va(t − k)) amounts to s
/// successive rises between strip ends; the first strip end, t = k, has nothing to compare with,
/// so UP_s stops at step (s + 1)·k at the earliest. UP compares errors only, so it accepts any
/// sign of error, but like GL and PQ it refuses a maximized objective.
struct UpStrips {
  /// s, how many successive strips must end higher than the one before; must be set (>= 1).
  std::int64_t strips = 0;
  /// k, the length of a strip in steps.
  std::int64_t strip_length = 5;

  /// @brief One trial's chain of rising strip ends.
  struct State {
    std::vector<double> rising{};  ///< E_va at the strip ends of the current run of rises
  };

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("UpStrips")
        .add("strips", strips)
        .add("strip_length", strip_length)
        .str();
  }

  void validate() const {
    using detail::Prechelt;
    if (strips < 1) Prechelt::fail("UpStrips", "strips must be >= 1", std::to_string(strips));
    if (strip_length < 1)
      Prechelt::fail("UpStrips", "strip_length must be >= 1", std::to_string(strip_length));
  }

  /// @brief Judges a trial after its step.
  [[nodiscard]] Verdict check(State& state, const StepReport& report) const {
    using detail::Prechelt;
    validate();
    Prechelt::require_minimize("UpStrips", report);
    if (report.step % strip_length != 0) return Verdict::proceed();
    std::vector<double>& rising = state.rising;
    if (!rising.empty() && !(report.objective > rising.back())) rising.clear();
    rising.push_back(report.objective);
    // Keep s + 1 values: enough for the reason, bounded when a composition keeps the trial going.
    if (static_cast<std::int64_t>(rising.size()) > strips + 1) rising.erase(rising.begin());
    if (static_cast<std::int64_t>(rising.size()) <= strips) return Verdict::proceed();

    std::string chain;
    for (const double error : rising)
      chain += (chain.empty() ? "" : " < ") + Prechelt::number(error);
    return Verdict::stop("UpStrips", "validation error rose in " + std::to_string(strips) +
                                         " successive strips of " + std::to_string(strip_length) +
                                         " steps, up to step " + std::to_string(report.step) +
                                         ": " + chain);
  }
};

}  // namespace hpt
