// The JSON readers on hostile input (issue 10): no crash, no undefined behaviour, no silent wrong
// value; every error names the line or key and the value, and quotes a bounded excerpt.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <hpt/io/json.hpp>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// A JSON object from raw member texts, in order.
std::string object_text(const Fields& fields) {
  std::string text = "{";
  for (const auto& [name, raw] : fields) {
    if (text.size() > 1) text += ',';
    text.append("\"").append(name).append("\":").append(raw);
  }
  return text + "}";
}

Fields header_fields() {
  return {{"hpt_study", "1"},
          {"name", "\"s\""},
          {"direction", "\"minimize\""},
          {"seed", "1"},
          {"result", "\"last_step\""},
          {"strategy", "\"Hyperband\""},
          {"schedule", R"([{"bracket":0,"rungs":[{"configurations":3,"resource":1}]}])"}};
}

Fields trial_fields() {
  return {{"trial", "0"},
          {"status", "\"completed\""},
          {"bracket", "0"},
          {"rung", "0"},
          {"resource", "1"},
          {"wall_seconds", "0.0"},
          {"stopped_by", "\"\""},
          {"reason", "\"\""},
          {"result_index", "null"},
          {"config", R"({"x":0.5})"},
          {"curve", R"([{"step":1,"objective":0.5,"values":{"loss":0.25}}])"}};
}

Fields with(Fields fields, const std::string& name, const std::string& raw) {
  for (auto& [key, value] : fields)
    if (key == name) value = raw;
  return fields;
}

hpt::Study read(const std::string& text) {
  std::istringstream in(text);
  return hpt::read_jsonl(in);
}

// A study file: the header, then one trial line (line 2).
std::string file(const Fields& header, const Fields& trial) {
  return object_text(header) + "\n" + object_text(trial) + "\n";
}

std::string error_of(const auto& action) {
  try {
    action();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no exception)";
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("the test's own valid file loads", "[jsonl][robustness]") {
  const auto study = read(file(header_fields(), trial_fields()));
  REQUIRE(study.trials().size() == 1);
  CHECK(study.trial(0).config.get<double>("x") == 0.5);
  CHECK(study.trial(0).curve.at(0).values.at(0).second == 0.25);
}

TEST_CASE("deeply nested JSON is refused without recursion", "[jsonl][robustness]") {
  const std::string deep = nested_arrays(200000);
  REQUIRE_THROWS_WITH(hpt::config_from_json(deep),
                      Catch::Contains("config_from_json") && Catch::Contains("deeper than 32"));
  REQUIRE_THROWS_WITH(hpt::config_from_json("{\"a\":" + deep + "}"),
                      Catch::Contains("key \"a") && Catch::Contains("deeper than 32"));
  REQUIRE_THROWS_WITH(
      read(file(header_fields(), with(trial_fields(), "config", "{\"x\":" + deep + "}"))),
      Catch::Contains("line 2") && Catch::Contains("config.x") &&
          Catch::Contains("deeper than 32"));
  REQUIRE_THROWS_WITH(read(deep), Catch::Contains("line 1") && Catch::Contains("deeper than 32"));
  // The limit is exact: an object and 31 arrays is 32 levels (not a configuration value, but no
  // depth error); one more array is too deep.
  REQUIRE_THROWS_WITH(hpt::config_from_json("{\"a\":" + nested_arrays(31) + "}"),
                      Catch::Contains("key \"a\"") && Catch::Contains("an array of 1 element") &&
                          !Catch::Contains("deeper"));
  REQUIRE_THROWS_WITH(hpt::config_from_json("{\"a\":" + nested_arrays(32) + "}"),
                      Catch::Contains("deeper than 32"));
  // A nested configuration value is refused by its size, never printed.
  std::string wide = "[1";
  for (int i = 0; i < 50000; ++i) wide += ",1";
  wide += ']';
  const std::string message = error_of([&] { hpt::config_from_json("{\"a\":" + wide + "}"); });
  CHECK_THAT(message, Catch::Contains("\"a\"") && Catch::Contains("an array of 50001 elements"));
  CHECK(message.size() < 300);
}

TEST_CASE("integer fields must be integers within their C++ type", "[jsonl][robustness]") {
  struct Case {
    std::string field, raw, expected;
  };
  const std::vector<Case> trial_cases{
      {"resource", "1e28", "expected an integer, got 1e+28"},
      {"resource", "1.9", "expected an integer, got 1.9"},
      {"resource", "1.0", "expected an integer, got 1.0"},
      {"resource", "\"3\"", "expected an integer, got \"3\""},
      {"resource", "9223372036854775808", "9223372036854775808 is out of range"},
      {"rung", "4294967297", "4294967297 is out of range (an integer from 0 to 2147483647)"},
      {"rung", "-2147483649", "-2147483649 is out of range"},
      {"bracket", "4294967297", "4294967297 is out of range"},
      {"trial", "-1", "-1 is out of range (an integer from 0 to"},
      {"result_index", "-1", "-1 is out of range"},
      {"result_index", "1.5", "expected an integer, got 1.5"},
      {"result_index", "1", "1 is beyond the curve's 1 steps"},
      {"curve", R"([{"step":1e28,"objective":0.5,"values":{}}])", "expected an integer, got 1e+28"},
      {"wall_seconds", "[1]", "expected a number, got an array of 1 element"},
      {"status", "\"finished\"", "unknown trial status \"finished\""},
      {"stopped_by", "7", "expected a string, got 7"},
      {"curve", "{}", "expected an array, got an object of 0 members"},
  };
  for (const auto& c : trial_cases) {
    INFO(c.field << " = " << c.raw);
    const std::string message =
        error_of([&] { read(file(header_fields(), with(trial_fields(), c.field, c.raw))); });
    CHECK_THAT(message, Catch::StartsWith("hpt::read_jsonl: line 2, field \"" + c.field) &&
                            Catch::Contains(c.expected));
    CHECK_THAT(message, !Catch::Contains("18446744073709551615 where"));
  }
  const std::vector<Case> header_cases{
      {"seed", "-1", "-1 is out of range (an integer from 0 to 18446744073709551615)"},
      {"seed", "1e28", "expected an integer"},
      {"schedule", R"([{"bracket":4294967297,"rungs":[]}])", "4294967297 is out of range"},
      {"schedule", R"([{"bracket":0,"rungs":[{"configurations":-3,"resource":1}]}])",
       "-3 is out of range"},
      {"schedule", R"([{"bracket":0,"rungs":[{"configurations":3,"resource":1e28}]}])",
       "expected an integer, got 1e+28"},
      {"schedule", R"([{"bracket":0}])", "the field is missing"},
  };
  for (const auto& c : header_cases) {
    INFO(c.field << " = " << c.raw);
    const std::string message =
        error_of([&] { read(file(with(header_fields(), c.field, c.raw), trial_fields())); });
    CHECK_THAT(message, Catch::StartsWith("hpt::read_jsonl: line 1, field \"" + c.field) &&
                            Catch::Contains(c.expected));
  }
  // The limits themselves load (brackets, rungs and resources are never negative).
  const auto study =
      read(file(with(header_fields(), "seed", "18446744073709551615"),
                with(with(with(trial_fields(), "rung", "2147483647"), "bracket", "2147483647"),
                     "resource", "9223372036854775807")));
  CHECK(study.options().seed == 18446744073709551615u);
  CHECK(study.trial(0).rung == 2147483647);
  CHECK(study.trial(0).bracket == 2147483647);
  CHECK(study.trial(0).resource == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("counts, indices and steps are refused when negative", "[jsonl][robustness]") {
  // In range for their types but meaningless: write_jsonl never writes one (the engine counts
  // resources and steps up from 0 and refuses a scheduler's negative bracket or rung).
  struct Case {
    std::string field, raw, path, range;
  };
  const std::string int_range = "(an integer from 0 to 2147483647)";
  const std::string int64_range = "(an integer from 0 to 9223372036854775807)";
  const std::vector<Case> cases{
      {"bracket", "-1", "bracket", int_range},
      {"bracket", "-2147483648", "bracket", int_range},
      {"rung", "-1", "rung", int_range},
      {"resource", "-1", "resource", int64_range},
      {"resource", "-9223372036854775808", "resource", int64_range},
      {"curve",
       R"([{"step":1,"objective":0.5,"values":{}},{"step":-1,"objective":0.5,"values":{}}])",
       "curve[1].step", int64_range},
  };
  for (const auto& c : cases) {
    INFO(c.field << " = " << c.raw);
    const std::string message =
        error_of([&] { read(file(header_fields(), with(trial_fields(), c.field, c.raw))); });
    const std::string value = c.field == "curve" ? "-1" : c.raw;
    CHECK_THAT(message, Catch::StartsWith("hpt::read_jsonl: line 2, field \"" + c.path + "\": ") &&
                            Catch::Contains(value + " is out of range " + c.range));
  }
  // Zero is a value write_jsonl writes: a trial that never stepped.
  const auto study =
      read(file(header_fields(), with(with(trial_fields(), "resource", "0"), "curve", "[]")));
  CHECK(study.trial(0).resource == 0);
  CHECK(study.trial(0).curve.empty());
}

TEST_CASE("configuration numbers are refused rather than changed", "[jsonl][robustness]") {
  REQUIRE_THROWS_WITH(
      hpt::config_from_json(R"({"units":18446744073709551615})"),
      Catch::Contains("key \"units\"") && Catch::Contains("18446744073709551615 does not fit"));
  REQUIRE_THROWS_WITH(hpt::config_from_json(R"({"units":100000000000000000000})"),
                      Catch::Contains("key \"units\"") &&
                          Catch::Contains("100000000000000000000 does not fit in 64 bits"));
  REQUIRE_THROWS_WITH(hpt::config_from_json(R"({"units":-100000000000000000000})"),
                      Catch::Contains("key \"units\"") && Catch::Contains("does not fit"));
  REQUIRE_THROWS_WITH(hpt::config_from_json(R"({"lr":1e400})"),
                      Catch::Contains("key \"lr\"") && Catch::Contains("1e400") &&
                          Catch::Contains("range of a double"));
  REQUIRE_THROWS_WITH(
      read(file(header_fields(), with(trial_fields(), "config", R"({"x":0.5,"lr":1e400})"))),
      Catch::Contains("line 2") && Catch::Contains("config.lr") && Catch::Contains("1e400"));
  REQUIRE_THROWS_WITH(
      read(file(header_fields(), with(trial_fields(), "config", R"({"n":18446744073709551615})"))),
      Catch::Contains("line 2") && Catch::Contains("\"n\"") &&
          Catch::Contains("18446744073709551615"));
  // The edges of an int64 and a real given as 1e2 are kept as they are.
  const auto config =
      hpt::config_from_json(R"({"a":9223372036854775807,"b":-9223372036854775808,"c":1e2})");
  CHECK(config.get<std::int64_t>("a") == std::numeric_limits<std::int64_t>::max());
  CHECK(config.get<std::int64_t>("b") == std::numeric_limits<std::int64_t>::min());
  CHECK(config.get<double>("c") == 100.0);
}

TEST_CASE("duplicate keys are refused, naming the key", "[jsonl][robustness]") {
  REQUIRE_THROWS_WITH(hpt::config_from_json(R"({"a":1,"b":2,"a":3})"),
                      Catch::Contains("key \"a\"") && Catch::Contains("twice"));
  REQUIRE_THROWS_WITH(
      read(file(header_fields(), with(trial_fields(), "config", R"({"x":0.5,"x":0.7})"))),
      Catch::Contains("line 2") && Catch::Contains("config.x") && Catch::Contains("twice"));
  Fields twice = trial_fields();
  twice.emplace_back("rung", "1");
  REQUIRE_THROWS_WITH(read(file(header_fields(), twice)),
                      Catch::Contains("line 2, field \"rung\"") && Catch::Contains("twice"));
  REQUIRE_THROWS_WITH(
      read(file(header_fields(),
                with(trial_fields(), "curve",
                     R"([{"step":1,"objective":0.5,"values":{"a":1.0,"a":2.0}}])"))),
      Catch::Contains("curve[0].values.a") && Catch::Contains("twice"));
}

TEST_CASE("error messages quote a bounded excerpt of the input", "[jsonl][robustness]") {
  const std::string huge(1000000, 'q');
  std::vector<std::string> messages{
      error_of(
          [&] { read(file(header_fields(), with(trial_fields(), "status", '"' + huge + '"'))); }),
      error_of([&] { read(file(header_fields(), with(trial_fields(), "reason", '"' + huge))); }),
      error_of([&] { read(file(header_fields(), with(trial_fields(), "resource", huge))); }),
      error_of(
          [&] { read(file(header_fields(), with(trial_fields(), "resource", '"' + huge + '"'))); }),
      error_of([&] { hpt::config_from_json("{\"" + huge + "\":null}"); }),
      error_of([&] { hpt::config_from_json("{\"a\":\"" + huge); }),
      error_of([&] { hpt::config_from_json("{\"a\":1" + std::string(1000000, '0') + "e400}"); }),
      error_of([&] { hpt::config_from_json("{\"a\":1" + std::string(1000000, '0') + "}"); }),
      error_of([&] { hpt::config_from_json("\"" + huge + "\""); }),
  };
  for (const auto& message : messages) {
    INFO(message.substr(0, 300));
    CHECK(message.rfind("hpt::", 0) == 0);
    CHECK(message.size() < 600);
  }
  CHECK_THAT(messages[0], Catch::Contains("line 2, field \"status\"") &&
                              Catch::Contains("(1000000 characters)"));
  CHECK_THAT(messages[1], Catch::Contains("line 2"));
}

TEST_CASE("a study file of another format version is refused", "[jsonl][robustness]") {
  CHECK_THAT(error_of([] { read(file(with(header_fields(), "hpt_study", "2"), trial_fields())); }),
             Catch::Contains("line 1, field \"hpt_study\": version 2, this reader knows "
                             "version 1"));
  CHECK_THAT(error_of([] { read(file(with(header_fields(), "hpt_study", "\"1\""), {})); }),
             Catch::Contains("field \"hpt_study\""));
}

TEST_CASE("a JSON error between members names the object, not the member before",
          "[jsonl][robustness]") {
  // The parse stops at the key after "trial": the error is in the object, not in "trial".
  const std::string broken = R"({"trial":0,)" + std::string("\n");
  const std::string message = error_of([&] { read(object_text(header_fields()) + "\n" + broken); });
  CHECK_THAT(message, Catch::StartsWith("hpt::read_jsonl: line 2: "));
  CHECK_THAT(message, !Catch::Contains("\"trial\""));
  // Inside a member's value the member is still named.
  CHECK_THAT(error_of([] { hpt::config_from_json(R"({"a":[1,)"); }), Catch::Contains("key \"a"));
}

TEST_CASE("JSON messages show control bytes as escapes", "[jsonl][robustness]") {
  const std::string message = error_of(
      [] { read(file(header_fields(), with(trial_fields(), "status", "\"\\u001b[2Jdone\""))); });
  CHECK_THAT(message, Catch::Contains("\\x1b[2Jdone"));
  for (const char c : message) CHECK(static_cast<unsigned char>(c) >= 0x20);
}
