#pragma once
/// @file observer.hpp
/// @brief Observers: objects told about the study as it runs. Every hook is optional and detected
/// at compile time; an observer defines only what it needs:
/// `on_study_start(const Study&)`, `on_trial_start(const Trial&)`,
/// `on_step(const Trial&, const Step&)`, `on_trial_end(const Trial&)`, `on_study_end(const
/// Study&)`.

#include "hpt/study/study.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {

/// @brief True when O has at least one observer hook (catches misspelt observers early).
template <class O>
concept Observer = requires(O& observer, const Study& study, const Trial& trial, const Step& step) {
  requires requires {
    observer.on_study_start(study);
  } || requires {
    observer.on_trial_start(trial);
  } || requires {
    observer.on_step(trial, step);
  } || requires {
    observer.on_trial_end(trial);
  } || requires {
    observer.on_study_end(study);
  };
};

namespace detail {

template <class O>
void notify_study_start(O& observer, const Study& study) {
  if constexpr (requires { observer.on_study_start(study); }) observer.on_study_start(study);
}
template <class O>
void notify_trial_start(O& observer, const Trial& trial) {
  if constexpr (requires { observer.on_trial_start(trial); }) observer.on_trial_start(trial);
}
template <class O>
void notify_step(O& observer, const Trial& trial, const Step& step) {
  if constexpr (requires { observer.on_step(trial, step); }) observer.on_step(trial, step);
}
template <class O>
void notify_trial_end(O& observer, const Trial& trial) {
  if constexpr (requires { observer.on_trial_end(trial); }) observer.on_trial_end(trial);
}
template <class O>
void notify_study_end(O& observer, const Study& study) {
  if constexpr (requires { observer.on_study_end(study); }) observer.on_study_end(study);
}

}  // namespace detail
}  // namespace hpt
