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

namespace {

using Clock = std::chrono::steady_clock;

// ---- Seeded hashing and random short waits. ----

constexpr std::uint64_t mix(std::uint64_t z) noexcept {  // splitmix64's finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A hash of a configuration's printed form: the same configuration, the same key, in every run.
std::uint64_t key_of(const hpt::Config& config) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char c : config.to_string()) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return mix(hash);
}

/// A number in [0, 1) from a hash.
double unit(std::uint64_t hash) {
  return static_cast<double>(hash >> 11) * 0x1p-53;
}

/// Waits hash % (most + 1) microseconds, asleep or spinning (by another bit of the hash).
void jitter(std::uint64_t hash, std::uint64_t most_microseconds) {
  const auto wait =
      std::chrono::microseconds(static_cast<std::int64_t>(hash % (most_microseconds + 1)));
  if ((hash >> 40) & 1) {
    std::this_thread::sleep_for(wait);
    return;
  }
  const auto until = Clock::now() + wait;
  while (Clock::now() < until) {
  }
}

// ---- Running a study with a deadline. ----

std::chrono::seconds deadline() {
#if defined(HPT_TEST_SANITIZED) || !defined(NDEBUG)
  return std::chrono::seconds(600);
#else
  return std::chrono::seconds(120);
#endif
}

/// Runs `body` on a thread of its own and waits for it at most deadline(): a study that hangs
/// fails the test instead of hanging the test program. A hung run is left behind (its thread
/// detached; `body` owns everything it touches, so nothing it uses goes out of scope).
template <class F>
auto in_time(F body) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  struct Pending {
    std::mutex mutex;
    std::condition_variable ended;
    bool done = false;
    std::optional<R> result{};
    std::exception_ptr error{};
  };
  auto pending = std::make_shared<Pending>();
  std::thread([pending, body = std::move(body)]() mutable {
    std::optional<R> result;
    std::exception_ptr error;
    try {
      result.emplace(body());
    } catch (...) {
      error = std::current_exception();
    }
    const std::lock_guard lock(pending->mutex);
    pending->result = std::move(result);
    pending->error = error;
    pending->done = true;
    pending->ended.notify_all();
  }).detach();
  std::unique_lock lock(pending->mutex);
  if (!pending->ended.wait_for(lock, deadline(), [&] { return pending->done; }))
    FAIL("the study did not end within " << deadline().count() << " s: a deadlock");
  if (pending->error) std::rethrow_exception(pending->error);
  return std::move(*pending->result);
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

  hpt::Metrics step() {
    ++steps_;
    const std::uint64_t hash = mix(key_ ^ mix(static_cast<std::uint64_t>(steps_)));
    jitter(hash, 200);
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

static_assert(!hpt::Checkpointable<Noisy>);
static_assert(hpt::Checkpointable<Checkpointed<false>>);
static_assert(hpt::Resettable<Reused, hpt::Config>);

// ---- Comparing studies. ----

bool same_number(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

std::string text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

/// Where two studies differ (wall times aside), one line per difference, at most 12; empty when
/// they are the same.
std::string difference(const hpt::Study& a, const hpt::Study& b) {
  std::ostringstream out;
  int lines = 0;
  auto differ = [&](const std::string& where, const std::string& x, const std::string& y) {
    if (++lines <= 12) out << where << ": " << x << " | " << y << '\n';
  };
  if (a.trials().size() != b.trials().size())
    differ("trial count", std::to_string(a.trials().size()), std::to_string(b.trials().size()));
  if (a.interrupted() != b.interrupted()) differ("interrupted", "", "");
  if (a.observer_errors().size() != b.observer_errors().size()) differ("observer errors", "", "");
  const std::size_t n = std::min(a.trials().size(), b.trials().size());
  for (std::size_t i = 0; i < n; ++i) {
    const hpt::Trial& x = a.trial(i);
    const hpt::Trial& y = b.trial(i);
    const std::string at = "trial " + std::to_string(i);
    if (x.id != y.id) differ(at + " id", std::to_string(x.id), std::to_string(y.id));
    if (!(x.config == y.config)) differ(at + " config", x.config.to_string(), y.config.to_string());
    if (x.status != y.status)
      differ(at + " status", std::string(hpt::to_string(x.status)),
             std::string(hpt::to_string(y.status)));
    if (x.reason != y.reason) differ(at + " reason", x.reason, y.reason);
    if (x.stopped_by != y.stopped_by) differ(at + " stopped_by", x.stopped_by, y.stopped_by);
    if (x.failure != y.failure)
      differ(at + " failure", std::string(hpt::to_string(x.failure)),
             std::string(hpt::to_string(y.failure)));
    if (x.bracket != y.bracket)
      differ(at + " bracket", std::to_string(x.bracket), std::to_string(y.bracket));
    if (x.rung != y.rung) differ(at + " rung", std::to_string(x.rung), std::to_string(y.rung));
    if (x.resource != y.resource)
      differ(at + " resource", std::to_string(x.resource), std::to_string(y.resource));
    if (!same_number(x.result(), y.result()))
      differ(at + " result", text(x.result()), text(y.result()));
    if (x.result_step() != y.result_step())
      differ(at + " result_step", std::to_string(x.result_step()), std::to_string(y.result_step()));
    if (x.curve.size() != y.curve.size()) {
      differ(at + " curve length", std::to_string(x.curve.size()), std::to_string(y.curve.size()));
      continue;
    }
    for (std::size_t s = 0; s < x.curve.size(); ++s) {
      const hpt::Step& p = x.curve[s];
      const hpt::Step& q = y.curve[s];
      const std::string point = at + " curve[" + std::to_string(s) + "]";
      if (p.step != q.step) differ(point + " step", std::to_string(p.step), std::to_string(q.step));
      if (!same_number(p.objective, q.objective))
        differ(point + " objective", text(p.objective), text(q.objective));
      if (p.values.size() != q.values.size()) {
        differ(point + " values", std::to_string(p.values.size()), std::to_string(q.values.size()));
        continue;
      }
      for (std::size_t v = 0; v < p.values.size(); ++v) {
        if (p.values[v].first != q.values[v].first)
          differ(point + " value name", p.values[v].first, q.values[v].first);
        if (!same_number(p.values[v].second, q.values[v].second))
          differ(point + " value " + p.values[v].first, text(p.values[v].second),
                 text(q.values[v].second));
      }
    }
  }
  if (a.has_best() != b.has_best()) {
    differ("has_best", a.has_best() ? "yes" : "no", b.has_best() ? "yes" : "no");
  } else if (a.has_best() && a.best().id != b.best().id) {
    differ("best().id", std::to_string(a.best().id), std::to_string(b.best().id));
  }
  if (a.leaderboard() != b.leaderboard()) differ("leaderboard order", "", "");
  if (lines > 12) out << "... " << lines - 12 << " more differences\n";
  return out.str();
}

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
      if (t.status == hpt::TrialStatus::completed)
        ++seen[t.resource < budget ? "completed early" : "completed"];
    }
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
    CHECK(difference(serial.study, parallel.study) == "");
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
  INFO(tally.reordered << " of " << tally.parallel_runs << " parallel runs ended trials in "
                       << "another order than the serial run");
  CHECK(tally.reordered > tally.parallel_runs / 2);
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
  INFO(tally.reordered << " of " << tally.parallel_runs << " parallel runs ended trials in "
                       << "another order than the serial run");
  CHECK(tally.reordered > tally.parallel_runs / 2);
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
    CHECK(difference(kept.study, saved.study) == "");
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
    CHECK(difference(fresh.study, reused.study) == "");
  }
}
