// scikit-learn's HalvingGridSearchCV / HalvingRandomSearchCV schedules, reproduced with
// SuccessiveHalving's options. Every expected schedule is computed by hand from the rules of
// BaseSuccessiveHalving._run_search, in the notation of successive_halving.hpp:
//   K_n = floor(log_eta n), K_R = floor(log_eta(R / r))        (exact integer logarithms)
//   rungs i = 0 .. min(K_n, K_R), or 0 .. K_n with aggressive elimination
//   resource r * eta^i, or r * eta^max(0, i - K_n + K_R) with aggressive elimination
//   configurations ceil(n_{i-1} / eta) with Keep::ceil (scikit-learn), floor with Keep::floor
//   'exhaust': r = max(smallest, floor(R / eta^K_n))
// tests/golden/make_halving_golden.py checks these numbers against scikit-learn 1.2 itself.
#include <catch2/catch.hpp>
#include <cstdint>
#include <hpt/engine/tune.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace {

struct Expected {
  std::size_t configurations;
  std::int64_t resource;
};

void check_rungs(const hpt::Schedule& schedule, const std::vector<Expected>& rungs) {
  REQUIRE(schedule.brackets.size() == 1);
  const auto& actual = schedule.brackets[0].rungs;
  REQUIRE(actual.size() == rungs.size());
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    INFO("rung " << i);
    CHECK(actual[i].configurations == rungs[i].configurations);
    CHECK(actual[i].resource == rungs[i].resource);
  }
}

hpt::SuccessiveHalving scikit_learn(std::size_t n, std::int64_t r, std::int64_t R, std::int64_t eta,
                                    bool aggressive = false) {
  return {.configurations = n,
          .min_resource = r,
          .max_resource = R,
          .reduction_factor = eta,
          .keep = hpt::Keep::ceil,
          .aggressive_elimination = aggressive};
}

const hpt::SearchSpace unit_space{hpt::uniform("x", 0.0, 1.0)};

}  // namespace

TEST_CASE("Keep::ceil keeps ceil(n_i / 2) with factor 2, as scikit-learn does",
          "[halving][scikit-learn]") {
  // n = 10, r = 1, R = 16, eta = 2: K_n = 3 (8 <= 10 < 16), K_R = 4 (16 <= 16): 4 rungs at
  // 1, 2, 4, 8. ceil: 10 -> 5 -> ceil(2.5) = 3 -> ceil(1.5) = 2.
  check_rungs(scikit_learn(10, 1, 16, 2).schedule(), {{10, 1}, {5, 2}, {3, 4}, {2, 8}});
  // The paper's floor on the same settings: 10 -> 5 -> 2 -> 1.
  auto paper = scikit_learn(10, 1, 16, 2);
  paper.keep = hpt::Keep::floor;
  check_rungs(paper.schedule(), {{10, 1}, {5, 2}, {2, 4}, {1, 8}});
}

TEST_CASE("Keep::ceil with factor 3 and n not a power of 3", "[halving][scikit-learn]") {
  // n = 100, R = 27: K_n = 4 (81 <= 100), K_R = 3, so min(4, 3) + 1 = 4 rungs at 1, 3, 9, 27;
  // ceil(100/3) = 34, ceil(34/3) = 12, ceil(12/3) = 4 (the paper: 33, 11, 3).
  const auto schedule = scikit_learn(100, 1, 27, 3).schedule();
  check_rungs(schedule, {{100, 1}, {34, 3}, {12, 9}, {4, 27}});
  CHECK(schedule.trials() == 100u);
  // Promoted trials resume: 100*1 + 34*(3-1) + 12*(9-3) + 4*(27-9) = 100 + 68 + 72 + 72.
  CHECK(schedule.total_resource() == 312);
  // n = 10, R = 9: K_n = K_R = 2; ceil(10/3) = 4, ceil(4/3) = 2 (the paper: 3, 1).
  check_rungs(scikit_learn(10, 1, 9, 3).schedule(), {{10, 1}, {4, 3}, {2, 9}});
}

TEST_CASE("aggressive elimination repeats the first resource until the rest fit",
          "[halving][scikit-learn]") {
  // n = 100, R = 27, eta = 3: K_n = 4, K_R = 3, so K_n + 1 = 5 rungs with powers
  // max(0, i - 4 + 3) = 0, 0, 1, 2, 3; counts 100, 34, 12, 4, ceil(4/3) = 2.
  const auto schedule = scikit_learn(100, 1, 27, 3, true).schedule();
  check_rungs(schedule, {{100, 1}, {34, 1}, {12, 3}, {4, 9}, {2, 27}});
  CHECK(schedule.trials() == 100u);
  // The repeated rung costs nothing (34 * 0): 100*1 + 12*2 + 4*6 + 2*18.
  CHECK(schedule.total_resource() == 100 + 24 + 24 + 36);
  std::ostringstream printed;
  printed << schedule;
  CHECK(printed.str() ==
        "SuccessiveHalving\n  bracket 0:  100 x 1  34 x 1  12 x 3  4 x 9  2 x 27\n");

  // Factor 2, R not a multiple of r * eta^k: n = 20, r = 3, R = 30. K_n = 4 (16 <= 20),
  // K_R = 3 (3 * 8 = 24 <= 30 < 48). Without: 4 rungs at 3, 6, 12, 24 with 20, 10, 5, 3.
  check_rungs(scikit_learn(20, 3, 30, 2).schedule(), {{20, 3}, {10, 6}, {5, 12}, {3, 24}});
  // With: 5 rungs, powers max(0, i - 1) = 0, 0, 1, 2, 3; the fifth keeps ceil(3/2) = 2.
  check_rungs(scikit_learn(20, 3, 30, 2, true).schedule(),
              {{20, 3}, {10, 3}, {5, 6}, {3, 12}, {2, 24}});
}

TEST_CASE("aggressive elimination with resources to spare starts above r, like scikit-learn",
          "[halving][scikit-learn]") {
  // n = 10, R = 16, eta = 2: K_n = 3 < K_R = 4, so the 4 rungs have powers i - 3 + 4 = i + 1:
  // 2, 4, 8, 16 and the last rung reaches R (without the option: 1, 2, 4, 8).
  check_rungs(scikit_learn(10, 1, 16, 2, true).schedule(), {{10, 2}, {5, 4}, {3, 8}, {2, 16}});
  // K_n == K_R: the option changes nothing. n = 9, R = 9, eta = 3.
  CHECK(scikit_learn(9, 1, 9, 3, true).schedule().brackets[0].rungs.size() == 3);
  check_rungs(scikit_learn(9, 1, 9, 3, true).schedule(), {{9, 1}, {3, 3}, {1, 9}});
}

TEST_CASE("exhaust_min_resource is scikit-learn's min_resources='exhaust'",
          "[halving][scikit-learn]") {
  // n = 30, eta = 3, R = 100: K_n = 3 (27 <= 30), r = 100 / 27 = 3; K_R = floor(log3(33)) = 3.
  CHECK(hpt::exhaust_min_resource(30, 100, 3) == 3);
  check_rungs(scikit_learn(30, hpt::exhaust_min_resource(30, 100, 3), 100, 3).schedule(),
              {{30, 3}, {10, 9}, {4, 27}, {2, 81}});
  // Factor 2, R not a multiple: n = 20, R = 50: K_n = 4, r = 50 / 16 = 3; 3 * 16 = 48 <= 50.
  CHECK(hpt::exhaust_min_resource(20, 50, 2) == 3);
  check_rungs(scikit_learn(20, 3, 50, 2).schedule(), {{20, 3}, {10, 6}, {5, 12}, {3, 24}, {2, 48}});
  // n a power of 2: n = 16, R = 100: r = 100 / 16 = 6, the last rung 6 * 16 = 96.
  CHECK(hpt::exhaust_min_resource(16, 100, 2) == 6);
  check_rungs(scikit_learn(16, 6, 100, 2).schedule(),
              {{16, 6}, {8, 12}, {4, 24}, {2, 48}, {1, 96}});
  // 'smallest' wins: n = 5, eta = 3, R = 10, smallest 4 (scikit-learn's 2 * n_splits for
  // n_samples with cv = 2): max(4, 10 / 3) = 4, and K_R = 0 (4 * 3 > 10): one rung.
  CHECK(hpt::exhaust_min_resource(5, 10, 3, 4) == 4);
  check_rungs(scikit_learn(5, 4, 10, 3).schedule(), {{5, 4}});
  // ... and aggressive elimination adds a rung at the same resource: only a re-ranking.
  check_rungs(scikit_learn(5, 4, 10, 3, true).schedule(), {{5, 4}, {2, 4}});
  // One configuration: K_n = 0, r = R.
  CHECK(hpt::exhaust_min_resource(1, 77, 3) == 77);
  // More rungs needed than R allows: floor(R / eta^K_n) = 0, so smallest.
  CHECK(hpt::exhaust_min_resource(1000, 100, 3) == 1);
  CHECK(hpt::exhaust_min_resource(1000, 100, 3, 2) == 2);
}

TEST_CASE("exhaust uses an exact logarithm: 243 configurations with factor 3",
          "[halving][scikit-learn]") {
  // 243 = 3^5, so K_n = 5 and r = 1000 / 243 = 4. scikit-learn computes
  // floor(log(243) / log(3)) = floor(4.999...) = 4 and would start at 1000 / 81 = 12 with one
  // rung fewer, ending on 3 configurations instead of fewer than the factor.
  CHECK(hpt::exhaust_min_resource(243, 1000, 3) == 4);
  CHECK(hpt::exhaust_min_resource(242, 1000, 3) == 12);  // K_n = 4: 1000 / 81
  // r = 4: K_R = 5 (4 * 243 = 972 <= 1000): 6 rungs, counts 243 / 3^i (exact, ceil = floor).
  check_rungs(scikit_learn(243, 4, 1000, 3).schedule(),
              {{243, 4}, {81, 12}, {27, 36}, {9, 108}, {3, 324}, {1, 972}});
}

TEST_CASE("the budget's logarithm is exact too: R / r = 243 keeps the rung at R",
          "[halving][scikit-learn]") {
  // n = 1000, r = 1, R = 243, eta = 3: K_n = 6 (729 <= 1000), K_R = 5 exactly (scikit-learn's
  // floating-point 4 stops at 81). ceil: 1000, 334, 112, 38, 13, 5.
  check_rungs(scikit_learn(1000, 1, 243, 3).schedule(),
              {{1000, 1}, {334, 3}, {112, 9}, {38, 27}, {13, 81}, {5, 243}});
}

TEST_CASE("the paper's rule stays the default and its schedules are unchanged",
          "[halving][scikit-learn]") {
  const hpt::SuccessiveHalving defaults{};
  CHECK(defaults.keep == hpt::Keep::floor);
  CHECK_FALSE(defaults.aggressive_elimination);
  check_rungs(defaults.schedule(), {{27, 1}, {9, 3}, {3, 9}, {1, 27}});
  check_rungs(hpt::SuccessiveHalving{.configurations = 100, .max_resource = 27}.schedule(),
              {{100, 1}, {33, 3}, {11, 9}, {3, 27}});
  check_rungs(hpt::SuccessiveHalving{.configurations = 10, .max_resource = 9}.schedule(),
              {{10, 1}, {3, 3}, {1, 9}});
  // The loop successive halving always had: rungs while floor(n / eta^i) >= 1 and r*eta^i <= R.
  for (std::size_t n = 1; n <= 130; n += 3)
    for (std::int64_t eta = 2; eta <= 4; ++eta)
      for (std::int64_t r = 1; r <= 3; ++r)
        for (std::int64_t R = r; R <= 90; R += 7) {
          std::vector<Expected> expected;
          std::size_t count = n;
          for (std::int64_t resource = r; count >= 1 && resource <= R; resource *= eta) {
            expected.push_back({count, resource});
            count /= static_cast<std::size_t>(eta);
          }
          INFO("n = " << n << ", eta = " << eta << ", r = " << r << ", R = " << R);
          check_rungs(hpt::SuccessiveHalving{.configurations = n,
                                             .min_resource = r,
                                             .max_resource = R,
                                             .reduction_factor = eta}
                          .schedule(),
                      expected);
        }
}

TEST_CASE("the scheduler promotes ceil(n / eta) trials with Keep::ceil",
          "[halving][scikit-learn]") {
  // n = 10, r = 1, R = 9, eta = 3: rungs (10 x 1), (4 x 3), (2 x 9). Losses make the ranking
  // at every rung 7, 2, 9, 0, 5, ... (the paper would promote only 7, 2, 9, then 7).
  const double loss[] = {0.4, 0.6, 0.2, 0.9, 0.8, 0.5, 0.7, 0.1, 0.95, 0.3};
  auto scheduler = scikit_learn(10, 1, 9, 3).make_scheduler(unit_space, 0);
  std::map<int, std::set<std::size_t>> at_rung;
  std::map<int, std::int64_t> resource_of_rung;
  std::vector<hpt::Pruning> prunings;
  std::vector<hpt::Job> pending;
  while (!scheduler.finished()) {
    while (auto job = scheduler.next()) pending.push_back(*job);  // a whole rung at once
    REQUIRE_FALSE(pending.empty());
    for (const auto& job : pending) {
      at_rung[job.rung].insert(job.trial);
      resource_of_rung[job.rung] = job.resource;
      CHECK(job.last_rung == (job.rung == 2));
      scheduler.report(job, {loss[job.trial], !job.last_rung}, prunings);
    }
    pending.clear();
  }
  CHECK(at_rung[0].size() == 10);
  CHECK(at_rung[1] == std::set<std::size_t>{7, 2, 9, 0});  // ceil(10/3) = 4
  CHECK(at_rung[2] == std::set<std::size_t>{7, 2});        // ceil(4/3) = 2
  CHECK(resource_of_rung == std::map<int, std::int64_t>{{0, 1}, {1, 3}, {2, 9}});
  REQUIRE(prunings.size() == 6 + 2);
  CHECK_THAT(prunings.front().reason, Catch::Contains("the best 4 advanced"));
  CHECK_THAT(prunings.back().reason, Catch::Contains("the best 2 advanced"));
}

TEST_CASE("aggressive elimination in the scheduler: a repeated rung re-ranks at the same resource",
          "[halving][scikit-learn]") {
  // n = 10, r = 1, R = 3, eta = 3: K_n = 2, K_R = 1, powers max(0, i - 1): (10 x 1), (4 x 1),
  // (2 x 3). Rung 1 asks for the same resource: its trials have nothing to run and report the
  // loss they had, so rung 2 gets the best 2 of the first ranking.
  const double loss[] = {0.4, 0.6, 0.2, 0.9, 0.8, 0.5, 0.7, 0.1, 0.95, 0.3};
  auto scheduler = scikit_learn(10, 1, 3, 3, true).make_scheduler(unit_space, 0);
  std::map<int, std::set<std::size_t>> at_rung;
  std::map<int, std::int64_t> resource_of_rung;
  std::vector<hpt::Pruning> prunings;
  while (auto job = scheduler.next()) {  // one job at a time, as the sequential engine does
    at_rung[job->rung].insert(job->trial);
    resource_of_rung[job->rung] = job->resource;
    scheduler.report(*job, {loss[job->trial], !job->last_rung}, prunings);
  }
  CHECK(scheduler.finished());
  CHECK(at_rung[1] == std::set<std::size_t>{7, 2, 9, 0});
  CHECK(at_rung[2] == std::set<std::size_t>{7, 2});
  CHECK(resource_of_rung == std::map<int, std::int64_t>{{0, 1}, {1, 1}, {2, 3}});
  REQUIRE(prunings.size() == 6 + 2);
  CHECK(prunings[6].rung == 1);
  CHECK_THAT(prunings[6].reason, Catch::Contains("rung 1 (resource 1"));
}

namespace {
// Loss x + 1/steps: the ranking at every rung is the ranking by x; counts its own steps.
struct Counted {
  explicit Counted(const hpt::Config& config) : x(config.get<double>("x")) {}
  double step() { return x + 1.0 / static_cast<double>(++steps); }
  double x;
  int steps = 0;
};
}  // namespace

TEST_CASE("a study with aggressive elimination spends exactly the schedule's total_resource",
          "[halving][scikit-learn][engine]") {
  const auto strategy = scikit_learn(10, 1, 3, 3, true);  // (10 x 1), (4 x 1), (2 x 3)
  const auto study = hpt::tune<Counted>(unit_space, strategy, hpt::NoStopping{}, {.seed = 11});
  REQUIRE(study.trials().size() == 10);
  std::int64_t steps = 0;
  std::map<int, int> pruned_at, completed_at;
  for (const auto& trial : study.trials()) {
    steps += trial.resource;
    CHECK(static_cast<std::int64_t>(trial.curve.size()) == trial.resource);
    if (trial.status == hpt::TrialStatus::completed) {
      ++completed_at[trial.rung];
      CHECK(trial.resource == 3);
    } else {
      REQUIRE(trial.status == hpt::TrialStatus::pruned);
      ++pruned_at[trial.rung];
      CHECK(trial.resource == 1);  // pruned at rung 0 or at the repeated rung: one step
    }
  }
  CHECK(pruned_at == std::map<int, int>{{0, 6}, {1, 2}});
  CHECK(completed_at == std::map<int, int>{{2, 2}});
  // 10 * 1 + 4 * 0 + 2 * 2 = 14: the repeated rung ran no step.
  CHECK(strategy.schedule().total_resource() == 14);
  CHECK(steps == 14);
}

TEST_CASE("invalid scikit-learn settings throw, naming the field and value",
          "[halving][scikit-learn]") {
  REQUIRE_THROWS_WITH((hpt::SuccessiveHalving{.keep = static_cast<hpt::Keep>(7)}.schedule()),
                      Catch::Contains("SuccessiveHalving") && Catch::Contains("keep = 7"));
  REQUIRE_THROWS_WITH(
      (hpt::SuccessiveHalving{.reduction_factor = 1, .aggressive_elimination = true}.schedule()),
      Catch::Contains("reduction_factor = 1"));
  REQUIRE_THROWS_WITH(
      hpt::exhaust_min_resource(0, 100, 3),
      Catch::Contains("exhaust_min_resource") && Catch::Contains("configurations = 0"));
  REQUIRE_THROWS_WITH(hpt::exhaust_min_resource(10, 0, 3), Catch::Contains("max_resource = 0"));
  REQUIRE_THROWS_WITH(hpt::exhaust_min_resource(10, 3, 3, 4),
                      Catch::Contains("max_resource = 3") && Catch::Contains("smallest (4)"));
  REQUIRE_THROWS_WITH(hpt::exhaust_min_resource(10, 100, 1),
                      Catch::Contains("reduction_factor = 1"));
  REQUIRE_THROWS_WITH(hpt::exhaust_min_resource(10, 100, 3, 0), Catch::Contains("smallest = 0"));
}
