// Faults and contracts of the parallel engine. On several workers: a throwing factory, step(),
// stopping policy (a trial rule of the user's own, and a study rule), save() and restore() are
// each recorded with their FailureStage and the study goes on; a throwing observer is recorded in
// Study::observer_errors(). With catch_exceptions = false the first exception leaves tune()
// promptly, whatever the other workers are doing. A stop request ends a study cleanly, keeping
// every finished trial as it was. serialize_factory serialises the factory; observers and study
// rules run on the thread that called tune(); no trainable is ever used by two threads at once.
// Every study runs under a deadline, so that a deadlock fails its test instead of hanging.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <hpt/hpt.hpp>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "exception_message.hpp"
#include "parallel_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::chrono::seconds deadline() {
  return test_support::study_deadline(std::chrono::seconds(60));
}

/// test_support::in_time with this file's deadline (see parallel_support.hpp).
template <class F>
auto in_time(F body, std::chrono::seconds limit = deadline()) {
  return test_support::in_time(std::move(body), limit);
}

/// The message of what `body` throws, run in time (see in_time); "(no exception)" if nothing.
template <class F>
std::string thrown_in_time(F body, std::chrono::seconds limit = deadline()) {
  auto message = std::make_shared<std::string>("(no exception)");
  in_time(
      [message, body = std::move(body)]() mutable {
        try {
          (void)body();
        } catch (const std::exception& error) {
          *message = error.what();
        } catch (...) {
          *message = "(a non-standard exception)";
        }
        return 0;
      },
      limit);
  return *message;
}

// ---- A trainable that watches how it is used. ----

/// Counts the trainables alive and catches any two threads inside one trainable at once.
struct Usage {
  static inline std::atomic<int> alive{0};
  static inline std::atomic<int> overlaps{0};
  static inline std::atomic<int> made{0};
  static void reset() {
    alive = 0;
    overlaps = 0;
    made = 0;
  }
};

/// Marks a trainable busy for the length of a call; a second thread inside counts an overlap.
class Busy {
 public:
  explicit Busy(std::atomic<bool>& flag) : flag_(flag) {
    if (flag_.exchange(true, std::memory_order_acq_rel)) ++Usage::overlaps;
  }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;
  ~Busy() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool>& flag_;
};

/// What a configuration's "fault" makes a trial do.
///   none: learn; construct / construct_odd: the constructor throws a std::exception / an int;
///   step / step_odd: step 2 throws a std::exception / a double; nan: step 2 is NaN;
///   policy: step 2 reports the metric "bomb", at which the policies below throw;
///   save: save() throws; restore: restore() throws (its loss is the lowest, so it is promoted).
class Faulty {
 public:
  explicit Faulty(const hpt::Config& config)
      : fault_(config.get<std::string>("fault")), x_(config.get<double>("x")) {
    const Busy busy(busy_);
    ++Usage::made;
    if (fault_ == "construct") throw std::runtime_error("no GPU here");
    if (fault_ == "construct_odd") throw 42;
    ++Usage::alive;
  }
  Faulty(const Faulty&) = delete;
  Faulty& operator=(const Faulty&) = delete;
  ~Faulty() { --Usage::alive; }

  hpt::Metrics step() {
    const Busy busy(busy_);
    ++steps_;
    std::this_thread::sleep_for(std::chrono::microseconds(20 * (steps_ % 4)));
    if (steps_ == 2) {
      if (fault_ == "step") throw std::invalid_argument("bad minibatch");
      if (fault_ == "step_odd") throw 3.5;
      if (fault_ == "nan") return {.objective = std::numeric_limits<double>::quiet_NaN()};
      if (fault_ == "policy") return {.objective = 1.0, .values = {{"bomb", 1.0}}};
    }
    const double scale = fault_ == "restore" ? 0.001 : 1.0;
    return {.objective = scale * (x_ + 1.0 / static_cast<double>(steps_))};
  }
  void save(std::ostream& out) const {
    const Busy busy(busy_);
    if (fault_ == "save") throw std::runtime_error("disk full");
    out << steps_;
  }
  void restore(std::istream& in) {
    const Busy busy(busy_);
    if (fault_ == "restore") throw std::runtime_error("checkpoint corrupt");
    in >> steps_;
  }

 private:
  std::string fault_;
  double x_;
  std::int64_t steps_ = 0;
  mutable std::atomic<bool> busy_{false};
};

static_assert(hpt::Checkpointable<Faulty>);

/// A trial rule of the user's own that throws when a step reports "bomb".
struct Bomb {
  struct State {
    int checks = 0;
  };
  hpt::Verdict check(State& state, const hpt::StepReport& report) const {
    ++state.checks;
    if (report.metrics && report.metrics->find("bomb"))
      throw std::domain_error("E_opt is 0 at step " + std::to_string(report.step));
    return {};
  }
};
static_assert(hpt::TrialRule<Bomb>);

/// What a study rule saw: how often, and on which threads.
struct RuleLog {
  std::thread::id tune_thread{};
  std::size_t checks = 0;
  std::size_t off_thread = 0;
  std::size_t ended = 0;
};

/// A study rule of the user's own (it runs on the coordinating thread) that throws at "bomb".
/// It writes its log without atomics: two threads inside it would be a data race.
struct StudyBomb {
  std::shared_ptr<RuleLog> log = std::make_shared<RuleLog>();
  hpt::Verdict check(const hpt::StepReport& report) {
    ++log->checks;
    if (std::this_thread::get_id() != log->tune_thread) ++log->off_thread;
    if (report.metrics && report.metrics->find("bomb"))
      throw std::domain_error("E_opt is 0 at step " + std::to_string(report.step));
    return {};
  }
  void trial_ended(const hpt::TrialEnded&) { ++log->ended; }
};
static_assert(hpt::StudyRule<StudyBomb>);

const std::vector<hpt::Value> every_fault{
    "none", "construct", "construct_odd", "step", "step_odd", "policy", "nan", "save", "restore"};

hpt::SearchSpace fault_space(std::vector<hpt::Value> faults, std::size_t points = 0) {
  hpt::SearchSpace space{
      hpt::choice("fault", std::move(faults)),
      points ? hpt::uniform("x", 0.0, 1.0).grid(points) : hpt::uniform("x", 0.0, 1.0)};
  return space;
}

std::string fault_of(const hpt::Trial& trial) {
  return trial.config.get<std::string>("fault");
}

/// Where two studies differ in what their trials did (wall times aside).
std::string difference(const hpt::Study& a, const hpt::Study& b) {
  std::string out;
  if (a.trials().size() != b.trials().size())
    return "trial counts " + std::to_string(a.trials().size()) + " and " +
           std::to_string(b.trials().size());
  for (std::size_t i = 0; i < a.trials().size(); ++i) {
    const hpt::Trial& x = a.trial(i);
    const hpt::Trial& y = b.trial(i);
    if (!(x.config == y.config) || x.status != y.status || x.reason != y.reason ||
        x.failure != y.failure || x.resource != y.resource || x.rung != y.rung ||
        x.curve.size() != y.curve.size())
      out += "trial " + std::to_string(i) + ": " + std::string(hpt::to_string(x.status)) + " (" +
             x.reason + ") | " + std::string(hpt::to_string(y.status)) + " (" + y.reason + ")\n";
  }
  return out;
}

/// Counts what observers are told, and on which thread.
struct Ledger {
  std::thread::id thread = std::this_thread::get_id();
  std::map<std::size_t, int> starts{}, ends{};
  std::size_t steps = 0;
  std::size_t off_thread = 0;
  bool study_started = false, study_ended = false;

  void on_study_start(const hpt::Study&) {
    here();
    study_started = true;
  }
  void on_trial_start(const hpt::Trial& trial) {
    here();
    ++starts[trial.id];
  }
  void on_step(const hpt::Trial&, const hpt::Step&) {
    here();
    ++steps;
  }
  void on_trial_end(const hpt::Trial& trial) {
    here();
    ++ends[trial.id];
  }
  void on_study_end(const hpt::Study&) {
    here();
    study_ended = true;
  }

 private:
  void here() {
    if (std::this_thread::get_id() != thread) ++off_thread;
  }
};

/// Every trial started and ended once, on tune()'s thread, and has finished.
void check_accounted(const hpt::Study& study, const Ledger& ledger) {
  CHECK(ledger.off_thread == 0);
  CHECK(ledger.study_started);
  CHECK(ledger.study_ended);
  CHECK(ledger.starts.size() == study.trials().size());
  CHECK(ledger.ends.size() == study.trials().size());
  for (const auto& t : study.trials()) {
    INFO("trial " << t.id << " " << hpt::to_string(t.status) << ": " << t.reason);
    CHECK(t.finished());
    CHECK(ledger.starts.count(t.id) == 1);
    CHECK(ledger.ends.count(t.id) == 1);
    if (ledger.starts.count(t.id)) CHECK(ledger.starts.at(t.id) == 1);
    if (ledger.ends.count(t.id)) CHECK(ledger.ends.at(t.id) == 1);
  }
}

struct Observed {
  hpt::Study study{};
  Ledger ledger{};
};

}  // namespace

// ---- Failures at every stage, recorded. ----

TEST_CASE(
    "on 4 workers a throwing factory, step, policy, save() and restore() fail only their trial",
    "[engine][parallel][faults]") {
  // Rungs: 81 trials to 2 steps, 27 to 6, 9 to 18; every paused trial is saved and freed, and
  // rebuilt and restored when promoted.
  const hpt::SuccessiveHalving halving{
      .configurations = 81, .min_resource = 2, .max_resource = 18, .reduction_factor = 3};
  const hpt::SearchSpace space = fault_space(every_fault);
  auto run = [&](std::size_t workers) {
    return in_time([space, halving, workers] {
      Observed observed;
      observed.ledger.thread = std::this_thread::get_id();
      observed.study = hpt::tune<Faulty>(space, halving, Bomb{},
                                         {.seed = 3, .checkpoint_paused = true, .workers = workers},
                                         observed.ledger);
      return observed;
    });
  };
  Usage::reset();
  const Observed four = run(4);
  CHECK(Usage::alive == 0);
  CHECK(Usage::overlaps == 0);
  const hpt::Study& study = four.study;
  REQUIRE(study.trials().size() == 81);
  check_accounted(study, four.ledger);
  std::map<std::string, int> ended_as;  // "fault: how it ended"
  for (const auto& t : study.trials()) {
    const std::string fault = fault_of(t);
    INFO("trial " << t.id << " with fault " << fault << ": " << hpt::to_string(t.status) << ", "
                  << t.reason);
    ++ended_as[fault + ": " + std::string(hpt::to_string(t.failure))];
    if (fault == "construct" || fault == "construct_odd") {
      CHECK(t.status == hpt::TrialStatus::failed);
      CHECK(t.failure == hpt::FailureStage::construct);
      CHECK(t.resource == 0);
      CHECK(t.curve.empty());
      CHECK_THAT(t.reason, Catch::Contains("constructing the trainable threw"));
      CHECK_THAT(t.reason, Catch::Contains(fault == "construct" ? "no GPU here" : "non-standard"));
    } else if (fault == "step" || fault == "step_odd") {
      CHECK(t.status == hpt::TrialStatus::failed);
      CHECK(t.failure == hpt::FailureStage::step);
      CHECK(t.curve.size() == 1);  // the step before is kept
      CHECK_THAT(t.reason, Catch::Contains("step 2 threw"));
      CHECK_THAT(t.reason, Catch::Contains(fault == "step" ? "bad minibatch" : "non-standard"));
    } else if (fault == "policy") {
      CHECK(t.status == hpt::TrialStatus::failed);
      CHECK(t.failure == hpt::FailureStage::policy);
      CHECK(t.curve.size() == 2);  // the step the policy judged is kept
      CHECK_THAT(t.reason, Catch::Contains("the stopping policy threw at step 2") &&
                               Catch::Contains("E_opt is 0 at step 2"));
    } else if (fault == "nan") {
      CHECK(t.status == hpt::TrialStatus::diverged);
      CHECK(t.failure == hpt::FailureStage::none);
      CHECK(t.curve.size() == 2);
    } else if (fault == "save") {  // saved when it first pauses, at the end of rung 0
      CHECK(t.status == hpt::TrialStatus::failed);
      CHECK(t.failure == hpt::FailureStage::save);
      CHECK(t.resource == 2);
      CHECK_THAT(t.reason, Catch::Contains("save() threw: disk full"));
    } else if (fault == "restore") {  // promoted (the lowest losses), rebuilt, restore() throws
      CHECK(t.status == hpt::TrialStatus::failed);
      CHECK(t.failure == hpt::FailureStage::restore);
      CHECK(t.resource == 2);
      CHECK(t.rung == 1);
      CHECK_THAT(t.reason, Catch::Contains("restore() threw: checkpoint corrupt"));
    } else {
      CHECK(t.failure == hpt::FailureStage::none);
      CHECK((t.status == hpt::TrialStatus::completed || t.status == hpt::TrialStatus::pruned));
    }
  }
  for (const char* seen :
       {"construct: construct", "construct_odd: construct", "step: step", "step_odd: step",
        "policy: policy", "save: save", "restore: restore", "none: none", "nan: none"}) {
    INFO("no trial ended as \"" << seen << "\": the study lost its teeth");
    CHECK(ended_as[seen] > 0);
  }
  CHECK(study.count(hpt::TrialStatus::completed) >= 1);  // the study went on to its last rung
  // The same study as on one worker.
  const Observed one = run(1);
  CHECK(difference(one.study, study) == "");
  CHECK(Usage::alive == 0);
  CHECK(Usage::overlaps == 0);
}

TEST_CASE("a study rule that throws fails that trial; it runs on the thread that called tune()",
          "[engine][parallel][faults][policy]") {
  const hpt::SearchSpace space = fault_space({"none", "policy", "step"}, 8);
  for (const std::size_t workers : {std::size_t{1}, std::size_t{4}}) {
    INFO(workers << " workers");
    struct Result {
      hpt::Study study;
      Ledger ledger;
      std::shared_ptr<RuleLog> log;
    };
    const Result result = in_time([space, workers] {
      Result r;
      StudyBomb rule;
      rule.log->tune_thread = std::this_thread::get_id();
      r.ledger.thread = std::this_thread::get_id();
      r.log = rule.log;
      r.study =
          hpt::tune<Faulty>(space, hpt::GridSearch{.max_resource = 6},
                            hpt::MedianStopping{.startup_trials = 2, .warmup_steps = 2} | rule,
                            {.workers = workers}, r.ledger);
      return r;
    });
    REQUIRE(result.study.trials().size() == 24);
    check_accounted(result.study, result.ledger);
    for (const auto& t : result.study.trials()) {
      INFO("trial " << t.id << ": " << t.reason);
      if (fault_of(t) == "policy") {
        CHECK(t.status == hpt::TrialStatus::failed);
        CHECK(t.failure == hpt::FailureStage::policy);
        CHECK_THAT(t.reason, Catch::Contains("the stopping policy threw at step 2") &&
                                 Catch::Contains("E_opt is 0"));
      } else if (fault_of(t) == "step") {
        CHECK(t.failure == hpt::FailureStage::step);
      } else {
        CHECK(t.failure == hpt::FailureStage::none);
      }
    }
    CHECK(result.log->checks > 24);
    CHECK(result.log->off_thread == 0);
    CHECK(result.log->ended == 24);
  }
  // A study rule that never throws, on 8 workers in every build (TSan included): it is only ever
  // called on tune()'s thread (its unsynchronised log would be a data race otherwise).
  const auto log = in_time([] {
    StudyBomb rule;
    rule.log->tune_thread = std::this_thread::get_id();
    (void)hpt::tune<Faulty>(fault_space({"none", "step"}, 8), hpt::Hyperband{.max_resource = 9},
                            hpt::MedianStopping{.startup_trials = 2} | rule, {.workers = 8});
    return rule.log;
  });
  CHECK(log->checks > 20);
  CHECK(log->off_thread == 0);
  CHECK(log->ended == *hpt::Hyperband{.max_resource = 9}.schedule().trials());
}

// ---- Observers. ----

namespace {
/// Throws from on_step when told about step 2 of trial `at`, counting its calls.
struct ThrowsOnStep {
  std::size_t at;
  int calls = 0;
  void on_step(const hpt::Trial& trial, const hpt::Step& step) {
    ++calls;
    if (trial.id == at && step.step == 2) throw std::runtime_error("disk full");
  }
  void on_trial_end(const hpt::Trial&) { ++calls; }
};
/// Throws an int from on_trial_start when told about trial `at`.
struct ThrowsOnStart {
  std::size_t at;
  int calls = 0;
  void on_trial_start(const hpt::Trial& trial) {
    ++calls;
    if (trial.id == at) throw 42;
  }
  void on_trial_end(const hpt::Trial&) { ++calls; }
};
}  // namespace

TEST_CASE("on 4 workers a throwing observer is recorded and the study completes",
          "[engine][parallel][faults][observer]") {
  struct Result {
    hpt::Study study;
    Ledger ledger;
    ThrowsOnStep on_step{.at = 5};
    ThrowsOnStart on_start{.at = 7};
  };
  const hpt::SearchSpace space = fault_space({"none"}, 24);
  const Result result = in_time([space] {
    Result r;
    r.ledger.thread = std::this_thread::get_id();
    r.study = hpt::tune<Faulty>(space, hpt::GridSearch{.max_resource = 4}, hpt::NoStopping{},
                                {.workers = 4}, r.on_step, r.ledger, r.on_start);
    return r;
  });
  REQUIRE(result.study.trials().size() == 24);
  CHECK(result.study.count(hpt::TrialStatus::completed) == 24);
  check_accounted(result.study, result.ledger);  // the other observer was told everything
  REQUIRE(result.study.observer_errors().size() == 2);
  std::map<std::size_t, hpt::ObserverError> by_observer;
  for (const auto& error : result.study.observer_errors()) by_observer[error.observer] = error;
  REQUIRE(by_observer.count(0) == 1);
  REQUIRE(by_observer.count(2) == 1);
  CHECK(by_observer[0].hook == "on_step");
  CHECK(by_observer[0].trial == std::optional<std::size_t>(5));
  CHECK(by_observer[0].message == "disk full");
  CHECK(by_observer[2].hook == "on_trial_start");
  CHECK(by_observer[2].trial == std::optional<std::size_t>(7));
  CHECK(by_observer[2].message == "a non-standard exception");
  // Neither was called again after it threw: fewer calls than a whole study gives.
  CHECK(result.on_step.calls < 24 * 5);
  CHECK(result.on_start.calls <= 7 * 2 + 1);
}

// ---- catch_exceptions = false: the first exception leaves tune(), promptly. ----

namespace {
/// How the one failing trial of a Slow study fails.
enum class Fault { none, construct, step, policy };

/// A trainable on a grid of x = i / (points - 1). Trial `failing` fails (or, with Fault::none,
/// finishes) at once, without waiting; every other trial's step takes 20 ms. So the failure
/// reaches the coordinator while the other workers are in the middle of a step, and before any
/// of them has reported anything: the failing trial's event is alone in its batch, so these tests
/// check the contract itself, deterministically (events queued behind the exception are the
/// regression test "tune() returns when more events wait behind the exception" below).
struct Slow {
  static inline std::atomic<std::int64_t> most_steps_of_others{0};
  Slow(const hpt::Config& config, std::size_t points, std::size_t failing, Fault fault)
      : index_(static_cast<std::size_t>(
            std::lround(config.get<double>("x") * static_cast<double>(points - 1)))),
        failing_(index_ == failing),
        fault_(fault) {
    if (failing_ && fault_ == Fault::construct) throw std::runtime_error("no GPU here");
    ++Usage::alive;
  }
  Slow(const Slow&) = delete;
  Slow& operator=(const Slow&) = delete;
  ~Slow() { --Usage::alive; }
  hpt::Metrics step() {
    ++steps_;
    const double objective = static_cast<double>(index_) + 1.0 / static_cast<double>(steps_);
    if (failing_) {
      if (fault_ == Fault::step) throw std::invalid_argument("bad minibatch");
      if (fault_ == Fault::policy) return {.objective = objective, .values = {{"bomb", 1.0}}};
      return {.objective = objective};
    }
    std::this_thread::sleep_for(20ms);
    std::int64_t seen = most_steps_of_others.load();
    while (seen < steps_ && !most_steps_of_others.compare_exchange_weak(seen, steps_)) {
    }
    return {.objective = objective};
  }
  std::size_t index_;
  bool failing_;
  Fault fault_;
  std::int64_t steps_ = 0;
};

constexpr std::int64_t slow_budget = 5;  ///< Steps per trial: 100 ms for the slow ones.

/// Tunes Slow trainables on a grid of `points` with catch_exceptions = false and returns what
/// tune() threw; trial 2 is the failing one (it starts with the first jobs).
template <class Policy, class... Observers>
std::string slow_failure(Fault fault, std::size_t workers, const Policy& policy,
                         Observers... observers) {
  Usage::reset();
  Slow::most_steps_of_others = 0;
  constexpr std::size_t points = 24;
  return thrown_in_time([=]() mutable {
    const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(points)};
    return hpt::tune(
        space,
        [=](const hpt::Config& config) { return std::make_unique<Slow>(config, points, 2, fault); },
        hpt::GridSearch{.max_resource = slow_budget}, policy,
        {.catch_exceptions = false, .workers = workers}, observers...);
  });
}

/// Throws from on_trial_end (or on_trial_start) when told about trial `at`.
struct ThrowsOnTrial {
  std::size_t at;
  bool at_start = false;
  void on_trial_start(const hpt::Trial& trial) {
    if (at_start && trial.id == at) throw std::runtime_error("terminal gone");
  }
  void on_trial_end(const hpt::Trial& trial) {
    if (!at_start && trial.id == at) throw std::runtime_error("disk full");
  }
};
}  // namespace

TEST_CASE(
    "catch_exceptions = false: the first exception leaves tune() while other workers are "
    "mid-step",
    "[engine][parallel][faults][catch_exceptions]") {
  const auto median = hpt::MedianStopping{.startup_trials = 1} | hpt::Divergence{};
  const StudyBomb study_bomb;
  struct Case {
    const char* name;
    std::function<std::string()> run;
    const char* message;
  };
  const std::vector<Case> cases{
      {"a step throws", [] { return slow_failure(Fault::step, 4, hpt::NoStopping{}); },
       "bad minibatch"},
      {"a step throws, MedianStopping in the policy",
       [&] { return slow_failure(Fault::step, 8, median); }, "bad minibatch"},
      {"the factory throws", [] { return slow_failure(Fault::construct, 4, hpt::NoStopping{}); },
       "no GPU here"},
      {"the factory throws, MedianStopping in the policy",
       [&] { return slow_failure(Fault::construct, 8, median); }, "no GPU here"},
      {"a trial rule throws", [] { return slow_failure(Fault::policy, 4, Bomb{}); },
       "E_opt is 0 at step 1"},
      {"a study rule throws (on the coordinator)",
       [&] { return slow_failure(Fault::policy, 4, study_bomb); }, "E_opt is 0 at step 1"},
      {"a study rule throws, with MedianStopping",
       [&] { return slow_failure(Fault::policy, 8, hpt::MedianStopping{} | study_bomb); },
       "E_opt is 0 at step 1"},
      {"an observer's on_trial_end throws",
       [] { return slow_failure(Fault::none, 4, hpt::NoStopping{}, ThrowsOnTrial{.at = 2}); },
       "disk full"},
      {"an observer's on_trial_start throws",
       [] {
         return slow_failure(Fault::none, 4, hpt::NoStopping{},
                             ThrowsOnTrial{.at = 4, .at_start = true});
       },
       "terminal gone"},
      {"an observer throws, MedianStopping in the policy",
       [&] { return slow_failure(Fault::none, 8, median, ThrowsOnTrial{.at = 2}); }, "disk full"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(c.run() == c.message);
    CHECK(Usage::alive == 0);  // every trainable was freed: the pool joined, nothing leaked
    // The others stopped after the step they were in, far from their budget.
    CHECK(Slow::most_steps_of_others.load() < slow_budget);
  }
  // On one worker, too.
  CHECK(slow_failure(Fault::step, 1, median) == "bad minibatch");
  CHECK(slow_failure(Fault::policy, 1, study_bomb) == "E_opt is 0 at step 1");
  CHECK(Usage::alive == 0);
}

namespace {
/// A study rule that throws something that is not a std::exception at its trial's second step.
struct ThrowsInt {
  hpt::Verdict check(const hpt::StepReport& report) {
    if (report.trial == 2 && report.step == 2) throw 7;
    return {};
  }
  void trial_ended(const hpt::TrialEnded&) {}
};
static_assert(hpt::StudyRule<ThrowsInt>);
}  // namespace

TEST_CASE("A study rule's exception is the one tune() throws, from any worker",
          "[engine][parallel][faults][catch_exceptions]") {
  // The rule runs on the coordinator and its worker gets only the message; what leaves tune()
  // is the rule's own exception, its type intact.
  for (const std::size_t workers : {std::size_t{1}, std::size_t{4}}) {
    INFO(workers << " workers");
    Usage::reset();
    const auto thrown = in_time([workers] {
      try {
        (void)hpt::tune(hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0).grid(24)},
                        [](const hpt::Config& config) {
                          return std::make_unique<Slow>(config, 24, 2, Fault::policy);
                        },
                        hpt::GridSearch{.max_resource = slow_budget}, StudyBomb{},
                        {.catch_exceptions = false, .workers = workers});
      } catch (const std::domain_error& error) {
        return std::string("domain_error: ") + error.what();
      } catch (...) {
        return std::string("another type");
      }
      return std::string("nothing");
    });
    CHECK(thrown == "domain_error: E_opt is 0 at step 1");
    CHECK(Usage::alive == 0);
  }
}

TEST_CASE("A study rule that throws a non-standard exception fails its trial, on any worker",
          "[engine][parallel][faults]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(8)};
  const auto make = [](const hpt::Config& config) {
    return std::make_unique<Slow>(config, 8, 99, Fault::none);
  };
  for (const std::size_t workers : {std::size_t{1}, std::size_t{4}}) {
    INFO(workers << " workers");
    Usage::reset();
    const hpt::Study study = in_time([space, make, workers] {
      return hpt::tune(space, make, hpt::GridSearch{.max_resource = 3}, ThrowsInt{},
                       {.workers = workers});
    });
    REQUIRE(study.trials().size() == 8);
    for (const auto& trial : study.trials()) {
      INFO("trial " << trial.id << ": " << trial.reason);
      if (trial.id == 2) {
        CHECK(trial.status == hpt::TrialStatus::failed);
        CHECK(trial.failure == hpt::FailureStage::policy);
        CHECK(trial.reason == "the stopping policy threw a non-standard exception at step 2");
        CHECK(trial.curve.size() == 2);
      } else {
        CHECK(trial.status == hpt::TrialStatus::completed);
      }
    }
    // With catch_exceptions = false the int itself leaves tune().
    const int thrown = in_time([space, make, workers] {
      try {
        (void)hpt::tune(space, make, hpt::GridSearch{.max_resource = 3}, ThrowsInt{},
                        {.catch_exceptions = false, .workers = workers});
      } catch (int value) {
        return value;
      } catch (...) {
        return -1;
      }
      return 0;
    });
    CHECK(thrown == 7);
    CHECK(Usage::alive == 0);
  }
}

// A regression test: Coordinator::run_pool takes the workers' events in batches; when apply()
// threw (catch_exceptions = false: a trial's exception, an observer's), the events after it in the
// same batch were dropped, so a dropped JobDone left in_flight above zero or a dropped Judge left
// its worker waiting for a verdict, and tune() never returned. Trials that fail at once on many
// workers make such batches likely.
TEST_CASE("catch_exceptions = false: tune() returns when more events wait behind the exception",
          "[engine][parallel][faults][catch_exceptions]") {
  // A normal run takes milliseconds; a hang is reported after this long.
  const auto limit = std::chrono::seconds(deadline().count() / 12);
  for (int attempt = 0; attempt < 30; ++attempt) {
    INFO("attempt " << attempt << ": every trial's constructor throws");
    Usage::reset();
    const std::string message = thrown_in_time(
        [] {
          return hpt::tune<Faulty>(fault_space({"construct"}), hpt::RandomSearch{.trials = 64},
                                   hpt::NoStopping{}, {.catch_exceptions = false, .workers = 8});
        },
        limit);
    REQUIRE(message == "no GPU here");
  }
  for (int attempt = 0; attempt < 30; ++attempt) {
    INFO("attempt " << attempt << ": half the trials throw at step 2, MedianStopping judges");
    Usage::reset();
    const std::string message = thrown_in_time(
        [] {
          return hpt::tune<Faulty>(
              fault_space({"none", "step"}), hpt::RandomSearch{.trials = 64, .max_resource = 4},
              hpt::MedianStopping{.startup_trials = 0}, {.catch_exceptions = false, .workers = 8});
        },
        limit);
    REQUIRE(message == "bad minibatch");
  }
}

// ---- Stopping a study. ----

namespace {
/// x + 1 / step; a step takes 100 to 400 microseconds by x (so that trials started together do
/// not end together).
struct Steady {
  explicit Steady(const hpt::Config& config) : x(config.get<double>("x")) { ++Usage::made; }
  hpt::Metrics step() {
    std::this_thread::sleep_for(std::chrono::microseconds(100 + static_cast<int>(300 * x)));
    ++steps;
    return {.objective = x + 1.0 / static_cast<double>(steps),
            .values = {{"steps", static_cast<double>(steps)}}};
  }
  double x;
  std::int64_t steps = 0;
};

/// Asks the study to stop when the `after`-th trial ends (or at step `step` of trial `trial`).
struct StopAfter {
  std::shared_ptr<std::stop_source> source{};
  std::size_t after = 0;
  std::optional<std::pair<std::size_t, std::int64_t>> at_step{};
  std::size_t ended = 0;
  void on_trial_end(const hpt::Trial&) {
    if (++ended == after) source->request_stop();
  }
  void on_step(const hpt::Trial& trial, const hpt::Step& step) {
    if (at_step && at_step->first == trial.id && at_step->second == step.step)
      source->request_stop();
  }
};

struct Stopped {
  hpt::Study study{};
  Ledger ledger{};
};

template <class Strategy>
Stopped stop_study(const hpt::SearchSpace& space, const Strategy& strategy, std::size_t workers,
                   StopAfter stop) {
  return in_time([space, strategy, workers, stop]() mutable {
    Stopped result;
    result.ledger.thread = std::this_thread::get_id();
    stop.source = std::make_shared<std::stop_source>();
    result.study = hpt::tune<Steady>(
        space, strategy, hpt::Patience{.patience = 50},
        {.seed = 12, .workers = workers, .stop = stop.source->get_token()}, stop, result.ledger);
    return result;
  });
}

bool same_steps(const hpt::Step& a, const hpt::Step& b) {
  return a.step == b.step && a.objective == b.objective && a.values == b.values;
}

/// A stopped study against the same study run to its end: no trial is running or pending; every
/// finished trial is the reference's to the letter; a paused or interrupted one did a prefix of
/// the reference's curve; observers saw every start and every finished trial's end.
void check_stopped(const Stopped& stopped, const hpt::Study& reference) {
  const hpt::Study& study = stopped.study;
  CHECK(study.interrupted());
  CHECK(stopped.ledger.off_thread == 0);
  CHECK(stopped.ledger.study_ended);
  REQUIRE(study.trials().size() <= reference.trials().size());
  CHECK(stopped.ledger.starts.size() == study.trials().size());
  for (const auto& t : study.trials()) {
    const hpt::Trial& full = reference.trial(t.id);
    INFO("trial " << t.id << ": " << hpt::to_string(t.status) << " (" << t.reason << ") against "
                  << hpt::to_string(full.status) << " (" << full.reason << ")");
    CHECK(t.status != hpt::TrialStatus::running);
    CHECK(t.status != hpt::TrialStatus::pending);
    CHECK(t.config == full.config);
    CHECK(t.bracket == full.bracket);
    CHECK(t.failure == hpt::FailureStage::none);
    CHECK(stopped.ledger.starts.count(t.id) == 1);
    REQUIRE(t.curve.size() <= full.curve.size());
    for (std::size_t s = 0; s < t.curve.size(); ++s) CHECK(same_steps(t.curve[s], full.curve[s]));
    CHECK(t.resource == static_cast<std::int64_t>(t.curve.size()));
    if (t.finished()) {
      CHECK(t.status == full.status);
      CHECK(t.reason == full.reason);
      CHECK(t.stopped_by == full.stopped_by);
      CHECK(t.rung == full.rung);
      CHECK(t.resource == full.resource);
      CHECK(stopped.ledger.ends.count(t.id) == 1);
    } else {
      CHECK((t.status == hpt::TrialStatus::interrupted || t.status == hpt::TrialStatus::paused));
      CHECK(stopped.ledger.ends.count(t.id) == 0);  // it has not ended: it could run on
      if (t.status == hpt::TrialStatus::interrupted)
        CHECK_THAT(t.reason,
                   Catch::Contains("asked to stop after step " + std::to_string(t.resource)) ||
                       Catch::Contains("asked to stop before the trial started"));
    }
  }
}
}  // namespace

TEST_CASE("a stop request on 4 workers ends the study cleanly and keeps every finished trial",
          "[engine][parallel][stop]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const hpt::RandomSearch random{.trials = 40, .max_resource = 20};
  const Stopped reference = stop_study(space, random, 1, {});
  REQUIRE_FALSE(reference.study.interrupted());
  REQUIRE(reference.study.trials().size() == 40);
  const Stopped stopped = stop_study(space, random, 4, {.after = 5});
  check_stopped(stopped, reference.study);
  // The fifth trial's end stopped it: at most the 3 others running then had started since.
  CHECK(stopped.study.trials().size() >= 5);
  CHECK(stopped.study.trials().size() <= 5 + 3);
  CHECK(stopped.ledger.ends.size() >= 5);
  CHECK(stopped.study.count(hpt::TrialStatus::interrupted) >= 1);  // they were mid-trial
  CHECK(stopped.study.count(hpt::TrialStatus::completed) == stopped.ledger.ends.size());

  // Hyperband: paused trials stay paused, running ones are interrupted, finished ones are kept.
  const hpt::Hyperband hyperband{.max_resource = 27};
  const Stopped full = stop_study(space, hyperband, 1, {});
  REQUIRE_FALSE(full.study.interrupted());
  for (const std::size_t after : {std::size_t{3}, std::size_t{30}}) {
    INFO("stopped after " << after << " trials ended");
    const Stopped halted = stop_study(space, hyperband, 4, {.after = after});
    check_stopped(halted, full.study);
    CHECK(halted.ledger.ends.size() >= after);
    CHECK(halted.ledger.ends.size() < full.study.trials().size());  // it was cut short
  }
}

namespace {
/// A trainable whose steps cost nothing: the pool hands its jobs out in batches. With a stop
/// source, the first trial to reach step `stop_at` asks the study to stop, from its worker.
struct Instant {
  Instant(const hpt::Config& config, std::shared_ptr<std::stop_source> source, std::int64_t at)
      : x(config.get<double>("x")), stop(std::move(source)), stop_at(at) {}
  double step() {
    if (++steps == stop_at && stop) stop->request_stop();
    return x + 1.0 / static_cast<double>(steps);
  }
  double x;
  std::shared_ptr<std::stop_source> stop;
  std::int64_t stop_at;
  std::int64_t steps = 0;
};

/// Stops a study of Instant trainables on 4 workers, by an observer after `after` trials ended
/// or (after = 0) by the first trial to take step `stop_at` (from its worker), and checks that
/// no trial runs, a paused one is paused at its rung's resource, and an interrupted one ran a
/// step of its current rung. Counts the paused and the never-started trials.
template <class Strategy>
void check_stop_among_batches(const Strategy& strategy, std::size_t after, std::int64_t stop_at,
                              std::uint64_t seed, std::size_t& paused, std::size_t& unstarted) {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const hpt::Schedule plan = strategy.schedule(space);
  const hpt::Study study = in_time([space, strategy, after, stop_at, seed] {
    StopAfter stop{.source = std::make_shared<std::stop_source>(), .after = after};
    return hpt::tune(
        space,
        [source = stop.source, stop_at](const hpt::Config& config) {
          return std::make_unique<Instant>(config, source, stop_at);
        },
        strategy, hpt::NoStopping{}, {.seed = seed, .workers = 4, .stop = stop.source->get_token()},
        stop);
  });
  CHECK(study.interrupted());
  for (const auto& t : study.trials()) {
    INFO("trial " << t.id << ": " << hpt::to_string(t.status) << " (" << t.reason << ")");
    CHECK(t.status != hpt::TrialStatus::running);
    CHECK(t.resource == static_cast<std::int64_t>(t.curve.size()));
    // Trial::bracket is the bracket's index (Hyperband's s; its brackets run from s_max down).
    const auto bracket = std::find_if(plan.brackets.begin(), plan.brackets.end(),
                                      [&](const hpt::Bracket& b) { return b.index == t.bracket; });
    REQUIRE(bracket != plan.brackets.end());
    const auto& rungs = bracket->rungs;
    if (t.status == hpt::TrialStatus::paused) {
      ++paused;
      CHECK(t.resource == rungs.at(static_cast<std::size_t>(t.rung)).resource);
    }
    if (t.status == hpt::TrialStatus::interrupted && t.resource == 0) {
      ++unstarted;
      CHECK(t.reason == "the study was asked to stop before the trial started");
    }
    // An interrupted trial ran a step of its current rung: one that never stepped stays paused
    // at the rung below.
    if (t.status == hpt::TrialStatus::interrupted && t.rung > 0)
      CHECK(t.resource > rungs.at(static_cast<std::size_t>(t.rung) - 1).resource);
  }
}
}  // namespace

TEST_CASE("a stop among batches of trivial jobs leaves paused trials paused at their rung",
          "[engine][parallel][stop]") {
  // Jobs of a batch that had not started when the stop came: a paused trial's promotion never
  // happened (it stays paused at its old rung, its resource that rung's), a new trial is
  // interrupted before its first step.
  std::size_t paused = 0, unstarted = 0;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    INFO("seed " << seed);
    for (const std::size_t after : {std::size_t{10}, std::size_t{50}, std::size_t{120}}) {
      INFO("Hyperband stopped after " << after << " trial ends");
      check_stop_among_batches(hpt::Hyperband{.max_resource = 81}, after, 0, seed, paused,
                               unstarted);
    }
    // Successive halving: the first promoted trial to take its first step of rung 1 (step 2)
    // stops the study from its worker, in the middle of a batch of promotions.
    const hpt::SuccessiveHalving halving{
        .configurations = 243, .min_resource = 1, .max_resource = 81};
    const std::size_t paused_before = paused;
    check_stop_among_batches(halving, 0, 2, seed, paused, unstarted);
    CHECK(paused > paused_before);  // the rung's other promotions stayed paused
  }
  INFO(unstarted << " trials were handed out but never started");
  CHECK(paused > 0);
}

TEST_CASE("a stop request on 1 worker ends the study between trials or after the current step",
          "[engine][parallel][stop]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const hpt::RandomSearch random{.trials = 12, .max_resource = 6};
  const Stopped reference = stop_study(space, random, 1, {});
  // Asked when the fifth trial ends: exactly five trials, all as in the whole study.
  const Stopped between = stop_study(space, random, 1, {.after = 5});
  check_stopped(between, reference.study);
  CHECK(between.study.trials().size() == 5);
  CHECK(between.study.count(hpt::TrialStatus::completed) == 5);
  // Asked during step 2 of trial 3: it ends after that step, interrupted, and nothing follows.
  const Stopped during = stop_study(space, random, 1, {.at_step = std::pair{std::size_t{3}, 2}});
  check_stopped(during, reference.study);
  REQUIRE(during.study.trials().size() == 4);
  CHECK(during.study.trial(3).status == hpt::TrialStatus::interrupted);
  CHECK(during.study.trial(3).resource == 2);
  CHECK(during.study.count(hpt::TrialStatus::completed) == 3);
}

TEST_CASE("a study asked to stop before it starts runs nothing, on 1 and on 4 workers",
          "[engine][parallel][stop]") {
  for (const std::size_t workers : {std::size_t{1}, std::size_t{4}}) {
    INFO(workers << " workers");
    Usage::reset();
    const hpt::Study study = in_time([workers] {
      std::stop_source source;
      source.request_stop();
      return hpt::tune<Steady>(hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)},
                               hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{},
                               {.workers = workers, .stop = source.get_token()});
    });
    CHECK(study.interrupted());
    CHECK(study.trials().empty());
    CHECK(Usage::made == 0);
  }
}

// ---- Threads: the factory, observers, study rules, trainables. ----

namespace {
/// Counts the callers inside the factory (or reset()) at once; each call lingers 300 us.
struct Crowd {
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> calls{0};
  void enter() {
    const int now = ++inside;
    ++calls;
    int seen = most.load();
    while (seen < now && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(300us);
    --inside;
  }
};

/// Reusable through reset(), which also goes through the crowd.
struct Reusable {
  Reusable(const hpt::Config& config, Crowd* crowd) : x(config.get<double>("x")), crowd_(crowd) {}
  bool reset(const hpt::Config& config) {
    crowd_->enter();
    x = config.get<double>("x");
    steps = 0;
    ++resets;
    return true;
  }
  double step() { return x + 1.0 / static_cast<double>(++steps); }
  double x;
  std::int64_t steps = 0;
  Crowd* crowd_;
  static inline std::atomic<int> resets{0};
};
}  // namespace

TEST_CASE("serialize_factory: the factory is never entered by two workers at once",
          "[engine][parallel][threads]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  auto run = [&](bool serialize) {
    auto crowd = std::make_shared<Crowd>();
    const hpt::Study study = in_time([space, crowd, serialize] {
      return hpt::tune(space,
                       [crowd](const hpt::Config& config) {
                         crowd->enter();
                         return Steady(config);
                       },
                       hpt::RandomSearch{.trials = 48, .max_resource = 2}, hpt::NoStopping{},
                       {.workers = 8, .serialize_factory = serialize});
    });
    CHECK(study.count(hpt::TrialStatus::completed) == 48);
    CHECK(crowd->calls == 48);
    return crowd->most.load();
  };
  CHECK(run(true) == 1);
  CHECK(run(false) > 1);  // the detector works: without the setting, workers do overlap
  // reset() counts as the factory.
  Reusable::resets = 0;
  auto crowd = std::make_shared<Crowd>();
  const hpt::Study study = in_time([space, crowd] {
    return hpt::tune(space,
                     [crowd](const hpt::Config& config) {
                       crowd->enter();
                       return Reusable(config, crowd.get());
                     },
                     hpt::RandomSearch{.trials = 64, .max_resource = 2}, hpt::NoStopping{},
                     {.workers = 8, .serialize_factory = true});
  });
  CHECK(study.count(hpt::TrialStatus::completed) == 64);
  CHECK(Reusable::resets > 0);
  CHECK(crowd->calls == 64);
  CHECK(crowd->most == 1);
}

namespace {
/// Records the threads that step it (guarded: two at once count an overlap).
struct Traced {
  explicit Traced(const hpt::Config& config) : x(config.get<double>("x")) {}
  hpt::Metrics step() {
    const Busy busy(busy_);
    {
      const std::lock_guard lock(mutex);
      step_threads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50 * (steps % 3)));
    ++steps;
    return {.objective = x + 1.0 / static_cast<double>(steps)};
  }
  bool reset(const hpt::Config& config) {
    const Busy busy(busy_);
    x = config.get<double>("x");
    steps = 0;
    return true;
  }
  void save(std::ostream& out) const {
    const Busy busy(busy_);
    out << steps;
  }
  void restore(std::istream& in) {
    const Busy busy(busy_);
    in >> steps;
  }
  double x;
  std::int64_t steps = 0;
  mutable std::atomic<bool> busy_{false};
  static inline std::mutex mutex;
  static inline std::set<std::thread::id> step_threads;
};
}  // namespace

TEST_CASE("observers run on the thread that called tune(); trainables on one worker at a time",
          "[engine][parallel][threads]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  for (const bool checkpoint : {false, true}) {
    INFO("checkpoint_paused = " << checkpoint);
    Usage::reset();
    {
      const std::lock_guard lock(Traced::mutex);
      Traced::step_threads.clear();
    }
    struct Result {
      Observed observed;
      std::thread::id tune_thread;
    };
    const Result result = in_time([space, checkpoint] {
      Result r;
      r.tune_thread = std::this_thread::get_id();
      r.observed.ledger.thread = r.tune_thread;
      r.observed.study = hpt::tune<Traced>(
          space, hpt::Hyperband{.max_resource = 27}, hpt::Patience{.patience = 3},
          {.seed = 4, .checkpoint_paused = checkpoint, .workers = 8}, r.observed.ledger);
      return r;
    });
    check_accounted(result.observed.study, result.observed.ledger);
    CHECK(result.observed.ledger.steps > 100);
    CHECK(Usage::overlaps == 0);
    const std::lock_guard lock(Traced::mutex);
    CHECK(Traced::step_threads.size() > 1);  // the steps ran on the pool's threads ...
    CHECK(Traced::step_threads.count(result.tune_thread) == 0);  // ... not on tune()'s
  }
}

TEST_CASE("MedianStopping on 8 workers: every trial is accounted for, and the rule prunes",
          "[engine][parallel][median]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  auto check = [&](const auto& strategy, const char* name) {
    INFO(name);
    const Observed result = in_time([space, strategy] {
      Observed r;
      r.ledger.thread = std::this_thread::get_id();
      r.study = hpt::tune<Traced>(space, strategy,
                                  hpt::MedianStopping{.startup_trials = 3} | hpt::Divergence{},
                                  {.seed = 5, .workers = 8}, r.ledger);
      return r;
    });
    check_accounted(result.study, result.ledger);
    if (const auto planned = strategy.schedule(space).trials())
      CHECK(result.study.trials().size() == *planned);
    std::size_t by_median = 0;
    for (const auto& t : result.study.trials()) {
      if (t.stopped_by == "MedianStopping") {
        ++by_median;
        CHECK(t.status == hpt::TrialStatus::pruned);
      }
    }
    CHECK(by_median > 0);
  };
  Usage::reset();
  check(hpt::RandomSearch{.trials = 60, .max_resource = 10}, "RandomSearch");
  check(hpt::Hyperband{.max_resource = 27}, "Hyperband");
  check(hpt::Asha{.trials = 80, .max_resource = 27}, "Asha");
  CHECK(Usage::overlaps == 0);
}

TEST_CASE("workers = 0 and workers = 5000 are refused, naming the setting, before any trial",
          "[engine][parallel][settings]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  for (const std::size_t workers : {std::size_t{0}, std::size_t{5000}}) {
    INFO("workers = " << workers);
    Usage::reset();
    const hpt::StudyOptions options{.workers = workers};
    REQUIRE_THROWS_AS(
        hpt::tune<Steady>(space, hpt::RandomSearch{.trials = 3}, hpt::NoStopping{}, options),
        std::invalid_argument);
    const std::string message = test_support::message_of([&] {
      (void)hpt::tune<Steady>(space, hpt::RandomSearch{.trials = 3}, hpt::NoStopping{}, options);
    });
    CHECK_THAT(message, Catch::Contains("workers = " + std::to_string(workers)));
    CHECK_THAT(message, Catch::Contains("4096"));
    CHECK(Usage::made == 0);
  }
  const std::string message = test_support::message_of([&] {
    (void)hpt::tune<Steady>(space, hpt::RandomSearch{.trials = 3}, hpt::NoStopping{},
                            {.workers = 2, .threads_per_worker = 0});
  });
  CHECK_THAT(message, Catch::Contains("threads_per_worker = 0"));
  CHECK(Usage::made == 0);
  // The bounds themselves are accepted.
  CHECK(hpt::tune<Steady>(space, hpt::RandomSearch{.trials = 3}, hpt::NoStopping{}, {.workers = 1})
            .trials()
            .size() == 3);
}
