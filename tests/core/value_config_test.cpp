#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <hpt/core/config.hpp>
#include <hpt/core/value.hpp>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace {
enum class Cell { lstm, gru };
constexpr auto enum_labels(Cell) {
  return std::array{std::pair{Cell::lstm, "lstm"}, std::pair{Cell::gru, "gru"}};
}
enum class Plain { a = 3, b = 7 };
}  // namespace

TEST_CASE("values keep their kind and never convert silently", "[value]") {
  CHECK(hpt::Value(1).is_integer());
  CHECK(hpt::Value(std::int64_t{1}).is_integer());
  CHECK(hpt::Value(1.0).is_real());
  CHECK(hpt::Value(1.0f).is_real());
  CHECK(hpt::Value(true).is_boolean());
  CHECK(hpt::Value("sgd").is_string());
  CHECK(hpt::Value(std::string("sgd")).is_string());

  CHECK(hpt::Value(32).as<int>() == 32);
  CHECK(hpt::Value(0.5).as<double>() == 0.5);
  CHECK(hpt::Value(0.5).as<float>() == 0.5f);
  CHECK(hpt::Value("adam").as<std::string>() == "adam");

  REQUIRE_THROWS_AS(hpt::Value(1).as<double>(), std::invalid_argument);
  REQUIRE_THROWS_AS(hpt::Value(1.0).as<int>(), std::invalid_argument);
  REQUIRE_THROWS_AS(hpt::Value(true).as<int>(), std::invalid_argument);
  REQUIRE_THROWS_AS(hpt::Value(1).as<bool>(), std::invalid_argument);
  REQUIRE_THROWS_WITH(hpt::Value(0.1).as<int>("minibatch_size"),
                      Catch::Contains("minibatch_size") && Catch::Contains("real 0.1") &&
                          Catch::Contains("not an integer"));
  REQUIRE_THROWS_WITH(hpt::Value(300).as<std::int8_t>("units"),
                      Catch::Contains("units") && Catch::Contains("300"));
  REQUIRE_THROWS_AS(hpt::Value(-1).as<unsigned>("units"), std::out_of_range);
  REQUIRE_THROWS_AS(hpt::Value(std::numeric_limits<std::uint64_t>::max()), std::out_of_range);
}

TEST_CASE("values print so that they read back as the same kind and number", "[value]") {
  CHECK(hpt::Value(1.0).to_string() == "1.0");
  CHECK(hpt::Value(0.1).to_string() == "0.1");
  CHECK(hpt::Value(1e-6).to_string() == "1e-06");
  CHECK(hpt::Value(3).to_string() == "3");
  CHECK(hpt::Value(false).to_string() == "false");
  std::ostringstream out;
  out << hpt::Value("sgd");
  CHECK(out.str() == "\"sgd\"");
  CHECK(hpt::Value(0.1).describe() == "real 0.1");
}

TEST_CASE("labelled enums are stored by label and read back strictly", "[value]") {
  const hpt::Value gru(Cell::gru);
  CHECK(gru.is_string());
  CHECK(gru.to_string() == "gru");
  CHECK(gru.as<Cell>() == Cell::gru);
  REQUIRE_THROWS_WITH(hpt::Value("rnn").as<Cell>("cell"), Catch::Contains("cell") &&
                                                              Catch::Contains("rnn") &&
                                                              Catch::Contains("lstm, gru"));
  REQUIRE_THROWS_AS(hpt::Value(1).as<Cell>("cell"), std::invalid_argument);
  // Enums without labels are stored by their integer value.
  const hpt::Value b(Plain::b);
  CHECK(b.is_integer());
  CHECK(b.as<std::int64_t>() == 7);
  CHECK(b.as<Plain>() == Plain::b);
}

TEST_CASE("a config names the parameter in every error", "[config]") {
  const hpt::Config config{{"learning_rate", 0.01}, {"minibatch_size", 32}, {"optimizer", "sgd"}};
  CHECK(config.get<double>("learning_rate") == 0.01);
  CHECK(config.get<int>("minibatch_size") == 32);
  CHECK(config.get<std::string>("optimizer") == "sgd");
  CHECK(config.get_or<double>("momentum", 0.9) == 0.9);
  CHECK(config.contains("optimizer"));
  CHECK_FALSE(config.contains("momentum"));
  REQUIRE_THROWS_AS(config.get<double>("momentum"), std::out_of_range);
  REQUIRE_THROWS_WITH(
      config.get<double>("momentum"),
      Catch::Contains("momentum") && Catch::Contains("learning_rate, minibatch_size, optimizer"));
  REQUIRE_THROWS_WITH(config.get<double>("minibatch_size"),
                      Catch::Contains("minibatch_size") && Catch::Contains("integer 32"));
  REQUIRE_THROWS_WITH((hpt::Config{{"a", 1}, {"a", 2}}), Catch::Contains("\"a\" is set twice"));
  CHECK(config.to_string() == "{learning_rate: 0.01, minibatch_size: 32, optimizer: \"sgd\"}");
}

TEST_CASE("configs compare by names, kinds and values", "[config]") {
  CHECK(hpt::Config{{"a", 1}} == hpt::Config{{"a", 1}});
  CHECK_FALSE(hpt::Config{{"a", 1}} == hpt::Config{{"a", 1.0}});
  hpt::Config c{{"a", 1}};
  c.assign("a", 2);
  c.assign("b", "x");
  CHECK(c == hpt::Config{{"a", 2}, {"b", "x"}});
}

TEST_CASE("a config of many parameters keeps set order, lookups, overwrites and equality",
          "[config]") {
  // Past Config::linear_search_limit names are found through an index (set() used to search
  // every earlier name, quadratic in the count); what a config holds must not change.
  constexpr int count = 20000;
  const auto name = [](int i) {
    std::string text(1, 'p');  // not "p" + ...: GCC 12's -Wrestrict misfires on that
    return text += std::to_string(i);
  };
  hpt::Config config;
  for (int i = 0; i < count; ++i) {
    config.set(name(i), i);
    if (i < 40)  // across the limit, every earlier name after every set
      for (int j = 0; j <= i; ++j) REQUIRE(config.get<int>(name(j)) == j);
  }
  REQUIRE(config.size() == count);
  int position = 0;
  for (const auto& [key, value] : config) {
    REQUIRE(key == name(position));
    REQUIRE(value == hpt::Value(position));
    ++position;
  }
  for (int i = 0; i < count; ++i) REQUIRE(config.get<int>(name(i)) == i);
  CHECK_FALSE(config.contains("p20000"));
  CHECK_FALSE(config.contains("p"));
  CHECK_FALSE(config.contains(""));
  CHECK(config.find("q7") == nullptr);
  REQUIRE_THROWS_WITH(config.set(name(0), 1), Catch::Contains("\"p0\" is set twice"));
  REQUIRE_THROWS_WITH(config.set(name(12345), 1), Catch::Contains("\"p12345\" is set twice"));
  REQUIRE_THROWS_WITH(config.set(name(count - 1), 1), Catch::Contains("is set twice"));
  CHECK(config.size() == count);

  // assign() replaces in place, keeping the order; a new name goes last.
  config.assign(name(7777), "seven");
  config.assign("extra", 2.5);
  CHECK(config.get<std::string>(name(7777)) == "seven");
  CHECK(config.entries()[7777].first == name(7777));
  CHECK(config.entries().back().first == "extra");
  CHECK(config.get<double>("extra") == 2.5);
  CHECK(config.size() == count + 1);

  // Copies compare equal and keep working; order, kind and value all count.
  hpt::Config copy = config;
  CHECK(copy == config);
  CHECK(copy.get<int>(name(19999)) == 19999);
  copy.assign(name(3), 4);
  CHECK_FALSE(copy == config);
  CHECK(config.get<int>(name(3)) == 3);
  hpt::Config reversed;
  for (int i = count - 1; i >= 0; --i) reversed.assign(name(i), i);
  hpt::Config forward;
  for (int i = 0; i < count; ++i) forward.assign(name(i), i);
  CHECK_FALSE(reversed == forward);
  CHECK(reversed.entries().front().first == name(count - 1));
  CHECK(reversed.get<int>(name(0)) == 0);
  const hpt::Config moved = std::move(forward);
  CHECK(moved.get<int>(name(4242)) == 4242);

  // pop_back() forgets the last name only; it can be set again.
  config.pop_back();
  CHECK_FALSE(config.contains("extra"));
  config.pop_back();
  CHECK_FALSE(config.contains(name(count - 1)));
  CHECK(config.get<int>(name(count - 2)) == count - 2);
  config.set(name(count - 1), -1);
  CHECK(config.get<int>(name(count - 1)) == -1);
  while (config.size() > 3) config.pop_back();
  CHECK(config == hpt::Config{{"p0", 0}, {"p1", 1}, {"p2", 2}});
  CHECK_FALSE(config.contains(name(3)));
  config.set(name(3), 30);
  CHECK(config.get<int>(name(3)) == 30);
  while (!config.empty()) config.pop_back();
  REQUIRE_THROWS_AS(config.pop_back(), std::out_of_range);
}
