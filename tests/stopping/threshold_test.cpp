// Threshold: the target in both directions, the bounds from at_step on, NaN metrics.

#include <catch2/catch.hpp>

#include "hpt/stopping/threshold.hpp"
#include "stopping_support.hpp"

using stopping_test::infinity;
using stopping_test::not_a_number;
using stopping_test::run;
using stopping_test::run_metric;

static_assert(hpt::StoppingPolicy<hpt::Threshold>);

TEST_CASE("Threshold: stops once the target is reached", "[threshold]") {
  hpt::StatefulPolicy minimizing{hpt::Threshold{.target = 0.1}};
  const auto outcome = run(minimizing, {0.5, 0.2, 0.1, 0.05});
  CHECK(outcome.step == 3);  // equal to the target counts
  CHECK(outcome.verdict.action == hpt::Verdict::Action::stop);
  CHECK(outcome.verdict.policy == "Threshold");
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("reached target 0.1"));

  hpt::StatefulPolicy maximizing{hpt::Threshold{.target = 0.9}};
  CHECK(run(maximizing, {0.5, 0.95}, hpt::maximize).step == 2);
  CHECK(run(maximizing, {0.5, 0.95}, hpt::minimize).step == 1);  // 0.5 <= 0.9 when minimizing
  hpt::StatefulPolicy own{hpt::Threshold{.target = 0.9, .direction = hpt::maximize}};
  CHECK(run(own, {0.5, 0.95}, hpt::minimize).step == 2);
}

TEST_CASE("Threshold: bounds apply from at_step on", "[threshold]") {
  hpt::StatefulPolicy upper{hpt::Threshold{.upper = 1.0, .at_step = 3}};
  const auto outcome = run(upper, {5.0, 2.0, 1.5});
  CHECK(outcome.step == 3);
  CHECK(outcome.verdict.action == hpt::Verdict::Action::prune);  // hopeless, not done
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("upper bound 1") && Catch::Contains("1.5"));
  CHECK(run(upper, {5.0, 2.0, 1.0}).step == 0);  // on the bound is inside

  hpt::StatefulPolicy lower{hpt::Threshold{.lower = 0.0}};
  const auto low = run(lower, {1.0, -0.5});
  CHECK(low.step == 2);
  CHECK_THAT(low.verdict.reason, Catch::Contains("lower bound 0"));

  hpt::StatefulPolicy both{
      hpt::Threshold{.lower = 0.0, .upper = 1.0}};  // the bounds ignore the direction
  CHECK(run(both, {0.5, 0.7, 1.2}, hpt::maximize).step == 3);
}

TEST_CASE("Threshold: a NaN metric is outside the bounds and never reaches the target",
          "[threshold]") {
  hpt::StatefulPolicy bounded{hpt::Threshold{.upper = 10.0, .metric = "train_loss"}};
  CHECK(run_metric(bounded, "train_loss", {1.0, not_a_number}, {0, 0}).step == 2);
  hpt::StatefulPolicy target{hpt::Threshold{.target = 0.5, .metric = "train_loss"}};
  CHECK(run_metric(target, "train_loss", {not_a_number, 1.0, 0.4}, {0, 0, 0}).step == 3);
}

TEST_CASE("Threshold: invalid settings throw, naming the field and the value", "[threshold]") {
  hpt::StatefulPolicy empty{hpt::Threshold{}};
  REQUIRE_THROWS_WITH(run(empty, {1.0}), Catch::Contains("target") && Catch::Contains("lower") &&
                                             Catch::Contains("upper"));
  hpt::StatefulPolicy target{hpt::Threshold{.target = not_a_number}};
  REQUIRE_THROWS_WITH(run(target, {1.0}), Catch::Contains("target") && Catch::Contains("nan"));
  hpt::StatefulPolicy lower{hpt::Threshold{.lower = -infinity}};
  REQUIRE_THROWS_WITH(run(lower, {1.0}), Catch::Contains("lower") && Catch::Contains("-inf"));
  hpt::StatefulPolicy upper{hpt::Threshold{.upper = infinity}};
  REQUIRE_THROWS_WITH(run(upper, {1.0}), Catch::Contains("upper") && Catch::Contains("inf"));
  hpt::StatefulPolicy crossed{hpt::Threshold{.lower = 2.0, .upper = 1.0}};
  REQUIRE_THROWS_WITH(run(crossed, {1.0}), Catch::Contains("lower must be <= upper") &&
                                               Catch::Contains("lower 2") &&
                                               Catch::Contains("upper 1"));
  hpt::StatefulPolicy step{hpt::Threshold{.upper = 1.0, .at_step = 0}};
  REQUIRE_THROWS_WITH(run(step, {1.0}), Catch::Contains("at_step") && Catch::Contains("0"));
  REQUIRE_THROWS_AS(run(step, {1.0}), std::invalid_argument);
}
