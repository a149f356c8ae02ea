// Several sessions on one stored study are one study. Each session is a tune() call on its own
// connection (MemoryStorage::connect, as a second process opening the same file would have), in
// its own thread; they hand out the study's jobs between them through the log. Whatever the
// sessions do, the study each returns must be the study one session alone returns, in every field
// (study_difference), and the log they leave must say that every job ran once: no job handed out
// twice, every job cut short (a killed session's, a stopped session's) run again exactly once and
// by another session, one end per job, one StudyFinished.
//
// The trainable is deterministic (its objective at step t depends on its configuration and t
// only) and Checkpointable, so a trial continued in another session gives the same numbers. Some
// configurations throw, return NaN or finish early. Steps sleep a little so that sessions
// interleave; hooks called at each step (per session) hold a session mid-job or stop it. Every
// wait is bounded: a deadlock fails its test instead of hanging the program.
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
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "parallel_support.hpp"
#include "study_difference.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using test_support::key_of;
using test_support::mix;
using test_support::unit;

/// How long every session of a test may take together before the test calls it a deadlock.
Clock::time_point deadline() {
  return Clock::now() + test_support::study_deadline(std::chrono::seconds(30));
}

// ---- Trainables. ----

/// Constructions of every trainable of this file, to tell whether a session ran anything.
std::atomic<int> constructions{0};
/// How long each step sleeps, in microseconds (0 for the single runs the sessions are compared to).
std::atomic<int> step_micros{0};

/// A deterministic learner with save() and restore(): its objective at step t is a function of
/// its configuration and t. One configuration in 16 throws at some step, one returns NaN, one
/// finishes early.
class Learner {
 public:
  explicit Learner(const hpt::Config& config) : key_(key_of(config)), x_(config.get<double>("x")) {
    ++constructions;
  }
  hpt::Metrics step() {
    if (const int micros = step_micros.load(); micros > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(micros));
    ++steps_;
    const auto at = static_cast<std::int64_t>(1 + (key_ >> 24) % 6);
    const double noise = unit(mix(key_ ^ static_cast<std::uint64_t>(steps_))) - 0.5;
    hpt::Metrics metrics{0.2 + x_ + 0.6 / static_cast<double>(steps_) + 0.05 * noise,
                         {{"noise", noise}}};
    if (key_ % 16 == 0 && steps_ == at) throw std::runtime_error("bad batch");
    if (key_ % 16 == 1 && steps_ == at) metrics.objective = std::nan("");
    if (key_ % 16 == 2 && steps_ == at) metrics.done = true;
    return metrics;
  }
  void save(std::ostream& out) const { out << steps_; }
  void restore(std::istream& in) {
    if (!(in >> steps_)) throw std::runtime_error("bad checkpoint");
  }

 protected:
  std::uint64_t key_;
  double x_;
  std::int64_t steps_ = 0;
};

/// What the trainables of session role 1 and 2 do before each step (called with the trial's step
/// about to run), besides learning. Set by a test before it starts its sessions.
std::function<void(std::int64_t)> hooks[3];

/// The same learner, with its session's hook called before each step.
template <int Role>
class Hooked : public Learner {
 public:
  using Learner::Learner;
  hpt::Metrics step() {
    if (hooks[Role]) hooks[Role](steps_ + 1);
    return Learner::step();
  }
};

void clear_hooks() {
  for (auto& hook : hooks) hook = nullptr;
}

hpt::SearchSpace space() {
  return hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)};
}

hpt::SearchSpace grid_space() {
  return hpt::SearchSpace{hpt::uniform("x", 0.1, 0.9).grid(12)};
}

// ---- Signals and sessions across threads, every wait bounded. ----

/// A one-way signal.
class Flag {
 public:
  void set() {
    {
      const std::lock_guard lock(mutex_);
      set_ = true;
    }
    changed_.notify_all();
  }
  [[nodiscard]] bool wait_for(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return set_; });
  }
  [[nodiscard]] bool wait_until(Clock::time_point until) {
    std::unique_lock lock(mutex_);
    return changed_.wait_until(lock, until, [&] { return set_; });
  }
  [[nodiscard]] bool is_set() {
    const std::lock_guard lock(mutex_);
    return set_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool set_ = false;
};

/// A tune() call on a thread of its own. A session that hangs is left behind (its thread
/// detached): the body owns everything it touches. No Catch2 macro runs on that thread.
class Session {
 public:
  template <class F>
  explicit Session(F body) : state_(std::make_shared<State>()) {
    std::thread([state = state_, body = std::move(body)]() mutable {
      std::optional<hpt::Study> study;
      std::exception_ptr error;
      try {
        study.emplace(body());
      } catch (...) {
        error = std::current_exception();
      }
      {
        const std::lock_guard lock(state->mutex);
        state->study = std::move(study);
        state->error = error;
        state->done = true;
      }
      state->ended.notify_all();
    }).detach();
  }

  /// True once the session has ended (returned or thrown), false at `until`.
  [[nodiscard]] bool wait_until(Clock::time_point until) const {
    std::unique_lock lock(state_->mutex);
    return state_->ended.wait_until(lock, until, [&] { return state_->done; });
  }

  /// The study it returned; none while it runs or when it threw.
  [[nodiscard]] const hpt::Study* study() const {
    const std::lock_guard lock(state_->mutex);
    return state_->done && state_->study ? &*state_->study : nullptr;
  }

  /// What it threw, as "StorageError: what()" (or "exception: ..."), or "(no exception)".
  [[nodiscard]] std::string error() const {
    std::exception_ptr error;
    {
      const std::lock_guard lock(state_->mutex);
      if (!state_->done) return "(still running)";
      error = state_->error;
    }
    if (!error) return "(no exception)";
    try {
      std::rethrow_exception(error);
    } catch (const hpt::StorageError& thrown) {
      return std::string("StorageError: ") + thrown.what();
    } catch (const std::exception& thrown) {
      return std::string("exception: ") + thrown.what();
    } catch (...) {
      return "a non-standard exception";
    }
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable ended;
    bool done = false;
    std::optional<hpt::Study> study{};
    std::exception_ptr error{};
  };
  std::shared_ptr<State> state_;
};

// ---- What a study's log says. ----

std::string describe(const hpt::Job& job) {
  return "trial " + std::to_string(job.trial) + " (bracket " + std::to_string(job.bracket) +
         ", rung " + std::to_string(job.rung) + ") to " + std::to_string(job.resource);
}

bool same_job(const hpt::Job& a, const hpt::Job& b) {
  return a.trial == b.trial && a.resource == b.resource && a.bracket == b.bracket &&
         a.rung == b.rung && a.last_rung == b.last_rung;
}

/// A log read as the jobs it ran.
struct Log {
  std::map<std::uint64_t, int> jobs_of;  ///< JobStarted by session, restarts included.
  /// By trial, each job end that counts (not cut short): "trial t (bracket b, rung r) to R:
  /// status".
  std::map<std::size_t, std::vector<std::string>> ends;
  std::vector<hpt::JobAbandoned> abandoned;
  std::vector<hpt::JobStarted> restarts;
  struct Cut {
    std::size_t trial;
    std::uint64_t session;  ///< The session that ran the job.
    bool started;
  };
  std::vector<Cut> cut_short;  ///< Job ends that keep the checkpoint (interrupted, unstarted).
  int finished = 0;            ///< StudyFinished events.
  bool finished_last = false;  ///< The log ends with StudyFinished.
  std::map<std::size_t, std::uint64_t> running;  ///< Jobs open at the log's end, with the session.
  std::vector<std::string> problems;             ///< What no correct log holds.
  std::size_t size = 0;
};

std::string lines(const std::vector<std::string>& all) {
  std::string out;
  for (const auto& line : all) out += line + "\n";
  return out;
}

/// Reads the log and notes everything inconsistent: a job handed out twice (a restart aside), a
/// job started while its trial's job runs, a restart of a job not cut short or of another job, a
/// new job of a trial whose cut job has not run again, an end, a step or an abandonment of a job
/// not running (or run by another session), a StudyFinished with jobs running or to run again.
Log read_log(const std::vector<hpt::StudyEvent>& events) {
  Log log;
  log.size = events.size();
  struct Open {
    hpt::Job job;
    std::uint64_t session;
  };
  std::map<std::size_t, Open> open;
  std::map<std::size_t, hpt::Job> to_restart;
  std::set<std::tuple<std::size_t, int, int, std::int64_t>> handed;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto problem = [&](const std::string& what) {
      log.problems.push_back("event " + std::to_string(i) + " (" +
                             std::string(hpt::event_kind(events[i])) + "): " + what);
    };
    const hpt::StudyEvent& event = events[i];
    if (const auto* started = std::get_if<hpt::JobStarted>(&event)) {
      const hpt::Job& job = started->job;
      ++log.jobs_of[started->session];
      if (started->session == 0) problem("a job of session 0");
      if (open.count(job.trial)) problem(describe(job) + " starts while its trial's job runs");
      if (started->restart) {
        log.restarts.push_back(*started);
        const auto found = to_restart.find(job.trial);
        if (found == to_restart.end()) {
          problem("restarts " + describe(job) + ", which was not cut short");
        } else {
          if (!same_job(found->second, job))
            problem("restarts " + describe(job) + " where " + describe(found->second) +
                    " was cut short");
          to_restart.erase(found);
        }
      } else {
        if (to_restart.count(job.trial))
          problem("starts " + describe(job) + " anew where its job cut short should run again");
        if (!handed.insert({job.trial, job.bracket, job.rung, job.resource}).second)
          problem(describe(job) + " handed out twice");
      }
      open[job.trial] = {job, started->session};
    } else if (const auto* step = std::get_if<hpt::StepRecorded>(&event)) {
      if (!open.count(step->trial))
        problem("a step of trial " + std::to_string(step->trial) + ", which is not running");
    } else if (const auto* ended = std::get_if<hpt::JobEnded>(&event)) {
      const auto found = open.find(ended->trial);
      if (found == open.end()) {
        problem("the end of trial " + std::to_string(ended->trial) + ", which is not running");
        continue;
      }
      if (hpt::keeps_checkpoint(*ended)) {
        log.cut_short.push_back({ended->trial, found->second.session, ended->started});
        to_restart[ended->trial] = found->second.job;
      } else {
        log.ends[ended->trial].push_back(describe(found->second.job) + ": " +
                                         std::string(hpt::to_string(ended->status)));
      }
      open.erase(found);
    } else if (const auto* abandoned = std::get_if<hpt::JobAbandoned>(&event)) {
      log.abandoned.push_back(*abandoned);
      const auto found = open.find(abandoned->trial);
      if (found == open.end()) {
        problem("abandons trial " + std::to_string(abandoned->trial) + ", which is not running");
        continue;
      }
      if (found->second.session != abandoned->session)
        problem("abandons for session " + std::to_string(abandoned->session) + " the job of " +
                "session " + std::to_string(found->second.session));
      to_restart[abandoned->trial] = found->second.job;
      open.erase(found);
    } else if (std::holds_alternative<hpt::StudyFinished>(event)) {
      ++log.finished;
      if (!open.empty() || !to_restart.empty())
        problem("the study finished with jobs running or waiting to run again");
    }
  }
  log.finished_last = !events.empty() && std::holds_alternative<hpt::StudyFinished>(events.back());
  for (const auto& [trial, job] : open) log.running[trial] = job.session;
  return log;
}

/// The single run the sessions are compared to: one session, one worker, no sleeping.
struct Single {
  hpt::Study study;
  Log log;
};

template <class Strategy, class Policy>
Single run_alone(const hpt::SearchSpace& searched, const Strategy& strategy, const Policy& policy,
                 hpt::StudyOptions options) {
  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  options.storage = storage;
  options.workers = 1;
  const int micros = step_micros.exchange(0);
  hpt::Study study = hpt::tune<Learner>(searched, strategy, policy, options);
  step_micros = micros;
  Log log = read_log(storage->events(options.name));
  return {std::move(study), std::move(log)};
}

/// The checks every finished shared study passes: the log is consistent, finished once (last),
/// nothing runs, and every job ended as it did in the single run (one counted end per job).
void check_log(const Log& log, const Log& expected) {
  INFO("problems in the log:\n" << lines(log.problems));
  CHECK(log.problems.empty());
  CHECK(log.finished == 1);
  CHECK(log.finished_last);
  CHECK(log.running.empty());
  CHECK(log.ends == expected.ends);
}

std::string sessions_text(const Log& log) {
  std::ostringstream out;
  for (const auto& [session, jobs] : log.jobs_of)
    out << "session " << session << ": " << jobs << " jobs; ";
  return out.str();
}

// ---- 1. Several sessions equal one. ----

template <class Strategy, class Policy = hpt::NoStopping>
void check_sessions_equal_one(const hpt::SearchSpace& searched, const Strategy& strategy,
                              hpt::StudyOptions options, std::size_t workers,
                              const Policy& policy = {}) {
  clear_hooks();
  options.name = "shared";
  const Single single = run_alone(searched, strategy, policy, options);
  REQUIRE_FALSE(single.study.interrupted());
  REQUIRE(single.log.problems.empty());

  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  step_micros = 200;
  constexpr int count = 3;
  auto go = std::make_shared<std::latch>(count);
  std::vector<Session> sessions;
  for (int i = 0; i < count; ++i) {
    hpt::StudyOptions mine = options;
    mine.storage = storage->connect();
    mine.workers = workers;
    sessions.emplace_back([go, searched, strategy, policy, mine] {
      go->arrive_and_wait();  // all start together
      return hpt::tune<Learner>(searched, strategy, policy, mine);
    });
  }
  const auto until = deadline();
  for (const Session& session : sessions) REQUIRE(session.wait_until(until));
  step_micros = 0;

  for (int i = 0; i < count; ++i) {
    INFO("session " << i << " of " << count << ", " << workers << " workers each");
    REQUIRE(sessions[i].error() == "(no exception)");
    REQUIRE(sessions[i].study() != nullptr);
    CHECK_FALSE(sessions[i].study()->interrupted());
    CHECK(test_support::study_difference(single.study, *sessions[i].study()) == "");
  }
  const Log log = read_log(storage->events("shared"));
  INFO(sessions_text(log));
  check_log(log, single.log);
  CHECK(log.restarts.empty());
  CHECK(log.abandoned.empty());
  CHECK(log.cut_short.empty());
  CHECK(log.jobs_of.size() > 1);  // the sessions shared the work
}

}  // namespace

TEST_CASE("several sessions on one study give the study one session gives", "[shared]") {
  const hpt::NoStopping none;
  for (const std::size_t workers : {std::size_t{1}, std::size_t{2}}) {
    DYNAMIC_SECTION("grid search, " << workers << " workers per session") {
      check_sessions_equal_one(grid_space(), hpt::GridSearch{.max_resource = 4}, {.seed = 1},
                               workers);
    }
    DYNAMIC_SECTION("random search, " << workers << " workers per session") {
      check_sessions_equal_one(space(), hpt::RandomSearch{.trials = 12, .max_resource = 6},
                               {.seed = 2}, workers);
    }
    DYNAMIC_SECTION("successive halving, " << workers << " workers per session") {
      check_sessions_equal_one(
          space(),
          hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
          {.seed = 3}, workers);
    }
    DYNAMIC_SECTION("Hyperband, " << workers << " workers per session") {
      check_sessions_equal_one(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 4}, workers);
    }
    DYNAMIC_SECTION("Hyperband with Patience, objects freed when paused, "
                    << workers << " workers per session") {
      check_sessions_equal_one(space(), hpt::Hyperband{.max_resource = 9},
                               {.seed = 5, .checkpoint_paused = true}, workers,
                               hpt::Patience{.patience = 2});
    }
  }
  (void)none;
}

// ---- 2. A killed session's jobs run again, exactly once. ----

namespace {

/// Session A (workers `a_workers`) holds its `block_at`-th step until released; while it is held,
/// the test ends A's session as a kill -9 would, and session B joins: B must abandon A's jobs,
/// run them again and finish the study, which must be the single run's; A, released, must find
/// its job lost and throw.
template <class Strategy>
void check_killed_session(const hpt::SearchSpace& searched, const Strategy& strategy,
                          hpt::StudyOptions options, std::size_t a_workers, std::size_t b_workers,
                          int block_at) {
  clear_hooks();
  options.name = "killed";
  const hpt::NoStopping none;
  const Single single = run_alone(searched, strategy, none, options);
  REQUIRE(single.log.problems.empty());

  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  step_micros = 100;
  auto held = std::make_shared<Flag>();
  auto release = std::make_shared<Flag>();
  auto a_steps = std::make_shared<std::atomic<int>>(0);
  hooks[1] = [held, release, a_steps, block_at](std::int64_t) {
    if (++*a_steps != block_at) return;
    held->set();
    (void)release->wait_for(std::chrono::seconds(60));  // bounded, should the test fail first
  };
  // Released on every way out of this function, so that A never waits for long.
  struct Release {
    std::shared_ptr<Flag> flag;
    ~Release() { flag->set(); }
  } release_at_exit{release};

  const auto a_connection = storage->connect();
  hpt::StudyOptions a_options = options;
  a_options.storage = a_connection;
  a_options.workers = a_workers;
  const Session a([searched, strategy, a_options] {
    return hpt::tune<Hooked<1>>(searched, strategy, hpt::NoStopping{}, a_options);
  });
  const auto until = deadline();
  REQUIRE(held->wait_until(until));

  // A is mid-job: its job runs in the log.
  const Log before = read_log(storage->events("killed"));
  INFO("when A was held: " << sessions_text(before) << before.size << " events");
  REQUIRE(before.problems.empty());
  REQUIRE_FALSE(before.running.empty());
  const std::uint64_t a_session = a_connection->session();  // A opened before its first step
  REQUIRE(a_session != 0);
  for (const auto& [trial, session] : before.running) CHECK(session == a_session);
  if (a_workers == 1) REQUIRE(before.running.size() == 1);
  const std::size_t held_trial = before.running.begin()->first;  // exact on one worker

  storage->end_session(a_session);  // killed: its jobs stay open in the log
  hpt::StudyOptions b_options = options;
  b_options.storage = storage->connect();
  b_options.workers = b_workers;
  const Session b([searched, strategy, b_options] {
    return hpt::tune<Learner>(searched, strategy, hpt::NoStopping{}, b_options);
  });
  REQUIRE(b.wait_until(until));
  release->set();
  REQUIRE(a.wait_until(until));
  step_micros = 0;

  INFO("A's session " << a_session);
  CHECK(b.error() == "(no exception)");
  REQUIRE(b.study() != nullptr);
  CHECK_FALSE(b.study()->interrupted());
  CHECK(test_support::study_difference(single.study, *b.study()) == "");

  // A finds its job lost when it comes back.
  CHECK(a.study() == nullptr);
  const std::string a_error = a.error();
  CHECK_THAT(a_error,
             Catch::StartsWith("StorageError: ") && Catch::Contains("lost its job of trial"));
  if (a_workers == 1)
    CHECK_THAT(a_error,
               Catch::Contains("lost its job of trial " + std::to_string(held_trial) + " "));

  const Log log = read_log(storage->events("killed"));
  INFO(sessions_text(log));
  check_log(log, single.log);
  REQUIRE_FALSE(log.abandoned.empty());
  bool held_abandoned = false;
  std::set<std::size_t> abandoned_trials;
  for (const auto& abandoned : log.abandoned) {
    CHECK(abandoned.session == a_session);
    CHECK_FALSE(abandoned.reason.empty());
    CHECK(abandoned_trials.insert(abandoned.trial).second);  // each abandoned once
    if (before.running.count(abandoned.trial)) held_abandoned = true;
  }
  CHECK(held_abandoned);
  if (a_workers == 1) CHECK(abandoned_trials.count(held_trial) == 1);
  // Every abandoned job ran again once (read_log checks that each runs again before the end), in
  // B's session, and only abandoned jobs did.
  CHECK(log.restarts.size() == log.abandoned.size() + log.cut_short.size());
  for (const auto& restart : log.restarts) {
    CHECK(restart.session != a_session);
    CHECK(restart.session != 0);
  }
  CHECK(log.jobs_of.size() == 2);
}

}  // namespace

TEST_CASE("a killed session's jobs run again in another session, exactly once", "[shared]") {
  SECTION("random search, killed mid-job") {
    check_killed_session(space(), hpt::RandomSearch{.trials = 10, .max_resource = 6}, {.seed = 11},
                         1, 1, 9);
  }
  SECTION("successive halving, killed in rung 1") {
    check_killed_session(
        space(), hpt::SuccessiveHalving{.configurations = 9, .min_resource = 1, .max_resource = 9},
        {.seed = 12}, 1, 1, 11);
  }
  SECTION("Hyperband, killed on 2 workers, continued on 2") {
    check_killed_session(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 13}, 2, 2, 14);
  }
  SECTION("Hyperband, killed at its first step") {
    check_killed_session(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 14}, 1, 2, 1);
  }
  // A session that learns its job was abandoned throws while it holds the transaction: the
  // others must not wait for its workers to drain.
  SECTION("random search, killed on 2 workers, continued on 1") {
    check_killed_session(space(), hpt::RandomSearch{.trials = 10, .max_resource = 6}, {.seed = 15},
                         2, 1, 9);
  }
  SECTION("successive halving, killed on 2 workers, continued on 2") {
    check_killed_session(
        space(), hpt::SuccessiveHalving{.configurations = 9, .min_resource = 1, .max_resource = 9},
        {.seed = 16}, 2, 2, 11);
  }
}

// ---- 3. Joining a finished study, and joining mid-way. ----

TEST_CASE("a session that joins a finished study runs nothing", "[shared]") {
  clear_hooks();
  step_micros = 0;
  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  const hpt::Hyperband strategy{.max_resource = 9};
  const hpt::StudyOptions options{.seed = 21, .name = "done", .storage = storage->connect()};
  const hpt::Study whole = hpt::tune<Learner>(space(), strategy, hpt::NoStopping{}, options);
  REQUIRE_FALSE(whole.interrupted());
  const auto events = storage->events("done");
  const std::size_t transactions = storage->transactions("done");
  const int made = constructions.load();
  for (const std::size_t workers : {std::size_t{1}, std::size_t{3}})
    for (const hpt::OpenMode mode : {hpt::OpenMode::create_or_resume, hpt::OpenMode::resume}) {
      INFO(workers << " workers, open mode " << static_cast<int>(mode));
      hpt::StudyOptions joined = options;
      joined.storage = storage->connect();
      joined.workers = workers;
      joined.open = mode;
      const hpt::Study again = test_support::in_time(
          [joined, strategy] {
            return hpt::tune<Learner>(space(), strategy, hpt::NoStopping{}, joined);
          },
          test_support::study_deadline(std::chrono::seconds(30)));
      CHECK(constructions.load() == made);
      CHECK(storage->transactions("done") == transactions);
      CHECK(storage->events("done").size() == events.size());
      CHECK_FALSE(again.interrupted());
      CHECK(test_support::study_difference(whole, again) == "");
    }
}

namespace {

/// Session A runs alone until its `join_at`-th step, which waits (bounded) until session B,
/// started then, has run a step of its own; both finish the study, each returns the single run.
template <class Strategy>
void check_joining_mid_way(const hpt::SearchSpace& searched, const Strategy& strategy,
                           hpt::StudyOptions options, std::size_t a_workers, std::size_t b_workers,
                           int join_at) {
  clear_hooks();
  options.name = "joined";
  const hpt::NoStopping none;
  const Single single = run_alone(searched, strategy, none, options);
  REQUIRE(single.log.problems.empty());

  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  step_micros = 200;
  auto a_waits = std::make_shared<Flag>();
  auto b_stepped = std::make_shared<Flag>();
  auto b_late = std::make_shared<std::atomic<bool>>(false);
  auto a_steps = std::make_shared<std::atomic<int>>(0);
  hooks[1] = [a_waits, b_stepped, b_late, a_steps, join_at](std::int64_t) {
    if (++*a_steps != join_at) return;
    a_waits->set();
    if (!b_stepped->wait_for(std::chrono::seconds(5))) *b_late = true;
  };
  hooks[2] = [b_stepped](std::int64_t) { b_stepped->set(); };

  hpt::StudyOptions a_options = options;
  a_options.storage = storage->connect();
  a_options.workers = a_workers;
  const Session a([searched, strategy, a_options] {
    return hpt::tune<Hooked<1>>(searched, strategy, hpt::NoStopping{}, a_options);
  });
  const auto until = deadline();
  REQUIRE(a_waits->wait_until(until));
  const Log before = read_log(storage->events("joined"));
  REQUIRE(before.jobs_of.size() == 1);  // A alone so far
  const std::uint64_t a_session = before.jobs_of.begin()->first;

  hpt::StudyOptions b_options = options;
  b_options.storage = storage->connect();
  b_options.workers = b_workers;
  const Session b([searched, strategy, b_options] {
    return hpt::tune<Hooked<2>>(searched, strategy, hpt::NoStopping{}, b_options);
  });
  REQUIRE(a.wait_until(until));
  REQUIRE(b.wait_until(until));
  step_micros = 0;

  CHECK_FALSE(*b_late);  // B ran a step while A waited for it
  for (const Session* session : {&a, &b}) {
    INFO((session == &a ? "session A" : "session B"));
    CHECK(session->error() == "(no exception)");
    REQUIRE(session->study() != nullptr);
    CHECK_FALSE(session->study()->interrupted());
    CHECK(test_support::study_difference(single.study, *session->study()) == "");
  }
  const Log log = read_log(storage->events("joined"));
  INFO(sessions_text(log));
  check_log(log, single.log);
  CHECK(log.restarts.empty());
  CHECK(log.abandoned.empty());
  REQUIRE(log.jobs_of.size() == 2);
  CHECK(log.jobs_of.at(a_session) >= before.jobs_of.at(a_session));
  for (const auto& [session, jobs] : log.jobs_of) CHECK(jobs > 0);
}

}  // namespace

TEST_CASE("a session that joins a running study shares its work", "[shared]") {
  SECTION("successive halving, one worker each") {
    check_joining_mid_way(
        space(), hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        {.seed = 31}, 1, 1, 10);
  }
  SECTION("random search, 2 workers, joined by 1") {
    check_joining_mid_way(space(), hpt::RandomSearch{.trials = 12, .max_resource = 6}, {.seed = 32},
                          2, 1, 8);
  }
  SECTION("Hyperband, 1 worker, joined by 2") {
    check_joining_mid_way(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 33}, 1, 2, 12);
  }
}

// ---- 4. A stopped session's jobs are finished by the other. ----

namespace {

/// Sessions A and B start together; A's first step 2 of a trial (always mid-job here: no rung
/// ends at 2) waits (bounded) until B has run a step, then asks A to stop. A returns an
/// interrupted study; B finishes the study, running again the jobs A cut short, and returns the
/// single run.
template <class Strategy>
void check_stopped_session(const hpt::SearchSpace& searched, const Strategy& strategy,
                           hpt::StudyOptions options, std::size_t a_workers,
                           std::size_t b_workers) {
  clear_hooks();
  options.name = "stopped";
  const hpt::NoStopping none;
  const Single single = run_alone(searched, strategy, none, options);
  REQUIRE(single.log.problems.empty());

  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  step_micros = 200;
  std::stop_source stop;
  auto b_stepped = std::make_shared<Flag>();
  auto b_late = std::make_shared<std::atomic<bool>>(false);
  auto asked = std::make_shared<std::atomic<bool>>(false);
  hooks[1] = [b_stepped, b_late, asked, stop](std::int64_t trial_step) mutable {
    if (trial_step != 2 || asked->exchange(true)) return;
    if (!b_stepped->wait_for(std::chrono::seconds(5))) *b_late = true;
    stop.request_stop();
  };
  hooks[2] = [b_stepped](std::int64_t) { b_stepped->set(); };

  auto go = std::make_shared<std::latch>(2);
  hpt::StudyOptions a_options = options;
  a_options.storage = storage->connect();
  a_options.workers = a_workers;
  a_options.stop = stop.get_token();
  const Session a([go, searched, strategy, a_options] {
    go->arrive_and_wait();
    return hpt::tune<Hooked<1>>(searched, strategy, hpt::NoStopping{}, a_options);
  });
  hpt::StudyOptions b_options = options;
  b_options.storage = storage->connect();
  b_options.workers = b_workers;
  const Session b([go, searched, strategy, b_options] {
    go->arrive_and_wait();
    return hpt::tune<Hooked<2>>(searched, strategy, hpt::NoStopping{}, b_options);
  });
  const auto until = deadline();
  REQUIRE(a.wait_until(until));
  REQUIRE(b.wait_until(until));
  step_micros = 0;

  CHECK(asked->load());
  CHECK_FALSE(*b_late);
  CHECK(a.error() == "(no exception)");
  REQUIRE(a.study() != nullptr);
  CHECK(a.study()->interrupted());
  // What A saw end for good ended so in the single run.
  for (const hpt::Trial& trial : a.study()->trials()) {
    if (!trial.finished()) continue;
    INFO("A's trial " << trial.id);
    REQUIRE(trial.id < single.study.trials().size());
    const hpt::Trial& alone = single.study.trial(trial.id);
    CHECK(trial.config == alone.config);
    CHECK(trial.status == alone.status);
    CHECK(trial.curve.size() == alone.curve.size());
  }
  CHECK(b.error() == "(no exception)");
  REQUIRE(b.study() != nullptr);
  CHECK_FALSE(b.study()->interrupted());
  CHECK(test_support::study_difference(single.study, *b.study()) == "");

  const Log log = read_log(storage->events("stopped"));
  INFO(sessions_text(log));
  check_log(log, single.log);
  CHECK(log.abandoned.empty());
  REQUIRE_FALSE(log.cut_short.empty());
  const std::uint64_t a_session = log.cut_short.front().session;
  bool interrupted_mid_job = false;
  for (const auto& cut : log.cut_short) {
    CHECK(cut.session == a_session);  // only A was stopped
    if (cut.started) interrupted_mid_job = true;
  }
  CHECK(interrupted_mid_job);
  CHECK(log.restarts.size() == log.cut_short.size());  // each ran again once
  for (const auto& restart : log.restarts) CHECK(restart.session != a_session);
  CHECK(log.jobs_of.size() == 2);
}

}  // namespace

TEST_CASE("a session stopped mid-study leaves its jobs to the other, which finishes the study",
          "[shared]") {
  SECTION("random search, one worker each") {
    check_stopped_session(space(), hpt::RandomSearch{.trials = 12, .max_resource = 6}, {.seed = 41},
                          1, 1);
  }
  SECTION("Hyperband, one worker each") {
    check_stopped_session(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 42}, 1, 1);
  }
  SECTION("Hyperband, 2 workers each") {
    check_stopped_session(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 43}, 2, 2);
  }
  SECTION("successive halving, stopped on 2 workers, finished on 1") {
    check_stopped_session(
        space(), hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        {.seed = 44}, 2, 1);
  }
  SECTION("random search, stopped on 2 workers, finished on 2") {
    check_stopped_session(space(), hpt::RandomSearch{.trials = 12, .max_resource = 6}, {.seed = 45},
                          2, 2);
  }
}
