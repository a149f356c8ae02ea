#pragma once
/// @file ask_tell.hpp
/// @brief A study driven by a loop of your own (Optuna's study.ask() / study.tell()), with every
/// strategy, stopping policy and the same record as hpt::tune, optionally written to a storage
/// and resumed from it as hpt::tune does.
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
///
/// With StudyOptions::storage (docs/storage.md), the constructor opens the study `name` as
/// StudyOptions::open says and resumes it by replaying its log, as hpt::tune does; ask() and each
/// job's end are one transaction each (the steps of a job go with its end, which is committed
/// before report() or fail() returns), finish() writes the study's end, and the destructor (or
/// close()) ends the session. Jobs out when the session ends are handed out again, first, when
/// the study resumes: TrialJob::catch_up then says the loop must bring a new model to
/// `steps_done` first (AskTell stores no checkpoints of its own).

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/engine/coordinator.hpp"
#include "hpt/engine/trial_runner.hpp"
#include "hpt/engine/tune.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/storage.hpp"
#include "hpt/study/study.hpp"

namespace hpt {

/// @brief One job handed out by AskTell::ask().
struct TrialJob {
  std::size_t trial = 0;
  Config config{};
  std::int64_t steps_done = 0;  ///< Steps the trial has recorded (0 for a new trial).
  std::int64_t resource = 0;    ///< Run it until it has done this many steps in all.
  bool last_rung = false;       ///< Reaching `resource` completes the trial.
  /// With a storage: the trial's recorded steps were not trained by this AskTell (they ran before
  /// the study was resumed, or in another session), so your loop has no model of it at step
  /// `steps_done` (one it kept may be at an older step). Make a new one and bring it there before
  /// reporting step `steps_done + 1`: restore `checkpoint` if it holds one, else retrain
  /// `steps_done` steps without reporting them.
  bool catch_up = false;
  /// With a storage: this job was handed out before and cut short (its session ended or died
  /// with the job out); it runs again from `steps_done`, and what that attempt reported was
  /// dropped.
  bool restart = false;
  /// With catch_up: the checkpoint stored with the trial's last pause, when the session that
  /// paused it saved one (hpt::tune does, for a Checkpointable trainable on a durable storage;
  /// AskTell stores none).
  std::optional<std::string> checkpoint{};
};

/// @brief A study whose trials your own loop trains; see the file comment.
template <SearchStrategy Strategy, StoppingPolicy Policy = NoStopping>
class AskTell {
  /// A slot's object is a marker: the loop trained the trial's last job in this AskTell (a job
  /// that ran elsewhere drops it), so its next job needs no catch-up.
  struct NoTrainable {};
  /// The runner the coordinator frees trials with: here a trial holds only its rule's state.
  struct Runner {
    using Slot = detail::TrialSlot<NoTrainable, Policy>;
    void release(Slot& slot, TrialStatus) {
      slot.object.reset();
      slot.checkpoint.reset();
      slot.state = {};
    }
  };
  using Sched = decltype(std::declval<const Strategy&>().make_scheduler(
      std::declval<const SearchSpace&>(), std::uint64_t{}));

 public:
  /// @brief A new study, or with StudyOptions::storage the study `options.name` opened (created
  /// or resumed, as `options.open` says) and resumed by replaying its log, as hpt::tune does.
  /// @throws std::invalid_argument for bad strategy, policy or study settings (as hpt::tune).
  /// @throws StorageError when the storage refuses the study (it exists or does not, as `open`
  /// says; it was stored with other settings) or its log cannot be resumed, as hpt::tune does.
  AskTell(const SearchSpace& space, Strategy strategy, Policy policy = {},
          StudyOptions options = {})
      : strategy_(validated(std::move(strategy))),
        policy_(std::move(policy)),
        study_(checked(space, std::move(options)), strategy_.schedule(space)),
        session_{study_.options().storage.get()},
        scheduler_(strategy_.make_scheduler(space, study_.options().seed)),
        coordinator_(runner_, scheduler_, policy_, study_) {
    validate_policy(policy_);
    Storage* storage = session_.storage;
    if (!storage) return;
    std::vector<StudyEvent> events;
    try {
      events = storage->open(detail::identity_of(study_, space, policy_settings(policy_)),
                             study_.options().open);
    } catch (...) {
      storage->close();  // as hpt::tune: whatever the open left ends with it
      throw;
    }
    session_.id = storage->session();
    coordinator_.resume(events);  // a log this study cannot continue throws, naming the event
  }
  AskTell(const AskTell&) = delete;
  AskTell& operator=(const AskTell&) = delete;

  /// @brief The next job, or nothing for now: when jobs are out (here or, with a storage, in
  /// other sessions of the study), their results may make more work (finished() tells whether any
  /// will ever come). Jobs cut short before the study was resumed come first. Nothing either once
  /// StudyOptions::stop asks the study to stop.
  /// @throws std::logic_error after close(), or after a storage transaction failed.
  [[nodiscard]] std::optional<TrialJob> ask() {
    usable("ask");
    if (coordinator_.stop_requested()) return std::nullopt;
    std::optional<TrialJob> handed;
    std::optional<Out> out;
    transaction([&] {
      const auto job = coordinator_.next_job();
      if (!job) return;
      auto& slot = coordinator_.begin(*job);
      handed.emplace(TrialJob{.trial = job->trial,
                              .config = study_.trials()[job->trial].config,
                              .steps_done = slot.steps,
                              .resource = job->resource,
                              .last_rung = job->last_rung,
                              .catch_up = !slot.object && slot.steps > 0,
                              .restart = coordinator_.began_restart()});
      if (slot.checkpoint) {  // begin() read it from the storage: the loop restores it
        handed->checkpoint = std::move(*slot.checkpoint);
        slot.checkpoint.reset();
      }
      if (!slot.object) slot.object = std::make_unique<NoTrainable>();
      out = Out{*job, slot.steps};
    });
    if (!handed) return std::nullopt;
    if (handed->trial >= running_.size()) running_.resize(handed->trial + 1);
    running_[handed->trial] = *out;  // once committed: a failed hand-out is not out
    return handed;
  }

  /// @brief Records the next step of a trial whose job is out; true while the job goes on. The
  /// job's end is written (with its steps) before this returns false.
  /// @throws std::invalid_argument when the trial has no job out.
  bool report(std::size_t trial, Metrics metrics) {
    usable("report");
    const Out out = running(trial, "report");
    auto& slot = coordinator_.slot(trial);
    ++slot.steps;
    detail::JobDone done{.job = out.job};
    detail::judge_step(policy_, slot.state, coordinator_, trial, slot.steps, std::move(metrics),
                       study_.options(), done);
    if (done.status == TrialStatus::running && slot.steps < out.job.resource) return true;
    detail::reach_resource(out.job, slot.steps, done);
    end_job(std::move(done), out);
    return false;
  }
  /// @brief report() with the objective alone.
  bool report(std::size_t trial, double objective) {
    return report(trial, Metrics{.objective = objective});
  }

  /// @brief Records a trial your loop could not train (e.g. its step threw) as failed.
  /// @throws std::invalid_argument when the trial has no job out.
  void fail(std::size_t trial, std::string reason) {
    usable("fail");
    const Out out = running(trial, "fail");
    detail::JobDone done{.job = out.job};
    done.status = TrialStatus::failed;
    done.failure = FailureStage::step;
    done.reason = std::move(reason);
    end_job(std::move(done), out);
  }

  /// @brief True once no job will ever come again: the strategy is done (as far as this session
  /// has read the log), or StudyOptions::stop asked the study to stop.
  [[nodiscard]] bool finished() const {
    return scheduler_.finished() || coordinator_.stop_requested();
  }

  /// @brief The record so far.
  [[nodiscard]] const Study& study() const noexcept { return study_; }

  /// @brief Ends the study (trials left paused are pruned, as hpt::tune does) and returns it.
  /// With a storage, the study's end is written once, by whichever session finishes first; a
  /// study that another session (or an earlier run) finished is returned as stored.
  /// @throws std::logic_error while jobs are out (here or in other sessions) or the strategy has
  /// work left.
  Study finish() {
    usable("finish");
    for (const auto& out : running_)
      if (out)
        throw std::logic_error("hpt::AskTell::finish: trial " + std::to_string(out->job.trial) +
                               " still has a job out");
    std::string left;
    transaction([&] {
      if (!coordinator_.stop_requested() && !scheduler_.finished()) {
        left = coordinator_.others_running()
                   ? "jobs of other sessions of study \"" + study_.options().name +
                         "\" are out (ask() again once they have ended)"
                   : "the strategy has work left (ask() for it)";
        return;  // what the look at the log wrote (abandoned jobs) is committed
      }
      coordinator_.finish();
    });
    if (!left.empty()) throw std::logic_error("hpt::AskTell::finish: " + left);
    return study_;
  }

  /// @brief With a storage: ends this session of the study now, as the destructor does. Jobs
  /// still out are left running in the log; the next session that looks abandons them and they
  /// are handed out again (restart), as for a process that was killed. Any later call but
  /// finished() and study() throws std::logic_error.
  void close() noexcept {
    session_.close();
    closed_ = true;
  }

 private:
  /// A job out, and the trial's steps when it was handed out.
  struct Out {
    Job job;
    std::int64_t steps_before = 0;
  };

  /// This AskTell's session of its stored study: ended with the AskTell (declared before the
  /// coordinator, which ends its transaction first), unless an open() of the same connection by
  /// someone else ended it already.
  struct Session {
    Storage* storage = nullptr;
    std::uint64_t id = 0;
    explicit Session(Storage* opened) noexcept : storage(opened) {}
    void close() noexcept {
      if (storage && id != 0 && storage->session() == id) storage->close();
      id = 0;
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() { close(); }
  };

  static Strategy validated(Strategy strategy) {
    strategy.validate();
    return strategy;
  }
  static StudyOptions checked(const SearchSpace& space, StudyOptions options) {
    options.validate();
    detail::check_enqueued(space, options.enqueue);
    return options;
  }

  /// @brief Throws std::logic_error naming `what` when this AskTell can no longer follow its study.
  void usable(const char* what) const {
    const auto refuse = [&](const std::string& why) {
      throw std::logic_error(std::string("hpt::AskTell::") + what + ": " + why);
    };
    if (closed_) refuse("the AskTell was closed (close())");
    if (!failed_.empty())
      refuse("a storage transaction of study \"" + study_.options().name + "\" failed before (" +
             failed_ +
             "), so this AskTell no longer follows the stored study; make a new one to resume it");
    if (session_.storage && session_.storage->session() != session_.id)
      refuse(
          "its storage connection was opened again (by another AskTell or a tune() call), "
          "which ended this AskTell's session of study \"" +
          study_.options().name +
          "\"; give each its own connection (MemoryStorage::connect(), another "
          "sqlite_storage())");
  }

  Out running(std::size_t trial, const char* what) const {
    if (trial >= running_.size() || !running_[trial])
      throw std::invalid_argument(std::string("hpt::AskTell::") + what + ": trial " +
                                  std::to_string(trial) + " has no job out (ask() hands them out)");
    return *running_[trial];
  }

  /// @brief Runs `body` as one transaction of the storage (the coordinator's sync() ... commit():
  /// the other sessions' events are folded in first, and what `body` writes is committed before
  /// this returns); without a storage, just `body`. When it throws, nothing of it is written and
  /// this AskTell stops (its state may be ahead of the log).
  template <class Body>
  void transaction(Body&& body) {
    if (!session_.storage) return body();
    try {
      coordinator_.sync();
      body();
      coordinator_.commit();
    } catch (const std::exception& error) {
      coordinator_.release();
      failed_ = error.what();
      if (failed_.empty()) failed_ = "an exception";
      throw;
    } catch (...) {
      coordinator_.release();
      failed_ = "a non-standard exception";
      throw;
    }
  }

  /// @brief Records how a job ended, in a transaction of its own: committed before anything
  /// (the scheduler's next decisions, the next ask()) acts on it.
  void end_job(detail::JobDone&& done, const Out& out) {
    done.steps_run = coordinator_.slot(out.job.trial).steps - out.steps_before;
    running_[out.job.trial].reset();
    transaction([&] { coordinator_.apply_done(std::move(done)); });
  }

  Strategy strategy_;
  Policy policy_;
  Study study_;
  Session session_;
  Sched scheduler_;
  Runner runner_;
  detail::Coordinator<Runner, Sched, Policy> coordinator_;
  std::vector<std::optional<Out>> running_;  // by trial: its job out, if any
  bool closed_ = false;
  std::string failed_;  // what a failed storage transaction threw
};

}  // namespace hpt
