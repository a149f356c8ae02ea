// A resumed study is the uninterrupted study. A study runs once to the end with a storage that
// records its log; then, for every transaction boundary a crash could have left (every prefix of
// the log), a fresh tune() call resumes from that prefix, and its final study must equal the
// uninterrupted one in every field (study_difference: configurations, curves to the bit,
// statuses, reasons, results, best). Grid, random, successive halving, Hyperband and ASHA, with
// per-trial and study-wide stopping rules, checkpointed or retrained trainables, on one worker and
// on several (ASHA and MedianStopping with reproducible_lag, so that the uninterrupted study is
// itself the same for any number of workers). Some configurations throw, return NaN or finish
// early, so failed, diverged and completed-early trials go through the replay too.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <hpt/hpt.hpp>
#include <istream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "exception_message.hpp"
#include "parallel_support.hpp"
#include "resume_support.hpp"
#include "study_difference.hpp"

namespace {

using test_support::CheckpointedLearner;
using test_support::grid_space;
using test_support::Learner;
using test_support::StopAtStep;

hpt::SearchSpace space() {
  return test_support::unit_space();
}

/// Runs a study to its end, then resumes it from every prefix of its log (or every `stride`-th),
/// each time in a fresh tune() call, and checks that each resumed study equals the first.
template <class Trainable, class Strategy, class Policy>
void check_every_prefix(const hpt::SearchSpace& searched, const Strategy& strategy,
                        const Policy& policy, hpt::StudyOptions options,
                        std::size_t resumed_workers, std::size_t stride = 1) {
  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  options.storage = storage;
  options.name = "resume";
  const hpt::Study whole = hpt::tune<Trainable>(searched, strategy, policy, options);
  REQUIRE_FALSE(whole.interrupted());
  const std::size_t transactions = storage->transactions("resume");
  REQUIRE(transactions > 2);
  for (std::size_t cut = 0; cut <= transactions; cut += stride) {
    hpt::StudyOptions resumed_options = options;
    resumed_options.storage = storage->prefix("resume", cut);
    resumed_options.workers = resumed_workers;
    resumed_options.open = hpt::OpenMode::resume;
    INFO("resumed after transaction " << cut << " of " << transactions << " on " << resumed_workers
                                      << " workers");
    const hpt::Study resumed = hpt::tune<Trainable>(searched, strategy, policy, resumed_options);
    CHECK(test_support::study_difference(whole, resumed) == "");
  }
}

}  // namespace

TEST_CASE("a study resumed after any transaction equals the uninterrupted one, on one worker",
          "[resume]") {
  const hpt::NoStopping none;
  SECTION("random search") {
    check_every_prefix<CheckpointedLearner>(
        space(), hpt::RandomSearch{.trials = 12, .max_resource = 6}, none, {.seed = 3}, 1);
  }
  SECTION("grid search") {
    check_every_prefix<CheckpointedLearner>(grid_space(), hpt::GridSearch{.max_resource = 4}, none,
                                            {.seed = 4}, 1);
  }
  SECTION("successive halving, checkpointed") {
    check_every_prefix<CheckpointedLearner>(
        space(), hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        none, {.seed = 5}, 1);
  }
  SECTION("successive halving, retrained after a resume (no save/restore)") {
    check_every_prefix<Learner>(
        space(), hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        none, {.seed = 5}, 1);
  }
  SECTION("Hyperband with Patience, objects freed when paused") {
    check_every_prefix<CheckpointedLearner>(space(), hpt::Hyperband{.max_resource = 9},
                                            hpt::Patience{.patience = 2},
                                            {.seed = 6, .checkpoint_paused = true}, 1);
  }
  SECTION("ASHA with MedianStopping") {
    check_every_prefix<CheckpointedLearner>(
        space(), hpt::Asha{.trials = 30, .min_resource = 1, .max_resource = 9},
        hpt::MedianStopping{.startup_trials = 2}, {.seed = 7}, 1);
  }
}

TEST_CASE("a study resumed on several workers equals the uninterrupted one", "[resume]") {
  const hpt::NoStopping none;
  SECTION("Hyperband, run on 3 workers, resumed on 2") {
    check_every_prefix<CheckpointedLearner>(space(), hpt::Hyperband{.max_resource = 9}, none,
                                            {.seed = 8, .workers = 3}, 2);
  }
  SECTION("random search, run on 1 worker, resumed on 4") {
    check_every_prefix<Learner>(space(), hpt::RandomSearch{.trials = 10, .max_resource = 5}, none,
                                {.seed = 9}, 4);
  }
  SECTION("ASHA and MedianStopping with reproducible_lag, run on 2 workers, resumed on 3") {
    check_every_prefix<CheckpointedLearner>(
        space(), hpt::Asha{.trials = 30, .min_resource = 1, .max_resource = 9},
        hpt::MedianStopping{.startup_trials = 2}, {.seed = 10, .workers = 2, .reproducible_lag = 2},
        3);
  }
}

TEST_CASE("a stopped study resumes where it stopped", "[resume]") {
  const hpt::SuccessiveHalving strategy{.configurations = 27, .min_resource = 1, .max_resource = 9};
  const hpt::Study whole =
      hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, {.seed = 11});
  for (int stop_after : {1, 5, 17, 40}) {
    auto stored = std::make_shared<hpt::MemoryStorage>();
    std::stop_source stop;
    StopAtStep stopper{&stop, stop_after};
    const hpt::Study first = hpt::tune<CheckpointedLearner>(
        space(), strategy, hpt::NoStopping{},
        {.seed = 11, .stop = stop.get_token(), .storage = stored}, stopper);
    REQUIRE(first.interrupted());
    const hpt::Study resumed = hpt::tune<CheckpointedLearner>(
        space(), strategy, hpt::NoStopping{},
        {.seed = 11, .storage = stored, .open = hpt::OpenMode::resume});
    INFO("stopped after step " << stop_after);
    CHECK_FALSE(resumed.interrupted());
    CHECK(test_support::study_difference(whole, resumed) == "");
  }
}

TEST_CASE("a finished study is returned as stored, without running a trial", "[resume]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::Hyperband strategy{.max_resource = 9};
  const hpt::Study whole = hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{},
                                                          {.seed = 12, .storage = storage});
  const int made = Learner::constructions.load();
  const hpt::Study again = hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{},
                                                          {.seed = 12, .storage = storage});
  CHECK(Learner::constructions.load() == made);
  CHECK(test_support::study_difference(whole, again) == "");
}

TEST_CASE("resuming with other settings is refused, naming the difference", "[resume]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::Hyperband strategy{.max_resource = 9};
  hpt::StudyOptions options{.seed = 13, .name = "digits", .storage = storage};
  (void)hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, options);
  const auto refused = [&](auto&& run, const std::string& wanted) {
    CHECK_THROWS_WITH(run(), Catch::Contains("\"digits") && Catch::Contains(wanted));
  };
  refused(
      [&] {
        auto other = options;
        other.seed = 14;
        return hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, other);
      },
      "seed: stored 13, given 14");
  refused(
      [&] {
        auto other = options;
        other.direction = hpt::Direction::maximize;
        return hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, other);
      },
      "direction: stored minimize, given maximize");
  refused(
      [&] {
        return hpt::tune<CheckpointedLearner>(space(), hpt::Hyperband{.max_resource = 27},
                                              hpt::NoStopping{}, options);
      },
      "strategy, line");
  refused(
      [&] {
        const hpt::SearchSpace wider{hpt::uniform("x", 0.0, 2.0)};
        return hpt::tune<CheckpointedLearner>(wider, strategy, hpt::NoStopping{}, options);
      },
      "search space, line 1");
  refused(
      [&] {
        auto other = options;
        other.open = hpt::OpenMode::create;
        return hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, other);
      },
      "exists already");
  refused(
      [&] {
        auto other = options;
        other.name = "digits2";
        other.open = hpt::OpenMode::resume;
        return hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, other);
      },
      "no study");
}

TEST_CASE("a stored log that this study would not have written is refused, naming the event",
          "[resume]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::SuccessiveHalving strategy{.configurations = 9, .min_resource = 1, .max_resource = 9};
  hpt::StudyOptions options{.seed = 15, .name = "tampered", .storage = storage};
  (void)hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, options);
  const auto events = storage->events("tampered");
  REQUIRE(events.size() > 10);

  // The log replayed into another storage with one event changed.
  const auto replayed_with = [&](auto change) {
    auto changed = std::make_shared<hpt::MemoryStorage>(true);
    auto log = events;
    change(log);
    hpt::StudyOptions other = options;
    other.storage = changed;
    // Create the study through tune() with a stop before its first job, then append the log.
    std::stop_source stop;
    stop.request_stop();
    other.stop = stop.get_token();
    const auto created =
        hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, other);
    (void)changed->open(hpt::detail::identity_of(created, space()), hpt::OpenMode::resume);
    changed->append(log);
    other.stop = {};
    other.open = hpt::OpenMode::resume;
    return hpt::tune<CheckpointedLearner>(space(), strategy, hpt::NoStopping{}, other);
  };
  SECTION("a job the scheduler would not hand out") {
    CHECK_THROWS_WITH(
        replayed_with([](std::vector<hpt::StudyEvent>& log) {
          for (auto& event : log)
            if (auto* started = std::get_if<hpt::JobStarted>(&event)) {
              started->job.resource += 1;
              return;
            }
        }),
        Catch::Contains("\"tampered\" cannot be resumed: stored event 1 (job_started)") &&
            Catch::Contains("where this scheduler hands out trial 0"));
  }
  SECTION("a configuration the sampler would not draw") {
    CHECK_THROWS_WITH(replayed_with([](std::vector<hpt::StudyEvent>& log) {
                        std::get<hpt::TrialCreated>(log[0]).config = hpt::Config{{"x", 0.5}};
                      }),
                      Catch::Contains("trial 0 was stored with configuration"));
  }
  SECTION("a job that ends without ending") {
    CHECK_THROWS_WITH(replayed_with([](std::vector<hpt::StudyEvent>& log) {
                        for (auto& event : log)
                          if (auto* ended = std::get_if<hpt::JobEnded>(&event)) {
                            ended->status = hpt::TrialStatus::running;
                            return;
                          }
                      }),
                      Catch::Contains("ended running, which is not an end"));
  }
  SECTION("a step of a trial that is not running") {
    CHECK_THROWS_WITH(replayed_with([](std::vector<hpt::StudyEvent>& log) {
                        log.insert(log.begin(), hpt::StepRecorded{0, hpt::Step{1, 0.5, {}}});
                      }),
                      Catch::Contains("stored event 0 (step)"));
  }
}
