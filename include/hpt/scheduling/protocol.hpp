#pragma once
/// @file protocol.hpp
/// @brief The protocol between the study engine and a strategy's scheduler: jobs, outcomes,
/// prunings.
///
/// The protocol is ask/tell and tolerates results in any order: the engine asks `next()` for a job
/// (run trial t until it has consumed `resource` steps), runs it, and tells `report()` how it
/// went. `next()` returning nothing while jobs are outstanding means "wait for results"; once
/// `finished()` is true no job will ever come. A sequential engine and a parallel or distributed
/// one drive the same schedulers.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "hpt/core/config.hpp"

namespace hpt {

/// @brief Work for the engine: run `trial` until it has done `resource` steps in all.
struct Job {
  std::size_t trial = 0;
  std::int64_t resource = 0;
  int bracket = 0;
  int rung = 0;
  bool last_rung = false;  ///< Reaching `resource` completes the trial.
};

/// @brief How a job went, as the scheduler needs it.
struct Outcome {
  /// The trial's result as a loss (negated when maximizing); NaN for failed or diverged trials.
  double loss = std::numeric_limits<double>::quiet_NaN();
  /// The trial reached the job's resource and can be resumed (not stopped, failed or done).
  bool can_continue = false;
};

/// @brief A scheduler's decision not to continue a paused trial.
struct Pruning {
  std::size_t trial = 0;
  int rung = 0;
  std::string reason{};
};

/// @brief The run-time state of a strategy, driven by the study engine (see above). Its state is
/// a function of the sequence of next() and report() calls, so replaying the same sequence (as a
/// stored study will) rebuilds it; the coordinator makes those calls in one thread, in the order
/// it applies results. A scheduler that also has `tell(const SampleFeedback&)` passes results on
/// to its sampler.
template <class S>
concept Scheduler = requires(S& scheduler, const S& view, const Job& job, const Outcome& outcome,
                             std::vector<Pruning>& prunings, std::size_t trial) {
  { scheduler.next() } -> std::same_as<std::optional<Job>>;
  scheduler.report(job, outcome, prunings);
  { view.finished() } -> std::same_as<bool>;
  { scheduler.config(trial) } -> std::same_as<Config>;  // the configuration of a new trial
  // At the end of the study: paused trials never promoted, to be recorded as pruned.
  { view.unpromoted() } -> std::same_as<std::vector<Pruning>>;
};

}  // namespace hpt
