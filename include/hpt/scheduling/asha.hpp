#pragma once
/// @file asha.hpp
/// @brief Asynchronous successive halving (Li et al., MLSys 2020).
///
/// Rungs k = 0 .. K with resource r * eta^k, K = floor(log_eta(R / r)). Whenever a worker asks
/// for work, the rungs are searched from the top down for a configuration that is among the best
/// floor(|rung k| / eta) results of rung k and has not been promoted yet; it is promoted to rung
/// k+1 and resumes. If there is none, a new configuration starts at rung 0. Results may arrive in
/// any order; no rung ever waits for another to fill.
///
/// Each rung keeps its best floor(|rung|/eta) results in one ordered set and the rest in another,
/// plus the promotable subset of the first, so asking and telling cost O(log n): the scheduler
/// stays cheap at 1e5 trials.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hpt/sampling/random_sampler.hpp"
#include "hpt/sampling/sampler.hpp"
#include "hpt/scheduling/detail/halving_bracket.hpp"
#include "hpt/scheduling/detail/integer_math.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/scheduling/schedule.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {
namespace detail {

/// @brief The results of one ASHA rung, split into its top floor(size / eta) and the rest.
class AshaRung {
 public:
  /// @param capacity The most results this rung can ever receive (the number of trials: a rung
  /// can receive more than 1/eta of the one below, since a promoted entry may later be overtaken
  /// and its place in the top promoted again).
  AshaRung(std::int64_t reduction_factor, std::size_t capacity)
      : reduction_factor_(reduction_factor),
        keep_(capacity / static_cast<std::size_t>(reduction_factor)) {}

  /// @brief Adds a result; trials that can no longer ever be promoted are appended to `dead`.
  void add(std::size_t trial, double loss, bool can_continue, std::vector<std::size_t>& dead) {
    const Entry entry{loss, trial, can_continue};
    ++size_;
    // An entry's rank only ever gets worse, and the rung never holds more than `capacity` results,
    // so its top floor(size / eta) never reaches past the best keep_ = floor(capacity / eta):
    // anything ranked below them is dead and is pruned now, freeing its trainable, rather than
    // at the end of the study.
    kept_.insert(entry);
    if (kept_.size() > keep_) {
      const Entry worst = *kept_.rbegin();
      kept_.erase(std::prev(kept_.end()));
      if (worst.can_continue && !flag(promoted_, worst.trial)) {
        set_flag(dead_, worst.trial);
        dead.push_back(worst.trial);
      }
    }
    rest_.insert(entry);
    const std::size_t top_size = size_ / static_cast<std::size_t>(reduction_factor_);
    if (top_.size() < top_size) {
      move_to_top(*rest_.begin());
    } else if (!top_.empty() && Order{}(*rest_.begin(), *top_.rbegin())) {
      const Entry worst_top = *top_.rbegin();
      const Entry best_rest = *rest_.begin();
      top_.erase(worst_top);
      promotable_.erase(worst_top);
      rest_.insert(worst_top);
      move_to_top(best_rest);
    }
  }

  /// @brief The best promotable result, marked promoted; nothing when there is none.
  std::optional<std::size_t> promote() {
    if (promotable_.empty()) return std::nullopt;
    Entry entry = *promotable_.begin();
    promotable_.erase(promotable_.begin());
    set_flag(promoted_, entry.trial);
    top_.erase(entry);
    entry.can_continue = false;  // promoted: never again
    top_.insert(entry);
    return entry.trial;
  }

  [[nodiscard]] bool has_promotable() const noexcept { return !promotable_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// @brief Trials that can continue but were never promoted (for the end of the study).
  template <class Visit>
  void for_each_unpromoted(Visit visit) const {
    for (const auto* set : {&top_, &rest_})
      for (const auto& entry : *set)
        if (entry.can_continue && !flag(promoted_, entry.trial) && !flag(dead_, entry.trial))
          visit(entry.trial);
  }

 private:
  struct Entry {
    double loss;
    std::size_t trial;
    bool can_continue;
  };
  struct Order {
    bool operator()(const Entry& a, const Entry& b) const {
      return ranks_before(a.loss, a.trial, b.loss, b.trial);
    }
  };

  void move_to_top(Entry entry) {
    rest_.erase(entry);
    top_.insert(entry);
    if (entry.can_continue) promotable_.insert(entry);
  }

  static bool flag(const std::vector<bool>& flags, std::size_t trial) {
    return trial < flags.size() && flags[trial];
  }
  static void set_flag(std::vector<bool>& flags, std::size_t trial) {
    if (trial >= flags.size()) flags.resize(trial + 1);
    flags[trial] = true;
  }

  std::int64_t reduction_factor_;
  std::size_t keep_;
  std::size_t size_ = 0;
  std::set<Entry, Order> top_, rest_, promotable_, kept_;
  std::vector<bool> promoted_, dead_;
};

}  // namespace detail

/// @brief The run-time state of ASHA.
template <class Sampler>
class AshaScheduler {
 public:
  AshaScheduler(Sampler sampler, std::vector<std::int64_t> resources, std::size_t trials,
                std::int64_t reduction_factor)
      : sampler_(std::move(sampler)), resources_(std::move(resources)), trials_(trials) {
    for (std::size_t k = 0; k < resources_.size(); ++k)
      rungs_.emplace_back(reduction_factor, trials_);
  }

  std::optional<Job> next() {
    for (std::size_t k = rungs_.size() - 1; k-- > 0;) {
      if (auto trial = rungs_[k].promote()) return issue(*trial, k + 1);
    }
    if (started_ < trials_) return issue(started_++, 0);
    return std::nullopt;
  }

  void report(const Job& job, const Outcome& outcome, std::vector<Pruning>& prunings) {
    --outstanding_;
    dead_.clear();
    const auto k = static_cast<std::size_t>(job.rung);
    rungs_[k].add(job.trial, outcome.loss, outcome.can_continue, dead_);
    for (const auto trial : dead_)
      prunings.push_back({trial, job.rung,
                          "can no longer reach the top 1/eta of rung " + std::to_string(k) +
                              " (resource " + std::to_string(resources_[k]) + ")"});
  }

  [[nodiscard]] bool finished() const {
    if (outstanding_ > 0 || started_ < trials_) return false;
    for (const auto& rung : rungs_)
      if (rung.has_promotable()) return false;
    return true;
  }

  [[nodiscard]] Config config(std::size_t trial) { return sampler_.ask(trial); }
  /// @brief Passes a job's result on to the sampler (a learning sampler's input).
  void tell(const SampleFeedback& feedback) { tell_sampler(sampler_, feedback); }

  /// @brief Paused trials never promoted, with the rung they stopped at (for the study's end).
  [[nodiscard]] std::vector<Pruning> unpromoted() const {
    std::vector<Pruning> result;
    for (std::size_t k = 0; k + 1 < rungs_.size(); ++k)
      rungs_[k].for_each_unpromoted([&](std::size_t trial) {
        result.push_back({trial, static_cast<int>(k),
                          "not among the top 1/eta of rung " + std::to_string(k) + " (resource " +
                              std::to_string(resources_[k]) + ") when the study ended"});
      });
    return result;
  }

 private:
  Job issue(std::size_t trial, std::size_t rung) {
    ++outstanding_;
    return Job{trial, resources_[rung], 0, static_cast<int>(rung), rung + 1 == resources_.size()};
  }

  Sampler sampler_;
  std::vector<std::int64_t> resources_;
  std::size_t trials_;
  std::vector<detail::AshaRung> rungs_;
  std::size_t started_ = 0;
  std::size_t outstanding_ = 0;
  std::vector<std::size_t> dead_;  // reused between reports
};

/// @brief ASHA: at most `trials` configurations are started, each from `sampler`.
template <SamplerSettings Sampling = RandomSampling>
struct BasicAsha {
  std::size_t trials = 100;           ///< Configurations started at rung 0 in all.
  std::int64_t min_resource = 1;      ///< r.
  std::int64_t max_resource = 81;     ///< R.
  std::int64_t reduction_factor = 3;  ///< eta.
  /// Which configuration each new trial gets (random by default; any SamplerSettings).
  Sampling sampler{};

  void validate() const {
    if (trials < 1)
      detail::invalid_setting("Asha", "trials", std::to_string(trials), "must be at least 1");
    detail::check_budget("Asha", min_resource, max_resource, reduction_factor);
  }

  /// @brief The rungs' resources r * eta^k, k = 0 .. floor(log_eta(R / r)).
  [[nodiscard]] std::vector<std::int64_t> resources() const {
    validate();
    const int top = detail::integer_log(max_resource, min_resource, reduction_factor);
    std::vector<std::int64_t> result;
    for (int k = 0; k <= top; ++k)
      result.push_back(min_resource * detail::integer_power(reduction_factor, k));
    return result;
  }

  /// @brief Rung 0 gets `trials` configurations; how many reach later rungs depends on the run.
  [[nodiscard]] Schedule schedule(const SearchSpace& = {}) const {
    Bracket bracket;
    for (auto resource : resources())
      bracket.rungs.push_back(
          {bracket.rungs.empty() ? std::optional<std::size_t>(trials) : std::nullopt, resource});
    return {"Asha", {std::move(bracket)}};
  }

  [[nodiscard]] AshaScheduler<SamplerOf<Sampling>> make_scheduler(const SearchSpace& space,
                                                                  std::uint64_t seed) const {
    return {sampler.make_sampler(space, seed), resources(), trials, reduction_factor};
  }
};

/// @brief Asha with random sampling, as the papers run it.
using Asha = BasicAsha<>;

}  // namespace hpt
