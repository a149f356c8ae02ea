// The study CSV reader on hostile input (issue 10): integer columns are range-checked, every
// error names the line, the column and the cell, and quotes a bounded excerpt.
#include <catch2/catch.hpp>
#include <cstdint>
#include <hpt/io/csv.hpp>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const std::string header =
    "trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,"
    "direction,result_rule,\"x\"\n";

// One row; each argument replaces that column's cell.
std::string row(const std::string& trial = "0", const std::string& status = "completed",
                const std::string& bracket = "0", const std::string& rung = "0",
                const std::string& resource = "1", const std::string& x = "0.5",
                const std::string& direction = "minimize") {
  return trial + "," + status + "," + bracket + "," + rung + "," + resource +
         ",0.5,1,0.0,\"\",\"\"," + direction + ",last_step," + x + "\n";
}

hpt::Study read(const std::string& text) {
  std::istringstream in(text);
  return hpt::read_csv(in);
}

std::string error_of(const std::string& text) {
  try {
    read(text);
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("CSV integer columns are range-checked for their C++ type", "[csv][robustness]") {
  CHECK_THAT(error_of(header + row("0", "completed", "4294967297")),
             Catch::Contains("line 2, column \"bracket\"") &&
                 Catch::Contains("4294967297 is out of range (an integer from 0 to 2147483647)"));
  CHECK_THAT(error_of(header + row("0", "completed", "0", "-2147483649")),
             Catch::Contains("line 2, column \"rung\"") && Catch::Contains("-2147483649"));
  CHECK_THAT(error_of(header + row("0", "completed", "0", "0", "1.9")),
             Catch::Contains("line 2, column \"resource\"") &&
                 Catch::Contains("\"1.9\" is not an integer"));
  CHECK_THAT(error_of(header + row("0", "completed", "0", "0", "1e28")),
             Catch::Contains("column \"resource\"") && Catch::Contains("1e28"));
  CHECK_THAT(error_of(header + row("0", "completed", "0", "0", "9223372036854775808")),
             Catch::Contains("column \"resource\"") &&
                 Catch::Contains("9223372036854775808\" does not fit in 64 bits"));
  const std::string negative = error_of(header + row("-1"));
  CHECK_THAT(negative, Catch::Contains("line 2, column \"trial\"") &&
                           Catch::Contains("-1 is out of range (an integer from 0 to"));
  CHECK_THAT(negative, !Catch::Contains("18446744073709551615 where"));
  // The limits themselves load (brackets, rungs and resources are never negative).
  const auto study =
      read(header + row("0", "completed", "2147483647", "2147483647", "9223372036854775807"));
  CHECK(study.trial(0).bracket == 2147483647);
  CHECK(study.trial(0).rung == 2147483647);
  CHECK(study.trial(0).resource == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("CSV counts, indices and steps are refused when negative", "[csv][robustness]") {
  // In range for their types but meaningless: write_csv never writes one (the engine counts
  // resources and steps up from 0 and refuses a scheduler's negative bracket or rung), and a
  // negative result_step silently dropped the trial's result.
  const auto with_result_step = [](const std::string& step) {
    return "0,completed,0,0,1,0.5," + step + ",0.0,\"\",\"\",minimize,last_step,0.5\n";
  };
  struct Case {
    std::string text, column, value, range;
  };
  const std::vector<Case> cases{
      {row("0", "completed", "-1"), "bracket", "-1", "an integer from 0 to 2147483647"},
      {row("0", "completed", "0", "-1"), "rung", "-1", "an integer from 0 to 2147483647"},
      {row("0", "completed", "0", "0", "-1"), "resource", "-1",
       "an integer from 0 to 9223372036854775807"},
      {row("0", "completed", "0", "0", "-9223372036854775808"), "resource", "-9223372036854775808",
       "an integer from 0 to 9223372036854775807"},
      {with_result_step("-1"), "result_step", "-1", "an integer from 0 to 9223372036854775807"},
      {with_result_step("-9223372036854775808"), "result_step", "-9223372036854775808",
       "an integer from 0 to 9223372036854775807"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_THAT(error_of(header + c.text),
               Catch::StartsWith("hpt::read_csv: line 2, column \"" + c.column + "\": ") &&
                   Catch::Contains(c.value + " is out of range (" + c.range + ")"));
  }
  // Zero is a value write_csv writes: a trial that never stepped has result_step 0 and no result.
  CHECK(read(header + row("0", "pending", "0", "0", "0")).trial(0).resource == 0);
  // (A result_step of 0 with the result 0.5 is refused: see "a CSV result without a result step".)
}

TEST_CASE("a CSV parameter integer beyond 64 bits is refused, not read as a real",
          "[csv][robustness]") {
  CHECK_THAT(error_of(header + row("0", "completed", "0", "0", "1", "100000000000000000000")),
             Catch::Contains("line 2, column \"x\"") &&
                 Catch::Contains("\"100000000000000000000\" does not fit in 64 bits"));
  CHECK_THAT(error_of(header + row("0", "completed", "0", "0", "1", "-9223372036854775809")),
             Catch::Contains("column \"x\"") && Catch::Contains("does not fit in 64 bits"));
  const auto study = read(header + row("0", "completed", "0", "0", "1", "-9223372036854775808"));
  CHECK(study.trial(0).config.get<std::int64_t>("x") == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("CSV errors name the line, the column and the cell", "[csv][robustness]") {
  CHECK_THAT(error_of(header + row() + row("1", "finished")),
             Catch::Contains("hpt::read_csv: line 3, column \"status\"") &&
                 Catch::Contains("unknown trial status \"finished\""));
  CHECK_THAT(
      error_of("trial,status,bracket,rung,resource,result,result_step,wall_seconds,"
               "stopped_by,reason,direction,result_rule,\"x\",\"y\",\"x\"\n0,completed,0,0,1,0.5,1,"
               "0.0,\"\",\"\",minimize,last_step,1,2,3\n"),
      Catch::Contains("hpt::read_csv: line 1") && Catch::Contains("column 15") &&
          Catch::Contains("\"x\""));
}

TEST_CASE("CSV error messages quote a bounded excerpt of a cell", "[csv][robustness]") {
  const std::string huge(1000000, '7');
  const std::string text(1000000, 'q');
  const std::vector<std::string> messages{
      error_of(header + row("0", "completed", "0", "0", text)),
      error_of(header + row("0", "completed", "0", "0", huge)),
      error_of(header + row("0", text)),
      error_of(header + row("0", "completed", "0", "0", "1", text)),
      error_of(header + row("0", "completed", "0", "0", "1", "0.5", text)),
      error_of(header + row() + row("1", "completed", "0", "0", "1", "0.5", "maximize" + text)),
      error_of("trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,"
               "reason,direction,result_rule,\"" +
               text + "\"\n" + row("0", "completed", "0", "0", "1", text)),
  };
  for (const auto& message : messages) {
    INFO(message.substr(0, 300));
    CHECK(message.rfind("hpt::read_csv: line ", 0) == 0);
    CHECK(message.size() < 600);
  }
  CHECK_THAT(messages[0], Catch::Contains("(1000000 characters)"));
}

TEST_CASE("CSV messages show control bytes as escapes", "[csv][robustness]") {
  const std::string message = error_of(header + row("0", "\x1b[2Jcompleted\r\x07"));
  CHECK_THAT(message, Catch::Contains("\"\\x1b[2Jcompleted\\x07\""));
  for (const char c : message) CHECK(static_cast<unsigned char>(c) >= 0x20);
}

TEST_CASE("an unterminated CSV quote is refused as bad content, naming where it opened",
          "[csv][robustness]") {
  const std::string text = header + row() + "1,completed,0,0,1,0.5,1,0.0,\"never\n\nclosed,";
  std::istringstream in(text);
  CHECK_THROWS_AS(hpt::read_csv(in), std::invalid_argument);
  CHECK_THAT(error_of(text), Catch::Contains("hpt::read_csv: line 3: a quote opened here is "
                                             "never closed"));
}

TEST_CASE("a CSV result without a result step is refused, not dropped", "[csv][robustness]") {
  // write_csv writes a trial with no result as "nan,0"; "0.5,0" would lose the 0.5.
  const std::string no_step = "0,completed,0,0,1,0.5,0,0.0,\"\",\"\",minimize,last_step,0.5\n";
  CHECK_THAT(error_of(header + no_step),
             Catch::Contains("line 2, column \"result\": \"0.5\" but result_step 0"));
  const std::string empty = "0,failed,0,0,1,nan,0,0.0,\"\",\"\",minimize,last_step,0.5\n";
  const auto study = read(header + empty);
  REQUIRE(study.trials().size() == 1);
  CHECK(study.trial(0).curve.empty());
}
