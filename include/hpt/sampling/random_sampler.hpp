#pragma once
/// @file random_sampler.hpp
/// @brief The random sampler: trial k's configuration from the study seed and k only.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "hpt/core/config.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {

/// @brief Configurations drawn at random, trial k from the study seed and k only, so that the
/// same seed gives the same trials whatever order they run in.
///
/// The sampler keeps its own copy of the space (shared between copies of the sampler): a
/// scheduler made from a temporary space, `Asha{}.make_scheduler(SearchSpace{...}, seed)`, must not
/// outlive what it samples from. The copy is made once per scheduler, never per trial.
class RandomSampler {
 public:
  RandomSampler(const SearchSpace& space, std::uint64_t seed)
      : space_(std::make_shared<const SearchSpace>(space)), seed_(seed) {}
  [[nodiscard]] Config ask(std::size_t trial) const { return space_->sample(seed_, trial); }

 private:
  std::shared_ptr<const SearchSpace> space_;
  std::uint64_t seed_;
};

/// @brief Random sampling, the default of every strategy but GridSearch: each configuration drawn
/// from the space by the study seed and the trial id only (SearchSpace::sample).
struct RandomSampling {
  [[nodiscard]] RandomSampler make_sampler(const SearchSpace& space, std::uint64_t seed) const {
    return {space, seed};
  }
};

}  // namespace hpt
