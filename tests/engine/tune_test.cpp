#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <hpt/engine/tune.hpp>
#include <hpt/observe/console_reporter.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <hpt/stopping/patience.hpp>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// The objective is the configuration's "x" plus a decaying term, so the ranking at every rung is
// the ranking by x: the truth the tests compare against is computed from the configurations.
struct Quadratic {
  explicit Quadratic(const hpt::Config& config) : x(config.get<double>("x")) { ++constructed; }
  hpt::Metrics step() {
    ++steps;
    return {.objective = x + 1.0 / static_cast<double>(steps),
            .values = {{"steps", double(steps)}}};
  }
  double x;
  int steps = 0;
  static inline int constructed = 0;
};

struct ReturnsDouble {
  explicit ReturnsDouble(const hpt::Config&) {}
  double step() { return 1.0; }
};
struct NoStep {
  explicit NoStep(const hpt::Config&) {}
};
struct StepReturnsString {
  std::string step() { return ""; }
};
struct Saves {
  double step() { return 0; }
  void save(std::ostream&) const {}
  void restore(std::istream&) {}
};
struct Resets {
  double step() { return 0; }
  bool reset(const hpt::Config&) { return true; }
};

const hpt::SearchSpace unit_space{hpt::uniform("x", 0.0, 1.0)};

double x_of(const hpt::Trial& trial) {
  return trial.config.get<double>("x");
}

}  // namespace

static_assert(hpt::Trainable<Quadratic>);
static_assert(hpt::Trainable<ReturnsDouble>);
static_assert(!hpt::Trainable<NoStep>);
static_assert(!hpt::Trainable<StepReturnsString>);
static_assert(!hpt::Trainable<int>);
static_assert(hpt::Checkpointable<Saves>);
static_assert(!hpt::Checkpointable<Quadratic>);
static_assert(hpt::Resettable<Resets, hpt::Config>);
static_assert(!hpt::Resettable<Quadratic, hpt::Config>);
static_assert(hpt::StoppingPolicy<hpt::NoStopping>);
static_assert(hpt::SearchStrategy<hpt::Hyperband>);
static_assert(hpt::SearchStrategy<hpt::Asha>);
static_assert(hpt::SearchStrategy<hpt::GridSearch>);
static_assert(!hpt::SearchStrategy<int>);

TEST_CASE("random search runs every trial to its budget and finds the best x", "[engine]") {
  const auto study =
      hpt::tune<Quadratic>(unit_space, hpt::RandomSearch{.trials = 20, .max_resource = 5},
                           hpt::NoStopping{}, {.seed = 1});
  REQUIRE(study.trials().size() == 20);
  for (const auto& trial : study.trials()) {
    CHECK(trial.status == hpt::TrialStatus::completed);
    CHECK(trial.resource == 5);
    REQUIRE(trial.curve.size() == 5);
    CHECK(trial.curve[4].step == 5);
    CHECK(trial.result() == Approx(x_of(trial) + 0.2));
    CHECK(trial.curve[2].values.at(0).second == 3.0);
  }
  const auto& best = study.best();
  for (const auto& trial : study.trials()) CHECK(x_of(best) <= x_of(trial));
  const auto order = study.leaderboard();
  for (std::size_t i = 1; i < order.size(); ++i)
    CHECK(study.trial(order[i - 1]).result() <= study.trial(order[i]).result());
}

TEST_CASE("maximize picks the largest result", "[engine]") {
  const auto study =
      hpt::tune<Quadratic>(unit_space, hpt::RandomSearch{.trials = 10, .max_resource = 1},
                           hpt::NoStopping{}, {.direction = hpt::maximize, .seed = 3});
  for (const auto& trial : study.trials()) CHECK(x_of(study.best()) >= x_of(trial));
}

TEST_CASE("successive halving promotes the best floor(n_i/eta), which resume where they paused",
          "[engine][halving]") {
  Quadratic::constructed = 0;
  const auto study = hpt::tune<Quadratic>(
      unit_space, hpt::SuccessiveHalving{.configurations = 9, .min_resource = 1, .max_resource = 9},
      hpt::NoStopping{}, {.seed = 5});
  REQUIRE(study.trials().size() == 9);
  // Promoted trials are never rebuilt: one construction per trial.
  CHECK(Quadratic::constructed == 9);
  std::vector<std::size_t> by_x(9);
  std::iota(by_x.begin(), by_x.end(), std::size_t{0});
  std::sort(by_x.begin(), by_x.end(),
            [&](auto a, auto b) { return x_of(study.trial(a)) < x_of(study.trial(b)); });
  // Truth by hand: rungs (9 x 1), (3 x 3), (1 x 9).
  const auto& winner = study.trial(by_x[0]);
  CHECK(winner.status == hpt::TrialStatus::completed);
  CHECK(winner.resource == 9);
  CHECK(winner.rung == 2);
  for (int k = 1; k < 3; ++k) {
    const auto& t = study.trial(by_x[k]);
    CHECK(t.status == hpt::TrialStatus::pruned);
    CHECK(t.resource == 3);
    CHECK(t.rung == 1);
    CHECK_THAT(t.reason, Catch::Contains("rung 1"));
  }
  for (int k = 3; k < 9; ++k) {
    const auto& t = study.trial(by_x[k]);
    CHECK(t.status == hpt::TrialStatus::pruned);
    CHECK(t.resource == 1);
    CHECK(t.rung == 0);
  }
  // The winner's curve is continuous: steps 1..9, objective x + 1/step.
  REQUIRE(winner.curve.size() == 9);
  for (int s = 0; s < 9; ++s) {
    CHECK(winner.curve[s].step == s + 1);
    CHECK(winner.curve[s].objective == Approx(x_of(winner) + 1.0 / (s + 1)));
  }
  CHECK(&study.best() == &winner);
}

TEST_CASE("Hyperband runs every bracket of its schedule", "[engine][hyperband]") {
  const hpt::Hyperband hyperband{.min_resource = 1, .max_resource = 27, .reduction_factor = 3};
  const auto study = hpt::tune<Quadratic>(unit_space, hyperband, hpt::NoStopping{}, {.seed = 9});
  const auto schedule = hyperband.schedule();
  REQUIRE(study.trials().size() == *schedule.trials());
  std::int64_t steps = 0;
  std::map<int, std::map<std::int64_t, int>> reached;  // bracket -> resource -> trials
  for (const auto& trial : study.trials()) {
    steps += trial.resource;
    ++reached[trial.bracket][trial.resource];
  }
  CHECK(steps == *schedule.total_resource());
  // By hand, R = 27, eta = 3: brackets (27,9,3,1), (12,4,1), (6,2), (4): their last rungs
  // complete 1 + 1 + 2 + 4 trials at R.
  CHECK(schedule.trials() == 27u + 12 + 6 + 4);
  CHECK(study.count(hpt::TrialStatus::completed) == 1 + 1 + 2 + 4);
  for (const auto& bracket : schedule.brackets) {
    for (std::size_t i = 0; i < bracket.rungs.size(); ++i) {
      const auto expected_here =
          *bracket.rungs[i].configurations -
          (i + 1 < bracket.rungs.size() ? *bracket.rungs[i + 1].configurations : 0);
      CHECK(reached[bracket.index][bracket.rungs[i].resource] == static_cast<int>(expected_here));
    }
  }
}

TEST_CASE("the same seed gives the same study; another seed another", "[engine][reproducible]") {
  auto run = [](std::uint64_t seed) {
    return hpt::tune<Quadratic>(unit_space, hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{},
                                {.seed = seed});
  };
  const auto a = run(11), b = run(11), c = run(12);
  REQUIRE(a.trials().size() == b.trials().size());
  for (std::size_t i = 0; i < a.trials().size(); ++i) {
    CHECK(a.trial(i).config == b.trial(i).config);
    CHECK(a.trial(i).status == b.trial(i).status);
    CHECK(a.trial(i).resource == b.trial(i).resource);
  }
  CHECK(a.best().config == b.best().config);
  CHECK_FALSE(a.trial(0).config == c.trial(0).config);
}

namespace {
struct Fragile {
  explicit Fragile(const hpt::Config& config) : kind(config.get<std::string>("kind")) {
    if (kind == "broken_constructor") throw std::runtime_error("no GPU here");
  }
  hpt::Metrics step() {
    ++steps;
    if (kind == "throws" && steps == 2) throw std::invalid_argument("bad minibatch");
    if (kind == "nan" && steps == 3) return {.objective = std::numeric_limits<double>::quiet_NaN()};
    if (kind == "inf") return {.objective = std::numeric_limits<double>::infinity()};
    if (kind == "finishes" && steps == 2) return {.objective = 0.5, .done = true};
    if (kind == "odd") throw 42;
    return {.objective = 1.0};
  }
  std::string kind;
  int steps = 0;
};
}  // namespace

TEST_CASE("failures and divergence are recorded with their reason and the study goes on",
          "[engine][failure]") {
  const hpt::SearchSpace space{hpt::choice(
      "kind", {"fine", "broken_constructor", "throws", "nan", "inf", "finishes", "odd"})};
  const auto study = hpt::tune<Fragile>(space, hpt::GridSearch{.max_resource = 4});
  REQUIRE(study.trials().size() == 7);
  const auto& fine = study.trial(0);
  CHECK(fine.status == hpt::TrialStatus::completed);
  CHECK(fine.resource == 4);
  const auto& broken = study.trial(1);
  CHECK(broken.status == hpt::TrialStatus::failed);
  CHECK_THAT(broken.reason, Catch::Contains("constructing") && Catch::Contains("no GPU here"));
  CHECK(broken.resource == 0);
  const auto& throws = study.trial(2);
  CHECK(throws.status == hpt::TrialStatus::failed);
  CHECK_THAT(throws.reason, Catch::Contains("step 2") && Catch::Contains("bad minibatch"));
  CHECK(throws.curve.size() == 1);  // the finished step is kept
  const auto& nan = study.trial(3);
  CHECK(nan.status == hpt::TrialStatus::diverged);
  CHECK_THAT(nan.reason, Catch::Contains("nan") && Catch::Contains("step 3"));
  CHECK(nan.curve.size() == 3);
  CHECK(study.trial(4).status == hpt::TrialStatus::diverged);
  CHECK_THAT(study.trial(4).reason, Catch::Contains("inf") && Catch::Contains("step 1"));
  const auto& finishes = study.trial(5);
  CHECK(finishes.status == hpt::TrialStatus::completed);
  CHECK(finishes.resource == 2);
  CHECK(finishes.result() == 0.5);
  CHECK(study.trial(6).status == hpt::TrialStatus::failed);
  CHECK_THAT(study.trial(6).reason, Catch::Contains("non-standard"));
  CHECK(study.best().id == 5);
  // Failed and diverged trials rank last on the leaderboard.
  const auto order = study.leaderboard();
  CHECK(study.trial(order.back()).status == hpt::TrialStatus::failed);
}

TEST_CASE("catch_exceptions = false lets the first exception through", "[engine][failure]") {
  const hpt::SearchSpace space{hpt::choice("kind", {"fine", "throws"})};
  REQUIRE_THROWS_WITH(hpt::tune<Fragile>(space, hpt::GridSearch{.max_resource = 3},
                                         hpt::NoStopping{}, {.catch_exceptions = false}),
                      "bad minibatch");
}

TEST_CASE("NaN trials rank last in halving and are never promoted", "[engine][halving]") {
  const hpt::SearchSpace space{hpt::choice("kind", {"nan", "fine", "throws"})};
  const auto study = hpt::tune<Fragile>(
      space, hpt::SuccessiveHalving{.configurations = 3, .min_resource = 3, .max_resource = 9},
      hpt::NoStopping{}, {.seed = 2});
  for (const auto& trial : study.trials()) {
    const auto kind = trial.config.get<std::string>("kind");
    if (kind == "nan") CHECK(trial.status == hpt::TrialStatus::diverged);
    if (kind == "throws") CHECK(trial.status == hpt::TrialStatus::failed);
  }
}

namespace {
// Stops every trial whose objective is above a bound.
struct StopAbove {
  double bound;
  hpt::Verdict check(const hpt::StepReport& report) {
    ++checks;
    if (report.step >= 3 && report.objective > bound)
      return hpt::Verdict::stop("StopAbove", "above " + std::to_string(bound));
    return {};
  }
  void trial_ended(const hpt::TrialEnded& ended) { ended_statuses.push_back(ended.status); }
  int checks = 0;
  std::vector<hpt::TrialStatus> ended_statuses{};
};
struct Rising {
  explicit Rising(const hpt::Config& c) : x(c.get<double>("x")) {}
  double step() { return x + 0.1 * ++steps; }  // gets worse every step
  double x;
  int steps = 0;
};
}  // namespace

TEST_CASE(
    "a stopping policy ends trials with its reason; the study's rule says which step is the "
    "result",
    "[engine][policy]") {
  for (const auto rule : {hpt::TrialResult::last_step, hpt::TrialResult::best_step}) {
    CAPTURE(std::string(hpt::to_string(rule)));
    const auto study =
        hpt::tune<Rising>(unit_space, hpt::RandomSearch{.trials = 30, .max_resource = 10},
                          StopAbove{.bound = 0.8}, {.seed = 4, .result = rule});
    int stopped = 0;
    for (const auto& trial : study.trials()) {
      if (trial.status == hpt::TrialStatus::stopped) {
        ++stopped;
        CHECK(trial.stopped_by == "StopAbove");
        CHECK_THAT(trial.reason, Catch::Contains("above"));
        CHECK(trial.resource < 10);
      } else {
        CHECK(trial.status == hpt::TrialStatus::completed);
      }
      // A rising curve: its best step is the first, its last is where it ended.
      if (rule == hpt::TrialResult::best_step) {
        CHECK(trial.result_step() == 1);
        CHECK(trial.result() == Approx(x_of(trial) + 0.1));
      } else {
        CHECK(trial.result_step() == trial.resource);
        CHECK(trial.result() == Approx(x_of(trial) + 0.1 * static_cast<double>(trial.resource)));
      }
    }
    CHECK(stopped > 5);
  }
}

namespace {
struct Recorder {
  std::vector<std::string> events;
  void on_study_start(const hpt::Study&) { events.push_back("study_start"); }
  void on_trial_start(const hpt::Trial& t) {
    events.push_back("trial_start " + std::to_string(t.id));
  }
  void on_step(const hpt::Trial& t, const hpt::Step& s) {
    events.push_back("step " + std::to_string(t.id) + ":" + std::to_string(s.step));
  }
  void on_trial_end(const hpt::Trial& t) {
    events.push_back("trial_end " + std::to_string(t.id) + " " +
                     std::string(hpt::to_string(t.status)));
  }
  void on_study_end(const hpt::Study&) { events.push_back("study_end"); }
};
struct OnlyEnd {
  int ended = 0;
  void on_trial_end(const hpt::Trial&) { ++ended; }
};
struct NotAnObserver {
  void on_trail_end(const hpt::Trial&) {}  // misspelt: rejected at compile time
};
}  // namespace

static_assert(hpt::Observer<Recorder>);
static_assert(hpt::Observer<OnlyEnd>);
static_assert(!hpt::Observer<NotAnObserver>);

TEST_CASE("observers see the study, trials and steps in order", "[engine][observer]") {
  Recorder recorder;
  OnlyEnd only_end;
  hpt::tune<Quadratic>(unit_space, hpt::RandomSearch{.trials = 2, .max_resource = 2},
                       hpt::NoStopping{}, {}, recorder, only_end);
  const std::vector<std::string> expected{
      "study_start",           "trial_start 0", "step 0:1", "step 0:2",
      "trial_end 0 completed", "trial_start 1", "step 1:1", "step 1:2",
      "trial_end 1 completed", "study_end"};
  CHECK(recorder.events == expected);
  CHECK(only_end.ended == 2);
}

TEST_CASE("the console reporter writes plain log lines when not on a terminal",
          "[engine][observer]") {
  std::ostringstream out;
  hpt::ConsoleReporter reporter(out);
  CHECK_FALSE(reporter.live());
  const auto study =
      hpt::tune<Quadratic>(unit_space, hpt::RandomSearch{.trials = 3, .max_resource = 2},
                           hpt::NoStopping{}, {.name = "demo"}, reporter);
  const std::string text = out.str();
  CHECK_THAT(text, Catch::Contains("[hpt] demo: RandomSearch, 3 trials"));
  CHECK_THAT(text, Catch::Contains("trial 2 completed after 2 steps"));
  CHECK_THAT(text, Catch::Contains("[hpt] done: 3 completed"));
  CHECK_THAT(text, Catch::Contains("(trial " + std::to_string(study.best().id) + ")"));
  CHECK(text.find('\r') == std::string::npos);
}

namespace {
struct Reusable {
  explicit Reusable(const hpt::Config& c) : x(c.get<double>("x")) { ++constructed; }
  bool reset(const hpt::Config& c) {
    x = c.get<double>("x");
    steps = 0;
    ++resets;
    return true;
  }
  double step() { return x + 1.0 / ++steps; }
  double x;
  int steps = 0;
  static inline int constructed = 0, resets = 0;
};
}  // namespace

TEST_CASE("resettable trainables are reused instead of rebuilt", "[engine][reset]") {
  Reusable::constructed = Reusable::resets = 0;
  const auto study =
      hpt::tune<Reusable>(unit_space, hpt::RandomSearch{.trials = 10, .max_resource = 3});
  CHECK(Reusable::constructed == 1);
  CHECK(Reusable::resets == 9);
  for (const auto& t : study.trials())
    CHECK(t.result() == Approx(x_of(t) + 1.0 / 3));  // reset restarts
}

TEST_CASE("a factory and a typed space work too", "[engine][typed]") {
  struct Hyper {
    double x = 0;
  };
  struct FromHyper {
    double x;
    double step() const { return x; }
  };
  const auto space = hpt::space_of<Hyper>(hpt::field(&Hyper::x, "x", hpt::uniform(0.0, 1.0)));
  int made = 0;
  const auto study = hpt::tune(
      space,
      [&](const Hyper& h) {
        ++made;
        return FromHyper{h.x};
      },
      hpt::RandomSearch{.trials = 4, .max_resource = 2});
  CHECK(made == 4);
  for (const auto& t : study.trials()) CHECK(t.result() == x_of(t));
}

TEST_CASE("grid search runs the grid in order, or shuffled by the seed", "[engine][grid]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(5)};
  const auto in_order = hpt::tune<Quadratic>(space, hpt::GridSearch{.max_resource = 1});
  REQUIRE(in_order.trials().size() == 5);
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(x_of(in_order.trial(i)) == Approx(0.25 * static_cast<double>(i)));
  const auto shuffled = hpt::tune<Quadratic>(
      space, hpt::GridSearch{.max_resource = 1, .shuffle = true}, hpt::NoStopping{}, {.seed = 3});
  std::vector<double> xs;
  for (const auto& t : shuffled.trials()) xs.push_back(x_of(t));
  CHECK_FALSE(std::is_sorted(xs.begin(), xs.end()));
  std::sort(xs.begin(), xs.end());
  for (std::size_t i = 0; i < 5; ++i) CHECK(xs[i] == Approx(0.25 * static_cast<double>(i)));
}

TEST_CASE("best() on a study where nothing completed says so", "[engine]") {
  const hpt::SearchSpace space{hpt::choice("kind", {"throws", "nan"})};
  const auto study = hpt::tune<Fragile>(space, hpt::GridSearch{.max_resource = 4});
  CHECK_FALSE(study.has_best());
  REQUIRE_THROWS_WITH(study.best(), Catch::Contains("no trial completed") &&
                                        Catch::Contains("1 failed") &&
                                        Catch::Contains("1 diverged"));
}

namespace {
struct Saved {
  explicit Saved(const hpt::Config& c) : x(c.get<double>("x")) { ++constructed; }
  double step() { return x + 1.0 / ++steps; }
  void save(std::ostream& out) const {
    ++saves;
    out << steps;
  }
  void restore(std::istream& in) {
    ++restores;
    in >> steps;
  }
  double x;
  int steps = 0;
  static inline int constructed = 0, saves = 0, restores = 0;
};
}  // namespace

TEST_CASE("checkpoint_paused writes paused trials out and restores them when promoted",
          "[engine][checkpoint]") {
  for (bool checkpoint : {false, true}) {
    Saved::constructed = Saved::saves = Saved::restores = 0;
    const auto study = hpt::tune<Saved>(
        unit_space,
        hpt::SuccessiveHalving{.configurations = 9, .min_resource = 1, .max_resource = 9},
        hpt::NoStopping{}, {.seed = 5, .checkpoint_paused = checkpoint});
    if (checkpoint) {
      // 9 pauses at rung 0 and 3 at rung 1 are saved; 3 + 1 promotions are restored and rebuilt.
      CHECK(Saved::saves == 12);
      CHECK(Saved::restores == 4);
      CHECK(Saved::constructed == 9 + 4);
    } else {
      CHECK(Saved::saves == 0);
      CHECK(Saved::constructed == 9);
    }
    // Either way the winner's curve continues where it paused: x + 1/step for steps 1..9.
    const auto& best = study.best();
    REQUIRE(best.curve.size() == 9);
    for (int s = 0; s < 9; ++s)
      CHECK(best.curve[s].objective == Approx(x_of(best) + 1.0 / (s + 1)));
  }
}

namespace {
// The watched accuracy peaks at step 2, the objective is lowest at step 3, and the trial ends
// (Patience on the accuracy) at step 4: three different steps.
struct Peaks {
  explicit Peaks(const hpt::Config&) {}
  hpt::Metrics step() {
    ++steps;
    const double accuracy[] = {0.5, 0.9, 0.8, 0.7, 0.6, 0.5};
    const double loss[] = {1.0, 0.6, 0.4, 0.5, 0.45, 0.5};
    return {.objective = loss[steps - 1], .values = {{"accuracy", accuracy[steps - 1]}}};
  }
  int steps = 0;
};
}  // namespace

TEST_CASE("Patience on another metric stops by that metric; the result follows the study's rule",
          "[engine][policy]") {
  const hpt::SearchSpace space{hpt::choice("only", {1})};
  for (const auto rule : {hpt::TrialResult::last_step, hpt::TrialResult::best_step}) {
    CAPTURE(std::string(hpt::to_string(rule)));
    const auto study = hpt::tune<Peaks>(
        space, hpt::GridSearch{.max_resource = 6},
        hpt::Patience{.patience = 2, .direction = hpt::maximize, .metric = "accuracy"},
        {.result = rule});
    const auto& trial = study.trial(0);
    CHECK(trial.status == hpt::TrialStatus::stopped);
    CHECK(trial.resource == 4);  // no better accuracy at steps 3 and 4
    // Never the accuracy's best step (2): the objective's last (4) or best (3) step.
    if (rule == hpt::TrialResult::last_step) {
      CHECK(trial.result_step() == 4);
      CHECK(trial.result() == 0.5);
    } else {
      CHECK(trial.result_step() == 3);
      CHECK(trial.result() == 0.4);
    }
  }
}
