#include <algorithm>
#include <catch2/catch.hpp>
#include <hpt/engine/tune.hpp>
#include <hpt/io/csv.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <sstream>

#include "objective_is_x.hpp"

namespace {
struct Echo {
  explicit Echo(const hpt::Config& c)
      : x(c.get<double>("x")), fail(c.get<std::string>("kind") == "fail, \"badly\"") {}
  double step() {
    if (fail) throw std::runtime_error("it broke,\n\"twice\"");
    return x;
  }
  double x;
  bool fail;
};
}  // namespace

TEST_CASE("a study survives a CSV round trip", "[csv]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 2.0).grid(3),
                               hpt::choice("kind", {"ok", "fail, \"badly\"", "1"}),
                               hpt::choice("flag", {true}).when(hpt::equals("kind", "ok")),
                               hpt::int_range("n", 1, 2).when(hpt::equals("kind", "1"))};
  const auto study = hpt::tune<Echo>(space, hpt::GridSearch{.max_resource = 2});
  std::stringstream csv;
  hpt::write_csv(study, csv);
  const auto loaded = hpt::read_csv(csv);
  REQUIRE(loaded.trials().size() == study.trials().size());
  for (std::size_t i = 0; i < study.trials().size(); ++i) {
    const auto& a = study.trial(i);
    const auto& b = loaded.trial(i);
    CHECK(a.config == b.config);  // kinds too: "1" stays a string, 1.0 a real, true a boolean
    CHECK(a.status == b.status);
    CHECK(a.reason == b.reason);
    CHECK(a.failure == b.failure);  // where the failing kind failed: in step()
    CHECK(a.resource == b.resource);
    CHECK(a.result_step() == b.result_step());
    if (std::isnan(a.result()))
      CHECK(std::isnan(b.result()));
    else
      CHECK(a.result() == b.result());
  }
  CHECK(loaded.best().id == study.best().id);
  CHECK(std::count_if(loaded.trials().begin(), loaded.trials().end(), [](const hpt::Trial& t) {
          return t.failure == hpt::FailureStage::step;
        }) == 3);
}

TEST_CASE("CSV keeps where a trial failed, and reads files from before that column", "[csv]") {
  auto read = [](const std::string& text) {
    std::istringstream in(text);
    return hpt::read_csv(in);
  };
  const std::string fixed =
      "trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,"
      "direction,result_rule";
  const auto study =
      read(fixed + ",failure,\"x\"\n" +
           "0,failed,0,0,0,nan,0,0.0,\"\",\"no GPU\",minimize,last_step,construct,1.0\n" +
           "1,completed,0,0,1,0.5,1,0.0,\"\",\"\",minimize,last_step,none,2.0\n");
  REQUIRE(study.trials().size() == 2);
  CHECK(study.trial(0).failure == hpt::FailureStage::construct);
  CHECK(study.trial(1).failure == hpt::FailureStage::none);
  // A file without the column: every trial's stage is none; a parameter called "failure" (quoted)
  // is a parameter, not the column.
  const auto older = read(fixed + ",\"failure\"\n" +
                          "0,failed,0,0,0,nan,0,0.0,\"\",\"no GPU\",minimize,last_step,\"disk\"\n");
  CHECK(older.trial(0).failure == hpt::FailureStage::none);
  CHECK(older.trial(0).config.get<std::string>("failure") == "disk");
  REQUIRE_THROWS_WITH(read(fixed + ",failure,\"x\"\n" +
                           "0,failed,0,0,0,nan,0,0.0,\"\",\"\",minimize,last_step,compile,1.0\n"),
                      Catch::Contains("line 2") && Catch::Contains("column \"failure\"") &&
                          Catch::Contains("unknown failure stage \"compile\""));
  REQUIRE_THROWS_WITH(read(fixed + ",failure,\"x\"\n" +
                           "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",minimize,last_step,step,1.0\n"),
                      Catch::Contains("line 2") && Catch::Contains("failure stage \"step\"") &&
                          Catch::Contains("status is completed"));
}

TEST_CASE("malformed CSV gets errors that name the line and column", "[csv]") {
  const std::string header =
      "trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,"
      "direction,result_rule,x\n";
  auto read = [](const std::string& text) {
    std::istringstream in(text);
    return hpt::read_csv(in);
  };
  REQUIRE_THROWS_WITH(read(""), Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(read("trial,state\n"),
                      Catch::Contains("column 2") && Catch::Contains("status"));
  REQUIRE_THROWS_WITH(read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",minimize,last_step\n"),
                      Catch::Contains("line 2") && Catch::Contains("12 cells"));
  REQUIRE_THROWS_WITH(
      read(header + "0,completed,0,0,one,0.5,1,0.0,\"\",\"\",minimize,last_step,1.0\n"),
      Catch::Contains("line 2") && Catch::Contains("resource") && Catch::Contains("one"));
  REQUIRE_THROWS_WITH(
      read(header + "0,finished,0,0,1,0.5,1,0.0,\"\",\"\",minimize,last_step,1.0\n"),
      Catch::Contains("finished"));
  REQUIRE_THROWS_WITH(
      read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",minimize,last_step,1.0x\n"),
      Catch::Contains("column \"x\"") && Catch::Contains("1.0x"));
  REQUIRE_THROWS_WITH(read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"open\n"),
                      Catch::Contains("quote"));
  REQUIRE_THROWS_WITH(
      read(header + "1,completed,0,0,1,0.5,1,0.0,\"\",\"\",minimize,last_step,1.0\n"),
      Catch::Contains("trial id 1"));
}

using test_support::ObjectiveIsX;

TEST_CASE("a maximize study keeps its direction through CSV: best() is still the best", "[csv]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const auto study =
      hpt::tune<ObjectiveIsX>(space, hpt::RandomSearch{.trials = 20}, hpt::NoStopping{},
                              {.direction = hpt::maximize, .seed = 5});
  std::stringstream csv;
  hpt::write_csv(study, csv);
  const auto loaded = hpt::read_csv(csv);
  CHECK(loaded.direction() == hpt::maximize);
  double largest = 0;
  std::size_t largest_id = 0;
  for (const auto& trial : study.trials())
    if (trial.result() > largest) {
      largest = trial.result();
      largest_id = trial.id;
    }
  CHECK(study.best().id == largest_id);
  CHECK(loaded.best().id == largest_id);
  CHECK(loaded.leaderboard() == study.leaderboard());
}

TEST_CASE("read_csv refuses a file that does not say its direction or rule, or says two", "[csv]") {
  auto read = [](const std::string& text) {
    std::istringstream in(text);
    return hpt::read_csv(in);
  };
  const std::string old_header =
      "trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,x\n";
  REQUIRE_THROWS_WITH(read(old_header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",1.0\n"),
                      Catch::Contains("column 11") && Catch::Contains("\"direction\"") &&
                          Catch::Contains("best trial cannot be known"));
  const std::string header =
      "trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,"
      "direction,result_rule,x\n";
  REQUIRE_THROWS_WITH(
      read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",upwards,last_step,1.0\n"),
      Catch::Contains("line 2") && Catch::Contains("direction") && Catch::Contains("upwards"));
  REQUIRE_THROWS_WITH(
      read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",maximize,last_step,1.0\n" +
           "1,completed,0,0,1,0.7,1,0.0,\"\",\"\",minimize,last_step,0.2\n"),
      Catch::Contains("line 3") && Catch::Contains("\"minimize\"") &&
          Catch::Contains("\"maximize\""));
  REQUIRE_THROWS_WITH(
      read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",maximize,last_step,1.0\n" +
           "1,completed,0,0,1,0.7,1,0.0,\"\",\"\",maximize,best_step,0.2\n"),
      Catch::Contains("line 3") && Catch::Contains("result_rule") &&
          Catch::Contains("\"best_step\" where earlier rows say \"last_step\""));
  REQUIRE_THROWS_WITH(
      read(header + "0,completed,0,0,1,0.5,1,0.0,\"\",\"\",maximize,first_step,1.0\n"),
      Catch::Contains("line 2") && Catch::Contains("result_rule") && Catch::Contains("first_step"));
  // An older file whose first parameter is called "direction" (quoted, as parameter names are).
  REQUIRE_THROWS_WITH(
      read("trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,"
           "\"direction\"\n0,completed,0,0,1,0.5,1,0.0,\"\",\"\",\"up\"\n"),
      Catch::Contains("column 11") && Catch::Contains("best trial cannot be known"));
  const auto empty = read(header);
  CHECK(empty.trials().empty());
}

TEST_CASE("a best_step study keeps its result rule through CSV", "[csv]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const auto study =
      hpt::tune<ObjectiveIsX>(space, hpt::RandomSearch{.trials = 5}, hpt::NoStopping{},
                              {.result = hpt::TrialResult::best_step});
  std::stringstream csv;
  hpt::write_csv(study, csv);
  const auto loaded = hpt::read_csv(csv);
  CHECK(loaded.options().result == hpt::TrialResult::best_step);
  CHECK(loaded.direction() == hpt::minimize);
  CHECK(loaded.best().id == study.best().id);
}
