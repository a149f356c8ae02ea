#pragma once
/// @file tune.hpp
/// @brief The study engine: runs a strategy's jobs on trainables, applies stopping policies,
/// records every trial, and returns the Study.
///
/// ```
/// auto study = hpt::tune<MyTrainer>(space, hpt::Hyperband{.max_resource = 81},
///                                   hpt::Patience{.patience = 5} | hpt::Divergence{},
///                                   {.direction = hpt::minimize, .seed = 42});
/// ```
/// A trial whose constructor or step() throws is recorded as failed with the exception's text; a
/// NaN or infinite objective marks it diverged; the study goes on either way.

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/direction.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/observe/observer.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/space/typed_space.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trainable.hpp"

namespace hpt {
namespace detail {

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

template <class Space, class Factory, class Sched, class Policy, class... Observers>
class Engine {
  using Parameters = ParametersOf<Space>;
  using Product = std::invoke_result_t<Factory&, const Parameters&>;
  using T = typename Made<Product>::type;
  static_assert(Trainable<T>,
                "hpt::tune: the factory must make a Trainable (a type with step() returning "
                "hpt::Metrics or a number)");

 public:
  Engine(const Space& space, Factory& factory, Sched scheduler, Policy policy, Study& study,
         Observers&... observers)
      : space_(space),
        factory_(factory),
        scheduler_(std::move(scheduler)),
        policy_(std::move(policy)),
        study_(study),
        observers_(observers...) {}

  void run() {
    const auto start = Clock::now();
    each_observer("on_study_start", std::nullopt, [&](auto& o) { notify_study_start(o, study_); });
    std::vector<Pruning> prunings;
    while (auto job = scheduler_.next()) {
      const Outcome outcome = run_job(*job);
      prunings.clear();
      scheduler_.report(*job, outcome, prunings);
      for (const auto& pruning : prunings) prune(pruning);
    }
    if (!scheduler_.finished())
      throw std::logic_error("hpt::tune: the scheduler stopped handing out work before finishing");
    if constexpr (requires { scheduler_.unpromoted(); })
      for (const auto& pruning : scheduler_.unpromoted()) prune(pruning);
    for (auto& trial : study_.trials())  // any other paused trial: the study is over
      if (trial.status == TrialStatus::paused)
        prune({trial.id, trial.rung, "paused when the study ended"});
    study_.set_wall_seconds(seconds_since(start));
    each_observer("on_study_end", std::nullopt, [&](auto& o) { notify_study_end(o, study_); });
  }

 private:
  using Clock = std::chrono::steady_clock;

  static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
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
    if (!study_.options().catch_exceptions) std::rethrow_exception(std::current_exception());
    observer_failed_[index] = true;
    study_.add_observer_error({index, hook, trial, std::move(message)});
  }

  Outcome run_job(const Job& job) {
    // A bracket or rung is an index: the study's records (and the readers) never hold a negative.
    if (job.bracket < 0 || job.rung < 0)
      throw std::logic_error("hpt::tune: the scheduler handed out trial " +
                             std::to_string(job.trial) + " with bracket " +
                             std::to_string(job.bracket) + " and rung " + std::to_string(job.rung) +
                             "; neither may be negative");
    if (job.trial == study_.trials().size()) {
      Trial record;
      record.id = job.trial;
      record.config = scheduler_.config(job.trial);
      record.bracket = job.bracket;
      // A modest reservation: a trainable may finish long before a huge budget.
      record.curve.reserve(static_cast<std::size_t>(std::min<std::int64_t>(job.resource, 64)));
      study_.add_trial(std::move(record));
      objects_.emplace_back();
      each_observer("on_trial_start", job.trial,
                    [&](auto& o) { notify_trial_start(o, study_.trials().back()); });
    } else if (job.trial > study_.trials().size()) {
      throw std::logic_error("hpt::tune: the scheduler skipped a trial id");
    }
    Trial& trial = study_.trials()[job.trial];
    if (trial.finished())
      throw std::logic_error("hpt::tune: the scheduler resumed trial " + std::to_string(trial.id) +
                             ", which has ended");
    const auto start = Clock::now();
    trial.status = TrialStatus::running;
    trial.rung = job.rung;
    if (!objects_[trial.id]) make_object(trial);
    if constexpr (Checkpointable<T>) restore_checkpoint(trial);
    while (trial.status == TrialStatus::running && trial.resource < job.resource) step(trial);
    if (trial.status == TrialStatus::running) {
      trial.status = job.last_rung ? TrialStatus::completed : TrialStatus::paused;
      if (job.last_rung)
        trial.reason = "ran its full budget of " + std::to_string(trial.resource) + " steps";
    }
    if constexpr (Checkpointable<T>)  // before the outcome: a failed save() ends the trial
      if (trial.status == TrialStatus::paused && study_.options().checkpoint_paused)
        save_checkpoint(trial);
    trial.wall_seconds += seconds_since(start);
    Outcome outcome;
    const double result = trial.result();
    if (trial.status != TrialStatus::failed && trial.status != TrialStatus::diverged &&
        std::isfinite(result))
      outcome.loss = as_loss(study_.direction(), result);
    outcome.can_continue = trial.status == TrialStatus::paused;
    if (trial.finished()) end(trial);
    return outcome;
  }

  void make_object(Trial& trial) {
    try {
      if constexpr (Resettable<T, Parameters>) {
        if (!pool_.empty()) {
          std::unique_ptr<T> reused = std::move(pool_.back());
          pool_.pop_back();
          if (reused->reset(parameters_for(space_, trial.config))) {
            objects_[trial.id] = std::move(reused);
            return;
          }
        }
      }
      objects_[trial.id] = Made<Product>::own(factory_(parameters_for(space_, trial.config)));
    } catch (const std::exception& error) {
      fail(trial, std::string("constructing the trainable threw: ") + error.what());
    } catch (...) {
      fail(trial, "constructing the trainable threw a non-standard exception");
    }
  }

  void fail(Trial& trial, std::string reason) {
    if (!study_.options().catch_exceptions) std::rethrow_exception(std::current_exception());
    trial.status = TrialStatus::failed;
    trial.reason = std::move(reason);
    objects_[trial.id].reset();  // its state is unknown: never reused
  }

  void step(Trial& trial) {
    Metrics metrics;
    try {
      metrics = step_metrics(*objects_[trial.id]);
    } catch (const std::exception& error) {
      fail(trial, "step " + std::to_string(trial.resource + 1) + " threw: " + error.what());
      return;
    } catch (...) {
      fail(trial, "step " + std::to_string(trial.resource + 1) + " threw a non-standard exception");
      return;
    }
    ++trial.resource;
    const bool finite = std::isfinite(metrics.objective);
    Verdict verdict;
    std::string policy_error;
    if (finite) {  // policies never see NaN or infinity: those diverge below, whatever the policy
      try {
        verdict = policy_.check(
            StepReport{trial.id, trial.resource, metrics.objective, &metrics, study_.direction()});
      } catch (const std::exception& error) {
        if (!study_.options().catch_exceptions) throw;
        policy_error = std::string("the stopping policy threw at step ") +
                       std::to_string(trial.resource) + ": " + error.what();
      }
    }
    const bool done = metrics.done;
    trial.curve.push_back({trial.resource, metrics.objective, std::move(metrics.values)});
    update_result(trial);
    if (!policy_error.empty()) {
      trial.status = TrialStatus::failed;
      trial.reason = std::move(policy_error);
    } else if (!finite) {
      trial.status = TrialStatus::diverged;
      trial.reason = "objective is " + format_real(trial.curve.back().objective) + " at step " +
                     std::to_string(trial.resource);
    } else if (verdict.stops()) {
      trial.status = verdict.action == Verdict::Action::diverge ? TrialStatus::diverged
                     : verdict.action == Verdict::Action::prune ? TrialStatus::pruned
                                                                : TrialStatus::stopped;
      trial.stopped_by = std::move(verdict.policy);
      trial.reason = std::move(verdict.reason);
    } else if (done) {
      trial.status = TrialStatus::completed;
      trial.reason = "the trainable finished after " + std::to_string(trial.resource) + " steps";
    }
    each_observer("on_step", trial.id, [&](auto& o) { notify_step(o, trial, trial.curve.back()); });
  }

  void save_checkpoint(Trial& trial) {
    std::ostringstream out;
    try {
      objects_[trial.id]->save(out);
    } catch (const std::exception& error) {
      fail(trial, std::string("save() threw: ") + error.what());
      return;
    } catch (...) {
      fail(trial, "save() threw a non-standard exception");
      return;
    }
    checkpoints_.resize(objects_.size());
    checkpoints_[trial.id] = std::move(out).str();
    objects_[trial.id].reset();
  }

  void restore_checkpoint(Trial& trial) {
    if (trial.id >= checkpoints_.size() || !checkpoints_[trial.id] || !objects_[trial.id]) return;
    std::istringstream in(std::move(*checkpoints_[trial.id]));
    checkpoints_[trial.id].reset();
    try {
      objects_[trial.id]->restore(in);
    } catch (const std::exception& error) {
      fail(trial, std::string("restore() threw: ") + error.what());
    } catch (...) {
      fail(trial, "restore() threw a non-standard exception");
    }
  }

  /// @brief Applies the study's result rule to the step just added, so that a rung's ranking, a
  /// stopped trial, best() and the exports all read the same result. O(1) per step.
  void update_result(Trial& trial) const {
    if (study_.options().result != TrialResult::best_step) return;  // empty: the last step
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
    notify_trial_ended(policy_, TrialEnded{trial.id, trial.status, trial.resource});
    if (auto& object = objects_[trial.id]) {
      // One spare object is all a sequential engine reuses; more would only hold memory.
      if constexpr (Resettable<T, Parameters>)
        if (trial.status != TrialStatus::failed && pool_.size() < 2)
          pool_.push_back(std::move(object));
      object.reset();
    }
    if (trial.id < checkpoints_.size()) checkpoints_[trial.id].reset();
    each_observer("on_trial_end", trial.id, [&](auto& o) { notify_trial_end(o, trial); });
  }

  const Space& space_;
  Factory& factory_;
  Sched scheduler_;
  Policy policy_;
  Study& study_;
  std::tuple<Observers&...> observers_;
  std::array<bool, sizeof...(Observers)> observer_failed_{};  // thrown once: not called again
  std::vector<std::unique_ptr<T>> objects_;  // live (running or paused) trainables by trial id
  std::vector<std::unique_ptr<T>> pool_;     // finished ones kept for reset()
  std::vector<std::optional<std::string>> checkpoints_;  // saved paused trials (checkpoint_paused)
};

template <class Space, class Factory, SearchStrategy Strategy, StoppingPolicy Policy,
          class... Observers>
Study run_study(const Space& space, Factory& factory, const Strategy& strategy, Policy policy,
                const StudyOptions& options, Observers&... observers) {
  const SearchSpace& untyped_space = untyped(space);
  strategy.validate();
  validate_policy(policy);
  Study study(options, strategy.schedule(untyped_space));
  if (const auto trials = study.schedule().trials())  // a bounded start; it grows per trial
    study.trials().reserve(std::min<std::size_t>(*trials, 4096));
  Engine<Space, Factory, decltype(strategy.make_scheduler(untyped_space, options.seed)), Policy,
         Observers...>
  engine(space, factory, strategy.make_scheduler(untyped_space, options.seed), std::move(policy),
         study, observers...);
  engine.run();
  return study;
}

}  // namespace detail

/// @brief A space tune() accepts: a SearchSpace or a TypedSpace<Struct>.
template <class S>
concept Space = std::same_as<S, SearchSpace> || requires {
  typename S::Hyperparameters;
};

/// @brief T can be made from each configuration of S: `T(const Config&)` for a SearchSpace,
/// `T(const Struct&)` for a TypedSpace<Struct>.
template <class T, class S>
concept ConstructibleFromConfiguration = std::constructible_from<T, detail::ParametersArgument<S>>;

/// @brief A factory tune() can call with each configuration of S; it returns the trainable by
/// value or as a std::unique_ptr.
template <class Factory, class S>
concept ConfigurationFactory = std::invocable<Factory&, detail::ParametersArgument<S>>;

/// @brief Tunes T, constructed from each configuration (`T(const Config&)`, or `T(const Struct&)`
/// for a TypedSpace<Struct>), with the given strategy and stopping policy.
///
/// T is checked by static_asserts in the body rather than by constraints, so a trainer that is not
/// a Trainable gets one message saying what is missing instead of a list of rejected overloads.
template <class T, Space S, SearchStrategy Strategy, StoppingPolicy Policy = NoStopping,
          Observer... Observers>
Study tune(const S& space, const Strategy& strategy, Policy policy = {},
           const StudyOptions& options = {}, Observers&&... observers) {
  static_assert(detail::HasStep<T>,
                "hpt::tune<T>: T has no step() that can be called: a trainer needs a member "
                "`hpt::Metrics step()` (or one returning the objective as a number) that runs "
                "one unit of budget");
  static_assert(Trainable<T>,
                "hpt::tune<T>: T::step() must return hpt::Metrics or a number (not bool)");
  static_assert(ConstructibleFromConfiguration<T, S>,
                "hpt::tune<T>: T needs a constructor from `const hpt::Config&` (or, for a "
                "TypedSpace<Struct>, from `const Struct&`)");
  auto factory = [](const detail::ParametersOf<S>& parameters) {
    return std::make_unique<T>(parameters);
  };
  return detail::run_study(space, factory, strategy, std::move(policy), options, observers...);
}

/// @brief Tunes the trainables `factory` makes from each configuration (it may return the
/// trainable by value or as a std::unique_ptr).
template <Space S, ConfigurationFactory<S> Factory, SearchStrategy Strategy,
          StoppingPolicy Policy = NoStopping, Observer... Observers>
Study tune(const S& space, Factory&& factory, const Strategy& strategy, Policy policy = {},
           const StudyOptions& options = {}, Observers&&... observers) {
  return detail::run_study(space, factory, strategy, std::move(policy), options, observers...);
}

}  // namespace hpt
