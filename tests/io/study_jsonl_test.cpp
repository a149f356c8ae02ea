#include <catch2/catch.hpp>
#include <cmath>
#include <hpt/engine/tune.hpp>
#include <hpt/io/json.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

#include "objective_is_x.hpp"

namespace {
struct Curve {
  explicit Curve(const hpt::Config& c) : x(c.get<double>("x")), kind(c.get<std::string>("kind")) {}
  hpt::Metrics step() {
    ++steps;
    if (kind == "nan" && steps == 2) return {.objective = NAN};
    return {.objective = x + 1.0 / steps,
            .values = {{"train_loss", x}, {"odd", steps == 1 ? INFINITY : 1.0}}};
  }
  double x;
  std::string kind;
  int steps = 0;
};
}  // namespace

TEST_CASE("a study survives a JSON Lines round trip, curves included", "[jsonl]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0), hpt::choice("kind", {"ok", "nan", "1"}),
                               hpt::int_range("n", 1, 3).when(hpt::equals("kind", "ok")),
                               hpt::choice("flag", {true, false})};
  const auto study =
      hpt::tune<Curve>(space, hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{},
                       {.direction = hpt::minimize, .seed = 17, .name = "round trip"});
  std::stringstream text;
  hpt::write_jsonl(study, text);
  const auto loaded = hpt::read_jsonl(text);
  CHECK(loaded.options().name == "round trip");
  CHECK(loaded.options().seed == 17);
  CHECK(loaded.direction() == hpt::minimize);
  CHECK(loaded.schedule().strategy == "Hyperband");
  REQUIRE(loaded.schedule().brackets.size() == study.schedule().brackets.size());
  CHECK(loaded.schedule().trials() == study.schedule().trials());
  REQUIRE(loaded.trials().size() == study.trials().size());
  for (std::size_t i = 0; i < study.trials().size(); ++i) {
    const auto& a = study.trial(i);
    const auto& b = loaded.trial(i);
    CHECK(a.config == b.config);
    CHECK(a.status == b.status);
    CHECK(a.reason == b.reason);
    CHECK(a.rung == b.rung);
    CHECK(a.bracket == b.bracket);
    CHECK(a.resource == b.resource);
    CHECK(a.wall_seconds == b.wall_seconds);
    REQUIRE(a.curve.size() == b.curve.size());
    for (std::size_t s = 0; s < a.curve.size(); ++s) {
      CHECK(a.curve[s].step == b.curve[s].step);
      if (std::isnan(a.curve[s].objective))
        CHECK(std::isnan(b.curve[s].objective));
      else
        CHECK(a.curve[s].objective == b.curve[s].objective);
      CHECK(a.curve[s].values == b.curve[s].values);  // infinity survives as "inf"
    }
  }
  CHECK(loaded.best().id == study.best().id);
}

TEST_CASE("malformed JSON Lines get errors that name the line", "[jsonl]") {
  auto read = [](const std::string& text) {
    std::istringstream in(text);
    return hpt::read_jsonl(in);
  };
  const std::string header =
      R"({"hpt_study":1,"name":"s","direction":"minimize","seed":1,"strategy":"RandomSearch","schedule":[]})"
      "\n";
  REQUIRE_THROWS_WITH(read(""), Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(read("{\"trial\":0}\n"),
                      Catch::Contains("line 1") && Catch::Contains("header"));
  REQUIRE_THROWS_WITH(read("{not json\n"), Catch::Contains("line 1"));
  REQUIRE_THROWS_WITH(read(header + "{\"trial\":0}\n"), Catch::Contains("line 2"));
  REQUIRE_THROWS_WITH(
      read(
          R"({"hpt_study":1,"name":"s","direction":"sideways","seed":1,"strategy":"x","schedule":[]})"),
      Catch::Contains("sideways"));
  const std::string trial =
      R"({"trial":0,"status":"completed","bracket":0,"rung":0,"resource":1,"wall_seconds":0.0,"stopped_by":"","reason":"","result_index":null,"config":{"x":[1]},"curve":[]})";
  REQUIRE_THROWS_WITH(read(header + trial + "\n"),
                      Catch::Contains("line 2") && Catch::Contains("\"x\""));
}

TEST_CASE("a configuration alone round-trips through JSON, kinds included", "[jsonl][config]") {
  const hpt::Config config{{"learning_rate", 1e-3}, {"units", 64},  {"optimizer", "sgd"},
                           {"nesterov", true},      {"scale", 1.0}, {"label", "1"}};
  const std::string text = hpt::config_to_json(config);
  CHECK(
      text ==
      R"({"learning_rate":0.001,"units":64,"optimizer":"sgd","nesterov":true,"scale":1.0,"label":"1"})");
  CHECK(hpt::config_from_json(text) == config);
  REQUIRE_THROWS_WITH(hpt::config_from_json("[1, 2]"), Catch::Contains("expected a JSON object"));
  REQUIRE_THROWS_WITH(hpt::config_from_json("{\"a\": "), Catch::Contains("config_from_json"));
  REQUIRE_THROWS_WITH(hpt::config_from_json(R"({"a": null})"), Catch::Contains("\"a\""));
}

using test_support::ObjectiveIsX;

TEST_CASE("a maximize study keeps its direction and result rule through JSON Lines", "[jsonl]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const auto study = hpt::tune<ObjectiveIsX>(
      space, hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{},
      {.direction = hpt::maximize, .seed = 5, .result = hpt::TrialResult::best_step});
  std::stringstream text;
  hpt::write_jsonl(study, text);
  const auto loaded = hpt::read_jsonl(text);
  CHECK(loaded.direction() == hpt::maximize);
  CHECK(loaded.options().result == hpt::TrialResult::best_step);
  CHECK(loaded.best().id == study.best().id);
  CHECK(loaded.leaderboard() == study.leaderboard());
  double largest = -1;
  for (const auto& trial : study.trials())
    if (trial.status == hpt::TrialStatus::completed && trial.result() > largest)
      largest = trial.result();
  CHECK(loaded.best().result() == largest);
}

namespace {
/// Throws at its third step when x > 0.5: a failure at the step stage.
struct FailsLate {
  explicit FailsLate(const hpt::Config& config) : x(config.get<double>("x")) {}
  double step() {
    if (++steps == 3 && x > 0.5) throw std::runtime_error("late");
    return x;
  }
  double x;
  int steps = 0;
};
}  // namespace

TEST_CASE("where a trial failed and an interrupted trial survive a JSON Lines round trip",
          "[jsonl]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  auto study = hpt::tune<FailsLate>(space, hpt::RandomSearch{.trials = 12, .max_resource = 4});
  REQUIRE(study.count(hpt::TrialStatus::failed) > 0);
  for (auto& trial : study.trials())
    if (trial.status == hpt::TrialStatus::completed) {
      trial.status = hpt::TrialStatus::interrupted;  // as a stop request leaves one
      break;
    }
  REQUIRE(study.count(hpt::TrialStatus::interrupted) == 1);
  std::stringstream text;
  hpt::write_jsonl(study, text);
  const hpt::Study loaded = hpt::read_jsonl(text);
  REQUIRE(loaded.trials().size() == study.trials().size());
  for (std::size_t k = 0; k < study.trials().size(); ++k) {
    CHECK(loaded.trials()[k].status == study.trials()[k].status);
    CHECK(loaded.trials()[k].failure == study.trials()[k].failure);
    CHECK((study.trials()[k].status == hpt::TrialStatus::failed) ==
          (study.trials()[k].failure == hpt::FailureStage::step));
  }
  // A stage no writer writes is refused by name.
  std::string line = text.str();
  std::stringstream bad(
      line.replace(line.find("\"failure\":\"step\""), 16, "\"failure\":\"oops\""));
  REQUIRE_THROWS_WITH(hpt::read_jsonl(bad), Catch::Contains("unknown failure stage"));
}
