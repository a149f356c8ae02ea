// Failures around the edges: throwing save() and policies, settings checked before any trial,
// ASHA's memory, integer extremes, typos in conditions.
#include <catch2/catch.hpp>
#include <cstdint>
#include <hpt/hpt.hpp>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
const hpt::SearchSpace unit_space{hpt::uniform("x", 0.0, 1.0)};

struct SaveThrows {
  explicit SaveThrows(const hpt::Config& c) : x(c.get<double>("x")) { ++constructed; }
  double step() { return x + 1.0 / ++steps; }
  void save(std::ostream&) const { throw std::runtime_error("disk full"); }
  void restore(std::istream&) {}
  double x;
  int steps = 0;
  static inline int constructed = 0;
};
}  // namespace

TEST_CASE("a throwing save() fails the trial instead of retraining it",
          "[robustness][checkpoint]") {
  SaveThrows::constructed = 0;
  const auto study = hpt::tune<SaveThrows>(
      unit_space, hpt::SuccessiveHalving{.configurations = 9, .min_resource = 1, .max_resource = 9},
      hpt::NoStopping{}, {.seed = 5, .checkpoint_paused = true});
  CHECK(SaveThrows::constructed == 9);  // nobody is rebuilt
  CHECK(study.count(hpt::TrialStatus::failed) == 9);
  for (const auto& t : study.trials()) {
    CHECK_THAT(t.reason, Catch::Contains("save() threw: disk full"));
    CHECK(t.resource == 1);
  }
}

namespace {
struct ThrowsAtThree {
  hpt::Verdict check(const hpt::StepReport& report) {
    if (report.trial == 1 && report.step == 3) throw std::domain_error("E_opt is 0");
    return {};
  }
};
struct Counting {
  explicit Counting(const hpt::Config&) { ++constructed; }
  double step() { return 1.0; }
  static inline int constructed = 0;
};
}  // namespace

TEST_CASE("a throwing policy fails that trial and the study goes on", "[robustness][policy]") {
  const auto study = hpt::tune<Counting>(
      unit_space, hpt::RandomSearch{.trials = 3, .max_resource = 5}, ThrowsAtThree{});
  CHECK(study.trial(0).status == hpt::TrialStatus::completed);
  CHECK(study.trial(1).status == hpt::TrialStatus::failed);
  CHECK_THAT(study.trial(1).reason,
             Catch::Contains("stopping policy threw at step 3") && Catch::Contains("E_opt is 0"));
  CHECK(study.trial(1).curve.size() == 3);
  CHECK(study.trial(2).status == hpt::TrialStatus::completed);
  REQUIRE_THROWS_AS(
      hpt::tune<Counting>(unit_space, hpt::RandomSearch{.trials = 3, .max_resource = 5},
                          ThrowsAtThree{}, {.catch_exceptions = false}),
      std::domain_error);
}

TEST_CASE("bad policy settings throw before any trainable is built", "[robustness][policy]") {
  Counting::constructed = 0;
  REQUIRE_THROWS_WITH(hpt::tune<Counting>(unit_space, hpt::RandomSearch{.trials = 3},
                                          hpt::Divergence{} | hpt::Patience{.patience = -1}),
                      Catch::Contains("patience") && Catch::Contains("-1"));
  CHECK(Counting::constructed == 0);
}

namespace {
struct Live {
  explicit Live(const hpt::Config& c) : x(c.get<double>("x")) { peak = std::max(peak, ++alive); }
  Live(const Live&) = delete;
  ~Live() { --alive; }
  double step() { return x + 1.0 / ++steps; }
  double x;
  int steps = 0;
  static inline int alive = 0, peak = 0;
};
}  // namespace

TEST_CASE("ASHA frees trials that can no longer be promoted and always has a best",
          "[robustness][asha]") {
  Live::alive = Live::peak = 0;
  const auto study = hpt::tune<Live>(unit_space, hpt::Asha{.trials = 2000, .max_resource = 27},
                                     hpt::NoStopping{}, {.seed = 1});
  CHECK(Live::alive == 0);
  // Without pruning dead entries nearly every one of the 2000 paused trials stays alive to the end.
  CHECK(Live::peak < 1200);
  CHECK(study.count(hpt::TrialStatus::completed) >= 1);
  CHECK(study.count(hpt::TrialStatus::paused) == 0);
  // With 2 trials rung 0 never has a top third: no one is promoted, no one completes, and best()
  // falls back to the best of the trials that got the most resource.
  const auto small = hpt::tune<Live>(unit_space, hpt::Asha{.trials = 2, .max_resource = 27},
                                     hpt::NoStopping{}, {.seed = 1});
  CHECK(small.count(hpt::TrialStatus::completed) == 0);
  REQUIRE(small.has_best());
  const double a = small.trial(0).result(), b = small.trial(1).result();
  CHECK(small.best().result() == std::min(a, b));
}

namespace {
struct Quadratic {
  explicit Quadratic(const hpt::Config& c) : x(c.get<double>("x")) {}
  double step() { return x + 1.0 / ++steps; }
  double x;
  int steps = 0;
};
}  // namespace

TEST_CASE("MedianStopping prunes: its trials are pruned, not stopped, and never the best",
          "[robustness][median]") {
  const auto study =
      hpt::tune<Quadratic>(unit_space, hpt::RandomSearch{.trials = 40, .max_resource = 6},
                           hpt::MedianStopping{.startup_trials = 5}, {.seed = 2});
  std::size_t pruned = 0;
  for (const auto& t : study.trials())
    if (t.status == hpt::TrialStatus::pruned) {
      ++pruned;
      CHECK(t.stopped_by == "MedianStopping");
      CHECK(t.resource < 6);
    }
  CHECK(pruned > 5);
  CHECK(study.best().status == hpt::TrialStatus::completed);
}

namespace {
struct Dips {  // the objective is best at step 2 of 5, and no policy stops the trial
  explicit Dips(const hpt::Config&) {}
  double step() {
    const double curve[] = {0.5, 0.1, 0.3, 0.35, 0.4};
    return curve[steps++];
  }
  int steps = 0;
};
}  // namespace

TEST_CASE("A completed trial's result follows the study's rule, whatever the policy",
          "[robustness][patience]") {
  const hpt::SearchSpace space{hpt::choice("only", {1})};
  const auto last =
      hpt::tune<Dips>(space, hpt::GridSearch{.max_resource = 5}, hpt::Patience{.patience = 10});
  CHECK(last.trial(0).status == hpt::TrialStatus::completed);
  CHECK(last.trial(0).result_step() == 5);
  CHECK(last.trial(0).result() == 0.4);
  const auto best =
      hpt::tune<Dips>(space, hpt::GridSearch{.max_resource = 5}, hpt::Patience{.patience = 10},
                      {.result = hpt::TrialResult::best_step});
  CHECK(best.trial(0).status == hpt::TrialStatus::completed);
  CHECK(best.trial(0).result_step() == 2);  // as Keras's restore_best_weights
  CHECK(best.trial(0).result() == 0.1);
}

TEST_CASE("integer extremes neither overflow nor exhaust memory", "[robustness][space]") {
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  constexpr auto highest = std::numeric_limits<std::int64_t>::max();
  hpt::Random random(3);
  bool negative = false, positive = false;
  for (int i = 0; i < 64; ++i) {
    const auto v = random.between(lowest, highest);
    negative = negative || v < 0;
    positive = positive || v > 0;
  }
  CHECK(negative);
  CHECK(positive);
  CHECK(random.between(highest - 1, highest) >= highest - 1);
  const hpt::SearchSpace wide{hpt::int_range("seed", lowest, highest)};
  CHECK_NOTHROW(wide.sample(1, 0));
  REQUIRE_THROWS_WITH(wide.grid(), Catch::Contains("\"seed\"") && Catch::Contains(".grid(points)"));
  REQUIRE_THROWS_WITH((hpt::SearchSpace{hpt::int_range("n", 0, 2'000'000)}.grid()),
                      Catch::Contains("more than 1000000"));
  CHECK(hpt::SearchSpace{hpt::int_range("n", 0, 999'999)}.grid().size() == 1'000'000);
}

TEST_CASE("conditions that can never hold are refused as typos", "[robustness][space]") {
  REQUIRE_THROWS_WITH(
      (hpt::SearchSpace{hpt::choice("optimizer", {"sgd", "adam"}),
                        hpt::uniform("momentum", 0.0, 0.9).when(hpt::equals("optimizer", "sgdd"))}),
      Catch::Contains("momentum") && Catch::Contains("never takes string \"sgdd\""));
  REQUIRE_THROWS_WITH(
      (hpt::SearchSpace{hpt::int_range("layers", 1, 3),
                        hpt::int_range("units", 1, 9).when(hpt::one_of("layers", {2, 4}))}),
      Catch::Contains("never takes integer 4"));
  REQUIRE_THROWS_WITH(
      (hpt::SearchSpace{hpt::choice("optimizer", {"sgd", "adam"}),
                        hpt::uniform("x", 0.0, 1.0).when(hpt::greater_than("optimizer", 1))}),
      Catch::Contains("non-numeric"));
  CHECK_NOTHROW(hpt::SearchSpace{hpt::choice("layers", {1, 2, 3}),
                                 hpt::uniform("x", 0.0, 1.0).when(hpt::greater_than("layers", 1))});
}

namespace {
struct Narrow {
  std::int8_t units = 0;
};
}  // namespace

TEST_CASE("a struct member too narrow for its range is refused when the space is made",
          "[robustness][typed]") {
  REQUIRE_THROWS_WITH(
      hpt::space_of<Narrow>(hpt::field(&Narrow::units, "units", hpt::int_range(1, 1000))),
      Catch::Contains("\"units\"") && Catch::Contains("do not fit"));
  CHECK_NOTHROW(hpt::space_of<Narrow>(hpt::field(&Narrow::units, "units", hpt::int_range(1, 100))));
}

TEST_CASE("same seed, same study with ASHA and MedianStopping too", "[robustness][reproducible]") {
  auto run = [](std::uint64_t seed) {
    return hpt::tune<Quadratic>(
        unit_space, hpt::Asha{.trials = 300, .max_resource = 27},
        hpt::MedianStopping{.startup_trials = 5} | hpt::Patience{.patience = 3}, {.seed = seed});
  };
  const auto a = run(21), b = run(21);
  REQUIRE(a.trials().size() == b.trials().size());
  for (std::size_t i = 0; i < a.trials().size(); ++i) {
    const auto& x = a.trial(i);
    const auto& y = b.trial(i);
    CHECK(x.config == y.config);
    CHECK(x.status == y.status);
    CHECK(x.reason == y.reason);
    CHECK(x.resource == y.resource);
    CHECK(x.result() == y.result());
  }
  CHECK(a.best().id == b.best().id);
  CHECK_FALSE(run(22).best().config == a.best().config);
}

namespace {
// A one-trial strategy whose scheduler hands out (or prunes at) the bracket and rung given.
struct OddIndices {
  int bracket = 0;
  int rung = 0;
  int pruned_rung = 0;

  struct Scheduler {
    int bracket = 0, rung = 0, pruned_rung = 0;
    bool issued = false, reported = false;
    std::optional<hpt::Job> next() {
      if (issued) return std::nullopt;
      issued = true;
      return hpt::Job{0, 1, bracket, rung, pruned_rung == 0};
    }
    void report(const hpt::Job&, const hpt::Outcome&, std::vector<hpt::Pruning>& prunings) {
      reported = true;
      if (pruned_rung != 0) prunings.push_back({0, pruned_rung, "pruned"});
    }
    [[nodiscard]] bool finished() const { return reported; }
    [[nodiscard]] hpt::Config config(std::size_t) const { return {{"x", 0.5}}; }
    [[nodiscard]] std::vector<hpt::Pruning> unpromoted() const { return {}; }
  };

  void validate() const {}
  [[nodiscard]] hpt::Schedule schedule(const hpt::SearchSpace&) const {
    return {"OddIndices", {{0, {{1, 1}}}}};
  }
  [[nodiscard]] Scheduler make_scheduler(const hpt::SearchSpace&, std::uint64_t) const {
    return {bracket, rung, pruned_rung};
  }
};

struct StepOnce {
  explicit StepOnce(const hpt::Config&) {}
  double step() { return 1.0; }
};
}  // namespace

TEST_CASE("a scheduler's negative bracket or rung is refused, never recorded",
          "[robustness][engine]") {
  // The study readers refuse negative brackets and rungs: the engine never records one.
  REQUIRE(hpt::tune<StepOnce>(unit_space, OddIndices{.bracket = 2, .rung = 1}).trial(0).rung == 1);
  REQUIRE_THROWS_AS(hpt::tune<StepOnce>(unit_space, OddIndices{.bracket = -1}), std::logic_error);
  REQUIRE_THROWS_WITH(hpt::tune<StepOnce>(unit_space, OddIndices{.bracket = -1}),
                      Catch::Contains("trial 0 with bracket -1 and rung 0"));
  REQUIRE_THROWS_WITH(hpt::tune<StepOnce>(unit_space, OddIndices{.rung = -2}),
                      Catch::Contains("bracket 0 and rung -2"));
  REQUIRE_THROWS_WITH(hpt::tune<StepOnce>(unit_space, OddIndices{.pruned_rung = -3}),
                      Catch::Contains("pruned trial 0 at rung -3"));
}
