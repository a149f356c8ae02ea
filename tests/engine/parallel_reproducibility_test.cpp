// A parallel study is the serial study. For every strategy whose outcome does not depend on the
// order in which results arrive (GridSearch in order and shuffled, RandomSearch,
// SuccessiveHalving, Hyperband), with per-trial stopping rules alone and combined, the study on
// 2 and on 8 workers equals the study on 1 worker in every recorded field of every trial: the
// configuration, the curve (step numbers, objectives, named values), status, reason, stopped_by,
// failure, bracket, rung, resource, result() and best(). Only wall times may differ.
//
// Every step sleeps or spins 0-200 microseconds (a seeded hash of the configuration and the step
// number), so that on several workers results arrive in orders no schedule decides; the tests
// check that they did. Some configurations throw in their constructor or at some step, return
// NaN or infinity, finish early (Metrics::done) or rise until they diverge; others are
// checkpointed (save/restore with checkpoint_paused) or reused (reset) under Hyperband.
#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <hpt/hpt.hpp>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "parallel_support.hpp"
#include "study_difference.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// ---- Seeded hashing and random short waits. ----

using test_support::jitter;
using test_support::key_of;
using test_support::mix;
using test_support::unit;

// ---- Running a study with a deadline. ----

/// test_support::in_time with this file's deadline (see parallel_support.hpp).
template <class F>
auto in_time(F body) {
  return test_support::in_time(std::move(body),
                               test_support::study_deadline(std::chrono::seconds(120)));
}

// ---- Trainables. ----

enum class Kind { plain, construct_throws, step_throws, nan, infinite, done_early, rising };

struct Behaviour {
  Kind kind = Kind::plain;
  std::int64_t at = 1;  ///< The step at which it throws, returns NaN, infinity or finishes.
};

/// About 1 configuration in 16 throws in its constructor, 2 at a step, 1 returns NaN, 1 infinity,
/// 2 finish early, 2 rise until Divergence catches them; the rest learn.
Behaviour behaviour_of(std::uint64_t key) {
  const std::int64_t at = 1 + static_cast<std::int64_t>((key >> 20) % 7);
  switch (key % 16) {
    case 0:
      return {Kind::construct_throws, at};
    case 1:
    case 2:
      return {Kind::step_throws, at};
    case 3:
      return {Kind::nan, at};
    case 4:
      return {Kind::infinite, at};
    case 5:
    case 6:
      return {Kind::done_early, at};
    case 7:
    case 8:
      return {Kind::rising, at};
    default:
      return {Kind::plain, at};
  }
}

/// The objective falls like 0.2 + x + 0.6 / step with a seeded noise of +-0.05 per step (so
/// Patience, GL and UP have something to see), "train_loss" falls smoothly (for PQ), and "noise"
/// is the step's noise.
class Noisy {
 public:
  explicit Noisy(const hpt::Config& config) { configure(config); }
  virtual ~Noisy() = default;
  Noisy(const Noisy&) = delete;
  Noisy& operator=(const Noisy&) = delete;

  hpt::Metrics step() {
    ++steps_;
    const std::uint64_t hash = mix(key_ ^ mix(static_cast<std::uint64_t>(steps_)));
    jitter(hash, most_wait_microseconds());
    const double noise = 2 * unit(hash) - 1;
    const double step = static_cast<double>(steps_);
    hpt::Metrics metrics;
    metrics.values = {{"train_loss", 0.1 + 0.5 * x_ + 0.5 / step}, {"noise", noise}};
    switch (behaviour_.kind) {
      case Kind::step_throws:
        if (steps_ == behaviour_.at)
          throw std::runtime_error("bad minibatch in configuration " + std::to_string(key_ % 1000));
        break;
      case Kind::nan:
        if (steps_ == behaviour_.at) {
          metrics.objective = std::numeric_limits<double>::quiet_NaN();
          return metrics;
        }
        break;
      case Kind::infinite:
        if (steps_ >= behaviour_.at) {
          metrics.objective = std::numeric_limits<double>::infinity();
          return metrics;
        }
        break;
      case Kind::done_early:
        metrics.done = steps_ == behaviour_.at;
        break;
      case Kind::rising:
        level_ *= 2.5;
        metrics.objective = level_ + 0.01 * noise;
        return metrics;
      case Kind::plain:
      case Kind::construct_throws:
        break;
    }
    metrics.objective = 0.2 + x_ + 0.6 / step + 0.05 * noise;
    return metrics;
  }

 protected:
  void configure(const hpt::Config& config) {
    key_ = key_of(config);
    x_ = config.get<double>("x");
    behaviour_ = behaviour_of(key_);
    steps_ = 0;
    level_ = 0.3 + x_;
    if (behaviour_.kind == Kind::construct_throws)
      throw std::runtime_error("no device for configuration " + std::to_string(key_ % 1000));
  }

  /// The longest wait of a step: 0-200 microseconds shuffle the order results arrive in.
  [[nodiscard]] virtual std::uint64_t most_wait_microseconds() const { return 200; }

  std::uint64_t key_ = 0;
  double x_ = 0;
  Behaviour behaviour_{};
  std::int64_t steps_ = 0;
  double level_ = 0;  ///< The rising kind's state (the others' objective follows from steps_).
};

/// Noisy with save() and restore(), exact to the bit; with `faults`, about 1 configuration in 8
/// throws in save() and 1 in 8 in restore().
template <bool faults>
class Checkpointed : public Noisy {
 public:
  using Noisy::Noisy;

  void save(std::ostream& out) const {
    saves.fetch_add(1, std::memory_order_relaxed);
    if (faults && (key_ >> 44) % 8 == 0)
      throw std::runtime_error("disk full for configuration " + std::to_string(key_ % 1000));
    out << steps_ << ' ' << std::bit_cast<std::uint64_t>(level_);
  }
  void restore(std::istream& in) {
    restores.fetch_add(1, std::memory_order_relaxed);
    if (faults && (key_ >> 44) % 8 == 1)
      throw std::runtime_error("checkpoint of configuration " + std::to_string(key_ % 1000) +
                               " is corrupt");
    std::uint64_t bits = 0;
    in >> steps_ >> bits;
    if (!in) throw std::runtime_error("checkpoint unreadable");
    level_ = std::bit_cast<double>(bits);
  }

  static inline std::atomic<int> saves{0};
  static inline std::atomic<int> restores{0};
};

/// Noisy, reused by reset() (which refuses every fifth configuration, so that the engine falls
/// back to the constructor) instead of being rebuilt.
class Reused : public Noisy {
 public:
  using Noisy::Noisy;
  bool reset(const hpt::Config& config) {
    if (key_of(config) % 5 == 0) return false;
    resets.fetch_add(1, std::memory_order_relaxed);
    configure(config);
    return true;
  }
  static inline std::atomic<int> resets{0};
};

/// Noisy with steps that take next to nothing: the pool hands such jobs out in batches.
class Swift : public Noisy {
 public:
  using Noisy::Noisy;

 protected:
  [[nodiscard]] std::uint64_t most_wait_microseconds() const override { return 2; }
};

static_assert(!hpt::Checkpointable<Noisy>);
static_assert(hpt::Checkpointable<Checkpointed<false>>);
static_assert(hpt::Resettable<Reused, hpt::Config>);

using test_support::study_difference;

// ---- Running the same study on 1, 2 and 8 workers. ----

/// Records the order in which trials end (to see that parallel runs really reorder results).
struct EndOrder {
  std::vector<std::size_t> ids{};
  void on_trial_end(const hpt::Trial& trial) { ids.push_back(trial.id); }
};

struct Run {
  hpt::Study study{};
  std::vector<std::size_t> end_order{};
};

template <class T, class Strategy, class Policy>
Run run(const hpt::SearchSpace& space, const Strategy& strategy, const Policy& policy,
        const hpt::StudyOptions& options) {
  return in_time([space, strategy, policy, options] {
    EndOrder order;
    Run result;
    result.study = hpt::tune<T>(space, strategy, policy, options, order);
    result.end_order = std::move(order.ids);
    return result;
  });
}

/// What the serial studies of a test case contained, and how often parallel runs reordered.
struct Tally {
  std::map<std::string, int> seen{};
  int parallel_runs = 0;
  int reordered = 0;

  void note(const hpt::Study& study, std::int64_t budget) {
    for (const auto& t : study.trials()) {
      if (t.status == hpt::TrialStatus::failed)
        ++seen["failed in " + std::string(to_string(t.failure))];
      if (t.status == hpt::TrialStatus::diverged) ++seen["diverged"];
      if (t.status == hpt::TrialStatus::stopped) ++seen["stopped"];
      if (t.status == hpt::TrialStatus::pruned) ++seen["pruned"];
      if (t.stopped_by == "MedianStopping") ++seen["pruned by MedianStopping"];
      if (t.status == hpt::TrialStatus::completed)
        ++seen[t.resource < budget ? "completed early" : "completed"];
    }
  }
  /// Checks that most parallel runs ended their trials in another order than the serial run:
  /// otherwise equal studies would prove nothing about order.
  void check_reordered() const {
    INFO(reordered << " of " << parallel_runs << " parallel runs ended trials in another order "
                   << "than the serial run");
    CHECK(reordered > parallel_runs / 2);
  }
  /// Checks that the serial studies had each of `kinds` at least once.
  void check_seen(std::initializer_list<const char*> kinds) {
    for (const char* kind : kinds) {
      INFO("the serial studies had no trial " << kind << ": the test lost its teeth");
      CHECK(seen[kind] > 0);
    }
  }
};

template <class T, class Strategy, class Policy>
void check_reproducible(const std::string& label, const hpt::SearchSpace& space,
                        const Strategy& strategy, const Policy& policy, hpt::StudyOptions options,
                        std::int64_t budget, Tally& tally) {
  options.workers = 1;
  const Run serial = run<T>(space, strategy, policy, options);
  REQUIRE(!serial.study.trials().empty());
  tally.note(serial.study, budget);
  for (const std::size_t workers : {std::size_t{2}, std::size_t{8}}) {
    options.workers = workers;
    const Run parallel = run<T>(space, strategy, policy, options);
    INFO(label << ": 1 worker against " << workers << " workers");
    CHECK(study_difference(serial.study, parallel.study) == "");
    ++tally.parallel_runs;
    if (parallel.end_order != serial.end_order) ++tally.reordered;
  }
}

// ---- What the studies run. ----

/// 10 x 4 grid points; random strategies sample the same ranges.
const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(10),
                             hpt::uniform("y", 0.0, 1.0).grid(4)};

template <class P>
struct Named {
  const char* name;
  P policy;
};
template <class P>
Named(const char*, P) -> Named<P>;

/// Per-trial rules alone and combined, with settings at which each of them ends some trials.
auto trial_rules() {
  return std::make_tuple(
      Named{"NoStopping", hpt::NoStopping{}},
      Named{"Patience", hpt::Patience{.patience = 2, .min_delta = 1e-3}},
      Named{"Divergence", hpt::Divergence{}},
      Named{"Threshold", hpt::Threshold{.target = 0.45, .upper = 3.0}},
      Named{"GeneralizationLoss", hpt::GeneralizationLoss{.alpha = 4}},
      Named{"Patience | Divergence", hpt::Patience{.patience = 2} | hpt::Divergence{}},
      Named{"any_of(ProgressQuotient, UpStrips, Divergence)",
            hpt::any_of(hpt::ProgressQuotient{.alpha = 0.5, .strip_length = 3},
                        hpt::UpStrips{.strips = 1, .strip_length = 2},
                        hpt::Divergence{.factor = 5.0})},
      Named{"Patience & Threshold", hpt::Patience{.patience = 1} & hpt::Threshold{.upper = 0.9}});
}

template <class T, class Strategy>
void check_every_rule(const std::string& strategy_name, const Strategy& strategy,
                      std::int64_t budget, Tally& tally, std::uint64_t seed) {
  std::apply(
      [&](const auto&... rule) {
        (check_reproducible<T>(strategy_name + " with " + rule.name, space, strategy, rule.policy,
                               {.seed = seed}, budget, tally),
         ...);
      },
      trial_rules());
  // The result rule (best step) and the direction (maximize) change what is compared and ranked;
  // Prechelt's criteria refuse a maximized objective, so that study fails every trial in its
  // policy, identically.
  check_reproducible<T>(strategy_name + " with Patience | Divergence, best_step", space, strategy,
                        hpt::Patience{.patience = 2} | hpt::Divergence{},
                        {.seed = seed + 1, .result = hpt::TrialResult::best_step}, budget, tally);
  check_reproducible<T>(strategy_name + " maximizing with Patience | GeneralizationLoss", space,
                        strategy,
                        hpt::Patience{.patience = 1} | hpt::GeneralizationLoss{.alpha = 4},
                        {.direction = hpt::maximize, .seed = seed + 2}, budget, tally);
}

}  // namespace

TEST_CASE("fixed-budget studies on 2 and 8 workers equal the study on 1 worker",
          "[engine][parallel][reproducible]") {
  Tally tally;
  check_every_rule<Noisy>("GridSearch", hpt::GridSearch{.max_resource = 9}, 9, tally, 1);
  check_every_rule<Noisy>("GridSearch shuffled",
                          hpt::GridSearch{.max_resource = 9, .shuffle = true}, 9, tally, 2);
  check_every_rule<Noisy>("RandomSearch", hpt::RandomSearch{.trials = 40, .max_resource = 9}, 9,
                          tally, 3);
  tally.check_seen({"completed", "completed early", "stopped", "diverged", "failed in construct",
                    "failed in step", "failed in policy"});
  tally.check_reordered();
}

TEST_CASE("successive halving and Hyperband on 2 and 8 workers equal the study on 1 worker",
          "[engine][parallel][reproducible][halving]") {
  Tally tally;
  check_every_rule<Noisy>(
      "SuccessiveHalving",
      hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 27}, 27,
      tally, 4);
  check_every_rule<Noisy>("Hyperband", hpt::Hyperband{.max_resource = 27}, 27, tally, 5);
  tally.check_seen({"completed", "completed early", "stopped", "pruned", "diverged",
                    "failed in construct", "failed in step", "failed in policy"});
  tally.check_reordered();
}

TEST_CASE("checkpointed Hyperband trials (checkpoint_paused) are the same on 1, 2 and 8 workers",
          "[engine][parallel][reproducible][checkpoint]") {
  const hpt::Hyperband hyperband{.max_resource = 27};
  const auto policy = hpt::Patience{.patience = 3} | hpt::Divergence{} |
                      hpt::UpStrips{.strips = 2, .strip_length = 2};
  // Without faults, saving, freeing, rebuilding and restoring every paused trial changes nothing
  // at all: the study equals the one that kept its trainables (the rule's state survives too).
  const Run kept = run<Noisy>(space, hyperband, policy, {.seed = 6});
  for (const std::size_t workers : {std::size_t{1}, std::size_t{2}, std::size_t{8}}) {
    INFO(workers << " workers, checkpoint_paused");
    Checkpointed<false>::saves = 0;
    Checkpointed<false>::restores = 0;
    const Run saved = run<Checkpointed<false>>(
        space, hyperband, policy, {.seed = 6, .checkpoint_paused = true, .workers = workers});
    CHECK(study_difference(kept.study, saved.study) == "");
    CHECK(Checkpointed<false>::saves > 20);
    CHECK(Checkpointed<false>::restores > 5);
  }
  // With save() and restore() failing for some configurations, those trials fail at that stage,
  // identically on every number of workers.
  Tally tally;
  for (const std::uint64_t seed : {7, 8, 9}) {
    check_reproducible<Checkpointed<true>>(
        "Hyperband, checkpoint_paused, seed " + std::to_string(seed), space, hyperband, policy,
        {.seed = seed, .checkpoint_paused = true}, 27, tally);
  }
  tally.check_seen({"failed in save", "failed in restore", "failed in step", "pruned", "stopped"});
  CHECK(tally.reordered > 0);
}

TEST_CASE("reused (reset) trainables give the same study on 1, 2 and 8 workers",
          "[engine][parallel][reproducible][reset]") {
  const auto policy = hpt::Patience{.patience = 2} | hpt::Divergence{};
  Tally tally;
  Reused::resets = 0;
  check_reproducible<Reused>("RandomSearch, reset", space,
                             hpt::RandomSearch{.trials = 40, .max_resource = 6}, policy,
                             {.seed = 10}, 6, tally);
  check_reproducible<Reused>("Hyperband, reset", space, hpt::Hyperband{.max_resource = 27}, policy,
                             {.seed = 11}, 27, tally);
  CHECK(Reused::resets > 20);
  // And a reused trainable is exactly a fresh one: the same study as Noisy's.
  for (const std::size_t workers : {std::size_t{1}, std::size_t{8}}) {
    INFO(workers << " workers");
    const Run fresh = run<Noisy>(space, hpt::Hyperband{.max_resource = 27}, policy, {.seed = 11});
    const Run reused = run<Reused>(space, hpt::Hyperband{.max_resource = 27}, policy,
                                   {.seed = 11, .workers = workers});
    CHECK(study_difference(fresh.study, reused.study) == "");
  }
}

TEST_CASE("with reproducible_lag, MedianStopping studies on 2 and 8 workers equal the study on 1",
          "[engine][parallel][reproducible][median]") {
  // The rule judges each step against the trials whose ends were told before the trial's job was
  // handed out, in hand-out order: the same set for any number of workers, though the ends
  // themselves arrive in other orders.
  Tally tally;
  const auto median = hpt::MedianStopping{.startup_trials = 3, .warmup_steps = 1};
  const auto median_and_divergence = median | hpt::Divergence{};
  for (const std::size_t lag : {std::size_t{0}, std::size_t{3}, std::size_t{16}}) {
    const std::string with = " with MedianStopping, lag " + std::to_string(lag);
    const hpt::StudyOptions options{.seed = 11 + lag, .reproducible_lag = lag};
    check_reproducible<Noisy>("GridSearch shuffled" + with, space,
                              hpt::GridSearch{.max_resource = 9, .shuffle = true}, median, options,
                              9, tally);
    check_reproducible<Noisy>("RandomSearch" + with + " | Divergence", space,
                              hpt::RandomSearch{.trials = 40, .max_resource = 9},
                              median_and_divergence, options, 9, tally);
    check_reproducible<Noisy>(
        "SuccessiveHalving" + with, space,
        hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 27}, median,
        options, 27, tally);
    check_reproducible<Noisy>("Hyperband" + with + " | Divergence", space,
                              hpt::Hyperband{.max_resource = 27}, median_and_divergence, options,
                              27, tally);
    check_reproducible<Noisy>("Asha" + with, space,
                              hpt::Asha{.trials = 40, .min_resource = 1, .max_resource = 27},
                              median, options, 27, tally);
  }
  // Trivial steps: jobs go to workers in batches, whose ends and questions to the rule interleave.
  for (const std::size_t lag : {std::size_t{2}, std::size_t{24}}) {
    const std::string with = " with MedianStopping, trivial steps, lag " + std::to_string(lag);
    const hpt::StudyOptions options{.seed = 31 + lag, .reproducible_lag = lag};
    check_reproducible<Swift>("RandomSearch" + with, space,
                              hpt::RandomSearch{.trials = 300, .max_resource = 9}, median, options,
                              9, tally);
    check_reproducible<Swift>("Asha" + with + " | Divergence", space,
                              hpt::Asha{.trials = 300, .min_resource = 1, .max_resource = 27},
                              median_and_divergence, options, 27, tally);
  }
  tally.check_seen({"completed", "pruned", "pruned by MedianStopping", "diverged",
                    "failed in construct", "failed in step"});
  tally.check_reordered();
}

TEST_CASE("with reproducible_lag = 0, a MedianStopping study on several workers is the serial one",
          "[engine][parallel][reproducible][median]") {
  // Lag 0 hands out a job only when every earlier result is in: the sequential study, whose rule
  // saw every earlier end, on any number of workers.
  const auto median = hpt::MedianStopping{.startup_trials = 3, .warmup_steps = 1};
  const hpt::Asha asha{.trials = 30, .min_resource = 1, .max_resource = 27};
  const Run sequential = run<Noisy>(space, asha, median, {.seed = 5});
  const Run lagged =
      run<Noisy>(space, asha, median, {.seed = 5, .workers = 4, .reproducible_lag = 0});
  CHECK(study_difference(sequential.study, lagged.study) == "");
}
