// kill -9 loses nothing, and the resumed study is the uninterrupted one. A child process runs a
// study into an SQLite file and is killed with SIGKILL after a random delay (somewhere between
// its start and a little after its end); the test then resumes the study from the file and
// compares it, field by field, with the same study run without interruption. Grid search,
// random search, successive halving and Hyperband with a Checkpointable trainable, on one worker
// and on the thread pool; some kill points kill the resumed run too, before the last resume.
// Nothing finished is run again: the resumed run steps exactly what the file had not kept.
// 240 kill points in all, each bounded in time.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <hpt/hpt.hpp>
#include <hpt/study/sqlite_storage.hpp>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>

#include "parallel_support.hpp"
#include "scratch_directory.hpp"
#include "sqlite_support.hpp"
#include "study_difference.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using test_support::key_of;
using test_support::mix;
using test_support::unit;

/// Steps run by this process's learners: what a resume had to redo.
std::atomic<std::int64_t> steps_run{0};

/// A deterministic learner that takes about 150 microseconds a step, so that a study lasts long
/// enough for kills to land inside it; save() and restore() carry its step count.
class SlowLearner {
 public:
  explicit SlowLearner(const hpt::Config& config)
      : key_(key_of(config)), x_(config.get<double>("x")) {}
  hpt::Metrics step() {
    ++steps_;
    ++steps_run;
    std::this_thread::sleep_for(std::chrono::microseconds(150));
    const double noise = unit(mix(key_ ^ static_cast<std::uint64_t>(steps_))) - 0.5;
    return {0.2 + x_ + 0.6 / static_cast<double>(steps_) + 0.05 * noise, {{"noise", noise}}};
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

/// Runs `run` in a child process killed after `delay`; returns true when the kill landed while it
/// ran (false: it had finished).
bool run_and_kill(const RunStudy& run, const hpt::StudyOptions& options,
                  std::chrono::microseconds delay) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int status = 0;
    try {
      (void)run(options);
    } catch (...) {
      status = 3;
    }
    _exit(status);
  }
  int status = 0;
  const auto until = Clock::now() + delay;
  for (;;) {  // the child may end first: then there is nothing to kill
    const pid_t ended = waitpid(child, &status, WNOHANG);
    REQUIRE(ended >= 0);
    if (ended == child) {
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);  // it finished, and did not fail
      return false;
    }
    if (Clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  kill(child, SIGKILL);
  REQUIRE(waitpid(child, &status, 0) == child);
  if (WIFEXITED(status)) REQUIRE(WEXITSTATUS(status) == 0);
  return WIFSIGNALED(status);
}

/// Steps of finished jobs a file keeps (its `steps` view leaves out those of cut-short jobs), read
/// behind the storage's back; 0 when the study was never written.
std::int64_t committed_steps(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return 0;
  test_support::RawDatabase database(file);
  if (database.value("SELECT count(*) FROM sqlite_master WHERE name = 'steps'") == "0") return 0;
  return std::stoll(database.value("SELECT count(*) FROM steps WHERE study = 'killed'"));
}

std::int64_t steps_of(const hpt::Study& study) {
  std::int64_t steps = 0;
  for (const auto& trial : study.trials()) steps += static_cast<std::int64_t>(trial.curve.size());
  return steps;
}

/// The kill test of one strategy: `points` kill points, each in a fresh file.
void check_kills(const std::string& what, const RunStudy& run, std::size_t workers,
                 std::uint64_t seed, int points) {
  const hpt::Study whole = run({.seed = seed, .workers = workers});
  REQUIRE_FALSE(whole.interrupted());
  test_support::ScratchDirectory scratch("hpt_kill_");
  // How long a run into a file takes (in a child, as the killed runs), to spread the kills over it.
  const auto start = Clock::now();
  REQUIRE_FALSE(run_and_kill(
      [&](const hpt::StudyOptions& given) {
        hpt::StudyOptions with_file = given;
        with_file.storage = hpt::sqlite_storage(scratch.path / "timed.db");
        return run(with_file);
      },
      {.seed = seed, .workers = workers}, std::chrono::minutes(2)));
  const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  int landed = 0;
  int partial = 0;  // kill points whose file kept some of the study's steps, not all
  for (int point = 0; point < points; ++point) {
    const std::uint64_t hash = mix(seed * 1000 + static_cast<std::uint64_t>(point));
    const auto delay = std::chrono::microseconds(
        static_cast<std::int64_t>(unit(hash) * static_cast<double>(duration.count())));
    const auto file = scratch.path / ("study" + std::to_string(point) + ".db");
    const hpt::StudyOptions options{.seed = seed, .name = "killed", .workers = workers};
    // The storage is opened where the study runs: an SQLite connection must not cross a fork.
    const RunStudy in_file = [&](const hpt::StudyOptions& given) {
      hpt::StudyOptions with_file = given;
      with_file.storage = hpt::sqlite_storage(file);
      return run(with_file);
    };
    INFO(what << " on " << workers << " workers: kill point " << point << " after " << delay.count()
              << " us of a " << duration.count() << " us study");
    landed += run_and_kill(in_file, options, delay) ? 1 : 0;
    if ((hash >> 32) % 4 == 0) {  // and kill the resumed run as well, once
      const auto again = std::chrono::microseconds(
          static_cast<std::int64_t>(unit(mix(hash)) * static_cast<double>(duration.count())));
      (void)run_and_kill(in_file, options, again);
    }
    const std::int64_t kept = committed_steps(file);
    if (kept > 0 && kept < steps_of(whole)) ++partial;
    const std::int64_t before = steps_run.load();
    const hpt::Study resumed = in_file(options);
    CHECK_FALSE(resumed.interrupted());
    CHECK(test_support::study_difference(whole, resumed) == "");
    // Nothing finished is redone: the resume runs exactly the steps the file did not keep
    // (every paused trial continues from its checkpoint).
    CHECK(steps_run.load() - before == steps_of(whole) - kept);
  }
#ifndef HPT_TEST_SANITIZED  // a sanitizer's slow start-up moves kills about: outcomes only
  // Most kills must land while the study ran, or the test would test little.
  // (A loose bound: under sanitizers on a loaded machine a killed run may go faster than the
  // timed one, so some kills come after the end.)
  CHECK(landed * 3 >= points);
  // Finished jobs are committed as they finish: a kill in mid-study leaves a file with part of
  // the study's steps, where a storage written only at the end keeps all or nothing. Counted, not
  // a share of the steps: a study lasts tens of milliseconds, so the killed runs' start-up noise
  // and the second kills decide how much each file keeps (7 to 9 of 30 files are partial here,
  // and a CI run kept 17% of the steps where about half was expected).
  CHECK(partial >= 3);
#else
  (void)landed;
  (void)partial;
#endif
}

hpt::SearchSpace space() {
  return hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)};
}

template <class Strategy>
RunStudy study_of(Strategy strategy, const hpt::SearchSpace& searched) {
  return [strategy, searched](const hpt::StudyOptions& options) {
    return hpt::tune<SlowLearner>(searched, strategy, hpt::NoStopping{}, options);
  };
}

}  // namespace

TEST_CASE("kill -9 at a random moment, resume: the study of an uninterrupted run", "[sqlite]") {
  const int points = 30;
  for (const std::size_t workers : {std::size_t{1}, std::size_t{2}}) {
    check_kills("grid search",
                study_of(hpt::GridSearch{.max_resource = 6},
                         hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0).grid(8)}),
                workers, 21, points);
    check_kills("random search",
                study_of(hpt::RandomSearch{.trials = 12, .max_resource = 6}, space()), workers, 22,
                points);
    check_kills(
        "successive halving",
        study_of(hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
                 space()),
        workers, 23, points);
    check_kills("Hyperband", study_of(hpt::Hyperband{.max_resource = 9}, space()), workers, 24,
                points);
  }
}
