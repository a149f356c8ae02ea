#pragma once
/// @file events.hpp
/// @brief What happens to a study, as plain values in the coordinator's order: the log a storage
/// keeps. Replaying a study's events into a fresh coordinator rebuilds its trials, its scheduler,
/// its sampler and its stopping rules exactly (docs/storage.md).
///
/// The log holds the coordinator's inputs, not its conclusions: a job handed out, each step a
/// trial reported, how each job ended. What the scheduler decides from them (promotions,
/// prunings) is decided again on replay; TrialPruned is written so the log alone says how every
/// trial ended, and is checked on replay, never trusted.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "hpt/core/config.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {

/// @brief A new trial and its configuration (before its first job starts).
struct TrialCreated {
  std::size_t trial = 0;
  int bracket = 0;
  Config config{};
};

/// @brief The scheduler handed out a job (a new trial's first or a paused trial's next), or,
/// with `restart`, a job that was cut short (JobAbandoned, or an interrupted or unstarted
/// JobEnded) runs again: what that job's earlier attempt reported is void.
struct JobStarted {
  Job job{};
  bool restart = false;
  /// The session (one process's connection to the study, Storage::session) that runs the job.
  std::uint64_t session = 0;
};

/// @brief A trial reported a step.
struct StepRecorded {
  std::size_t trial = 0;
  Step point{};
};

/// @brief A job ended: the trial paused at its rung, or ended for good, or was interrupted.
struct JobEnded {
  std::size_t trial = 0;
  TrialStatus status = TrialStatus::paused;
  std::string reason{};
  std::string stopped_by{};
  FailureStage failure = FailureStage::none;
  double wall_seconds = 0;     ///< This job's time in the trainable.
  std::int64_t steps_run = 0;  ///< Steps this job ran.
  bool started = true;  ///< False: the study stopped before the job began (the trial stays paused).
  /// A paused trial's save(), when it was saved: a view of the coordinator's copy, valid only
  /// during Storage::append (a storage copies what it keeps; a copied event must not read it).
  /// Empty in events read back: see Storage::checkpoint.
  std::string_view checkpoint{};
  bool saved = false;  ///< `checkpoint` holds a save() (possibly empty).
};

/// @brief The scheduler pruned a paused trial (or the study ended with it paused).
struct TrialPruned {
  std::size_t trial = 0;
  int rung = 0;
  std::string reason{};
};

/// @brief The study's schedule is done: every trial has ended.
struct StudyFinished {};

/// @brief The session running a trial's job is gone (its process died, or stopped renewing its
/// lease): the job's attempt is void and the job runs again, from the trial's last checkpoint,
/// in whichever session asks for work next. Written by the session that noticed.
struct JobAbandoned {
  std::size_t trial = 0;
  std::uint64_t session = 0;  ///< The session that had the job.
  std::string reason{};
};

/// @brief One entry of a study's log.
using StudyEvent = std::variant<TrialCreated, JobStarted, StepRecorded, JobEnded, TrialPruned,
                                StudyFinished, JobAbandoned>;

/// @brief The event's kind as the storages write it: "trial_created", "job_started", "step",
/// "job_ended", "trial_pruned", "study_finished" or "job_abandoned".
constexpr std::string_view event_kind(const StudyEvent& event) noexcept {
  constexpr std::string_view kinds[] = {"trial_created", "job_started",  "step",
                                        "job_ended",     "trial_pruned", "study_finished",
                                        "job_abandoned"};
  return kinds[event.index()];
}

}  // namespace hpt
