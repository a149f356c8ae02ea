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
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
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
        observers_(observers...) {}

  void run() {
    const auto start = Clock::now();
    each_observer("on_study_start", std::nullopt, [&](auto& o) { notify_study_start(o, study_); });
    if (options_.workers <= 1)
      run_inline();
    else
      run_pool();
    finish();
    study_.set_wall_seconds(std::chrono::duration<double>(Clock::now() - start).count());
    each_observer("on_study_end", std::nullopt, [&](auto& o) { notify_study_end(o, study_); });
  }

  // ---- The sink a runner reports to when it runs inline (one worker). ----

  [[nodiscard]] bool stop_requested() const noexcept {
    return options_.stop.stop_requested() || interrupt_requested.load(std::memory_order_relaxed) ||
           abort_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] Verdict judge(const StepReport& report) {
    if constexpr (StudyRule<Policy>)
      return policy_.check(report);
    else
      return {};  // trial rules are judged by the runner
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
  struct Judge {
    const StepReport* report;
    std::promise<Verdict>* verdict;
  };
  using Event = std::variant<Steps, Judge, JobDone>;

  /// @brief A runner's sink on a worker: steps go out in batches (at most a millisecond late, so
  /// observers see long steps as they happen and trivial ones cost one lock per batch).
  class WorkerSink {
   public:
    WorkerSink(Coordinator& coordinator, executors::EventQueue<Event>& queue, std::size_t trial)
        : coordinator_(coordinator), queue_(queue), trial_(trial), flushed_(Clock::now()) {}
    [[nodiscard]] bool stop_requested() const noexcept { return coordinator_.stop_requested(); }
    Verdict judge(const StepReport& report) {
      flush();
      std::promise<Verdict> verdict;
      auto answer = verdict.get_future();
      queue_.push(Judge{&report, &verdict});
      return answer.get();  // the coordinator's exception, if its rule threw, is rethrown here
    }
    void step(std::size_t, Step&& point) {
      points_.push_back(std::move(point));
      const auto now = Clock::now();
      if (now - flushed_ >= std::chrono::milliseconds(1)) flush(now);
    }
    void done(JobDone&& done) {
      flush();
      queue_.push(std::move(done));
    }

   private:
    void flush(Clock::time_point now = Clock::now()) {
      flushed_ = now;
      if (points_.empty()) return;
      queue_.push(Steps{trial_, std::move(points_)});
      points_ = {};
    }
    Coordinator& coordinator_;
    executors::EventQueue<Event>& queue_;
    std::size_t trial_;
    Clock::time_point flushed_;
    std::vector<Step> points_;
  };

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
    std::size_t in_flight = 0;
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
        std::vector<Event>& events;
        std::size_t& next;
        void settle(Event& event) {
          if (auto* judge = std::get_if<Judge>(&event)) judge->verdict->set_value({});
          if (std::holds_alternative<JobDone>(event)) --in_flight;
        }
        ~Drain() {
          for (; next < events.size(); ++next) settle(events[next]);
          if (in_flight == 0) return;
          self.abort_.store(true, std::memory_order_relaxed);
          while (in_flight > 0) {
            queue.take_all(events);
            for (auto& event : events) settle(event);
          }
        }
      } drain{*this, queue, in_flight, events, next};
      for (;;) {
        while (in_flight < options_.workers && !stop_requested()) {
          const auto job = next_job();
          if (!job) break;
          Slot& slot = begin(*job);
          slot.config = study_.trials()[job->trial].config;
          ++in_flight;
          pool.submit([this, &queue, &slot, job = *job] {
            WorkerSink sink(*this, queue, job.trial);
            runner_.run(slot, job, slot.config, sink);
          });
        }
        if (in_flight == 0) break;
        queue.take_all(events);
        for (next = 0; next < events.size();) {
          Event& event = events[next++];
          if (std::holds_alternative<JobDone>(event)) --in_flight;
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
      try {
        judged->verdict->set_value(judge(*judged->report));
      } catch (...) {
        judged->verdict->set_exception(std::current_exception());
      }
    } else {
      apply_done(std::move(std::get<JobDone>(event)));
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
    trial.status = TrialStatus::running;
    trial.rung = job.rung;
    return slots_[job.trial];
  }

  void apply_step(Trial& trial, Step&& point) {
    trial.resource = point.step;
    trial.curve.push_back(std::move(point));
    update_result(trial);
    each_observer("on_step", trial.id, [&](auto& o) { notify_step(o, trial, trial.curve.back()); });
  }

  void apply_done(JobDone&& done) {
    if (done.error) std::rethrow_exception(done.error);
    Trial& trial = study_.trials()[done.job.trial];
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
    if (trial.finished()) end(trial);
    if (!options_.reproducible_lag) {
      report(done.job, outcome);
      return;
    }
    const auto sequence = sequence_of_.at(done.job.trial);
    if (sequence >= told_ + pending_.size()) pending_.resize(sequence - told_ + 1);
    pending_[sequence - told_] = Pending{done.job, outcome};
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
    if (!options_.reproducible_lag) return scheduler_.next();
    const std::size_t lag = *options_.reproducible_lag;
    while (told_ + lag < issued_)
      if (!tell_next()) return std::nullopt;  // that job still runs: wait for it
    for (;;) {
      if (auto job = scheduler_.next()) {
        if (job->trial >= sequence_of_.size()) sequence_of_.resize(job->trial + 1);
        sequence_of_[job->trial] = issued_++;
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
    report(next.job, next.outcome);
    return true;
  }

  /// @brief The end of the study: prunes what the scheduler never promoted and any paused trial.
  void finish() {
    if (stop_requested()) {
      study_.set_interrupted(true);
      return;  // paused trials stay paused: what they did is kept
    }
    if (!scheduler_.finished())
      throw std::logic_error("hpt::tune: the scheduler stopped handing out work before finishing");
    for (const auto& pruning : scheduler_.unpromoted()) prune(pruning);
    for (auto& trial : study_.trials())  // any other paused trial: the study is over
      if (trial.status == TrialStatus::paused)
        prune({trial.id, trial.rung, "paused when the study ended"});
  }

 private:
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
    end(trial);
  }

  void end(Trial& trial) {
    if constexpr (StudyRule<Policy>)
      notify_trial_ended(policy_, TrialEnded{trial.id, trial.status, trial.resource});
    runner_.release(slots_[trial.id], trial.status);
    each_observer("on_trial_end", trial.id, [&](auto& o) { notify_trial_end(o, trial); });
  }

  /// @brief Calls f on every observer that has not thrown yet. An observer's exception is
  /// recorded in the study (ObserverError) and that observer is not called again, so a failing
  /// reporter never loses the study; with catch_exceptions = false it propagates, for debugging.
  template <class F>
  void each_observer(const char* hook, std::optional<std::size_t> trial, F&& f) {
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
  std::atomic<bool> abort_{false};
  // reproducible_lag: results waiting to be told in the order their jobs were handed out.
  struct Pending {
    Job job;
    Outcome outcome;
  };
  std::deque<std::optional<Pending>> pending_;  // for the jobs told_, told_ + 1, ...
  std::vector<std::size_t> sequence_of_;        // by trial: its current job's place in that order
  std::size_t issued_ = 0;
  std::size_t told_ = 0;
};

}  // namespace hpt::detail
