// Prechelt's GL, PQ and UP on hand-made curves, with GL(t) and P_k(t) worked out in comments:
//   E_opt(t) = min E_va(t' <= t),  GL(t) = 100 (E_va(t) / E_opt(t) - 1),
//   P_k(t) = 1000 (sum of E_tr over the strip / (k min of E_tr over the strip) - 1).

#include <catch2/catch.hpp>

#include <vector>

#include "hpt/stopping/prechelt.hpp"
#include "stopping_support.hpp"

using stopping_test::not_a_number;
using stopping_test::run;
using stopping_test::run_metric;

static_assert(hpt::StoppingPolicy<hpt::GeneralizationLoss>);
static_assert(hpt::StoppingPolicy<hpt::ProgressQuotient>);
static_assert(hpt::StoppingPolicy<hpt::UpStrips>);

namespace {
// t        1     2     3       4      5     6
// E_va     1.0   0.5   0.5625  0.625  0.75  0.8125
// E_opt    1.0   0.5   0.5     0.5    0.5   0.5
// GL       0     0     12.5    25     50    62.5
// E_tr     2.0   1.0   0.8     0.75   0.7   0.69
const std::vector<double> validation{1.0, 0.5, 0.5625, 0.625, 0.75, 0.8125};
const std::vector<double> training{2.0, 1.0, 0.8, 0.75, 0.7, 0.69};
}  // namespace

TEST_CASE("GeneralizationLoss: stops after the first step with GL > alpha", "[prechelt]") {
  hpt::StatefulPolicy twelve{
      hpt::GeneralizationLoss{.alpha = 12.5}};  // GL(3) = 12.5 is not > 12.5; GL(4) = 25 is
  const auto outcome = run(twelve, validation);
  CHECK(outcome.step == 4);
  CHECK(outcome.verdict.policy == "GeneralizationLoss");
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("GL = 25%") && Catch::Contains("alpha 12.5") &&
                                         Catch::Contains("best 0.5 at step 2"));
  hpt::StatefulPolicy ten{hpt::GeneralizationLoss{.alpha = 10}};
  CHECK(run(ten, validation).step == 3);
  hpt::StatefulPolicy top{hpt::GeneralizationLoss{.alpha = 62.5}};  // the largest GL is 62.5
  CHECK(run(top, validation).step == 0);
  // A new minimum brings GL back to 0: 1.0, 0.5 (0), 0.55 (10), 0.25 (0), 0.26 (4)
  hpt::StatefulPolicy eleven{hpt::GeneralizationLoss{.alpha = 11}};
  CHECK(run(eleven, {1.0, 0.5, 0.55, 0.25, 0.26}).step == 0);
}

TEST_CASE("ProgressQuotient: GL / P_k at the end of each strip", "[prechelt]") {
  // k = 2, strips end at t = 2, 4, 6:
  //   t = 2: GL 0;  strip {2.0, 1.0}:   P = 1000 (3.0 / (2 x 1.0) - 1) = 500;     GL/P = 0
  //   t = 4: GL 25; strip {0.8, 0.75}:  P = 1000 (1.55 / (2 x 0.75) - 1) = 33.33; GL/P = 0.75
  //   t = 6: GL 62.5; strip {0.7, 0.69}: P = 1000 (1.39 / (2 x 0.69) - 1) = 7.246; GL/P = 8.63
  hpt::StatefulPolicy half{hpt::ProgressQuotient{.alpha = 0.5, .strip_length = 2}};
  const auto outcome = run_metric(half, "train_loss", training, validation);
  CHECK(outcome.step == 4);
  CHECK(outcome.verdict.policy == "ProgressQuotient");
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("GL / P_k = 25 / 33.3333 = 0.75") &&
                                         Catch::Contains("alpha 0.5") &&
                                         Catch::Contains("step 4") && Catch::Contains("k = 2"));
  hpt::StatefulPolicy one{hpt::ProgressQuotient{.alpha = 1, .strip_length = 2}};
  CHECK(run_metric(one, "train_loss", training, validation).step == 6);
  hpt::StatefulPolicy ten{hpt::ProgressQuotient{.alpha = 10, .strip_length = 2}};
  CHECK(run_metric(ten, "train_loss", training, validation).step == 0);
  // Only strip ends decide: with alpha 0.1, t = 3 (GL 12.5) is not checked; t = 4 stops.
  hpt::StatefulPolicy small{hpt::ProgressQuotient{.alpha = 0.1, .strip_length = 2}};
  CHECK(run_metric(small, "train_loss", training, validation).step == 4);
}

TEST_CASE("ProgressQuotient: strips of three, and a custom metric name", "[prechelt]") {
  // k = 3, strips end at t = 3, 6:
  //   t = 3: GL 12.5; strip {2.0, 1.0, 0.8}:   P = 1000 (3.8 / 2.4 - 1) = 583.3;  GL/P = 0.0214
  //   t = 6: GL 62.5; strip {0.75, 0.7, 0.69}: P = 1000 (2.14 / 2.07 - 1) = 33.82; GL/P = 1.848
  hpt::StatefulPolicy one{
      hpt::ProgressQuotient{.alpha = 1, .strip_length = 3, .training_metric = "training_error"}};
  CHECK(run_metric(one, "training_error", training, validation).step == 6);
  hpt::StatefulPolicy tiny{
      hpt::ProgressQuotient{.alpha = 0.02, .strip_length = 3, .training_metric = "training_error"}};
  CHECK(run_metric(tiny, "training_error", training, validation).step == 3);
  hpt::StatefulPolicy two{
      hpt::ProgressQuotient{.alpha = 2, .strip_length = 3, .training_metric = "training_error"}};
  CHECK(run_metric(two, "training_error", training, validation).step == 0);
}

TEST_CASE("ProgressQuotient: no training progress, and NaN training errors", "[prechelt]") {
  // E_tr constant: P = 0. t = 2: GL 0, so GL/P counts as 0; t = 4: GL 25 > 0, so GL/P is infinite.
  hpt::StatefulPolicy flat{hpt::ProgressQuotient{.alpha = 100, .strip_length = 2}};
  const auto outcome = run_metric(flat, "train_loss", {1, 1, 1, 1}, {1.0, 0.5, 0.5, 0.625});
  CHECK(outcome.step == 4);
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("inf"));
  // A NaN in the strip ending at t = 4 makes that strip decide nothing; t = 6 still stops.
  hpt::StatefulPolicy gap{hpt::ProgressQuotient{.alpha = 0.5, .strip_length = 2}};
  const std::vector<double> with_nan{2.0, 1.0, not_a_number, 0.75, 0.7, 0.69};
  CHECK(run_metric(gap, "train_loss", with_nan, validation).step == 6);
}

TEST_CASE("UpStrips: s successive rises between strip ends", "[prechelt]") {
  // k = 2. Steps inside a strip do not matter (5.0 at t = 3 is no rise).
  // t        1    2    3    4     5    6     7    8    9    10
  // E_va     1.0  0.9  5.0  0.95  0.5  0.93  0.6  1.0  0.7  1.1
  // ends          0.9       0.95       0.93       1.0       1.1
  // rises               -   yes        no         yes       yes
  const std::vector<double> curve{1.0, 0.9, 5.0, 0.95, 0.5, 0.93, 0.6, 1.0, 0.7, 1.1};
  hpt::StatefulPolicy one{hpt::UpStrips{.strips = 1, .strip_length = 2}};
  CHECK(run(one, curve).step == 4);
  hpt::StatefulPolicy two{hpt::UpStrips{.strips = 2, .strip_length = 2}};
  const auto outcome = run(two, curve);
  CHECK(outcome.step == 10);
  CHECK(outcome.verdict.policy == "UpStrips");
  CHECK_THAT(outcome.verdict.reason, Catch::Contains("2 successive strips of 2 steps") &&
                                         Catch::Contains("0.93 < 1 < 1.1") &&
                                         Catch::Contains("step 10"));
  hpt::StatefulPolicy three{hpt::UpStrips{.strips = 3, .strip_length = 2}};
  CHECK(run(three, curve).step == 0);
}

TEST_CASE("UpStrips: the earliest stop is at (s + 1) k; equal is not a rise", "[prechelt]") {
  hpt::StatefulPolicy two{hpt::UpStrips{.strips = 2, .strip_length = 1}};
  CHECK(run(two, {1.0, 1.1, 1.2}).step == 3);
  hpt::StatefulPolicy flat{hpt::UpStrips{.strips = 1, .strip_length = 1}};
  CHECK(run(flat, {1.0, 1.0, 1.0, 1.0}).step == 0);
  hpt::StatefulPolicy negative{
      hpt::UpStrips{.strips = 2, .strip_length = 1}};  // UP compares errors only
  CHECK(run(negative, {-1.0, -0.5, -0.25}).step == 3);
}

TEST_CASE("Prechelt: each trial has its own E_opt and strips", "[prechelt]") {
  hpt::StatefulPolicy policy{hpt::GeneralizationLoss{.alpha = 10}};
  using stopping_test::feed;
  CHECK_FALSE(feed(policy, 1, 1, 0.5).stops());
  CHECK_FALSE(feed(policy, 0, 1, 1.0).stops());
  CHECK_FALSE(feed(policy, 0, 2, 0.6).stops());  // trial 0's E_opt is 0.6, not trial 1's 0.5
  CHECK(feed(policy, 1, 2, 0.6).stops());        // GL = 20
}

TEST_CASE("Prechelt: invalid settings and unsuitable objectives throw", "[prechelt]") {
  hpt::StatefulPolicy unset{hpt::GeneralizationLoss{}};
  REQUIRE_THROWS_WITH(run(unset, {1.0}), Catch::Contains("alpha") && Catch::Contains("0"));
  hpt::StatefulPolicy negative{hpt::GeneralizationLoss{.alpha = -1}};
  REQUIRE_THROWS_WITH(run(negative, {1.0}), Catch::Contains("alpha") && Catch::Contains("-1"));
  hpt::StatefulPolicy nan_alpha{hpt::GeneralizationLoss{.alpha = not_a_number}};
  REQUIRE_THROWS_WITH(run(nan_alpha, {1.0}), Catch::Contains("alpha") && Catch::Contains("nan"));

  hpt::StatefulPolicy quotient{hpt::ProgressQuotient{}};
  REQUIRE_THROWS_WITH(run_metric(quotient, "train_loss", {1.0}, {1.0}),
                      Catch::Contains("ProgressQuotient") && Catch::Contains("alpha"));
  hpt::StatefulPolicy strip{hpt::ProgressQuotient{.alpha = 1, .strip_length = 0}};
  REQUIRE_THROWS_WITH(run_metric(strip, "train_loss", {1.0}, {1.0}),
                      Catch::Contains("strip_length") && Catch::Contains("0"));
  hpt::StatefulPolicy unnamed{hpt::ProgressQuotient{.alpha = 1, .training_metric = ""}};
  REQUIRE_THROWS_WITH(run_metric(unnamed, "train_loss", {1.0}, {1.0}),
                      Catch::Contains("training_metric"));

  hpt::StatefulPolicy strips{hpt::UpStrips{}};
  REQUIRE_THROWS_WITH(run(strips, {1.0}), Catch::Contains("strips") && Catch::Contains("0"));
  hpt::StatefulPolicy length{hpt::UpStrips{.strips = 1, .strip_length = -1}};
  REQUIRE_THROWS_WITH(run(length, {1.0}), Catch::Contains("strip_length") && Catch::Contains("-1"));

  SECTION("maximize") {
    hpt::StatefulPolicy gl{hpt::GeneralizationLoss{.alpha = 5}};
    REQUIRE_THROWS_WITH(run(gl, {1.0}, hpt::maximize),
                        Catch::Contains("GeneralizationLoss") && Catch::Contains("maximize"));
    hpt::StatefulPolicy pq{hpt::ProgressQuotient{.alpha = 1}};
    REQUIRE_THROWS_WITH(run_metric(pq, "train_loss", {1.0}, {1.0}, hpt::maximize),
                        Catch::Contains("ProgressQuotient") && Catch::Contains("maximize"));
    hpt::StatefulPolicy up{hpt::UpStrips{.strips = 2}};
    REQUIRE_THROWS_WITH(run(up, {1.0}, hpt::maximize),
                        Catch::Contains("UpStrips") && Catch::Contains("maximize"));
  }
  SECTION("non-positive errors") {
    hpt::StatefulPolicy gl{hpt::GeneralizationLoss{.alpha = 5}};
    REQUIRE_THROWS_WITH(run(gl, {1.0, 0.0}),
                        Catch::Contains("E_opt 0 at step 2") && Catch::Contains("positive"));
    hpt::StatefulPolicy negative_error{hpt::GeneralizationLoss{.alpha = 5}};
    REQUIRE_THROWS_AS(run(negative_error, {-1.0}), std::invalid_argument);
    hpt::StatefulPolicy pq{hpt::ProgressQuotient{.alpha = 1}};
    REQUIRE_THROWS_WITH(run_metric(pq, "train_loss", {1.0, -0.5}, {1.0, 0.9}),
                        Catch::Contains("\"train_loss\"") && Catch::Contains("positive") &&
                            Catch::Contains("-0.5 at step 2"));
  }
}
