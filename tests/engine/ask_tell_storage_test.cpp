// AskTell on a storage: the user's own loop gets the guarantees hpt::tune gives. A study driven by
// AskTell through a durable MemoryStorage is run once to the end; then, for every transaction
// boundary a crash could have left (every prefix of its log), a new AskTell resumes from that
// prefix and the loop finishes it: the study must equal the uninterrupted one in every field
// (study_difference). The loop's objective at step t depends only on the configuration and t, so
// a job cut short, or continued after a resume, needs no model. The logs of AskTell and of tune()
// are the same events, and each resumes into the other. Opening with other settings is refused as
// tune refuses it; jobs left out by an AskTell that is destroyed (or closed, or that loses its
// lease) are handed out again, first.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <hpt/hpt.hpp>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

#include "exception_message.hpp"
#include "parallel_support.hpp"
#include "resume_support.hpp"
#include "study_difference.hpp"

namespace {

using test_support::CheckpointedLearner;
using test_support::Curve;
using test_support::grid_space;
using test_support::Learner;
using test_support::message_of;
using test_support::study_difference;

hpt::SearchSpace space() {
  return test_support::unit_space();
}

/// What the loops saw.
struct Seen {
  std::size_t jobs = 0;
  std::size_t catch_ups = 0;    // jobs whose earlier steps this AskTell did not train
  std::size_t restarts = 0;     // jobs cut short before, handed out again
  std::size_t checkpoints = 0;  // jobs that came with a stored checkpoint
};

/// Checks what a job says against the record it continues.
template <class Study>
void check_job(const Study& study, const hpt::TrialJob& job, Seen& seen) {
  ++seen.jobs;
  const hpt::Trial& trial = study.study().trial(job.trial);
  CHECK(trial.status == hpt::TrialStatus::running);
  CHECK(job.config == trial.config);
  CHECK(job.steps_done == trial.resource);  // the steps recorded, and no more
  CHECK(static_cast<std::int64_t>(trial.curve.size()) == job.steps_done);
  CHECK(job.resource > job.steps_done);
  if (job.catch_up) ++seen.catch_ups;
  if (job.restart) ++seen.restarts;
  if (job.checkpoint) {
    ++seen.checkpoints;
    CHECK(job.catch_up);
    CHECK(*job.checkpoint == std::to_string(job.steps_done));  // CheckpointedLearner::save
  }
}

/// One job of the loop, and the step it reports next.
struct Active {
  hpt::TrialJob job;
  std::int64_t next;
};

/// Reports the next step of `active` (or fails the trial where its trainer would throw); true
/// while the job goes on.
template <class Study>
bool step_once(Study& study, Active& active) {
  const Curve curve(active.job.config);
  const std::int64_t step = active.next++;
  if (curve.throws_at(step)) {
    study.fail(active.job.trial, "step " + std::to_string(step) + " threw: bad batch");
    return false;
  }
  return study.report(active.job.trial, curve.at(step));
}

/// Runs the study to its end with up to `width` jobs out at once, a step of each in turn, and
/// finishes it.
template <class Study>
hpt::Study drive(Study& study, std::size_t width = 1, Seen* seen = nullptr) {
  Seen ignored;
  Seen& counts = seen ? *seen : ignored;
  std::deque<Active> out;
  for (;;) {
    while (out.size() < width) {
      auto job = study.ask();
      if (!job) break;
      check_job(study, *job, counts);
      out.push_back({*job, job->steps_done + 1});
    }
    if (out.empty()) break;
    Active active = out.front();
    out.pop_front();
    if (step_once(study, active)) out.push_back(active);
  }
  CHECK(study.finished());
  return study.finish();
}

/// Runs up to `jobs` jobs to their end (fewer if the study has fewer), one at a time.
template <class Study>
void run_jobs(Study& study, std::size_t jobs) {
  for (std::size_t i = 0; i < jobs; ++i) {
    auto job = study.ask();
    if (!job) return;
    Active active{*job, job->steps_done + 1};
    while (step_once(study, active)) {
    }
  }
}

template <class T>
std::size_t count(const std::vector<hpt::StudyEvent>& events) {
  std::size_t n = 0;
  for (const auto& event : events) n += std::holds_alternative<T>(event);
  return n;
}

/// An event as a line of text, without what may differ between two runs of one study (wall
/// times, session numbers, checkpoints).
std::string describe(const hpt::StudyEvent& event) {
  std::ostringstream out;
  out << hpt::event_kind(event);
  if (const auto* made = std::get_if<hpt::TrialCreated>(&event)) {
    out << ' ' << made->trial << ' ' << made->bracket << ' ' << made->config;
  } else if (const auto* started = std::get_if<hpt::JobStarted>(&event)) {
    const hpt::Job& job = started->job;
    out << ' ' << job.trial << ' ' << job.resource << ' ' << job.bracket << ' ' << job.rung << ' '
        << job.last_rung << ' ' << started->restart;
  } else if (const auto* step = std::get_if<hpt::StepRecorded>(&event)) {
    out.precision(17);
    out << ' ' << step->trial << ' ' << step->point.step << ' ' << step->point.objective;
  } else if (const auto* ended = std::get_if<hpt::JobEnded>(&event)) {
    out << ' ' << ended->trial << ' ' << hpt::to_string(ended->status) << ' ' << ended->reason
        << " | " << ended->stopped_by << ' ' << hpt::to_string(ended->failure) << ' '
        << ended->steps_run << ' ' << ended->started;
  } else if (const auto* pruned = std::get_if<hpt::TrialPruned>(&event)) {
    out << ' ' << pruned->trial << ' ' << pruned->rung << ' ' << pruned->reason;
  } else if (const auto* abandoned = std::get_if<hpt::JobAbandoned>(&event)) {
    out << ' ' << abandoned->trial;
  }
  return out.str();
}

std::vector<std::string> described(const std::vector<hpt::StudyEvent>& events) {
  std::vector<std::string> lines;
  for (const auto& event : events) lines.push_back(describe(event));
  return lines;
}

/// Runs a study to its end with AskTell on a durable storage, checks it against AskTell without
/// a storage and against tune, then resumes it from every prefix of its log, each time with a new
/// AskTell (on `resumed_width` jobs at once), and checks that each resumed study equals the first.
template <class Strategy, class Policy>
void check_every_prefix(const hpt::SearchSpace& searched, const Strategy& strategy,
                        const Policy& policy, hpt::StudyOptions options, std::size_t width,
                        std::size_t resumed_width) {
  const hpt::StudyOptions plain = options;
  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  options.storage = storage;
  options.name = "ask";
  hpt::Study whole;
  {
    hpt::AskTell study(searched, strategy, policy, options);
    Seen seen;
    whole = drive(study, width, &seen);
    CHECK(seen.catch_ups == 0);  // every paused trial's model is the loop's own
    CHECK(seen.restarts == 0);
  }
  REQUIRE_FALSE(whole.interrupted());
  {
    hpt::AskTell unstored(searched, strategy, policy, plain);
    CHECK(study_difference(whole, drive(unstored, width)) == "");
  }
  CHECK(study_difference(whole, hpt::tune<Learner>(searched, strategy, policy, plain)) == "");

  const auto events = storage->events("ask");
  CHECK(count<hpt::StudyFinished>(events) == 1);
  CHECK(std::holds_alternative<hpt::StudyFinished>(events.back()));
  const std::size_t transactions = storage->transactions("ask");
  // One job at a time: a hand-out and a job's end (with its steps) each, and the study's end.
  // (With several jobs out, an ask() that hands out nothing commits the steps of the jobs out.)
  if (width == 1 && !options.reproducible_lag)
    CHECK(transactions == 2 * count<hpt::JobStarted>(events) + 1);
  REQUIRE(transactions > 2);
  for (std::size_t cut = 0; cut <= transactions; ++cut) {
    hpt::StudyOptions resumed_options = options;
    resumed_options.storage = storage->prefix("ask", cut);
    resumed_options.open = hpt::OpenMode::resume;
    INFO("resumed after transaction " << cut << " of " << transactions);
    hpt::AskTell resumed(searched, strategy, policy, resumed_options);
    Seen seen;
    CHECK(study_difference(whole, drive(resumed, resumed_width, &seen)) == "");
    if (cut == transactions) CHECK(seen.jobs == 0);  // a finished study runs nothing
  }
}

}  // namespace

TEST_CASE("AskTell resumed after any transaction equals the uninterrupted study",
          "[engine][ask_tell][resume]") {
  const hpt::NoStopping none;
  SECTION("grid search") {
    check_every_prefix(grid_space(), hpt::GridSearch{.max_resource = 4}, none, {.seed = 4}, 1, 1);
  }
  SECTION("random search, three jobs out at once, resumed one at a time") {
    check_every_prefix(space(), hpt::RandomSearch{.trials = 12, .max_resource = 6}, none,
                       {.seed = 3}, 3, 1);
  }
  SECTION("successive halving") {
    check_every_prefix(
        space(), hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        none, {.seed = 5}, 1, 1);
  }
  SECTION("successive halving, one job at a time, resumed with three out at once") {
    check_every_prefix(
        space(), hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        none, {.seed = 5}, 1, 3);
  }
  SECTION("Hyperband with Patience") {
    check_every_prefix(space(), hpt::Hyperband{.max_resource = 9}, hpt::Patience{.patience = 2},
                       {.seed = 6}, 1, 1);
  }
  SECTION("Hyperband, two jobs out at once") {
    check_every_prefix(space(), hpt::Hyperband{.max_resource = 9}, none, {.seed = 8}, 2, 2);
  }
  SECTION("ASHA with MedianStopping and reproducible_lag, three jobs out at once") {
    check_every_prefix(space(), hpt::Asha{.trials = 30, .min_resource = 1, .max_resource = 9},
                       hpt::MedianStopping{.startup_trials = 2}, {.seed = 7, .reproducible_lag = 2},
                       3, 2);
  }
}

TEST_CASE("AskTell and tune write the same log, and each resumes the other's",
          "[engine][ask_tell][resume]") {
  const hpt::NoStopping none;
  const auto check = [&](const hpt::SearchSpace& searched, const auto& strategy,
                         hpt::StudyOptions options) {
    options.name = "both";
    auto asked = std::make_shared<hpt::MemoryStorage>(true);
    auto tuned = std::make_shared<hpt::MemoryStorage>(true);
    auto checkpointed = std::make_shared<hpt::MemoryStorage>(true);
    hpt::StudyOptions asked_options = options, tuned_options = options,
                      checkpointed_options = options;
    asked_options.storage = asked;
    tuned_options.storage = tuned;
    checkpointed_options.storage = checkpointed;
    hpt::Study whole;
    {
      hpt::AskTell study(searched, strategy, none, asked_options);
      whole = drive(study);
    }
    CHECK(study_difference(whole, hpt::tune<Learner>(searched, strategy, none, tuned_options)) ==
          "");
    CHECK(study_difference(whole, hpt::tune<CheckpointedLearner>(searched, strategy, none,
                                                                 checkpointed_options)) == "");
    // The same events in the same order (in other transactions: tune hands out the next job in
    // the transaction of the last one's end).
    CHECK(described(asked->events("both")) == described(tuned->events("both")));
    CHECK(described(asked->events("both")) == described(checkpointed->events("both")));

    // A study begun by AskTell, finished by tune (which retrains the steps of a paused trial).
    for (std::size_t cut = 0; cut <= asked->transactions("both"); ++cut) {
      INFO("tune resumes AskTell's log after transaction " << cut);
      hpt::StudyOptions resumed = options;
      resumed.storage = asked->prefix("both", cut);
      resumed.open = hpt::OpenMode::resume;
      CHECK(study_difference(
                whole, hpt::tune<CheckpointedLearner>(searched, strategy, none, resumed)) == "");
    }
    // A study begun by tune, finished by AskTell: with tune's checkpoints, when it saved them.
    Seen seen;
    for (const auto& begun : {tuned, checkpointed})
      for (std::size_t cut = 0; cut <= begun->transactions("both"); ++cut) {
        INFO("AskTell resumes tune's log after transaction " << cut);
        hpt::StudyOptions resumed = options;
        resumed.storage = begun->prefix("both", cut);
        resumed.open = hpt::OpenMode::resume;
        hpt::AskTell study(searched, strategy, none, resumed);
        const Seen before = seen;
        CHECK(study_difference(whole, drive(study, 1, &seen)) == "");
        if (begun == tuned) CHECK(seen.checkpoints == before.checkpoints);
      }
    return seen;
  };
  SECTION("random search") {
    const Seen seen =
        check(space(), hpt::RandomSearch{.trials = 10, .max_resource = 5}, {.seed = 9});
    CHECK(seen.restarts > 0);  // the prefixes that end with a job out
  }
  SECTION("successive halving: paused trials continued from tune's checkpoints") {
    const Seen seen = check(
        space(), hpt::SuccessiveHalving{.configurations = 9, .min_resource = 1, .max_resource = 9},
        {.seed = 10});
    CHECK(seen.catch_ups > 0);
    CHECK(seen.checkpoints > 0);
    CHECK(seen.checkpoints < seen.catch_ups);  // tuned's log has none
  }
  SECTION("Hyperband") {
    const Seen seen = check(space(), hpt::Hyperband{.max_resource = 9}, {.seed = 11});
    CHECK(seen.checkpoints > 0);
  }
}

TEST_CASE("AskTell refuses a stored study as tune refuses it", "[engine][ask_tell][resume]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::Hyperband strategy{.max_resource = 9};
  const hpt::NoStopping none;
  const hpt::StudyOptions options{.seed = 13, .name = "digits", .storage = storage};
  (void)hpt::tune<Learner>(space(), strategy, none, options);
  const auto same_refusal = [&](hpt::StudyOptions other, const std::string& wanted) {
    const std::string by_tune =
        message_of([&] { (void)hpt::tune<Learner>(space(), strategy, none, other); });
    const std::string by_ask_tell =
        message_of([&] { hpt::AskTell study(space(), strategy, none, other); });
    CHECK_THAT(by_tune, Catch::Contains(wanted));
    CHECK(by_ask_tell == by_tune);
    CHECK_THROWS_AS(hpt::AskTell(space(), strategy, none, other), hpt::StorageError);
  };
  hpt::StudyOptions other = options;
  other.seed = 14;
  same_refusal(other, "study \"digits\" was stored with other settings: seed: stored 13, given 14");
  other = options;
  other.direction = hpt::Direction::maximize;
  same_refusal(other, "direction: stored minimize, given maximize");
  const std::string other_policy =
      message_of([&] { (void)hpt::tune<Learner>(space(), strategy, hpt::Patience{}, options); });
  CHECK_THAT(other_policy, Catch::Contains("stopping policy: stored NoStopping"));
  CHECK(message_of([&] { hpt::AskTell study(space(), strategy, hpt::Patience{}, options); }) ==
        other_policy);
  other = options;
  other.open = hpt::OpenMode::create;
  same_refusal(other, "exists already");
  other = options;
  other.name = "digits2";
  other.open = hpt::OpenMode::resume;
  same_refusal(other, "no study \"digits2\" to resume");
  // The study is still there, finished: it is returned as stored.
  hpt::AskTell study(space(), strategy, none, options);
  CHECK(study.finished());
  CHECK_FALSE(study.ask());
  CHECK(study_difference(study.finish(),
                         hpt::tune<Learner>(space(), strategy, none, {.seed = 13})) == "");
}

TEST_CASE("jobs an AskTell leaves out run again, first, from the steps recorded",
          "[engine][ask_tell][resume]") {
  // Rungs of 2, 6 and 18 steps: a job's first step does not end it.
  const hpt::SuccessiveHalving strategy{.configurations = 9, .min_resource = 2, .max_resource = 18};
  const hpt::NoStopping none;
  const hpt::Study whole = hpt::tune<Learner>(space(), strategy, none, {.seed = 21});
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::StudyOptions options{.seed = 21, .name = "left", .storage = storage};

  SECTION("destroyed with two jobs out, one of a paused trial; resumed by a new AskTell") {
    std::vector<hpt::TrialJob> left;
    {
      hpt::AskTell study(space(), strategy, none, options);
      run_jobs(study, 9);  // rung 0
      auto promoted = study.ask();
      auto next = study.ask();
      REQUIRE(promoted);
      REQUIRE(next);
      REQUIRE(promoted->steps_done > 0);
      Active first{*promoted, promoted->steps_done + 1};
      REQUIRE(step_once(study, first));  // a step that does not count: the job does not end
      left = {*promoted, *next};
    }
    hpt::AskTell resumed(space(), strategy, none, options);
    for (const hpt::TrialJob& before : left) {
      const auto job = resumed.ask();
      REQUIRE(job);
      CHECK(job->trial == before.trial);  // in the order they were handed out
      CHECK(job->resource == before.resource);
      CHECK(job->steps_done == before.steps_done);
      CHECK(job->restart);
      CHECK(job->catch_up);          // its model was the destroyed loop's
      CHECK_FALSE(job->checkpoint);  // AskTell stores none
      CHECK(resumed.study().trial(job->trial).curve.size() ==
            static_cast<std::size_t>(job->steps_done));
      Active active{*job, job->steps_done + 1};
      while (step_once(resumed, active)) {
      }
    }
    CHECK(study_difference(whole, drive(resumed)) == "");
    const auto events = storage->events("left");
    CHECK(count<hpt::JobAbandoned>(events) == 2);
    CHECK(count<hpt::StudyFinished>(events) == 1);
  }
  SECTION("closed with a job out; another live session takes it over") {
    hpt::AskTell first(space(), strategy, none, options);
    hpt::AskTell second(space(), strategy, none,
                        {.seed = 21, .name = "left", .storage = storage->connect()});
    run_jobs(first, 3);
    const auto job = first.ask();
    REQUIRE(job);
    CHECK(first.report(job->trial, 0.5));
    first.close();
    CHECK_THROWS_WITH(first.report(job->trial, 0.5),
                      Catch::Contains("hpt::AskTell::report: the AskTell was closed"));
    CHECK_THROWS_AS(first.ask(), std::logic_error);
    const auto again = second.ask();
    REQUIRE(again);
    CHECK(again->trial == job->trial);
    CHECK(again->restart);
    CHECK(again->steps_done == 0);
    CHECK_FALSE(again->catch_up);  // a new trial: nothing to catch up
    Active active{*again, 1};
    while (step_once(second, active)) {
    }
    CHECK(study_difference(whole, drive(second)) == "");
  }
  SECTION("a session whose lease lapsed loses its job, and says so") {
    hpt::AskTell first(space(), strategy, none, options);
    auto other = storage->connect();
    hpt::AskTell second(space(), strategy, none, {.seed = 21, .name = "left", .storage = other});
    run_jobs(second, 2);
    const auto job = first.ask();
    REQUIRE(job);
    storage->end_session(storage->session());  // as if first had stopped renewing its lease
    const auto taken = second.ask();
    REQUIRE(taken);
    CHECK(taken->trial == job->trial);
    CHECK(taken->restart);
    Active active{*job, 1};
    std::string lost;
    try {
      while (step_once(first, active)) {
      }
    } catch (const hpt::StorageError& error) {
      lost = error.what();
    }
    CHECK_THAT(lost, Catch::Contains("lost its job of trial " + std::to_string(job->trial)));
    CHECK_THROWS_WITH(first.ask(), Catch::Contains("hpt::AskTell::ask: a storage transaction") &&
                                       Catch::Contains("lost its job"));
    // The failed transaction was let go: the other session goes on.
    Active resumed{*taken, 1};
    while (step_once(second, resumed)) {
    }
    CHECK(study_difference(whole, drive(second)) == "");
  }
}

TEST_CASE("two AskTell sessions share one stored study", "[engine][ask_tell][resume]") {
  const hpt::Hyperband strategy{.max_resource = 9};
  const hpt::Patience policy{.patience = 2};
  const hpt::Study whole = hpt::tune<Learner>(space(), strategy, policy, {.seed = 31});
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  hpt::AskTell first(space(), strategy, policy, {.seed = 31, .name = "shared", .storage = storage});
  hpt::AskTell second(space(), strategy, policy,
                      {.seed = 31, .name = "shared", .storage = storage->connect()});
  // Each asks in turn and steps its jobs in turn, with up to two jobs out each.
  std::deque<Active> out_first, out_second;
  Seen seen;
  const auto turn = [&](auto& study, std::deque<Active>& out) {
    while (out.size() < 2) {
      auto job = study.ask();
      if (!job) break;
      check_job(study, *job, seen);
      out.push_back({*job, job->steps_done + 1});
    }
    if (out.empty()) return false;
    Active active = out.front();
    out.pop_front();
    if (step_once(study, active)) out.push_back(active);
    return true;
  };
  for (bool busy = true; busy;) {
    const bool a = turn(first, out_first);
    const bool b = turn(second, out_second);
    busy = a || b;
  }
  CHECK(seen.catch_ups > 0);  // trials paused in one session, continued in the other
  CHECK(study_difference(whole, first.finish()) == "");
  CHECK(study_difference(whole, second.finish()) == "");  // finished by the first: as stored
  const auto events = storage->events("shared");
  CHECK(count<hpt::StudyFinished>(events) == 1);
  CHECK(count<hpt::JobAbandoned>(events) == 0);
}

TEST_CASE("AskTell on a storage refuses misuse by name", "[engine][ask_tell]") {
  const hpt::RandomSearch strategy{.trials = 4, .max_resource = 3};
  const hpt::NoStopping none;
  const hpt::Study whole = hpt::tune<Learner>(space(), strategy, none, {.seed = 41});
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  const hpt::StudyOptions options{.seed = 41, .name = "misuse", .storage = storage};

  SECTION("finishing with work left, then going on") {
    hpt::AskTell study(space(), strategy, none, options);
    CHECK_THROWS_WITH(study.report(0, 1.0),
                      Catch::Contains("hpt::AskTell::report: trial 0 has no job out"));
    run_jobs(study, 1);
    CHECK_THROWS_WITH(study.finish(),
                      Catch::Contains("hpt::AskTell::finish: the strategy has work left"));
    CHECK(study_difference(whole, drive(study)) == "");  // the refused finish() held no lock
  }
  SECTION("finishing while another session has a job out") {
    hpt::AskTell first(space(), strategy, none, options);
    hpt::AskTell second(space(), strategy, none,
                        {.seed = 41, .name = "misuse", .storage = storage->connect()});
    const auto job = second.ask();
    REQUIRE(job);
    run_jobs(first, 4);
    CHECK_THROWS_WITH(first.finish(), Catch::Contains("jobs of other sessions of study "
                                                      "\"misuse\" are out"));
    Active active{*job, 1};
    while (step_once(second, active)) {
    }
    CHECK(study_difference(whole, first.finish()) == "");
    CHECK(study_difference(whole, second.finish()) == "");
  }
  SECTION("two AskTells on one connection: the second open ends the first's session") {
    std::optional<hpt::AskTell<hpt::RandomSearch>> first;
    first.emplace(space(), strategy, none, options);
    run_jobs(*first, 1);
    hpt::AskTell second(space(), strategy, none, options);  // the same connection
    CHECK_THROWS_WITH(first->ask(), Catch::Contains("hpt::AskTell::ask: its storage connection "
                                                    "was opened again"));
    first.reset();  // its session ended already: it must not end the second's
    CHECK(storage->session() != 0);
    CHECK(study_difference(whole, drive(second)) == "");
  }
}

TEST_CASE("AskTell writes a job's steps with its end, before report() or fail() returns",
          "[engine][ask_tell]") {
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  hpt::AskTell study(space(), hpt::RandomSearch{.trials = 2, .max_resource = 3}, hpt::NoStopping{},
                     {.seed = 51, .name = "written", .storage = storage});
  const auto job = study.ask();
  REQUIRE(job);
  CHECK(count<hpt::JobStarted>(storage->events("written")) == 1);  // handed out: committed
  CHECK(study.report(job->trial, 0.5));
  CHECK(study.report(job->trial, 0.4));
  CHECK(count<hpt::StepRecorded>(storage->events("written")) == 0);  // batched with the end
  const std::size_t before = storage->transactions("written");
  CHECK_FALSE(study.report(job->trial, 0.3));
  auto events = storage->events("written");
  CHECK(storage->transactions("written") == before + 1);
  CHECK(count<hpt::StepRecorded>(events) == 3);
  REQUIRE(std::holds_alternative<hpt::JobEnded>(events.back()));
  CHECK(std::get<hpt::JobEnded>(events.back()).status == hpt::TrialStatus::completed);
  CHECK(std::get<hpt::JobEnded>(events.back()).steps_run == 3);

  const auto second = study.ask();
  REQUIRE(second);
  CHECK(study.report(second->trial, 0.5));
  study.fail(second->trial, "out of memory");
  events = storage->events("written");
  REQUIRE(std::holds_alternative<hpt::JobEnded>(events.back()));
  const auto& failed = std::get<hpt::JobEnded>(events.back());
  CHECK(failed.trial == second->trial);
  CHECK(failed.status == hpt::TrialStatus::failed);
  CHECK(failed.reason == "out of memory");
  CHECK(failed.steps_run == 1);
  CHECK_FALSE(study.ask());
  (void)study.finish();
  CHECK(std::holds_alternative<hpt::StudyFinished>(storage->events("written").back()));
}

TEST_CASE("a stop request ends AskTell's hand-outs; the study resumes where it stopped",
          "[engine][ask_tell][resume]") {
  const hpt::Hyperband strategy{.max_resource = 9};
  const hpt::NoStopping none;
  const hpt::Study whole = hpt::tune<Learner>(space(), strategy, none, {.seed = 61});
  auto storage = std::make_shared<hpt::MemoryStorage>(true);
  {
    std::stop_source stop;
    hpt::AskTell study(
        space(), strategy, none,
        {.seed = 61, .name = "stopped", .stop = stop.get_token(), .storage = storage});
    run_jobs(study, 7);
    CHECK_FALSE(study.finished());
    stop.request_stop();
    CHECK(study.finished());  // no job will come again
    CHECK_FALSE(study.ask());
    const hpt::Study first = study.finish();
    CHECK(first.interrupted());
    CHECK(count<hpt::StudyFinished>(storage->events("stopped")) == 0);
  }
  hpt::AskTell resumed(
      space(), strategy, none,
      {.seed = 61, .name = "stopped", .storage = storage, .open = hpt::OpenMode::resume});
  CHECK(study_difference(whole, drive(resumed)) == "");
}
