// Many trials on 1, 2, 8 and 64 workers, for every strategy: no deadlock (each study must end
// within a deadline), and every trial accounted for exactly once: an observer sees one
// on_trial_start and one on_trial_end per id and every step once, in order; every trial has
// finished at the end; the plan's trial count, where the plan knows it, is the study's. The order-
// independent strategies also give the same trials on every number of workers; ASHA, whose
// promotions depend on the order results arrive in, is held to its invariants only.
//
// Size: HPT_STRESS_TRIALS trials (default 100000 in optimised builds, 2000 in debug and sanitizer
// builds). The largest runs are tagged [stress]; the "chaos" test runs smaller studies over many
// seeds with steps that wait random short times, throw, return NaN or finish early.
#include <algorithm>
#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <hpt/hpt.hpp>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "parallel_support.hpp"
#include "study_difference.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::size_t stress_trials() {
  if (const char* text = std::getenv("HPT_STRESS_TRIALS")) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (end != text && *end == '\0' && value >= 10) return static_cast<std::size_t>(value);
  }
#if defined(HPT_TEST_SANITIZED) || !defined(NDEBUG)
  return 2000;
#else
  return 100000;
#endif
}

using test_support::jitter;
using test_support::mix;
using test_support::unit;

/// test_support::in_time with this file's deadline (see parallel_support.hpp).
template <class F>
auto in_time(F body) {
  return test_support::in_time(std::move(body),
                               test_support::study_deadline(std::chrono::seconds(180)));
}

// ---- The trainable. ----

/// What a study's trainables do besides returning a number.
struct Chaos {
  std::uint64_t salt = 0;         ///< Makes another seed's faults fall elsewhere.
  bool faults = false;            ///< Throw (constructor, step), NaN, finish early at random.
  std::uint64_t max_wait_us = 0;  ///< A quarter of the steps wait up to this long.
};

/// A trivial trainable: the objective is a hash of the configuration plus 1 / step.
class Tick {
 public:
  Tick(const hpt::Config& config, Chaos chaos)
      : key_(mix(std::bit_cast<std::uint64_t>(config.get<double>("x")) ^ chaos.salt)),
        chaos_(chaos) {
    if (chaos_.faults && key_ % 41 == 0) throw std::runtime_error("constructor fault");
  }

  hpt::Metrics step() {
    ++steps_;
    const std::uint64_t hash = mix(key_ + static_cast<std::uint64_t>(steps_));
    if (chaos_.max_wait_us > 0 && (hash >> 56) % 4 == 0) jitter(hash, chaos_.max_wait_us);
    const double objective = unit(key_) + 1.0 / static_cast<double>(steps_);
    if (chaos_.faults) {
      switch ((hash >> 8) % 40) {
        case 0:
          throw std::runtime_error("step fault");
        case 1:
          return {.objective = std::numeric_limits<double>::quiet_NaN()};
        case 2:
          return {.objective = objective, .done = true};
        case 3:
          throw 7;  // not a std::exception
        default:
          break;
      }
    }
    return {.objective = objective};
  }

 private:
  std::uint64_t key_;
  Chaos chaos_;
  std::int64_t steps_ = 0;
};

// ---- Accounting. ----

/// Counts what observers are told, per trial id (observers run on the coordinating thread).
struct Ledger {
  std::vector<std::uint32_t> starts{}, ends{}, steps{};
  std::vector<std::int64_t> last_step{};
  std::size_t steps_out_of_order = 0;
  std::size_t steps_after_end = 0;
  std::size_t unfinished_at_end = 0;
  std::size_t hooks_on_other_threads = 0;
  std::thread::id thread = std::this_thread::get_id();

  void on_trial_start(const hpt::Trial& trial) {
    seen(trial.id);
    ++starts[trial.id];
  }
  void on_step(const hpt::Trial& trial, const hpt::Step& step) {
    seen(trial.id);
    if (step.step != last_step[trial.id] + 1) ++steps_out_of_order;
    if (ends[trial.id] > 0) ++steps_after_end;
    last_step[trial.id] = step.step;
    ++steps[trial.id];
  }
  void on_trial_end(const hpt::Trial& trial) {
    seen(trial.id);
    ++ends[trial.id];
    if (!trial.finished()) ++unfinished_at_end;
  }

 private:
  void seen(std::size_t id) {
    if (std::this_thread::get_id() != thread) ++hooks_on_other_threads;
    if (id >= starts.size()) {
      const std::size_t size = std::max<std::size_t>(id + 1, starts.size() * 2);
      starts.resize(size);
      ends.resize(size);
      steps.resize(size);
      last_step.resize(size);
    }
  }
};

struct Audited {
  hpt::Study study{};
  Ledger ledger{};
};

template <class Strategy, class Policy>
Audited run(const hpt::SearchSpace& space, const Strategy& strategy, const Policy& policy,
            Chaos chaos, std::size_t workers, std::uint64_t seed) {
  return in_time([space, strategy, policy, chaos, workers, seed] {
    Audited audited;
    audited.ledger.thread = std::this_thread::get_id();  // the thread that calls tune()
    audited.study = hpt::tune(
        space, [chaos](const hpt::Config& config) { return Tick(config, chaos); }, strategy, policy,
        {.seed = seed, .workers = workers}, audited.ledger);
    return audited;
  });
}

/// Every way the study and what its observer saw can disagree, at most 12 lines; empty if none.
std::string audit(const Audited& audited, std::optional<std::size_t> planned) {
  const hpt::Study& study = audited.study;
  const Ledger& ledger = audited.ledger;
  std::ostringstream out;
  int problems = 0;
  auto problem = [&](const std::string& what) {
    if (++problems <= 12) out << what << '\n';
  };
  const std::size_t n = study.trials().size();
  if (planned && *planned != n)
    problem("the plan has " + std::to_string(*planned) + " trials, the study " + std::to_string(n));
  if (study.interrupted()) problem("the study says it was interrupted");
  if (!study.observer_errors().empty()) problem("an observer threw");
  if (ledger.hooks_on_other_threads > 0)
    problem(std::to_string(ledger.hooks_on_other_threads) +
            " observer calls on another thread than tune()'s");
  if (ledger.steps_out_of_order > 0)
    problem(std::to_string(ledger.steps_out_of_order) + " steps observed out of order");
  if (ledger.steps_after_end > 0)
    problem(std::to_string(ledger.steps_after_end) + " steps observed after their trial ended");
  if (ledger.unfinished_at_end > 0)
    problem(std::to_string(ledger.unfinished_at_end) + " on_trial_end calls for unfinished trials");
  for (std::size_t id = n; id < ledger.starts.size(); ++id)
    if (ledger.starts[id] || ledger.ends[id] || ledger.steps[id])
      problem("trial " + std::to_string(id) + " was observed but is not in the study");
  for (std::size_t id = 0; id < n; ++id) {
    const hpt::Trial& t = study.trial(id);
    const std::string at =
        "trial " + std::to_string(id) + " (" + std::string(hpt::to_string(t.status)) + "): ";
    const std::uint32_t starts = id < ledger.starts.size() ? ledger.starts[id] : 0;
    const std::uint32_t ends = id < ledger.ends.size() ? ledger.ends[id] : 0;
    const std::uint32_t steps = id < ledger.steps.size() ? ledger.steps[id] : 0;
    if (t.id != id) problem(at + "has id " + std::to_string(t.id));
    if (starts != 1) problem(at + std::to_string(starts) + " on_trial_start calls");
    if (ends != 1) problem(at + std::to_string(ends) + " on_trial_end calls");
    if (!t.finished()) problem(at + "has not finished");
    if (steps != t.curve.size())
      problem(at + std::to_string(steps) + " steps observed, " + std::to_string(t.curve.size()) +
              " recorded");
    if (t.resource != static_cast<std::int64_t>(t.curve.size()))
      problem(at + "resource " + std::to_string(t.resource) + " after " +
              std::to_string(t.curve.size()) + " steps");
    for (std::size_t s = 0; s < t.curve.size(); ++s)
      if (t.curve[s].step != static_cast<std::int64_t>(s) + 1) {
        problem(at + "curve[" + std::to_string(s) + "] is step " + std::to_string(t.curve[s].step));
        break;
      }
    if ((t.status == hpt::TrialStatus::failed) != (t.failure != hpt::FailureStage::none))
      problem(at + "failure stage " + std::string(hpt::to_string(t.failure)));
    if (t.reason.empty() && t.status != hpt::TrialStatus::pending) problem(at + "has no reason");
  }
  if (problems > 12) out << "... " << problems - 12 << " more problems\n";
  return out.str();
}

/// ASHA's invariants: rung and resource agree with the rungs' resources, a completed trial reached
/// the top (or finished by itself), a pruned one paused at the end of a rung below the top, and
/// every rung promoted at least the best floor(|rung| / eta) of its results that could go on (at
/// the end of a study nothing promotable is left).
std::string asha_invariants(const hpt::Study& study, const hpt::Asha& asha) {
  const std::vector<std::int64_t> resources = asha.resources();
  const int top = static_cast<int>(resources.size()) - 1;
  std::ostringstream out;
  int problems = 0;
  auto problem = [&](const std::string& what) {
    if (++problems <= 12) out << what << '\n';
  };
  for (const auto& t : study.trials()) {
    const std::string at =
        "trial " + std::to_string(t.id) + " (" + std::string(hpt::to_string(t.status)) + ", rung " +
        std::to_string(t.rung) + ", resource " + std::to_string(t.resource) + "): ";
    if (t.rung < 0 || t.rung > top || t.bracket != 0) {
      problem(at + "no such rung or bracket");
      continue;
    }
    const auto rung = static_cast<std::size_t>(t.rung);
    const std::int64_t floor = rung == 0 ? 0 : resources[rung - 1];
    if (t.resource < floor || t.resource > resources[rung])
      problem(at + "resource outside its rung's job");
    switch (t.status) {
      case hpt::TrialStatus::completed:
        if (t.resource != resources.back() &&
            t.reason.find("trainable finished") == std::string::npos)
          problem(at + "completed below the top rung");
        break;
      case hpt::TrialStatus::pruned:
        if (t.rung == top || t.resource != resources[rung])
          problem(at + "pruned away from a rung's end");
        if (t.reason.find("rung") == std::string::npos) problem(at + "reason " + t.reason);
        break;
      case hpt::TrialStatus::failed:
      case hpt::TrialStatus::diverged:
      case hpt::TrialStatus::stopped:
        break;
      default:
        problem(at + "not an end status");
    }
  }
  // Rebuild each rung's results as the scheduler was told them (the study's rule is the last
  // step: a trial's result at rung k is its objective at that rung's resource) and rank them as
  // ASHA does; the best floor(|rung| / eta) that could go on must all have been promoted.
  const auto eta = static_cast<std::size_t>(asha.reduction_factor);
  struct Result {
    double loss;
    std::size_t trial;
    bool could_go_on;
    bool promoted;
  };
  for (std::size_t k = 0; k + 1 < resources.size(); ++k) {
    std::vector<Result> results;
    for (const auto& t : study.trials()) {
      if (t.rung < static_cast<int>(k) || t.rung > top) continue;
      if (t.rung > static_cast<int>(k)) {
        const auto index = static_cast<std::size_t>(resources[k] - 1);
        if (index >= t.curve.size()) {
          problem("trial " + std::to_string(t.id) + " went past rung " + std::to_string(k) +
                  " without its steps");
          continue;
        }
        results.push_back({t.curve[index].objective, t.id, true, true});
      } else {
        const bool lost = t.status == hpt::TrialStatus::failed ||
                          t.status == hpt::TrialStatus::diverged || t.curve.empty();
        results.push_back({lost ? std::numeric_limits<double>::quiet_NaN() : t.result(), t.id,
                           t.status == hpt::TrialStatus::pruned, false});
      }
    }
    std::sort(results.begin(), results.end(), [](const Result& a, const Result& b) {
      const bool nan_a = std::isnan(a.loss), nan_b = std::isnan(b.loss);
      if (nan_a != nan_b) return nan_b;
      if (!nan_a && a.loss != b.loss) return a.loss < b.loss;
      return a.trial < b.trial;
    });
    const std::size_t best = results.size() / eta;
    for (std::size_t i = 0; i < best; ++i)
      if (results[i].could_go_on && !results[i].promoted)
        problem("rung " + std::to_string(k) + ": trial " + std::to_string(results[i].trial) +
                " ranks " + std::to_string(i + 1) + " of " + std::to_string(results.size()) +
                " and was never promoted");
  }
  if (problems > 12) out << "... " << problems - 12 << " more problems\n";
  return out.str();
}

/// Runs `strategy` on each number of workers and checks each run's accounting; an order-
/// independent strategy must also give, on every number of workers, the trials it gives on one
/// (which is run first). Returns the last run's study.
template <class Strategy, class Policy = hpt::NoStopping>
hpt::Study check_accounted(const std::string& label, const hpt::SearchSpace& space,
                           const Strategy& strategy, Chaos chaos, std::uint64_t seed,
                           const Policy& policy = {},
                           std::initializer_list<std::size_t> workers = {1, 2, 8, 64}) {
  constexpr bool order_independent = !std::is_same_v<Strategy, hpt::Asha>;
  const std::optional<std::size_t> planned = strategy.schedule(space).trials();
  std::optional<hpt::Study> serial;
  if (order_independent && *workers.begin() != 1) {
    Audited one = run(space, strategy, policy, chaos, 1, seed);
    serial = std::move(one.study);
  }
  hpt::Study last;
  for (const std::size_t count : workers) {
    INFO(label << " on " << count << " workers");
    Audited audited = run(space, strategy, policy, chaos, count, seed);
    CHECK(audit(audited, planned) == "");
    if constexpr (order_independent) {
      if (!serial)
        serial = audited.study;
      else
        CHECK(test_support::study_difference(*serial, audited.study) == "");
    } else {
      CHECK(asha_invariants(audited.study, strategy) == "");
    }
    last = std::move(audited.study);
  }
  return last;
}

/// The Hyperband whose first bracket has about `trials` configurations: eta = sqrt(trials) and
/// R = eta^2, so s_max = 2 and about 3 steps per trial.
hpt::Hyperband hyperband_of(std::size_t trials) {
  auto eta = static_cast<std::int64_t>(std::sqrt(static_cast<double>(trials)));
  if (eta < 2) eta = 2;
  return {.min_resource = 1, .max_resource = eta * eta, .reduction_factor = eta};
}

const hpt::SearchSpace unit_space{hpt::uniform("x", 0.0, 1.0)};

std::size_t completed(const hpt::Study& study) {
  return study.count(hpt::TrialStatus::completed);
}

/// The configurations that reach a bracket's last rung, summed over the plan's brackets.
std::size_t last_rungs(const hpt::Schedule& schedule) {
  std::size_t total = 0;
  for (const auto& bracket : schedule.brackets) total += *bracket.rungs.back().configurations;
  return total;
}

}  // namespace

// Each strategy in two test cases, {1, 2} and {8, 64} workers, so that each stays within a few
// seconds at 1e5 trials (a job on the pool costs some microseconds of hand-over). The second
// case runs the order-independent strategies once more on 1 worker, as the reference.

namespace {
void stress_grid(std::initializer_list<std::size_t> workers) {
  const std::size_t n = stress_trials();
  const hpt::SearchSpace grid{hpt::uniform("x", 0.0, 1.0).grid(n)};
  const hpt::Study last =
      check_accounted("GridSearch", grid, hpt::GridSearch{}, {}, 1, {}, workers);
  CHECK(completed(last) == n);
  if (*workers.begin() != 1)  // the shuffled grid once, against its own serial run
    check_accounted("GridSearch shuffled", grid, hpt::GridSearch{.shuffle = true}, {}, 2, {},
                    {*std::prev(workers.end())});
}
}  // namespace

TEST_CASE("grid search: many trivial trials on 1 and 2 workers, each accounted for once",
          "[engine][parallel][stress]") {
  stress_grid({1, 2});
}

TEST_CASE("grid search: many trivial trials on 8 and 64 workers, each accounted for once",
          "[engine][parallel][stress]") {
  stress_grid({8, 64});
}

namespace {
void stress_random(std::initializer_list<std::size_t> workers) {
  const std::size_t n = stress_trials();
  const hpt::RandomSearch random{.trials = n, .max_resource = 2};
  const hpt::Study last = check_accounted("RandomSearch", unit_space, random, {}, 4, {}, workers);
  CHECK(completed(last) == n);
}
}  // namespace

TEST_CASE("random search: many trivial trials on 1 and 2 workers, each accounted for once",
          "[engine][parallel][stress]") {
  stress_random({1, 2});
}

TEST_CASE("random search: many trivial trials on 8 and 64 workers, each accounted for once",
          "[engine][parallel][stress]") {
  stress_random({8, 64});
}

namespace {
void stress_halving(std::initializer_list<std::size_t> workers) {
  const std::size_t n = stress_trials();
  const hpt::SuccessiveHalving halving{
      .configurations = n, .min_resource = 1, .max_resource = 64, .reduction_factor = 4};
  const hpt::Study last =
      check_accounted("SuccessiveHalving", unit_space, halving, {}, 6, {}, workers);
  CHECK(completed(last) == last_rungs(halving.schedule(unit_space)));
  CHECK(completed(last) + last.count(hpt::TrialStatus::pruned) == n);
}
}  // namespace

TEST_CASE("successive halving: many trivial trials on 1 and 2 workers, each accounted for once",
          "[engine][parallel][stress][halving]") {
  stress_halving({1, 2});
}

TEST_CASE("successive halving: many trivial trials on 8 and 64 workers, each accounted for once",
          "[engine][parallel][stress][halving]") {
  stress_halving({8, 64});
}

namespace {
void stress_hyperband(std::initializer_list<std::size_t> workers) {
  const std::size_t n = stress_trials();
  const hpt::Hyperband hyperband = hyperband_of(n);
  const auto schedule = hyperband.schedule();
  REQUIRE(*schedule.trials() >= n * 9 / 10);
  const hpt::Study last = check_accounted("Hyperband", unit_space, hyperband, {}, 8, {}, workers);
  CHECK(completed(last) == last_rungs(schedule));
  CHECK(completed(last) + last.count(hpt::TrialStatus::pruned) == *schedule.trials());
  std::int64_t steps = 0;
  for (const auto& t : last.trials()) steps += t.resource;
  CHECK(steps == *schedule.total_resource());
}
}  // namespace

TEST_CASE("Hyperband: many trivial trials on 1 and 2 workers, each accounted for once",
          "[engine][parallel][stress][hyperband]") {
  stress_hyperband({1, 2});
}

TEST_CASE("Hyperband: many trivial trials on 8 and 64 workers, each accounted for once",
          "[engine][parallel][stress][hyperband]") {
  stress_hyperband({8, 64});
}

namespace {
void stress_asha(std::initializer_list<std::size_t> workers, std::uint64_t seed) {
  const std::size_t n = stress_trials();
  const hpt::Asha asha{.trials = n, .max_resource = 81};
  const hpt::Study last = check_accounted("Asha", unit_space, asha, {}, seed, {}, workers);
  CHECK(completed(last) >= n / 81);  // at least floor(n / eta^K) reach the top
}
}  // namespace

TEST_CASE("ASHA: many trivial trials on 1 and 2 workers, each accounted for once",
          "[engine][parallel][stress][asha]") {
  stress_asha({1, 2}, 10);
}

TEST_CASE("ASHA: many trivial trials on 8 and 64 workers, each accounted for once",
          "[engine][parallel][stress][asha]") {
  stress_asha({8, 64}, 11);
}

TEST_CASE("many seeds of studies whose steps wait, throw and return NaN at random points",
          "[engine][parallel][chaos]") {
#if defined(HPT_TEST_SANITIZED) || !defined(NDEBUG)
  const std::uint64_t seeds = 3;
#else
  const std::uint64_t seeds = 10;
#endif
  const hpt::SearchSpace grid{hpt::uniform("x", 0.0, 1.0).grid(150)};
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const Chaos chaos{.salt = mix(seed), .faults = true, .max_wait_us = 50};
    const std::string at = " (seed " + std::to_string(seed) + ")";
    const auto policy = hpt::Patience{.patience = 2} | hpt::Divergence{};
    check_accounted("GridSearch" + at, grid,
                    hpt::GridSearch{.max_resource = 4, .shuffle = seed % 2 == 0}, chaos, seed,
                    policy);
    check_accounted("RandomSearch" + at, unit_space,
                    hpt::RandomSearch{.trials = 200, .max_resource = 3}, chaos, seed);
    check_accounted("SuccessiveHalving" + at, unit_space,
                    hpt::SuccessiveHalving{.configurations = 81, .max_resource = 27}, chaos, seed,
                    policy);
    check_accounted("Hyperband" + at, unit_space, hpt::Hyperband{.max_resource = 27}, chaos, seed);
    check_accounted("Asha" + at, unit_space, hpt::Asha{.trials = 200, .max_resource = 27}, chaos,
                    seed, policy);
  }
}
