// Patience against Keras's EarlyStopping rule, worked by hand on small curves. In the comments,
// "w" is Keras's wait counter after the step and "best" the best value so far.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "hpt/stopping/patience.hpp"
#include "stopping_support.hpp"

using stopping_test::run;
using stopping_test::run_metric;

using stopping_test::infinity;
using stopping_test::not_a_number;

static_assert(hpt::StoppingPolicy<hpt::Patience>);

TEST_CASE("Patience: wait resets on improvement, stops when wait reaches patience", "[patience]") {
  hpt::StatefulPolicy policy{hpt::Patience{.patience = 3}};
  // 1.0 best w0 | 0.9 best w0 | 0.95 w1 | 0.92 w2 | 0.8 best w0 | 0.85 w1 | 0.86 w2 | 0.87 w3 stop
  const auto outcome = run(policy, {1.0, 0.9, 0.95, 0.92, 0.8, 0.85, 0.86, 0.87, 0.7});
  REQUIRE(outcome.step == 8);
  CHECK(outcome.verdict.action == hpt::Verdict::Action::stop);
  CHECK(outcome.verdict.policy == "Patience");
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("0.8") && Catch::Contains("step 5") &&
                                         Catch::Contains("3 steps") &&
                                         Catch::Contains("min_delta 0"));
}

TEST_CASE("Patience: patience 0 stops at the first step without improvement", "[patience]") {
  hpt::StatefulPolicy policy{hpt::Patience{}};
  // 1.0 best | 0.5 best | 0.4 best | 0.4 is not better than 0.4: w1 >= 0, stop.
  CHECK(run(policy, {1.0, 0.5, 0.4, 0.4}).step == 4);
  hpt::StatefulPolicy again{hpt::Patience{}};
  CHECK(run(again, {1.0, 1.0}).step == 2);
}

TEST_CASE("Patience: an improvement must beat the best by more than |min_delta|", "[patience]") {
  // patience 2, min_delta 0.1:
  // 1.0 best w0 | 0.95: 0.95+0.1 < 1.0? no, w1 | 0.85: 0.95 < 1.0, best w0 |
  // 0.84: 0.94 < 0.85? no, w1 | 0.80: 0.90 < 0.85? no, w2: stop at step 5.
  const std::vector<double> curve{1.0, 0.95, 0.85, 0.84, 0.80, 0.79};
  hpt::StatefulPolicy policy{hpt::Patience{.patience = 2, .min_delta = 0.1}};
  const auto outcome = run(policy, curve);
  CHECK(outcome.step == 5);
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("0.85") && Catch::Contains("min_delta 0.1"));

  hpt::StatefulPolicy negative{
      hpt::Patience{.patience = 2, .min_delta = -0.1}};  // Keras uses |min_delta|
  CHECK(run(negative, curve).step == 5);

  hpt::StatefulPolicy without{hpt::Patience{.patience = 2}};  // every step improves: no stop
  CHECK(run(without, curve).step == 0);
}

TEST_CASE("Patience: maximize, from the study or from the policy", "[patience]") {
  const std::vector<double> curve{0.5, 0.6, 0.6, 0.7};
  hpt::StatefulPolicy from_study{hpt::Patience{.patience = 1}};
  // 0.5 best | 0.6 best | 0.6 not > 0.6: w1 >= 1, stop at 3.
  CHECK(run(from_study, curve, hpt::maximize).step == 3);

  hpt::StatefulPolicy from_policy{hpt::Patience{.patience = 1, .direction = hpt::maximize}};
  CHECK(run(from_policy, curve, hpt::minimize).step == 3);

  hpt::StatefulPolicy minimizing{
      hpt::Patience{.patience = 1}};  // 0.6 is worse than 0.5 when minimizing
  CHECK(run(minimizing, curve, hpt::minimize).step == 2);
}

TEST_CASE("Patience: the baseline must also be beaten to reset the wait", "[patience]") {
  SECTION("improving but above the baseline: the wait keeps counting") {
    // patience 2, baseline 0.5. 1.0 best w1 (no reset: 1.0 does not beat 0.5) | 0.9 best w2
    // (an improvement never stops) | 0.8 best w3 | 0.85 w4 >= 2: stop at step 4.
    hpt::StatefulPolicy policy{hpt::Patience{.patience = 2, .baseline = 0.5}};
    const auto outcome = run(policy, {1.0, 0.9, 0.8, 0.85, 0.84, 0.83});
    CHECK(outcome.step == 4);
    CHECK_THAT(outcome.verdict.reason, Catch::Contains("baseline 0.5") &&
                                           Catch::Contains("4 steps") &&
                                           Catch::Contains("0.8 (step 3)"));
    hpt::StatefulPolicy without{hpt::Patience{.patience = 2}};  // 0.85 w1, 0.84 w2: stop at step 5
    CHECK(run(without, {1.0, 0.9, 0.8, 0.85, 0.84, 0.83}).step == 5);
  }
  SECTION("nothing beats the baseline: the trial runs for patience steps") {
    // 0.9 best w1 | 0.95 w2 >= 2: stop at step 2.
    hpt::StatefulPolicy policy{hpt::Patience{.patience = 2, .baseline = 0.5}};
    CHECK(run(policy, {0.9, 0.95, 0.97}).step == 2);
  }
  SECTION("beating the baseline resets the wait") {
    // 1.0 best w1 | 0.4 best, beats 0.5: w0 | 0.45 w1 | 0.46 w2: stop at step 4.
    hpt::StatefulPolicy policy{hpt::Patience{.patience = 2, .baseline = 0.5}};
    const auto outcome = run(policy, {1.0, 0.4, 0.45, 0.46});
    CHECK(outcome.step == 4);
    CHECK_THAT(outcome.verdict.reason, !Catch::Contains("baseline"));
  }
  SECTION("the baseline needs the min_delta margin too") {
    // min_delta 0.1: 0.45 + 0.1 < 0.5 fails, so it is an improvement over 1.0 without a reset.
    // 1.0 best w1 | 0.45 best w2 | 0.47 w3 >= 3: stop at 3.
    hpt::StatefulPolicy policy{hpt::Patience{.patience = 3, .min_delta = 0.1, .baseline = 0.5}};
    CHECK(run(policy, {1.0, 0.45, 0.47, 0.48}).step == 3);
  }
}

TEST_CASE("Patience: steps before start_step are ignored", "[patience]") {
  const std::vector<double> curve{5.0, 0.1, 1.0, 1.1, 0.9};
  hpt::StatefulPolicy policy{hpt::Patience{.patience = 1, .start_step = 3}};
  // Steps 1, 2 unseen | 1.0 best w0 | 1.1 w1 >= 1: stop at 4 (the 0.1 of step 2 is not the best).
  const auto outcome = run(policy, curve);
  CHECK(outcome.step == 4);
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("over 1 (step 3)"));

  hpt::StatefulPolicy from_start{
      hpt::Patience{.patience = 1}};  // 5.0 | 0.1 best | 1.0 w1: stop at 3
  CHECK(run(from_start, curve).step == 3);
}

TEST_CASE("Patience: a NaN metric is never an improvement", "[patience]") {
  SECTION("watched accuracy with NaN steps") {
    // maximize val_acc, patience 2: 0.5 best w0 | NaN w1 | 0.6 best w0 | NaN w1 | NaN w2: stop.
    hpt::StatefulPolicy policy{
        hpt::Patience{.patience = 2, .direction = hpt::maximize, .metric = "val_acc"}};
    const auto outcome =
        run_metric(policy, "val_acc", {0.5, not_a_number, 0.6, not_a_number, not_a_number, 0.9},
                   {1, 1, 1, 1, 1, 1}, hpt::minimize);
    CHECK(outcome.step == 5);
    CHECK_THAT(outcome.verdict.reason,
               Catch::Contains("\"val_acc\"") && Catch::Contains("0.6 (step 3)"));
  }
  SECTION("the first step never stops, even with patience 0 and a NaN") {
    // NaN w1, but step 1 | 1.0 best w0 | 1.0 w1: stop at 3.
    hpt::StatefulPolicy policy{hpt::Patience{.metric = "loss"}};
    CHECK(run_metric(policy, "loss", {not_a_number, 1.0, 1.0}, {0, 0, 0}).step == 3);
  }
  SECTION("only NaN: the reason says there was no valid value") {
    hpt::StatefulPolicy policy{hpt::Patience{.patience = 1, .metric = "loss"}};
    const auto outcome = run_metric(policy, "loss", {not_a_number, not_a_number}, {0, 0});
    CHECK(outcome.step == 2);
    CHECK_THAT(outcome.verdict.reason, Catch::Contains("no valid value"));
  }
  SECTION("a metric that was not reported is an error, not a silent pass") {
    hpt::StatefulPolicy policy{hpt::Patience{.metric = "val_los"}};
    CHECK_THROWS_AS(run_metric(policy, "val_loss", {1.0}, {1.0}), std::out_of_range);
  }
}

TEST_CASE("Patience: each trial has its own state, grown on demand", "[patience]") {
  hpt::StatefulPolicy policy{hpt::Patience{.patience = 1}};
  using stopping_test::feed;
  // Trial 7 shows up first; trials 0 and 7 interleave.
  CHECK_FALSE(feed(policy, 7, 1, 1.0).stops());
  CHECK_FALSE(feed(policy, 0, 1, 5.0).stops());
  CHECK_FALSE(feed(policy, 0, 2, 4.0).stops());  // improves on trial 0's 5.0
  CHECK(feed(policy, 7, 2, 4.0).stops());        // no improvement on trial 7's 1.0
  // A paused trial resumed later goes on with its own state and higher steps.
  CHECK_FALSE(feed(policy, 0, 3, 3.0).stops());
  CHECK(feed(policy, 0, 4, 3.5).stops());
}

TEST_CASE("Patience: invalid settings throw, naming the field and the value", "[patience]") {
  hpt::StatefulPolicy negative{hpt::Patience{.patience = -1}};
  REQUIRE_THROWS_WITH(run(negative, {1.0}), Catch::Contains("patience") && Catch::Contains("-1"));
  hpt::StatefulPolicy delta{hpt::Patience{.min_delta = not_a_number}};
  REQUIRE_THROWS_WITH(run(delta, {1.0}), Catch::Contains("min_delta") && Catch::Contains("nan"));
  hpt::StatefulPolicy baseline{hpt::Patience{.baseline = infinity}};
  REQUIRE_THROWS_WITH(run(baseline, {1.0}), Catch::Contains("baseline") && Catch::Contains("inf"));
  hpt::StatefulPolicy start{hpt::Patience{.start_step = 0}};
  REQUIRE_THROWS_WITH(run(start, {1.0}), Catch::Contains("start_step") && Catch::Contains("0"));
  CHECK_NOTHROW(hpt::Patience{.patience = 5, .min_delta = 1e-4}.validate());
}
