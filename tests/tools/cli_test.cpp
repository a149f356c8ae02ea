// The `hpt` tool (tools/hpt/cli.hpp), run in-process on SQLite files that tune() wrote. Its
// output is checked against the Study each tune() call returned: the leaderboard's order, the
// curve's numbers, the CSV byte for byte; the schedule's "reached" counts against the plan a
// finished Hyperband must have run (the paper's n_i at every rung).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <hpt/hpt.hpp>
#include <hpt/io/csv.hpp>
#include <hpt/study/sqlite_storage.hpp>
#include <sstream>
#include <stop_token>
#include <string>
#include <vector>

#include "hpt/cli.hpp"
#include "scratch_directory.hpp"
#include "sqlite_support.hpp"
#include "study_difference.hpp"
#if HPT_CLI_JSON
#include <hpt/io/json.hpp>
#endif

namespace {

/// Objective at step t: |x - 0.3| + 1/(t + 1), with a second metric.
struct Slope {
  double x;
  std::int64_t t = 0;
  explicit Slope(const hpt::Config& config) : x(config.get<double>("x")) {}
  hpt::Metrics step() {
    ++t;
    return {std::abs(x - 0.3) + 1.0 / static_cast<double>(t + 1),
            {{"double_t", 2.0 * static_cast<double>(t)}}};
  }
};

struct Result {
  int status = 0;
  std::string out, err;
};

Result hpt_tool(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Result result;
  result.status = hpt::cli::run(args, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

const hpt::SearchSpace& space() {
  static const hpt::SearchSpace searched{hpt::uniform("x", 0.0, 1.0)};
  return searched;
}

/// A file with a finished Hyperband study ("hb") and a random search stopped after 3 trials
/// ("rs"), and the Studies tune() returned for them.
struct Fixture {
  test_support::ScratchDirectory scratch{"hpt_cli_"};
  std::string file = (scratch.path / "studies.db").string();
  hpt::Study hyperband, random_search;
  Fixture() {
    hyperband = hpt::tune<Slope>(space(), hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{},
                                 {.seed = 1, .name = "hb", .storage = hpt::sqlite_storage(file)});
    std::stop_source stop;
    struct StopAfterTrials {
      std::stop_source* stop;
      int ended = 0;
      void on_trial_end(const hpt::Trial&) {
        if (++ended == 3) stop->request_stop();
      }
    } stopper{&stop};
    random_search = hpt::tune<Slope>(space(), hpt::RandomSearch{.trials = 20, .max_resource = 4},
                                     hpt::NoStopping{},
                                     {.direction = hpt::Direction::maximize,
                                      .seed = 2,
                                      .name = "rs",
                                      .stop = stop.get_token(),
                                      .storage = hpt::sqlite_storage(file)},
                                     stopper);
  }
};

}  // namespace

TEST_CASE("hpt list shows every study of the file with its state and best trial", "[cli]") {
  const Fixture fixture;
  const Result listed = hpt_tool({"list", fixture.file});
  REQUIRE(listed.status == 0);
  CHECK(listed.err.empty());
  const auto lines = lines_of(listed.out);
  REQUIRE(lines.size() == 3);
  CHECK(words_of(lines[0]) == std::vector<std::string>{"study", "direction", "trials", "state",
                                                       "best", "statuses", "created"});
  const auto hb = words_of(lines[1]);
  REQUIRE(hb.size() >= 6);
  CHECK(hb[0] == "hb");
  CHECK(hb[1] == "minimize");
  CHECK(hb[2] == std::to_string(fixture.hyperband.trials().size()));
  CHECK(hb[3] == "finished");
  CHECK(hb[4] == hpt::format_short(fixture.hyperband.best().result()));
  CHECK(lines[1].find("(trial " + std::to_string(fixture.hyperband.best().id) + ")") !=
        std::string::npos);
  CHECK(lines[1].find(fixture.hyperband.status_summary()) != std::string::npos);
  const auto rs = words_of(lines[2]);
  REQUIRE(rs.size() >= 4);
  CHECK(rs[0] == "rs");
  CHECK(rs[1] == "maximize");
  CHECK(rs[3] == "stopped");
}

TEST_CASE("hpt leaderboard ranks the trials as the study that ran them", "[cli]") {
  const Fixture fixture;
  const Result board = hpt_tool({"leaderboard", fixture.file, "hb", "--top", "4"});
  REQUIRE(board.status == 0);
  const auto lines = lines_of(board.out);
  REQUIRE(lines.size() == 1 + 1 + 4 + 1);  // summary, header, 4 rows, "... more"
  CHECK(lines[0] == "study \"hb\": minimize, " + std::to_string(fixture.hyperband.trials().size()) +
                        " trials (" + fixture.hyperband.status_summary() + "), finished");
  const auto order = fixture.hyperband.leaderboard();
  for (std::size_t rank = 0; rank < 4; ++rank) {
    const auto row = words_of(lines[2 + rank]);
    REQUIRE(row.size() >= 5);
    CHECK(row[0] == std::to_string(rank + 1));
    CHECK(row[1] == std::to_string(order[rank]));
  }
  CHECK(lines.back() ==
        "... " + std::to_string(fixture.hyperband.trials().size() - 4) + " more trials");
  const Result all = hpt_tool({"leaderboard", fixture.file, "hb", "--top=0"});
  CHECK(lines_of(all.out).size() == 2 + fixture.hyperband.trials().size());
}

TEST_CASE("hpt schedule shows the plan and that a finished Hyperband ran all of it", "[cli]") {
  const Fixture fixture;
  const Result shown = hpt_tool({"schedule", fixture.file, "hb"});
  REQUIRE(shown.status == 0);
  const auto lines = lines_of(shown.out);
  const hpt::Schedule& plan = fixture.hyperband.schedule();
  std::size_t rungs = 0;
  for (const auto& bracket : plan.brackets) rungs += bracket.rungs.size();
  REQUIRE(lines.size() == 2 + rungs + 1);
  CHECK(lines[0] == plan.strategy);
  // Hyperband, R = 9, eta = 3: brackets s = 2, 1, 0 with n_i = 9 3 1, 3 1, 3 at r_i = 1 3 9, 3
  // 9, 9.
  const std::vector<std::vector<std::string>> expected{
      {"2", "0", "1", "9", "9"}, {"2", "1", "3", "3", "3"}, {"2", "2", "9", "1", "1"},
      {"1", "0", "3", "5", "5"}, {"1", "1", "9", "1", "1"}, {"0", "0", "9", "3", "3"}};
  REQUIRE(rungs == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto row = words_of(lines[2 + i]);
    REQUIRE(row.size() >= 5);
    CHECK(std::vector<std::string>(row.begin(), row.begin() + 5) == expected[i]);
  }
  CHECK(lines.back() == std::to_string(fixture.hyperband.trials().size()) +
                            " trials created of 17 planned; finished");
}

TEST_CASE("hpt curve prints a trial's steps and metrics to the bit", "[cli]") {
  const Fixture fixture;
  const hpt::Trial& best = fixture.hyperband.best();
  const Result shown = hpt_tool({"curve", fixture.file, "hb", std::to_string(best.id)});
  REQUIRE(shown.status == 0);
  const auto lines = lines_of(shown.out);
  REQUIRE(lines.size() == 3 + 1 + best.curve.size());
  CHECK(lines[0].starts_with("trial " + std::to_string(best.id) + ": completed"));
  CHECK(words_of(lines[3]) == std::vector<std::string>{"step", "objective", "double_t"});
  for (std::size_t s = 0; s < best.curve.size(); ++s) {
    const auto row = words_of(lines[4 + s]);
    REQUIRE(row.size() == 3);
    CHECK(row[0] == std::to_string(best.curve[s].step));
    CHECK(std::stod(row[1]) == best.curve[s].objective);
    CHECK(row[2] == hpt::format_real(best.curve[s].values.at(0).second));
  }
}

TEST_CASE("hpt export writes the study the run returned", "[cli]") {
  const Fixture fixture;
  std::ostringstream expected;
  hpt::write_csv(fixture.hyperband, expected);
  const Result csv = hpt_tool({"export", fixture.file, "hb"});
  REQUIRE(csv.status == 0);
  CHECK(csv.out == expected.str());

  const auto target = fixture.scratch.path / "hb.csv";
  const Result to_file = hpt_tool({"export", fixture.file, "hb", "--output", target.string()});
  REQUIRE(to_file.status == 0);
  CHECK(to_file.out.empty());
  CHECK(test_support::file_bytes(target) == expected.str());
  CHECK_FALSE(std::filesystem::exists(target.string() + ".partial"));

#if HPT_CLI_JSON
  const Result jsonl = hpt_tool({"export", fixture.file, "hb", "--format", "jsonl"});
  REQUIRE(jsonl.status == 0);
  std::istringstream in(jsonl.out);
  const hpt::Study read = hpt::read_jsonl(in);
  CHECK(test_support::study_difference(fixture.hyperband, read) == "");
#endif
}

TEST_CASE("hpt delete removes one study, and refuses one that is running", "[cli]") {
  const Fixture fixture;
  {
    // A live session of "rs" in this process: deleting it needs --force.
    auto storage = hpt::sqlite_storage(fixture.file);
    const hpt::StudyIdentity identity = hpt::detail::identity_of(fixture.random_search, space());
    (void)storage->open(identity, hpt::OpenMode::resume);
    const Result refused = hpt_tool({"delete", fixture.file, "rs"});
    CHECK(refused.status == 1);
    CHECK(refused.err.find("study \"rs\" is running in session ") != std::string::npos);
    CHECK(refused.err.find("stop it first") != std::string::npos);
    storage->close();
  }
  const Result deleted = hpt_tool({"delete", fixture.file, "rs"});
  REQUIRE(deleted.status == 0);
  CHECK(deleted.out == "deleted study \"rs\" (" +
                           std::to_string(fixture.random_search.trials().size()) +
                           " trials) from " + fixture.file + "\n");
  const auto lines = lines_of(hpt_tool({"list", fixture.file}).out);
  REQUIRE(lines.size() == 2);
  CHECK(words_of(lines[1]).at(0) == "hb");
  test_support::RawDatabase raw(fixture.file);
  CHECK(raw.value("SELECT count(*) FROM events WHERE study NOT IN (SELECT id FROM studies)") ==
        "0");
  CHECK(raw.value("SELECT count(*) FROM sessions WHERE study NOT IN (SELECT id FROM studies)") ==
        "0");
  // The study that stays is intact.
  std::ostringstream expected;
  hpt::write_csv(fixture.hyperband, expected);
  CHECK(hpt_tool({"export", fixture.file, "hb"}).out == expected.str());
  // --force deletes a running one.
  auto storage = hpt::sqlite_storage(fixture.file);
  (void)storage->open(hpt::detail::identity_of(fixture.hyperband, space()), hpt::OpenMode::resume);
  CHECK(hpt_tool({"delete", fixture.file, "hb"}).status == 1);
  CHECK(hpt_tool({"delete", fixture.file, "hb", "--force"}).status == 0);
  CHECK(hpt_tool({"list", fixture.file}).out == "no studies in " + fixture.file + "\n");
}

TEST_CASE("hpt gives clear errors for missing files and studies and a wrong command line",
          "[cli]") {
  const Fixture fixture;
  const auto missing = (fixture.scratch.path / "nothing.db").string();
  const Result no_file = hpt_tool({"list", missing});
  CHECK(no_file.status == 1);
  CHECK(no_file.err == "hpt: hpt::SqliteStorage: \"" + missing + "\": no such file\n");
  CHECK_FALSE(std::filesystem::exists(missing));  // never created

  const auto empty = (fixture.scratch.path / "empty.db").string();
  std::ofstream{empty};
  CHECK(hpt_tool({"list", empty}).err == "hpt: hpt::SqliteStorage: \"" + empty +
                                             "\": the file holds no hpt studies (it is empty)\n");

  const auto foreign = fixture.scratch.path / "foreign.db";
  {
    test_support::RawDatabase raw(foreign);
    raw.execute("CREATE TABLE things (x INTEGER)");
  }
  const Result other = hpt_tool({"list", foreign.string()});
  CHECK(other.status == 1);
  CHECK(other.err.find("another application") != std::string::npos);

  const Result no_study = hpt_tool({"leaderboard", fixture.file, "nope"});
  CHECK(no_study.status == 1);
  CHECK(no_study.err == "hpt: hpt::SqliteStorage: \"" + fixture.file +
                            "\": no study \"nope\" in the file (it holds \"hb\", \"rs\")\n");

  const Result no_trial = hpt_tool({"curve", fixture.file, "hb", "999"});
  CHECK(no_trial.status == 1);
  CHECK(no_trial.err == "hpt: study \"hb\" has no trial 999 (its trials are 0 to " +
                            std::to_string(fixture.hyperband.trials().size() - 1) + ")\n");

  const auto usage_error = [](const std::vector<std::string>& args, const std::string& message) {
    INFO(args.size() << " arguments");
    const Result result = hpt_tool(args);
    CHECK(result.status == 2);
    CHECK(result.err.starts_with("hpt: " + message + "\nusage:"));
    CHECK(result.out.empty());
  };
  usage_error({}, "no command given");
  usage_error({"frobnicate"}, "unknown command \"frobnicate\"");
  usage_error({"list"}, "list takes FILE (0 arguments given)");
  usage_error({"curve", fixture.file, "hb"}, "curve takes FILE STUDY TRIAL (2 arguments given)");
  usage_error({"curve", fixture.file, "hb", "-1"}, "TRIAL: \"-1\" is not a non-negative integer");
  usage_error({"leaderboard", fixture.file, "hb", "--top"}, "leaderboard: --top needs a value");
  usage_error({"leaderboard", fixture.file, "hb", "--top", "x"},
              "--top: \"x\" is not a non-negative integer");
  usage_error({"leaderboard", fixture.file, "hb", "--all"},
              "leaderboard: unknown option \"--all\"");
  usage_error({"export", fixture.file, "hb", "--format", "xml"},
              "export: --format \"xml\" is neither csv nor jsonl");
  usage_error({"delete", fixture.file, "hb", "--force=yes"}, "delete: --force takes no value");

  CHECK(hpt_tool({"--help"}).out.starts_with("usage:"));
  CHECK(hpt_tool({"--version"}).out == "hpt " + std::string(hpt::version) + "\n");
}
