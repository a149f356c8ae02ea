#pragma once
/// @file trial_runner.hpp
/// @brief The trial runner: makes (or resets), steps, saves and restores one trial's trainable
/// for one job, applies the trial's own stopping rule, catches what the trainable throws, and
/// reports what happened to a sink as events. It runs on whichever thread the executor puts it
/// and never writes a Trial record: the coordinator does, from the events.
///
/// A sink has `step(trial, Step&&)` (one point of the curve), `judge(const StepReport&)` (a study
/// rule's verdict, decided by the coordinator), `done(JobDone&&)` and `stop_requested()`.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/format.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/space/typed_space.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trainable.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt::detail {

/// @brief The untyped space of a SearchSpace or a TypedSpace.
inline const SearchSpace& untyped(const SearchSpace& space) {
  return space;
}
template <class Struct>
const SearchSpace& untyped(const TypedSpace<Struct>& space) {
  return space.space();
}

/// @brief What a trainable is made from: the Config itself, or the bound struct.
inline const Config& parameters_for(const SearchSpace&, const Config& config) {
  return config;
}
template <class Struct>
Struct parameters_for(const TypedSpace<Struct>& space, const Config& config) {
  return space.bind(config);
}

template <class Space>
using ParametersOf = std::remove_cvref_t<decltype(parameters_for(std::declval<const Space&>(),
                                                                 std::declval<const Config&>()))>;
/// @brief What a trainable's constructor or a factory is called with.
template <class Space>
using ParametersArgument = const ParametersOf<Space>&;

/// @brief T has a step() that can be called (whatever it returns).
template <class T>
concept HasStep = requires(T& trainable) {
  trainable.step();
};

/// @brief A factory's product as a unique_ptr, whether it returns the object or a pointer.
template <class R>
struct Made {
  using type = std::remove_cvref_t<R>;
  static std::unique_ptr<type> own(R&& made) { return std::make_unique<type>(std::move(made)); }
};
template <class T>
struct Made<std::unique_ptr<T>> {
  using type = T;
  static std::unique_ptr<T> own(std::unique_ptr<T>&& made) { return std::move(made); }
};

/// @brief How one job of one trial ended, for the coordinator to record.
struct JobDone {
  Job job{};
  /// running: the job's budget was reached (the coordinator makes it paused or completed).
  TrialStatus status = TrialStatus::running;
  std::string reason{};
  std::string stopped_by{};
  FailureStage failure = FailureStage::none;
  double wall_seconds = 0;     ///< This job's time in the trainable's constructor and steps.
  std::int64_t steps_run = 0;  ///< Steps this job ran (the trial's earlier jobs not counted).
  bool started = true;         ///< False: the study stopped before this job began (see interrupt).
  bool saved = false;          ///< The paused trial was saved: its checkpoint is in the slot.
  std::exception_ptr error{};  ///< With catch_exceptions = false: rethrown by the coordinator.
};

/// The reason of a trial interrupted before its first step.
inline constexpr const char* not_started_reason =
    "the study was asked to stop before the trial started";

/// @brief The end of `job`, never started because the study is stopping, for a trial that had
/// run `steps` steps: a paused trial stays paused as it was, a new one is interrupted.
inline JobDone unstarted_job(const Job& job, std::int64_t steps) {
  JobDone done{.job = job, .started = false};
  if (steps > 0) {
    done.status = TrialStatus::paused;
  } else {
    done.status = TrialStatus::interrupted;
    done.reason = not_started_reason;
  }
  return done;
}

/// @brief After step `steps` of `trial` returned `metrics`: judges it (NaN or infinity diverges;
/// a trial rule is checked with the trial's state, a study rule by the sink), sends the step to
/// the sink, and sets `done` when the trial must end. Shared by the trial runner and AskTell.
template <class Policy, class Sink>
void judge_step(const Policy& policy, typename StateOf<Policy>::type& state, Sink& sink,
                std::size_t trial, std::int64_t steps, Metrics&& metrics,
                const StudyOptions& options, JobDone& done) {
  const bool finite = std::isfinite(metrics.objective);
  Verdict verdict;
  std::string policy_error;
  std::exception_ptr policy_exception;
  if (finite) {  // policies never see NaN or infinity: those diverge below, whatever the policy
    try {
      const StepReport report{trial, steps, metrics.objective, &metrics, options.direction};
      if constexpr (TrialRule<Policy>)
        verdict = policy.check(state, report);
      else
        verdict = sink.judge(report);
    } catch (const std::exception& error) {
      if (!options.catch_exceptions) policy_exception = std::current_exception();
      policy_error = std::string("the stopping policy threw at step ") + std::to_string(steps) +
                     ": " + error.what();
    } catch (...) {
      if (!options.catch_exceptions) policy_exception = std::current_exception();
      policy_error =
          "the stopping policy threw a non-standard exception at step " + std::to_string(steps);
    }
  }
  const bool trainable_done = metrics.done;
  const double objective = metrics.objective;
  sink.step(trial, Step{steps, objective, std::move(metrics.values)});
  if (!policy_error.empty()) {
    done.status = TrialStatus::failed;
    done.failure = FailureStage::policy;
    done.reason = std::move(policy_error);
    done.error = policy_exception;
  } else if (!finite) {
    done.status = TrialStatus::diverged;
    done.reason = "objective is " + format_real(objective) + " at step " + std::to_string(steps);
  } else if (verdict.stops()) {
    done.status = verdict.action == Verdict::Action::diverge ? TrialStatus::diverged
                  : verdict.action == Verdict::Action::prune ? TrialStatus::pruned
                                                             : TrialStatus::stopped;
    done.stopped_by = std::move(verdict.policy);
    done.reason = std::move(verdict.reason);
  } else if (trainable_done) {
    done.status = TrialStatus::completed;
    done.reason = "the trainable finished after " + std::to_string(steps) + " steps";
  }
}

/// @brief Ends a job that reached its resource: completed on its last rung, paused otherwise.
inline void reach_resource(const Job& job, std::int64_t steps, JobDone& done) {
  if (done.status != TrialStatus::running) return;
  if (job.last_rung) {
    done.status = TrialStatus::completed;
    done.reason = "ran its full budget of " + std::to_string(steps) + " steps";
  } else {
    done.status = TrialStatus::paused;
  }
}

/// @brief What lives next to one trial between its jobs: the trainable, its checkpoint, the
/// state of the trial's stopping rule and the steps done. Touched by one thread at a time: the
/// worker running the trial's job, or the coordinator between jobs.
///
/// One exists for every trial of the study, so it is kept small (32 bytes with a stateless rule):
/// the checkpoint is a pointer, and the copy of the configuration a worker needs travels with
/// the job, not here.
template <class T, class Policy>
struct TrialSlot {
  std::unique_ptr<T> object{};
  std::unique_ptr<std::string> checkpoint{};  ///< A paused trial's save(), when it was saved.
  std::int64_t steps = 0;
  int paused_rung = 0;  ///< The rung the trial paused at, restored if its next job never starts.
  [[no_unique_address]] typename StateOf<Policy>::type state{};
};

template <class Space, class Factory, class Policy>
class TrialRunner {
 public:
  using Parameters = ParametersOf<Space>;
  using Product = std::invoke_result_t<Factory&, const Parameters&>;
  using T = typename Made<Product>::type;
  using Slot = TrialSlot<T, Policy>;
  static_assert(Trainable<T>,
                "hpt::tune: the factory must make a Trainable (a type with step() returning "
                "hpt::Metrics or a number)");

  /// @param spare_objects How many finished Resettable trainables to keep for reuse.
  /// @param save_paused Save every paused trial (a durable storage keeps the checkpoint), even
  /// when StudyOptions::checkpoint_paused does not free its object.
  TrialRunner(const Space& space, Factory& factory, const Policy& policy,
              const StudyOptions& options, std::size_t spare_objects, bool save_paused = false)
      : space_(space),
        factory_(factory),
        policy_(policy),
        options_(options),
        spare_objects_(spare_objects),
        save_paused_(save_paused || options.checkpoint_paused) {}

  /// @brief Runs `job` on the trial in `slot` and reports to `sink`.
  template <class Sink>
  void run(Slot& slot, const Job& job, const Config& config, Sink& sink) {
    const auto start = Clock::now();
    const std::int64_t steps_before = slot.steps;
    JobDone done{.job = job};
    const bool made = !slot.object;
    if (made) make(slot, config, done);
    bool restored = false;
    if constexpr (Checkpointable<T>) {
      if (done.status == TrialStatus::running && slot.checkpoint) {
        restore(slot, done);
        restored = true;
      }
    }
    // A resumed study's paused trial without a checkpoint: its steps are in the record (and its
    // rules' state) already, so the new object retrains them unreported to catch up.
    if (made && !restored && slot.steps > 0 && done.status == TrialStatus::running)
      catch_up(slot, done);
    while (done.status == TrialStatus::running && slot.steps < job.resource) {
      if (sink.stop_requested()) {
        if (slot.steps == steps_before && steps_before > 0) {
          done.status = TrialStatus::paused;  // a resume that never stepped: still paused
          done.started = false;
        } else {
          done.status = TrialStatus::interrupted;
          done.reason = slot.steps == 0 ? std::string(not_started)
                                        : "the study was asked to stop after step " +
                                              std::to_string(slot.steps);
        }
        break;
      }
      step(slot, job.trial, sink, done);
    }
    reach_resource(job, slot.steps, done);
    if constexpr (Checkpointable<T>)  // before the outcome: a failed save() ends the trial
      if (done.status == TrialStatus::paused && save_paused_) save(slot, done);
    done.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    done.steps_run = slot.steps - steps_before;
    sink.done(std::move(done));
  }

  /// @brief Ends `job` unstarted because the study is stopping, without making the trainable: a
  /// paused trial stays paused as it was (object and checkpoint kept), a new one is interrupted
  /// before its first step.
  template <class Sink>
  void interrupt(const Slot& slot, const Job& job, Sink& sink) {
    sink.done(unstarted_job(job, slot.steps));
  }

  /// The reason of a trial interrupted before its first step.
  static constexpr const char* not_started = not_started_reason;

  /// @brief Frees what an ended trial held; its trainable may be kept for reset().
  void release(Slot& slot, TrialStatus status) {
    if (slot.object) {
      if constexpr (Resettable<T, Parameters>) {
        if (status != TrialStatus::failed) {
          const std::lock_guard lock(spares_mutex_);
          if (spares_.size() < spare_objects_) spares_.push_back(std::move(slot.object));
        }
      }
      slot.object.reset();
    }
    slot.checkpoint.reset();
    slot.state = {};
  }

 private:
  using Clock = std::chrono::steady_clock;

  void make(Slot& slot, const Config& config, JobDone& done) {
    try {
      if constexpr (Resettable<T, Parameters>) {
        if (std::unique_ptr<T> reused = take_spare()) {
          const auto lock = factory_lock();
          if (reused->reset(parameters_for(space_, config))) {
            slot.object = std::move(reused);
            return;
          }
        }
      }
      const auto lock = factory_lock();
      slot.object = Made<Product>::own(factory_(parameters_for(space_, config)));
    } catch (const std::exception& error) {
      fail(slot, done, FailureStage::construct,
           std::string("constructing the trainable threw: ") + error.what());
    } catch (...) {
      fail(slot, done, FailureStage::construct,
           "constructing the trainable threw a non-standard exception");
    }
  }

  std::unique_ptr<T> take_spare() {
    const std::lock_guard lock(spares_mutex_);
    if (spares_.empty()) return nullptr;
    std::unique_ptr<T> spare = std::move(spares_.back());
    spares_.pop_back();
    return spare;
  }

  [[nodiscard]] std::unique_lock<std::mutex> factory_lock() {
    if (!options_.serialize_factory) return {};
    return std::unique_lock(factory_mutex_);
  }

  /// Called from a catch block: with catch_exceptions = false the exception goes to the
  /// coordinator, which rethrows it.
  void fail(Slot& slot, JobDone& done, FailureStage stage, std::string reason) {
    if (!options_.catch_exceptions) done.error = std::current_exception();
    done.status = TrialStatus::failed;
    done.failure = stage;
    done.reason = std::move(reason);
    slot.object.reset();  // its state is unknown: never reused
  }

  template <class Sink>
  void step(Slot& slot, std::size_t trial, Sink& sink, JobDone& done) {
    Metrics metrics;
    try {
      metrics = step_metrics(*slot.object);
    } catch (const std::exception& error) {
      fail(slot, done, FailureStage::step,
           "step " + std::to_string(slot.steps + 1) + " threw: " + error.what());
      return;
    } catch (...) {
      fail(slot, done, FailureStage::step,
           "step " + std::to_string(slot.steps + 1) + " threw a non-standard exception");
      return;
    }
    ++slot.steps;
    judge_step(policy_, slot.state, sink, trial, slot.steps, std::move(metrics), options_, done);
  }

  void save(Slot& slot, JobDone& done) {
    std::ostringstream out;
    try {
      slot.object->save(out);
    } catch (const std::exception& error) {
      fail(slot, done, FailureStage::save, std::string("save() threw: ") + error.what());
      return;
    } catch (...) {
      fail(slot, done, FailureStage::save, "save() threw a non-standard exception");
      return;
    }
    slot.checkpoint = std::make_unique<std::string>(std::move(out).str());
    done.saved = true;
    if (options_.checkpoint_paused) slot.object.reset();
  }

  /// Steps a new object `slot.steps` times without reporting (see run()).
  void catch_up(Slot& slot, JobDone& done) {
    for (std::int64_t step = 1; step <= slot.steps; ++step) {
      try {
        (void)step_metrics(*slot.object);
      } catch (const std::exception& error) {
        fail(slot, done, FailureStage::step,
             "step " + std::to_string(step) +
                 " threw while retraining after a resume: " + error.what());
        return;
      } catch (...) {
        fail(slot, done, FailureStage::step,
             "step " + std::to_string(step) +
                 " threw a non-standard exception while retraining after a resume");
        return;
      }
    }
  }

  void restore(Slot& slot, JobDone& done) {
    std::istringstream in(std::move(*slot.checkpoint));
    slot.checkpoint.reset();
    try {
      slot.object->restore(in);
    } catch (const std::exception& error) {
      fail(slot, done, FailureStage::restore, std::string("restore() threw: ") + error.what());
    } catch (...) {
      fail(slot, done, FailureStage::restore, "restore() threw a non-standard exception");
    }
  }

  const Space& space_;
  Factory& factory_;
  const Policy& policy_;
  const StudyOptions& options_;
  std::size_t spare_objects_;
  bool save_paused_;
  std::mutex spares_mutex_;
  std::vector<std::unique_ptr<T>> spares_;  // finished trainables kept for reset()
  std::mutex factory_mutex_;
};

}  // namespace hpt::detail
