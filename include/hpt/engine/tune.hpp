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
/// NaN or infinite objective marks it diverged; the study goes on either way. With
/// `.workers = N` in the options, N trials run at once (docs/parallel.md). The work is split
/// between the trial runner (trial_runner.hpp), the coordinator (coordinator.hpp) and the
/// executors (hpt/executors/).

#include <algorithm>
#include <concepts>
#include <csignal>
#include <cstddef>
#include <exception>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/direction.hpp"
#include "hpt/core/input_excerpt.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/core/version.hpp"
#include "hpt/engine/coordinator.hpp"
#include "hpt/engine/trial_runner.hpp"
#include "hpt/observe/observer.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/space/typed_space.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trainable.hpp"

namespace hpt {
namespace detail {

/// @brief While alive, SIGINT asks the running study to stop (StudyOptions::stop_on_interrupt);
/// the previous handler comes back afterwards.
class InterruptHandler {
 public:
  explicit InterruptHandler(bool install) : installed_(install) {
    if (!installed_) return;
    interrupt_requested.store(false);
    previous_ = std::signal(SIGINT, [](int) { interrupt_requested.store(true); });
  }
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;
  ~InterruptHandler() {
    if (!installed_) return;
    std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
    interrupt_requested.store(false);
  }

 private:
  bool installed_;
  void (*previous_)(int) = SIG_DFL;
};

/// @brief What a storage checks when a study is resumed; `policy` is policy_settings() of the
/// stopping policy (empty: not compared).
inline StudyIdentity identity_of(const Study& study, const SearchSpace& space,
                                 std::string policy = {}) {
  std::ostringstream space_text, strategy_text;
  space_text << space;
  strategy_text << study.schedule();
  return {.name = study.options().name,
          .direction = study.direction(),
          .result = study.options().result,
          .seed = study.options().seed,
          .space = std::move(space_text).str(),
          .strategy = std::move(strategy_text).str(),
          .policy = std::move(policy),
          .version = std::string(version)};
}

/// @brief Throws std::invalid_argument for a strategy, policy, options or enqueued
/// configuration that cannot run; every executor checks its inputs with it first.
template <SearchStrategy Strategy, StoppingPolicy Policy>
void check_study_inputs(const SearchSpace& space, const Strategy& strategy, const Policy& policy,
                        const StudyOptions& options) {
  strategy.validate();
  validate_policy(policy);
  options.validate();
  check_enqueued(space, options.enqueue);
}

/// @brief The empty record of a study of `strategy` on `space`.
template <SearchStrategy Strategy>
Study make_study(const SearchSpace& space, const Strategy& strategy, const StudyOptions& options) {
  Study study(options, strategy.schedule(space));
  if (const auto trials = study.schedule().trials())  // a bounded start; it grows per trial
    study.trials().reserve(std::min<std::size_t>(*trials, 4096));
  return study;
}

/// @brief However a run ends, this process's session of a stored study ends with it: other
/// sessions abandon whatever it left running, at once (declare it before the coordinator,
/// which ends its transaction first).
struct CloseSession {
  Storage* storage;
  explicit CloseSession(Storage* open) noexcept : storage(open) {}
  CloseSession(const CloseSession&) = delete;
  CloseSession& operator=(const CloseSession&) = delete;
  ~CloseSession() {
    if (storage) storage->close();
  }
};

template <class Space, class Factory, SearchStrategy Strategy, StoppingPolicy Policy,
          class... Observers>
Study run_study(const Space& space, Factory& factory, const Strategy& strategy, Policy policy,
                const StudyOptions& options, Observers&... observers) {
  const SearchSpace& untyped_space = untyped(space);
  check_study_inputs(untyped_space, strategy, policy, options);
  Study study = make_study(untyped_space, strategy, options);
  auto scheduler = strategy.make_scheduler(untyped_space, options.seed);
  Storage* storage = options.storage.get();
  const CloseSession close_session{storage};
  TrialRunner<Space, Factory, Policy> runner(space, factory, policy, study.options(),
                                             options.workers + 1, storage && storage->durable());
  Coordinator<decltype(runner), decltype(scheduler), Policy, Observers...> coordinator(
      runner, scheduler, policy, study, observers...);
  if (storage)
    coordinator.resume(
        storage->open(identity_of(study, untyped_space, policy_settings(policy)), options.open));
  const InterruptHandler interrupt_handler(options.stop_on_interrupt);
  coordinator.run();
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
