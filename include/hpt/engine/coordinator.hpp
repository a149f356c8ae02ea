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

  void run() {
    const auto start = Clock::now();
    each_observer("on_study_start", std::nullopt, [&](auto& o) { notify_study_start(o, study_); });
    if (!finished_) {
      if (options_.workers <= 1)
        run_inline();
      else
        run_pool();
      finish();
    }
    study_.set_wall_seconds(std::chrono::duration<double>(Clock::now() - start).count());
    each_observer("on_study_end", std::nullopt, [&](auto& o) { notify_study_end(o, study_); });
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
  void done(JobDone&& done) { apply_done(std::move(done)); }

 private:
  // ---- Events from a pool's workers. ----
  struct Steps {
    std::size_t trial;
    std::vector<Step> points;
  };
  /// A study rule's answer to a worker. When the rule throws, the worker gets the message and
  /// the exception itself stays on the coordinator's thread (rule_errors_): an exception object
  /// shared across threads is freed by whichever drops it last, an order ThreadSanitizer cannot
  /// see inside libstdc++'s reference count.
  struct Ruling {
    Verdict verdict{};
    std::optional<std::string> error{};  ///< The rule threw: what() (or a generic message).
    bool standard = true;                ///< It threw a std::exception.
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

  void run_inline() {
    while (!stop_requested()) {
      const auto job = next_job();
      if (!job) break;
      Slot& slot = begin(*job);
      runner_.run(slot, *job, study_.trials()[job->trial].config, *this);
    }
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
        while (busy < options_.workers && !stop_requested()) {
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
        if (in_flight == 0 && busy == 0) break;
        queue.take_all(events);
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
      Ruling ruling;
      try {
        ruling.verdict = judge(*judged->report);
      } catch (const std::exception& error) {
        answer_failed(ruling, error.what(), true, judged->report->trial);
      } catch (...) {
        answer_failed(ruling, "", false, judged->report->trial);
      }
      judged->ruling->set_value(std::move(ruling));  // always: the worker waits for it
    } else if (auto* done = std::get_if<JobDone>(&event)) {
      apply_done(std::move(*done));
    }
  }

  // ---- The steps of the loop, public for a loop of the user's own (hpt::AskTell). ----
 public:
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
    slots_[job.trial].paused_rung = trial.rung;
    trial.status = TrialStatus::running;
    trial.rung = job.rung;
    if (recording()) write(JobStarted{job, restarting(job.trial)});
    return slots_[job.trial];
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
  /// a trainable whose results changed) throws StorageError naming the event. A job whose last
  /// attempt was cut short (no end stored, interrupted, or not started) runs again from its
  /// trial's stored checkpoint, or by retraining the steps before it.
  void resume(const std::vector<StudyEvent>& events) {
    replaying_ = true;
    // An attempt of a trial's job is its JobStarted, its steps and its JobEnded; it is void when
    // it ends interrupted or unstarted, or is followed by a restart, or never ends.
    std::vector<char> void_event(events.size(), 0);
    {
      constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
      std::vector<std::size_t> attempt_of(events.size(), none);  // by event: its attempt
      std::vector<char> attempt_void;                            // by attempt
      std::vector<std::size_t> open;                             // by trial: its open attempt
      const auto trial_of = [](const StudyEvent& event) -> std::optional<std::size_t> {
        if (const auto* started = std::get_if<JobStarted>(&event)) return started->job.trial;
        if (const auto* recorded = std::get_if<StepRecorded>(&event)) return recorded->trial;
        if (const auto* ended = std::get_if<JobEnded>(&event)) return ended->trial;
        return std::nullopt;
      };
      for (std::size_t i = 0; i < events.size(); ++i) {
        const auto trial = trial_of(events[i]);
        if (!trial) continue;
        if (*trial >= open.size()) open.resize(*trial + 1, none);
        if (std::holds_alternative<JobStarted>(events[i])) {
          if (open[*trial] != none) attempt_void[open[*trial]] = 1;  // restarted: void
          open[*trial] = attempt_void.size();
          attempt_void.push_back(0);
        }
        attempt_of[i] = open[*trial];
        if (const auto* ended = std::get_if<JobEnded>(&events[i]); ended && open[*trial] != none) {
          attempt_void[open[*trial]] = keeps_checkpoint(*ended) ? 1 : 0;
          open[*trial] = none;
        }
      }
      for (const std::size_t attempt : open)
        if (attempt != none) attempt_void[attempt] = 1;  // never ended
      for (std::size_t i = 0; i < events.size(); ++i)
        if (attempt_of[i] != none) void_event[i] = attempt_void[attempt_of[i]];
    }
    std::vector<Job> jobs;  // by trial: its current job
    std::optional<TrialCreated> created;
    std::vector<const TrialPruned*> prunings;
    std::vector<const TrialPruned*> pending_prunings;  // reproducible_lag: see below
    for (std::size_t i = 0; i < events.size(); ++i) {
      const StudyEvent& event = events[i];
      const auto refuse = [&](const std::string& what) {
        throw StorageError("hpt: study \"" + options_.name + "\" cannot be resumed: stored event " +
                           std::to_string(i) + " (" + std::string(event_kind(event)) +
                           "): " + what);
      };
      if (const auto* made = std::get_if<TrialCreated>(&event)) {
        if (made->trial != study_.trials().size())
          refuse("creates trial " + std::to_string(made->trial) + " where trial " +
                 std::to_string(study_.trials().size()) + " comes next");
        created = *made;
      } else if (const auto* started = std::get_if<JobStarted>(&event)) {
        const Job& stored = started->job;
        if (started->restart) {  // the job was handed out before: nothing to ask the scheduler
          if (stored.trial >= jobs.size() || !same_job(jobs[stored.trial], stored))
            refuse("restarts a job of trial " + std::to_string(stored.trial) +
                   " that was not handed out");
          continue;
        }
        const auto job = next_job();
        if (!job || !same_job(*job, stored))
          refuse("the stored study ran " + describe(stored) + " where this scheduler hands out " +
                 (job ? describe(*job) : std::string("nothing")) +
                 " (another strategy, search space or seed?)");
        const bool is_new = job->trial == study_.trials().size();
        if (is_new && (!created || created->trial != job->trial))
          refuse("trial " + std::to_string(job->trial) + " starts before it was created");
        begin(*job);
        if (is_new && study_.trials().back().config != created->config) {
          std::ostringstream stored_config, given_config;
          stored_config << created->config;
          given_config << study_.trials().back().config;
          refuse("trial " + std::to_string(job->trial) + " was stored with configuration " +
                 excerpt(stored_config.str()) + " where this study samples " +
                 excerpt(given_config.str()));
        }
        if (job->trial >= jobs.size()) jobs.resize(job->trial + 1);
        jobs[job->trial] = *job;
        // Every result told before this job was handed out has been told again by now.
        prunings.insert(prunings.end(), pending_prunings.begin(), pending_prunings.end());
        pending_prunings.clear();
      } else if (const auto* recorded = std::get_if<StepRecorded>(&event)) {
        if (void_event[i]) continue;
        if (recorded->trial >= jobs.size() ||
            study_.trials()[recorded->trial].status != TrialStatus::running)
          refuse("a step of trial " + std::to_string(recorded->trial) + ", which is not running");
        replay_step(study_.trials()[recorded->trial], recorded->point);
      } else if (const auto* ended = std::get_if<JobEnded>(&event)) {
        if (void_event[i]) continue;
        if (ended->trial >= jobs.size() ||
            study_.trials()[ended->trial].status != TrialStatus::running)
          refuse("the end of a job of trial " + std::to_string(ended->trial) +
                 ", which is not running");
        if (ended->status == TrialStatus::running || ended->status == TrialStatus::pending)
          refuse("a job of trial " + std::to_string(ended->trial) + " ended " +
                 std::string(to_string(ended->status)) + ", which is not an end");
        JobDone done{.job = jobs[ended->trial],
                     .status = ended->status,
                     .reason = ended->reason,
                     .stopped_by = ended->stopped_by,
                     .failure = ended->failure,
                     .wall_seconds = ended->wall_seconds,
                     .steps_run = ended->steps_run};
        apply_done(std::move(done));
      } else if (const auto* pruned = std::get_if<TrialPruned>(&event)) {
        // Checked at the end: with a lag, a result (and the pruning it causes) is told when
        // the next job is asked for, after this event's place in the log. A pruning stored
        // after the last job handed out may come from a result told by a call that handed out
        // nothing (not logged): the run resumed here tells it again, at its first next_job().
        if (!options_.reproducible_lag || finished_)
          prunings.push_back(pruned);
        else
          pending_prunings.push_back(pruned);
      } else if (std::holds_alternative<StudyFinished>(event)) {
        while (tell_next()) {  // as the run's last next_job() did before it ended
        }
        finish();
        prunings.insert(prunings.end(), pending_prunings.begin(), pending_prunings.end());
        pending_prunings.clear();
      }
    }
    for (const TrialPruned* pruned : prunings) {
      const Trial* trial =
          pruned->trial < study_.trials().size() ? &study_.trials()[pruned->trial] : nullptr;
      if (!trial || trial->status != TrialStatus::pruned || trial->rung != pruned->rung)
        throw StorageError("hpt: study \"" + options_.name + "\" cannot be resumed: trial " +
                           std::to_string(pruned->trial) + " was stored as pruned at rung " +
                           std::to_string(pruned->rung) + ", but the scheduler " +
                           (trial ? "left it " + std::string(to_string(trial->status)) +
                                        " at rung " + std::to_string(trial->rung)
                                  : std::string("never made it")));
    }
    // Jobs cut short run again, in the order they were handed out, from the trial's state before
    // them; paused trials continue from their stored checkpoints.
    std::vector<std::pair<std::size_t, std::size_t>> cut;  // (JobStarted index, trial)
    for (std::size_t i = 0; i < events.size(); ++i)
      if (const auto* started = std::get_if<JobStarted>(&events[i]);
          started && void_event[i] && !started->restart &&
          study_.trials()[started->job.trial].status == TrialStatus::running)
        cut.emplace_back(i, started->job.trial);
    for (const auto& [index, trial_id] : cut) {
      Trial& trial = study_.trials()[trial_id];
      if (trial.status != TrialStatus::running) continue;  // a later attempt of the same job
      trial.status = trial.resource > 0 ? TrialStatus::paused : TrialStatus::pending;
      trial.rung = slots_[trial_id].paused_rung;
      restarts_.push_back({jobs[trial_id]});
      restarting_.push_back(trial_id);
    }
    for (auto& trial : study_.trials()) {
      if (trial.status != TrialStatus::paused) continue;
      Slot& slot = slots_[trial.id];
      slot.steps = trial.resource;
      if (auto checkpoint = storage_ ? storage_->checkpoint(trial.id) : std::nullopt)
        slot.checkpoint = std::make_unique<std::string>(std::move(*checkpoint));
    }
    replaying_ = false;
  }

  /// @brief The end of the study: prunes what the scheduler never promoted and any paused trial.
  void finish() {
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
    if (recording()) {
      write(StudyFinished{});
      commit();
    }
  }

 private:
  [[nodiscard]] bool recording() const noexcept { return storage_ && !replaying_; }

  /// Built in place: a variant moved from a temporary trips GCC 12's -Wmaybe-uninitialized.
  template <class Event>
  void write(Event&& event) {
    unwritten_.emplace_back(std::in_place_type<std::remove_cvref_t<Event>>,
                            std::forward<Event>(event));
  }

  /// @brief Appends what is unwritten as one transaction.
  void commit() {
    if (!storage_ || unwritten_.empty()) return;
    storage_->append(unwritten_);
    unwritten_.clear();
  }

  /// @brief Writes a job's end, with a saved trial's checkpoint, before anything acts on it.
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
      ended.checkpoint = *slot.checkpoint;
      ended.saved = true;
    }
    write(std::move(ended));
    commit();
    // Saved only for the storage: the object lives on (checkpoint_paused is off).
    if (done.saved && slot.object) slot.checkpoint.reset();
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
    if (options_.result != TrialResult::best_step) return;  // empty: the last step
    const std::size_t latest = trial.curve.size() - 1;
    const double objective = trial.curve[latest].objective;
    if (!std::isfinite(objective)) return;  // never a best step (the trial diverges anyway)
    if (!trial.result_index ||
        is_better(study_.direction(), objective, trial.curve[*trial.result_index].objective))
      trial.result_index = latest;
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
    if (recording()) write(TrialPruned{trial.id, trial.rung, trial.reason});
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
};

}  // namespace hpt::detail
