// Several processes, one study: four child processes run the same study into one SQLite file as
// four sessions of it, and one of them is killed with SIGKILL at a random moment (somewhere
// between the start and a little after the end). The three others must finish the study:
// the killed session's running job is abandoned (its lease, i.e. its process, is gone) and runs
// again elsewhere, no job is handed out twice, every job of the study ends exactly once, and
// for these order-independent strategies the study equals a single process's run. Random
// search, successive halving and Hyperband, on one and two workers per process, many seeds.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <hpt/hpt.hpp>
#include <hpt/study/sqlite_storage.hpp>
#include <istream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "parallel_support.hpp"
#include "scratch_directory.hpp"
#include "study_difference.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using test_support::key_of;
using test_support::mix;
using test_support::unit;

/// A deterministic learner of about 500 microseconds a step, Checkpointable.
class SharedLearner {
 public:
  explicit SharedLearner(const hpt::Config& config)
      : key_(key_of(config)), x_(config.get<double>("x")) {}
  hpt::Metrics step() {
    ++steps_;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    const double noise = unit(mix(key_ ^ static_cast<std::uint64_t>(steps_))) - 0.5;
    return {0.3 + x_ + 0.5 / static_cast<double>(steps_) + 0.05 * noise, {{"noise", noise}}};
  }
  void save(std::ostream& out) const { out << steps_; }
  void restore(std::istream& in) {
    if (!(in >> steps_)) throw std::runtime_error("bad checkpoint");
  }

 private:
  std::uint64_t key_;
  double x_;
  std::int64_t steps_ = 0;
};

using RunStudy = std::function<hpt::Study(const hpt::StudyOptions&)>;

/// Leases that lapse quickly, so that nothing waits long on a session that is gone (a dead
/// process on this machine is found gone at once anyway).
const hpt::SqliteOptions quick_leases{.heartbeat_interval = std::chrono::milliseconds(20),
                                      .lease_timeout = std::chrono::milliseconds(2000),
                                      .poll_interval = std::chrono::milliseconds(2)};

/// Starts `processes` children, each running `run` into `file` as one session; kills child
/// `victim` after `delay` (unless it ended first). Returns whether the kill landed; every other
/// child must exit with status 0 within two minutes.
bool run_sessions(const RunStudy& run, const hpt::StudyOptions& options,
                  const std::filesystem::path& file, int processes, int victim,
                  std::chrono::microseconds delay) {
  std::vector<pid_t> children;
  for (int i = 0; i < processes; ++i) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      int status = 0;
      try {
        hpt::StudyOptions with_file = options;
        with_file.storage = hpt::sqlite_storage(file, quick_leases);  // opened after the fork
        const hpt::Study study = run(with_file);
        if (study.interrupted()) status = 4;
      } catch (const std::exception& error) {
        std::fprintf(stderr, "session %d: %s\n", i, error.what());
        status = 3;
      } catch (...) {
        status = 3;
      }
      _exit(status);
    }
    children.push_back(child);
  }
  bool landed = false;
  const auto kill_at = Clock::now() + delay;
  const auto deadline = Clock::now() + std::chrono::minutes(2);
  std::vector<bool> ended(children.size(), false);
  for (;;) {
    bool all = true;
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (ended[i]) continue;
      int status = 0;
      const pid_t done = waitpid(children[i], &status, WNOHANG);
      REQUIRE(done >= 0);
      if (done == 0) {
        all = false;
        continue;
      }
      ended[i] = true;
      INFO("child " << i << " (the victim is " << victim << ")");
      if (static_cast<int>(i) == victim && WIFSIGNALED(status)) continue;
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
    if (all) break;
    if (victim >= 0 && !landed && !ended[static_cast<std::size_t>(victim)] &&
        Clock::now() >= kill_at) {
      kill(children[static_cast<std::size_t>(victim)], SIGKILL);
      landed = true;  // reaped (and checked) by the loop: a zombie's session is gone too
    }
    if (Clock::now() > deadline) {
      for (const pid_t child : children) kill(child, SIGKILL);
      for (const pid_t child : children) waitpid(child, nullptr, 0);
      FAIL("the sessions did not finish the study within two minutes");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return landed;
}

/// What the log says about jobs: each one handed out once and ended exactly once. Returns how
/// many sessions ran jobs.
std::size_t check_log(const std::vector<hpt::StudyEvent>& events, bool landed) {
  std::set<std::tuple<std::size_t, int, std::int64_t>> handed;  // (trial, rung, resource)
  std::map<std::size_t, int> open;                              // by trial: attempts running
  std::set<std::uint64_t> sessions;
  int finished = 0, abandoned = 0, restarts = 0;
  for (const auto& event : events) {
    if (const auto* started = std::get_if<hpt::JobStarted>(&event)) {
      sessions.insert(started->session);
      const auto job = std::tuple{started->job.trial, started->job.rung, started->job.resource};
      if (started->restart) {
        ++restarts;
        CHECK(handed.count(job) == 1);
      } else {
        INFO("trial " << started->job.trial << " rung " << started->job.rung);
        CHECK(handed.insert(job).second);  // never handed out twice
      }
      CHECK(open[started->job.trial]++ == 0);  // one attempt of a trial at a time
    } else if (const auto* ended = std::get_if<hpt::JobEnded>(&event)) {
      CHECK(ended->status != hpt::TrialStatus::interrupted);  // nobody was asked to stop
      CHECK(open[ended->trial]-- == 1);
    } else if (const auto* gone = std::get_if<hpt::JobAbandoned>(&event)) {
      ++abandoned;
      CHECK(open[gone->trial]-- == 1);
    } else if (std::holds_alternative<hpt::StudyFinished>(event)) {
      ++finished;
    }
  }
  CHECK(finished == 1);
  for (const auto& [trial, running] : open) CHECK(running == 0);
  CHECK(restarts == abandoned);  // every abandoned job ran again, once
  if (!landed) CHECK(abandoned == 0);
  return sessions.size();
}

void check_shared(const std::string& what, const RunStudy& run, std::size_t workers,
                  std::uint64_t seed, int points) {
  const hpt::Study whole = run({.seed = seed, .workers = workers});
  test_support::ScratchDirectory scratch("hpt_sessions_");
  const hpt::StudyOptions options{.seed = seed, .name = "shared", .workers = workers};
  const auto start = Clock::now();
  REQUIRE_FALSE(run_sessions(run, options, scratch.path / "timed.db", 4, -1, {}));
  const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  int landed = 0, abandoned = 0, shared_points = 0;
  for (int point = 0; point < points; ++point) {
    const std::uint64_t hash = mix(seed * 7919 + static_cast<std::uint64_t>(point));
    const auto delay = std::chrono::microseconds(
        static_cast<std::int64_t>(unit(hash) * 0.9 * static_cast<double>(duration.count())));
    const auto file = scratch.path / ("study" + std::to_string(point) + ".db");
    INFO(what << ", " << workers << " workers per process: kill point " << point << " after "
              << delay.count() << " us of a " << duration.count() << " us study");
    const bool kill_landed =
        run_sessions(run, options, file, 4, static_cast<int>((hash >> 40) % 4), delay);
    landed += kill_landed ? 1 : 0;
    auto storage = hpt::sqlite_storage(file);
    hpt::StudyOptions reopen = options;
    reopen.storage = storage;
    reopen.open = hpt::OpenMode::resume;
    const hpt::Study shared = run(reopen);  // finished: folds the log and runs nothing
    CHECK_FALSE(shared.interrupted());
    CHECK(test_support::study_difference(whole, shared) == "");
    const auto events = hpt::sqlite_storage(file)->open(
        hpt::detail::identity_of(shared, hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)}),
        hpt::OpenMode::resume);
    shared_points += check_log(events, kill_landed) >= 2 ? 1 : 0;
    for (const auto& event : events) abandoned += std::holds_alternative<hpt::JobAbandoned>(event);
  }
  // Most kills land while the study runs, some inside a job, and the processes share the work, or
  // the test would test little (loose bounds: a loaded machine stretches some runs and shortens
  // others; under a sanitizer process start-up is slow enough for the first process to do most
  // of a study, so there only the outcomes above are checked).
#ifndef HPT_TEST_SANITIZED
  CHECK(landed * 3 >= points);
  CHECK(abandoned * 10 >= points);
  CHECK(shared_points * 2 >= points);
#else
  (void)landed;
  (void)abandoned;
  (void)shared_points;
#endif
}

template <class Strategy>
RunStudy study_of(Strategy strategy) {
  return [strategy](const hpt::StudyOptions& options) {
    return hpt::tune<SharedLearner>(hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)}, strategy,
                                    hpt::NoStopping{}, options);
  };
}

}  // namespace

TEST_CASE("four processes share one study; one killed at a random moment loses nothing",
          "[sqlite][processes]") {
#ifdef HPT_TEST_SANITIZED
  const int points = 6;
#else
  const int points = 20;
#endif
  for (const std::size_t workers : {std::size_t{1}, std::size_t{2}}) {
    check_shared("random search", study_of(hpt::RandomSearch{.trials = 24, .max_resource = 6}),
                 workers, 31, points);
    check_shared("successive halving",
                 study_of(hpt::SuccessiveHalving{
                     .configurations = 27, .min_resource = 1, .max_resource = 9}),
                 workers, 32, points);
    check_shared("Hyperband", study_of(hpt::Hyperband{.max_resource = 9}), workers, 33, points);
  }
}
