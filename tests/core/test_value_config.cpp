#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <hpt/config.hpp>
#include <hpt/value.hpp>
#include <limits>
#include <sstream>
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
