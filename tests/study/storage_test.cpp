// MemoryStorage and identity_difference: open modes, refusals that name what differs, prefixes
// as a crash would leave them, and which checkpoint a paused trial continues from.
#include <catch2/catch.hpp>
#include <hpt/study/storage.hpp>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace {

hpt::StudyIdentity identity(const std::string& name = "study") {
  return {.name = name,
          .direction = hpt::Direction::minimize,
          .result = hpt::TrialResult::last_step,
          .seed = 1,
          .space = "x: real [0, 1]\ny: integer [1, 4]",
          .strategy = "Hyperband\n  bracket 2:  9 x 1  3 x 3  1 x 9\n",
          .version = "0.1.0"};
}

hpt::JobEnded paused(std::size_t trial, const std::string* checkpoint) {
  hpt::JobEnded ended{.trial = trial, .status = hpt::TrialStatus::paused};
  if (checkpoint) {
    ended.checkpoint = *checkpoint;
    ended.saved = true;
  }
  return ended;
}

}  // namespace

TEST_CASE("identity_difference names the first setting that differs", "[storage]") {
  const auto stored = identity();
  CHECK(hpt::identity_difference(stored, stored).empty());
  auto given = stored;
  given.version = "9.9.9";
  CHECK(hpt::identity_difference(stored, given).empty());  // informative only
  given = stored;
  given.direction = hpt::Direction::maximize;
  CHECK(hpt::identity_difference(stored, given) == "direction: stored minimize, given maximize");
  given = stored;
  given.result = hpt::TrialResult::best_step;
  CHECK(hpt::identity_difference(stored, given) ==
        "result rule: stored last_step, given best_step");
  given = stored;
  given.seed = 18446744073709551615ULL;
  CHECK(hpt::identity_difference(stored, given) == "seed: stored 1, given 18446744073709551615");
  given = stored;
  given.space = "x: real [0, 1]\ny: integer [1, 5]";
  CHECK(hpt::identity_difference(stored, given) ==
        "search space, line 2: stored \"y: integer [1, 4]\", given \"y: integer [1, 5]\"");
  given = stored;
  given.space = "x: real [0, 1]";
  CHECK(hpt::identity_difference(stored, given) ==
        "search space, line 2: stored \"y: integer [1, 4]\", given \"(nothing)\"");
  given = stored;
  given.strategy = "Hyperband\n  bracket 2:  9 x 1  3 x 3  1 x 9\n  bracket 1:  3 x 3\n";
  CHECK(hpt::identity_difference(stored, given) ==
        "strategy, line 3: stored \"(nothing)\", given \"  bracket 1:  3 x 3\"");
}

TEST_CASE("MemoryStorage opens as the mode says and refuses by name", "[storage]") {
  hpt::MemoryStorage storage;
  CHECK_FALSE(storage.durable());
  CHECK(hpt::MemoryStorage(true).durable());
  CHECK_THROWS_WITH(storage.open(identity("a"), hpt::OpenMode::resume),
                    "hpt::MemoryStorage: no study \"a\" to resume");
  CHECK_THROWS_WITH(storage.append(std::vector<hpt::StudyEvent>{hpt::StudyFinished{}}),
                    "hpt::MemoryStorage: lock before open");
  CHECK(storage.open(identity("a"), hpt::OpenMode::create).empty());
  storage.append(std::vector<hpt::StudyEvent>{hpt::TrialCreated{0, 0, {}}});
  CHECK_THROWS_WITH(storage.open(identity("a"), hpt::OpenMode::create),
                    Catch::Contains("a study \"a\" exists already"));
  // A refused open leaves no study open: nothing can be appended to the wrong one.
  CHECK_THROWS_AS(storage.append(std::vector<hpt::StudyEvent>{hpt::StudyFinished{}}),
                  hpt::StorageError);
  auto other = identity("a");
  other.seed = 2;
  CHECK_THROWS_WITH(storage.open(other, hpt::OpenMode::create_or_resume),
                    "hpt::MemoryStorage: study \"a\" was stored with other settings: seed: "
                    "stored 1, given 2 (to continue it with these settings anyway, open it with "
                    "OpenMode::resume_changed)");
  // resume_changed opens it whatever the settings (the replay checks the log).
  CHECK(storage.open(other, hpt::OpenMode::resume_changed).size() == 1);
  CHECK_THROWS_WITH(storage.open(identity("nowhere"), hpt::OpenMode::resume_changed),
                    "hpt::MemoryStorage: no study \"nowhere\" to resume");
  CHECK(storage.open(identity("a"), hpt::OpenMode::resume).size() == 1);
  CHECK(storage.open(identity("b"), hpt::OpenMode::create_or_resume).empty());
  CHECK(storage.open(identity("a"), hpt::OpenMode::create_or_resume).size() == 1);
  CHECK(storage.transactions("a") == 1);
  CHECK(storage.transactions("b") == 0);
}

TEST_CASE("MemoryStorage::prefix is the study as a crash after a transaction leaves it",
          "[storage]") {
  hpt::MemoryStorage storage(true);
  (void)storage.open(identity(), hpt::OpenMode::create);
  const std::string saved = "state";
  storage.append(std::vector<hpt::StudyEvent>{hpt::TrialCreated{0, 0, {}},
                                              hpt::JobStarted{hpt::Job{0, 1, 0, 0, false}}});
  storage.append(std::vector<hpt::StudyEvent>{paused(0, &saved)});
  storage.append(std::vector<hpt::StudyEvent>{hpt::TrialPruned{0, 0, "ranked last"}});
  REQUIRE(storage.transactions("study") == 3);
  CHECK(storage.prefix("study", 0)->events("study").empty());
  CHECK(storage.prefix("study", 1)->events("study").size() == 2);
  auto after_pause = storage.prefix("study", 2);
  CHECK(after_pause->durable());
  (void)after_pause->open(identity(), hpt::OpenMode::resume);
  CHECK(after_pause->checkpoint(0) == saved);
  const auto events = after_pause->events("study");
  REQUIRE(std::holds_alternative<hpt::JobEnded>(events.back()));
  CHECK(std::get<hpt::JobEnded>(events.back()).checkpoint.empty());  // never a dangling view
  CHECK(std::get<hpt::JobEnded>(events.back()).saved);
  CHECK_THROWS_AS(storage.prefix("study", 4), std::out_of_range);
  CHECK_THROWS_AS(storage.prefix("missing", 0), std::out_of_range);
}

TEST_CASE("MemoryStorage::checkpoint follows the trial's last job end", "[storage]") {
  hpt::MemoryStorage storage(true);
  (void)storage.open(identity(), hpt::OpenMode::create);
  const std::string first = "first", second = "second";
  const auto append = [&](hpt::StudyEvent event) {
    storage.append(std::vector<hpt::StudyEvent>{std::move(event)});
  };
  CHECK_FALSE(storage.checkpoint(0));
  append(paused(0, &first));
  CHECK(storage.checkpoint(0) == first);
  CHECK_FALSE(storage.checkpoint(1));
  // Interrupted or never started: the job runs again from the same checkpoint.
  append(hpt::JobEnded{.trial = 0, .status = hpt::TrialStatus::interrupted});
  CHECK(storage.checkpoint(0) == first);
  append(hpt::JobEnded{.trial = 0, .status = hpt::TrialStatus::paused, .started = false});
  CHECK(storage.checkpoint(0) == first);
  append(paused(0, &second));
  CHECK(storage.checkpoint(0) == second);
  append(paused(0, nullptr));  // paused without a save: the old one is stale
  CHECK_FALSE(storage.checkpoint(0));
  append(paused(1, &first));
  append(hpt::JobEnded{.trial = 1, .status = hpt::TrialStatus::completed});
  CHECK_FALSE(storage.checkpoint(1));
  append(paused(2, &first));
  append(hpt::TrialPruned{2, 0, "ranked last"});
  CHECK_FALSE(storage.checkpoint(2));
  append(paused(3, &first));
  append(hpt::JobEnded{.trial = 3, .status = hpt::TrialStatus::failed});
  CHECK_FALSE(storage.checkpoint(3));
}
