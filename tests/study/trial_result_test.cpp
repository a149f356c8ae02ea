// One rule for "the result of a trial" (StudyOptions::result): the halving strategies rank a rung
// by it, a completed or stopped trial reports it, best(), the leaderboard and the exports read it.
// Before the rule, a dip-then-rise curve was "completed 0.1" under a policy that reported its best
// step but "pruned on 0.4" under successive halving, which ranked by the last step.
#include <catch2/catch.hpp>
#include <hpt/engine/tune.hpp>
#include <hpt/io/csv.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <hpt/stopping/patience.hpp>
#include <sstream>
#include <vector>

namespace {

// Trial 0 dips then rises (best 0.1 at step 2, 0.4 at step 3); trial 1 is flat at 0.3. At a rung
// of resource 3 the last-step rule prefers trial 1 (0.3 < 0.4), the best-step rule trial 0
// (0.1 < 0.3). Both keep their last value after step 3.
struct Curves {
  explicit Curves(int which) : which(which) {}
  double step() {
    ++steps;
    if (which == 1) return 0.3;
    const double dip[] = {0.5, 0.1, 0.4};
    return steps <= 3 ? dip[steps - 1] : 0.4;
  }
  int which;
  int steps = 0;
};

// Makes trial 0's trainable first, then trial 1's: the sequential engine constructs in id order.
struct InOrder {
  int made = 0;
  Curves operator()(const hpt::Config&) { return Curves(made++); }
};

const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
// Two configurations for 3 steps, the better one continues to 6.
const hpt::SuccessiveHalving halving{
    .configurations = 2, .min_resource = 3, .max_resource = 6, .reduction_factor = 2};

}  // namespace

TEST_CASE("last_step (the default): rungs rank by the value at the rung's resource",
          "[trial_result]") {
  const auto study = hpt::tune(space, InOrder{}, halving);
  CHECK(study.options().result == hpt::TrialResult::last_step);
  const auto& dip = study.trial(0);
  const auto& flat = study.trial(1);
  CHECK(dip.status == hpt::TrialStatus::pruned);
  CHECK(dip.result() == 0.4);
  CHECK(dip.result_step() == 3);
  CHECK_THAT(dip.reason, Catch::Contains("loss 0.4"));
  CHECK(flat.status == hpt::TrialStatus::completed);
  CHECK(flat.resource == 6);
  CHECK(study.best().id == 1);
}

TEST_CASE("best_step: rungs rank by the best value so far, and the result is that value",
          "[trial_result]") {
  const auto study = hpt::tune(space, InOrder{}, halving, hpt::NoStopping{},
                               {.result = hpt::TrialResult::best_step});
  const auto& dip = study.trial(0);
  const auto& flat = study.trial(1);
  CHECK(flat.status == hpt::TrialStatus::pruned);
  CHECK(flat.result() == 0.3);
  CHECK_THAT(flat.reason, Catch::Contains("loss 0.3"));
  CHECK(dip.status == hpt::TrialStatus::completed);
  CHECK(dip.resource == 6);
  CHECK(dip.result() == 0.1);
  CHECK(dip.result_step() == 2);
  CHECK(study.best().id == 0);
}

TEST_CASE("the same curve gets the same result under every strategy and policy", "[trial_result]") {
  for (const auto rule : {hpt::TrialResult::last_step, hpt::TrialResult::best_step}) {
    CAPTURE(std::string(hpt::to_string(rule)));
    const double expected = rule == hpt::TrialResult::last_step ? 0.4 : 0.1;
    // Completed by a fixed budget of 3 steps.
    const auto plain = hpt::tune(space, [](const hpt::Config&) { return Curves(0); },
                                 hpt::RandomSearch{.trials = 1, .max_resource = 3},
                                 hpt::NoStopping{}, {.result = rule});
    CHECK(plain.trial(0).status == hpt::TrialStatus::completed);
    CHECK(plain.trial(0).result() == expected);
    // Stopped by Patience at step 3 (0.4 does not improve on 0.1).
    const auto stopped = hpt::tune(space, [](const hpt::Config&) { return Curves(0); },
                                   hpt::RandomSearch{.trials = 1, .max_resource = 9},
                                   hpt::Patience{.patience = 1}, {.result = rule});
    CHECK(stopped.trial(0).status == hpt::TrialStatus::stopped);
    CHECK(stopped.trial(0).resource == 3);
    CHECK(stopped.trial(0).result() == expected);
    // Pruned at a rung of resource 3 by successive halving (the flat trial is better either way
    // when the rule is last_step; under best_step the dip is kept, so check the flat one's value).
    const auto halved = hpt::tune(space, InOrder{}, halving, hpt::NoStopping{}, {.result = rule});
    const auto& pruned = halved.trial(rule == hpt::TrialResult::last_step ? 0 : 1);
    CHECK(pruned.status == hpt::TrialStatus::pruned);
    CHECK(pruned.result() == (rule == hpt::TrialResult::last_step ? 0.4 : 0.3));

    // The exports carry the result the rule chose, and load back to the same best trial.
    std::stringstream csv;
    hpt::write_csv(halved, csv);
    const auto loaded = hpt::read_csv(csv);
    CHECK(loaded.best().id == halved.best().id);
    CHECK(loaded.trial(0).result() == halved.trial(0).result());
    CHECK(loaded.trial(0).result_step() == halved.trial(0).result_step());
    CHECK(loaded.leaderboard() == halved.leaderboard());
  }
}
