// The sampler seam: any strategy but GridSearch takes sampler settings, asks the sampler for each
// new trial's configuration, and tells it every job's result in the order they are applied.

#include <catch2/catch.hpp>

#include <hpt/engine/tune.hpp>
#include <hpt/sampling/random_sampler.hpp>
#include <hpt/sampling/sampler.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/scheduling/successive_halving.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace {

/// What the sampler was asked and told, shared with the test.
struct Log {
  std::vector<std::size_t> asked;
  std::vector<hpt::SampleFeedback> told;
  std::vector<double> told_x;  // the configuration each feedback pointed at
};

/// Trial k gets x = k / 1000 (so the test knows every configuration) and records every call.
class LoggingSampler {
 public:
  explicit LoggingSampler(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  hpt::Config ask(std::size_t trial) {
    log_->asked.push_back(trial);
    return {{"x", static_cast<double>(trial) / 1000}};
  }
  void tell(const hpt::SampleFeedback& feedback) {
    log_->told.push_back(feedback);
    log_->told_x.push_back(feedback.config->get<double>("x"));
  }

 private:
  std::shared_ptr<Log> log_;
};

struct LoggingSampling {
  std::shared_ptr<Log> log = std::make_shared<Log>();
  [[nodiscard]] LoggingSampler make_sampler(const hpt::SearchSpace&, std::uint64_t) const {
    return LoggingSampler(log);
  }
};
static_assert(hpt::SamplerSettings<LoggingSampling>);
static_assert(hpt::SamplerSettings<hpt::RandomSampling>);
static_assert(std::is_same_v<hpt::Hyperband, hpt::BasicHyperband<hpt::RandomSampling>>);
static_assert(std::is_same_v<hpt::Asha, hpt::BasicAsha<>>);

/// Loss falls with the step; smaller x is better.
struct Bowl {
  explicit Bowl(const hpt::Config& config) : x(config.get<double>("x")) {}
  double step() { return x + 1.0 / ++steps; }
  double x;
  int steps = 0;
};

const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};

template <class Strategy>
void check_seam(const Strategy& strategy, const std::shared_ptr<Log>& log) {
  const auto study = hpt::tune<Bowl>(space, strategy, hpt::NoStopping{}, {.seed = 5});
  // Asked once per trial, in id order, and every configuration came from the sampler.
  REQUIRE(log->asked.size() == study.trials().size());
  for (std::size_t k = 0; k < log->asked.size(); ++k) {
    CHECK(log->asked[k] == k);
    CHECK(study.trials()[k].config.template get<double>("x") == static_cast<double>(k) / 1000);
  }
  // Told once per job: a trial's jobs in increasing resource, the last one with its final status
  // (completed, or paused for a trial a scheduler later prunes).
  std::vector<std::int64_t> last_resource(study.trials().size(), 0);
  std::size_t jobs = 0;
  for (std::size_t i = 0; i < log->told.size(); ++i) {
    const auto& feedback = log->told[i];
    REQUIRE(feedback.trial < study.trials().size());
    CHECK(log->told_x[i] == static_cast<double>(feedback.trial) / 1000);
    CHECK(feedback.resource > last_resource[feedback.trial]);
    last_resource[feedback.trial] = feedback.resource;
    CHECK(std::isfinite(feedback.loss));
    CHECK((feedback.status == hpt::TrialStatus::paused ||
           feedback.status == hpt::TrialStatus::completed));
    ++jobs;
  }
  for (const auto& trial : study.trials()) CHECK(last_resource[trial.id] == trial.resource);
  CHECK(jobs >= study.trials().size());
  // The best is the smallest x among the trials that ran the full budget: trial 0 always does
  // under halving (it is the best of its bracket at every rung).
  CHECK(study.best().config.template get<double>("x") == 0.0);
}

}  // namespace

TEST_CASE("every strategy asks its sampler for each new trial and tells it each job",
          "[sampling]") {
  SECTION("random search") {
    const LoggingSampling sampling;
    check_seam(
        hpt::BasicRandomSearch<LoggingSampling>{
            .trials = 7, .max_resource = 3, .sampler = sampling},
        sampling.log);
    CHECK(sampling.log->told.size() == 7);
  }
  SECTION("successive halving") {
    const LoggingSampling sampling;
    check_seam(
        hpt::BasicSuccessiveHalving<LoggingSampling>{
            .configurations = 9, .max_resource = 9, .sampler = sampling},
        sampling.log);
    CHECK(sampling.log->told.size() == 9 + 3 + 1);  // one job per trial per rung
  }
  SECTION("Hyperband") {
    const LoggingSampling sampling;
    check_seam(hpt::BasicHyperband<LoggingSampling>{.max_resource = 9, .sampler = sampling},
               sampling.log);
    // s_max = 2: brackets of 9, 5 and 3 configurations; rungs 9+3+1, 5+1, 3.
    CHECK(sampling.log->asked.size() == 9 + 5 + 3);
    CHECK(sampling.log->told.size() == 13 + 6 + 3);
  }
  SECTION("ASHA") {
    const LoggingSampling sampling;
    check_seam(
        hpt::BasicAsha<LoggingSampling>{.trials = 12, .max_resource = 9, .sampler = sampling},
        sampling.log);
    CHECK(sampling.log->asked.size() == 12);
  }
}

TEST_CASE("the default sampler is the random one: the same trials as before the seam",
          "[sampling]") {
  const auto plain =
      hpt::tune<Bowl>(space, hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{}, {.seed = 11});
  const auto spelled =
      hpt::tune<Bowl>(space, hpt::BasicHyperband<hpt::RandomSampling>{.max_resource = 9},
                      hpt::NoStopping{}, {.seed = 11});
  REQUIRE(plain.trials().size() == spelled.trials().size());
  for (std::size_t k = 0; k < plain.trials().size(); ++k) {
    CHECK(plain.trials()[k].config == spelled.trials()[k].config);
    CHECK(plain.trials()[k].config == space.sample(11, k));  // trial k from (seed, k) only
  }
}
