// hpt::SqliteStorage (issue 12): a study log in an SQLite file gives back what was appended, bit
// for bit, across storage objects (as a new process would see it), with MemoryStorage's
// checkpoint rules, in WAL mode, several studies to a file, one transaction per append.
#include <catch2/catch.hpp>
#include <hpt/study/sqlite_storage.hpp>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "exception_message.hpp"
#include "scratch_directory.hpp"
#include "sqlite_support.hpp"

using test_support::event_difference;
using test_support::message_of;
using test_support::RawDatabase;
using test_support::study_identity;

namespace {

constexpr double nan_with_bits(std::uint64_t bits) {
  return std::bit_cast<double>(bits);
}

// Doubles a REAL column, a JSON number or a text conversion could get wrong.
std::vector<double> edge_doubles() {
  using limits = std::numeric_limits<double>;
  return {0.0,
          -0.0,
          1.0,
          3.0,
          -3.0,
          0.1,
          1.0 / 3.0,
          limits::quiet_NaN(),
          -limits::quiet_NaN(),
          nan_with_bits(0x7ff0000000000001),  // signalling
          nan_with_bits(0xfff123456789abcd),
          nan_with_bits(0x7fffffffffffffff),
          limits::infinity(),
          -limits::infinity(),
          limits::denorm_min(),
          -limits::denorm_min(),
          nan_with_bits(0x000fffffffffffff),  // the largest subnormal
          limits::min(),
          limits::max(),
          -limits::max(),
          limits::epsilon(),
          9007199254740993.0,
          9.2233720368547758e18,  // 2^63: integral, beyond int64
          -9.2233720368547758e18,
          1e300,
          123456789012345678.0};
}

// Strings that quoting, escaping, NUL handling or UTF-8 could get wrong.
std::vector<std::string> edge_strings() {
  using namespace std::string_literals;
  return {""s,
          "plain"s,
          "\"quoted\", 'single'"s,
          "back\\slash \\\" \\u0041"s,
          "line\nfeed\r\ttab\b\f"s,
          "nul\0inside"s,
          "\0"s,
          "\x01\x1f\x7f"s,
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"s,  // é € 𝄞
          "\xff\xfe not UTF-8"s,
          "nan"s,
          "inf"s,
          "3"s,
          "{\"real\":\"nan\"}"s,
          std::string(5000, 'x')};
}

// Every event kind, with edge values in every field.
std::vector<hpt::StudyEvent> edge_events() {
  using limits64 = std::numeric_limits<std::int64_t>;
  std::vector<hpt::StudyEvent> events;
  hpt::Config config;
  config.set("yes", true);
  config.set("no", false);
  config.set("integer", 3);
  config.set("real", 3.0);
  config.set("int64 min", limits64::min());
  config.set("int64 max", limits64::max());
  config.set("zero", 0);
  int index = 0;
  for (double value : edge_doubles()) config.set("real " + std::to_string(index++), value);
  index = 0;
  for (const auto& text : edge_strings()) config.set("string " + std::to_string(index++), text);
  config.set(std::string("key \"with\" \\ and \0 and\n", 24), "odd key");
  events.emplace_back(hpt::TrialCreated{.trial = 0, .bracket = 0, .config = config});
  events.emplace_back(hpt::TrialCreated{.trial = 1, .bracket = 2147483647, .config = {}});
  // More than Config's linear-search limit of parameters, in a fixed order.
  hpt::Config wide;
  for (int i = 40; i > 0; --i) wide.set("p" + std::to_string(i), i % 2 ? hpt::Value(i) : 0.5 * i);
  events.emplace_back(hpt::TrialCreated{.trial = 2, .bracket = 1, .config = wide});
  events.emplace_back(hpt::JobStarted{
      .job = {.trial = 0, .resource = 1, .bracket = 0, .rung = 0, .last_rung = false},
      .restart = false});
  events.emplace_back(hpt::JobStarted{.job = {.trial = 1,
                                              .resource = limits64::max(),
                                              .bracket = 2147483647,
                                              .rung = 2147483647,
                                              .last_rung = true},
                                      .restart = true});
  std::int64_t step = 0;
  for (double objective : edge_doubles())
    events.emplace_back(
        hpt::StepRecorded{.trial = 0, .point = {.step = ++step, .objective = objective}});
  std::vector<std::pair<std::string, double>> metrics;
  index = 0;
  for (double value : edge_doubles()) metrics.emplace_back("m" + std::to_string(index++), value);
  for (const auto& text : edge_strings()) metrics.emplace_back(text, 2.5);
  metrics.emplace_back("m0", 1.0);  // a name reported twice
  events.emplace_back(hpt::StepRecorded{
      .trial = 0, .point = {.step = limits64::max(), .objective = -0.0, .values = metrics}});
  events.emplace_back(hpt::StepRecorded{.trial = 1, .point = {.step = 0}});  // NaN by default
  const hpt::TrialStatus statuses[] = {
      hpt::TrialStatus::pending,   hpt::TrialStatus::running,  hpt::TrialStatus::paused,
      hpt::TrialStatus::completed, hpt::TrialStatus::stopped,  hpt::TrialStatus::pruned,
      hpt::TrialStatus::failed,    hpt::TrialStatus::diverged, hpt::TrialStatus::interrupted};
  const hpt::FailureStage stages[] = {hpt::FailureStage::none,    hpt::FailureStage::construct,
                                      hpt::FailureStage::step,    hpt::FailureStage::save,
                                      hpt::FailureStage::restore, hpt::FailureStage::policy};
  const auto strings = edge_strings();
  const auto doubles = edge_doubles();
  for (std::size_t i = 0; i < std::size(statuses) * 3; ++i)
    events.emplace_back(hpt::JobEnded{.trial = i % 3,
                                      .status = statuses[i % std::size(statuses)],
                                      .reason = strings[i % strings.size()],
                                      .stopped_by = strings[(i + 5) % strings.size()],
                                      .failure = stages[i % std::size(stages)],
                                      .wall_seconds = doubles[i % doubles.size()],
                                      .steps_run = i == 0 ? limits64::max() : std::int64_t(i),
                                      .started = i % 4 != 1,
                                      .saved = false});
  events.emplace_back(hpt::TrialPruned{.trial = 2, .rung = 0, .reason = ""});
  events.emplace_back(hpt::TrialPruned{.trial = static_cast<std::size_t>(limits64::max()),
                                       .rung = 2147483647,
                                       .reason = strings[5]});
  events.emplace_back(hpt::StudyFinished{});
  return events;
}

void check_same_events(const std::vector<hpt::StudyEvent>& read,
                       const std::vector<hpt::StudyEvent>& written) {
  REQUIRE(read.size() == written.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    INFO("event " << i << " (" << hpt::event_kind(written[i]) << ")");
    CHECK(event_difference(read[i], written[i]) == "");
  }
}

}  // namespace

TEST_CASE("SQLite storage gives back every event kind bit for bit, across storage objects",
          "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "study.db";
  const auto events = edge_events();
  const auto identity = study_identity("edges");
  {
    auto storage = hpt::sqlite_storage(file);
    CHECK(storage->durable());
    CHECK(storage->open(identity, hpt::OpenMode::create).empty());
    // In three transactions of different sizes.
    const std::span<const hpt::StudyEvent> all(events);
    storage->append(all.subspan(0, 1));
    storage->append(all.subspan(1, 10));
    storage->append(all.subspan(11));
    // The same object, opened again.
    check_same_events(storage->open(identity, hpt::OpenMode::resume), events);
  }
  // A new object (what a new process sees): the file alone holds the study.
  auto again = hpt::sqlite_storage(file);
  check_same_events(again->open(identity, hpt::OpenMode::resume), events);
  // The log continues at the next seq.
  const std::vector<hpt::StudyEvent> more{hpt::StudyFinished{}, hpt::TrialPruned{.trial = 4}};
  again->append(more);
  again.reset();
  auto events_and_more = events;
  events_and_more.insert(events_and_more.end(), more.begin(), more.end());
  check_same_events(hpt::sqlite_storage(file)->open(identity, hpt::OpenMode::resume),
                    events_and_more);
  RawDatabase raw(file);
  CHECK(raw.value("SELECT min(seq) || ' ' || max(seq) || ' ' || count(*) FROM events") ==
        "1 " + std::to_string(events_and_more.size()) + " " +
            std::to_string(events_and_more.size()));
  // Kinds stay apart in the JSON: the integer 3 and the real 3.0.
  CHECK(raw.value("SELECT json_extract(config, '$.integer') || ' ' || "
                  "typeof(json_extract(config, '$.integer')) || ' ' || "
                  "typeof(json_extract(config, '$.real')) FROM events WHERE seq = 1") ==
        "3 integer real");
}

TEST_CASE("SQLite storage round-trips random doubles bit for bit", "[sqlite]") {
  test_support::ScratchDirectory scratch;
  std::mt19937_64 random(20240612);
  std::vector<hpt::StudyEvent> events;
  for (int i = 0; i < 400; ++i) {
    const double objective = std::bit_cast<double>(random());
    std::vector<std::pair<std::string, double>> metrics{{"a", std::bit_cast<double>(random())},
                                                        {"b", std::bit_cast<double>(random())}};
    events.emplace_back(hpt::StepRecorded{
        .trial = 0, .point = {.step = i, .objective = objective, .values = metrics}});
    hpt::Config config{{"x", std::bit_cast<double>(random())}};
    events.emplace_back(hpt::TrialCreated{.trial = 0, .config = config});
    events.emplace_back(hpt::JobEnded{.wall_seconds = std::bit_cast<double>(random())});
  }
  auto storage = hpt::sqlite_storage(scratch.path / "random.db");
  storage->open(study_identity("random"), hpt::OpenMode::create);
  storage->append(events);
  storage.reset();
  check_same_events(hpt::sqlite_storage(scratch.path / "random.db")
                        ->open(study_identity("random"), hpt::OpenMode::resume),
                    events);
}

TEST_CASE("SQLite storage keeps several studies in one file", "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "studies.db";
  const std::vector<hpt::StudyEvent> a{
      hpt::TrialCreated{.trial = 0, .config = {{"x", 1}}},
      hpt::JobEnded{
          .trial = 0, .status = hpt::TrialStatus::paused, .checkpoint = "A", .saved = true}};
  const std::vector<hpt::StudyEvent> b{
      hpt::TrialCreated{.trial = 0, .config = {{"x", 2.0}}},
      hpt::JobEnded{
          .trial = 0, .status = hpt::TrialStatus::paused, .checkpoint = "B", .saved = true},
      hpt::StudyFinished{}};
  {
    auto first = hpt::sqlite_storage(file);
    auto second = hpt::sqlite_storage(file);  // another connection to the same file
    first->open(study_identity("a"), hpt::OpenMode::create);
    second->open(study_identity("b", 8), hpt::OpenMode::create);
    // Interleaved transactions.
    first->append(std::span(a).subspan(0, 1));
    second->append(std::span(b).subspan(0, 2));
    first->append(std::span(a).subspan(1));
    second->append(std::span(b).subspan(2));
    CHECK(first->checkpoint(0) == "A");
    CHECK(second->checkpoint(0) == "B");
  }
  auto storage = hpt::sqlite_storage(file);
  check_same_events(storage->open(study_identity("b", 8), hpt::OpenMode::resume), b);
  CHECK(storage->checkpoint(0) == "B");
  check_same_events(storage->open(study_identity("a"), hpt::OpenMode::resume), a);
  CHECK(storage->checkpoint(0) == "A");
  // A third, empty one, and names that differ only in case or by a NUL are other studies.
  CHECK(storage->open(study_identity("A"), hpt::OpenMode::create).empty());
  CHECK(storage->open(study_identity(std::string("a\0b", 3)), hpt::OpenMode::create).empty());
  CHECK(storage->checkpoint(0) == std::nullopt);
  RawDatabase raw(file);
  CHECK(raw.value("SELECT count(*) FROM studies") == "4");
}

TEST_CASE("SQLite storage opens a study as the mode says", "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "modes.db";
  auto storage = hpt::sqlite_storage(file);
  const std::vector<hpt::StudyEvent> events{hpt::TrialCreated{.config = {{"x", 1}}}};

  CHECK_THAT(message_of([&] { storage->append(events); }),
             Catch::Contains("before open") && Catch::Contains(file.string()));
  CHECK_THAT(message_of([&] { storage->open(study_identity("s"), hpt::OpenMode::resume); }),
             Catch::Contains(file.string()) && Catch::Contains("no study \"s\" to resume"));
  CHECK_THROWS_AS(storage->open(study_identity("s"), hpt::OpenMode::resume), hpt::StorageError);
  // The refused resume created nothing.
  CHECK(storage->open(study_identity("s"), hpt::OpenMode::create).empty());
  storage->append(events);
  CHECK_THAT(message_of([&] { storage->open(study_identity("s"), hpt::OpenMode::create); }),
             Catch::Contains("study \"s\" exists already"));
  // A failed open leaves no study open.
  CHECK_THAT(message_of([&] { storage->append(events); }), Catch::Contains("before open"));
  check_same_events(storage->open(study_identity("s"), hpt::OpenMode::create_or_resume), events);
  CHECK(storage->open(study_identity("t"), hpt::OpenMode::create_or_resume).empty());
  check_same_events(storage->open(study_identity("s"), hpt::OpenMode::resume), events);
  CHECK(storage->open(study_identity("t"), hpt::OpenMode::resume).empty());
}

TEST_CASE("SQLite storage refuses to resume a study with other settings, naming the difference",
          "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "identity.db";
  constexpr auto max_seed = std::numeric_limits<std::uint64_t>::max();
  auto stored = study_identity("s", max_seed);
  stored.result = hpt::TrialResult::best_step;
  stored.policy = "NoStopping";
  hpt::sqlite_storage(file)->open(stored, hpt::OpenMode::create);
  auto storage = hpt::sqlite_storage(file);

  auto given = stored;
  given.version = "9.9.9";  // informative only
  CHECK(storage->open(given, hpt::OpenMode::resume).empty());
  CHECK(storage->open(stored, hpt::OpenMode::create_or_resume).empty());

  const auto refused = [&](auto change) {
    auto other = stored;
    change(other);
    return message_of([&] { storage->open(other, hpt::OpenMode::create_or_resume); });
  };
  CHECK_THAT(refused([](auto& i) { i.seed = max_seed - 1; }),
             Catch::Contains(file.string()) && Catch::Contains("study \"s\"") &&
                 Catch::Contains("seed: stored 18446744073709551615, given 18446744073709551614"));
  CHECK_THAT(refused([](auto& i) { i.seed = 0; }),
             Catch::Contains("seed: stored 18446744073709551615, given 0"));
  CHECK_THAT(refused([](auto& i) { i.direction = hpt::Direction::maximize; }),
             Catch::Contains("direction: stored minimize, given maximize"));
  CHECK_THAT(refused([](auto& i) { i.result = hpt::TrialResult::last_step; }),
             Catch::Contains("result rule: stored best_step, given last_step"));
  CHECK_THAT(refused([](auto& i) { i.space = "x: uniform(0, 1)\nkind: choice(a, c)"; }),
             Catch::Contains("search space, line 2: stored \"kind: choice(a, b)\", given "
                             "\"kind: choice(a, c)\""));
  CHECK_THAT(refused([](auto& i) { i.strategy += "\nbracket 1"; }),
             Catch::Contains("strategy, line 2"));
  CHECK_THAT(refused([](auto& i) { i.policy = "Patience(patience=3)"; }),
             Catch::Contains("stopping policy: stored NoStopping, given Patience(patience=3)") &&
                 Catch::EndsWith("(to continue it with these settings anyway, open it with "
                                 "OpenMode::resume_changed)"));
  // An unknown policy (empty: one without settings()) is not compared.
  CHECK(refused([](auto& i) { i.policy.clear(); }) == "(no exception)");
  // resume_changed opens it whatever the settings; it must exist.
  auto changed = stored;
  changed.seed = 5;
  changed.policy = "Patience(patience=3)";
  CHECK(storage->open(changed, hpt::OpenMode::resume_changed).empty());
  CHECK_THAT(
      message_of([&] { storage->open(study_identity("nowhere"), hpt::OpenMode::resume_changed); }),
      Catch::EndsWith("no study \"nowhere\" to resume"));
  // Seeds from 2^63 up survive as the number they are.
  RawDatabase raw(file);
  CHECK(raw.value("SELECT seed FROM studies WHERE name = 's'") == "18446744073709551615");
  for (std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1} << 63, max_seed - 1}) {
    const auto identity = study_identity("seed " + std::to_string(seed), seed);
    storage->open(identity, hpt::OpenMode::create);
    CHECK(hpt::sqlite_storage(file)->open(identity, hpt::OpenMode::resume).empty());
  }
}

namespace {

// A random log for `trials` trials, in random batches: every status, started or not, saved or
// not (empty checkpoints too), prunings and other events between.
std::vector<std::vector<hpt::StudyEvent>> random_batches(std::mt19937_64& random,
                                                         std::vector<std::string>& texts,
                                                         std::size_t trials, int events) {
  const hpt::TrialStatus statuses[] = {
      hpt::TrialStatus::pending,   hpt::TrialStatus::running,  hpt::TrialStatus::paused,
      hpt::TrialStatus::completed, hpt::TrialStatus::stopped,  hpt::TrialStatus::pruned,
      hpt::TrialStatus::failed,    hpt::TrialStatus::diverged, hpt::TrialStatus::interrupted};
  texts.reserve(texts.size() + static_cast<std::size_t>(events));  // checkpoints point into it
  std::vector<std::vector<hpt::StudyEvent>> batches(1);
  for (int i = 0; i < events; ++i) {
    const std::size_t trial = random() % trials;
    const auto pick = random() % 10;
    if (pick < 6) {
      hpt::JobEnded ended{.trial = trial};
      // Paused half the time, the store case.
      ended.status = random() % 2 ? hpt::TrialStatus::paused : statuses[random() % 9];
      ended.started = random() % 5 != 0;
      ended.saved = random() % 4 != 0;
      if (ended.saved) {
        texts.push_back(random() % 5 == 0
                            ? std::string{}
                            : "checkpoint " + std::to_string(i) + std::string(1, '\0'));
        ended.checkpoint = texts.back();
      }
      batches.back().emplace_back(ended);
    } else if (pick < 8) {
      batches.back().emplace_back(hpt::TrialPruned{.trial = trial, .rung = 1});
    } else {
      batches.back().emplace_back(hpt::JobStarted{.job = {.trial = trial}});
    }
    if (random() % 3 == 0) batches.emplace_back();
  }
  return batches;
}

}  // namespace

TEST_CASE("SQLite storage keeps, stores and drops checkpoints as MemoryStorage does",
          "[sqlite][checkpoint]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "checkpoints.db";
  std::mt19937_64 random(12);
  constexpr std::size_t trials = 5;
  for (int study = 0; study < 12; ++study) {
    INFO("study " << study);
    std::vector<std::string> texts;
    const auto batches = random_batches(random, texts, trials, 150);
    const auto identity = study_identity("study " + std::to_string(study));
    hpt::MemoryStorage memory(true);
    memory.open(identity, hpt::OpenMode::create);
    auto storage = hpt::sqlite_storage(file);
    storage->open(identity, hpt::OpenMode::create);
    std::size_t stored = 0, kept = 0;
    for (std::size_t batch = 0; batch < batches.size(); ++batch) {
      memory.append(batches[batch]);
      storage->append(batches[batch]);
      for (std::size_t trial = 0; trial <= trials; ++trial) {
        INFO("after batch " << batch << ", trial " << trial);
        const auto expected = memory.checkpoint(trial);
        CHECK(storage->checkpoint(trial) == expected);
        stored += expected.has_value();
      }
      for (const auto& event : batches[batch])
        if (const auto* ended = std::get_if<hpt::JobEnded>(&event))
          kept += hpt::keeps_checkpoint(*ended) && ended->saved;
    }
    // Each rule was exercised.
    CHECK(stored > 0);
    CHECK(kept > 0);
    // A new storage object answers the same from the file alone.
    storage = hpt::sqlite_storage(file);
    check_same_events(storage->open(identity, hpt::OpenMode::resume), memory.events(identity.name));
    for (std::size_t trial = 0; trial <= trials; ++trial) {
      INFO("reopened, trial " << trial);
      CHECK(storage->checkpoint(trial) == memory.checkpoint(trial));
    }
  }
}

TEST_CASE("SQLite storage: the checkpoint rules one by one", "[sqlite][checkpoint]") {
  test_support::ScratchDirectory scratch;
  auto storage = hpt::sqlite_storage(scratch.path / "rules.db");
  storage->open(study_identity("s"), hpt::OpenMode::create);
  const auto ended = [](hpt::TrialStatus status, std::string_view checkpoint, bool saved,
                        bool started = true) {
    return hpt::StudyEvent(hpt::JobEnded{.trial = 3,
                                         .status = status,
                                         .started = started,
                                         .checkpoint = checkpoint,
                                         .saved = saved});
  };
  const auto append = [&](hpt::StudyEvent event) { storage->append(std::span(&event, 1)); };
  const std::string weights("w\0\xff", 3);
  append(ended(hpt::TrialStatus::paused, weights, true));
  CHECK(storage->checkpoint(3) == weights);  // a saved pause stores
  CHECK(storage->checkpoint(2) == std::nullopt);
  append(ended(hpt::TrialStatus::interrupted, "other", true));
  CHECK(storage->checkpoint(3) == weights);  // an interrupted end keeps
  append(ended(hpt::TrialStatus::paused, "other", true, false));
  CHECK(storage->checkpoint(3) == weights);  // so does an unstarted one
  append(ended(hpt::TrialStatus::paused, "", true));
  CHECK(storage->checkpoint(3) == "");  // an empty save is a save
  append(ended(hpt::TrialStatus::paused, "", false));
  CHECK(storage->checkpoint(3) == std::nullopt);  // a pause without a save drops
  append(ended(hpt::TrialStatus::paused, weights, true));
  append(ended(hpt::TrialStatus::completed, "", false));
  CHECK(storage->checkpoint(3) == std::nullopt);  // any other end drops
  append(ended(hpt::TrialStatus::paused, weights, true));
  append(hpt::TrialPruned{.trial = 3});
  CHECK(storage->checkpoint(3) == std::nullopt);  // a pruning drops
  append(ended(hpt::TrialStatus::paused, weights, true));
  append(ended(hpt::TrialStatus::failed, weights, true));
  CHECK(storage->checkpoint(3) == std::nullopt);  // a save with another status drops too
  CHECK(storage->checkpoint(std::numeric_limits<std::size_t>::max()) == std::nullopt);
}

TEST_CASE("SQLite storage: an append is one transaction, all of it or none", "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "atomic.db";
  const auto identity = study_identity("s");
  auto storage = hpt::sqlite_storage(file);
  storage->open(identity, hpt::OpenMode::create);
  const std::vector<hpt::StudyEvent> first{hpt::TrialCreated{.config = {{"x", 1}}}};
  storage->append(first);

  SECTION("a value the table cannot hold: nothing is written") {
    const std::vector<hpt::StudyEvent> bad{hpt::StepRecorded{.trial = 0, .point = {.step = 1}},
                                           hpt::JobStarted{.job = {.trial = 0, .bracket = -1}}};
    CHECK_THAT(message_of([&] { storage->append(bad); }),
               Catch::Contains(file.string()) && Catch::Contains("study \"s\"") &&
                   Catch::Contains("seq 3 (job_started), column \"bracket\": -1 is negative"));
    const std::vector<hpt::StudyEvent> huge{hpt::TrialPruned{
        .trial = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()) + 1}};
    CHECK_THAT(message_of([&] { storage->append(huge); }),
               Catch::Contains("column \"trial\"") && Catch::Contains("beyond"));
    for (const hpt::StudyEvent& event : {hpt::StudyEvent(hpt::JobStarted{.job = {.resource = -1}}),
                                         hpt::StudyEvent(hpt::JobStarted{.job = {.rung = -1}}),
                                         hpt::StudyEvent(hpt::StepRecorded{.point = {.step = -1}}),
                                         hpt::StudyEvent(hpt::JobEnded{.steps_run = -1}),
                                         hpt::StudyEvent(hpt::TrialPruned{.rung = -1}),
                                         hpt::StudyEvent(hpt::TrialCreated{.bracket = -1})})
      CHECK_THROWS_AS(storage->append(std::span(&event, 1)), hpt::StorageError);
  }
  SECTION("SQLite fails in the middle: the transaction is rolled back") {
    {
      RawDatabase raw(file);
      raw.execute(
          "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'study_finished' "
          "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
    }
    const std::vector<hpt::StudyEvent> batch{
        hpt::StepRecorded{.trial = 0, .point = {.step = 1, .objective = 0.5}},
        hpt::JobEnded{
            .trial = 0, .status = hpt::TrialStatus::paused, .checkpoint = "saved", .saved = true},
        hpt::StudyFinished{}};
    CHECK_THAT(message_of([&] { storage->append(batch); }),
               Catch::Contains(file.string()) && Catch::Contains("appending to study \"s\"") &&
                   Catch::Contains("refused by the test"));
    CHECK(storage->checkpoint(0) == std::nullopt);  // the checkpoint went with the events
    RawDatabase(file).execute("DROP TRIGGER refuse");
  }
  SECTION("another writer holds the lock: the append waits, then fails, storing nothing") {
    storage = hpt::sqlite_storage(file, {.busy_timeout = std::chrono::milliseconds(50)});
    storage->open(identity, hpt::OpenMode::resume);
    RawDatabase raw(file);
    raw.execute("BEGIN IMMEDIATE");
    const auto start = std::chrono::steady_clock::now();
    CHECK_THAT(message_of([&] { storage->append(first); }),
               Catch::Contains(file.string()) && Catch::Contains("locked"));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(40));
    raw.execute("ROLLBACK");
  }
  // Whatever failed, the log holds the first append and continues after it.
  const std::vector<hpt::StudyEvent> next{hpt::StudyFinished{}};
  storage->append(next);
  auto all = first;
  all.insert(all.end(), next.begin(), next.end());
  check_same_events(hpt::sqlite_storage(file)->open(identity, hpt::OpenMode::resume), all);
}

TEST_CASE("SQLite sessions of one study read each other's events in one order", "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "two_writers.db";
  auto one = hpt::sqlite_storage(file);
  auto two = hpt::sqlite_storage(file);
  one->open(study_identity("s"), hpt::OpenMode::create);
  two->open(study_identity("s"), hpt::OpenMode::resume);
  CHECK(one->session() != 0);
  CHECK(two->session() != 0);
  CHECK(one->session() != two->session());
  const std::vector<hpt::StudyEvent> created{hpt::TrialCreated{0, 0, {}}};
  one->append(created);
  // append() refuses to write over events this session has not read...
  CHECK_THAT(message_of([&] { two->append(created); }),
             Catch::Contains("another session appended"));
  // ... which lock() hands over, inside the transaction that then appends.
  CHECK(two->wait_for_news(std::chrono::milliseconds(0)));
  const auto news = two->lock();
  REQUIRE(news.size() == 1);
  CHECK(std::holds_alternative<hpt::TrialCreated>(news[0]));
  const std::vector<hpt::StudyEvent> finished{hpt::StudyFinished{}};
  two->commit(finished);
  CHECK_FALSE(two->wait_for_news(std::chrono::milliseconds(0)));
  const auto seen = one->lock();
  REQUIRE(seen.size() == 1);
  CHECK(std::holds_alternative<hpt::StudyFinished>(seen[0]));
  one->commit({});
  CHECK(hpt::sqlite_storage(file)->open(study_identity("s"), hpt::OpenMode::resume).size() == 2);
}

TEST_CASE(
    "SQLite sessions are gone when they end, when their process dies, or when their "
    "lease lapses",
    "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "sessions.db";
  hpt::SqliteOptions quick{.heartbeat_interval = std::chrono::milliseconds(10),
                           .lease_timeout = std::chrono::milliseconds(200)};
  auto watcher = hpt::sqlite_storage(file, quick);
  watcher->open(study_identity("s"), hpt::OpenMode::create);
  auto live = hpt::sqlite_storage(file, quick);
  live->open(study_identity("s"), hpt::OpenMode::resume);
  auto ended = hpt::sqlite_storage(file, quick);
  ended->open(study_identity("s"), hpt::OpenMode::resume);
  const std::uint64_t live_id = live->session(), ended_id = ended->session();
  ended->close();
  const auto gone_of = [&](std::vector<std::uint64_t> sessions) {
    (void)watcher->lock();
    auto gone = watcher->gone(sessions);
    watcher->commit({});
    return gone;
  };
  auto gone = gone_of({live_id, ended_id, 999});
  REQUIRE(gone.size() == 2);
  CHECK(gone[0].session == ended_id);
  CHECK_THAT(gone[0].reason, Catch::Contains("has ended"));
  CHECK(gone[1].session == 999);
  CHECK_THAT(gone[1].reason, Catch::Contains("not in the file"));
  // A live session renews its lease: still there after several lease timeouts.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(gone_of({live_id}).empty());
  // A dead process on this machine is gone at once; a stale lease is gone after its timeout.
  RawDatabase raw(file);
  raw.execute("UPDATE sessions SET pid = 2147483647 WHERE id = " + std::to_string(live_id));
  gone = gone_of({live_id});
  REQUIRE(gone.size() == 1);
  CHECK_THAT(gone[0].reason, Catch::Contains("is no longer running"));
  // Another machine's session (its process cannot be looked up) whose lease has lapsed; its
  // heartbeat is slow enough not to renew the lease meanwhile.
  auto sleepy = hpt::sqlite_storage(file, {.heartbeat_interval = std::chrono::seconds(60),
                                           .lease_timeout = std::chrono::seconds(120)});
  sleepy->open(study_identity("s"), hpt::OpenMode::resume);
  raw.execute("UPDATE sessions SET host = 'elsewhere', heartbeat = heartbeat - 3600 WHERE id = " +
              std::to_string(sleepy->session()));
  gone = gone_of({sleepy->session()});
  REQUIRE(gone.size() == 1);
  CHECK_THAT(gone[0].reason,
             Catch::Contains("renewed its lease") && Catch::Contains("lease_timeout 0.2 s"));
}

TEST_CASE("SqliteOptions refuses bad lease settings, naming them", "[sqlite]") {
  const auto refused = [](hpt::SqliteOptions options) {
    try {
      options.validate();
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(refused({.heartbeat_interval = std::chrono::milliseconds(0)}),
             Catch::Contains("heartbeat_interval = 0 ms must be positive"));
  CHECK_THAT(refused({.poll_interval = std::chrono::milliseconds(-1)}),
             Catch::Contains("poll_interval = -1 ms must be positive"));
  CHECK_THAT(refused({.heartbeat_interval = std::chrono::milliseconds(100),
                      .lease_timeout = std::chrono::milliseconds(150)}),
             Catch::Contains("lease_timeout = 150 ms must be at least twice heartbeat_interval"));
}

TEST_CASE("SQLite storage puts the file in WAL mode with the chosen synchronous setting",
          "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "wal.db";
  {
    auto storage = hpt::sqlite_storage(file);
    CHECK(storage->options().synchronous == hpt::SqliteSync::normal);
    CHECK(storage->file() == file);
    // synchronous belongs to a connection: asked of the storage's own.
    CHECK(RawDatabase::value_of(storage->native_handle(), "PRAGMA synchronous") == "1");  // NORMAL
    CHECK(RawDatabase::value_of(storage->native_handle(), "PRAGMA busy_timeout") == "60000");
    RawDatabase raw(file);  // journal_mode and application_id belong to the file
    CHECK(raw.value("PRAGMA journal_mode") == "wal");
    CHECK(raw.value("PRAGMA application_id") == std::to_string(0x68707431));
    CHECK(raw.value("SELECT version FROM hpt_schema") == "1");
  }
  auto full = hpt::sqlite_storage(
      file, {.synchronous = hpt::SqliteSync::full, .busy_timeout = std::chrono::milliseconds(5)});
  CHECK(RawDatabase::value_of(full->native_handle(), "PRAGMA synchronous") == "2");  // FULL
  CHECK(RawDatabase::value_of(full->native_handle(), "PRAGMA busy_timeout") == "5");
  CHECK(RawDatabase(file).value("PRAGMA journal_mode") == "wal");
}

TEST_CASE("SqliteOptions::validate names the field and the value", "[sqlite]") {
  CHECK_NOTHROW(hpt::SqliteOptions{}.validate());
  CHECK_NOTHROW(hpt::SqliteOptions{.busy_timeout = std::chrono::milliseconds(0)}.validate());
  CHECK_THAT(message_of([] {
               hpt::SqliteOptions{.busy_timeout = std::chrono::milliseconds(-1)}.validate();
             }),
             Catch::Contains("hpt::SqliteOptions: busy_timeout = -1 ms is negative"));
  CHECK_THAT(message_of([] {
               hpt::SqliteOptions{.busy_timeout = std::chrono::hours(24 * 30)}.validate();
             }),
             Catch::Contains("busy_timeout = 2592000000 ms is more than 2147483647 ms"));
  CHECK_THAT(message_of([] {
               hpt::SqliteOptions{.synchronous = static_cast<hpt::SqliteSync>(7)}.validate();
             }),
             Catch::Contains("synchronous = 7"));
  test_support::ScratchDirectory scratch;
  CHECK_THROWS_AS(hpt::sqlite_storage(scratch.path / "never.db",
                                      {.busy_timeout = std::chrono::milliseconds(-5)}),
                  std::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(scratch.path / "never.db"));
}

TEST_CASE("SQLite storage: the views list trials and the steps a resumed study keeps",
          "[sqlite][views]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "views.db";
  auto storage = hpt::sqlite_storage(file);
  storage->open(study_identity("s"), hpt::OpenMode::create);
  using S = hpt::TrialStatus;
  const auto step = [](std::size_t trial, std::int64_t n, double objective) {
    return hpt::StepRecorded{
        .trial = trial, .point = {.step = n, .objective = objective, .values = {{"acc", 0.5}}}};
  };
  const std::vector<hpt::StudyEvent> events{
      hpt::TrialCreated{.trial = 0, .config = {{"lr", 0.1}}},
      hpt::TrialCreated{.trial = 1, .config = {{"lr", 0.01}}},
      hpt::TrialCreated{.trial = 2, .config = {{"lr", 0.001}}},
      hpt::JobStarted{.job = {.trial = 0, .resource = 2}},
      step(0, 1, 0.9),
      step(0, 2, 0.8),
      hpt::JobEnded{.trial = 0, .status = S::paused, .steps_run = 2},
      hpt::JobStarted{.job = {.trial = 1, .resource = 2}},
      step(1, 1, 0.7),  // cut short by a crash: void, run again
      hpt::JobStarted{.job = {.trial = 1, .resource = 2}, .restart = true},
      step(1, 1, 0.7),
      step(1, 2, NAN),
      hpt::JobEnded{.trial = 1, .status = S::diverged, .reason = "NaN", .steps_run = 2},
      hpt::JobStarted{.job = {.trial = 2, .resource = 2}},
      step(2, 1, 0.95),  // interrupted: void
      hpt::JobEnded{.trial = 2, .status = S::interrupted, .steps_run = 1},
      hpt::TrialPruned{.trial = 0, .rung = 0, .reason = "not in the top third"},
  };
  storage->append(events);
  RawDatabase raw(file);
  CHECK(raw.rows("SELECT trial, status, reason, steps, last_step, objective, "
                 "json_extract(config, '$.lr') FROM trials WHERE study = 's' ORDER BY trial") ==
        std::vector<std::string>{"0|pruned|not in the top third|2|2|0.8|0.1",
                                 "1|diverged|NaN|2|2|NULL|0.01",
                                 "2|interrupted||0|NULL|NULL|0.001"});
  CHECK(raw.rows("SELECT trial, step, objective, json_extract(metrics, '$.acc') FROM steps "
                 "WHERE study = 's' ORDER BY seq") ==
        std::vector<std::string>{"0|1|0.9|0.5", "0|2|0.8|0.5", "1|1|0.7|0.5", "1|2|NULL|0.5"});
  // The examples of docs/storage.md.
  CHECK(raw.rows("SELECT name, direction, seed FROM studies") ==
        std::vector<std::string>{"s|minimize|7"});
  CHECK(raw.rows("SELECT status, count(*) FROM trials WHERE study = 's' GROUP BY status "
                 "ORDER BY status") ==
        std::vector<std::string>{"diverged|1", "interrupted|1", "pruned|1"});
  CHECK(raw.rows("SELECT trial, objective, json_extract(config, '$.lr') AS lr FROM trials "
                 "WHERE study = 's' AND objective IS NOT NULL ORDER BY objective LIMIT 5") ==
        std::vector<std::string>{"0|0.8|0.1"});
  CHECK(raw.rows("SELECT step, objective, json_extract(metrics, '$.acc') FROM steps "
                 "WHERE study = 's' AND trial = 1 ORDER BY seq") ==
        std::vector<std::string>{"1|0.7|0.5", "2|NULL|0.5"});
  CHECK(raw.rows("SELECT e.seq, e.kind, e.trial FROM events AS e JOIN studies AS s "
                 "ON s.id = e.study WHERE s.name = 's' AND e.trial = 2 ORDER BY e.seq") ==
        std::vector<std::string>{"3|trial_created|2", "14|job_started|2", "15|step|2",
                                 "16|job_ended|2"});
}

TEST_CASE("SQLite storage reads files made before it stored the stopping policy", "[sqlite]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "old.db";
  auto identity = study_identity("old");
  identity.policy = "NoStopping";
  {
    auto storage = hpt::sqlite_storage(file);
    storage->open(identity, hpt::OpenMode::create);
    storage->close();
  }
  const auto columns = [&] {
    RawDatabase raw(file);
    return raw.value("SELECT count(*) FROM pragma_table_info('studies') WHERE name = 'policy'");
  };
  {
    RawDatabase raw(file);
    raw.execute("ALTER TABLE studies DROP COLUMN policy");  // as files of earlier versions are
  }
  REQUIRE(columns() == "0");
  {
    // Inspection reads the file as it is, and does not change it.
    hpt::SqliteOptions inspect;
    inspect.create = false;
    hpt::SqliteStorage reader(file, inspect);
    const hpt::StoredLog log = reader.read_study("old");
    CHECK(log.identity.policy.empty());
    CHECK(log.identity.seed == identity.seed);
  }
  CHECK(columns() == "0");
  // A program that runs studies adds the column; the old study's policy is unknown, so any
  // policy resumes it, and a new study stores its own.
  auto storage = hpt::sqlite_storage(file);
  CHECK(columns() == "1");
  auto given = identity;
  given.policy = "Patience(patience=3)";
  CHECK(storage->open(given, hpt::OpenMode::resume).empty());
  auto fresh = study_identity("new");
  fresh.policy = "Patience(patience=3)";
  storage->open(fresh, hpt::OpenMode::create);
  RawDatabase raw(file);
  CHECK(raw.rows("SELECT name, policy FROM studies ORDER BY id") ==
        std::vector<std::string>{"old|", "new|Patience(patience=3)"});
}
