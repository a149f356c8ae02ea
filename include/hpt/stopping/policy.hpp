#pragma once
/// @file policy.hpp
/// @brief The early-stopping policy concept, the verdicts policies return, and their composition.
///
/// A policy is a study-scoped object: the engine copies the user's policy once per study, then
/// shows it every step of every trial (StepReport) and, when it has the hook, every trial's end
/// (TrialEnded). Per-trial state lives inside the policy, keyed by the dense trial id, so one
/// interface serves both rules inside a trial (Patience) and rules across trials (MedianStopping),
/// and paused trials keep their state when a halving strategy resumes them.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "hpt/core/direction.hpp"
#include "hpt/core/format.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/core/trial_status.hpp"

namespace hpt {

/// @brief What a policy is shown after a trial's step.
struct StepReport {
  std::size_t trial = 0;     ///< Dense trial id, 0-based, in creation order.
  std::int64_t step = 0;     ///< Steps this trial has done, this one included (1 for the first).
  double objective = 0;      ///< The step's objective (finite: NaN/inf diverge before policies).
  const Metrics* metrics{};  ///< The full report, for policies that watch another value.
  Direction direction = Direction::minimize;  ///< The study's direction.

  /// @brief The named metric of this step, or the objective when name is empty.
  [[nodiscard]] double value(std::string_view name) const {
    if (name.empty()) return objective;
    if (!metrics)
      throw std::logic_error("hpt::StepReport: metric \"" + std::string(name) +
                             "\" asked of a report without metrics");
    return metrics->value(name);
  }
};

/// @brief Shown to a policy's optional trial_ended hook.
struct TrialEnded {
  std::size_t trial = 0;
  TrialStatus status = TrialStatus::completed;
  std::int64_t steps = 0;  ///< Steps the trial did in all.
};

/// @brief A policy's answer after a step.
struct Verdict {
  enum class Action {
    proceed,  ///< Go on.
    stop,     ///< End the trial early: status stopped (a rule inside the trial, e.g. Patience).
    prune,    ///< End the trial as worse than others: status pruned (e.g. MedianStopping).
    diverge,  ///< End the trial as diverged.
  };
  Action action = Action::proceed;
  std::string policy{};  ///< Which policy decided, e.g. "Patience".
  std::string reason{};  ///< Why, in a sentence a user can act on, with the numbers.
  // No "report the best step" flag: which step is a trial's result is the study's rule
  // (StudyOptions::result), the same for stopped, completed and pruned trials.

  [[nodiscard]] static Verdict proceed() { return {}; }
  [[nodiscard]] static Verdict stop(std::string policy, std::string reason) {
    return {Action::stop, std::move(policy), std::move(reason)};
  }
  [[nodiscard]] static Verdict prune(std::string policy, std::string reason) {
    return {Action::prune, std::move(policy), std::move(reason)};
  }
  [[nodiscard]] static Verdict diverge(std::string policy, std::string reason) {
    return {Action::diverge, std::move(policy), std::move(reason)};
  }
  /// @brief True when the trial must end.
  [[nodiscard]] bool stops() const noexcept { return action != Action::proceed; }
};

/// @brief A type that can judge a trial after each step.
template <class P>
concept StoppingPolicy = std::copy_constructible<P> && requires(P& policy, const StepReport& r) {
  { policy.check(r) } -> std::same_as<Verdict>;
};

/// @brief Forwards a trial's end to a policy that has the optional trial_ended hook.
template <StoppingPolicy P>
void notify_trial_ended(P& policy, const TrialEnded& ended) {
  if constexpr (requires { policy.trial_ended(ended); }) policy.trial_ended(ended);
}

/// @brief Calls a policy's optional validate(), so that bad settings throw before any trial runs.
template <StoppingPolicy P>
void validate_policy(const P& policy) {
  if constexpr (requires { policy.validate(); }) policy.validate();
}

/// @brief The policy that never stops anything.
struct NoStopping {
  [[nodiscard]] Verdict check(const StepReport&) const noexcept { return {}; }
};

/// @brief Stops when any of its policies stops; the first one (in order) that stops gives the
/// verdict. Every policy sees every step, so each keeps its statistics complete.
template <StoppingPolicy... Policies>
struct AnyOf {
  std::tuple<Policies...> policies;

  [[nodiscard]] Verdict check(const StepReport& report) {
    Verdict result;
    std::apply(
        [&](auto&... policy) {
          (
              [&] {
                Verdict verdict = policy.check(report);
                if (verdict.stops() && !result.stops()) result = std::move(verdict);
              }(),
              ...);
        },
        policies);
    return result;
  }
  void trial_ended(const TrialEnded& ended) {
    std::apply([&](auto&... policy) { (notify_trial_ended(policy, ended), ...); }, policies);
  }
  void validate() const {
    std::apply([](const auto&... policy) { (validate_policy(policy), ...); }, policies);
  }
};

/// @brief Stops only when all of its policies stop at the same step; reasons are joined. Diverges
/// if any of the agreeing verdicts is a divergence.
template <StoppingPolicy... Policies>
struct AllOf {
  std::tuple<Policies...> policies;

  [[nodiscard]] Verdict check(const StepReport& report) {
    bool all_stop = true;
    Verdict result;
    std::apply(
        [&](auto&... policy) {
          (
              [&] {
                Verdict verdict = policy.check(report);
                if (!verdict.stops()) {
                  all_stop = false;
                  return;
                }
                if (result.stops()) {
                  result.policy += " & " + verdict.policy;
                  result.reason += "; " + verdict.reason;
                  if (verdict.action == Verdict::Action::diverge) result.action = verdict.action;
                } else {
                  result = std::move(verdict);
                }
              }(),
              ...);
        },
        policies);
    return all_stop ? result : Verdict{};
  }
  void trial_ended(const TrialEnded& ended) {
    std::apply([&](auto&... policy) { (notify_trial_ended(policy, ended), ...); }, policies);
  }
  void validate() const {
    std::apply([](const auto&... policy) { (validate_policy(policy), ...); }, policies);
  }
};

/// @brief A policy that stops when any of the given policies stops.
template <StoppingPolicy... Policies>
[[nodiscard]] AnyOf<std::decay_t<Policies>...> any_of(Policies&&... policies) {
  return {{std::forward<Policies>(policies)...}};
}

/// @brief A policy that stops only when all of the given policies stop.
template <StoppingPolicy... Policies>
[[nodiscard]] AllOf<std::decay_t<Policies>...> all_of(Policies&&... policies) {
  return {{std::forward<Policies>(policies)...}};
}

/// @brief `a | b`: stop when either stops (any_of). Found by argument-dependent lookup when one
/// side is an hpt policy; for two policies of your own, write hpt::any_of(a, b).
template <StoppingPolicy A, StoppingPolicy B>
[[nodiscard]] AnyOf<A, B> operator|(A a, B b) {
  return {{std::move(a), std::move(b)}};
}

/// @brief `a & b`: stop only when both stop (all_of).
template <StoppingPolicy A, StoppingPolicy B>
[[nodiscard]] AllOf<A, B> operator&(A a, B b) {
  return {{std::move(a), std::move(b)}};
}

}  // namespace hpt
