// MedianStopping against Vizier's rule on a small table worked by hand, plus a check of the
// running median against sorting, and a large study that must finish quickly.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hpt/stopping/median_stopping.hpp"
#include "stopping_support.hpp"

using stopping_test::feed;
using stopping_test::run;

static_assert(hpt::StoppingPolicy<hpt::MedianStopping>);

namespace {

// The ended trials (minimizing; every value is a binary fraction, so all sums are exact):
//   trial 0 completed  1.0   0.5   0.75   0.25    running averages 1.0  0.75  0.75  0.625
//   trial 1 completed  2.0   1.0   1.5   -2.5     running averages 2.0  1.5   1.5   0.5
//   trial 2 stopped    0.5   0.5   0.5            running averages 0.5  0.5   0.5
//   trial 3 failed     0.125 0.125                not a reference
//   trial 4 diverged   0.125 0.125 0.125 0.125    not a reference
//   trial 8 live       0.125 0.125 0.125          not a reference (has not ended)
// Medians of the references' running averages:
//   step 1: {1.0, 2.0, 0.5} -> 1.0        step 2: {0.75, 1.5, 0.5} -> 0.75
//   step 3: {0.75, 1.5, 0.5} -> 0.75      step 4: {0.625, 0.5} -> (0.625 + 0.5) / 2 = 0.5625
// Had trials 3, 4 and 8 counted, the median at step 1 would be 0.5 (of 1, 2, .5, .125 x 3).
// With sign -1 every value is negated and the study maximizes: the outcomes are the same.
void play_table(hpt::MedianStopping& policy, double sign = 1) {
  const hpt::Direction direction = sign > 0 ? hpt::minimize : hpt::maximize;
  struct Row {
    std::size_t trial;
    hpt::TrialStatus status;
    std::vector<double> values;
  };
  const std::vector<Row> rows{
      {0, hpt::TrialStatus::completed, {1.0, 0.5, 0.75, 0.25}},
      {1, hpt::TrialStatus::completed, {2.0, 1.0, 1.5, -2.5}},
      {2, hpt::TrialStatus::stopped, {0.5, 0.5, 0.5}},
      {3, hpt::TrialStatus::failed, {0.125, 0.125}},
      {4, hpt::TrialStatus::diverged, {0.125, 0.125, 0.125, 0.125}},
      {8, hpt::TrialStatus::running, {0.125, 0.125, 0.125}},
  };
  for (const Row& row : rows) {
    for (std::size_t index = 0; index < row.values.size(); ++index) {
      // The startup rule keeps these from being judged (fewer than startup_trials ended).
      (void)feed(policy, row.trial, static_cast<std::int64_t>(index + 1), sign * row.values[index],
                 direction);
    }
    if (row.status != hpt::TrialStatus::running)
      policy.trial_ended({row.trial, row.status, static_cast<std::int64_t>(row.values.size())});
  }
}

std::vector<double> scaled(std::vector<double> values, double sign) {
  for (double& value : values) value *= sign;
  return values;
}

}  // namespace

TEST_CASE("MedianStopping: Vizier's rule on a hand-worked table", "[median]") {
  for (const double sign : {1.0, -1.0}) {
    const hpt::Direction direction = sign > 0 ? hpt::minimize : hpt::maximize;
    CAPTURE(direction);
    hpt::MedianStopping policy{.startup_trials = 3};
    play_table(policy, sign);
    REQUIRE(policy.reference_trials == 3);

    // Trial 5: step 1 best 0.875 <= 1.0; step 2 best 0.875 > 0.75: stop.
    const auto five = run(policy, scaled({0.875, 0.875, 0.875}, sign), direction, 5);
    CHECK(five.step == 2);
    CHECK(five.verdict.policy == "MedianStopping");
    CHECK_THAT(five.verdict.reason,
               Catch::Contains(sign > 0 ? "best objective 0.875" : "best objective -0.875") &&
                   Catch::Contains(sign > 0 ? "median 0.75" : "median -0.75") &&
                   Catch::Contains("3 ended trials at step 2"));

    // Trial 6: equal to the median at steps 1-3 is not worse (and trials 3, 4, 8 do not count,
    // or step 1 would stop it); step 4: best 0.75 > 0.5625, stop.
    CHECK(run(policy, scaled({1.0, 0.75, 0.75, 0.875}, sign), direction, 6).step == 4);

    // The median of an even count is the mean of the middle two: 0.59375 lies between 0.5625
    // and the upper middle 0.625, 0.53125 between the lower middle 0.5 and 0.5625.
    CHECK(run(policy, scaled({1.0, 0.75, 0.75, 0.59375}, sign), direction, 7).step == 4);
    CHECK(run(policy, scaled({1.0, 0.75, 0.75, 0.53125}, sign), direction, 9).step == 0);

    // A trial that is bad at one step but was good before survives: its best counts.
    CHECK(run(policy, scaled({0.5, 0.5, 4.0, 0.5}, sign), direction, 10).step == 0);
  }
}

TEST_CASE("MedianStopping: startup_trials counts only reference trials", "[median]") {
  hpt::MedianStopping waiting{.startup_trials = 4};  // 3 references (failed and diverged excluded)
  play_table(waiting);
  CHECK(run(waiting, {0.875, 0.875, 0.875}, hpt::minimize, 5).step == 0);
  hpt::MedianStopping ready{.startup_trials = 3};
  play_table(ready);
  CHECK(run(ready, {0.875, 0.875, 0.875}, hpt::minimize, 5).step == 2);
}

TEST_CASE("MedianStopping: warmup_steps and interval", "[median]") {
  hpt::MedianStopping warm{.startup_trials = 3, .warmup_steps = 2};
  play_table(warm);
  CHECK(run(warm, {0.875, 0.875, 0.875}, hpt::minimize, 5).step == 3);

  // Checked at steps 2 and 4 only: 1.5 > 1.0 at step 1 is not seen; step 2: 0.75 <= 0.75;
  // step 4: best 0.625 > 0.5625.
  const std::vector<double> curve{1.5, 0.75, 0.875, 0.625};
  hpt::MedianStopping every_second{.startup_trials = 3, .interval = 2};
  play_table(every_second);
  CHECK(run(every_second, curve, hpt::minimize, 5).step == 4);
  hpt::MedianStopping every_step{.startup_trials = 3};
  play_table(every_step);
  CHECK(run(every_step, curve, hpt::minimize, 5).step == 1);
  // Warm-up 1 and interval 2: checked at step 3 only (0.75 <= 0.75) within four steps.
  hpt::MedianStopping offset{.startup_trials = 3, .warmup_steps = 1, .interval = 2};
  play_table(offset);
  CHECK(run(offset, curve, hpt::minimize, 5).step == 0);
}

TEST_CASE("MedianStopping: min_trials_at_step", "[median]") {
  // Only two references reached step 4.
  const std::vector<double> curve{1.0, 0.75, 0.75, 0.875};
  hpt::MedianStopping three{.startup_trials = 3, .min_trials_at_step = 3};
  play_table(three);
  CHECK(run(three, curve, hpt::minimize, 6).step == 0);
  hpt::MedianStopping two{.startup_trials = 3, .min_trials_at_step = 2};
  play_table(two);
  CHECK(run(two, curve, hpt::minimize, 6).step == 4);
  // A step no reference reached makes no decision.
  hpt::MedianStopping beyond{.startup_trials = 3};
  play_table(beyond);
  CHECK(run(beyond, {1.0, 0.75, 0.75, 0.5, 9.0, 9.0}, hpt::minimize, 6).step == 0);
}

TEST_CASE("MedianStopping: trial_ended bookkeeping", "[median]") {
  hpt::MedianStopping policy{.startup_trials = 3};
  play_table(policy);
  policy.trial_ended({0, hpt::TrialStatus::completed, 4});  // a second end of the same trial
  policy.trial_ended({42, hpt::TrialStatus::failed, 0});    // a trial that never reported
  policy.trial_ended({43, hpt::TrialStatus::completed, 0});
  CHECK(policy.reference_trials == 3);
  REQUIRE(policy.medians.size() == 4);
  CHECK(policy.medians[0].median.size() == 3);
  CHECK(policy.medians[3].median.size() == 2);
  CHECK(policy.medians[3].median.median() == 0.5625);
  CHECK(policy.trials[0].running_averages.empty());  // released once ended
  // Pruned trials are references too (at the steps they reached).
  (void)feed(policy, 11, 1, 0.0);
  policy.trial_ended({11, hpt::TrialStatus::pruned, 1});
  CHECK(policy.reference_trials == 4);
  CHECK(policy.medians[0].median.median() == 0.75);  // {1.0, 2.0, 0.5, 0.0}
}

TEST_CASE("MedianStopping: the running median agrees with sorting", "[median]") {
  std::mt19937 random(12345);
  std::uniform_real_distribution<double> uniform(-10.0, 10.0);
  hpt::detail::RunningMedian median;
  CHECK(std::isnan(median.median()));
  std::vector<double> values;
  for (int index = 0; index < 1001; ++index) {
    // Repeats test the handling of ties.
    const double value = index % 7 == 0 ? 1.0 : uniform(random);
    median.insert(value);
    values.push_back(value);
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t middle = sorted.size() / 2;
    const double expected =
        sorted.size() % 2 == 1 ? sorted[middle] : sorted[middle - 1] / 2 + sorted[middle] / 2;
    REQUIRE(median.size() == values.size());
    REQUIRE(median.median() == expected);
  }
}

TEST_CASE("MedianStopping: 20000 trials x 27 steps complete quickly", "[median][large]") {
  // Not timed: a quadratic implementation would take minutes here; the benchmark measures.
  hpt::MedianStopping policy{.startup_trials = 5, .warmup_steps = 3};
  std::mt19937 random(7);
  std::uniform_real_distribution<double> quality(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.01);
  constexpr std::size_t trials = 20000;
  constexpr std::int64_t steps = 27;
  double stopped_quality = 0;
  double completed_quality = 0;
  std::size_t stopped = 0;
  for (std::size_t trial = 0; trial < trials; ++trial) {
    const double final_loss = quality(random);
    std::int64_t step = 1;
    bool stops = false;
    for (; step <= steps; ++step) {
      const double loss = final_loss + 1.0 / static_cast<double>(step) + noise(random);
      if (feed(policy, trial, step, loss).stops()) {
        stops = true;
        break;
      }
    }
    policy.trial_ended({trial, stops ? hpt::TrialStatus::stopped : hpt::TrialStatus::completed,
                        stops ? step : steps});
    (stops ? stopped_quality : completed_quality) += final_loss;
    stopped += stops ? 1 : 0;
  }
  CHECK(policy.reference_trials == static_cast<std::int64_t>(trials));
  CHECK(policy.medians.front().median.size() == trials);
  // Median stopping stops about half of the trials, and the worse ones.
  CHECK(stopped > trials / 4);
  CHECK(stopped < trials * 3 / 4);
  CHECK(stopped_quality / static_cast<double>(stopped) >
        completed_quality / static_cast<double>(trials - stopped));
}

TEST_CASE("MedianStopping: invalid settings throw, naming the field and the value", "[median]") {
  hpt::MedianStopping startup{.startup_trials = -1};
  REQUIRE_THROWS_WITH(run(startup, {1.0}),
                      Catch::Contains("startup_trials") && Catch::Contains("-1"));
  hpt::MedianStopping warmup{.warmup_steps = -2};
  REQUIRE_THROWS_WITH(run(warmup, {1.0}), Catch::Contains("warmup_steps") && Catch::Contains("-2"));
  hpt::MedianStopping interval{.interval = 0};
  REQUIRE_THROWS_WITH(run(interval, {1.0}), Catch::Contains("interval") && Catch::Contains("0"));
  hpt::MedianStopping minimum{.min_trials_at_step = 0};
  REQUIRE_THROWS_WITH(run(minimum, {1.0}),
                      Catch::Contains("min_trials_at_step") && Catch::Contains("0"));
  REQUIRE_THROWS_AS(run(minimum, {1.0}), std::invalid_argument);
}

TEST_CASE("MedianStopping: steps reported with gaps are compared by step number", "[median]") {
  // A loop of the user's own evaluates every 5th step. References (minimizing):
  //   trial 0: step 5 -> 1.0, step 10 -> 0.5   running averages 1.0, 0.75
  //   trial 1: step 5 -> 2.0, step 10 -> 1.0   running averages 2.0, 1.5
  //   trial 2: step 5 -> 0.5, step 10 -> 0.5   running averages 0.5, 0.5
  // Medians: step 5 -> 1.0, step 10 -> 0.75. Counting reports instead of steps would file these
  // under steps 1 and 2 and never judge a trial at step 5 or 10.
  hpt::MedianStopping policy{.startup_trials = 3};
  const double values[3][2] = {{1.0, 0.5}, {2.0, 1.0}, {0.5, 0.5}};
  for (std::size_t trial = 0; trial < 3; ++trial) {
    CHECK_FALSE(feed(policy, trial, 5, values[trial][0]).stops());
    CHECK_FALSE(feed(policy, trial, 10, values[trial][1]).stops());
    policy.trial_ended({trial, hpt::TrialStatus::completed, 10});
  }
  // Trial 3 at step 5: best 0.9 <= 1.0 goes on; at step 10: best 0.9 > 0.75 is pruned.
  CHECK_FALSE(feed(policy, 3, 5, 0.9).stops());
  const auto verdict = feed(policy, 3, 10, 0.95);
  CHECK(verdict.action == hpt::Verdict::Action::prune);
  CHECK_THAT(verdict.reason, Catch::Contains("median 0.75") && Catch::Contains("3 ended trials") &&
                                 Catch::Contains("step 10"));
  // A step no reference reported has no median: no verdict.
  CHECK_FALSE(feed(policy, 4, 7, 100.0).stops());
  // A step number far beyond the others costs one entry, not a vector of that length.
  CHECK_FALSE(feed(policy, 5, std::int64_t{1} << 60, 1.0).stops());
  policy.trial_ended({5, hpt::TrialStatus::completed, std::int64_t{1} << 60});
  CHECK(policy.medians.size() == 3);  // steps 5, 10 and 2^60
}

TEST_CASE("MedianStopping: a step reported twice, going back, below 1 or after the end is refused",
          "[median]") {
  hpt::MedianStopping policy{};
  CHECK_FALSE(feed(policy, 0, 1, 1.0).stops());
  CHECK_FALSE(feed(policy, 0, 2, 1.0).stops());
  REQUIRE_THROWS_WITH(feed(policy, 0, 2, 1.0), Catch::Contains("trial 0") &&
                                                   Catch::Contains("step 2 after step 2") &&
                                                   Catch::Contains("reported twice"));
  REQUIRE_THROWS_WITH(feed(policy, 0, 1, 1.0),
                      Catch::Contains("step 1 after step 2") && Catch::Contains("must increase"));
  REQUIRE_THROWS_WITH(feed(policy, 1, 0, 1.0), Catch::Contains("trial 1") &&
                                                   Catch::Contains("step 0") &&
                                                   Catch::Contains("count from 1"));
  policy.trial_ended({0, hpt::TrialStatus::completed, 2});
  REQUIRE_THROWS_WITH(feed(policy, 0, 3, 1.0),
                      Catch::Contains("trial 0") && Catch::Contains("after it ended"));
}

TEST_CASE("MedianStopping: a step missing from the dense run is found by search, not by index",
          "[median]") {
  // References report steps 1, 2, 4 and 5 (not 3): medians[3] holds step 5, not step 4.
  //   step 4: references 0.5, 1.0, 2.0 -> running averages over their reports 1..4
  //   (all constant, so the averages are the values) -> median 1.0; step 5: 10, 10, 10 at step 5
  //   pull the averages up: trial 0: (4 x 0.5 + 10) / 5 = 2.4, trial 1: 2.8, trial 2: 3.6 -> 2.8.
  hpt::MedianStopping policy{.startup_trials = 3};
  const double level[] = {0.5, 1.0, 2.0};
  for (std::size_t trial = 0; trial < 3; ++trial) {
    for (const std::int64_t step : {1, 2, 4}) (void)feed(policy, trial, step, level[trial]);
    (void)feed(policy, trial, 5, 10.0);
    policy.trial_ended({trial, hpt::TrialStatus::completed, 5});
  }
  REQUIRE(policy.medians.size() == 4);
  CHECK(policy.medians[3].step == 5);
  // At step 4 a trial with best 1.5 is worse than the median 1.0 of step 4 (and would survive
  // against step 5's 2.8, which a lookup by index would use).
  for (const std::int64_t step : {1, 2}) (void)feed(policy, 3, step, 1.5);
  const auto verdict = feed(policy, 3, 4, 1.5);
  CHECK(verdict.action == hpt::Verdict::Action::prune);
  CHECK_THAT(verdict.reason, Catch::Contains("median 1 ") && Catch::Contains("step 4"));
}

TEST_CASE(
    "MedianStopping: a non-finite objective, and a report after an end without steps, are "
    "refused",
    "[median]") {
  hpt::MedianStopping policy{};
  REQUIRE_THROWS_WITH(
      feed(policy, 0, 1, stopping_test::not_a_number),
      Catch::Contains("trial 0") && Catch::Contains("nan") && Catch::Contains("finite"));
  REQUIRE_THROWS_WITH(feed(policy, 0, 1, stopping_test::infinity), Catch::Contains("inf"));
  policy.trial_ended({7, hpt::TrialStatus::failed, 0});  // it never reported a step
  REQUIRE_THROWS_WITH(feed(policy, 7, 1, 1.0), Catch::Contains("after it ended"));
}

TEST_CASE("MedianStopping: the median with extra values agrees with sorting", "[median]") {
  // median_with() joins values to the heaps' window around the middle; extras may lie below,
  // inside or above everything, and tie with it.
  std::mt19937 random(2024);
  std::uniform_real_distribution<double> uniform(-10.0, 10.0);
  for (int round = 0; round < 400; ++round) {
    const std::size_t base_size = random() % 60;
    const std::size_t extra_size = 1 + random() % 12;
    const int where = round % 4;  // 0: mixed, 1: all below, 2: all above, 3: ties
    hpt::detail::RunningMedian median;
    std::vector<double> all;
    for (std::size_t i = 0; i < base_size; ++i) {
      const double value = where == 3 ? std::floor(uniform(random) / 5) : uniform(random);
      median.insert(value);
      all.push_back(value);
    }
    std::vector<double> extra;
    for (std::size_t i = 0; i < extra_size; ++i) {
      double value = uniform(random);
      if (where == 1) value -= 100;
      if (where == 2) value += 100;
      if (where == 3) value = std::floor(value / 5);
      extra.push_back(value);
      all.push_back(value);
    }
    const double before = median.median();
    std::sort(all.begin(), all.end());
    const std::size_t middle = all.size() / 2;
    const double expected =
        all.size() % 2 == 1 ? all[middle] : all[middle - 1] / 2 + all[middle] / 2;
    INFO("round " << round << ": " << base_size << " values and " << extra_size << " extra");
    REQUIRE(median.median_with(extra) == expected);
    // The extras were not kept and the heaps are as they were.
    REQUIRE(median.size() == base_size);
    REQUIRE((median.median() == before || (std::isnan(before) && std::isnan(median.median()))));
  }
}

namespace {
/// The table's three references (trials 0, 1, 2) ending at epochs 1, 2, 3 with a lag of 3, so
/// that none is settled: a check at epoch e sees the first e of them.
void play_table_with_epochs(hpt::MedianStopping& policy) {
  const std::vector<std::vector<double>> curves{
      {1.0, 0.5, 0.75, 0.25}, {2.0, 1.0, 1.5, -2.5}, {0.5, 0.5, 0.5}};
  for (std::size_t trial = 0; trial < curves.size(); ++trial) {
    for (std::size_t index = 0; index < curves[trial].size(); ++index)
      (void)feed(policy, trial, static_cast<std::int64_t>(index + 1), curves[trial][index]);
    policy.trial_ended({.trial = trial,
                        .status = hpt::TrialStatus::completed,
                        .steps = static_cast<std::int64_t>(curves[trial].size()),
                        .epoch = trial + 1,
                        .settled = 0});
  }
}

/// The step at which the policy stops `curve` of `trial` checked at `epoch`; 0 if it never does.
std::int64_t stop_step_at(hpt::MedianStopping& policy, const std::vector<double>& curve,
                          std::size_t trial, std::size_t epoch, std::string* reason = nullptr) {
  for (std::size_t index = 0; index < curve.size(); ++index) {
    const auto step = static_cast<std::int64_t>(index + 1);
    const hpt::Metrics metrics{.objective = curve[index]};
    const hpt::StepReport report{.trial = trial,
                                 .step = step,
                                 .objective = curve[index],
                                 .metrics = &metrics,
                                 .epoch = epoch};
    const hpt::Verdict verdict = policy.check(report);
    if (verdict.stops()) {
      if (reason) *reason = verdict.reason;
      return step;
    }
  }
  return 0;
}
}  // namespace

TEST_CASE("MedianStopping: a check sees only the ends of its epoch (reproducible_lag)",
          "[median][reproducible]") {
  // Medians of the running averages by epoch (see play_table):
  //   epoch 1: trial 0 only; startup_trials = 2 keeps the rule quiet.
  //   epoch 2: trials 0, 1: step 1 {1.0, 2.0} -> 1.5, step 2 {0.75, 1.5} -> 1.125, step 3 the same.
  //   epoch 3: trials 0, 1, 2: step 2 -> 0.75, as in the hand-worked table.
  const std::vector<double> curve{0.875, 0.875, 0.875};
  hpt::MedianStopping policy{.startup_trials = 2};
  play_table_with_epochs(policy);
  CHECK(policy.reference_trials == 0);  // nothing settled yet
  CHECK(policy.unsettled_ends.size() == 3);
  CHECK(stop_step_at(policy, curve, 5, 1) == 0);
  CHECK(stop_step_at(policy, curve, 6, 2) == 0);
  std::string reason;
  CHECK(stop_step_at(policy, curve, 7, 3, &reason) == 2);
  CHECK_THAT(reason, Catch::Contains("median 0.75") && Catch::Contains("3 ended trials at step 2"));
  // A later check at a smaller epoch still sees only its own ends.
  CHECK(stop_step_at(policy, curve, 8, 2) == 0);
  // 1.25 > 1.125 at step 2 of epoch 2 (two trials: the mean of the middle two).
  CHECK(stop_step_at(policy, {1.25, 1.25}, 9, 2, &reason) == 2);
  CHECK_THAT(reason, Catch::Contains("median 1.125") && Catch::Contains("2 ended trials"));

  // A failed trial's end settles epochs up to 2: trials 0 and 1 are merged, trial 2 waits.
  policy.trial_ended({.trial = 3, .status = hpt::TrialStatus::failed, .epoch = 4, .settled = 2});
  CHECK(policy.reference_trials == 2);
  CHECK(policy.unsettled_ends.size() == 1);
  CHECK(stop_step_at(policy, curve, 10, 2) == 0);
  CHECK(stop_step_at(policy, curve, 11, 3) == 2);
  // The same answers as a policy that saw every end at once.
  hpt::MedianStopping at_once{.startup_trials = 2};
  play_table(at_once);
  CHECK(stop_step_at(at_once, curve, 11, std::numeric_limits<std::size_t>::max()) == 2);

  // Epoch 1 was merged away: a check there, or an end that goes back, is a caller's bug.
  CHECK_THROWS_WITH(stop_step_at(policy, curve, 12, 1), Catch::Contains("trial 12") &&
                                                            Catch::Contains("epoch 1") &&
                                                            Catch::Contains("settled epoch 2"));
  CHECK_THROWS_WITH(
      policy.trial_ended({.trial = 13, .status = hpt::TrialStatus::completed, .epoch = 1}),
      Catch::Contains("trial 13") && Catch::Contains("epoch 1"));
}
