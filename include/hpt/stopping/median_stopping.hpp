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

  /// @brief The median of these values and `extra` together, without keeping `extra`:
  /// O(m log n + m log m) for m extra values. NaN when both are empty.
  ///
  /// The joint middle lies at most m places from this set's middle, so it is found among the
  /// m + 1 values next to the middle on each side (taken off the heaps' tops and put back) and
  /// `extra`: with `below` values of this set under that window, joint position p is position
  /// p - below of the sorted window and extras. An extra smaller than some value under the window
  /// sorts before every window value, and there are at most m of them, all before p - below (and
  /// likewise above the window), so they never shift the answer.
  [[nodiscard]] double median_with(const std::vector<double>& extra) {
    if (extra.empty()) return median();
    const std::size_t reach = extra.size() + 1;
    const std::size_t from_lower = std::min(reach, lower_.size());
    const std::size_t from_upper = std::min(reach, upper_.size());
    const std::size_t below = lower_.size() - from_lower;
    const std::size_t total = size() + extra.size();
    std::vector<double> window;
    window.reserve(from_lower + from_upper + extra.size());
    for (std::size_t i = 0; i < from_lower; ++i) {
      window.push_back(lower_.top());
      lower_.pop();
    }
    for (std::size_t i = 0; i < from_upper; ++i) {
      window.push_back(upper_.top());
      upper_.pop();
    }
    for (std::size_t i = 0; i < from_lower; ++i) lower_.push(window[i]);
    for (std::size_t i = from_lower; i < window.size(); ++i) upper_.push(window[i]);
    window.insert(window.end(), extra.begin(), extra.end());
    std::sort(window.begin(), window.end());
    const double low = window[(total - 1) / 2 - below];
    const double high = window[total / 2 - below];
    return total % 2 == 1 ? high : low / 2 + high / 2;
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
/// With StudyOptions::reproducible_lag the rule is reproducible on any number of workers: a check
/// of a trial's step uses the trials whose ends were told before that trial's job was handed out
/// (StepReport::epoch, TrialEnded::epoch), which do not depend on timing. The ends not yet settled
/// (at most those of the last `lag` results) wait in `unsettled_ends` and join a check's median as
/// extra values, O(m log n) for m of them.
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
  /// @brief A reference trial's end that later checks may or may not see (reproducible_lag).
  struct UnsettledEnd {
    std::size_t epoch = 0;
    std::vector<Point> running_averages{};
  };
  /// One entry per step number some reference trial reported, in increasing step order.
  std::vector<StepMedian> medians{};
  /// How many reference trials have ended and are merged into `medians`.
  std::int64_t reference_trials = 0;
  /// Reference trials' ends not merged yet, epochs increasing (empty without reproducible_lag).
  std::vector<UnsettledEnd> unsettled_ends{};
  /// No check to come has an epoch below this (the largest TrialEnded::settled seen).
  std::size_t settled_epoch = 0;

  /// @brief Throws std::invalid_argument naming the first bad setting and its value.
  /// @brief The settings, as stored with a study (policy_settings).
  [[nodiscard]] std::string settings() const {
    return detail::SettingsText("MedianStopping")
        .add("startup_trials", startup_trials)
        .add("warmup_steps", warmup_steps)
        .add("interval", interval)
        .add("min_trials_at_step", min_trials_at_step)
        .str();
  }

  void validate() const {
    if (startup_trials < 0) fail("startup_trials must be >= 0", startup_trials);
    if (warmup_steps < 0) fail("warmup_steps must be >= 0", warmup_steps);
    if (interval < 1) fail("interval must be >= 1", interval);
    if (min_trials_at_step < 1) fail("min_trials_at_step must be >= 1", min_trials_at_step);
  }

  /// @brief Records the trial's step and judges it. Throws std::invalid_argument for a step that
  /// does not follow the trial's previous one (see the class comment), or an epoch below one
  /// already settled.
  [[nodiscard]] Verdict check(const StepReport& report) {
    validate();
    if (report.epoch < settled_epoch)  // ends it may not see were merged for good
      throw std::invalid_argument("hpt::MedianStopping: trial " + std::to_string(report.trial) +
                                  " was checked at epoch " + std::to_string(report.epoch) +
                                  ", below the settled epoch " + std::to_string(settled_epoch));
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

    if (!unsettled_ends.empty()) return check_with_unsettled(report, state);
    if (reference_trials < startup_trials) return Verdict::proceed();
    if (step <= warmup_steps || (step - warmup_steps) % interval != 0) return Verdict::proceed();
    detail::RunningMedian* others = median_at(step);
    if (!others || others->size() < static_cast<std::size_t>(min_trials_at_step))
      return Verdict::proceed();
    return judge(report, state, others->median(), others->size());
  }

  /// @brief Moves an ended trial's running averages into the per-step medians (once its end is
  /// settled, see TrialEnded). Throws std::invalid_argument for an end whose epoch goes back.
  void trial_ended(const TrialEnded& ended) {
    if (ended.trial >= trials.size()) trials.resize(ended.trial + 1);  // ended before any step
    TrialState& state = trials[ended.trial];
    if (state.ended) return;
    if (!unsettled_ends.empty() && ended.epoch < unsettled_ends.back().epoch)
      throw std::invalid_argument(
          "hpt::MedianStopping: trial " + std::to_string(ended.trial) + " ended at epoch " +
          std::to_string(ended.epoch) + " after an end at epoch " +
          std::to_string(unsettled_ends.back().epoch) + "; ends must come in epoch order");
    state.ended = true;
    const bool reference = ended.status == TrialStatus::completed ||
                           ended.status == TrialStatus::stopped ||
                           ended.status == TrialStatus::pruned;
    if (reference && !state.running_averages.empty())
      unsettled_ends.push_back({ended.epoch, std::move(state.running_averages)});
    state.running_averages = {};  // release the buffer: ended trials are never checked again
    settled_epoch = std::max(settled_epoch, ended.settled);
    settle();
  }

 private:
  [[noreturn]] static void fail(const std::string& rule, std::int64_t value) {
    throw std::invalid_argument("hpt::MedianStopping: " + rule + ", got " + std::to_string(value));
  }
  static std::string number(double value) { return format_short(value); }

  /// @brief Merges the unsettled ends that every check to come may see.
  void settle() {
    std::size_t merged = 0;
    for (; merged < unsettled_ends.size() && unsettled_ends[merged].epoch <= settled_epoch;
         ++merged) {
      for (const Point& point : unsettled_ends[merged].running_averages)
        median_for(point.step).insert(point.running_average);
      ++reference_trials;
    }
    unsettled_ends.erase(unsettled_ends.begin(),
                         unsettled_ends.begin() + static_cast<std::ptrdiff_t>(merged));
  }

  /// @brief check() when some ends are not merged: the settled medians plus the unsettled ends
  /// this check may see (epoch at most report.epoch).
  [[nodiscard]] Verdict check_with_unsettled(const StepReport& report, const TrialState& state) {
    const std::int64_t step = report.step;
    std::int64_t references = reference_trials;
    std::vector<double> extra;
    for (const UnsettledEnd& end : unsettled_ends) {
      if (end.epoch > report.epoch) break;  // epochs increase
      ++references;
      const auto at = std::lower_bound(
          end.running_averages.begin(), end.running_averages.end(), step,
          [](const Point& point, std::int64_t wanted) { return point.step < wanted; });
      if (at != end.running_averages.end() && at->step == step)
        extra.push_back(at->running_average);
    }
    if (references < startup_trials) return Verdict::proceed();
    if (step <= warmup_steps || (step - warmup_steps) % interval != 0) return Verdict::proceed();
    detail::RunningMedian* settled = median_at(step);
    const std::size_t count = (settled ? settled->size() : 0) + extra.size();
    if (count == 0 || count < static_cast<std::size_t>(min_trials_at_step))
      return Verdict::proceed();
    const double median_loss = settled ? settled->median_with(extra) : median_of(extra);
    return judge(report, state, median_loss, count);
  }

  /// @brief The verdict of a trial whose best loss is compared with the others' median.
  [[nodiscard]] static Verdict judge(const StepReport& report, const TrialState& state,
                                     double median_loss, std::size_t others) {
    if (!(state.best_loss > median_loss)) return Verdict::proceed();
    return Verdict::prune("MedianStopping",
                          "best objective " + number(as_loss(report.direction, state.best_loss)) +
                              " is worse than the median " +
                              number(as_loss(report.direction, median_loss)) +
                              " of the running averages of " + std::to_string(others) +
                              " ended trials at step " + std::to_string(report.step));
  }

  [[nodiscard]] static double median_of(const std::vector<double>& values) {
    detail::RunningMedian none;
    return none.median_with(values);
  }

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
  [[nodiscard]] detail::RunningMedian* median_at(std::int64_t step) {
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
