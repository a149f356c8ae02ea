#pragma once
/// @file sampler.hpp
/// @brief The sampler concept: which configuration a new trial gets. Separate from the budget
/// schedulers (how much each trial runs), so any strategy takes any sampler.
///
/// A sampler is asked for trial k's configuration once, when the scheduler creates trial k, and
/// is told how every job of every trial went, in the order the coordinator applies them. A sampler
/// whose answers depend only on (seed, k), as random and grid sampling do, gives the same trials
/// whatever order results arrive in; one that learns from what it is told (TPE, BOHB) answers
/// from the results it has seen so far.
///
/// Settings and state are split: a strategy holds sampler settings (`hpt::RandomSampling{}`), a
/// plain value, and makes the sampler from them with the space and the study's seed.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "hpt/core/config.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {

/// @brief What a sampler is told after each job of a trial.
struct SampleFeedback {
  std::size_t trial = 0;
  const Config* config{};     ///< The trial's configuration.
  std::int64_t resource = 0;  ///< Steps the trial has done.
  /// The trial's result as a loss (negated when maximizing); NaN for failed or diverged trials.
  double loss = 0;
  TrialStatus status = TrialStatus::paused;  ///< paused, or how the trial ended.
};

/// @brief Run-time sampler state: `ask(trial)` gives a new trial's configuration; `tell` is
/// optional.
template <class S>
concept Sampler = requires(S& sampler, std::size_t trial) {
  { sampler.ask(trial) } -> std::same_as<Config>;
};

/// @brief Sampler settings: a plain value that makes the sampler for a space and a seed.
template <class S>
concept SamplerSettings = requires(const S& settings, const SearchSpace& space,
                                   std::uint64_t seed) {
  { settings.make_sampler(space, seed) } -> Sampler;
};

/// @brief The sampler that settings S make.
template <SamplerSettings S>
using SamplerOf = decltype(std::declval<const S&>().make_sampler(std::declval<const SearchSpace&>(),
                                                                 std::uint64_t{}));

/// @brief Tells a sampler that has the optional hook.
template <Sampler S>
void tell_sampler(S& sampler, const SampleFeedback& feedback) {
  if constexpr (requires { sampler.tell(feedback); }) sampler.tell(feedback);
}

}  // namespace hpt
