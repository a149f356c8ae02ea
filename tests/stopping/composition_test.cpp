// The policies combined with |, &, hpt::any_of and hpt::all_of.

#include <catch2/catch.hpp>

#include "hpt/stopping/divergence.hpp"
#include "hpt/stopping/median_stopping.hpp"
#include "hpt/stopping/patience.hpp"
#include "hpt/stopping/prechelt.hpp"
#include "hpt/stopping/threshold.hpp"
#include "stopping_support.hpp"

using stopping_test::feed;
using stopping_test::run;

TEST_CASE("Composition: Patience | Divergence, the first stopping policy decides",
          "[composition]") {
  // Step 2: Patience (patience 1) sees no improvement over 1.0 and Divergence sees 20 > 10 x 1.
  hpt::StatefulPolicy patience_first{hpt::Patience{.patience = 1} | hpt::Divergence{}};
  const auto first = run(patience_first, {1.0, 20.0});
  CHECK(first.step == 2);
  CHECK(first.verdict.action == hpt::Verdict::Action::stop);
  CHECK(first.verdict.policy == "Patience");

  hpt::StatefulPolicy divergence_first{hpt::Divergence{} | hpt::Patience{.patience = 1}};
  const auto second = run(divergence_first, {1.0, 20.0});
  CHECK(second.step == 2);
  CHECK(second.verdict.action == hpt::Verdict::Action::diverge);
  CHECK(second.verdict.policy == "Divergence");

  // Each policy sees every step: Divergence's first value is 1.0 although Patience decided.
  hpt::StatefulPolicy both{hpt::Patience{.patience = 5} | hpt::Divergence{}};
  CHECK(run(both, {1.0, 0.5, 0.6, 0.7, 10.5}).verdict.policy == "Divergence");
}

TEST_CASE("Composition: all_of stops only when every policy stops at the same step",
          "[composition]") {
  // Step 2: Patience stops (1.5 is no improvement) but 1.5 is inside upper 2.0.
  // Step 3: Patience stops again and 3.0 is above 2.0: both stop.
  hpt::StatefulPolicy policy{
      hpt::all_of(hpt::Patience{.patience = 1}, hpt::Threshold{.upper = 2.0})};
  const auto outcome = run(policy, {1.0, 1.5, 3.0});
  CHECK(outcome.step == 3);
  CHECK(outcome.verdict.policy == "Patience & Threshold");
  CHECK_THAT(outcome.verdict.reason,
             Catch::Contains("no improvement") && Catch::Contains("upper bound 2"));

  hpt::StatefulPolicy with_operator{hpt::Patience{.patience = 1} & hpt::Threshold{.upper = 2.0}};
  CHECK(run(with_operator, {1.0, 1.5, 3.0}).step == 3);
}

TEST_CASE("Composition: any_of of several, with MedianStopping's trial_ended forwarded",
          "[composition]") {
  auto policy = hpt::any_of(hpt::Divergence{}, hpt::GeneralizationLoss{.alpha = 50},
                            hpt::MedianStopping{.startup_trials = 1});
  // Trial 0 ends with running averages 1.0, 0.75; trial 1's best 0.875 is worse at step 2.
  CHECK_FALSE(feed(policy, 0, 1, 1.0).stops());
  CHECK_FALSE(feed(policy, 0, 2, 0.5).stops());
  hpt::notify_trial_ended(policy, {0, hpt::TrialStatus::completed, 2});
  CHECK_FALSE(feed(policy, 1, 1, 0.875).stops());
  const hpt::Verdict verdict = feed(policy, 1, 2, 0.875);
  CHECK(verdict.stops());
  CHECK(verdict.policy == "MedianStopping");
  // Without the forwarded end, MedianStopping has no reference and trial 3 goes on.
  hpt::StatefulPolicy unaware{
      hpt::any_of(hpt::Divergence{}, hpt::MedianStopping{.startup_trials = 1})};
  CHECK_FALSE(feed(unaware, 0, 1, 1.0).stops());
  CHECK_FALSE(feed(unaware, 3, 1, 5.0).stops());
}

TEST_CASE("Composition: invalid settings inside a composition still throw", "[composition]") {
  hpt::StatefulPolicy policy{hpt::Divergence{} | hpt::Patience{.patience = -3}};
  REQUIRE_THROWS_WITH(run(policy, {1.0}), Catch::Contains("patience") && Catch::Contains("-3"));
}
