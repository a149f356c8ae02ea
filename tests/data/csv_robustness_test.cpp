// load_csv on hostile input: strict number syntax, bounded class counts, long lines and cells,
// and error messages that name the file, line, column and (shortened) value.
#include <hpt/data/csv.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

using Catch::Matchers::Contains;
using hpt::data::CsvHeader;
using hpt::data::CsvOptions;
using hpt::data::CsvTask;
using hpt::data::parse_csv;

namespace {

hpt::data::Dataset<double> parse(const std::string& text, const CsvOptions& options = {}) {
  std::istringstream input(text);
  return parse_csv<double>(input, "input.csv", options);
}

hpt::data::Dataset<float> parse_float(const std::string& text, const CsvOptions& options = {}) {
  std::istringstream input(text);
  return parse_csv<float>(input, "input.csv", options);
}

// The message of what parse(text, options) throws, or "" if it does not throw.
std::string error_of(const std::string& text, const CsvOptions& options = {}) {
  try {
    (void)parse(text, options);
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("load_csv refuses malformed numbers instead of reading part of them",
          "[data][csv][robustness]") {
  // Each of these used to be read as some number, or must stay refused.
  for (const std::string cell :
       {"+-3",  "-+3",  "--3", "++3",  "3-",    "3+",       "+",    "-",     ".",   "+.",
        "-.e1", "1e",   "1e+", "e5",   "1.2.3", "1e5e5",    "0x10", "1_000", "1 2", "nan",
        "NaN",  "-nan", "inf", "-inf", "+inf",  "infinity", "1d5",  "\v1",   "1\f"}) {
    INFO("cell '" << cell << "'");
    const std::string message = error_of("1,2,0\n1," + cell + ",0\n");
    CHECK_THAT(message, Contains("hpt::data::load_csv: 'input.csv' line 2, column 2: '"));
    CHECK_THAT(message, Contains("is not a finite number"));
  }
  CHECK(error_of("1,2,0\n1,+-3,0\n") ==
        "hpt::data::load_csv: 'input.csv' line 2, column 2: '+-3' is not a finite number");
  // Control characters are shown escaped, not copied into the message.
  CHECK_THAT(error_of("1,2,0\n1,2\x01,0\n"), Contains("column 2: '2\\x01' is not a finite number"));
}

TEST_CASE("load_csv accepts the documented number forms", "[data][csv][robustness]") {
  const auto data = parse("+3,-3,3.,.5,-.5e+1,1E3,+0.25e-1, \t7\t ,-0,0\n");
  REQUIRE(data.feature_count() == 9);
  const Eigen::VectorXd expected =
      (Eigen::VectorXd(9) << 3, -3, 3, 0.5, -5, 1000, 0.025, 7, -0.0).finished();
  CHECK(data.features().col(0) == expected);
  CHECK(data.labels() == std::vector<int>{0});
  // Long but in-range numbers are read exactly: 1 followed by 100000 zeros, times 1e-100000.
  const std::string one = "1" + std::string(100000, '0') + "e-100000";
  CHECK(parse("0," + one + ",1\n").features()(1, 0) == 1.0);
  // A UTF-8 byte order mark before the first line is not part of the first cell.
  CHECK(parse("\xEF\xBB\xBF"
              "a,b\n1,0\n")
            .features()(0, 0) == 1.0);
  CHECK(parse("\xEF\xBB\xBF"
              "1,0\n")
            .features()(0, 0) == 1.0);
}

TEST_CASE("load_csv names numbers out of the scalar type's range", "[data][csv][robustness]") {
  CHECK_THAT(error_of("1,2,0\n1,1e400,0\n"),
             Contains("line 2, column 2: '1e400' is out of the range of double (too large)"));
  CHECK_THAT(error_of("1,2,0\n1,-1e-400,0\n"),
             Contains("line 2, column 2: '-1e-400' is out of the range of double (too small"));
  CHECK_THROWS_WITH(parse_float("1,2,0\n1,1e39,0\n"),
                    Contains("line 2, column 2: '1e39' is out of the range of float (too large)"));
  CHECK_THROWS_WITH(parse_float("1,2,0\n1,1e-46,0\n"),
                    Contains("line 2, column 2: '1e-46' is out of the range of float (too small"));
  // Float values are rounded once, from the text, not through double.
  CHECK(parse_float("1.00000005960464477539062500000001,0\n").features()(0, 0) ==
        1.00000012f);  // just above the halfway point between 1 and the next float
}

TEST_CASE("a huge number cell gets its own message, with its length", "[data][csv][robustness]") {
  // On the first line, with the header detected automatically: it is a (too large) number, not
  // text, so the line is data and the cell is reported.
  const std::string digits(100000, '7');
  const std::string message = error_of("1,2," + digits + "\n1,2,0\n");
  CHECK_THAT(message, Contains("'input.csv' line 1, column 3: '7777777777"));
  CHECK_THAT(message, Contains("...' (100000 characters) is out of the range of double"));
  CHECK(message.size() < 250);  // the value is shortened
  // Long text is shortened the same way.
  const std::string text = error_of("1,2,0\n1," + std::string(5000, 'x') + ",0\n");
  CHECK_THAT(text, Contains("line 2, column 2: 'xxxxxxxxxx"));
  CHECK_THAT(text, Contains("...' (5000 characters) is not a finite number"));
  CHECK(text.size() < 250);
}

TEST_CASE("load_csv bounds the class count it derives from the labels", "[data][csv][robustness]") {
  // Two rows and a label near INT_MAX used to make a dataset of 2^31 - 1 classes.
  CHECK(error_of("1,0\n2,2147483646\n") ==
        "hpt::data::load_csv: 'input.csv' line 2, column 2: label 2147483646 is not below "
        "65536, the most classes load_csv derives from the labels; set CsvOptions::class_count "
        "to allow more");
  CHECK_THAT(error_of("1,0\n2,65536\n"), Contains("line 2, column 2: label 65536 is not below"));
  CHECK(parse("1,0\n2,65535\n").class_count() == 65536);
  CHECK(hpt::data::csv_max_derived_class_count == 65536);
  // An explicit class_count lifts the bound and is itself the bound.
  const auto many = parse("1,0\n2,99999\n", {.class_count = 100000});
  CHECK(many.class_count() == 100000);
  CHECK(many.labels() == std::vector<int>{0, 99999});
  CHECK_THAT(error_of("1,0\n2,100000\n", {.class_count = 100000}),
             Contains("line 2, column 2: label 100000 is not below class_count 100000"));
  // Beyond int, negative, fractional, or out of double's range: refused, naming the line.
  for (const std::string label : {"4294967296", "1e10", "9223372036854775808", "1e300"})
    CHECK_THAT(error_of("1,0\n2," + label + "\n", {.class_count = 2147483647}),
               Contains("line 2, column 2: label " + label + " is not below class_count"));
  CHECK_THAT(error_of("1,0\n2,1e400\n"),
             Contains("line 2, column 2: '1e400' is out of the range of double"));
  CHECK_THAT(error_of("1,0\n2,-3\n"),
             Contains("line 2, column 2: label -3 is not a non-negative integer"));
  CHECK_THAT(error_of("1,0\n2,2.5\n"),
             Contains("line 2, column 2: label 2.5 is not a non-negative integer"));
  CHECK_THAT(error_of("1,0\n2,1e-300\n"),
             Contains("line 2, column 2: label 1e-300 is not a non-negative integer"));
  // Integral spellings are still labels.
  CHECK(parse("1,2.0\n2,1e0\n3,-0\n").labels() == std::vector<int>{2, 1, 0});
}

TEST_CASE("load_csv reads a line of a million cells", "[data][csv][robustness]") {
  constexpr int cells = 1000000;
  std::string line;
  line.reserve(3 * cells);
  for (int i = 0; i < cells - 1; ++i) {
    line += static_cast<char>('0' + i % 10);
    line += ',';
  }
  line += "3\n";
  const auto data = parse(line + line);
  REQUIRE(data.feature_count() == cells - 1);
  REQUIRE(data.size() == 2);
  bool all_equal = true;
  for (int i = 0; i < cells - 1; ++i)
    all_equal = all_equal && data.features()(i, 0) == i % 10 && data.features()(i, 1) == i % 10;
  CHECK(all_equal);
  CHECK(data.labels() == std::vector<int>{3, 3});
  // A ragged long line is reported by its count, before its cells are read.
  CHECK(error_of(line + "1,2\n") ==
        "hpt::data::load_csv: 'input.csv' line 2: 2 columns, expected 1000000 (as on line 1)");
}

TEST_CASE("load_csv streams many rows into the dataset", "[data][csv][robustness]") {
  std::string text = "x,y,target\n";
  for (int i = 0; i < 5000; ++i)
    text += std::to_string(i) + "," + std::to_string(-i) + ".5," + std::to_string(i % 7) + "\n";
  const auto data = parse(text);
  REQUIRE(data.size() == 5000);
  CHECK(data.features()(0, 4999) == 4999.0);
  CHECK(data.features()(1, 4999) == -4999.5);
  CHECK(data.labels()[4999] == 4999 % 7);
  CHECK(data.class_count() == 7);
  const auto regression = parse(text, {.label_column = 0, .task = CsvTask::regression});
  CHECK(regression.regression_targets()(0, 4999) == 4999.0);
  CHECK(regression.features()(1, 4999) == 4999 % 7);
  CHECK(regression.features()(0, 1) == -1.5);
}

TEST_CASE("load_csv refuses separators that belong to numbers", "[data][csv][robustness]") {
  for (const char separator : {'e', 'E', '.', '+', '-', '5', '\n', '\r'})
    CHECK_THROWS_AS(parse("1,0\n", {.separator = separator}), std::invalid_argument);
  CHECK(parse("1 0\n2 1\n", {.header = CsvHeader::no, .separator = ' '}).size() == 2);
}
