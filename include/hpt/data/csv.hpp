#pragma once
/// @file csv.hpp
/// @brief Loads a numeric CSV file into a Dataset.

#include <hpt/data/dataset.hpp>
#include <hpt/data/sample_store.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <locale>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace hpt::data {

/// @brief Whether the first non-blank line of a CSV file holds column names.
enum class CsvHeader {
  automatic,  ///< A header if no cell of the first line is a number; an error if some are.
  yes,        ///< The first line is a header (skipped).
  no          ///< Every line is data.
};

/// @brief What the label column holds.
enum class CsvTask {
  classification,  ///< Non-negative integer class labels.
  regression       ///< Any finite number: a 1 x N target matrix.
};

/// @brief How load_csv reads a file.
struct CsvOptions {
  /// The column holding the label (target), 0-based; negative counts from the end (-1 = last).
  int label_column = -1;
  CsvHeader header = CsvHeader::automatic;  ///< Whether the first line is a header.
  char separator = ',';                     ///< The cell separator (no quoting is supported).
  CsvTask task = CsvTask::classification;   ///< Class labels or regression targets.
  /// Classification: the number of classes; 0 means (largest label) + 1.
  int class_count = 0;
};

namespace detail {

/// @brief Parses a whole trimmed cell as a finite double, or nothing.
inline std::optional<double> parse_number(std::string_view cell) {
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);  // from_chars rejects '+'
  if (cell.empty() || cell.front() == '+' || cell.front() == ' ') return std::nullopt;
  double value = 0.0;
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  const auto [end, error] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (error != std::errc{} || end != cell.data() + cell.size()) return std::nullopt;
#else
  // Standard libraries without floating-point from_chars: a stream in the "C" locale, so that
  // the decimal point does not depend on the user's locale.
  std::istringstream in{std::string(cell)};
  in.imbue(std::locale::classic());
  in >> value;
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
#endif
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

/// @brief Splits `line` at `separator` and trims blanks (spaces, tabs) that are not the separator.
inline void split_cells(std::string_view line, char separator,
                        std::vector<std::string_view>& cells) {
  cells.clear();
  const auto blank = [separator](char c) { return (c == ' ' || c == '\t') && c != separator; };
  std::size_t start = 0;
  while (true) {
    const std::size_t stop = line.find(separator, start);
    std::string_view cell =
        line.substr(start, stop == std::string_view::npos ? line.size() - start : stop - start);
    while (!cell.empty() && blank(cell.front())) cell.remove_prefix(1);
    while (!cell.empty() && blank(cell.back())) cell.remove_suffix(1);
    cells.push_back(cell);
    if (stop == std::string_view::npos) break;
    start = stop + 1;
  }
}

inline bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace detail

/// @brief Reads a numeric CSV table from `input` into a Dataset; `source` names the input in
/// error messages. See load_csv.
template <class Scalar = double>
Dataset<Scalar> parse_csv(std::istream& input, const std::string& source,
                          const CsvOptions& options = {}) {
  const std::string prefix = "hpt::data::load_csv: '" + source + "'";
  if (options.separator == '\n' || options.separator == '\r' || options.separator == '.' ||
      options.separator == '-' || options.separator == '+' ||
      (options.separator >= '0' && options.separator <= '9'))
    throw std::invalid_argument(prefix + ": separator '" + std::string(1, options.separator) +
                                "' cannot separate numbers");
  if (options.class_count < 0)
    throw std::invalid_argument(prefix + ": class_count must be >= 0, got " +
                                std::to_string(options.class_count));
  const auto where = [&](std::size_t line, std::size_t column) {
    return prefix + " line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
  };

  std::vector<double> values;  // row-major, every column including the label
  std::vector<std::size_t> line_numbers;
  std::vector<std::string_view> cells;
  std::size_t columns = 0;
  std::size_t width_line = 0;  // the line that fixed the column count
  bool first = true;
  std::string line;
  for (std::size_t number = 1; std::getline(input, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    if (detail::is_blank(line)) continue;
    detail::split_cells(line, options.separator, cells);
    if (first) {
      first = false;
      columns = cells.size();
      width_line = number;
      bool header = options.header == CsvHeader::yes;
      if (options.header == CsvHeader::automatic) {
        std::size_t numbers = 0;
        for (const auto cell : cells) numbers += detail::parse_number(cell) ? 1 : 0;
        // Only all-text lines count as headers, so that a typo in a first data line is reported
        // rather than silently dropped.
        if (numbers != 0 && numbers != cells.size())
          throw std::runtime_error(prefix + " line " + std::to_string(number) +
                                   ": mixes numbers and text; set CsvOptions::header to yes or "
                                   "no");
        header = numbers == 0;
      }
      if (header) continue;
    } else if (cells.size() != columns) {
      throw std::runtime_error(prefix + " line " + std::to_string(number) + ": " +
                               std::to_string(cells.size()) + " columns, expected " +
                               std::to_string(columns) + " (as on line " +
                               std::to_string(width_line) + ")");
    }
    for (std::size_t column = 0; column < cells.size(); ++column) {
      const auto value = detail::parse_number(cells[column]);
      if (!value)
        throw std::runtime_error(where(number, column + 1) +
                                 (cells[column].empty() ? std::string("empty cell")
                                                        : "'" + std::string(cells[column]) +
                                                              "' is not a finite number"));
      if (!std::isfinite(static_cast<Scalar>(*value)))
        throw std::runtime_error(where(number, column + 1) + "'" + std::string(cells[column]) +
                                 "' is out of the range of the scalar type");
      values.push_back(*value);
    }
    line_numbers.push_back(number);
  }
  if (input.bad()) throw std::runtime_error(prefix + ": read error");
  if (first) throw std::runtime_error(prefix + " is empty");
  if (line_numbers.empty()) throw std::runtime_error(prefix + " has a header but no data rows");
  if (columns < 2)
    throw std::runtime_error(prefix + " has " + std::to_string(columns) +
                             " column; a dataset needs at least one feature and a label");

  const auto column_count = static_cast<long long>(columns);
  const long long label =
      options.label_column < 0 ? column_count + options.label_column : options.label_column;
  if (label < 0 || label >= column_count)
    throw std::invalid_argument(prefix + ": label_column " + std::to_string(options.label_column) +
                                " is out of range for " + std::to_string(columns) +
                                " columns (valid: 0.." + std::to_string(columns - 1) + " or -" +
                                std::to_string(columns) + "..-1)");
  const auto label_index = static_cast<std::size_t>(label);

  const auto rows = line_numbers.size();
  Matrix<Scalar> features(static_cast<Eigen::Index>(columns - 1), static_cast<Eigen::Index>(rows));
  for (std::size_t row = 0; row < rows; ++row)
    for (std::size_t column = 0, feature = 0; column < columns; ++column)
      if (column != label_index)
        features(static_cast<Eigen::Index>(feature++), static_cast<Eigen::Index>(row)) =
            static_cast<Scalar>(values[row * columns + column]);

  if (options.task == CsvTask::regression) {
    Matrix<Scalar> targets(1, static_cast<Eigen::Index>(rows));
    for (std::size_t row = 0; row < rows; ++row)
      targets(0, static_cast<Eigen::Index>(row)) =
          static_cast<Scalar>(values[row * columns + label_index]);
    return Dataset<Scalar>(std::move(features), RegressionTargets<Scalar>{std::move(targets)});
  }
  std::vector<int> labels(rows);
  int largest = 0;
  for (std::size_t row = 0; row < rows; ++row) {
    const double value = values[row * columns + label_index];
    if (!(value >= 0.0 && value == std::floor(value) &&
          value <= static_cast<double>(std::numeric_limits<int>::max() - 1)))
      throw std::runtime_error(where(line_numbers[row], label_index + 1) + "label " +
                               detail::number_text(value) + " is not a non-negative integer");
    labels[row] = static_cast<int>(value);
    if (options.class_count > 0 && labels[row] >= options.class_count)
      throw std::runtime_error(where(line_numbers[row], label_index + 1) + "label " +
                               std::to_string(labels[row]) + " is not below class_count " +
                               std::to_string(options.class_count));
    largest = std::max(largest, labels[row]);
  }
  const int class_count = options.class_count > 0 ? options.class_count : largest + 1;
  return Dataset<Scalar>(std::move(features), ClassLabels{std::move(labels), class_count});
}

/// @brief Loads a numeric CSV file into a Dataset.
///
/// One sample per non-blank line; every cell is a number (blanks around it are ignored, no
/// quoting); every line has the same number of cells. The label column becomes the targets, the
/// other columns (in order) the features. Throws std::runtime_error, naming the file, the line
/// and the 1-based column, if the file cannot be opened, is empty or has only a header, has
/// ragged rows or a non-numeric cell, or (classification) a label that is not a non-negative
/// integer or not below options.class_count; std::invalid_argument if label_column is out of
/// range or the options are invalid.
template <class Scalar = double>
Dataset<Scalar> load_csv(const std::filesystem::path& path, const CsvOptions& options = {}) {
  std::ifstream input(path, std::ios::binary);
  if (!input) throw std::runtime_error("hpt::data::load_csv: cannot open '" + path.string() + "'");
  return parse_csv<Scalar>(input, path.string(), options);
}

}  // namespace hpt::data
