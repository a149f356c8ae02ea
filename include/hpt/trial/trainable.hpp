#pragma once
/// @file trainable.hpp
/// @brief The Trainable concept: what the tuner needs from the user's trainer.
///
/// A trainable is made by the user's factory (or its constructor) from a configuration, and
/// advances by one unit of budget per `step()` — an epoch, or N minibatches: the user decides.
/// `step()` returns Metrics (objective plus named values), or just the objective as a number.
/// Optional capabilities are detected, never required:
/// - Checkpointable: `save(std::ostream&) const` and `restore(std::istream&)` let a paused trial be
///   written out and rebuilt (to bound memory, and later to move a trial between processes);
/// - Resettable: `reset(const Params&)` returning true reuses the object for a new configuration
///   instead of destroying it and constructing another (Ray Tune's reset_config).

#include <concepts>
#include <istream>
#include <ostream>
#include <type_traits>
#include <utility>

#include "hpt/core/metrics.hpp"

namespace hpt {

/// @brief What step() may return: Metrics, or a number taken as the objective.
template <class R>
concept StepResult = std::convertible_to<R, Metrics> ||
    (std::is_arithmetic_v<std::remove_cvref_t<R>> && !std::same_as<std::remove_cvref_t<R>, bool>);

/// @brief A type the tuner can advance one unit of budget at a time.
template <class T>
concept Trainable = requires(T& trainable) {
  { trainable.step() } -> StepResult;
};

/// @brief A trainable whose whole state can be written and read back.
template <class T>
concept Checkpointable = Trainable<T> &&
    requires(const T& saved, T& restored, std::ostream& out, std::istream& in) {
  saved.save(out);
  restored.restore(in);
};

/// @brief A trainable that can be reused for a new configuration (or typed hyperparameters).
template <class T, class Params>
concept Resettable = Trainable<T> && requires(T& trainable, const Params& params) {
  { trainable.reset(params) } -> std::convertible_to<bool>;
};

/// @brief The Metrics of one step, whatever step() returns.
template <Trainable T>
[[nodiscard]] Metrics step_metrics(T& trainable) {
  using R = decltype(trainable.step());
  if constexpr (std::convertible_to<R, Metrics>) {
    return trainable.step();
  } else {
    Metrics metrics;
    metrics.objective = static_cast<double>(trainable.step());
    return metrics;
  }
}

}  // namespace hpt
