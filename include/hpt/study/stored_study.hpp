#pragma once
/// @file stored_study.hpp
/// @brief A study read back from its log alone, without the strategy, space or trainable that
/// made it: to inspect a study on disk (the `hpt` tool, a report, a notebook of one's own).
///
/// Resuming a study replays its log through a fresh coordinator (tune.hpp), which decides again
/// what the scheduler decided. Reading it here takes the log's word instead: every trial's record
/// (configuration, kept steps, status, reason, rung, result) is what a resumed study would hold,
/// and a finished study reads back equal to the Study its tune() call returned, the trials' wall
/// times included (the study's own wall time is not stored). The steps of a job cut short
/// (interrupted, not started, or abandoned because its session died) are left out, as a resume
/// leaves them out: the job runs again.

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/scheduling/schedule.hpp"
#include "hpt/study/events.hpp"
#include "hpt/study/storage.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {

/// @brief A study as its stored log tells it (read_stored_study).
struct StoredStudy {
  StudyIdentity identity{};
  /// The trials as the log has them; options: name, direction, seed, result rule; schedule:
  /// the stored plan. interrupted() is true until the log says the study finished.
  Study study{};
  bool finished = false;           ///< The log ends the study (a StudyFinished event).
  std::size_t running_jobs = 0;    ///< Jobs started and not (yet) ended or abandoned.
  std::size_t sessions = 0;        ///< Distinct sessions that ran jobs.
  std::size_t events = 0;          ///< Events in the log.
  std::size_t restarted_jobs = 0;  ///< Jobs that ran again after being cut short.
};

namespace detail {

/// @brief Builds a StoredStudy event by event. Throws StorageError naming the study and the
/// event (1-based, as the storages number them) for a log that contradicts itself: a step, an
/// end or a pruning of a trial with no job out, a trial created out of order.
class StoredStudyReader {
 public:
  explicit StoredStudyReader(const StudyIdentity& identity) {
    result_.identity = identity;
    StudyOptions options;
    options.name = identity.name;
    options.direction = identity.direction;
    options.seed = identity.seed;
    options.result = identity.result;
    Schedule schedule;
    try {
      schedule = parse_schedule(identity.strategy);
    } catch (const std::invalid_argument&) {
      schedule.strategy = identity.strategy;  // a plan this hpt cannot read: its text only
    }
    result_.study = Study(std::move(options), std::move(schedule));
    result_.study.set_interrupted(true);
  }

  void read(const StudyEvent& event) {
    ++result_.events;
    std::visit([this](const auto& e) { apply(e); }, event);
  }

  StoredStudy finish() && {
    result_.running_jobs = open_.size();
    result_.sessions = sessions_.size();
    return std::move(result_);
  }

 private:
  struct Open {
    std::vector<Step> steps;
    int rung_before;
  };

  [[noreturn]] void refuse(const std::string& what) const {
    throw StorageError("hpt: study \"" + result_.identity.name + "\": stored event " +
                       std::to_string(result_.events) + ": " + what);
  }

  Trial& trial(std::size_t id, const char* what) {
    if (id >= result_.study.trials().size())
      refuse(std::string(what) + " of trial " + std::to_string(id) + ", which was never created");
    return result_.study.trials()[id];
  }

  Open& open_job(std::size_t id, const char* what) {
    const auto found = open_.find(id);
    if (found == open_.end())
      refuse(std::string(what) + " of trial " + std::to_string(id) + ", which has no job out");
    return found->second;
  }

  void apply(const TrialCreated& made) {
    if (made.trial != result_.study.trials().size())
      refuse("creates trial " + std::to_string(made.trial) + " where trial " +
             std::to_string(result_.study.trials().size()) + " comes next");
    Trial record;
    record.id = made.trial;
    record.config = made.config;
    record.bracket = made.bracket;
    result_.study.add_trial(std::move(record));
  }

  void apply(const JobStarted& started) {
    Trial& record = trial(started.job.trial, "a job");
    if (open_.count(record.id)) refuse("a second job of trial " + std::to_string(record.id));
    if (started.restart) ++result_.restarted_jobs;
    open_[record.id] = Open{{}, record.rung};
    record.status = TrialStatus::running;
    record.rung = started.job.rung;
    if (started.session != 0) sessions_[started.session] = true;
  }

  void apply(const StepRecorded& recorded) {
    (void)trial(recorded.trial, "a step");
    open_job(recorded.trial, "a step").steps.push_back(recorded.point);
  }

  void apply(const JobEnded& ended) {
    Trial& record = trial(ended.trial, "the end of a job");
    Open job = std::move(open_job(ended.trial, "the end of a job"));
    open_.erase(ended.trial);
    if (ended.status == TrialStatus::running || ended.status == TrialStatus::pending)
      refuse("a job of trial " + std::to_string(ended.trial) + " ended " +
             std::string(to_string(ended.status)) + ", which is not an end");
    if (keeps_checkpoint(ended)) return cut(record, job);  // it runs again
    for (Step& point : job.steps) {
      record.resource = point.step;
      record.curve.push_back(std::move(point));
      update_result(record, result_.study.direction(), result_.identity.result);
    }
    record.status = ended.status;
    if (!ended.reason.empty()) record.reason = ended.reason;
    if (!ended.stopped_by.empty()) record.stopped_by = ended.stopped_by;
    record.failure = ended.failure;
    record.wall_seconds += ended.wall_seconds;
  }

  void apply(const JobAbandoned& abandoned) {
    Trial& record = trial(abandoned.trial, "the abandoned job");
    Open job = std::move(open_job(abandoned.trial, "the abandoned job"));
    open_.erase(abandoned.trial);
    cut(record, job);
  }

  void apply(const TrialPruned& pruned) {
    Trial& record = trial(pruned.trial, "the pruning");
    if (open_.count(record.id))
      refuse("prunes trial " + std::to_string(record.id) + " while its job runs");
    if (record.finished()) return;  // as the coordinator: it ended meanwhile
    record.status = TrialStatus::pruned;
    record.rung = pruned.rung;
    record.reason = pruned.reason;
  }

  void apply(const StudyFinished&) {
    result_.finished = true;
    result_.study.set_interrupted(false);
  }

  /// A job cut short: the trial is as it was before it, and the job runs again.
  static void cut(Trial& record, const Open& job) {
    record.status = record.resource > 0 ? TrialStatus::paused : TrialStatus::pending;
    record.rung = job.rung_before;
  }

  StoredStudy result_;
  std::map<std::size_t, Open> open_;  // by trial: its job out
  std::map<std::uint64_t, bool> sessions_;
};

}  // namespace detail

/// @brief The study `identity` names as `events` (its whole log, in order) tell it; see the file
/// comment. Throws StorageError naming the study and the event for a log that contradicts itself.
inline StoredStudy read_stored_study(const StudyIdentity& identity,
                                     std::span<const StudyEvent> events) {
  detail::StoredStudyReader reader(identity);
  for (const StudyEvent& event : events) reader.read(event);
  return std::move(reader).finish();
}

}  // namespace hpt
