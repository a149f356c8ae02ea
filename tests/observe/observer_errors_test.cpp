// An observer that throws must not lose the study: the engine records the exception, stops
// calling that observer, and returns every trial; the other observers are still told everything.
#include <catch2/catch.hpp>
#include <hpt/engine/tune.hpp>
#include <hpt/observe/console_reporter.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <sstream>
#include <stdexcept>

#include "objective_is_x.hpp"

namespace {

// Throws from on_trial_end when told about trial `fail_at`, counting every call it gets.
struct Fragile {
  std::size_t fail_at;
  int trial_ends = 0;
  int steps = 0;
  void on_step(const hpt::Trial&, const hpt::Step&) { ++steps; }
  void on_trial_end(const hpt::Trial& trial) {
    ++trial_ends;
    if (trial.id == fail_at) throw std::runtime_error("disk full");
  }
};

struct Counter {
  int trial_ends = 0;
  bool study_ended = false;
  void on_trial_end(const hpt::Trial&) { ++trial_ends; }
  void on_study_end(const hpt::Study&) { study_ended = true; }
};

const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};

}  // namespace

TEST_CASE("a throwing observer is recorded, not called again, and the study goes on",
          "[observer]") {
  Fragile fragile{.fail_at = 3};
  Counter counter;
  const auto study = hpt::tune<test_support::ObjectiveIsX>(
      space, hpt::RandomSearch{.trials = 8, .max_resource = 2}, hpt::NoStopping{}, {.seed = 1},
      counter, fragile);
  REQUIRE(study.trials().size() == 8);
  CHECK(study.count(hpt::TrialStatus::completed) == 8);
  REQUIRE(study.observer_errors().size() == 1);
  const auto& error = study.observer_errors().front();
  CHECK(error.observer == 1);  // the second observer passed
  CHECK(error.hook == "on_trial_end");
  REQUIRE(error.trial);
  CHECK(*error.trial == 3);
  CHECK(error.message == "disk full");
  CHECK(fragile.trial_ends == 4);  // trials 0..3, then never again
  CHECK(fragile.steps == 4 * 2);   // its other hooks stop too
  CHECK(counter.trial_ends == 8);  // the other observer is told everything
  CHECK(counter.study_ended);
}

TEST_CASE("a console reporter prints the observer errors at the end", "[observer]") {
  Fragile fragile{.fail_at = 0};
  std::ostringstream log;
  hpt::ConsoleReporter reporter(log, hpt::ConsoleReporter::Style::log);
  const auto study = hpt::tune<test_support::ObjectiveIsX>(
      space, hpt::RandomSearch{.trials = 2}, hpt::NoStopping{}, {}, fragile, reporter);
  CHECK(study.observer_errors().size() == 1);
  CHECK_THAT(log.str(), Catch::Contains("observer 0 threw in on_trial_end (trial 0) and was not "
                                        "called again: disk full"));
}

TEST_CASE("with catch_exceptions = false an observer's exception propagates", "[observer]") {
  Fragile fragile{.fail_at = 1};
  CHECK_THROWS_WITH(hpt::tune<test_support::ObjectiveIsX>(space, hpt::RandomSearch{.trials = 3},
                                                          hpt::NoStopping{},
                                                          {.catch_exceptions = false}, fragile),
                    "disk full");
}
