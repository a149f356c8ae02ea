#pragma once
/// @file halving_bracket.hpp
/// @brief One synchronous successive-halving bracket: the inner loop of SuccessiveHalving and
/// Hyperband.
///
/// Rung i runs its configurations to its resource; once every result of rung i is in (in any
/// order), the best `configurations` of rung i+1 that can continue are promoted and resume from
/// where they paused; the others are pruned. Ranking is by loss, NaN last, ties to the lower trial
/// id, so the outcome never depends on the order results arrive in.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/value.hpp"
#include "hpt/sampling/sampler.hpp"
#include "hpt/scheduling/detail/integer_math.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/scheduling/schedule.hpp"

namespace hpt::detail {

/// @brief Strict weak order on (loss, trial): lower loss first, NaN last, then lower id.
inline bool ranks_before(double loss_a, std::size_t trial_a, double loss_b, std::size_t trial_b) {
  const bool nan_a = std::isnan(loss_a), nan_b = std::isnan(loss_b);
  if (nan_a != nan_b) return nan_b;
  if (!nan_a && loss_a != loss_b) return loss_a < loss_b;
  return trial_a < trial_b;
}

/// @brief The steps `brackets` spend, summed as Schedule::total_resource() sums them, or nothing
/// when the sum does not fit in int64 (where total_resource() throws).
inline std::optional<std::int64_t> checked_total_resource(const std::vector<Bracket>& brackets) {
  const auto most = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t total = 0;
  for (const auto& bracket : brackets) {
    std::int64_t previous = 0;
    for (const auto& rung : bracket.rungs) {
      const auto count = static_cast<std::uint64_t>(rung.configurations.value_or(0));
      const auto added = static_cast<std::uint64_t>(rung.resource - previous);  // >= 0
      previous = rung.resource;
      if (added != 0 && count > (most - total) / added) return std::nullopt;
      total += count * added;
    }
  }
  return static_cast<std::int64_t>(total);
}

class HalvingBracket {
 public:
  /// @param first_trial The id of the bracket's first trial; its trials are consecutive.
  HalvingBracket(int index, std::vector<Rung> rungs, std::size_t first_trial)
      : index_(index), rungs_(std::move(rungs)), first_trial_(first_trial) {
    if (rungs_.empty() || !rungs_.front().configurations)
      throw std::logic_error("hpt: a halving bracket needs rungs with configuration counts");
  }

  [[nodiscard]] std::size_t trial_count() const { return *rungs_.front().configurations; }
  [[nodiscard]] std::size_t first_trial() const noexcept { return first_trial_; }
  [[nodiscard]] bool finished() const noexcept { return finished_; }

  std::optional<Job> next() {
    std::size_t trial = 0;
    if (rung_ == 0 && fresh_ < trial_count()) {
      trial = first_trial_ + fresh_++;  // rung 0 is a range: huge brackets cost no memory up front
    } else if (!queue_.empty()) {
      trial = queue_.front();
      queue_.pop_front();
    } else {
      return std::nullopt;
    }
    ++outstanding_;
    return Job{trial, rungs_[rung_].resource, index_, static_cast<int>(rung_),
               rung_ + 1 == rungs_.size()};
  }

  void report(const Job& job, const Outcome& outcome, std::vector<Pruning>& prunings) {
    if (job.rung != static_cast<int>(rung_) || outstanding_ == 0)
      throw std::logic_error("hpt: a result for a rung that is not running");
    --outstanding_;
    results_.push_back({job.trial, outcome.loss, outcome.can_continue});
    if (outstanding_ == 0 && queue_.empty() && (rung_ > 0 || fresh_ == trial_count()))
      close_rung(prunings);
  }

 private:
  struct Result {
    std::size_t trial;
    double loss;
    bool can_continue;
  };

  void close_rung(std::vector<Pruning>& prunings) {
    if (rung_ + 1 == rungs_.size()) {
      finished_ = true;
      return;
    }
    std::sort(results_.begin(), results_.end(), [](const Result& a, const Result& b) {
      return ranks_before(a.loss, a.trial, b.loss, b.trial);
    });
    const std::size_t keep = *rungs_[rung_ + 1].configurations;
    std::size_t promoted = 0;
    for (std::size_t rank = 0; rank < results_.size(); ++rank) {
      const Result& result = results_[rank];
      if (!result.can_continue) continue;
      if (promoted < keep) {
        queue_.push_back(result.trial);
        ++promoted;
      } else {
        prunings.push_back(
            {result.trial, static_cast<int>(rung_),
             "ranked " + std::to_string(rank + 1) + " of " + std::to_string(results_.size()) +
                 " at rung " + std::to_string(rung_) + " (resource " +
                 std::to_string(rungs_[rung_].resource) + ", loss " + format_real(result.loss) +
                 "); the best " + std::to_string(keep) + " advanced"});
      }
    }
    results_.clear();
    ++rung_;
    if (queue_.empty()) finished_ = true;  // nothing could continue
  }

  int index_;
  std::vector<Rung> rungs_;
  std::size_t first_trial_;
  std::size_t rung_ = 0;
  std::size_t fresh_ = 0;  // rung-0 trials handed out so far
  std::deque<std::size_t> queue_;
  std::size_t outstanding_ = 0;
  std::vector<Result> results_;
  bool finished_ = false;
};

/// @brief Runs brackets one after another as far as results allow: a bracket's jobs are handed
/// out before a later bracket's, but a later bracket may start while an earlier one waits for
/// results, so parallel workers stay busy. Trial ids are fixed per bracket up front, so the
/// outcome does not depend on the order in which results arrive.
template <class Sampler>
class BracketScheduler {
 public:
  BracketScheduler(Sampler sampler, const Schedule& schedule) : sampler_(std::move(sampler)) {
    std::size_t first = 0;
    for (const auto& bracket : schedule.brackets) {
      brackets_.emplace_back(bracket.index, bracket.rungs, first);
      first += brackets_.back().trial_count();
    }
  }

  std::optional<Job> next() {
    // Finished brackets at the front are skipped for good, so many brackets cost O(1) per job.
    while (first_open_ < brackets_.size() && brackets_[first_open_].finished()) ++first_open_;
    for (std::size_t i = first_open_; i < brackets_.size(); ++i)
      if (auto job = brackets_[i].next()) return job;
    return std::nullopt;
  }

  void report(const Job& job, const Outcome& outcome, std::vector<Pruning>& prunings) {
    // Brackets own consecutive id ranges in order: find the owner by binary search.
    auto owner = std::upper_bound(
        brackets_.begin(), brackets_.end(), job.trial,
        [](std::size_t trial, const HalvingBracket& b) { return trial < b.first_trial(); });
    if (owner == brackets_.begin() ||
        job.trial >= std::prev(owner)->first_trial() + std::prev(owner)->trial_count())
      throw std::logic_error("hpt: a result for a trial no bracket owns");
    std::prev(owner)->report(job, outcome, prunings);
  }

  [[nodiscard]] bool finished() const {
    return std::all_of(brackets_.begin() + static_cast<std::ptrdiff_t>(first_open_),
                       brackets_.end(),
                       [](const HalvingBracket& bracket) { return bracket.finished(); });
  }

  /// @brief A synchronous bracket decides every paused trial when its rung closes: none is left.
  [[nodiscard]] std::vector<Pruning> unpromoted() const { return {}; }

  [[nodiscard]] Config config(std::size_t trial) { return sampler_.ask(trial); }
  /// @brief Passes a job's result on to the sampler (a learning sampler's input).
  void tell(const SampleFeedback& feedback) { tell_sampler(sampler_, feedback); }

 private:
  Sampler sampler_;
  std::vector<HalvingBracket> brackets_;
  std::size_t first_open_ = 0;  // brackets before it have finished
};

}  // namespace hpt::detail
