// Reopening a study with other settings: refused by default, naming the difference (the stopping
// policy's settings included); with OpenMode::resume_changed the log is replayed under the new
// settings and the study goes on where the stored study is one they could have run. The truth
// for a continued study is a study run from the start with the new settings: random search draws
// trial k's configuration from the seed alone, so every trial after the change equals that
// study's, and every trial before it the old one's.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <hpt/hpt.hpp>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "exception_message.hpp"
#include "study_difference.hpp"

namespace {

/// Objective at step t: (x - 0.4)^2 + 1/t; x above 0.7 makes a trial worse step after step.
struct Climber {
  double x;
  std::int64_t t = 0;
  explicit Climber(const hpt::Config& config) : x(config.get<double>("x")) {}
  hpt::Metrics step() {
    ++t;
    const double base = (x - 0.4) * (x - 0.4);
    return {x > 0.7 ? base + 0.1 * static_cast<double>(t) : base + 1.0 / static_cast<double>(t)};
  }
};

const hpt::SearchSpace& space() {
  static const hpt::SearchSpace searched{hpt::uniform("x", 0.0, 1.0)};
  return searched;
}

/// One trial of `a` against the same trial of `b`, every field study_difference compares.
std::string trial_difference(const hpt::Trial& a, const hpt::Trial& b) {
  hpt::Trial x = a, y = b;
  x.id = y.id = 0;
  hpt::Study one, other;
  one.add_trial(std::move(x));
  other.add_trial(std::move(y));
  return test_support::study_difference(one, other);
}

}  // namespace

TEST_CASE("reopening with another stopping policy is refused, naming both settings",
          "[resume_changed]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::RandomSearch strategy{.trials = 4, .max_resource = 3};
  const hpt::StudyOptions options{.seed = 3, .name = "p", .storage = storage};
  (void)hpt::tune<Climber>(space(), strategy, hpt::Patience{.patience = 2}, options);
  CHECK(hpt::policy_settings(hpt::Patience{.patience = 2}) ==
        "Patience(patience=2, min_delta=0.0, direction=study, metric=objective, baseline=none, "
        "start_step=1)");
  CHECK(test_support::message_of([&] {
          (void)hpt::tune<Climber>(space(), strategy, hpt::Patience{.patience = 3}, options);
        }) ==
        "hpt::MemoryStorage: study \"p\" was stored with other settings: stopping policy: "
        "stored Patience(patience=2, min_delta=0.0, direction=study, metric=objective, "
        "baseline=none, start_step=1), given Patience(patience=3, min_delta=0.0, "
        "direction=study, metric=objective, baseline=none, start_step=1) (to continue it "
        "with these settings anyway, open it with OpenMode::resume_changed)");
  CHECK_THROWS_WITH(hpt::tune<Climber>(space(), strategy,
                                       hpt::Patience{.patience = 2} | hpt::Divergence{}, options),
                    Catch::Contains("given any_of(Patience(patience=2") &&
                        Catch::Contains("Divergence(factor=10.0, relative_to=first"));
  // The same settings reopen it (a finished study, returned as stored).
  CHECK(hpt::tune<Climber>(space(), strategy, hpt::Patience{.patience = 2}, options)
            .trials()
            .size() == 4);
}

TEST_CASE("a finished random search continued with more trials equals the longer study",
          "[resume_changed]") {
  for (const std::size_t workers : {std::size_t{1}, std::size_t{3}}) {
    INFO(workers << " workers");
    auto storage = std::make_shared<hpt::MemoryStorage>(true);
    hpt::StudyOptions options{.seed = 9, .name = "more", .workers = workers, .storage = storage};
    const hpt::Study short_study = hpt::tune<Climber>(
        space(), hpt::RandomSearch{.trials = 6, .max_resource = 4}, hpt::NoStopping{}, options);
    REQUIRE_FALSE(short_study.interrupted());
    // Without the mode: refused, naming the plan's line.
    CHECK_THROWS_WITH(
        hpt::tune<Climber>(space(), hpt::RandomSearch{.trials = 15, .max_resource = 4},
                           hpt::NoStopping{}, options),
        Catch::Contains("strategy, line") && Catch::Contains("OpenMode::resume_changed"));
    options.open = hpt::OpenMode::resume_changed;
    const hpt::Study continued = hpt::tune<Climber>(
        space(), hpt::RandomSearch{.trials = 15, .max_resource = 4}, hpt::NoStopping{}, options);
    const hpt::Study straight =
        hpt::tune<Climber>(space(), hpt::RandomSearch{.trials = 15, .max_resource = 4},
                           hpt::NoStopping{}, {.seed = 9});
    CHECK_FALSE(continued.interrupted());
    CHECK(test_support::study_difference(straight, continued) == "");
    // Continued again with the same longer plan: finished, nothing runs.
    const hpt::Study again = hpt::tune<Climber>(
        space(), hpt::RandomSearch{.trials = 15, .max_resource = 4}, hpt::NoStopping{}, options);
    CHECK(test_support::study_difference(straight, again) == "");
  }
}

TEST_CASE("a stopping policy changed mid-study applies from the trials that follow",
          "[resume_changed]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::RandomSearch strategy{.trials = 12, .max_resource = 6};
  const hpt::Threshold policy{.upper = 0.3, .at_step = 2};  // prunes trials above 0.3
  std::stop_source stop;
  struct StopAfter {
    std::stop_source* stop;
    int ended = 0;
    void on_trial_end(const hpt::Trial&) {
      if (++ended == 5) stop->request_stop();
    }
  } stopper{&stop};
  hpt::StudyOptions options{
      .seed = 21, .name = "policy", .stop = stop.get_token(), .storage = storage};
  const hpt::Study first =
      hpt::tune<Climber>(space(), strategy, hpt::NoStopping{}, options, stopper);
  REQUIRE(first.interrupted());
  options.stop = {};
  options.open = hpt::OpenMode::resume_changed;
  const hpt::Study continued = hpt::tune<Climber>(space(), strategy, policy, options);
  REQUIRE_FALSE(continued.interrupted());

  const hpt::Study without = hpt::tune<Climber>(space(), strategy, hpt::NoStopping{}, {.seed = 21});
  const hpt::Study with = hpt::tune<Climber>(space(), strategy, policy, {.seed = 21});
  REQUIRE(continued.trials().size() == 12);
  std::size_t before = 0, stopped_after = 0;
  for (const hpt::Trial& trial : continued.trials()) {
    INFO("trial " << trial.id);
    // Trials that ended before the stop ran without a policy; the rest with the new one.
    const bool ended_before = trial.id < first.trials().size() && first.trial(trial.id).finished();
    CHECK(trial_difference(trial, (ended_before ? without : with).trial(trial.id)) == "");
    before += ended_before ? 1 : 0;
    if (!ended_before && trial.status == hpt::TrialStatus::pruned) ++stopped_after;
  }
  CHECK(before == 5);
  CHECK(stopped_after > 0);  // the new policy did stop some
}

TEST_CASE("resume_changed still refuses a log the new settings could not have written",
          "[resume_changed]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::RandomSearch strategy{.trials = 5, .max_resource = 2};
  (void)hpt::tune<Climber>(space(), strategy, hpt::NoStopping{},
                           {.seed = 1, .name = "s", .storage = storage});
  // Another seed draws another first configuration.
  CHECK_THROWS_WITH(
      hpt::tune<Climber>(
          space(), strategy, hpt::NoStopping{},
          {.seed = 2, .name = "s", .storage = storage, .open = hpt::OpenMode::resume_changed}),
      Catch::Contains("\"s\" cannot be resumed: stored event") &&
          Catch::Contains("trial 0 was stored with configuration"));
  // A study that is not stored is not created.
  CHECK_THROWS_WITH(
      hpt::tune<Climber>(
          space(), strategy, hpt::NoStopping{},
          {.seed = 1, .name = "absent", .storage = storage, .open = hpt::OpenMode::resume_changed}),
      "hpt::MemoryStorage: no study \"absent\" to resume");
  CHECK(storage->transactions("absent") == 0);
  hpt::StudyOptions bad;
  bad.open = static_cast<hpt::OpenMode>(9);
  CHECK(test_support::message_of([&] { bad.validate(); }) ==
        "hpt::StudyOptions: open = 9 is not an OpenMode (create, resume, create_or_resume or "
        "resume_changed)");
}
