#pragma once
/// @file strategy.hpp
/// @brief The concept a search strategy models: settings, a plan and a scheduler.

#include <concepts>
#include <cstdint>

#include "hpt/scheduling/protocol.hpp"
#include "hpt/scheduling/schedule.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {

/// @brief A strategy: settings that validate themselves, show their plan, and make a scheduler.
template <class S>
concept SearchStrategy = requires(const S& strategy, const SearchSpace& space, std::uint64_t seed) {
  strategy.validate();
  { strategy.schedule(space) } -> std::same_as<Schedule>;
  { strategy.make_scheduler(space, seed) } -> Scheduler;
};

}  // namespace hpt
