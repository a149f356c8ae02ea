// Divergence: non-finite values, the factor rule on losses, the absolute limit and the grace
// period, on hand-made curves.

#include <catch2/catch.hpp>

#include "hpt/stopping/divergence.hpp"
#include "stopping_support.hpp"

using stopping_test::infinity;
using stopping_test::not_a_number;
using stopping_test::run;
using stopping_test::run_metric;

static_assert(hpt::StoppingPolicy<hpt::Divergence>);

TEST_CASE("Divergence: a NaN or infinite metric diverges at any step", "[divergence]") {
  hpt::StatefulPolicy policy{hpt::Divergence{.metric = "train_loss", .min_step = 5}};
  const auto outcome = run_metric(policy, "train_loss", {1.0, not_a_number}, {1.0, 1.0});
  CHECK(outcome.step == 2);
  CHECK(outcome.verdict.action == hpt::Verdict::Action::diverge);
  CHECK(outcome.verdict.policy == "Divergence");
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("\"train_loss\"") && Catch::Contains("nan") &&
                                         Catch::Contains("step 2"));
  hpt::StatefulPolicy infinite{hpt::Divergence{.metric = "grad_norm"}};
  CHECK(run_metric(infinite, "grad_norm", {infinity}, {1.0}).step == 1);
  hpt::StatefulPolicy no_factor{hpt::Divergence{.factor = std::nullopt, .metric = "x"}};
  CHECK(run_metric(no_factor, "x", {1.0, 1e300, -infinity}, {0, 0, 0}).step == 3);
}

TEST_CASE("Divergence: factor times the first value, minimizing", "[divergence]") {
  hpt::StatefulPolicy policy{
      hpt::Divergence{}};  // factor 10, relative to the first value 1.0: diverge above 10
  const auto outcome = run(policy, {1.0, 5.0, 10.0, 10.5});
  CHECK(outcome.step == 4);  // 10.0 is not worse than 10 x 1.0; 10.5 is
  CHECK(outcome.verdict.action == hpt::Verdict::Action::diverge);
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("10.5") && Catch::Contains("10 x") &&
                                         Catch::Contains("first value 1"));
}

TEST_CASE("Divergence: factor times the best value so far", "[divergence]") {
  const std::vector<double> curve{4.0, 1.0, 1.5, 2.5};
  hpt::StatefulPolicy best{hpt::Divergence{.factor = 2.0, .relative_to = hpt::Divergence::best}};
  // Best before step 3 is 1.0: 1.5 <= 2; best before step 4 is 1.0: 2.5 > 2, diverge.
  const auto outcome = run(best, curve);
  CHECK(outcome.step == 4);
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("best value 1"));
  hpt::StatefulPolicy first{
      hpt::Divergence{.factor = 2.0, .relative_to = hpt::Divergence::first}};  // limit 8
  CHECK(run(first, curve).step == 0);
}

TEST_CASE("Divergence: maximizing works on the negated value", "[divergence]") {
  // A log-likelihood: losses 1, 5, 10.5; 10.5 > 10 x 1 diverges.
  hpt::StatefulPolicy policy{hpt::Divergence{}};
  CHECK(run(policy, {-1.0, -5.0, -10.5}, hpt::maximize).step == 3);
  // An accuracy: the reference loss -0.5 is not positive, so the factor rule does not apply...
  hpt::StatefulPolicy accuracy{hpt::Divergence{}};
  CHECK(run(accuracy, {0.5, 0.01}, hpt::maximize).step == 0);
  // ...and the limit does: 0.01 is worse (lower) than 0.1.
  hpt::StatefulPolicy limited{hpt::Divergence{.limit = 0.1}};
  const auto outcome = run(limited, {0.5, 0.01}, hpt::maximize);
  CHECK(outcome.step == 2);
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("limit 0.1"));
  // The policy's own direction wins over the study's.
  hpt::StatefulPolicy own{hpt::Divergence{.direction = hpt::maximize}};
  CHECK(run(own, {-1.0, -5.0, -10.5}, hpt::minimize).step == 3);
}

TEST_CASE("Divergence: a non-positive reference when minimizing needs the limit", "[divergence]") {
  hpt::StatefulPolicy factor_only{hpt::Divergence{}};
  CHECK(run(factor_only, {-1.0, 100.0}).step == 0);
  hpt::StatefulPolicy limited{hpt::Divergence{.limit = 50.0}};
  CHECK(run(limited, {-1.0, 100.0}).step == 2);
  hpt::StatefulPolicy at_limit{hpt::Divergence{.limit = 100.0}};  // equal to the limit is not worse
  CHECK(run(at_limit, {-1.0, 100.0}).step == 0);
}

TEST_CASE("Divergence: min_step delays the factor and limit rules only", "[divergence]") {
  hpt::StatefulPolicy grace{hpt::Divergence{.min_step = 3}};
  CHECK(run(grace, {1.0, 20.0, 30.0}).step == 3);  // step 2 is in the grace period
  hpt::StatefulPolicy recovers{hpt::Divergence{.min_step = 3}};
  CHECK(run(recovers, {1.0, 20.0, 5.0}).step == 0);
  hpt::StatefulPolicy no_grace{hpt::Divergence{}};
  CHECK(run(no_grace, {1.0, 20.0, 5.0}).step == 2);
  hpt::StatefulPolicy limit_grace{
      hpt::Divergence{.factor = std::nullopt, .limit = 2.0, .min_step = 2}};
  CHECK(run(limit_grace, {3.0, 3.0}).step == 2);
}

TEST_CASE("Divergence: trials are independent", "[divergence]") {
  hpt::StatefulPolicy policy{hpt::Divergence{}};
  using stopping_test::feed;
  CHECK_FALSE(feed(policy, 3, 1, 10.0).stops());
  CHECK_FALSE(feed(policy, 0, 1, 1.0).stops());
  CHECK_FALSE(feed(policy, 3, 2, 50.0).stops());  // 50 <= 10 x 10
  CHECK(feed(policy, 0, 2, 50.0).stops());        // 50 > 10 x 1
}

TEST_CASE("Divergence: invalid settings throw, naming the field and the value", "[divergence]") {
  hpt::StatefulPolicy one{hpt::Divergence{.factor = 1.0}};
  REQUIRE_THROWS_WITH(run(one, {1.0}), Catch::Contains("factor") && Catch::Contains("1"));
  hpt::StatefulPolicy half{hpt::Divergence{.factor = 0.5}};
  REQUIRE_THROWS_WITH(run(half, {1.0}), Catch::Contains("factor") && Catch::Contains("0.5"));
  hpt::StatefulPolicy nan_factor{hpt::Divergence{.factor = not_a_number}};
  REQUIRE_THROWS_WITH(run(nan_factor, {1.0}), Catch::Contains("factor") && Catch::Contains("nan"));
  hpt::StatefulPolicy nan_limit{hpt::Divergence{.limit = not_a_number}};
  REQUIRE_THROWS_WITH(run(nan_limit, {1.0}), Catch::Contains("limit") && Catch::Contains("nan"));
  hpt::StatefulPolicy step{hpt::Divergence{.min_step = 0}};
  REQUIRE_THROWS_WITH(run(step, {1.0}), Catch::Contains("min_step") && Catch::Contains("0"));
  REQUIRE_THROWS_AS(run(step, {1.0}), std::invalid_argument);
}
