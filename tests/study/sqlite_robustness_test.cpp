// hpt::SqliteStorage on damaged and foreign files (issue 12): a file that is not SQLite, is
// truncated or overwritten, belongs to another application or to a newer hpt is refused with a
// StorageError naming the file; a hand-corrupted row is refused naming the study, the event's
// seq and the column. Never a crash, undefined behaviour or another exception.
#include <catch2/catch.hpp>
#include <hpt/study/sqlite_storage.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "exception_message.hpp"
#include "scratch_directory.hpp"
#include "sqlite_support.hpp"

using test_support::message_of;
using test_support::RawDatabase;
using test_support::study_identity;

namespace {

namespace fs = std::filesystem;

// Study "s", seq by seq (the corruption cases below name these seqs), then study "t".
const std::vector<hpt::StudyEvent>& pristine_events() {
  static const std::vector<hpt::StudyEvent> events{
      hpt::TrialCreated{.trial = 0, .config = {{"x", 0.5}, {"n", 3}}},  // 1
      hpt::JobStarted{.job = {.trial = 0, .resource = 3}},              // 2
      hpt::StepRecorded{.trial = 0,
                        .point = {.step = 1, .objective = 0.25, .values = {{"loss", 0.5}}}},  // 3
      hpt::StepRecorded{.trial = 0, .point = {.step = 2}},  // 4: objective NaN
      hpt::JobEnded{.trial = 0,
                    .status = hpt::TrialStatus::paused,
                    .steps_run = 2,
                    .checkpoint = "ckpt",
                    .saved = true},                              // 5
      hpt::TrialPruned{.trial = 0, .rung = 0, .reason = "low"},  // 6
      hpt::TrialCreated{.trial = 1, .config = {{"x", 0.75}}},    // 7
      hpt::JobEnded{.trial = 1,
                    .status = hpt::TrialStatus::paused,
                    .wall_seconds = -0.0,
                    .checkpoint = "weights",
                    .saved = true},  // 8: wall_seconds -0.0
      hpt::StudyFinished{},          // 9
  };
  return events;
}

void write_pristine(const fs::path& file) {
  auto storage = hpt::sqlite_storage(file);
  storage->open(study_identity("s"), hpt::OpenMode::create);
  storage->append(pristine_events());
  storage->open(study_identity("t"), hpt::OpenMode::create);
  storage->append(pristine_events());
}

// Opens study "s" and reads all of it: its events and its checkpoints.
void read_study(const fs::path& file, const std::string& name = "s") {
  auto storage = hpt::sqlite_storage(file);
  (void)storage->open(study_identity(name), hpt::OpenMode::resume);
  for (std::size_t trial = 0; trial < 3; ++trial) (void)storage->checkpoint(trial);
}

}  // namespace

TEST_CASE("SQLite storage refuses a file that is not an SQLite database", "[sqlite][robustness]") {
  test_support::ScratchDirectory scratch;
  for (const std::string& bytes : {std::string("hello"), std::string(5000, 'x'),
                                   std::string("SQLite format 3") + std::string(4096, '\xff')}) {
    const auto file = scratch.path / "not_sqlite.db";
    test_support::write_bytes(file, bytes);
    const std::string message = message_of([&] { hpt::sqlite_storage(file); });
    INFO(message);
    CHECK_THAT(message, Catch::StartsWith("hpt::SqliteStorage: \"" + file.string() + "\"") &&
                            Catch::Contains("not an SQLite database, or a damaged one"));
    CHECK_THROWS_AS(hpt::sqlite_storage(file), hpt::StorageError);
    CHECK(test_support::file_bytes(file) == bytes);  // left as it was
  }
  // Paths SQLite cannot open at all.
  CHECK_THAT(message_of([&] { hpt::sqlite_storage(scratch.path); }),
             Catch::Contains(scratch.path.string()) && Catch::Contains("opening the file"));
  CHECK_THROWS_AS(hpt::sqlite_storage(scratch.path / "missing" / "x.db"), hpt::StorageError);
  // An empty file is a new database.
  test_support::write_bytes(scratch.path / "empty.db", "");
  CHECK(hpt::sqlite_storage(scratch.path / "empty.db")
            ->open(study_identity("s"), hpt::OpenMode::create_or_resume)
            .empty());
}

TEST_CASE("SQLite storage refuses another application's database and leaves it alone",
          "[sqlite][robustness]") {
  test_support::ScratchDirectory scratch;
  const auto file = scratch.path / "foreign.db";
  {
    RawDatabase raw(file);
    raw.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
    raw.execute("INSERT INTO notes (text) VALUES ('mine')");
  }
  const std::string before = test_support::file_bytes(file);
  CHECK_THAT(message_of([&] { hpt::sqlite_storage(file); }),
             Catch::Contains(file.string()) && Catch::Contains("another application") &&
                 Catch::Contains("has tables, but not hpt's"));
  CHECK(test_support::file_bytes(file) == before);
  CHECK(RawDatabase(file).value("PRAGMA journal_mode") == "delete");  // not switched to WAL

  // Another application's id, even on an empty database.
  const auto marked = scratch.path / "marked.db";
  RawDatabase(marked).execute("PRAGMA application_id = 42");
  CHECK_THAT(message_of([&] { hpt::sqlite_storage(marked); }),
             Catch::Contains("belongs to another application (application_id 42)"));
  // hpt's id without hpt's tables.
  const auto hollow = scratch.path / "hollow.db";
  RawDatabase(hollow).execute("PRAGMA application_id = " + std::to_string(0x68707431));
  CHECK_THAT(message_of([&] { hpt::sqlite_storage(hollow); }),
             Catch::Contains(hollow.string()) && Catch::Contains("no tables: damaged"));
}

TEST_CASE("SQLite storage refuses a file of a newer hpt or with a damaged schema table",
          "[sqlite][robustness]") {
  test_support::ScratchDirectory scratch;
  const auto pristine = scratch.path / "pristine.db";
  write_pristine(pristine);
  struct Case {
    std::string sql, expected;
  };
  const std::vector<Case> cases{
      {"UPDATE hpt_schema SET version = 2",
       "written by a newer hpt (schema version 2; this hpt reads version 1)"},
      {"UPDATE hpt_schema SET version = 9223372036854775807", "newer hpt"},
      {"UPDATE hpt_schema SET version = 0", "schema version 0, which no hpt writes"},
      {"UPDATE hpt_schema SET version = 'one'", "must hold one integer"},
      {"INSERT INTO hpt_schema VALUES (1)", "must hold one integer"},
      {"DELETE FROM hpt_schema", "holds no schema version"},
      {"DROP TABLE hpt_schema", "no table hpt_schema"},
  };
  for (const auto& c : cases) {
    INFO(c.sql);
    const auto file = scratch.path / "case.db";
    fs::copy_file(pristine, file, fs::copy_options::overwrite_existing);
    RawDatabase(file).execute(c.sql);
    CHECK_THAT(message_of([&] { hpt::sqlite_storage(file); }),
               Catch::Contains(file.string()) && Catch::Contains(c.expected));
    CHECK_THROWS_AS(hpt::sqlite_storage(file), hpt::StorageError);
  }
}

TEST_CASE("SQLite storage refuses hand-corrupted rows, naming the study, the seq and the column",
          "[sqlite][robustness]") {
  test_support::ScratchDirectory scratch;
  const auto pristine = scratch.path / "pristine.db";
  write_pristine(pristine);
  read_study(pristine);  // the pristine file reads
  struct Case {
    std::string set;  // what to UPDATE in study "s"'s row
    int seq;
    std::string column, expected;
  };
  const std::vector<Case> cases{
      // NULL where a value is required.
      {"trial = NULL", 3, "trial", "expected an integer, got NULL"},
      {"started = NULL", 5, "started", "expected an integer, got NULL"},
      {"failure = NULL", 5, "failure", "expected text, got NULL"},
      {"objective = NULL", 3, "objective", "expected a real number, got NULL"},
      {"config = NULL", 1, "config", "expected text, got NULL"},
      // A wrong type.
      {"trial = 'abc'", 3, "trial", "expected an integer, got the text \"abc\""},
      {"trial = 1.5", 3, "trial", "expected an integer, got the real 1.5"},
      {"step = 1e300", 3, "step", "expected an integer, got the real 1e+300"},
      {"objective = 'abc'", 3, "objective", "expected a real number, got the text \"abc\""},
      {"reason = X'00ff'", 6, "reason", "expected text, got a blob of 2 bytes"},
      {"config = X'7b7d'", 1, "config", "expected text, got a blob of 2 bytes"},
      {"objective_bits = 'x'", 4, "objective_bits", "expected NULL or an integer"},
      // Unknown labels.
      {"kind = 'bogus'", 2, "kind", "unknown event kind \"bogus\""},
      {"kind = 'Step'", 3, "kind", "unknown event kind \"Step\""},
      {"status = 'exploded'", 5, "status", "unknown trial status \"exploded\""},
      {"failure = 'kaboom'", 5, "failure", "unknown failure stage \"kaboom\""},
      {"kind = '" + std::string(500, 'k') + "'", 2, "kind", "(500 characters)"},
      // Out of range: negative or huge numbers.
      {"trial = -1", 2, "trial", "-1 is out of range (an integer from 0 to"},
      {"resource = -5", 2, "resource", "-5 is out of range"},
      {"bracket = 9223372036854775807", 1, "bracket",
       "9223372036854775807 is out of range (an integer from 0 to 2147483647)"},
      {"rung = 2147483648", 6, "rung", "2147483648 is out of range"},
      {"restart = 2", 2, "restart", "2 is out of range (an integer from 0 to 1)"},
      {"saved = -1", 5, "saved", "-1 is out of range (an integer from 0 to 1)"},
      {"steps_run = -9223372036854775808", 5, "steps_run", "is out of range"},
      // A value where the kind has none.
      {"bracket = 0", 3, "bracket", "expected NULL for this kind, got the integer 0"},
      {"reason = ''", 3, "reason", "expected NULL for this kind, got the text \"\""},
      {"trial = 0", 9, "trial", "expected NULL for this kind"},
      // Malformed JSON, and values of kinds that do not exist.
      {"config = '{\"x\": 0.5'", 1, "config", "malformed JSON"},
      {"config = 'not json'", 1, "config", "expected a JSON object"},
      {"config = '[1, 2]'", 1, "config", "expected a JSON object"},
      {"config = '{\"x\": 0.5} trailing'", 1, "config", "text after the object"},
      {"config = '{\"x\": null}'", 1, "config", "null is not a value here"},
      {"config = '{\"x\": [1]}'", 1, "config", "an array is not a value here"},
      {"config = '{\"x\": {\"n\": 1}}'", 1, "config", "an object is a value only as"},
      {"config = '{\"x\": {\"real\": \"bogus\"}}'", 1, "config", "an object is a value only as"},
      {"config = '{\"x\": {\"real\": \"nan:0000000000000001\"}}'", 1, "config",
       "an object is a value only as"},  // those bits are not a NaN
      {"config = '{\"x\": 1, \"x\": 2}'", 1, "config", "parameter \"x\" is set twice"},
      {"config = '{\"x\": 99999999999999999999}'", 1, "config",
       "the integer \"99999999999999999999\" does not fit in 64 bits"},
      {"config = '{\"x\": 1e999}'", 1, "config", "is out of the range of a double"},
      {"config = '{\"x\": 01}'", 1, "config", "malformed JSON"},
      {"config = '{\"x\": +1}'", 1, "config", "not a JSON value"},
      {"config = '{\"x\": NaN}'", 1, "config", "not a JSON value"},
      {"config = '{\"x\": \"\\ud800\"}'", 1, "config", "a lone high surrogate"},
      {"config = '{\"x\": \"\\q\"}'", 1, "config", "an unknown escape"},
      {"config = '{\"x\": \"open'", 1, "config", "never closed"},
      {"config = '{\"x\": \"' || char(10) || '\"}'", 1, "config", "a control character"},
      {"metrics = '{\"loss\": \"high\"}'", 3, "metrics",
       "metric \"loss\" holds string \"high\", not a number"},
      {"metrics = '{\"loss\": true}'", 3, "metrics", "not a number"},
      {"metrics = '{\"loss\": 1e400}'", 3, "metrics", "out of the range of a double"},
      // The bits of a double a REAL column cannot hold.
      {"objective_bits = 5", 3, "objective_bits", "which needs none (only NaN and -0.0"},
      {"objective = 1.0", 4, "objective", "expected NULL (objective_bits holds a NaN)"},
      {"wall_seconds = 2.0", 8, "wall_seconds", "expected 0.0 (wall_seconds_bits holds -0.0)"},
      {"wall_seconds_bits = NULL, wall_seconds = NULL", 8, "wall_seconds",
       "expected a real number, got NULL"},
      // The log's order.
      {"seq = 100", 9, "seq", "holds 100 where seq 9 comes next (the log has a gap)"},
  };
  SECTION("the events table") {
    for (const auto& c : cases) {
      INFO("UPDATE events SET " << c.set << " WHERE seq = " << c.seq);
      const auto file = scratch.path / "case.db";
      fs::copy_file(pristine, file, fs::copy_options::overwrite_existing);
      RawDatabase(file).execute("PRAGMA ignore_check_constraints = ON; UPDATE events SET " + c.set +
                                " WHERE seq = " + std::to_string(c.seq) +
                                " AND study = (SELECT id FROM studies WHERE name = 's')");
      const std::string message = message_of([&] { read_study(file); });
      INFO(message);
      CHECK_THAT(message, Catch::StartsWith("hpt::SqliteStorage: \"" + file.string() + "\"") &&
                              Catch::Contains("study \"s\", event seq " + std::to_string(c.seq)) &&
                              Catch::Contains("column \"" + c.column + "\": ") &&
                              Catch::Contains(c.expected));
      CHECK(message.size() < 1000);
      CHECK_THROWS_AS(read_study(file), hpt::StorageError);
      CHECK_NOTHROW(read_study(file, "t"));  // the other study in the file is intact
    }
  }

  SECTION("a removed row is a gap in the log") {
    const auto file = scratch.path / "gap.db";
    fs::copy_file(pristine, file, fs::copy_options::overwrite_existing);
    RawDatabase(file).execute(
        "DELETE FROM events WHERE seq = 4 AND study = (SELECT id FROM studies WHERE name = 's')");
    CHECK_THAT(message_of([&] { read_study(file); }),
               Catch::Contains("study \"s\", event seq 4, column \"seq\": holds 5 where seq 4 "
                               "comes next (the log has a gap)"));
  }
  SECTION("the studies table") {
    const std::vector<std::pair<std::string, std::string>> study_cases{
        {"direction = 'sideways'", "column \"direction\": hpt: direction must be"},
        {"result_rule = 'median'", "column \"result_rule\": hpt: the trial result rule must be"},
        {"seed = '-1'",
         "column \"seed\": \"-1\" is not a decimal integer from 0 to "
         "18446744073709551615"},
        {"seed = '18446744073709551616'", "column \"seed\""},
        {"seed = '007'", "column \"seed\""},
        {"seed = ' 7'", "column \"seed\""},
        {"seed = X'37'", "column \"seed\": expected text, got a blob of 1 bytes"},
        {"space = X'00'", "column \"space\": expected text, got a blob"},
    };
    for (const auto& [set, expected] : study_cases) {
      INFO("UPDATE studies SET " << set);
      const auto file = scratch.path / "study_case.db";
      fs::copy_file(pristine, file, fs::copy_options::overwrite_existing);
      RawDatabase(file).execute("PRAGMA foreign_keys = OFF; UPDATE studies SET " + set +
                                " WHERE name = 's'");
      CHECK_THAT(message_of([&] { read_study(file); }),
                 Catch::Contains(file.string()) &&
                     Catch::Contains("study \"s\", table studies, " + expected));
    }
  }
  SECTION("the checkpoints table") {
    const auto file = scratch.path / "checkpoint_case.db";
    fs::copy_file(pristine, file, fs::copy_options::overwrite_existing);
    RawDatabase(file).execute("UPDATE checkpoints SET data = 'text' WHERE trial = 1");
    auto storage = hpt::sqlite_storage(file);
    storage->open(study_identity("s"), hpt::OpenMode::resume);
    CHECK_THAT(message_of([&] { (void)storage->checkpoint(1); }),
               Catch::Contains(file.string()) &&
                   Catch::Contains("study \"s\", table checkpoints, trial 1, column \"data\": "
                                   "expected a blob, got the text \"text\""));
  }
}

namespace {

// A file of several hundred pages: 150 trials, each with a job, 10 steps and a saved pause.
void write_large(const fs::path& file) {
  auto storage = hpt::sqlite_storage(file);
  storage->open(study_identity("s"), hpt::OpenMode::create);
  const std::string checkpoint(200, 'c');
  for (std::size_t trial = 0; trial < 150; ++trial) {
    std::vector<hpt::StudyEvent> events;
    events.emplace_back(hpt::TrialCreated{
        .trial = trial, .config = {{"x", 0.001 * static_cast<double>(trial)}, {"kind", "plain"}}});
    events.emplace_back(hpt::JobStarted{.job = {.trial = trial, .resource = 10}});
    for (std::int64_t step = 1; step <= 10; ++step)
      events.emplace_back(
          hpt::StepRecorded{.trial = trial,
                            .point = {.step = step,
                                      .objective = 1.0 / static_cast<double>(step),
                                      .values = {{"train_loss", 0.5}, {"accuracy", 0.25}}}});
    events.emplace_back(hpt::JobEnded{.trial = trial,
                                      .status = hpt::TrialStatus::paused,
                                      .steps_run = 10,
                                      .checkpoint = checkpoint,
                                      .saved = true});
    storage->append(events);
  }
}

// Reads and writes study "s" as a resumed study would: "accepted", or "refused" with a
// StorageError that names the file. Anything else escapes and fails the test.
std::string use(const fs::path& file) {
  try {
    auto storage = hpt::sqlite_storage(file);
    const auto events = storage->open(study_identity("s"), hpt::OpenMode::resume);
    for (std::size_t trial = 0; trial < 160; ++trial) (void)storage->checkpoint(trial);
    const std::vector<hpt::StudyEvent> more{hpt::TrialPruned{.trial = 0}, hpt::StudyFinished{}};
    storage->append(more);
    CHECK(storage->open(study_identity("s"), hpt::OpenMode::resume).size() == events.size() + 2);
    return "accepted";
  } catch (const hpt::StorageError& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains(file.string()));
    CHECK(message.size() < 2048);
    return "refused";
  }
}

}  // namespace

TEST_CASE("SQLite storage refuses a truncated file", "[sqlite][robustness]") {
  test_support::ScratchDirectory scratch;
  const auto large = scratch.path / "large.db";
  write_large(large);
  CHECK(use(large) == "accepted");
  write_large(scratch.path / "pristine.db");
  const std::string bytes = test_support::file_bytes(scratch.path / "pristine.db");
  REQUIRE(bytes.size() > 40 * 4096);
  for (const std::size_t size :
       {std::size_t{4096}, std::size_t{3 * 4096}, bytes.size() / 2, bytes.size() - 4096}) {
    INFO("truncated to " << size << " of " << bytes.size() << " bytes");
    const auto file = scratch.path / "truncated.db";
    test_support::write_bytes(file, bytes.substr(0, size));
    const std::string message = message_of([&] { read_study(file); });
    CHECK_THAT(message, Catch::Contains(file.string()) &&
                            Catch::Contains("not an SQLite database, or a damaged one"));
    CHECK(use(file) == "refused");
  }
  // Cut within a page, or within the header: refused or read, never anything else.
  for (const std::size_t size :
       {std::size_t{50}, std::size_t{100}, std::size_t{4096 + 1000}, bytes.size() - 10}) {
    INFO("truncated to " << size << " bytes");
    const auto file = scratch.path / "cut.db";
    test_support::write_bytes(file, bytes.substr(0, size));
    const std::string outcome = use(file);
    CHECK((outcome == "accepted" || outcome == "refused"));
  }
}

TEST_CASE("SQLite storage on a file with random bytes overwritten: refused or read, never a crash",
          "[sqlite][robustness]") {
  test_support::ScratchDirectory scratch;
  const auto pristine = scratch.path / "pristine.db";
  write_large(pristine);
  const std::string bytes = test_support::file_bytes(pristine);
  int refused = 0, accepted = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 random(seed);
    std::string damaged = bytes;
    // A few bytes anywhere, or a burst in the first pages (header, schema, roots).
    const std::size_t range = seed % 2 ? damaged.size() : 8 * 4096;
    const std::size_t count = 1 + random() % (seed % 3 == 0 ? 400 : 8);
    for (std::size_t i = 0; i < count; ++i)
      damaged[random() % range] = static_cast<char>(random() & 0xFF);
    const auto file = scratch.path / ("damaged_" + std::to_string(seed) + ".db");
    test_support::write_bytes(file, damaged);
    (use(file) == "refused" ? refused : accepted) += 1;
    fs::remove(file);
  }
  INFO(refused << " refused, " << accepted << " accepted");
  CHECK(refused > 0);
}
