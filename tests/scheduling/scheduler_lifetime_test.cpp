// A scheduler made from a temporary search space must not keep a pointer into it. The space dies
// at the end of the full expression that makes the scheduler; every later next() and config()
// below would be a stack-use-after-scope under AddressSanitizer (the asan configuration) if the
// sampler kept `const SearchSpace*`, and the configurations must equal those of a scheduler made
// from a space that lives on.
#include <catch2/catch.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <vector>

namespace {

hpt::SearchSpace make_space() {
  return {hpt::uniform("x", 0.0, 1.0).grid(3), hpt::choice("optimizer", {"sgd", "adam"}),
          hpt::int_range("units", 1, 4)};
}

// Runs the scheduler to its end (every trial continues, losses by trial id) and returns the
// configurations of the trials it made, in id order.
template <class Scheduler>
std::vector<hpt::Config> drain(Scheduler scheduler) {
  std::vector<hpt::Config> configs;
  std::vector<hpt::Pruning> prunings;
  while (auto job = scheduler.next()) {
    if (job->trial == configs.size()) configs.push_back(scheduler.config(job->trial));
    scheduler.report(*job, {static_cast<double>(job->trial % 7), true}, prunings);
    prunings.clear();
  }
  CHECK(scheduler.finished());
  return configs;
}

template <class Strategy>
void check_temporary_space(const Strategy& strategy) {
  auto from_temporary = strategy.make_scheduler(make_space(), 7);  // the space dies here
  const hpt::SearchSpace kept = make_space();
  const auto expected = drain(strategy.make_scheduler(kept, 7));
  const auto actual = drain(std::move(from_temporary));
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) CHECK(actual[i] == expected[i]);
}

}  // namespace

TEST_CASE("Schedulers made from a temporary search space own what they sample", "[lifetime]") {
  SECTION("Asha") {
    check_temporary_space(hpt::Asha{.trials = 3});
  }
  SECTION("RandomSearch") {
    check_temporary_space(hpt::RandomSearch{.trials = 5});
  }
  SECTION("GridSearch") {
    check_temporary_space(hpt::GridSearch{.shuffle = true});
  }
  SECTION("SuccessiveHalving") {
    check_temporary_space(hpt::SuccessiveHalving{.configurations = 9, .max_resource = 9});
  }
  SECTION("Hyperband") {
    check_temporary_space(hpt::Hyperband{.max_resource = 9});
  }
}

TEST_CASE("The issue's reproduction: Asha from a temporary space, then next() and config()",
          "[lifetime]") {
  auto scheduler =
      hpt::Asha{.trials = 3}.make_scheduler(hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)}, 7);
  const auto job = scheduler.next();
  REQUIRE(job);
  const hpt::Config config = scheduler.config(job->trial);
  const double x = config.get<double>("x");
  CHECK(x >= 0.0);
  CHECK(x < 1.0);
  CHECK(config == hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)}.sample(7, job->trial));
}
