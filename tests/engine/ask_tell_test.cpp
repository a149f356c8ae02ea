// AskTell: a study driven by a loop of the user's own gives the same record as hpt::tune, with
// several jobs out at once too, and refuses misuse by name.

#include <catch2/catch.hpp>

#include <hpt/engine/ask_tell.hpp>
#include <hpt/engine/tune.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/stopping/divergence.hpp>
#include <hpt/stopping/median_stopping.hpp>
#include <hpt/stopping/patience.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "study_difference.hpp"

namespace {

const hpt::SearchSpace space{hpt::log_uniform("learning_rate", 1e-5, 1e-1)};

/// Falls towards a floor set by the learning rate; turns up after a while for large rates (so
/// Patience stops some), and is NaN at step 4 for the very largest (so some diverge).
struct Curve {
  explicit Curve(const hpt::Config& config) : rate(config.get<double>("learning_rate")) {}
  hpt::Metrics step() {
    ++steps;
    const double distance = std::log10(rate) + 3;
    if (rate > 0.05 && steps == 4) return {.objective = std::nan("")};
    const double rise = rate > 0.01 && steps > 5 ? 0.1 * (steps - 5) : 0.0;
    return {.objective = distance * distance + 1.0 / steps + rise};
  }
  double rate;
  int steps = 0;
};

void require_same(const hpt::Study& a, const hpt::Study& b) {
  CHECK(test_support::study_difference(a, b) == "");
}

/// Runs the study one job at a time, keeping each paused trial's model.
template <class Strategy, class Policy>
hpt::Study drive(const Strategy& strategy, const Policy& policy, std::uint64_t seed) {
  hpt::AskTell study(space, strategy, policy, {.seed = seed});
  std::map<std::size_t, Curve> models;
  while (auto job = study.ask()) {
    if (job->steps_done == 0) models.emplace(job->trial, Curve(job->config));
    Curve& model = models.at(job->trial);
    while (study.report(job->trial, model.step())) {
    }
  }
  CHECK(study.finished());
  return study.finish();
}

}  // namespace

TEST_CASE("AskTell one job at a time records what tune records", "[engine][ask_tell]") {
  const auto policy = hpt::Divergence{} | hpt::Patience{.patience = 2};
  SECTION("random search") {
    const hpt::RandomSearch strategy{.trials = 30, .max_resource = 12};
    require_same(drive(strategy, policy, 3),
                 hpt::tune<Curve>(space, strategy, policy, {.seed = 3}));
  }
  SECTION("Hyperband, paused trials resumed") {
    const hpt::Hyperband strategy{.max_resource = 27};
    require_same(drive(strategy, policy, 5),
                 hpt::tune<Curve>(space, strategy, policy, {.seed = 5}));
  }
  SECTION("ASHA with a study rule") {
    const hpt::Asha strategy{.trials = 40, .max_resource = 27};
    const hpt::MedianStopping median{.startup_trials = 3};
    require_same(drive(strategy, median, 7),
                 hpt::tune<Curve>(space, strategy, median, {.seed = 7}));
  }
}

TEST_CASE("AskTell with many jobs out, results told in another order", "[engine][ask_tell]") {
  hpt::AskTell study(space, hpt::Asha{.trials = 50, .max_resource = 9}, hpt::NoStopping{},
                     {.seed = 2});
  std::map<std::size_t, Curve> models;
  std::vector<hpt::TrialJob> out;
  std::size_t round = 0;
  while (!study.finished()) {
    while (auto job = study.ask()) {  // hand out everything there is now
      if (job->steps_done == 0) models.emplace(job->trial, Curve(job->config));
      out.push_back(*job);
    }
    REQUIRE_FALSE(out.empty());  // nothing to do and not finished would be a hang
    // Finish the newest job first: results arrive out of order.
    const hpt::TrialJob job = out.back();
    out.pop_back();
    if (++round % 7 == 0) {
      study.fail(job.trial, "the loop's own trainer failed");
      continue;
    }
    while (study.report(job.trial, models.at(job.trial).step())) {
    }
  }
  const hpt::Study result = study.finish();
  CHECK(result.trials().size() == 50);
  for (const auto& trial : result.trials()) {
    CHECK(trial.finished());
    if (trial.status == hpt::TrialStatus::failed) {
      CHECK(trial.failure == hpt::FailureStage::step);
      CHECK(trial.reason == "the loop's own trainer failed");
    }
  }
  CHECK(result.count(hpt::TrialStatus::failed) > 0);
  CHECK(result.count(hpt::TrialStatus::completed) > 0);
}

TEST_CASE("AskTell refuses misuse by name", "[engine][ask_tell]") {
  hpt::AskTell study(space, hpt::RandomSearch{.trials = 2, .max_resource = 3});
  REQUIRE_THROWS_WITH(study.report(0, 1.0), Catch::Contains("trial 0 has no job out"));
  const auto job = study.ask();
  REQUIRE(job);
  CHECK(job->trial == 0);
  CHECK(job->resource == 3);
  CHECK(job->last_rung);
  REQUIRE_THROWS_WITH(study.finish(), Catch::Contains("trial 0 still has a job out"));
  CHECK(study.report(0, 1.0));
  CHECK(study.report(0, 0.5));
  CHECK_FALSE(study.report(0, 0.25));  // the budget reached: the job ends by itself
  REQUIRE_THROWS_WITH(study.report(0, 0.1), Catch::Contains("trial 0 has no job out"));
  CHECK(study.study().trials()[0].status == hpt::TrialStatus::completed);
  REQUIRE_THROWS_AS(hpt::AskTell(space, hpt::RandomSearch{.trials = 0}), std::invalid_argument);
  REQUIRE_THROWS_AS(hpt::AskTell(space, hpt::RandomSearch{}, hpt::NoStopping{}, {.workers = 0}),
                    std::invalid_argument);
}
