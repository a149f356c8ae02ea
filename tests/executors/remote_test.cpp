// The remote executor (hpt/executors/remote.hpp), ranks as threads (local_transport.hpp): the
// protocol MPI runs (tests/mpi runs it under mpirun). A study over 4 and 8 ranks equals the thread
// pool's for every order-independent strategy, with trials that move (Checkpointable) and trials
// that stay on their worker; a study rule is judged on rank 0; a stored study resumed after any
// transaction of its log equals the uninterrupted one; peers of another study, malformed
// messages and failures end the run with an error on the ranks concerned and nowhere a hang.
#include <catch2/catch.hpp>
#include <hpt/executors/remote.hpp>
#include <hpt/hpt.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "exception_message.hpp"
#include "local_transport.hpp"
#include "parallel_support.hpp"
#include "resume_support.hpp"
#include "study_difference.hpp"

namespace {

using test_support::LocalTransport;
using test_support::run_ranks;
using test_support::study_difference;

thread_local int current_rank = -1;  // the rank this thread plays

/// Where each configuration's trainables were made: rank by rank.
struct Placement {
  std::mutex mutex;
  std::map<std::uint64_t, std::multiset<int>> made;
  void note(const hpt::Config& config) {
    const std::lock_guard lock(mutex);
    made[test_support::key_of(config)].insert(current_rank);
  }
  void clear() {
    const std::lock_guard lock(mutex);
    made.clear();
  }
};
Placement placement;

/// A resume_support learner whose steps take 0-50 microseconds (a seeded hash of the
/// configuration and the step), so that results reach rank 0 in orders no schedule decides.
template <class Base>
class Jittered : public Base {
 public:
  explicit Jittered(const hpt::Config& config) : Base(config), key_(test_support::key_of(config)) {
    placement.note(config);
  }
  hpt::Metrics step() {
    test_support::jitter(test_support::mix(key_ ^ static_cast<std::uint64_t>(this->steps_)), 50);
    return Base::step();
  }

 private:
  std::uint64_t key_;
};
using Staying = Jittered<test_support::Learner>;
using Moving = Jittered<test_support::CheckpointedLearner>;
static_assert(!hpt::Checkpointable<Staying>);
static_assert(hpt::Checkpointable<Moving>);

const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(8),
                             hpt::uniform("y", 0.0, 1.0).grid(3)};

/// Runs the study on `ranks` ranks (rank 0 coordinating) and returns what each rank did.
template <class T, class Strategy, class Policy, class... Observers>
test_support::RankResults run_remote(int ranks, const hpt::SearchSpace& searched,
                                     const Strategy& strategy, const Policy& policy,
                                     const hpt::StudyOptions& options, Observers&... observers) {
  return test_support::in_time(
      [=, &observers...] {
        return run_ranks(ranks, [&](LocalTransport& transport) {
          current_rank = transport.rank();
          auto factory = [](const hpt::Config& config) { return std::make_unique<T>(config); };
          if (transport.rank() == 0)
            return hpt::detail::run_distributed_study(transport, "local", searched, factory,
                                                      strategy, policy, options, observers...);
          return hpt::detail::run_distributed_study(transport, "local", searched, factory, strategy,
                                                    policy, options);
        });
      },
      test_support::study_deadline(std::chrono::seconds(120)));
}

void check_clean(const test_support::RankResults& results) {
  for (std::size_t rank = 0; rank < results.errors.size(); ++rank) {
    INFO("rank " << rank << " threw: " << test_support::message_of(results.errors[rank]));
    CHECK(!results.errors[rank]);
    CHECK(results.returned_study[rank] == (rank == 0));
  }
}

template <class T, class Strategy, class Policy>
void check_equals_pool(const std::string& label, const Strategy& strategy, const Policy& policy,
                       hpt::StudyOptions options) {
  options.workers = 2;
  const hpt::Study pool = hpt::tune<T>(space, strategy, policy, options);
  for (const int ranks : {4, 8}) {
    INFO(label << " on " << ranks << " ranks against the thread pool");
    placement.clear();
    const auto results = run_remote<T>(ranks, space, strategy, policy, options);
    check_clean(results);
    REQUIRE(results.study);
    CHECK(study_difference(pool, *results.study) == "");
    // Where the trainables were made: never on rank 0; a trial that cannot move is made once.
    std::size_t moved = 0;
    for (const auto& [key, made] : placement.made) {
      CHECK(made.count(0) == 0);
      if (!hpt::Checkpointable<T>) CHECK(made.size() == 1);
      if (std::set<int>(made.begin(), made.end()).size() > 1) ++moved;
    }
    if (hpt::Checkpointable<T> && pool.trials().size() > 40) {
      INFO("no paused trial resumed on another rank: the test lost its teeth");
      CHECK(moved > 0);
    }
  }
}

template <class T, class Policy>
void check_strategies(const char* name, const Policy& policy) {
  const std::string label = std::string(name);
  check_equals_pool<T>(label + ", grid", hpt::GridSearch{.max_resource = 6}, policy, {.seed = 1});
  check_equals_pool<T>(label + ", random", hpt::RandomSearch{.trials = 30, .max_resource = 6},
                       policy, {.seed = 2});
  check_equals_pool<T>(
      label + ", successive halving",
      hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9}, policy,
      {.seed = 3});
  check_equals_pool<T>(label + ", Hyperband", hpt::Hyperband{.max_resource = 27}, policy,
                       {.seed = 4});
}

}  // namespace

TEST_CASE("a study over 4 and 8 ranks equals the thread pool's", "[remote][reproducible]") {
  SECTION("trials that move (Checkpointable), no stopping rule") {
    check_strategies<Moving>("moving", hpt::NoStopping{});
  }
  SECTION("trials that move, a trial rule with state (rebuilt from the recorded steps)") {
    check_strategies<Moving>("moving, Patience | Divergence",
                             hpt::Patience{.patience = 2} | hpt::Divergence{});
  }
  SECTION("trials that stay on their worker, a trial rule with state") {
    check_strategies<Staying>("staying, Patience | Divergence",
                              hpt::Patience{.patience = 2} | hpt::Divergence{});
  }
  SECTION("best step as the result, maximizing") {
    check_equals_pool<Moving>(
        "maximize, best step", hpt::Hyperband{.max_resource = 9}, hpt::Patience{.patience = 1},
        {.direction = hpt::maximize, .seed = 5, .result = hpt::TrialResult::best_step});
  }
}

TEST_CASE("a study rule is judged on rank 0: with reproducible_lag the study equals the pool's",
          "[remote][reproducible][study_rule]") {
  const hpt::MedianStopping median{.startup_trials = 3, .warmup_steps = 1};
  for (const bool moving : {true, false}) {
    INFO((moving ? "moving" : "staying") << " trials");
    const hpt::StudyOptions options{.seed = 6, .reproducible_lag = 4};
    if (moving)
      check_equals_pool<Moving>("random, MedianStopping",
                                hpt::RandomSearch{.trials = 30, .max_resource = 8}, median,
                                options);
    else
      check_equals_pool<Staying>("Hyperband, MedianStopping", hpt::Hyperband{.max_resource = 9},
                                 median, options);
  }
  // The rule stopped some trials, so verdicts really travelled.
  const auto results =
      run_remote<Moving>(4, space, hpt::RandomSearch{.trials = 30, .max_resource = 8}, median,
                         {.seed = 6, .reproducible_lag = 4});
  REQUIRE(results.study);
  std::size_t pruned = 0;
  for (const auto& trial : results.study->trials())
    if (trial.stopped_by == "MedianStopping") ++pruned;
  CHECK(pruned > 0);
}

TEST_CASE("ASHA over ranks accounts for every trial", "[remote][asha]") {
  const hpt::Asha asha{.trials = 60, .min_resource = 1, .max_resource = 27};
  for (const int ranks : {4, 8}) {
    const auto results = run_remote<Moving>(ranks, space, asha, hpt::NoStopping{}, {.seed = 7});
    check_clean(results);
    REQUIRE(results.study);
    CHECK(results.study->trials().size() == 60);
    for (const auto& trial : results.study->trials()) CHECK(trial.finished());
  }
}

TEST_CASE("a stored study over ranks, resumed after any transaction, equals the whole one",
          "[remote][resume]") {
  for (const bool moving : {true, false}) {
    INFO((moving ? "moving" : "staying") << " trials");
    const hpt::Hyperband hyperband{.max_resource = 9};
    const auto policy = hpt::Patience{.patience = 2};
    auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
    hpt::StudyOptions options{.seed = 8, .name = "ranks"};
    const hpt::Study plain = hpt::tune<Moving>(space, hyperband, policy, options);
    options.storage = storage;
    const auto whole = moving ? run_remote<Moving>(4, space, hyperband, policy, options)
                              : run_remote<Staying>(4, space, hyperband, policy, options);
    check_clean(whole);
    REQUIRE(whole.study);
    CHECK(study_difference(plain, *whole.study) == "");
    const std::size_t transactions = storage->transactions("ranks");
    REQUIRE(transactions > 4);
    // Every transaction would take minutes under the sanitizers: a spread of cut points.
    for (std::size_t cut = 0; cut <= transactions; cut += 1 + transactions / 12) {
      INFO("resumed after transaction " << cut << " of " << transactions);
      hpt::StudyOptions resumed = options;
      resumed.storage = storage->prefix("ranks", cut);
      resumed.open = hpt::OpenMode::resume;
      const auto again = moving ? run_remote<Moving>(3, space, hyperband, policy, resumed)
                                : run_remote<Staying>(3, space, hyperband, policy, resumed);
      check_clean(again);
      REQUIRE(again.study);
      CHECK(study_difference(plain, *again.study) == "");
    }
  }
}

TEST_CASE("a stop on rank 0 ends the jobs on every rank; the stored study resumes",
          "[remote][stop]") {
  const hpt::Hyperband hyperband{.max_resource = 9};
  const hpt::Study plain = hpt::tune<Moving>(space, hyperband, hpt::NoStopping{}, {.seed = 9});
  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  std::stop_source stop;
  test_support::StopAtStep stopper{&stop, 40};
  hpt::StudyOptions options{.seed = 9, .name = "stopped", .stop = stop.get_token()};
  options.storage = storage;
  const auto stopped = run_remote<Moving>(4, space, hyperband, hpt::NoStopping{}, options, stopper);
  check_clean(stopped);
  REQUIRE(stopped.study);
  CHECK(stopped.study->interrupted());
  for (const auto& trial : stopped.study->trials())
    CHECK(trial.status != hpt::TrialStatus::running);
  options.stop = {};
  options.open = hpt::OpenMode::resume;
  const auto resumed = run_remote<Moving>(4, space, hyperband, hpt::NoStopping{}, options);
  check_clean(resumed);
  REQUIRE(resumed.study);
  CHECK(study_difference(plain, *resumed.study) == "");
}

/// Throws at step 2 of the configurations with the smallest x.
class Throwing : public Moving {
 public:
  explicit Throwing(const hpt::Config& config)
      : Moving(config), throws_(config.get<double>("x") < 0.1) {}
  hpt::Metrics step() {
    if (throws_ && steps_ == 1) throw std::runtime_error("bad batch");
    return Moving::step();
  }

 private:
  bool throws_;
};

TEST_CASE("a trial's exception with catch_exceptions = false reaches rank 0's caller",
          "[remote][faults]") {
  const hpt::GridSearch grid{.max_resource = 6};
  const hpt::StudyOptions options{.seed = 10, .catch_exceptions = false};
  CHECK_THROWS_WITH(hpt::tune<Throwing>(space, grid, hpt::NoStopping{}, options), "bad batch");
  const auto results = run_remote<Throwing>(4, space, grid, hpt::NoStopping{}, options);
  REQUIRE(results.errors[0]);
  CHECK(test_support::message_of(results.errors[0]) == "bad batch");
  // Every worker is told why the run ended, and throws it.
  for (std::size_t rank = 1; rank < results.errors.size(); ++rank)
    CHECK(test_support::message_of(results.errors[rank]) ==
          "hpt: the coordinator (rank 0) ended the study: bad batch");
}

TEST_CASE("ranks of another study are refused on both sides", "[remote][faults]") {
  const hpt::GridSearch grid{.max_resource = 3};
  const hpt::SearchSpace other{hpt::uniform("x", 0.0, 2.0).grid(8),
                               hpt::uniform("y", 0.0, 1.0).grid(3)};
  const auto results = test_support::in_time(
      [&] {
        return run_ranks(4, [&](LocalTransport& transport) {
          auto factory = [](const hpt::Config& config) { return std::make_unique<Moving>(config); };
          return hpt::detail::run_distributed_study(transport,
                                                    "node-" + std::to_string(transport.rank()),
                                                    transport.rank() == 2 ? other : space, factory,
                                                    grid, hpt::NoStopping{}, hpt::StudyOptions{});
        });
      },
      std::chrono::seconds(60));
  const std::string coordinator = test_support::message_of(results.errors[0]);
  CHECK_THAT(coordinator, Catch::StartsWith("hpt::wire: rank 2 on \"node-2\" runs hpt") &&
                              Catch::Contains("start every rank from the same program"));
  CHECK_THAT(test_support::message_of(results.errors[2]),
             Catch::StartsWith("hpt::wire: the coordinator runs hpt") &&
                 Catch::Contains("on the study with fingerprint"));
  CHECK(test_support::message_of(results.errors[1]) ==
        "hpt: the coordinator (rank 0) ended the study: " + coordinator);
  CHECK(test_support::message_of(results.errors[3]) ==
        "hpt: the coordinator (rank 0) ended the study: " + coordinator);
}

TEST_CASE("a rank whose own arguments are invalid ends the run on every rank, saying why",
          "[remote][faults]") {
  const hpt::GridSearch grid{.max_resource = 3};
  const auto run_with_invalid = [&](int invalid_rank) {
    return test_support::in_time(
        [&, invalid_rank] {
          return run_ranks(3, [&](LocalTransport& transport) {
            auto factory = [](const hpt::Config& config) {
              return std::make_unique<Moving>(config);
            };
            hpt::StudyOptions options;
            if (transport.rank() == invalid_rank) options.workers = 0;
            return hpt::detail::run_distributed_study(transport, "local", space, factory, grid,
                                                      hpt::NoStopping{}, options);
          });
        },
        std::chrono::seconds(60));
  };
  const std::string invalid = [] {
    try {
      hpt::StudyOptions{.workers = 0}.validate();
    } catch (const std::exception& error) {
      return std::string(error.what());
    }
    return std::string("(valid)");
  }();
  SECTION("on a worker: rank 0 names it") {
    const auto results = run_with_invalid(1);
    CHECK(test_support::message_of(results.errors[1]) == invalid);
    CHECK(test_support::message_of(results.errors[0]) == "hpt: worker rank 1 failed: " + invalid);
    CHECK(test_support::message_of(results.errors[2]) ==
          "hpt: the coordinator (rank 0) ended the study: hpt: worker rank 1 failed: " + invalid);
  }
  SECTION("on rank 0: before any greeting, the workers are told") {
    const auto results = run_with_invalid(0);
    CHECK(test_support::message_of(results.errors[0]) == invalid);
    for (const std::size_t worker : {1, 2})
      CHECK(test_support::message_of(results.errors[worker]) ==
            "hpt: the coordinator (rank 0) ended the study: " + invalid);
  }
}

TEST_CASE("malformed or unexpected messages end the run with errors naming the rank",
          "[remote][faults]") {
  const hpt::GridSearch grid{.max_resource = 3};
  const std::uint64_t fingerprint =
      hpt::detail::study_fingerprint(space, grid, hpt::NoStopping{}, hpt::StudyOptions{});
  // Rank 2 is a stand-in worker that says `reply` where a real one would answer.
  const auto with_rank_2 = [&](auto reply) {
    return test_support::in_time(
        [&, reply] {
          return run_ranks(4, [&](LocalTransport& transport) -> std::optional<hpt::Study> {
            if (transport.rank() != 2) {
              auto factory = [](const hpt::Config& config) {
                return std::make_unique<Moving>(config);
              };
              return hpt::detail::run_distributed_study(transport, "local", space, factory, grid,
                                                        hpt::NoStopping{}, hpt::StudyOptions{});
            }
            int from = 0;
            std::string bytes;
            (void)transport.receive(from, bytes, hpt::executors::wait_forever);  // hello
            reply(transport, bytes);
            // Whatever comes next, until the coordinator lets it go; then the goodbye.
            do {
              (void)transport.receive(from, bytes, hpt::executors::wait_forever);
            } while (!std::holds_alternative<hpt::wire::Shutdown>(hpt::wire::decode(bytes)));
            std::string packet, scratch;
            hpt::detail::append_frame(packet, hpt::wire::Shutdown{}, scratch);
            transport.send(0, packet);
            return std::nullopt;
          });
        },
        std::chrono::seconds(60));
  };
  // The real workers (ranks 1 and 3) are told why the run ended, and throw it.
  const auto told_why = [](const test_support::RankResults& results) {
    const std::string why = test_support::message_of(results.errors[0]);
    for (const std::size_t worker : {1, 3})
      CHECK(test_support::message_of(results.errors[worker]) ==
            "hpt: the coordinator (rank 0) ended the study: " + why);
  };
  const auto greet = [&](LocalTransport& transport) {
    std::string packet, scratch;
    hpt::detail::append_frame(packet, hpt::wire::HelloReply{.fingerprint = fingerprint, .rank = 2},
                              scratch);
    transport.send(0, packet);
  };
  SECTION("bytes that are not a packet") {
    const auto results = with_rank_2([](LocalTransport& transport, const std::string&) {
      transport.send(0, std::string("\x05garbage", 8));
    });
    CHECK_THAT(test_support::message_of(results.errors[0]),
               Catch::StartsWith("hpt::wire: the packet from rank 2 (8 bytes), frame at byte 0: "
                                 "the frame claims 5 bytes, 7 are left") ||
                   Catch::StartsWith("hpt::wire: the packet from rank 2 (8 bytes), frame at byte "
                                     "0: hpt::wire: not an hpt wire message"));
    told_why(results);
  }
  SECTION("a frame cut short") {
    const auto results = with_rank_2([](LocalTransport& transport, const std::string&) {
      transport.send(0, std::string("\x09hpw", 4));
    });
    CHECK(test_support::message_of(results.errors[0]) ==
          "hpt::wire: the packet from rank 2 (4 bytes), frame at byte 0: the frame claims 9 "
          "bytes, 3 are left");
  }
  SECTION("steps of a trial it does not run") {
    const auto results = with_rank_2([&](LocalTransport& transport, const std::string&) {
      greet(transport);
      int from = 0;
      std::string batch, packet, scratch;
      (void)transport.receive(from, batch, hpt::executors::wait_forever);  // its jobs
      hpt::detail::append_frame(packet, hpt::wire::StepsDone{.trial = 999, .points = {{}}},
                                scratch);
      transport.send(0, packet);
    });
    CHECK(test_support::message_of(results.errors[0]) ==
          "hpt::wire: rank 2 sent steps of trial 999, which is not running");
    told_why(results);
  }
  // The trial of the first job in the batch rank 2 received, and the resource it runs to.
  const auto first_job = [](const std::string& batch) {
    const auto jobs = std::get<hpt::wire::RunBatch>(hpt::wire::decode(batch)).jobs;
    if (jobs.empty()) throw std::logic_error("an empty batch");  // no Catch off the main thread
    return jobs.front().job;
  };
  SECTION("a job's end that is not an end") {
    std::size_t trial = 0;
    const auto results = with_rank_2([&](LocalTransport& transport, const std::string&) {
      greet(transport);
      int from = 0;
      std::string batch, packet, scratch;
      (void)transport.receive(from, batch, hpt::executors::wait_forever);
      const hpt::Job job = first_job(batch);
      trial = job.trial;
      hpt::detail::append_frame(
          packet, hpt::wire::JobFinished{.job = job, .status = hpt::TrialStatus::running}, scratch);
      transport.send(0, packet);
    });
    CHECK(test_support::message_of(results.errors[0]) ==
          "hpt::wire: rank 2 sent the end of a job of trial " + std::to_string(trial) +
              " with status running, which is not how a job ends");
    told_why(results);
  }
  SECTION("a step out of its job's range") {
    std::size_t trial = 0;
    std::int64_t resource = 0;
    const auto results = with_rank_2([&](LocalTransport& transport, const std::string&) {
      greet(transport);
      int from = 0;
      std::string batch, packet, scratch;
      (void)transport.receive(from, batch, hpt::executors::wait_forever);
      const hpt::Job job = first_job(batch);
      trial = job.trial;
      resource = job.resource;
      hpt::Step beyond;
      beyond.step = job.resource + 1;
      hpt::detail::append_frame(
          packet, hpt::wire::StepsDone{.trial = job.trial, .points = {beyond}}, scratch);
      transport.send(0, packet);
    });
    CHECK(test_support::message_of(results.errors[0]) ==
          "hpt::wire: rank 2 sent step " + std::to_string(resource + 1) + " of trial " +
              std::to_string(trial) + ", which is at step 0 of a job to step " +
              std::to_string(resource));
    told_why(results);
  }
  SECTION("steps of a trial another rank runs") {
    const auto results = with_rank_2([&](LocalTransport& transport, const std::string&) {
      greet(transport);
      int from = 0;
      std::string batch, packet, scratch;
      (void)transport.receive(from, batch, hpt::executors::wait_forever);
      // Rank 1 had the first batch (round-robin from rank 1): trial 0 is its.
      hpt::Step first;
      first.step = 1;
      hpt::detail::append_frame(packet, hpt::wire::StepsDone{.trial = 0, .points = {first}},
                                scratch);
      transport.send(0, packet);
    });
    CHECK_THAT(test_support::message_of(results.errors[0]),
               Catch::StartsWith("hpt::wire: rank 2 sent steps of trial 0, ") &&
                   (Catch::EndsWith("whose job runs on rank 1") ||
                    Catch::EndsWith("which is not running")));
    told_why(results);
  }
  SECTION("a message only the coordinator sends") {
    const auto results = with_rank_2([&](LocalTransport& transport, const std::string&) {
      std::string packet, scratch;
      hpt::detail::append_frame(packet, hpt::wire::Shutdown{}, scratch);
      transport.send(0, packet);
    });
    CHECK(test_support::message_of(results.errors[0]) ==
          "hpt::wire: rank 2 sent a shutdown message before answering the coordinator's greeting");
  }
  SECTION("a worker that fails says why") {
    const auto results = with_rank_2([&](LocalTransport& transport, const std::string&) {
      std::string packet, scratch;
      hpt::detail::append_frame(packet, hpt::wire::WorkerFailed{.what = "out of GPUs"}, scratch);
      transport.send(0, packet);
    });
    CHECK(test_support::message_of(results.errors[0]) == "hpt: worker rank 2 failed: out of GPUs");
  }
}

TEST_CASE("a worker refuses what a coordinator must not send, and says so", "[remote][faults]") {
  const hpt::GridSearch grid{.max_resource = 3};
  const auto with_coordinator = [&](std::string first_message) {
    return test_support::in_time(
        [&, first_message] {
          std::string told;
          auto results = run_ranks(2, [&](LocalTransport& transport) -> std::optional<hpt::Study> {
            if (transport.rank() == 1) {
              auto factory = [](const hpt::Config& config) {
                return std::make_unique<Moving>(config);
              };
              return hpt::detail::run_distributed_study(transport, "local", space, factory, grid,
                                                        hpt::NoStopping{}, hpt::StudyOptions{});
            }
            transport.send(1, first_message);
            int from = 0;
            std::string packet;
            (void)transport.receive(from, packet, hpt::executors::wait_forever);
            hpt::detail::for_each_frame(packet, from, [&](hpt::wire::Message&& message) {
              if (auto* failed = std::get_if<hpt::wire::WorkerFailed>(&message))
                told = failed->what;
            });
            // The closing handshake: the failed worker waits for this, then says goodbye.
            transport.send(1, hpt::wire::encode(hpt::wire::Shutdown{}));
            (void)transport.receive(from, packet, hpt::executors::wait_forever);
            hpt::detail::for_each_frame(packet, from, [&](hpt::wire::Message&& message) {
              if (!std::holds_alternative<hpt::wire::Shutdown>(message)) told += " (no goodbye)";
            });
            return std::nullopt;
          });
          return std::make_pair(std::move(results), told);
        },
        std::chrono::seconds(60));
  };
  SECTION("garbage") {
    const auto [results, told] = with_coordinator("GET / HTTP/1.1");
    const std::string thrown = test_support::message_of(results.errors[1]);
    CHECK_THAT(thrown, Catch::StartsWith("hpt::wire: from the coordinator: hpt::wire: not an hpt "
                                         "wire message: 14 bytes"));
    CHECK(told == thrown);
  }
  SECTION("jobs before the greeting") {
    const auto [results, told] = with_coordinator(hpt::wire::encode(hpt::wire::RunBatch{}));
    CHECK(test_support::message_of(results.errors[1]) ==
          "hpt::wire: rank 0 sent a run_batch message where its greeting (hello) was due");
    CHECK(told == test_support::message_of(results.errors[1]));
  }
}
