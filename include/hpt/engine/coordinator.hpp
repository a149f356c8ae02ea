#pragma once
/// @file coordinator.hpp
/// @brief The coordinator: the one place that decides and records. It owns the scheduler, the
/// study rule (a policy across trials), the study record and the observers, hands jobs to trial
/// runners through an executor, and applies every event they send back on its own thread, in
/// the order they arrive. Nothing else writes a Trial.
///
/// The loop, for any executor: while a worker is free, ask the scheduler for a job (none now
/// means wait for results, not done); wait for events; apply them; tell the scheduler how each
/// finished job went. With one worker the runner runs inline and its events are applied as they
/// happen, which costs what the single-threaded engine cost.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <deque>
#include <exception>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/input_excerpt.hpp"
#include "hpt/engine/trial_runner.hpp"
#include "hpt/executors/thread_pool.hpp"
#include "hpt/observe/observer.hpp"
#include "hpt/sampling/sampler.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/events.hpp"
#include "hpt/study/storage.hpp"
#include "hpt/study/study.hpp"

namespace hpt::detail {

/// @brief Throws std::invalid_argument naming the first enqueued configuration that the space
/// could not have produced, and why.
inline void check_enqueued(const SearchSpace& space, const std::vector<Config>& enqueued) {
  for (std::size_t i = 0; i < enqueued.size(); ++i) {
    try {
      space.check(enqueued[i]);
    } catch (const std::exception& error) {
      std::ostringstream shown;
      shown << enqueued[i];
      throw std::invalid_argument("hpt::StudyOptions: enqueue[" + std::to_string(i) +
                                  "] = " + detail::excerpt(shown.str()) + ": " + error.what());
    }
  }
}

/// @brief Thrown on a worker when the study rule threw something other than a std::exception on
/// the coordinator: the trial fails as it would inline.
struct NonStandardRuleError {};

/// @brief Set by the SIGINT handler that StudyOptions::stop_on_interrupt installs.
inline std::atomic<bool> interrupt_requested{false};

template <class Runner, class Sched, class Policy, class... Observers>
class Coordinator {
  using Slot = typename Runner::Slot;
  using Clock = std::chrono::steady_clock;

 public:
  Coordinator(Runner& runner, Sched& scheduler, Policy& policy, Study& study,
              Observers&... observers)
      : runner_(runner),
        scheduler_(scheduler),
        policy_(policy),
        study_(study),
        options_(study.options()),
        observers_(observers...),
        storage_(options_.storage.get()) {}
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;
  ~Coordinator() { release(); }

  void run() {
    run_with([this] {
      if (options_.workers <= 1)
        run_inline();
      else
        run_pool();
    });
  }

  /// @brief Runs the study with the executor loop `loop` (run_inline and run_pool are two; the
  /// MPI executor is a third, in hpt/executors/remote.hpp): observers hear of the study's start
  /// and end around it, and the study ends (finish()) after it.
  template <class Loop>
  void run_with(Loop&& loop) {
    const auto start = Clock::now();
    each_observer("on_study_start", std::nullopt, [&](auto& o) { notify_study_start(o, study_); });
    if (!finished_) {
      std::forward<Loop>(loop)();
      if (!finished_) finish();  // another session may have finished it
    }
    study_.set_wall_seconds(std::chrono::duration<double>(Clock::now() - start).count());
    each_observer("on_study_end", std::nullopt, [&](auto& o) { notify_study_end(o, study_); });
  }

  [[nodiscard]] Study& study() noexcept { return study_; }
  /// @brief True once the study has ended (here, in another session, or before a resume).
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  /// @brief Makes stop_requested() true for good: an executor's loop is unwinding.
  void abort() noexcept { abort_.store(true, std::memory_order_relaxed); }

  /// @brief A study rule's answer to a worker. When the rule throws, the worker gets the message
  /// and the exception itself stays on the coordinator's thread (rule_errors_): an exception
  /// object shared across threads is freed by whichever drops it last, an order ThreadSanitizer
  /// cannot see inside libstdc++'s reference count.
  struct Ruling {
    Verdict verdict{};
    std::optional<std::string> error{};  ///< The rule threw: what() (or a generic message).
    bool standard = true;                ///< It threw a std::exception.
  };

  /// @brief The study rule's verdict on a worker's step; never throws what the rule threw (the
  /// answer says so, and with catch_exceptions = false the job's end rethrows it).
  [[nodiscard]] Ruling rule(const StepReport& report) {
    Ruling ruling;
    try {
      ruling.verdict = judge(report);
    } catch (const std::exception& error) {
      answer_failed(ruling, error.what(), true, report.trial);
    } catch (...) {
      answer_failed(ruling, "", false, report.trial);
    }
    return ruling;
  }

  // ---- The sink a runner reports to when it runs inline (one worker). ----

  [[nodiscard]] bool stop_requested() const noexcept {
    return options_.stop.stop_requested() || interrupt_requested.load(std::memory_order_relaxed) ||
           abort_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] Verdict judge(const StepReport& report) {
    if constexpr (StudyRule<Policy>) {
      if (!options_.reproducible_lag) return policy_.check(report);
      StepReport seen = report;  // the ends told before this trial's job was handed out
      seen.epoch = visible_of_.at(report.trial);
      return policy_.check(seen);
    } else {
      return {};  // trial rules are judged by the runner
    }
  }
  void step(std::size_t trial, Step&& point) {
    apply_step(study_.trials()[trial], std::move(point));
  }
  void done(JobDone&& done) {
    if (storage_)
      finished_job_ = std::move(done);  // applied after the other sessions' events: see run_inline
    else
      apply_done(std::move(done));
  }

 private:
  // ---- Events from a pool's workers. ----
  struct Steps {
    std::size_t trial;
    std::vector<Step> points;
  };
  struct Judge {
    const StepReport* report;
    std::promise<Ruling>* ruling;
  };
  /// A worker finished its batch of jobs and is free.
  struct WorkerFree {};
  using Event = std::variant<Steps, Judge, JobDone, WorkerFree>;

  /// @brief A runner's sink on a worker, for one batch of jobs: steps and job ends go out
  /// together at most a millisecond late (so observers see long steps as they happen and trivial
  /// jobs cost one lock per batch), and at once before a question to the study rule and at the
  /// end of the batch.
  class WorkerSink {
   public:
    WorkerSink(Coordinator& coordinator, executors::EventQueue<Event>& queue)
        : coordinator_(coordinator), queue_(queue), flushed_(Clock::now()) {}
    [[nodiscard]] bool stop_requested() const noexcept { return coordinator_.stop_requested(); }
    Verdict judge(const StepReport& report) {
      flush();
      std::promise<Ruling> ruling;
      auto answer = ruling.get_future();
      queue_.push(Judge{&report, &ruling});
      Ruling result = answer.get();
      // The rule threw on the coordinator: end the trial here as it would end inline.
      if (result.error && result.standard) throw std::runtime_error(*result.error);
      if (result.error) throw NonStandardRuleError{};
      return std::move(result.verdict);
    }
    void step(std::size_t trial, Step&& point) {
      if (!points_.empty() && trial != points_trial_) close_steps();
      points_trial_ = trial;
      points_.push_back(std::move(point));
      flush_if_due();
    }
    void done(JobDone&& done) {
      close_steps();
      pending_.push_back(std::move(done));
      flush_if_due();
    }
    /// @brief Sends what waits before the next job of the batch starts, so that a job's end is
    /// never held back by a long job after it (a push costs a lock, and wakes the coordinator
    /// only when it sleeps).
    void before_job() {
      if (!pending_.empty()) flush();
    }
    /// @brief The batch is over: everything goes out, with the news that this worker is free.
    void finish() {
      close_steps();
      pending_.push_back(WorkerFree{});
      flush();
    }

   private:
    void close_steps() {
      if (points_.empty()) return;
      pending_.push_back(Steps{points_trial_, std::move(points_)});
      points_ = {};
    }
    void flush_if_due() {
      if (Clock::now() - flushed_ >= std::chrono::milliseconds(1)) flush();
    }
    void flush() {
      flushed_ = Clock::now();
      close_steps();
      if (!pending_.empty()) queue_.push_all(pending_);
    }
    Coordinator& coordinator_;
    executors::EventQueue<Event>& queue_;
    Clock::time_point flushed_;
    std::size_t points_trial_ = 0;
    std::vector<Step> points_;
    std::vector<Event> pending_;
  };

  /// @brief One job of a batch, the slot of its trial and a copy of its configuration (the
  /// study's records may move while workers run).
  struct Handed {
    Job job;
    Slot* slot;
    Config config;
  };

  void run_inline() {
    if (storage_) return run_inline_stored();
    while (!stop_requested()) {
      const auto job = next_job();
      if (!job) break;
      Slot& slot = begin(*job);
      runner_.run(slot, *job, study_.trials()[job->trial].config, *this);
    }
  }

  /// With a storage, a job's end and the next hand-out are one transaction, entered after the
  /// other sessions' events are folded in, so that the scheduler hears of every job in the order
  /// of the log. No job is handed out: wait while other sessions run jobs, else the study ends
  /// (finish() continues the transaction).
  void run_inline_stored() {
    while (!stop_requested()) {
      sync();
      if (finished_job_) apply_done(take_finished_job());
      if (finished_) return commit();  // another session finished the study
      const auto job = next_job();
      if (!job) {
        if (!others_running()) return;
        commit();
        (void)storage_->wait_for_news(storage_->poll_interval());
        continue;
      }
      Slot& slot = begin(*job);
      commit();
      runner_.run(slot, *job, study_.trials()[job->trial].config, *this);
    }
    if (finished_job_) {  // the job the stop cut short
      sync();
      apply_done(take_finished_job());
    }
  }

  JobDone take_finished_job() {
    JobDone done = std::move(*finished_job_);
    finished_job_.reset();
    return done;
  }

  void run_pool() {
    executors::EventQueue<Event> queue;
    std::size_t in_flight = 0;  // jobs handed out whose end has not been applied
    std::size_t busy = 0;       // workers running a batch
    {
      executors::ThreadPool pool(options_.workers, options_.threads_per_worker);
      // However the loop ends (an exception included), running jobs are told to stop and their
      // events drained, so that no worker waits for a verdict forever and the pool can join. The
      // events of a batch after one whose apply() threw are drained first: they may hold a job's
      // end or a worker's question.
      std::vector<Event> events;
      std::size_t next = 0;  // the first event of `events` not yet applied
      struct Drain {
        Coordinator& self;
        executors::EventQueue<Event>& queue;
        std::size_t& in_flight;
        std::size_t& busy;
        std::vector<Event>& events;
        std::size_t& next;
        void settle(Event& event) {
          if (auto* judge = std::get_if<Judge>(&event)) judge->ruling->set_value({});
          if (std::holds_alternative<JobDone>(event)) --in_flight;
          if (std::holds_alternative<WorkerFree>(event)) --busy;
        }
        ~Drain() {
          if (next == events.size() && in_flight == 0 && busy == 0) return;  // a normal end
          // Other sessions must not wait for this one's workers: the transaction goes first.
          self.release();
          // Before any answer: a worker told "proceed" must find the study stopping.
          self.abort_.store(true, std::memory_order_relaxed);
          for (; next < events.size(); ++next) settle(events[next]);
          while (in_flight > 0 || busy > 0) {
            queue.take_all(events);
            for (auto& event : events) settle(event);
          }
        }
      } drain{*this, queue, in_flight, busy, events, next};
      std::vector<Handed> batch;
      for (;;) {
        sync();  // with a storage: what follows, up to the wait, is one transaction
        while (!finished_ && busy < options_.workers && !stop_requested()) {
          batch.clear();
          double expected = 0;
          while (batch.size() < most_batch_jobs && expected < batch_seconds) {
            const auto job = next_job();
            if (!job) break;
            Slot& slot = begin(*job);
            batch.push_back({*job, &slot, study_.trials()[job->trial].config});
            expected += expected_seconds(*job, slot);
          }
          if (batch.empty()) break;
          const std::size_t jobs = batch.size();
          pool.submit([this, &queue, batch = std::move(batch)] {
            WorkerSink sink(*this, queue);
            for (const Handed& handed : batch) {
              sink.before_job();
              if (sink.stop_requested())  // not started: nothing to make, and it ends at once
                runner_.interrupt(*handed.slot, handed.job, sink);
              else
                runner_.run(*handed.slot, handed.job, handed.config, sink);
            }
            sink.finish();
          });
          ++busy;  // after submit: had it thrown, no worker would ever say it is free
          in_flight += jobs;
          batch = {};
        }
        if (in_flight == 0 && busy == 0) {
          // A stopping session leaves: the others finish the study without it.
          if (finished_ || stop_requested() || !others_running())
            break;  // finish() continues the transaction
          commit();
          (void)storage_->wait_for_news(storage_->poll_interval());
          continue;
        }
        if (storage_) {
          commit();
          next = 0;
          // Woken now and then to see what other sessions did (and whether any is gone).
          if (!queue.take_all_for(events, storage_->poll_interval())) continue;
          sync();
        } else {
          queue.take_all(events);
        }
        for (next = 0; next < events.size();) {
          Event& event = events[next++];
          if (auto* done = std::get_if<JobDone>(&event)) {
            --in_flight;
            note_job_time(*done);
          } else if (std::holds_alternative<WorkerFree>(event)) {
            --busy;
            continue;
          }
          apply(event);
        }
      }
    }
  }

  void apply(Event& event) {
    if (auto* steps = std::get_if<Steps>(&event)) {
      Trial& trial = study_.trials()[steps->trial];
      for (auto& point : steps->points) apply_step(trial, std::move(point));
    } else if (auto* judged = std::get_if<Judge>(&event)) {
      judged->ruling->set_value(rule(*judged->report));  // always: the worker waits for it
    } else if (auto* done = std::get_if<JobDone>(&event)) {
      apply_done(std::move(*done));
    }
  }

  // ---- The steps of the loop, public for a loop of the user's own (hpt::AskTell) and for the
  // executors in hpt/executors/. ----
 public:
  /// A batch is one job until the jobs' time per step is known; then jobs are added while the
  /// batch's expected time (time per step x the steps each job will run) is below batch_seconds,
  /// so that the hand-over (a wake-up of a sleeping thread, tens of microseconds) is paid once
  /// per batch of trivial jobs instead of once per job.
  static constexpr double batch_seconds = 200e-6;
  static constexpr std::size_t most_batch_jobs = 128;
  static constexpr int samples_before_batching = 4;

  /// @brief Folds a finished job's time per step into the running mean the batches use. Failed,
  /// interrupted and unstarted jobs say nothing about how long a job takes.
  void note_job_time(const JobDone& done) noexcept {
    if (!done.started || done.status == TrialStatus::failed ||
        done.status == TrialStatus::interrupted)
      return;
    const double per_step =
        done.wall_seconds / static_cast<double>(std::max<std::int64_t>(1, done.steps_run));
    step_seconds_ = step_samples_ > 0 ? 0.9 * step_seconds_ + 0.1 * per_step : per_step;
    ++step_samples_;
  }

  /// @brief The time `job` is expected to take, or +inf while that cannot be told.
  [[nodiscard]] double expected_seconds(const Job& job, const Slot& slot) const noexcept {
    if (step_samples_ < samples_before_batching) return std::numeric_limits<double>::infinity();
    return step_seconds_ *
           static_cast<double>(std::max<std::int64_t>(1, job.resource - slot.steps));
  }

  /// @brief What lives next to trial `trial` (whose record exists).
  [[nodiscard]] Slot& slot(std::size_t trial) { return slots_[trial]; }

  /// @brief Makes the record of a new trial or resumes a paused one, before its job runs.
  Slot& begin(const Job& job) {
    // A bracket or rung is an index: the study's records (and the readers) never hold a negative.
    if (job.bracket < 0 || job.rung < 0)
      throw std::logic_error("hpt::tune: the scheduler handed out trial " +
                             std::to_string(job.trial) + " with bracket " +
                             std::to_string(job.bracket) + " and rung " + std::to_string(job.rung) +
                             "; neither may be negative");
    if (job.trial == study_.trials().size()) {
      Trial record;
      record.id = job.trial;
      record.config = job.trial < options_.enqueue.size() ? options_.enqueue[job.trial]
                                                          : scheduler_.config(job.trial);
      record.bracket = job.bracket;
      // A modest reservation: a trainable may finish long before a huge budget.
      record.curve.reserve(static_cast<std::size_t>(std::min<std::int64_t>(job.resource, 64)));
      study_.add_trial(std::move(record));
      slots_.emplace_back();
      if (recording()) {
        const Trial& added = study_.trials().back();
        write(TrialCreated{added.id, added.bracket, added.config});
      }
      each_observer("on_trial_start", job.trial,
                    [&](auto& o) { notify_trial_start(o, study_.trials().back()); });
    } else if (job.trial > study_.trials().size()) {
      throw std::logic_error("hpt::tune: the scheduler skipped a trial id");
    }
    Trial& trial = study_.trials()[job.trial];
    if (trial.finished())
      throw std::logic_error("hpt::tune: the scheduler resumed trial " + std::to_string(trial.id) +
                             ", which has ended");
    if (trial.status == TrialStatus::running)
      throw std::logic_error("hpt::tune: the scheduler handed out trial " +
                             std::to_string(trial.id) + " while its previous job runs");
    Slot& slot = slots_[job.trial];
    slot.paused_rung = trial.rung;
    trial.status = TrialStatus::running;
    trial.rung = job.rung;
    if (!storage_) return slot;
    started_restart_ = restarting(job.trial);
    // Every result told before this job was handed out has been told (again) by now.
    stored_prunings_.insert(stored_prunings_.end(), pending_prunings_.begin(),
                            pending_prunings_.end());
    pending_prunings_.clear();
    if (!recording()) return slot;  // a job of the log: fold() takes it from here
    if (!slot.object && !slot.checkpoint) {
      // Its last job ran in another session (or before a resume): continue from the stored
      // checkpoint, or retrain the steps in the record (TrialRunner::catch_up).
      slot.steps = trial.resource;
      if (trial.resource > 0)
        if (auto checkpoint = storage_->checkpoint(trial.id))
          slot.checkpoint = std::make_unique<std::string>(std::move(*checkpoint));
    }
    attempts_[job.trial] =
        Attempt{.job = job, .session = session_, .local = true, .order = handed_out_++};
    write(JobStarted{job, started_restart_, session_});
    ran_jobs_ = true;
    return slot;
  }

  void apply_step(Trial& trial, Step&& point) {
    trial.resource = point.step;
    if (recording()) write(StepRecorded{trial.id, point});
    trial.curve.push_back(std::move(point));
    update_result(trial);
    each_observer("on_step", trial.id, [&](auto& o) { notify_step(o, trial, trial.curve.back()); });
  }

  void apply_done(JobDone&& done) {
    if (!rule_errors_.empty()) {  // the study rule's own exception, not the worker's copy
      const auto kept = rule_errors_.find(done.job.trial);
      if (kept != rule_errors_.end()) {
        if (done.failure == FailureStage::policy) done.error = kept->second;
        rule_errors_.erase(kept);
      }
    }
    if (done.error) std::rethrow_exception(done.error);
    Trial& trial = study_.trials()[done.job.trial];
    if (recording()) write_job_end(done);
    if (recording() && (!done.started || done.status == TrialStatus::interrupted)) {
      // As every session folding this end will: the job runs again first (in whichever session
      // asks for work next), so this session's state stays the log's.
      restarts_.push_back({done.job});
      restarting_.push_back(trial.id);
    }
    if (!done.started && done.status == TrialStatus::paused) {  // stopped before it resumed
      trial.status = TrialStatus::paused;
      trial.rung = slots_[trial.id].paused_rung;
      return;  // as it was: the scheduler is not told, its object and checkpoint are kept
    }
    trial.status = done.status;
    if (!done.reason.empty()) trial.reason = std::move(done.reason);
    if (!done.stopped_by.empty()) trial.stopped_by = std::move(done.stopped_by);
    trial.failure = done.failure;
    trial.wall_seconds += done.wall_seconds;
    if (trial.status == TrialStatus::interrupted) {
      runner_.release(slots_[trial.id], trial.status);  // stopping: the scheduler is not told
      return;
    }
    Outcome outcome;
    const double result = trial.result();
    if (trial.status != TrialStatus::failed && trial.status != TrialStatus::diverged &&
        std::isfinite(result))
      outcome.loss = as_loss(study_.direction(), result);
    outcome.can_continue = trial.status == TrialStatus::paused;
    if (!options_.reproducible_lag) {
      if (trial.finished()) end(trial);
      report(done.job, outcome);
      return;
    }
    // The study rule hears of this end when the result is told, in the order jobs were handed
    // out, so that what it knows at each check is the same for any number of workers.
    if (trial.finished()) end(trial, /*tell_rule=*/false);
    const auto sequence = sequence_of_.at(done.job.trial);
    if (sequence >= told_ + pending_.size()) pending_.resize(sequence - told_ + 1);
    pending_[sequence - told_] = Pending{done.job, outcome, trial.finished()};
  }

  /// @brief Tells the scheduler (and through it the sampler) how a job went, and applies its
  /// prunings.
  void report(const Job& job, const Outcome& outcome) {
    if constexpr (requires(SampleFeedback feedback) { scheduler_.tell(feedback); }) {
      const Trial& trial = study_.trials()[job.trial];
      scheduler_.tell(
          SampleFeedback{trial.id, &trial.config, trial.resource, outcome.loss, trial.status});
    }
    prunings_.clear();
    scheduler_.report(job, outcome, prunings_);
    for (const auto& pruning : prunings_) prune(pruning);
  }

  /// @brief The next job, or none for now. With StudyOptions::reproducible_lag = L, the k-th job
  /// handed out is decided with exactly the results of jobs 0 .. k-1-L told, in the order the
  /// jobs were handed out, so the scheduler sees the same sequence of calls for any number of
  /// workers; when it has nothing to hand out, the next result in that order is told first (or
  /// waited for).
  std::optional<Job> next_job() {
    if (!restarts_.empty()) {  // handed out before the study was resumed: run again first
      const Job job = restarts_.front().job;
      restarts_.pop_front();
      return job;
    }
    if (!options_.reproducible_lag) return scheduler_.next();
    const std::size_t lag = *options_.reproducible_lag;
    while (told_ + lag < issued_)
      if (!tell_next()) return std::nullopt;  // that job still runs: wait for it
    for (;;) {
      if (auto job = scheduler_.next()) {
        if (job->trial >= sequence_of_.size()) {
          sequence_of_.resize(job->trial + 1);
          visible_of_.resize(job->trial + 1);
        }
        sequence_of_[job->trial] = issued_++;
        visible_of_[job->trial] = told_;
        return job;
      }
      if (!tell_next()) return std::nullopt;  // none now: wait for results (or the end)
    }
  }

  /// @brief Tells the scheduler the next result in the order jobs were handed out, if it is in.
  bool tell_next() {
    if (pending_.empty() || !pending_.front()) return false;
    const Pending next = *pending_.front();
    pending_.pop_front();
    ++told_;
    if (next.ended) tell_rule_ended(study_.trials()[next.job.trial]);
    report(next.job, next.outcome);
    return true;
  }

  /// @brief Rebuilds the study, the scheduler, the sampler and the stopping rules from a stored
  /// log (events.hpp), before run() continues it. The scheduler is asked for the same jobs in the
  /// same order, and told the same results, so its decisions are made again, not read back;
  /// every decision is checked against the log, and a difference (another strategy or space,
  /// a trainable whose results changed) throws StorageError naming the event. Jobs still running
  /// in the log belong to other sessions: those that are gone have them abandoned at the first
  /// sync, and they run again, from their trial's stored checkpoint or by retraining the steps
  /// before them.
  void resume(const std::vector<StudyEvent>& events) {
    session_ = storage_ ? storage_->session() : 0;
    fold_all(events);
    verify_prunings();
  }

  /// @brief The end of the study: prunes what the scheduler never promoted and any paused trial.
  void finish() {
    sync();
    if (finished_) return commit();  // another session finished it
    if (stop_requested() && !replaying_) {
      study_.set_interrupted(true);
      commit();
      return;  // paused trials stay paused: what they did is kept
    }
    if (!scheduler_.finished())
      throw std::logic_error("hpt::tune: the scheduler stopped handing out work before finishing");
    for (const auto& pruning : scheduler_.unpromoted()) prune(pruning);
    for (auto& trial : study_.trials())  // any other paused trial: the study is over
      if (trial.status == TrialStatus::paused)
        prune({trial.id, trial.rung, "paused when the study ended"});
    study_.set_interrupted(false);
    finished_ = true;
    if (recording()) write(StudyFinished{});
    commit();
  }

 private:
  [[nodiscard]] bool recording() const noexcept { return storage_ && !replaying_; }

  /// Built in place: a variant moved from a temporary trips GCC 12's -Wmaybe-uninitialized.
  template <class Event>
  void write(Event&& event) {
    unwritten_.emplace_back(std::in_place_type<std::remove_cvref_t<Event>>,
                            std::forward<Event>(event));
  }

  // ---- Storage: one transaction per batch of events, several sessions on one log. Public for a
  // loop of the user's own (hpt::AskTell), which brackets each of its calls with them. ----
 public:
  /// @brief With a storage: enters this session's transaction (unless it is in one) and folds in
  /// what other sessions appended since, then abandons the jobs of sessions that are gone.
  /// Whatever the coordinator decides until commit() follows those events in the log, as it
  /// follows them in this coordinator.
  void sync() {
    if (!storage_ || locked_ || replaying_) return;
    auto news = storage_->lock();
    locked_ = true;
    // A stopping session that ran jobs only writes how they ended: it no longer follows the
    // study (the restarts of its cut jobs, run by others, would report their steps again in its
    // records). One stopped before it ran anything still folds and abandons what the dead left.
    if (stop_requested() && ran_jobs_) return;
    fold_all(news);
    abandon_gone();
    verify_prunings();
  }

  /// @brief Ends an open transaction without writing (what it read is unread again).
  void release() noexcept {
    if (!locked_) return;
    locked_ = false;
    storage_->rollback();
  }

  /// @brief Appends what is unwritten and ends the transaction (entering one first if events
  /// wait and none is open).
  void commit() {
    if (!storage_ || replaying_) return;
    if (!locked_) {
      if (unwritten_.empty()) return;
      sync();
    }
    locked_ = false;  // a commit that throws has ended the transaction too
    storage_->commit(unwritten_);
    logged_ += unwritten_.size();
    unwritten_.clear();
    held_checkpoints_.clear();
  }

  /// @brief True while jobs of other sessions run: a session with nothing to hand out waits.
  [[nodiscard]] bool others_running() const noexcept { return remote_attempts_ > 0; }

  /// @brief True when the job begin() began last was one cut short before, run again.
  [[nodiscard]] bool began_restart() const noexcept { return started_restart_; }

 private:
  void fold_all(const std::vector<StudyEvent>& events) {
    replaying_ = true;
    struct Restore {
      bool& flag;
      ~Restore() { flag = false; }
    } restore{replaying_};
    for (const StudyEvent& event : events) {
      fold(event);
      ++logged_;
    }
  }

  /// @brief Applies one event another session (or an earlier run) wrote. A job that runs
  /// elsewhere is an open attempt: its steps wait in the attempt until its end says whether they
  /// count (a job cut short runs again, and its steps are reported again).
  void fold(const StudyEvent& event) {
    const auto refuse = [&](const std::string& what) {
      throw StorageError("hpt: study \"" + options_.name + "\" cannot be resumed: stored event " +
                         std::to_string(logged_) + " (" + std::string(event_kind(event)) +
                         "): " + what);
    };
    const auto attempt_of = [&](std::size_t trial, const char* what) -> Attempt& {
      const auto found = attempts_.find(trial);
      if (found == attempts_.end() || found->second.local)
        refuse(std::string(what) + " of trial " + std::to_string(trial) + ", which is not running");
      return found->second;
    };
    if (const auto* made = std::get_if<TrialCreated>(&event)) {
      if (made->trial != study_.trials().size())
        refuse("creates trial " + std::to_string(made->trial) + " where trial " +
               std::to_string(study_.trials().size()) + " comes next");
      created_ = *made;
    } else if (const auto* started = std::get_if<JobStarted>(&event)) {
      const Job& stored = started->job;
      const auto job = next_job();
      if (!job || !same_job(*job, stored))
        refuse("the stored study ran " + describe(stored) + " where this scheduler hands out " +
               (job ? describe(*job) : std::string("nothing")) +
               " (another strategy, search space or seed?)");
      const bool is_new = job->trial == study_.trials().size();
      if (is_new && (!created_ || created_->trial != job->trial))
        refuse("trial " + std::to_string(job->trial) + " starts before it was created");
      Slot& slot = begin(*job);
      if (started_restart_ != started->restart)
        refuse(started->restart ? "restarts a job of trial " + std::to_string(job->trial) +
                                      " that was not cut short"
                                : "starts trial " + std::to_string(job->trial) +
                                      " anew where its job cut short runs again");
      if (is_new && study_.trials().back().config != created_->config) {
        std::ostringstream stored_config, given_config;
        stored_config << created_->config;
        given_config << study_.trials().back().config;
        refuse("trial " + std::to_string(job->trial) + " was stored with configuration " +
               excerpt(stored_config.str()) + " where this study samples " +
               excerpt(given_config.str()));
      }
      if (started->session == session_ && session_ != 0)
        refuse("a job of this session, which has only just begun");
      // The trial runs elsewhere now: what this session held of it is out of date.
      slot.object.reset();
      slot.checkpoint.reset();
      if constexpr (requires { runner_.forget(slot, job->trial); })
        runner_.forget(slot, job->trial);  // a remote worker that held it may free it
      attempts_[job->trial] =
          Attempt{.job = *job, .session = started->session, .local = false, .order = handed_out_++};
      ++remote_attempts_;
    } else if (const auto* recorded = std::get_if<StepRecorded>(&event)) {
      attempt_of(recorded->trial, "a step").steps.push_back(recorded->point);
    } else if (const auto* ended = std::get_if<JobEnded>(&event)) {
      Attempt& attempt = attempt_of(ended->trial, "the end of a job");
      if (ended->status == TrialStatus::running || ended->status == TrialStatus::pending)
        refuse("a job of trial " + std::to_string(ended->trial) + " ended " +
               std::string(to_string(ended->status)) + ", which is not an end");
      if (keeps_checkpoint(*ended)) return cut(ended->trial);  // it runs again
      std::vector<Step> steps = std::move(attempt.steps);
      const Job job = attempt.job;
      attempts_.erase(ended->trial);
      --remote_attempts_;
      Trial& trial = study_.trials()[ended->trial];
      for (const Step& point : steps) replay_step(trial, point);
      apply_done(JobDone{.job = job,
                         .status = ended->status,
                         .reason = ended->reason,
                         .stopped_by = ended->stopped_by,
                         .failure = ended->failure,
                         .wall_seconds = ended->wall_seconds,
                         .steps_run = ended->steps_run});
    } else if (const auto* abandoned = std::get_if<JobAbandoned>(&event)) {
      const auto found = attempts_.find(abandoned->trial);
      if (found != attempts_.end() && found->second.local && found->second.session == session_)
        throw StorageError(
            "hpt: study \"" + options_.name + "\": session " + std::to_string(session_) +
            " (this process) lost its job of trial " + std::to_string(abandoned->trial) +
            " to another session, which found it gone (" + abandoned->reason +
            "): this session stopped renewing its lease for too long (was the process stopped "
            "or suspended?). Its results since were dropped; run it again to rejoin the study");
      if (attempt_of(abandoned->trial, "the abandoned job").session != abandoned->session)
        refuse("abandons the job of trial " + std::to_string(abandoned->trial) + " for session " +
               std::to_string(abandoned->session) + ", which does not run it");
      cut(abandoned->trial);
    } else if (const auto* pruned = std::get_if<TrialPruned>(&event)) {
      // Checked once decided: with a lag, a result (and the pruning it causes) is told when the
      // next job is asked for, after this event's place in the log. A pruning stored after the
      // last job handed out may come from a result told by a call that handed out nothing (not
      // logged): the session that continues tells it again, at its first next_job().
      if (!options_.reproducible_lag || finished_)
        stored_prunings_.push_back(*pruned);
      else
        pending_prunings_.push_back(*pruned);
    } else if (std::holds_alternative<StudyFinished>(event)) {
      if (others_running()) refuse("the study finished while jobs were running");
      while (tell_next()) {  // as the run's last next_job() did before it ended
      }
      // Continued with other settings whose plan holds more work: the study goes on.
      if (options_.open == OpenMode::resume_changed && !scheduler_.finished()) return;
      finish();
      stored_prunings_.insert(stored_prunings_.end(), pending_prunings_.begin(),
                              pending_prunings_.end());
      pending_prunings_.clear();
    }
  }

  /// @brief The open attempt of `trial_id`'s job was cut short: the job runs again first, from
  /// the trial's state before it.
  void cut(std::size_t trial_id) {
    const auto found = attempts_.find(trial_id);
    const Job job = found->second.job;
    if (!found->second.local) --remote_attempts_;
    attempts_.erase(found);
    Trial& trial = study_.trials()[trial_id];
    trial.status = trial.resource > 0 ? TrialStatus::paused : TrialStatus::pending;
    trial.rung = slots_[trial_id].paused_rung;
    restarts_.push_back({job});
    restarting_.push_back(trial_id);
  }

  /// @brief Abandons, in the order they were handed out, the jobs of other sessions that are
  /// gone (their processes died, or stopped renewing their leases).
  void abandon_gone() {
    if (remote_attempts_ == 0) return;
    std::vector<std::uint64_t> sessions;
    for (const auto& [trial, attempt] : attempts_)
      if (!attempt.local &&
          std::find(sessions.begin(), sessions.end(), attempt.session) == sessions.end())
        sessions.push_back(attempt.session);
    const auto gone = storage_->gone(sessions);
    if (gone.empty()) return;
    std::vector<std::pair<std::uint64_t, std::size_t>> jobs;  // (hand-out order, trial)
    for (const auto& [trial, attempt] : attempts_)
      if (!attempt.local)
        for (const auto& session : gone)
          if (session.session == attempt.session) jobs.emplace_back(attempt.order, trial);
    std::sort(jobs.begin(), jobs.end());
    for (const auto& [order, trial] : jobs) {
      const std::uint64_t owner = attempts_.at(trial).session;
      const auto why = std::find_if(gone.begin(), gone.end(),
                                    [&](const GoneSession& g) { return g.session == owner; });
      write(JobAbandoned{trial, owner, why->reason});
      cut(trial);
    }
  }

  /// @brief Checks that every pruning the log states has been decided again.
  void verify_prunings() {
    for (const TrialPruned& pruned : stored_prunings_) {
      const Trial* trial =
          pruned.trial < study_.trials().size() ? &study_.trials()[pruned.trial] : nullptr;
      if (!trial || trial->status != TrialStatus::pruned || trial->rung != pruned.rung)
        throw StorageError("hpt: study \"" + options_.name + "\" cannot be resumed: trial " +
                           std::to_string(pruned.trial) + " was stored as pruned at rung " +
                           std::to_string(pruned.rung) + ", but the scheduler " +
                           (trial ? "left it " + std::string(to_string(trial->status)) +
                                        " at rung " + std::to_string(trial->rung)
                                  : std::string("never made it")));
    }
    stored_prunings_.clear();
  }

  /// @brief Writes a job's end, with a saved trial's checkpoint (kept until the commit).
  void write_job_end(const JobDone& done) {
    Slot& slot = slots_[done.job.trial];
    JobEnded ended{.trial = done.job.trial,
                   .status = done.status,
                   .reason = done.reason,
                   .stopped_by = done.stopped_by,
                   .failure = done.failure,
                   .wall_seconds = done.wall_seconds,
                   .steps_run = done.steps_run,
                   .started = done.started};
    if (done.saved && slot.checkpoint) {
      // Saved only for the storage when the object lives on (checkpoint_paused is off); else the
      // slot keeps its own copy, which a pruning before the commit may free.
      held_checkpoints_.push_back(slot.object ? std::move(slot.checkpoint)
                                              : std::make_unique<std::string>(*slot.checkpoint));
      ended.checkpoint = *held_checkpoints_.back();
      ended.saved = true;
    }
    attempts_.erase(done.job.trial);
    write(std::move(ended));
  }

  [[nodiscard]] bool restarting(std::size_t trial) noexcept {
    for (auto it = restarting_.begin(); it != restarting_.end(); ++it)
      if (*it == trial) {
        restarting_.erase(it);
        return true;
      }
    return false;
  }

  static bool same_job(const Job& a, const Job& b) noexcept {
    return a.trial == b.trial && a.resource == b.resource && a.bracket == b.bracket &&
           a.rung == b.rung && a.last_rung == b.last_rung;
  }
  static std::string describe(const Job& job) {
    return "trial " + std::to_string(job.trial) + " (bracket " + std::to_string(job.bracket) +
           ", rung " + std::to_string(job.rung) + ") to " + std::to_string(job.resource) + " steps";
  }

  /// @brief A stored step: into the record, and through the trial's stopping rules so that their
  /// state is what it was (their verdicts are already in the log).
  void replay_step(Trial& trial, const Step& point) {
    if (std::isfinite(point.objective)) {
      Metrics metrics{point.objective, point.values};
      const StepReport report{trial.id, point.step, point.objective, &metrics, options_.direction};
      try {
        if constexpr (TrialRule<Policy>)
          (void)policy_.check(slots_[trial.id].state, report);
        else
          (void)judge(report);
      } catch (...) {  // it threw in the run too: the trial's end says so
      }
    }
    apply_step(trial, Step{point});
  }

  /// @brief Applies the study's result rule to the step just added, so that a rung's ranking, a
  /// stopped trial, best() and the exports all read the same result. O(1) per step.
  void update_result(Trial& trial) const {
    hpt::update_result(trial, study_.direction(), options_.result);
  }

  void prune(const Pruning& pruning) {
    if (pruning.rung < 0)
      throw std::logic_error("hpt::tune: the scheduler pruned trial " +
                             std::to_string(pruning.trial) + " at rung " +
                             std::to_string(pruning.rung) + ", which may not be negative");
    Trial& trial = study_.trials().at(pruning.trial);
    if (trial.status != TrialStatus::paused) return;  // it ended meanwhile (e.g. a failed save)
    trial.status = TrialStatus::pruned;
    trial.rung = pruning.rung;
    trial.reason = pruning.reason;
    if (recording() && !stop_requested()) write(TrialPruned{trial.id, trial.rung, trial.reason});
    end(trial);
  }

  void end(Trial& trial, bool tell_rule = true) {
    if (tell_rule) tell_rule_ended(trial);
    runner_.release(slots_[trial.id], trial.status);
    each_observer("on_trial_end", trial.id, [&](auto& o) { notify_trial_end(o, trial); });
  }

  /// @brief Tells the study rule that `trial` ended; with reproducible_lag, with the epoch (the
  /// results told so far) and what is settled (no job still to be judged was handed out before
  /// told_ - lag results were told).
  void tell_rule_ended(const Trial& trial) {
    if constexpr (StudyRule<Policy>) {
      TrialEnded ended{trial.id, trial.status, trial.resource};
      if (options_.reproducible_lag) {
        ended.epoch = told_;
        ended.settled = told_ - std::min(told_, *options_.reproducible_lag);
      }
      notify_trial_ended(policy_, ended);
    }
  }

  /// @brief Calls f on every observer that has not thrown yet. An observer's exception is
  /// recorded in the study (ObserverError) and that observer is not called again, so a failing
  /// reporter never loses the study; with catch_exceptions = false it propagates, for debugging.
  template <class F>
  void each_observer(const char* hook, std::optional<std::size_t> trial, F&& f) {
    if (replaying_) return;  // what a stored study did was told to the observers of its run
    std::size_t index = 0;
    std::apply([&](auto&... o) { (call_observer(index++, hook, trial, o, f), ...); }, observers_);
  }

  template <class O, class F>
  void call_observer(std::size_t index, const char* hook, std::optional<std::size_t> trial,
                     O& observer, F& f) {
    if (observer_failed_[index]) return;
    try {
      f(observer);
    } catch (const std::exception& error) {
      observer_threw(index, hook, trial, error.what());
    } catch (...) {
      observer_threw(index, hook, trial, "a non-standard exception");
    }
  }

  /// Called from a catch block: the worker's answer says the rule threw; with catch_exceptions =
  /// false the rule's exception is kept, to be rethrown on this thread when the job ends. Never
  /// throws (out of memory, the message is dropped), so the worker always gets its answer.
  void answer_failed(Ruling& ruling, const char* message, bool standard,
                     std::size_t trial) noexcept {
    ruling.standard = standard;
    try {
      ruling.error = message;
      if (!options_.catch_exceptions)
        rule_errors_.insert_or_assign(trial, std::current_exception());
    } catch (...) {
      ruling.error.emplace();
    }
  }

  void observer_threw(std::size_t index, const char* hook, std::optional<std::size_t> trial,
                      std::string message) {
    if (!options_.catch_exceptions) std::rethrow_exception(std::current_exception());
    observer_failed_[index] = true;
    study_.add_observer_error({index, hook, trial, std::move(message)});
  }

  Runner& runner_;
  Sched& scheduler_;
  Policy& policy_;
  Study& study_;
  const StudyOptions& options_;
  std::tuple<Observers&...> observers_;
  std::array<bool, sizeof...(Observers)> observer_failed_{};  // thrown once: not called again
  std::deque<Slot> slots_;  // by trial id; a deque, so workers' references stay valid
  std::vector<Pruning> prunings_;
  std::map<std::size_t, std::exception_ptr> rule_errors_;  // by trial, see Ruling
  double step_seconds_ = 0;  // running mean of the jobs' time per step (pool only), see batches
  int step_samples_ = 0;
  std::atomic<bool> abort_{false};
  // reproducible_lag: results waiting to be told in the order their jobs were handed out.
  struct Pending {
    Job job;
    Outcome outcome;
    bool ended = false;  ///< The job ended its trial: the study rule is told with the result.
  };
  std::deque<std::optional<Pending>> pending_;  // for the jobs told_, told_ + 1, ...
  std::vector<std::size_t> sequence_of_;        // by trial: its current job's place in that order
  std::vector<std::size_t> visible_of_;         // by trial: results told when that job was issued
  std::size_t issued_ = 0;
  std::size_t told_ = 0;
  // Storage (study/storage.hpp): events not yet appended, and what a resume left to do.
  Storage* storage_ = nullptr;
  std::vector<StudyEvent> unwritten_;
  bool replaying_ = false;
  bool finished_ = false;  // a resumed study that had finished: nothing to run
  struct Restart {
    Job job;
  };
  std::deque<Restart> restarts_;         // jobs cut short, to run again first
  std::vector<std::size_t> restarting_;  // their trials, until their JobStarted is written
  bool started_restart_ = false;         // the job begin() began was one of them
  /// A job running, here (local) or in another session: the steps of another session's job wait
  /// here until its end says whether they count.
  struct Attempt {
    Job job{};
    std::uint64_t session = 0;
    bool local = false;
    std::uint64_t order = 0;  // hand-out order, in which gone sessions' jobs are abandoned
    std::vector<Step> steps{};
  };
  std::map<std::size_t, Attempt> attempts_;  // by trial
  std::size_t remote_attempts_ = 0;          // those of other sessions
  std::uint64_t handed_out_ = 0;
  std::uint64_t session_ = 0;
  bool locked_ = false;     // inside Storage::lock() ... commit()
  bool ran_jobs_ = false;   // this session handed out a job of its own
  std::size_t logged_ = 0;  // events of the log this session has read or written
  std::optional<TrialCreated> created_;
  std::vector<TrialPruned> stored_prunings_;                    // read, to check once decided again
  std::vector<TrialPruned> pending_prunings_;                   // reproducible_lag: see fold()
  std::vector<std::unique_ptr<std::string>> held_checkpoints_;  // viewed by unwritten job ends
  std::optional<JobDone> finished_job_;  // inline with a storage: applied at the next sync
};

}  // namespace hpt::detail
