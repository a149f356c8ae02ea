// Enqueued configurations, the reproducible mode for order-dependent schedulers, and the checks
// of the run settings.

#include <catch2/catch.hpp>

#include <hpt/engine/tune.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/stopping/patience.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "study_difference.hpp"

namespace {

const hpt::SearchSpace space{
    hpt::log_uniform("learning_rate", 1e-5, 1e-1), hpt::choice("optimizer", {"sgd", "adam"}),
    hpt::uniform("momentum", 0.0, 0.99).when(hpt::equals("optimizer", std::string("sgd")))};

/// A bowl in log10(learning_rate) whose steps take a pseudo-random 0-150 microseconds (from the
/// configuration and the step), so that results arrive in shuffled orders with several workers.
struct SlowBowl {
  explicit SlowBowl(const hpt::Config& config)
      : distance(std::log10(config.get<double>("learning_rate")) + 3),
        seed(static_cast<std::uint64_t>(config.get<double>("learning_rate") * 1e12)) {}
  double step() {
    ++steps;
    const std::uint64_t mixed =
        (seed ^ (static_cast<std::uint64_t>(steps) * 0x9E3779B97F4A7C15ULL)) *
        0xBF58476D1CE4E5B9ULL;
    std::this_thread::sleep_for(std::chrono::microseconds((mixed >> 40) % 150));
    return distance * distance + 1.0 / steps;
  }
  double distance;
  std::uint64_t seed;
  int steps = 0;
};

/// what() of the std::invalid_argument `action` throws; fails the test for anything else.
template <class Action>
std::string invalid_argument_message(Action action) {
  try {
    action();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  FAIL("no std::invalid_argument was thrown");
  return {};
}

void require_same(const hpt::Study& a, const hpt::Study& b) {
  CHECK(test_support::study_difference(a, b) == "");
}

}  // namespace

TEST_CASE("enqueued configurations are the first trials, then the sampler's", "[engine][enqueue]") {
  const hpt::Config seed_rate{{"learning_rate", 0.01}, {"optimizer", "adam"}};
  const hpt::Config with_momentum{
      {"learning_rate", 0.001}, {"optimizer", "sgd"}, {"momentum", 0.9}};
  for (std::size_t workers : {1, 3}) {
    const auto study = hpt::tune<SlowBowl>(
        space, hpt::RandomSearch{.trials = 6, .max_resource = 2}, hpt::NoStopping{},
        {.seed = 4, .workers = workers, .enqueue = {seed_rate, with_momentum}});
    REQUIRE(study.trials().size() == 6);
    CHECK(study.trials()[0].config == seed_rate);
    CHECK(study.trials()[1].config == with_momentum);
    for (std::size_t k = 2; k < 6; ++k) CHECK(study.trials()[k].config == space.sample(4, k));
  }
  // More enqueued than the strategy creates: the first ones only.
  const auto short_study =
      hpt::tune<SlowBowl>(space, hpt::RandomSearch{.trials = 1, .max_resource = 1},
                          hpt::NoStopping{}, {.enqueue = {with_momentum, seed_rate}});
  REQUIRE(short_study.trials().size() == 1);
  CHECK(short_study.trials()[0].config == with_momentum);
}

TEST_CASE("an enqueued configuration the space could not produce is refused, named",
          "[engine][enqueue]") {
  const auto refuse = [](hpt::Config config, const std::string& expected) {
    const std::string message = invalid_argument_message([&] {
      (void)hpt::tune<SlowBowl>(
          space, hpt::RandomSearch{.trials = 2}, hpt::NoStopping{},
          {.enqueue = {hpt::Config{{"learning_rate", 0.01}, {"optimizer", "adam"}},
                       std::move(config)}});
    });
    CHECK_THAT(message, Catch::Contains("hpt::StudyOptions: enqueue[1]"));
    CHECK_THAT(message, Catch::Contains(expected));
  };
  refuse({{"learning_rate", 5.0}, {"optimizer", "adam"}}, "outside its domain");
  refuse({{"learning_rate", 0.01}, {"optimizer", "adam"}, {"momentum", 0.5}}, "does not hold");
  refuse({{"learning_rate", 0.01}}, "optimizer");
}

TEST_CASE("with reproducible_lag, ASHA gives the same study for any number of workers",
          "[engine][reproducible]") {
  const hpt::Asha asha{.trials = 60, .max_resource = 27};
  const auto run = [&](std::size_t workers, std::optional<std::size_t> lag) {
    return hpt::tune<SlowBowl>(space, asha, hpt::Patience{.patience = 3},
                               {.seed = 9, .workers = workers, .reproducible_lag = lag});
  };
  const auto one = run(1, 4);
  require_same(one, run(2, 4));
  require_same(one, run(8, 4));
  // Lag 0 is the sequential order: the same as one worker without the mode, even on 4 workers.
  require_same(run(1, std::nullopt), run(4, 0));
}

TEST_CASE("run settings out of range are refused before any trial runs", "[engine][bounds]") {
  const auto refuse = [](hpt::StudyOptions options, const std::string& expected) {
    const std::string message = invalid_argument_message([&] {
      (void)hpt::tune<SlowBowl>(space, hpt::RandomSearch{.trials = 1}, hpt::NoStopping{}, options);
    });
    CHECK_THAT(message, Catch::Contains(expected));
  };
  refuse({.workers = 0}, "workers = 0 must be between 1 and 4096");
  refuse({.workers = 4097}, "workers = 4097");
  refuse({.threads_per_worker = 0}, "threads_per_worker = 0");
  refuse({.reproducible_lag = std::size_t{1} << 40}, "reproducible_lag = 1099511627776");
}
