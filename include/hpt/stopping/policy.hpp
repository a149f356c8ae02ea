#pragma once
/// @file policy.hpp
/// @brief The early-stopping policy concept, the verdicts policies return, and their composition.
///
/// Two kinds of policy. A trial rule (Patience, Divergence, Threshold, Prechelt's criteria) is
/// plain settings with a nested `State` that the engine keeps next to each trial, so it runs on
/// whichever worker runs the trial and a paused trial keeps its state when it is resumed. A study
/// rule (MedianStopping) judges a trial against the others: the engine copies it once per study and
/// shows it every step of every trial, and every trial's end, on its coordinating thread.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/core/format.hpp"
#include "hpt/core/input_excerpt.hpp"
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
  /// Which ended trials a study rule may use for this check: those whose TrialEnded::epoch is at
  /// most this. Every ended trial unless StudyOptions::reproducible_lag is set; then the trials
  /// whose ends were told before this trial's job was handed out, the same for any number of
  /// workers (see docs/parallel.md).
  std::size_t epoch = std::numeric_limits<std::size_t>::max();

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
  /// With StudyOptions::reproducible_lag: how many job results had been told when this end was
  /// told (ends then come in the order their jobs were handed out, not as they happen); checks
  /// whose StepReport::epoch is at least this may use the trial. 0 otherwise: every check may.
  std::size_t epoch = 0;
  /// No check after this end has a StepReport::epoch below this: a rule may merge the ends up to
  /// it for good. Every end is settled unless StudyOptions::reproducible_lag is set.
  std::size_t settled = std::numeric_limits<std::size_t>::max();
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

/// @brief A rule inside one trial (Patience, Divergence, ...): plain settings, and a `State`
/// per trial that whoever runs the trial keeps next to it (ensmallen's policy-with-inner-state
/// pattern). check() is const, so one rule serves trials on many threads at once.
template <class P>
concept TrialRule = std::copy_constructible<P> && std::default_initializable<typename P::State> &&
    requires(const P& rule, typename P::State& state, const StepReport& report) {
  { rule.check(state, report) } -> std::same_as<Verdict>;
};

/// @brief A rule across trials (MedianStopping): it remembers what it needs itself and is shown
/// every step of every trial and, with the optional trial_ended hook, every trial's end. The
/// engine runs it on its coordinating thread only, in one order.
template <class P>
concept StudyRule = std::copy_constructible<P> && requires(P& rule, const StepReport& report) {
  { rule.check(report) } -> std::same_as<Verdict>;
};

/// @brief A type that can judge a trial after each step: a TrialRule or a StudyRule.
template <class P>
concept StoppingPolicy = TrialRule<P> || StudyRule<P>;

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

/// @brief A policy's settings as one line ("Patience(patience=5, ...)"), stored with a study and
/// compared when it is resumed; empty for a policy without a `std::string settings() const`
/// (a policy of your own: add one to have it checked).
template <class P>
std::string policy_settings(const P& policy) {
  if constexpr (requires {
                  { policy.settings() } -> std::convertible_to<std::string>;
                })
    return policy.settings();
  else
    return {};
}

namespace detail {

/// @brief "Name(field=value, ...)": a policy's settings as one line, stored with a study and
/// compared when it is resumed. Numbers read back as the same double (format_real).
class SettingsText {
 public:
  explicit SettingsText(std::string_view name) : text_(name) { text_ += '('; }
  SettingsText& add(std::string_view field, double value) {
    return field_(field, format_real(value));
  }
  SettingsText& add(std::string_view field, std::int64_t value) {
    return field_(field, std::to_string(value));
  }
  SettingsText& add(std::string_view field, const std::optional<double>& value) {
    return field_(field, value ? format_real(*value) : std::string("none"));
  }
  SettingsText& add(std::string_view field, const std::optional<Direction>& value) {
    return field_(field, value ? std::string(to_string(*value)) : std::string("study"));
  }
  /// A metric's name; empty means the objective.
  SettingsText& metric(std::string_view field, const std::string& name) {
    return field_(field, name.empty() ? std::string("objective") : quote_input(name));
  }
  SettingsText& text(std::string_view field, std::string_view value) {
    return field_(field, std::string(value));
  }
  [[nodiscard]] std::string str() const { return text_ + ')'; }

 private:
  SettingsText& field_(std::string_view field, const std::string& value) {
    if (!first_) text_ += ", ";
    first_ = false;
    text_ += field;
    text_ += '=';
    text_ += value;
    return *this;
  }
  std::string text_;
  bool first_ = true;
};

}  // namespace detail

/// @brief The policy that never stops anything.
struct NoStopping {
  struct State {};
  [[nodiscard]] Verdict check(State&, const StepReport&) const noexcept { return {}; }
  [[nodiscard]] std::string settings() const { return "NoStopping"; }
};

namespace detail {

/// @brief What a member of a combination remembers per trial when the combination runs as a
/// study rule: a trial rule's State, nothing for a study rule (it keeps its own).
struct NoState {};
template <class P>
struct StateOf {
  using type = NoState;
};
template <TrialRule P>
struct StateOf<P> {
  using type = typename P::State;
};

/// @brief Per-trial states of a trial rule kept by trial id, for running it as a study rule.
template <class P>
using StatesOf = std::vector<typename StateOf<P>::type>;

template <class P>
Verdict check_by_trial(P& policy, StatesOf<P>& states, const StepReport& report) {
  if constexpr (TrialRule<P>) {
    if (report.trial >= states.size()) states.resize(report.trial + 1);
    return std::as_const(policy).check(states[report.trial], report);
  } else {
    return policy.check(report);
  }
}

template <class P>
void end_by_trial(P& policy, StatesOf<P>& states, const TrialEnded& ended) {
  if constexpr (TrialRule<P>) {
    if (ended.trial < states.size()) states[ended.trial] = {};  // frees what it held
  } else {
    notify_trial_ended(policy, ended);
  }
}

/// @brief The verdict of any-of or all-of over verdicts given in order.
class Combined {
 public:
  explicit Combined(bool all) : all_(all) {}
  void add(Verdict verdict) {
    if (!verdict.stops()) {
      every_stops_ = false;
      return;
    }
    if (!result_.stops()) {
      result_ = std::move(verdict);
    } else if (all_) {
      result_.policy += " & " + verdict.policy;
      result_.reason += "; " + verdict.reason;
      if (verdict.action == Verdict::Action::diverge) result_.action = verdict.action;
    }
  }
  [[nodiscard]] Verdict result() && {
    return all_ && !every_stops_ ? Verdict{} : std::move(result_);
  }

 private:
  bool all_;
  bool every_stops_ = true;
  Verdict result_{};
};

/// @brief AnyOf (all = false) and AllOf (all = true). Every policy sees every step, so each keeps
/// its statistics complete. Made only of trial rules it is a trial rule (State is the tuple of
/// theirs); with a study rule among them it is a study rule that keeps its trial rules' states by
/// trial id.
template <bool all, StoppingPolicy... Policies>
struct Combination {
  static constexpr bool of_trial_rules = (TrialRule<Policies> && ...);

  std::tuple<Policies...> policies;
  /// Used only when a study rule is among the policies (not configuration).
  std::tuple<StatesOf<Policies>...> states_by_trial{};

  using State = std::tuple<typename StateOf<Policies>::type...>;

  [[nodiscard]] Verdict check(State& state,
                              const StepReport& report) const requires of_trial_rules {
    Combined combined(all);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (combined.add(std::get<I>(policies).check(std::get<I>(state), report)), ...);
    }
    (std::index_sequence_for<Policies...>{});
    return std::move(combined).result();
  }

  [[nodiscard]] Verdict check(const StepReport& report) requires(!of_trial_rules) {
    Combined combined(all);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (combined.add(check_by_trial(std::get<I>(policies), std::get<I>(states_by_trial), report)),
       ...);
    }
    (std::index_sequence_for<Policies...>{});
    return std::move(combined).result();
  }

  void trial_ended(const TrialEnded& ended) requires(!of_trial_rules) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (end_by_trial(std::get<I>(policies), std::get<I>(states_by_trial), ended), ...);
    }
    (std::index_sequence_for<Policies...>{});
  }

  /// @brief "any_of(A(...), B(...))" (all_of when every one must stop); empty when a member
  /// cannot describe its settings.
  [[nodiscard]] std::string settings() const {
    std::string text = all ? "all_of(" : "any_of(";
    bool known = true;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((text += (I == 0 ? "" : ", ") + policy_settings(std::get<I>(policies)),
        known = known && !policy_settings(std::get<I>(policies)).empty()),
       ...);
    }
    (std::index_sequence_for<Policies...>{});
    return known ? text + ')' : std::string();
  }

  void validate() const {
    std::apply([](const auto&... policy) { (validate_policy(policy), ...); }, policies);
  }
};

}  // namespace detail

/// @brief Stops when any of its policies stops; the first one (in order) that stops gives the
/// verdict.
template <StoppingPolicy... Policies>
using AnyOf = detail::Combination<false, Policies...>;

/// @brief Stops only when all of its policies stop at the same step; reasons are joined. Diverges
/// if any of the agreeing verdicts is a divergence.
template <StoppingPolicy... Policies>
using AllOf = detail::Combination<true, Policies...>;

/// @brief Any policy judged over a whole study, keeping a trial rule's State for each trial by
/// id: how the engine runs a rule on one thread, and how to check a policy by hand.
/// `StatefulPolicy checked{hpt::Patience{.patience = 3}}; checked.check(report);`
template <StoppingPolicy P>
class StatefulPolicy {
 public:
  StatefulPolicy() = default;
  explicit StatefulPolicy(P policy) : policy_(std::move(policy)) {}

  [[nodiscard]] Verdict check(const StepReport& report) {
    return detail::check_by_trial(policy_, states_, report);
  }
  void trial_ended(const TrialEnded& ended) { detail::end_by_trial(policy_, states_, ended); }
  void validate() const { validate_policy(policy_); }

  [[nodiscard]] const P& policy() const noexcept { return policy_; }
  [[nodiscard]] P& policy() noexcept { return policy_; }
  /// @brief A trial rule's state of `trial` (default-made when the trial has none yet).
  [[nodiscard]] const typename detail::StateOf<P>::type& state(
      std::size_t trial) requires TrialRule<P> {
    if (trial >= states_.size()) states_.resize(trial + 1);
    return states_[trial];
  }

 private:
  P policy_{};
  detail::StatesOf<P> states_{};
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
