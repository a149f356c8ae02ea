#pragma once
/// @file trial_status.hpp
/// @brief The states of a trial.

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
  }
  return "unknown";
}

}  // namespace hpt
