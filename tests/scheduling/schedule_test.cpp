#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace {
struct Expected {
  std::size_t configurations;
  std::int64_t resource;
};
void check_bracket(const hpt::Bracket& bracket, int index, const std::vector<Expected>& rungs) {
  INFO("bracket " << index);
  CHECK(bracket.index == index);
  REQUIRE(bracket.rungs.size() == rungs.size());
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    INFO("rung " << i);
    CHECK(bracket.rungs[i].configurations == rungs[i].configurations);
    CHECK(bracket.rungs[i].resource == rungs[i].resource);
  }
}
}  // namespace

TEST_CASE("Hyperband reproduces the paper's table for R = 81, eta = 3", "[schedule][hyperband]") {
  // Li et al., JMLR 2018, Table 1: (n_i, r_i) per bracket s.
  const auto schedule =
      hpt::Hyperband{.min_resource = 1, .max_resource = 81, .reduction_factor = 3}.schedule();
  REQUIRE(schedule.brackets.size() == 5);
  check_bracket(schedule.brackets[0], 4, {{81, 1}, {27, 3}, {9, 9}, {3, 27}, {1, 81}});
  check_bracket(schedule.brackets[1], 3, {{34, 3}, {11, 9}, {3, 27}, {1, 81}});
  check_bracket(schedule.brackets[2], 2, {{15, 9}, {5, 27}, {1, 81}});
  check_bracket(schedule.brackets[3], 1, {{8, 27}, {2, 81}});
  check_bracket(schedule.brackets[4], 0, {{5, 81}});
  CHECK(schedule.trials() == 143u);
  // Steps: 81*1 + 27*2 + 9*6 + 3*18 + 1*54 = 297; 34*3 + 11*6 + 3*18 + 54 = 276;
  // 15*9 + 5*18 + 54 = 279; 8*27 + 2*54 = 324; 5*81 = 405.
  CHECK(schedule.total_resource() == 297 + 276 + 279 + 324 + 405);
}

TEST_CASE("Hyperband's s_max uses an exact integer logarithm", "[schedule][hyperband]") {
  // log(243)/log(3) is 4.999... in floating point: a float floor would give 4 and lose a bracket.
  CHECK(
      hpt::Hyperband{.min_resource = 1, .max_resource = 243, .reduction_factor = 3}.max_bracket() ==
      5);
  CHECK(
      hpt::Hyperband{.min_resource = 1, .max_resource = 242, .reduction_factor = 3}.max_bracket() ==
      4);
  CHECK(hpt::Hyperband{.min_resource = 1, .max_resource = 1000, .reduction_factor = 10}
            .max_bracket() == 3);
  CHECK(
      hpt::Hyperband{.min_resource = 2, .max_resource = 162, .reduction_factor = 3}.max_bracket() ==
      4);
  CHECK(hpt::Hyperband{.min_resource = 5, .max_resource = 5, .reduction_factor = 3}.max_bracket() ==
        0);
  const auto schedule =
      hpt::Hyperband{.min_resource = 1, .max_resource = 243, .reduction_factor = 3}.schedule();
  REQUIRE(schedule.brackets.size() == 6);
  // s = 5: n = ceil(6/6 * 243) = 243 at resource 1; s = 4: n = ceil(6/5 * 81) = 98 at 3.
  check_bracket(schedule.brackets[0], 5, {{243, 1}, {81, 3}, {27, 9}, {9, 27}, {3, 81}, {1, 243}});
  CHECK(schedule.brackets[1].rungs[0].configurations == 98u);
}

TEST_CASE("Hyperband rounds non-exact resources to whole steps", "[schedule][hyperband]") {
  // R = 100, eta = 3: s_max = 4; bracket 4 rungs at 100/81, 100/27, 100/9, 100/3, 100.
  const auto schedule =
      hpt::Hyperband{.min_resource = 1, .max_resource = 100, .reduction_factor = 3}.schedule();
  check_bracket(schedule.brackets[0], 4, {{81, 1}, {27, 4}, {9, 11}, {3, 33}, {1, 100}});
  check_bracket(schedule.brackets[4], 0, {{5, 100}});
}

TEST_CASE("successive halving follows floor(n / eta^i) configurations at r * eta^i",
          "[schedule][halving]") {
  check_bracket(hpt::SuccessiveHalving{.configurations = 81, .min_resource = 1, .max_resource = 81}
                    .schedule()
                    .brackets[0],
                0, {{81, 1}, {27, 3}, {9, 9}, {3, 27}, {1, 81}});
  // n = 100, R = 27: stops at the budget; floor(100/3) = 33, floor(33/3) = 11, floor(11/3) = 3.
  check_bracket(hpt::SuccessiveHalving{.configurations = 100, .min_resource = 1, .max_resource = 27}
                    .schedule()
                    .brackets[0],
                0, {{100, 1}, {33, 3}, {11, 9}, {3, 27}});
  // n = 10, eta = 2, r = 2, R = 1000: stops when one configuration is left.
  check_bracket(
      hpt::SuccessiveHalving{
          .configurations = 10, .min_resource = 2, .max_resource = 1000, .reduction_factor = 2}
          .schedule()
          .brackets[0],
      0, {{10, 2}, {5, 4}, {2, 8}, {1, 16}});
}

TEST_CASE("ASHA's rungs are r * eta^k up to R", "[schedule][asha]") {
  CHECK(hpt::Asha{.trials = 10, .min_resource = 1, .max_resource = 81}.resources() ==
        std::vector<std::int64_t>{1, 3, 9, 27, 81});
  CHECK(hpt::Asha{.trials = 10, .min_resource = 2, .max_resource = 100}.resources() ==
        std::vector<std::int64_t>{2, 6, 18, 54});
  const auto schedule = hpt::Asha{.trials = 10, .max_resource = 9}.schedule();
  CHECK(schedule.trials() == 10u);
  CHECK_FALSE(schedule.brackets[0].rungs[1].configurations.has_value());
}

TEST_CASE("invalid strategy settings throw, naming the field and value", "[schedule]") {
  REQUIRE_THROWS_WITH((hpt::Hyperband{.min_resource = 0}.schedule()),
                      Catch::Contains("Hyperband") && Catch::Contains("min_resource = 0"));
  REQUIRE_THROWS_WITH((hpt::Hyperband{.min_resource = 10, .max_resource = 5}.schedule()),
                      Catch::Contains("max_resource = 5"));
  REQUIRE_THROWS_WITH((hpt::Hyperband{.reduction_factor = 1}.schedule()),
                      Catch::Contains("reduction_factor = 1"));
  REQUIRE_THROWS_WITH(
      (hpt::SuccessiveHalving{.configurations = 0}.schedule()),
      Catch::Contains("SuccessiveHalving") && Catch::Contains("configurations = 0"));
  REQUIRE_THROWS_WITH((hpt::Asha{.trials = 0}.schedule()),
                      Catch::Contains("Asha") && Catch::Contains("trials = 0"));
  REQUIRE_THROWS_WITH((hpt::RandomSearch{.trials = 0}.validate()), Catch::Contains("trials = 0"));
  REQUIRE_THROWS_WITH((hpt::RandomSearch{.trials = 3, .max_resource = 0}.validate()),
                      Catch::Contains("max_resource = 0"));
  REQUIRE_THROWS_WITH((hpt::GridSearch{.max_resource = -2}.validate()),
                      Catch::Contains("max_resource = -2"));
  REQUIRE_THROWS_AS((hpt::Hyperband{.max_resource = 1LL << 62, .reduction_factor = 2}.schedule()),
                    std::overflow_error);
}

TEST_CASE("a hand-built schedule's totals refuse to wrap, naming the bracket and rung",
          "[schedule]") {
  constexpr auto max_steps = std::numeric_limits<std::int64_t>::max();
  constexpr auto max_count = std::numeric_limits<std::size_t>::max();
  const auto plan = [](std::vector<hpt::Bracket> brackets) {
    return hpt::Schedule{"hand-built", std::move(brackets)};
  };
  // Exactly at the limits: no error.
  CHECK(plan({{0, {{max_count - 1, 0}}}, {1, {{1, 0}}}}).trials() == max_count);
  CHECK(plan({{0, {{1, max_steps - 1}}}, {1, {{1, 1}}}}).total_resource() == max_steps);
  CHECK(plan({{0, {{1, 1}, {1, max_steps}}}}).total_resource() == max_steps);

  // trials(): the first rungs' counts overflow std::size_t.
  REQUIRE_THROWS_AS(plan({{0, {{max_count, 1}}}, {5, {{1, 1}}}}).trials(), std::overflow_error);
  REQUIRE_THROWS_WITH(plan({{0, {{max_count, 1}}}, {5, {{1, 1}}}}).trials(),
                      Catch::Contains("hpt::Schedule::trials") &&
                          Catch::Contains("bracket 1 (index 5), rung 0") &&
                          Catch::Contains("1 configurations after 18446744073709551615"));
  // A count that depends on the run still means "unknown", whatever the others add up to.
  CHECK_FALSE(plan({{0, {{max_count, 1}}}, {1, {{1, 1}}}, {2, {{std::nullopt, 1}}}}).trials());

  // total_resource(): a count beyond int64 (once wrapped to a negative number of steps), a
  // product and a sum beyond int64.
  REQUIRE_THROWS_WITH(plan({{3, {{std::size_t{1} << 63, 1}}}}).total_resource(),
                      Catch::Contains("hpt::Schedule::total_resource") &&
                          Catch::Contains("bracket 0 (index 3), rung 0") &&
                          Catch::Contains("9223372036854775808 configurations x 1 more steps"));
  REQUIRE_THROWS_AS(
      plan({{0, {{1, 1}, {std::size_t{1} << 32, std::int64_t{1} << 32}}}}).total_resource(),
      std::overflow_error);
  REQUIRE_THROWS_WITH(
      plan({{0, {{1, 1}, {std::size_t{1} << 32, std::int64_t{1} << 32}}}}).total_resource(),
      Catch::Contains("bracket 0 (index 0), rung 1: 4294967296 configurations x 4294967295 more "
                      "steps after 1"));
  REQUIRE_THROWS_WITH(plan({{0, {{1, max_steps}}}, {1, {{1, 1}}}}).total_resource(),
                      Catch::Contains("bracket 1 (index 1), rung 0") &&
                          Catch::Contains("after 9223372036854775807"));
  // Resources are cumulative: a negative one, or one below the previous rung's, would count
  // negative steps (and INT64_MIN - previous would overflow).
  REQUIRE_THROWS_AS(plan({{0, {{1, -5}}}}).total_resource(), std::invalid_argument);
  REQUIRE_THROWS_WITH(plan({{0, {{1, -5}}}}).total_resource(),
                      Catch::Contains("bracket 0 (index 0), rung 0: resource = -5 is below 0"));
  REQUIRE_THROWS_WITH(
      plan({{0, {{3, 9}, {1, std::numeric_limits<std::int64_t>::min()}}}}).total_resource(),
      Catch::Contains("rung 1: resource = -9223372036854775808 is below the previous rung's 9"));
  // A count that depends on the run still means "unknown".
  CHECK_FALSE(plan({{0, {{1, -5}}}, {1, {{std::nullopt, 1}}}}).total_resource());
  // Rungs that add no steps add nothing, however many configurations they hold.
  CHECK(plan({{0, {{max_count, 0}, {max_count, 0}}}}).total_resource() == 0);
}
