#pragma once
/// @file median_stopping.hpp
/// @brief MedianStopping: Google Vizier's median stopping rule, in O(log n) per step.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/stopping/policy.hpp"

namespace hpt {

namespace detail {

/// @brief The median of a growing multiset of numbers: insertion O(log n), median O(1).
///
/// Two heaps split the values at the median: `lower_` (a max-heap) holds the smaller half and
/// `upper_` (a min-heap) the larger; lower_ holds one more value when the count is odd.
class RunningMedian {
 public:
  void insert(double value) {
    if (lower_.empty() || value <= lower_.top()) {
      lower_.push(value);
    } else {
      upper_.push(value);
    }
    if (lower_.size() > upper_.size() + 1) {
      upper_.push(lower_.top());
      lower_.pop();
    } else if (upper_.size() > lower_.size()) {
      lower_.push(upper_.top());
      upper_.pop();
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return lower_.size() + upper_.size(); }
  /// @brief The middle value, or the mean of the two middle values; NaN when empty.
  [[nodiscard]] double median() const {
    if (lower_.empty()) return std::numeric_limits<double>::quiet_NaN();
    if (lower_.size() > upper_.size()) return lower_.top();
    return lower_.top() / 2 + upper_.top() / 2;  // halves first: no overflow near the limits
  }

 private:
  std::priority_queue<double> lower_{};
  std::priority_queue<double, std::vector<double>, std::greater<double>> upper_{};
};

}  // namespace detail

/// @brief Stops a trial whose best objective so far is strictly worse than the median of the
/// other trials' running averages at the same step (Golovin et al., "Google Vizier", 2017).
///
/// The running average of a trial at step t is the mean of the objectives it reported at steps
/// up to t. At step t of trial T the policy takes the running averages at t of every reference
/// trial that reported step t, and stops T when T's best objective over its steps up to t is
/// strictly worse than their median (the mean of the two middle values for an even count). It
/// checks only when
///   - at least `startup_trials` reference trials exist,
///   - t > warmup_steps and (t - warmup_steps) is a multiple of `interval`,
///   - at least `min_trials_at_step` reference trials reported step t.
///
/// Steps are the `StepReport::step` numbers, not the count of reports: the engine reports every
/// step 1, 2, 3, ...; a loop of the user's own may report every k-th step (5, 10, 15, ...), and a
/// trial is then compared at step t with the ended trials that also reported step t (as Optuna's
/// pruners compare intermediate values at one step). A trial's steps must increase: a repeated
/// step, a step that goes back, a step below 1 or a report after the trial ended is refused with
/// std::invalid_argument naming the trial and the steps, since each would silently corrupt the
/// running averages; so is a non-finite objective (the engine never passes one).
///
/// Reference trials are the trials that have ended (trial_ended) as completed, stopped or pruned,
/// each counted at the steps it reported. Stopped and pruned trials count because leaving them out
/// would keep only the survivors, and the median would climb towards the best trials, stopping
/// ever more good trials (survivorship bias); Vizier's "completed trials" are all trials that are
/// finished. Failed and diverged trials do not count: their curves end in a crash or a blow-up
/// that says nothing about how a healthy run of that length behaves, and the exploding values
/// before a divergence would drag the median towards the bad side and let poor trials survive.
/// Live and paused trials do not count until they end, so a halving strategy's paused trials
/// never judge each other with half-finished curves.
///
/// Like Optuna's MedianPruner, the trial's best value so far is compared with a median at step t;
/// unlike it, the median is of the reference trials' running averages rather than their raw
/// values at t (Vizier: one lucky or unlucky evaluation decides nothing), and stopped and pruned
/// trials count as references, not only completed ones (docs/stopping.md has the full mapping,
/// including the settings that reproduce Optuna's check schedule).
///
/// Cost: the policy keeps one RunningMedian per reported step number holding the reference
/// trials' running averages at that step, so check() is O(1) amortised when steps are dense
/// (O(log steps) otherwise) and a trial's end is O(steps · log n), plus O(distinct step numbers)
/// for each step number no reference reported before (sparse steps). Memory grows with the number
/// of reports, never with the size of a step number. A live trial buffers its running averages
/// until it ends; the buffer is then released.
struct MedianStopping {
  /// No check until this many reference trials have ended.
  std::int64_t startup_trials = 5;
  /// No check at steps t <= warmup_steps.
  std::int64_t warmup_steps = 0;
  /// Check at steps warmup_steps + interval, warmup_steps + 2·interval, ...
  std::int64_t interval = 1;
  /// Check only when at least this many reference trials reported the step.
  std::int64_t min_trials_at_step = 1;

  /// @brief A trial's running average loss at one of its reported steps.
  struct Point {
    std::int64_t step = 0;
    double running_average = 0;
  };
  /// @brief A trial that has not ended: its curve so far, as losses (see as_loss).
  struct TrialState {
    std::vector<Point> running_averages{};  ///< One per reported step, steps increasing.
    double sum = 0;
    double best_loss = std::numeric_limits<double>::infinity();
    bool ended = false;
  };
  /// @brief The reference trials' running average losses at one step number.
  struct StepMedian {
    std::int64_t step = 0;
    detail::RunningMedian median{};
  };
  /// Per-trial bookkeeping (not configuration).
  std::vector<TrialState> trials{};
  /// One entry per step number some reference trial reported, in increasing step order.
  std::vector<StepMedian> medians{};
  /// How many reference trials have ended.
  std::int64_t reference_trials = 0;

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  void validate() const {
    if (startup_trials < 0) fail("startup_trials must be >= 0", startup_trials);
    if (warmup_steps < 0) fail("warmup_steps must be >= 0", warmup_steps);
    if (interval < 1) fail("interval must be >= 1", interval);
    if (min_trials_at_step < 1) fail("min_trials_at_step must be >= 1", min_trials_at_step);
  }

  /// @brief Records the trial's step and judges it. Throws std::invalid_argument for a step that
  /// does not follow the trial's previous one (see the class comment).
  [[nodiscard]] Verdict check(const StepReport& report) {
    validate();
    const std::int64_t step = report.step;
    if (step < 1)
      throw std::invalid_argument("hpt::MedianStopping: trial " + std::to_string(report.trial) +
                                  " reported step " + std::to_string(step) +
                                  "; steps count from 1");
    if (report.trial >= trials.size()) trials.resize(report.trial + 1);
    TrialState& state = trials[report.trial];
    if (state.ended)
      throw std::invalid_argument("hpt::MedianStopping: trial " + std::to_string(report.trial) +
                                  " reported step " + std::to_string(step) + " after it ended");
    if (!state.running_averages.empty() && step <= state.running_averages.back().step)
      throw std::invalid_argument(
          "hpt::MedianStopping: trial " + std::to_string(report.trial) + " reported step " +
          std::to_string(step) + " after step " +
          std::to_string(state.running_averages.back().step) +
          (step == state.running_averages.back().step ? " (a step reported twice)" : "") +
          "; a trial's steps must increase");
    if (!std::isfinite(report.objective))
      throw std::invalid_argument("hpt::MedianStopping: trial " + std::to_string(report.trial) +
                                  " reported objective " + number(report.objective) + " at step " +
                                  std::to_string(step) +
                                  "; the rule needs finite values (one NaN would make every "
                                  "median at its step NaN; the engine marks such trials diverged)");
    // Losses make one comparison serve both directions; the median commutes with negation.
    const double loss = as_loss(report.direction, report.objective);
    state.sum += loss;
    if (loss < state.best_loss) state.best_loss = loss;
    state.running_averages.push_back(
        {step, state.sum / static_cast<double>(state.running_averages.size() + 1)});

    if (reference_trials < startup_trials) return Verdict::proceed();
    if (step <= warmup_steps || (step - warmup_steps) % interval != 0) return Verdict::proceed();
    const detail::RunningMedian* others = median_at(step);
    if (!others || others->size() < static_cast<std::size_t>(min_trials_at_step))
      return Verdict::proceed();
    const double median_loss = others->median();
    if (!(state.best_loss > median_loss)) return Verdict::proceed();
    return Verdict::prune("MedianStopping",
                          "best objective " + number(as_loss(report.direction, state.best_loss)) +
                              " is worse than the median " +
                              number(as_loss(report.direction, median_loss)) +
                              " of the running averages of " + std::to_string(others->size()) +
                              " ended trials at step " + std::to_string(step));
  }

  /// @brief Moves an ended trial's running averages into the per-step medians.
  void trial_ended(const TrialEnded& ended) {
    if (ended.trial >= trials.size()) trials.resize(ended.trial + 1);  // ended before any step
    TrialState& state = trials[ended.trial];
    if (state.ended) return;
    state.ended = true;
    const bool reference = ended.status == TrialStatus::completed ||
                           ended.status == TrialStatus::stopped ||
                           ended.status == TrialStatus::pruned;
    if (reference && !state.running_averages.empty()) {
      for (const Point& point : state.running_averages)
        median_for(point.step).insert(point.running_average);
      ++reference_trials;
    }
    state.running_averages = {};  // release the buffer: ended trials are never checked again
  }

 private:
  [[noreturn]] static void fail(const std::string& rule, std::int64_t value) {
    throw std::invalid_argument("hpt::MedianStopping: " + rule + ", got " + std::to_string(value));
  }
  static std::string number(double value) { return format_short(value); }

  /// @brief The position of `step` in `medians`, or where it would go. Dense steps 1, 2, 3, ...
  /// sit at index step - 1: the engine's case costs no search.
  [[nodiscard]] std::size_t position(std::int64_t step) const {
    const auto dense = static_cast<std::size_t>(step - 1);
    if (dense < medians.size() && medians[dense].step == step) return dense;
    return static_cast<std::size_t>(
        std::lower_bound(
            medians.begin(), medians.end(), step,
            [](const StepMedian& entry, std::int64_t wanted) { return entry.step < wanted; }) -
        medians.begin());
  }
  [[nodiscard]] const detail::RunningMedian* median_at(std::int64_t step) const {
    const std::size_t index = position(step);
    return index < medians.size() && medians[index].step == step ? &medians[index].median : nullptr;
  }
  detail::RunningMedian& median_for(std::int64_t step) {
    const std::size_t index = position(step);
    if (index == medians.size() || medians[index].step != step)
      medians.insert(medians.begin() + static_cast<std::ptrdiff_t>(index), StepMedian{step, {}});
    return medians[index].median;
  }
};

}  // namespace hpt
