// Settings too large to hold and ranges too wide to compute (issue 10, items 4 and 7): huge trial
// counts reserve a bounded start, grids are counted and enumerated without being built, plans
// whose steps overflow 64 bits are refused naming the setting, and the widest numeric ranges
// give exact end points and finite values. Ordinary samples and grids are pinned to the values
// they had before.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <hpt/hpt.hpp>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr auto int_min = std::numeric_limits<std::int64_t>::min();
constexpr auto int_max = std::numeric_limits<std::int64_t>::max();
constexpr auto size_max = std::numeric_limits<std::size_t>::max();
constexpr double real_max = std::numeric_limits<double>::max();

struct Enough : std::runtime_error {
  Enough() : std::runtime_error("enough trials") {}
};

struct Flat {
  Flat() = default;
  explicit Flat(const hpt::Config&) {}
  double step() { return 1.0; }
};

// A factory that ends the study (catch_exceptions = false) at its fourth trial: a study of 1e10
// trials is only started, to show that starting it allocates nothing in proportion.
struct StopAtFour {
  Flat operator()(const hpt::Config&) {
    if (++made == 4) throw Enough();
    return {};
  }
  int made = 0;
};

template <class Strategy>
void start_only(const hpt::SearchSpace& space, const Strategy& strategy) {
  StopAtFour factory;
  REQUIRE_THROWS_AS(hpt::tune(space, factory, strategy, hpt::NoStopping{},
                              {.seed = 1, .catch_exceptions = false}),
                    Enough);
  CHECK(factory.made == 4);
}

const hpt::SearchSpace unit_space{hpt::uniform("x", 0.0, 1.0)};

// The grid as the recursive expansion of earlier versions built it, to check the lazy one
// against.
void expand(const hpt::SearchSpace& space, std::size_t index, hpt::Config& partial,
            std::vector<hpt::Config>& out) {
  if (index == space.size()) {
    out.push_back(partial);
    return;
  }
  const auto& parameter = space.parameters()[index];
  if (!hpt::SearchSpace::is_active(parameter, partial)) {
    expand(space, index + 1, partial, out);
    return;
  }
  for (const auto& value : parameter.grid_values()) {
    partial.set(parameter.name(), value);
    expand(space, index + 1, partial, out);
    partial.pop_back();
  }
}

std::vector<hpt::Config> expanded(const hpt::SearchSpace& space) {
  std::vector<hpt::Config> out;
  hpt::Config partial;
  expand(space, 0, partial, out);
  return out;
}

}  // namespace

TEST_CASE("a study reserves a bounded start whatever its trial count", "[bounds][engine]") {
  // Before: reserve(1e10) asked for 1e10 * sizeof(Trial) = 1.68 TB up front.
  start_only(unit_space, hpt::RandomSearch{.trials = 10'000'000'000});
  start_only(unit_space, hpt::Asha{.trials = 10'000'000'000});
  start_only(unit_space, hpt::SuccessiveHalving{.configurations = 1'000'000'000'000});
  start_only(unit_space, hpt::SuccessiveHalving{.configurations = 1'000'000'000'000,
                                                .keep = hpt::Keep::ceil,
                                                .aggressive_elimination = true});
  // Ordinary studies are unchanged.
  const auto study = hpt::tune<Flat>(unit_space, hpt::RandomSearch{.trials = 7});
  CHECK(study.trials().size() == 7);
}

TEST_CASE("successive halving with more configurations than a plan can count is refused",
          "[bounds][halving]") {
  const hpt::SuccessiveHalving halving{.configurations = size_max};
  // Named parts: Catch's && keeps references to its operands.
  const auto setting =
      Catch::Contains("hpt::SuccessiveHalving: configurations = 18446744073709551615");
  const auto steps = Catch::Contains("steps in all");
  REQUIRE_THROWS_AS(halving.validate(), std::invalid_argument);
  REQUIRE_THROWS_WITH(halving.validate(), setting && steps);
  REQUIRE_THROWS_WITH(halving.schedule(), setting && steps);
  // Before: the schedule was accepted and tune() failed with a bare "vector::reserve".
  REQUIRE_THROWS_WITH(hpt::tune<Flat>(unit_space, halving), setting && steps);
  // A huge plan that fits is planned exactly: 3^36 configurations, floor and ceil alike.
  std::size_t n = 1;
  for (int i = 0; i < 36; ++i) n *= 3;
  for (const auto keep : {hpt::Keep::floor, hpt::Keep::ceil}) {
    const auto schedule =
        hpt::SuccessiveHalving{.configurations = n, .max_resource = 81, .keep = keep}.schedule();
    REQUIRE(schedule.brackets.front().rungs.size() == 5);
    CHECK(schedule.brackets.front().rungs.back().configurations == n / 81);
    CHECK(schedule.total_resource() ==
          static_cast<std::int64_t>(n + n / 3 * 2 + n / 9 * 6 + n / 27 * 18 + n / 81 * 54));
  }
}

TEST_CASE("fixed budgets and Hyperband whose steps overflow 64 bits are refused",
          "[bounds][schedule]") {
  // Before: accepted, and total_resource() wrapped to -1.
  REQUIRE_THROWS_WITH(hpt::RandomSearch{.trials = size_max}.validate(),
                      Catch::Contains("hpt::RandomSearch: trials = 18446744073709551615"));
  REQUIRE_THROWS_WITH((hpt::RandomSearch{.trials = 4, .max_resource = int_max}.validate()),
                      Catch::Contains("trials = 4") && Catch::Contains("steps in all"));
  CHECK(hpt::RandomSearch{.trials = 1, .max_resource = int_max}.schedule({}).total_resource() ==
        int_max);
  // Before: a plan of 2^56 * 57 trials whose steps wrapped around int64 without a word.
  const hpt::Hyperband hyperband{.max_resource = std::int64_t{1} << 56, .reduction_factor = 2};
  REQUIRE_THROWS_AS(hyperband.schedule(), std::overflow_error);
  REQUIRE_THROWS_WITH(hyperband.schedule(), Catch::Contains("max_resource = 72057594037927936") &&
                                                Catch::Contains("steps in all"));
  const auto big = hpt::Hyperband{.max_resource = std::int64_t{1} << 40, .reduction_factor = 2};
  const auto schedule = big.schedule();
  REQUIRE(schedule.total_resource());
  CHECK(*schedule.total_resource() > 0);
}

TEST_CASE("grids are counted without being built", "[bounds][grid]") {
  // Before: grid_size() built the 1e9 configurations (and .grid(SIZE_MAX) its SIZE_MAX points).
  const hpt::SearchSpace billion{hpt::uniform("a", 0.0, 1.0).grid(1000),
                                 hpt::uniform("b", 0.0, 1.0).grid(1000),
                                 hpt::uniform("c", 0.0, 1.0).grid(1000)};
  CHECK(billion.grid_size() == 1'000'000'000);
  const hpt::Grid grid(billion);
  CHECK(grid.config(0) == hpt::Config{{"a", 0.0}, {"b", 0.0}, {"c", 0.0}});
  // Mixed radix, the first parameter slowest: 123'456'789 is a = 123, b = 456, c = 789.
  const auto point = [](int i) { return static_cast<double>(i) / 999.0; };
  CHECK(grid.config(123'456'789) ==
        hpt::Config{{"a", point(123)}, {"b", point(456)}, {"c", point(789)}});
  CHECK(grid.config(999'999'999) == hpt::Config{{"a", 1.0}, {"b", 1.0}, {"c", 1.0}});
  REQUIRE_THROWS_AS(grid.config(1'000'000'000), std::out_of_range);
  REQUIRE_THROWS_WITH(billion.grid(), Catch::Contains("1000000000 configurations") &&
                                          Catch::Contains("more than 1000000"));

  const auto huge = hpt::uniform("x", -1.0, 1.0).grid(size_max);
  CHECK(huge.grid_size() == size_max);
  CHECK(huge.grid_value(0) == hpt::Value(-1.0));
  CHECK(huge.grid_value(size_max - 1) == hpt::Value(1.0));
  CHECK(huge.grid_value(size_max / 2).as<double>() == Approx(0.0).margin(1e-15));
  REQUIRE_THROWS_WITH(huge.grid_values(),
                      Catch::Contains("\"x\"") && Catch::Contains("more than 1000000 to list"));
  const hpt::SearchSpace huge_space{huge};
  CHECK(huge_space.grid_size() == size_max);
  // SIZE_MAX trials of one step each is more than a schedule counts.
  REQUIRE_THROWS_WITH(hpt::GridSearch{}.schedule(huge_space),
                      Catch::Contains("hpt::GridSearch: max_resource = 1") &&
                          Catch::Contains("18446744073709551615 trials"));

  const hpt::SearchSpace overflowing{hpt::uniform("a", 0.0, 1.0).grid(1 << 30),
                                     hpt::uniform("b", 0.0, 1.0).grid(1 << 30),
                                     hpt::uniform("c", 0.0, 1.0).grid(1 << 30)};
  REQUIRE_THROWS_WITH(overflowing.grid_size(),
                      Catch::Contains("64 bits") && Catch::Contains("\"c\""));
  // A condition names a parameter of 2e6 values: its blocks would need a list that long.
  REQUIRE_THROWS_WITH(
      (hpt::SearchSpace{hpt::int_range("n", 0, 1'000'000'000'000).grid(2'000'000),
                        hpt::uniform("x", 0.0, 1.0).grid(2).when(hpt::greater_than("n", 5))}
           .grid_size()),
      Catch::Contains("\"n\" has 2000000 grid values"));
}

TEST_CASE("large integer grids are spaced exactly without being listed", "[bounds][grid]") {
  const auto wide = hpt::int_range("n", 0, 1'000'000'000'000).grid(2'000'001);
  CHECK(wide.grid_size() == 2'000'001);
  CHECK(wide.grid_value(1) == hpt::Value(500'000));
  CHECK(wide.grid_value(2'000'000) == hpt::Value(1'000'000'000'000));
  // More points than integers: every integer once, as rounding gave before.
  CHECK(hpt::int_range("n", 0, 10).grid(5'000'000).grid_size() == 11);
  CHECK(hpt::int_range("n", 0, 10).grid(50).grid_size() == 11);
  const auto all = hpt::int_range("n", int_min, int_max).grid(size_max);
  CHECK(all.grid_size() == size_max);
  CHECK(all.grid_value(0) == hpt::Value(int_min));
  CHECK(all.grid_value(size_max - 1) == hpt::Value(int_max));
  CHECK(all.grid_value(size_max / 2) == hpt::Value(0));
  REQUIRE_THROWS_WITH(
      hpt::int_range("n", 1, 1'000'000'000, hpt::log_scale).grid(2'000'000).grid_size(),
      Catch::Contains("\"n\"") && Catch::Contains("at most 1000000 points"));
}

TEST_CASE("the lazy grid is the recursive expansion, conditions and all", "[bounds][grid]") {
  const std::vector<hpt::SearchSpace> spaces{
      hpt::SearchSpace{
          hpt::int_range("layers", 1, 3),
          hpt::ordinal("units_2", {16, 64}).when(hpt::greater_than("layers", 1)),
          hpt::choice("optimizer", {"sgd", "adam"}),
          hpt::uniform("momentum", 0.0, 0.9).grid(2).when(hpt::equals("optimizer", "sgd")),
      },
      // Nested conditions, a parameter named by two conditions, a condition on an inactive one.
      hpt::SearchSpace{
          hpt::int_range("a", 0, 2),
          hpt::int_range("b", 0, 3).when(hpt::greater_than("a", 0)),
          hpt::choice("c", {"x", "y", "z"}).when(hpt::at_least("b", 2)),
          hpt::choice("d", {"p", "q", "r"}),
          hpt::uniform("e", 0.0, 1.0).grid(2).when(hpt::equals("a", 1)),
          hpt::int_range("f", 1, 100, hpt::log_scale).grid(5).when(hpt::equals("d", "q")),
          hpt::choice("g", {true, false}).when(hpt::one_of("c", {"y", "z"})),
          hpt::uniform("h", -1.0, 1.0).grid(3),
      },
      hpt::SearchSpace{},
  };
  for (const auto& space : spaces) {
    const auto expected = expanded(space);
    const hpt::Grid grid(space);
    REQUIRE(grid.size() == expected.size());
    CHECK(space.grid_size() == expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k) CHECK(grid.config(k) == expected[k]);
    CHECK(space.grid() == expected);
  }
}

TEST_CASE("shuffled grids: small ones as before, large ones by a seeded permutation",
          "[bounds][grid]") {
  // Up to a million configurations the order is the Fisher-Yates shuffle of earlier versions.
  const hpt::SearchSpace space{hpt::int_range("a", 0, 6), hpt::choice("b", {"x", "y", "z"})};
  auto configs = space.grid();
  hpt::Random random(hpt::derive_seed(9, 0x67726964));
  random.shuffle(configs.begin(), configs.end());
  auto scheduler = hpt::GridSearch{.shuffle = true}.make_scheduler(space, 9);
  for (std::size_t k = 0; k < configs.size(); ++k) CHECK(scheduler.config(k) == configs[k]);

  for (const std::uint64_t size : {2ULL, 3ULL, 1000ULL, 65'537ULL}) {
    const hpt::detail::SeededPermutation permutation(size, 5);
    std::vector<bool> seen(size);
    for (std::uint64_t i = 0; i < size; ++i) {
      const auto j = permutation(i);
      REQUIRE(j < size);
      CHECK_FALSE(seen[j]);
      seen[j] = true;
    }
  }
  // A billion configurations, shuffled without listing them: deterministic by seed.
  const hpt::SearchSpace billion{hpt::int_range("a", 0, 999), hpt::int_range("b", 0, 999),
                                 hpt::int_range("c", 0, 999)};
  auto first = hpt::GridSearch{.shuffle = true}.make_scheduler(billion, 3);
  auto again = hpt::GridSearch{.shuffle = true}.make_scheduler(billion, 3);
  auto other = hpt::GridSearch{.shuffle = true}.make_scheduler(billion, 4);
  std::set<std::string> distinct;
  int differs = 0;
  for (std::size_t k = 0; k < 100; ++k) {
    CHECK(first.config(k) == again.config(k));
    differs += first.config(k) == other.config(k) ? 0 : 1;
    distinct.insert(first.config(k).to_string());
    billion.check(first.config(k));
  }
  CHECK(distinct.size() == 100);
  CHECK(differs > 90);
  start_only(billion, hpt::GridSearch{.shuffle = true});
}

TEST_CASE("the widest integer ranges grid and sample without wrapping", "[bounds][space]") {
  // Before: the top point was INT64_MIN (2^63 rounded through llround wraps).
  const auto five = hpt::int_range("n", int_min, int_max).grid(5).grid_values();
  const std::int64_t quarter = std::int64_t{1} << 62;
  CHECK(five == std::vector<hpt::Value>{int_min, -quarter, 0, quarter, int_max});
  const auto log_three = hpt::int_range("n", 1, int_max, hpt::log_scale).grid(3).grid_values();
  CHECK(log_three == std::vector<hpt::Value>{1, 3'037'000'500, int_max});
  const hpt::SearchSpace space{hpt::int_range("all", int_min, int_max),
                               hpt::int_range("log", 1, int_max, hpt::log_scale),
                               hpt::int_range("top", int_max - 1, int_max, hpt::log_scale)};
  bool upper_half = false;
  for (std::uint64_t trial = 0; trial < 500; ++trial) {
    const auto config = space.sample(11, trial);
    space.check(config);
    upper_half = upper_half || config.get<std::int64_t>("log") > (std::int64_t{1} << 31);
  }
  CHECK(upper_half);
}

TEST_CASE("the widest real ranges sample and grid finite values", "[bounds][space]") {
  // Before: low + (high - low) * u with high - low = inf sampled infinity.
  const hpt::SearchSpace space{hpt::uniform("x", -real_max, real_max),
                               hpt::log_uniform("y", std::numeric_limits<double>::min(), real_max)};
  bool negative = false, positive = false;
  for (std::uint64_t trial = 0; trial < 200; ++trial) {
    const auto config = space.sample(5, trial);
    const double x = config.get<double>("x"), y = config.get<double>("y");
    REQUIRE(std::isfinite(x));
    REQUIRE(std::isfinite(y));
    CHECK(x < real_max);
    negative = negative || x < 0;
    positive = positive || x > 0;
    space.check(config);
  }
  CHECK(negative);
  CHECK(positive);
  hpt::Random random(1);
  for (int i = 0; i < 100; ++i) CHECK(std::isfinite(random.uniform(-real_max, real_max)));
  const auto points = hpt::uniform("x", -real_max, real_max).grid(5).grid_values();
  REQUIRE(points.size() == 5);
  CHECK(points.front() == hpt::Value(-real_max));
  CHECK(points.back() == hpt::Value(real_max));
  CHECK(points[2] == hpt::Value(0.0));
  CHECK(points[1].as<double>() == Approx(-real_max / 2));
  CHECK(points[3].as<double>() == Approx(real_max / 2));
  const auto logs = hpt::log_uniform("y", 1.0, real_max).grid(3).grid_values();
  CHECK(logs.back() == hpt::Value(real_max));
  CHECK(std::isfinite(logs[1].as<double>()));
}

TEST_CASE("ordinary samples, grids and shuffles keep their values", "[bounds][space]") {
  // Printed by the headers before this change (seed 42; grid and shuffle with seed 7).
  const hpt::SearchSpace space{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::int_range("units", 16, 512, hpt::log_scale),
      hpt::int_range("layers", 1, 3),
      hpt::uniform("dropout", -0.5, 0.5),
      hpt::choice("optimizer", {"sgd", "adam"}),
      hpt::uniform("momentum", 0.0, 0.99).when(hpt::equals("optimizer", "sgd")),
      hpt::int_range("seed", int_min, int_max),
  };
  const char* const samples[] = {
      R"({learning_rate: 0.005975981478931147, units: 198, layers: 3, dropout: 0.16060120146593904, optimizer: "adam", seed: 7630854987268307869})",
      R"({learning_rate: 4.989348543349875e-05, units: 59, layers: 3, dropout: -0.4658701432433555, optimizer: "sgd", momentum: 0.7273708089283405, seed: -8413501713122404305})",
      R"({learning_rate: 0.011375548622346916, units: 116, layers: 2, dropout: 0.21831460180096263, optimizer: "sgd", momentum: 0.4067818772533954, seed: -2612989223332171508})",
      R"({learning_rate: 0.02054039013201825, units: 329, layers: 3, dropout: 0.2591420253349811, optimizer: "sgd", momentum: 0.8230840968164856, seed: 5291205804185619581})",
  };
  for (std::uint64_t trial = 0; trial < 4; ++trial)
    CHECK(space.sample(42, trial).to_string() == samples[trial]);

  const hpt::SearchSpace gridded{
      hpt::int_range("layers", 1, 3),
      hpt::int_range("units", 1, 1000, hpt::log_scale).grid(7).when(hpt::greater_than("layers", 1)),
      hpt::int_range("width", -7, 9).grid(6),
      hpt::log_uniform("lr", 1e-5, 1e-1).grid(3),
      hpt::choice("optimizer", {"sgd", "adam"}),
      hpt::uniform("momentum", -1.0, 0.9).grid(3).when(hpt::equals("optimizer", "sgd")),
  };
  const hpt::Grid grid(gridded);
  REQUIRE(grid.size() == 1080);
  const std::pair<std::uint64_t, const char*> configs[] = {
      {0, R"({layers: 1, width: -7, lr: 1e-05, optimizer: "sgd", momentum: -1.0})"},
      {1,
       R"({layers: 1, width: -7, lr: 1e-05, optimizer: "sgd", momentum: -0.050000000000000044})"},
      {7, R"({layers: 1, width: -7, lr: 0.0010000000000000002, optimizer: "adam"})"},
      {50, R"({layers: 1, width: 6, lr: 1e-05, optimizer: "sgd", momentum: 0.9})"},
      {100,
       R"({layers: 2, units: 1, width: -1, lr: 0.0010000000000000002, optimizer: "sgd", momentum: -1.0})"},
      {333,
       R"({layers: 2, units: 32, width: 3, lr: 0.1, optimizer: "sgd", momentum: -0.050000000000000044})"},
      {1079, R"({layers: 3, units: 1000, width: 9, lr: 0.1, optimizer: "adam"})"},
  };
  for (const auto& [index, text] : configs) CHECK(grid.config(index).to_string() == text);
  auto shuffled = hpt::GridSearch{.shuffle = true}.make_scheduler(gridded, 7);
  const char* const order[] = {
      R"({layers: 3, units: 1000, width: -7, lr: 0.1, optimizer: "sgd", momentum: 0.9})",
      R"({layers: 3, units: 100, width: 3, lr: 0.1, optimizer: "sgd", momentum: -1.0})",
      R"({layers: 2, units: 3, width: 9, lr: 0.1, optimizer: "sgd", momentum: -1.0})",
      R"({layers: 2, units: 1, width: 6, lr: 0.0010000000000000002, optimizer: "sgd", momentum: -0.050000000000000044})",
  };
  for (std::size_t k = 0; k < 4; ++k) CHECK(shuffled.config(k).to_string() == order[k]);
}
