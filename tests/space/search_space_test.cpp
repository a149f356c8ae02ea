#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <hpt/space/search_space.hpp>
#include <hpt/space/typed_space.hpp>
#include <limits>
#include <map>
#include <set>
#include <string>

namespace {
enum class Cell { lstm, gru };
constexpr auto enum_labels(Cell) {
  return std::array{std::pair{Cell::lstm, "lstm"}, std::pair{Cell::gru, "gru"}};
}
}  // namespace

TEST_CASE("invalid parameters throw at construction, naming the parameter and value", "[space]") {
  REQUIRE_THROWS_WITH(
      hpt::uniform("momentum", 0.9, 0.9),
      Catch::Contains("momentum") && Catch::Contains("low 0.9 must be below high 0.9"));
  REQUIRE_THROWS_WITH(hpt::uniform("x", 2.0, 1.0), Catch::Contains("\"x\""));
  REQUIRE_THROWS_WITH(hpt::log_uniform("learning_rate", 0.0, 0.1),
                      Catch::Contains("learning_rate") &&
                          Catch::Contains("log scale needs low > 0") && Catch::Contains("0.0"));
  REQUIRE_THROWS_WITH(hpt::log_uniform("learning_rate", -1.0, 0.1), Catch::Contains("-1.0"));
  REQUIRE_THROWS_WITH(hpt::uniform("x", 0.0, INFINITY), Catch::Contains("finite"));
  REQUIRE_THROWS_WITH(hpt::int_range("units", 5, 5),
                      Catch::Contains("units") && Catch::Contains("low 5"));
  REQUIRE_THROWS_WITH(hpt::int_range("units", 0, 512, hpt::log_scale),
                      Catch::Contains("units") && Catch::Contains("low >= 1"));
  REQUIRE_THROWS_WITH(hpt::choice("optimizer", {}),
                      Catch::Contains("optimizer") && Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(hpt::choice("optimizer", {"sgd", "adam", "sgd"}),
                      Catch::Contains("optimizer") && Catch::Contains("\"sgd\" appears twice"));
  REQUIRE_THROWS_WITH(hpt::uniform("x", 0.0, 1.0).grid(1),
                      Catch::Contains("\"x\"") && Catch::Contains("at least 2 points, got 1"));
  REQUIRE_THROWS_WITH(hpt::choice("c", {1, 2}).grid(3), Catch::Contains("\"c\""));
  REQUIRE_THROWS_WITH(hpt::uniform("", 0.0, 1.0), Catch::Contains("name must not be empty"));
}

TEST_CASE("invalid spaces throw at construction", "[space]") {
  REQUIRE_THROWS_WITH((hpt::SearchSpace{hpt::uniform("x", 0, 1), hpt::uniform("x", 0, 2)}),
                      Catch::Contains("\"x\" is declared twice"));
  REQUIRE_THROWS_WITH(
      (hpt::SearchSpace{hpt::uniform("momentum", 0, 1).when(hpt::equals("optimizer", "sgd"))}),
      Catch::Contains("momentum") && Catch::Contains("\"optimizer\"") &&
          Catch::Contains("not a parameter declared before it"));
  // A condition on a later parameter is refused too: one pass must decide activity.
  REQUIRE_THROWS_AS(
      (hpt::SearchSpace{hpt::uniform("momentum", 0, 1).when(hpt::equals("optimizer", "sgd")),
                        hpt::choice("optimizer", {"sgd", "adam"})}),
      std::invalid_argument);
  REQUIRE_THROWS_WITH((hpt::SearchSpace{hpt::uniform("learning_rate", 1e-3, 1e-1)}.grid()),
                      Catch::Contains("learning_rate") && Catch::Contains("point count"));
}

TEST_CASE("grid expansion is the full factorial, conditional parameters only where active",
          "[space][grid]") {
  const hpt::SearchSpace space{
      hpt::int_range("layers", 1, 3),
      hpt::ordinal("units_2", {16, 64}).when(hpt::greater_than("layers", 1)),
      hpt::choice("optimizer", {"sgd", "adam"}),
      hpt::uniform("momentum", 0.0, 0.9).grid(2).when(hpt::equals("optimizer", "sgd")),
  };
  // By hand: optimizer gives 3 sub-configurations (sgd x 2 momenta, adam);
  // layers = 1 gives 1 x 3, layers = 2 and 3 give 2 units x 3 each: 3 + 6 + 6 = 15.
  const auto grid = space.grid();
  REQUIRE(grid.size() == 15);
  CHECK(grid.front() == hpt::Config{{"layers", 1}, {"optimizer", "sgd"}, {"momentum", 0.0}});
  CHECK(grid[2] == hpt::Config{{"layers", 1}, {"optimizer", "adam"}});
  CHECK(grid[3] ==
        hpt::Config{{"layers", 2}, {"units_2", 16}, {"optimizer", "sgd"}, {"momentum", 0.0}});
  CHECK(grid.back() == hpt::Config{{"layers", 3}, {"units_2", 64}, {"optimizer", "adam"}});
  std::set<std::string> distinct;
  for (const auto& c : grid) {
    distinct.insert(c.to_string());
    CHECK(c.contains("units_2") == (c.get<std::int64_t>("layers") > 1));
    CHECK(c.contains("momentum") == (c.get<std::string>("optimizer") == "sgd"));
    space.check(c);
  }
  CHECK(distinct.size() == 15);
}

TEST_CASE("grid points are evenly spaced, log-spaced on log scales, with exact end points",
          "[space][grid]") {
  const auto log_values = hpt::log_uniform("lr", 1e-6, 1e-1).grid(6).grid_values();
  REQUIRE(log_values.size() == 6);
  const double expected[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1};
  for (int i = 0; i < 6; ++i)
    CHECK(log_values[i].as<double>() == Approx(expected[i]).epsilon(1e-12));
  CHECK(log_values.front().as<double>() == 1e-6);
  CHECK(log_values.back().as<double>() == 1e-1);
  const auto linear = hpt::uniform("x", 0.0, 1.0).grid(5).grid_values();
  CHECK(linear[1].as<double>() == 0.25);
  CHECK(linear[2].as<double>() == 0.5);
  const auto integers = hpt::int_range("n", 3, 6).grid_values();
  REQUIRE(integers.size() == 4);
  CHECK(integers[0].as<int>() == 3);
  CHECK(integers[3].as<int>() == 6);
  // Integer log grid: 1, 2, 4 ... 256 from 9 points between 1 and 256.
  const auto powers = hpt::int_range("batch", 1, 256, hpt::log_scale).grid(9).grid_values();
  REQUIRE(powers.size() == 9);
  for (int i = 0; i < 9; ++i) CHECK(powers[i].as<int>() == (1 << i));
}

TEST_CASE("sampling stays in the domain, is reproducible per trial, and covers the domain",
          "[space][sampling]") {
  const hpt::SearchSpace space{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::int_range("units", 16, 512, hpt::log_scale),
      hpt::int_range("layers", 1, 3),
      hpt::choice("optimizer", {"sgd", "adam"}),
      hpt::uniform("momentum", 0.0, 0.99).when(hpt::equals("optimizer", "sgd")),
  };
  std::map<std::int64_t, int> layers;
  int below_1e4 = 0, small_units = 0, sgd = 0;
  const int draws = 4000;
  for (int trial = 0; trial < draws; ++trial) {
    const auto config = space.sample(7, static_cast<std::uint64_t>(trial));
    space.check(config);  // in the domain, conditional parameters right
    CHECK(config == space.sample(7, static_cast<std::uint64_t>(trial)));
    ++layers[config.get<std::int64_t>("layers")];
    below_1e4 += config.get<double>("learning_rate") < 1e-4;
    small_units += config.get<std::int64_t>("units") < 64;  // log scale: 2 of 5 octaves
    sgd += config.get<std::string>("optimizer") == "sgd";
  }
  REQUIRE(layers.size() == 3);
  for (const auto& [value, count] : layers) CHECK(count == Approx(draws / 3.0).margin(150));
  CHECK(below_1e4 == Approx(draws * 2.0 / 5.0).margin(200));  // 2 of 5 decades
  CHECK(small_units == Approx(draws * std::log(63.5 / 15.5) / std::log(512.5 / 15.5)).margin(200));
  CHECK(sgd == Approx(draws / 2.0).margin(200));
  CHECK_FALSE(space.sample(7, 0) == space.sample(8, 0));
}

TEST_CASE("check() rejects configurations that do not belong to the space", "[space]") {
  const hpt::SearchSpace space{
      hpt::choice("optimizer", {"sgd", "adam"}),
      hpt::uniform("momentum", 0.0, 0.9).when(hpt::equals("optimizer", "sgd"))};
  REQUIRE_NOTHROW(space.check({{"optimizer", "adam"}}));
  REQUIRE_THROWS_WITH(space.check({{"optimizer", "adam"}, {"momentum", 0.5}}),
                      Catch::Contains("momentum") && Catch::Contains("condition"));
  REQUIRE_THROWS_WITH(space.check({{"optimizer", "sgd"}, {"momentum", 1.5}}),
                      Catch::Contains("momentum") && Catch::Contains("outside"));
  REQUIRE_THROWS_AS(space.check({{"optimizer", "sgd"}}), std::out_of_range);
  REQUIRE_THROWS_WITH(space.check({{"optimizer", "adam"}, {"beta", 0.5}}), Catch::Contains("beta"));
}

TEST_CASE("check() compares integers exactly, beyond 2^53 and at the int64 limits", "[space]") {
  // Through doubles, which hold integers exactly only up to 2^53, 2^53 + 1 and 2^53 are the same
  // number, and so are INT64_MAX and INT64_MAX - 1.
  constexpr std::int64_t p53 = std::int64_t{1} << 53;
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  const hpt::SearchSpace up_to{hpt::int_range("n", 0, p53)};
  CHECK_NOTHROW(up_to.check({{"n", p53}}));
  CHECK_NOTHROW(up_to.check({{"n", p53 - 1}}));
  CHECK_THROWS_WITH(up_to.check({{"n", p53 + 1}}), Catch::Contains("\"n\"") &&
                                                       Catch::Contains("9007199254740993") &&
                                                       Catch::Contains("outside its domain"));
  const hpt::SearchSpace from{hpt::int_range("n", p53 + 1, p53 + 3)};
  CHECK_THROWS_WITH(from.check({{"n", p53}}), Catch::Contains("9007199254740992"));
  CHECK_NOTHROW(from.check({{"n", p53 + 1}}));
  CHECK_NOTHROW(from.check({{"n", p53 + 3}}));
  CHECK_THROWS_WITH(from.check({{"n", p53 + 4}}), Catch::Contains("9007199254740996"));
  const hpt::SearchSpace below_max{hpt::int_range("n", max - 2, max - 1)};
  CHECK_NOTHROW(below_max.check({{"n", max - 1}}));
  CHECK_THROWS_WITH(below_max.check({{"n", max}}), Catch::Contains("9223372036854775807"));
  CHECK_THROWS_WITH(below_max.check({{"n", max - 3}}), Catch::Contains("9223372036854775804"));
  const hpt::SearchSpace above_min{hpt::int_range("n", min + 1, min + 2)};
  CHECK_NOTHROW(above_min.check({{"n", min + 1}}));
  CHECK_THROWS_WITH(above_min.check({{"n", min}}), Catch::Contains("-9223372036854775808"));
  CHECK_THROWS_WITH(above_min.check({{"n", min + 3}}), Catch::Contains("-9223372036854775805"));
  const hpt::SearchSpace everything{hpt::int_range("n", min, max)};
  CHECK_NOTHROW(everything.check({{"n", min}}));
  CHECK_NOTHROW(everything.check({{"n", max}}));
  // A condition's values are checked against the parent's domain the same way.
  REQUIRE_THROWS_WITH((hpt::SearchSpace{hpt::int_range("n", 0, p53),
                                        hpt::uniform("x", 0, 1).when(hpt::equals("n", p53 + 1))}),
                      Catch::Contains("never takes") && Catch::Contains("9007199254740993"));
  REQUIRE_NOTHROW(hpt::SearchSpace{hpt::int_range("n", 0, p53),
                                   hpt::uniform("x", 0, 1).when(hpt::equals("n", p53))});
}

namespace {
struct Hyper {
  double learning_rate = 0;
  int hidden_units = 0;
  Cell cell = Cell::lstm;
  std::string optimizer;
  double momentum = -1;  // stays at its default when inactive
};
template <class Member, class Domain>
concept Bindable = requires(Member Hyper::*member, Domain domain) {
  hpt::field(member, "x", domain);
};
}  // namespace

// A member that cannot hold the domain's values does not compile.
static_assert(Bindable<double, hpt::DomainOf<double>>);
static_assert(!Bindable<int, hpt::DomainOf<double>>);
static_assert(!Bindable<double, hpt::DomainOf<std::int64_t>>);
static_assert(!Bindable<std::string, hpt::DomainOf<Cell>>);
static_assert(Bindable<Cell, hpt::DomainOf<Cell>>);

TEST_CASE("a typed space fills the user's struct with checked types", "[space][typed]") {
  const auto space = hpt::space_of<Hyper>(
      hpt::field(&Hyper::learning_rate, "learning_rate", hpt::log_uniform(1e-5, 1e-1)),
      hpt::field(&Hyper::hidden_units, "hidden_units", hpt::int_range(16, 512, hpt::log_scale)),
      hpt::field(&Hyper::cell, "cell", hpt::choice({Cell::lstm, Cell::gru})),
      hpt::field(&Hyper::optimizer, "optimizer", hpt::choice({"sgd", "adam"})),
      hpt::field(&Hyper::momentum, "momentum", hpt::uniform(0.0, 0.9))
          .when(hpt::equals("optimizer", "sgd")));
  CHECK(space.space().size() == 5);
  int grus = 0;
  for (std::uint64_t trial = 0; trial < 200; ++trial) {
    const auto config = space.space().sample(3, trial);
    const Hyper h = space.bind(config);
    CHECK(h.learning_rate == config.get<double>("learning_rate"));
    CHECK(h.hidden_units == config.get<int>("hidden_units"));
    CHECK(h.cell == config.get<Cell>("cell"));
    grus += h.cell == Cell::gru;
    if (h.optimizer == "sgd")
      CHECK(h.momentum == config.get<double>("momentum"));
    else
      CHECK(h.momentum == -1);
  }
  CHECK(grus > 60);
  CHECK(grus < 140);
}
