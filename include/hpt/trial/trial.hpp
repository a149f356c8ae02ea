#pragma once
/// @file trial.hpp
/// @brief The record of one trial: configuration, learning curve, status and why.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/direction.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/core/trial_status.hpp"

namespace hpt {

/// @brief One point of a learning curve.
struct Step {
  std::int64_t step = 0;  ///< 1 for the first step; equals the resource consumed so far.
  double objective = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<std::string, double>> values{};  ///< Further named metrics.
};

/// @brief Everything known about one trial.
struct Trial {
  std::size_t id = 0;  ///< Dense, 0-based, in creation order.
  Config config{};
  std::vector<Step> curve{};  ///< Every reported step, in order.
  TrialStatus status = TrialStatus::pending;
  std::string reason{};      ///< Why it ended as it did (policy and numbers, exception text, rung).
  std::string stopped_by{};  ///< The policy that stopped it, if any.
  FailureStage failure = FailureStage::none;  ///< Where it failed (status failed), else none.
  int bracket = 0;            ///< Hyperband bracket (0 for single-bracket strategies).
  int rung = 0;               ///< The highest rung the trial reached.
  std::int64_t resource = 0;  ///< Steps done.
  double wall_seconds = 0;    ///< Time spent in the trial's constructor and steps.
  /// The index in `curve` of the step whose objective is the trial's result; empty for the last
  /// step. The engine keeps it up to date after every step by the study's rule (StudyOptions::
  /// result): empty under TrialResult::last_step, the best step so far under best_step.
  std::optional<std::size_t> result_index{};

  /// @brief The trial's result: the objective of its result step, NaN when it has none.
  [[nodiscard]] double result() const noexcept {
    if (result_index && *result_index < curve.size()) return curve[*result_index].objective;
    if (!curve.empty()) return curve.back().objective;
    return std::numeric_limits<double>::quiet_NaN();
  }

  /// @brief The step number of the result (0 when there is none).
  [[nodiscard]] std::int64_t result_step() const noexcept {
    if (result_index && *result_index < curve.size()) return curve[*result_index].step;
    return curve.empty() ? 0 : curve.back().step;
  }

  /// @brief True once the trial can no longer run.
  [[nodiscard]] bool finished() const noexcept {
    return status == TrialStatus::completed || status == TrialStatus::stopped ||
           status == TrialStatus::pruned || status == TrialStatus::failed ||
           status == TrialStatus::diverged;
  }
};

/// @brief Updates `trial.result_index` after a step was appended to its curve, by the study's
/// rule: under best_step the best finite objective so far (a NaN or an infinity is never the
/// best step); under last_step it stays empty (the last step is the result).
inline void update_result(Trial& trial, Direction direction, TrialResult rule) noexcept {
  if (rule != TrialResult::best_step || trial.curve.empty()) return;
  const std::size_t latest = trial.curve.size() - 1;
  const double objective = trial.curve[latest].objective;
  if (!std::isfinite(objective)) return;
  if (!trial.result_index ||
      is_better(direction, objective, trial.curve[*trial.result_index].objective))
    trial.result_index = latest;
}

}  // namespace hpt
