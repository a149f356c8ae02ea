// load_csv: options, header detection and every error case, on files written here.
#include <hpt/data/csv.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "scratch_directory.hpp"

using Catch::Matchers::Contains;
using hpt::data::CsvHeader;
using hpt::data::CsvOptions;
using hpt::data::CsvTask;
using hpt::data::load_csv;

namespace {

// A scratch directory (removed at the end of the test) that writes files byte for byte.
class TemporaryDirectory {
 public:
  // Writes `content` to a file of that name and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    const auto file = scratch_.path / name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  test_support::ScratchDirectory scratch_{"hpt_csv_tests_"};
};

}  // namespace

TEST_CASE("load_csv reads features and class labels", "[data][csv]") {
  const TemporaryDirectory directory;
  const auto file = directory.write("iris_like.csv",
                                    "width,height,class\n"
                                    "1.5,2,0\n"
                                    "-3,4e1,2\n"
                                    "  5 , +6.25 ,1\n");
  const auto dataset = load_csv(file);  // header detected, label last
  REQUIRE(dataset.size() == 3);
  REQUIRE(dataset.feature_count() == 2);
  CHECK(dataset.features()(0, 0) == 1.5);
  CHECK(dataset.features()(1, 1) == 40.0);
  CHECK(dataset.features()(0, 2) == 5.0);
  CHECK(dataset.features()(1, 2) == 6.25);
  CHECK(dataset.labels() == std::vector<int>{0, 2, 1});
  CHECK(dataset.class_count() == 3);  // largest label + 1

  const auto fixed = load_csv<float>(file, {.class_count = 5});
  CHECK(fixed.class_count() == 5);
  CHECK(fixed.features()(0, 0) == 1.5f);
}

TEST_CASE("load_csv options: label column, header, separator, regression", "[data][csv]") {
  const TemporaryDirectory directory;
  const auto plain = directory.write("plain.csv", "1;10;0.5\r\n\r\n2;20;0.25\r\n   \n3;30;1\r\n\n");
  const auto first = load_csv(plain, {.label_column = 0, .separator = ';'});
  CHECK(first.size() == 3);  // CRLF and blank lines are accepted
  CHECK(first.labels() == std::vector<int>{1, 2, 3});
  CHECK(first.class_count() == 4);
  CHECK(first.features()(0, 1) == 20.0);
  CHECK(first.features()(1, 1) == 0.25);

  const auto middle =
      load_csv(plain, {.label_column = -2, .separator = ';', .task = CsvTask::regression});
  REQUIRE_FALSE(middle.is_classification());
  CHECK(middle.regression_targets() == Eigen::RowVector3d(10, 20, 30));
  CHECK(middle.features().row(0) == Eigen::RowVector3d(1, 2, 3));
  CHECK(middle.features().row(1) == Eigen::RowVector3d(0.5, 0.25, 1));

  // header = yes drops a numeric first line; header = no keeps it.
  CHECK(load_csv(plain, {.header = CsvHeader::yes, .separator = ';', .task = CsvTask::regression})
            .size() == 2);
  CHECK(load_csv(plain, {.header = CsvHeader::no, .separator = ';', .task = CsvTask::regression})
            .size() == 3);

  const auto tabs = directory.write("tabs.tsv", "1\t2\t1\n3\t4\t0\n");
  CHECK(load_csv(tabs, {.separator = '\t'}).labels() == std::vector<int>{1, 0});
}

TEST_CASE("load_csv reports file errors with the file name", "[data][csv][errors]") {
  const TemporaryDirectory directory;
  const auto missing = directory.write("present.csv", "1,0\n").parent_path() / "missing.csv";
  CHECK_THROWS_MATCHES(
      load_csv(missing), std::runtime_error,
      Catch::Message("hpt::data::load_csv: cannot open '" + missing.string() + "'"));
  const auto empty = directory.write("empty.csv", "");
  CHECK_THROWS_MATCHES(load_csv(empty), std::runtime_error,
                       Catch::Message("hpt::data::load_csv: '" + empty.string() + "' is empty"));
  CHECK_THROWS_WITH(load_csv(directory.write("blank.csv", "\n  \n\r\n")), Contains("is empty"));
  CHECK_THROWS_WITH(load_csv(directory.write("header_only.csv", "a,b,label\n")),
                    Contains("header_only.csv' has a header but no data rows"));
  CHECK_THROWS_WITH(load_csv(directory.write("one_column.csv", "1\n2\n")),
                    Contains("has 1 column; a dataset needs at least one feature and a label"));
}

TEST_CASE("load_csv reports bad cells with line and column", "[data][csv][errors]") {
  const TemporaryDirectory directory;
  const auto ragged = directory.write("ragged.csv", "x,y,label\n1,2,0\n\n3,4\n");
  CHECK_THROWS_MATCHES(load_csv(ragged), std::runtime_error,
                       Catch::Message("hpt::data::load_csv: '" + ragged.string() +
                                      "' line 4: 2 columns, expected 3 (as on line 1)"));
  const auto longer = directory.write("longer.csv", "1,2,0\n3,4,1,5\n");
  CHECK_THROWS_WITH(load_csv(longer), Contains("line 2: 4 columns, expected 3"));

  const auto text = directory.write("text.csv", "1,2,0\n3,abc,1\n");
  CHECK_THROWS_MATCHES(load_csv(text), std::runtime_error,
                       Catch::Message("hpt::data::load_csv: '" + text.string() +
                                      "' line 2, column 2: 'abc' is not a finite number"));
  CHECK_THROWS_WITH(load_csv(directory.write("empty_cell.csv", "1,2,0\n3,,1\n")),
                    Contains("line 2, column 2: empty cell"));
  CHECK_THROWS_WITH(load_csv(directory.write("nan.csv", "1,2,0\n1,nan,0\n")),
                    Contains("line 2, column 2: 'nan' is not a finite number"));
  CHECK_THROWS_WITH(load_csv(directory.write("trailing.csv", "1,2,0\n1,2x,0\n")),
                    Contains("line 2, column 2: '2x' is not a finite number"));
  // A first line of numbers and text is neither clearly a header nor data.
  const auto mixed = directory.write("mixed.csv", "1,2x,0\n1,2,0\n");
  CHECK_THROWS_MATCHES(load_csv(mixed), std::runtime_error,
                       Catch::Message("hpt::data::load_csv: '" + mixed.string() +
                                      "' line 1: mixes numbers and text; set CsvOptions::header "
                                      "to yes or no"));
  CHECK_THROWS_WITH(load_csv(mixed, {.header = CsvHeader::no}),
                    Contains("line 1, column 2: '2x' is not a finite number"));
  CHECK(load_csv(mixed, {.header = CsvHeader::yes}).size() == 1);
  // With header = no, a text first line is an error rather than a header.
  CHECK_THROWS_WITH(
      load_csv(directory.write("no_header.csv", "a,b,c\n1,2,0\n"), {.header = CsvHeader::no}),
      Contains("line 1, column 1: 'a' is not a finite number"));
  // float cannot hold 1e300.
  CHECK_THROWS_WITH(load_csv<float>(directory.write("huge.csv", "1e300,0\n")),
                    Contains("line 1, column 1: '1e300' is out of the range"));
}

TEST_CASE("load_csv checks the label column and the labels", "[data][csv][errors]") {
  const TemporaryDirectory directory;
  const auto file = directory.write("labels.csv", "1,2,0\n3,4,1\n");
  CHECK_THROWS_MATCHES(load_csv(file, {.label_column = 3}), std::invalid_argument,
                       Catch::Message("hpt::data::load_csv: '" + file.string() +
                                      "': label_column 3 is out of range for 3 columns (valid: "
                                      "0..2 or -3..-1)"));
  CHECK_THROWS_AS(load_csv(file, {.label_column = -4}), std::invalid_argument);
  CHECK_THROWS_WITH(load_csv(file, {.class_count = 1}),
                    Contains("line 2, column 3: label 1 is not below class_count 1"));
  CHECK_THROWS_AS(load_csv(file, {.class_count = -1}), std::invalid_argument);
  CHECK_THROWS_AS(load_csv(file, {.separator = '.'}), std::invalid_argument);

  const auto fraction = directory.write("fraction.csv", "h1,h2,label\n1,2,0\n3,4,1.5\n");
  CHECK_THROWS_MATCHES(load_csv(fraction), std::runtime_error,
                       Catch::Message("hpt::data::load_csv: '" + fraction.string() +
                                      "' line 3, column 3: label 1.5 is not a non-negative "
                                      "integer"));
  CHECK_THROWS_WITH(load_csv(directory.write("negative.csv", "1,2,-1\n")),
                    Contains("line 1, column 3: label -1 is not a non-negative integer"));
  // The same values are fine as regression targets.
  CHECK(load_csv(fraction, {.task = CsvTask::regression}).regression_targets()(0, 1) == 1.5);
}

TEST_CASE("parse_csv reads any stream", "[data][csv]") {
  std::istringstream input("0.5,1\n0.25,0\n");
  const auto dataset = hpt::data::parse_csv<double>(input, "in-memory");
  CHECK(dataset.size() == 2);
  std::istringstream bad("0.5,1\n0.25\n");
  CHECK_THROWS_WITH(hpt::data::parse_csv<double>(bad, "in-memory"),
                    Contains("'in-memory' line 2: 1 columns, expected 2"));
}
