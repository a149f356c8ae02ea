#pragma once
/// @file trial_result.hpp
/// @brief Which step of a learning curve is "the result of a trial": one rule per study, used for
/// everything that compares trials (a halving strategy's rung ranking, ASHA's promotions, the
/// best trial, the leaderboard and the exports).

#include <stdexcept>
#include <string>
#include <string_view>

namespace hpt {

/// @brief The rule that turns a trial's learning curve into its result.
///
/// - `last_step` (the default): the objective of the trial's last step, i.e. its value at the
///   resource it reached. Successive halving, Hyperband and ASHA rank a rung by it, as their papers
///   do; Ray Tune's default scope ("last") and Keras without restore_best_weights report it. It is
///   the state the trainable is in, so retraining the configuration for `resource` steps gives it.
/// - `best_step`: the best objective over the trial's steps so far (ties to the earlier step;
///   NaN is never best). Keras's restore_best_weights reports this (Keras 3 at the end of
///   training too, older tf.keras only when it stopped early); halving strategies then rank a
///   rung by each trial's best value up to the rung's resource. Use it when the trainer keeps (or
///   can rebuild) its best state, e.g. by checkpointing on improvement; otherwise retrain the
///   configuration for `Trial::result_step()` steps to get it.
enum class TrialResult { last_step, best_step };

/// @brief "last_step" or "best_step".
constexpr std::string_view to_string(TrialResult rule) noexcept {
  return rule == TrialResult::last_step ? "last_step" : "best_step";
}

/// @brief Parses "last_step" or "best_step"; throws std::invalid_argument naming the text
/// otherwise.
inline TrialResult parse_trial_result(std::string_view text) {
  if (text == "last_step") return TrialResult::last_step;
  if (text == "best_step") return TrialResult::best_step;
  throw std::invalid_argument(
      "hpt: the trial result rule must be \"last_step\" or \"best_step\", "
      "got \"" +
      std::string(text) + "\"");
}

}  // namespace hpt
