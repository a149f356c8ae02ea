#pragma once
/// @file trial_status.hpp
/// @brief The states of a trial, and where a failed one failed.

#include <string_view>

namespace hpt {

/// @brief Where a trial is in its life, and how it ended.
enum class TrialStatus {
  pending,    ///< Created, not started.
  running,    ///< Being stepped.
  paused,     ///< Waiting at a rung for a halving strategy's decision.
  completed,  ///< Ran its whole budget, or said it was done.
  stopped,    ///< Ended early by a stopping policy.
  pruned,     ///< Not promoted by the search strategy at a rung.
  failed,     ///< Its constructor or step() threw.
  diverged,   ///< Reported NaN or infinity, or a policy judged it divergent.
  /// Was running when the study was asked to stop (StudyOptions::stop): what it did is kept,
  /// and it could run on.
  interrupted,
};

/// @brief The name of a status, as printed and serialised.
constexpr std::string_view to_string(TrialStatus status) noexcept {
  switch (status) {
    case TrialStatus::pending:
      return "pending";
    case TrialStatus::running:
      return "running";
    case TrialStatus::paused:
      return "paused";
    case TrialStatus::completed:
      return "completed";
    case TrialStatus::stopped:
      return "stopped";
    case TrialStatus::pruned:
      return "pruned";
    case TrialStatus::failed:
      return "failed";
    case TrialStatus::diverged:
      return "diverged";
    case TrialStatus::interrupted:
      return "interrupted";
  }
  return "unknown";
}

/// @brief Where a failed trial failed: a value next to its message, so that exports and reports
/// can filter without parsing text.
enum class FailureStage {
  none,       ///< Not failed.
  construct,  ///< Making the trainable (the factory, the constructor or reset()).
  step,       ///< step() threw.
  save,       ///< save() threw while checkpointing a paused trial.
  restore,    ///< restore() threw while resuming it.
  policy,     ///< The stopping policy threw.
};

/// @brief The name of a failure stage, as printed and serialised.
constexpr std::string_view to_string(FailureStage stage) noexcept {
  switch (stage) {
    case FailureStage::none:
      return "none";
    case FailureStage::construct:
      return "construct";
    case FailureStage::step:
      return "step";
    case FailureStage::save:
      return "save";
    case FailureStage::restore:
      return "restore";
    case FailureStage::policy:
      return "policy";
  }
  return "unknown";
}

}  // namespace hpt
