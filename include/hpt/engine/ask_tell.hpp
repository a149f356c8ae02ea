#pragma once
/// @file ask_tell.hpp
/// @brief A study driven by a loop of your own (Optuna's study.ask() / study.tell()), with every
/// strategy, stopping policy and the same record as hpt::tune.
///
/// ```
/// hpt::AskTell study(space, hpt::Hyperband{.max_resource = 27}, hpt::Patience{.patience = 3});
/// while (auto job = study.ask()) {
///   Model& model = models[job->trial];                 // keep a paused trial's model yourself
///   if (job->steps_done == 0) model = Model(job->config);
///   while (study.report(job->trial, model.train_one_epoch())) {}
/// }
/// hpt::Study result = study.finish();
/// ```
/// ask() hands out a job: run trial `trial` from step `steps_done + 1` to `resource`. report()
/// records one step and says whether the job goes on: it ends by itself when the trial reaches the
/// job's resource, when the stopping policy stops it, when the objective is NaN or infinite, or
/// when Metrics::done is set. fail() records a trial your loop could not train. With several jobs
/// out at once (your own threads or processes), call AskTell from one thread at a time.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/engine/coordinator.hpp"
#include "hpt/engine/trial_runner.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/study.hpp"

namespace hpt {

/// @brief One job handed out by AskTell::ask().
struct TrialJob {
  std::size_t trial = 0;
  Config config{};
  std::int64_t steps_done = 0;  ///< Steps the trial did in earlier jobs (0 for a new trial).
  std::int64_t resource = 0;    ///< Run it until it has done this many steps in all.
  bool last_rung = false;       ///< Reaching `resource` completes the trial.
};

/// @brief A study whose trials your own loop trains; see the file comment.
template <SearchStrategy Strategy, StoppingPolicy Policy = NoStopping>
class AskTell {
  struct NoTrainable {};
  /// The runner the coordinator frees trials with: here a trial holds only its rule's state.
  struct Runner {
    using Slot = detail::TrialSlot<NoTrainable, Policy>;
    void release(Slot& slot, TrialStatus) { slot.state = {}; }
  };
  using Sched = decltype(std::declval<const Strategy&>().make_scheduler(
      std::declval<const SearchSpace&>(), std::uint64_t{}));

 public:
  /// @throws std::invalid_argument for bad strategy, policy or study settings (as hpt::tune).
  AskTell(const SearchSpace& space, Strategy strategy, Policy policy = {},
          StudyOptions options = {})
      : strategy_(validated(std::move(strategy))),
        policy_(std::move(policy)),
        study_(checked(space, std::move(options)), strategy_.schedule(space)),
        scheduler_(strategy_.make_scheduler(space, study_.options().seed)),
        coordinator_(runner_, scheduler_, policy_, study_) {
    validate_policy(policy_);
  }
  AskTell(const AskTell&) = delete;
  AskTell& operator=(const AskTell&) = delete;

  /// @brief The next job, or nothing for now: when jobs are out, their results may make more
  /// work (finished() tells whether any will ever come).
  [[nodiscard]] std::optional<TrialJob> ask() {
    const auto job = coordinator_.next_job();
    if (!job) return std::nullopt;
    auto& slot = coordinator_.begin(*job);
    if (job->trial >= running_.size()) running_.resize(job->trial + 1);
    running_[job->trial] = *job;
    return TrialJob{job->trial, study_.trials()[job->trial].config, slot.steps, job->resource,
                    job->last_rung};
  }

  /// @brief Records the next step of a trial whose job is out; true while the job goes on.
  /// @throws std::invalid_argument when the trial has no job out.
  bool report(std::size_t trial, Metrics metrics) {
    const Job job = running(trial, "report");
    auto& slot = coordinator_.slot(trial);
    ++slot.steps;
    detail::JobDone done{.job = job};
    detail::judge_step(policy_, slot.state, coordinator_, trial, slot.steps, std::move(metrics),
                       study_.options(), done);
    if (done.status == TrialStatus::running && slot.steps < job.resource) return true;
    detail::reach_resource(job, slot.steps, done);
    end_job(std::move(done));
    return false;
  }
  /// @brief report() with the objective alone.
  bool report(std::size_t trial, double objective) {
    return report(trial, Metrics{.objective = objective});
  }

  /// @brief Records a trial your loop could not train (e.g. its step threw) as failed.
  void fail(std::size_t trial, std::string reason) {
    detail::JobDone done{.job = running(trial, "fail")};
    done.status = TrialStatus::failed;
    done.failure = FailureStage::step;
    done.reason = std::move(reason);
    end_job(std::move(done));
  }

  /// @brief True once no job will ever come again.
  [[nodiscard]] bool finished() const { return scheduler_.finished(); }

  /// @brief The record so far.
  [[nodiscard]] const Study& study() const noexcept { return study_; }

  /// @brief Ends the study (trials left paused are pruned, as hpt::tune does) and returns it.
  /// @throws std::logic_error while jobs are out or the strategy has work left.
  Study finish() {
    for (const auto& job : running_)
      if (job)
        throw std::logic_error("hpt::AskTell::finish: trial " + std::to_string(job->trial) +
                               " still has a job out");
    coordinator_.finish();
    return study_;
  }

 private:
  static Strategy validated(Strategy strategy) {
    strategy.validate();
    return strategy;
  }
  static StudyOptions checked(const SearchSpace& space, StudyOptions options) {
    options.validate();
    if (options.storage)  // its loop is the user's: nothing here would open or resume the study
      throw std::invalid_argument(
          "hpt::AskTell: StudyOptions::storage is not supported by AskTell yet (use hpt::tune, "
          "or store the study yourself)");
    detail::check_enqueued(space, options.enqueue);
    return options;
  }

  Job running(std::size_t trial, const char* what) const {
    if (trial >= running_.size() || !running_[trial])
      throw std::invalid_argument(std::string("hpt::AskTell::") + what + ": trial " +
                                  std::to_string(trial) + " has no job out (ask() hands them out)");
    return *running_[trial];
  }

  void end_job(detail::JobDone&& done) {
    running_[done.job.trial].reset();
    coordinator_.done(std::move(done));
  }

  Strategy strategy_;
  Policy policy_;
  Study study_;
  Sched scheduler_;
  Runner runner_;
  detail::Coordinator<Runner, Sched, Policy> coordinator_;
  std::vector<std::optional<Job>> running_;  // by trial: its job out, if any
};

}  // namespace hpt
