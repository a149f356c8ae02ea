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
                 Catch::Contains("4294967297 is out of range (an integer from -2147483648 to "
                                 "2147483647)"));
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
  // The limits themselves load.
  const auto study =
      read(header + row("0", "completed", "2147483647", "-2147483648", "9223372036854775807"));
  CHECK(study.trial(0).bracket == 2147483647);
  CHECK(study.trial(0).rung == -2147483647 - 1);
  CHECK(study.trial(0).resource == std::numeric_limits<std::int64_t>::max());
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
