#pragma once
/// @file csv.hpp
/// @brief Loads a numeric CSV file into a Dataset.

#include <hpt/core/input_excerpt.hpp>
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
#include <type_traits>
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

/// @brief The most classes load_csv derives from the labels (largest label + 1) when
/// CsvOptions::class_count is 0. A larger label is refused, naming its line, rather than making a
/// model with that many outputs; an explicit class_count replaces this bound.
inline constexpr int csv_max_derived_class_count = 65536;

/// @brief How load_csv reads a file.
struct CsvOptions {
  /// The column holding the label (target), 0-based; negative counts from the end (-1 = last).
  int label_column = -1;
  CsvHeader header = CsvHeader::automatic;  ///< Whether the first line is a header.
  char separator = ',';                     ///< The cell separator (no quoting is supported).
  CsvTask task = CsvTask::classification;   ///< Class labels or regression targets.
  /// Classification: the number of classes, every label below it; 0 means (largest label) + 1,
  /// at most csv_max_derived_class_count.
  int class_count = 0;
};

namespace detail {

/// @brief What reading a cell as a number gave.
enum class CellNumber { ok, empty, not_a_number, too_large, too_small };

/// @brief Whether a cell is spelled as a number, and roughly how large it is.
struct NumberSyntax {
  bool valid = false;
  /// The decimal exponent of the first nonzero digit (saturated): tells an out-of-range number
  /// that is too large from one that is too small.
  long long magnitude = 0;
};

/// @brief Checks `text` against [+-]? (digits [. [digits]] | . digits) [[eE] [+-]? digits].
///
/// from_chars alone would accept a prefix ("3-" as 3), "nan" and "inf", and, after a '+' is
/// stripped for it, a second sign ("+-3" as -3).
inline NumberSyntax number_syntax(std::string_view text) noexcept {
  constexpr long long saturation = 1'000'000'000'000'000LL;  // far beyond any exponent range
  const std::size_t size = text.size();
  const auto digit = [&](std::size_t i) { return i < size && text[i] >= '0' && text[i] <= '9'; };
  std::size_t i = 0;
  if (i < size && (text[i] == '+' || text[i] == '-')) ++i;
  const std::size_t integer_begin = i;
  while (digit(i)) ++i;
  const std::size_t integer_end = i;
  std::size_t fraction_begin = i;
  std::size_t fraction_end = i;
  if (i < size && text[i] == '.') {
    fraction_begin = ++i;
    while (digit(i)) ++i;
    fraction_end = i;
  }
  if (integer_end == integer_begin && fraction_end == fraction_begin) return {};
  long long exponent = 0;
  if (i < size && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < size && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    if (!digit(i)) return {};
    for (; digit(i); ++i) exponent = std::min(saturation, exponent * 10 + (text[i] - '0'));
    if (negative) exponent = -exponent;
  }
  if (i != size) return {};
  std::size_t lead = integer_begin;
  while (lead < integer_end && text[lead] == '0') ++lead;
  long long magnitude = 0;
  if (lead < integer_end) {
    magnitude =
        static_cast<long long>(std::min<unsigned long long>(integer_end - lead - 1, saturation));
  } else {
    lead = fraction_begin;
    while (lead < fraction_end && text[lead] == '0') ++lead;
    magnitude = -static_cast<long long>(
        std::min<unsigned long long>(lead - fraction_begin + 1, saturation));
  }
  return {true, magnitude + exponent};
}

/// @brief Reads a whole (trimmed) cell as a finite T, rounded once from the text.
template <class T>
CellNumber parse_number(std::string_view text, T& value) {
  if (text.empty()) return CellNumber::empty;
  const NumberSyntax syntax = number_syntax(text);
  if (!syntax.valid) return CellNumber::not_a_number;
  if (text.front() == '+') text.remove_prefix(1);  // from_chars has no leading '+'
  T parsed{};
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  const bool out_of_range = error == std::errc::result_out_of_range;
  const bool complete = error == std::errc{} && end == text.data() + text.size();
#else
  // Standard libraries without floating-point from_chars: a stream in the "C" locale, so that
  // the decimal point does not depend on the user's locale. The syntax is already checked, so a
  // failure is a range error.
  std::istringstream in{std::string(text)};
  in.imbue(std::locale::classic());
  in >> parsed;
  const bool out_of_range = in.fail();
  const bool complete = !in.fail() && in.peek() == std::char_traits<char>::eof();
#endif
  if (out_of_range || (complete && !std::isfinite(parsed)))
    return syntax.magnitude >= 0 ? CellNumber::too_large : CellNumber::too_small;
  if (!complete) return CellNumber::not_a_number;
  value = parsed;
  return CellNumber::ok;
}

/// @brief The name of a scalar type in messages.
template <class T>
constexpr const char* scalar_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, double>) return "double";
  return "long double";
}

/// @brief Calls visit(column, cell) for each cell of `line` (0-based columns), the cell a view
/// into the line with blanks (spaces, tabs) around it removed unless they are the separator.
template <class Visit>
void for_each_cell(std::string_view line, char separator, Visit&& visit) {
  const auto blank = [separator](char c) { return (c == ' ' || c == '\t') && c != separator; };
  std::size_t start = 0;
  for (std::size_t column = 0;; ++column) {
    const std::size_t stop = line.find(separator, start);
    std::string_view cell =
        line.substr(start, stop == std::string_view::npos ? line.size() - start : stop - start);
    while (!cell.empty() && blank(cell.front())) cell.remove_prefix(1);
    while (!cell.empty() && blank(cell.back())) cell.remove_suffix(1);
    visit(column, cell);
    if (stop == std::string_view::npos) return;
    start = stop + 1;
  }
}

inline bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace detail

/// @brief Reads a numeric CSV table from `input` into a Dataset; `source` names the input in
/// error messages. See load_csv.
///
/// Streams: one line at a time, its cells parsed in place straight into the feature matrix, so
/// memory peaks near the longest line plus the dataset itself.
template <class Scalar = double>
Dataset<Scalar> parse_csv(std::istream& input, const std::string& source,
                          const CsvOptions& options = {}) {
  const std::string prefix = "hpt::data::load_csv: '" + source + "'";
  const char separator = options.separator;
  if (separator == '\n' || separator == '\r' || separator == '.' || separator == '-' ||
      separator == '+' || separator == 'e' || separator == 'E' ||
      (separator >= '0' && separator <= '9'))
    throw std::invalid_argument(prefix + ": separator '" + std::string(1, separator) +
                                "' cannot separate numbers");
  if (options.class_count < 0)
    throw std::invalid_argument(prefix + ": class_count must be >= 0, got " +
                                std::to_string(options.class_count));
  const auto where = [&](std::size_t line, std::size_t column) {
    return prefix + " line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
  };
  const auto bad_cell = [&](std::size_t line, std::size_t column, std::string_view cell,
                            detail::CellNumber status, const char* type) {
    std::string what = where(line, column);
    if (status == detail::CellNumber::empty) return std::runtime_error(what + "empty cell");
    what += hpt::detail::excerpt(cell, '\'');
    if (status == detail::CellNumber::not_a_number)
      return std::runtime_error(what + " is not a finite number");
    return std::runtime_error(what + " is out of the range of " + type +
                              (status == detail::CellNumber::too_large
                                   ? " (too large)"
                                   : " (too small: it would be read as 0)"));
  };
  const bool classification = options.task == CsvTask::classification;

  // Samples are appended as columns; the matrix doubles its columns when full. Growing a
  // column-major matrix by columns reallocates in place where the allocator can (Eigen uses
  // realloc), so the filled part is not copied.
  Matrix<Scalar> features;
  Eigen::Index rows = 0;
  std::vector<int> labels;
  std::vector<Scalar> targets;
  int largest = 0;
  std::size_t columns = 0;
  std::size_t width_line = 0;  // the line that fixed the column count
  std::size_t label_index = 0;
  bool first = true;
  std::string buffer;
  for (std::size_t number = 1; std::getline(input, buffer); ++number) {
    std::string_view line = buffer;
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // UTF-8 BOM
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);             // CRLF files
    if (detail::is_blank(line)) continue;
    // Counting first reports a ragged line before any of its cells is parsed.
    const auto cells =
        static_cast<std::size_t>(std::count(line.begin(), line.end(), separator)) + 1;
    if (first) {
      first = false;
      columns = cells;
      width_line = number;
      bool header = options.header == CsvHeader::yes;
      if (options.header == CsvHeader::automatic) {
        std::size_t numbers = 0;
        detail::for_each_cell(line, separator, [&](std::size_t, std::string_view cell) {
          numbers += detail::number_syntax(cell).valid ? 1 : 0;
        });
        // Only all-text lines count as headers, so that a typo in a first data line is reported
        // rather than silently dropped. A number out of range is still a number.
        if (numbers != 0 && numbers != cells)
          throw std::runtime_error(prefix + " line " + std::to_string(number) +
                                   ": mixes numbers and text; set CsvOptions::header to yes or "
                                   "no");
        header = numbers == 0;
      }
      if (header) continue;
    } else if (cells != columns) {
      throw std::runtime_error(prefix + " line " + std::to_string(number) + ": " +
                               std::to_string(cells) + " columns, expected " +
                               std::to_string(columns) + " (as on line " +
                               std::to_string(width_line) + ")");
    }
    if (rows == 0) {  // the first data line: the shape is now known
      if (columns < 2)
        throw std::runtime_error(prefix + " has " + std::to_string(columns) +
                                 " column; a dataset needs at least one feature and a label");
      const auto column_count = static_cast<long long>(columns);
      const long long label =
          options.label_column < 0 ? column_count + options.label_column : options.label_column;
      if (label < 0 || label >= column_count)
        throw std::invalid_argument(
            prefix + ": label_column " + std::to_string(options.label_column) +
            " is out of range for " + std::to_string(columns) + " columns (valid: 0.." +
            std::to_string(columns - 1) + " or -" + std::to_string(columns) + "..-1)");
      label_index = static_cast<std::size_t>(label);
    }
    if (rows == features.cols()) {
      const Eigen::Index capacity = std::max<Eigen::Index>(1, 2 * rows);
      if (rows == 0)
        features.resize(static_cast<Eigen::Index>(columns - 1), capacity);
      else
        features.conservativeResize(Eigen::NoChange, capacity);
    }
    Eigen::Index feature = 0;
    detail::for_each_cell(line, separator, [&](std::size_t index, std::string_view cell) {
      const std::size_t column = index + 1;  // 1-based in messages
      if (index != label_index) {
        Scalar value{};
        const auto status = detail::parse_number(cell, value);
        if (status != detail::CellNumber::ok)
          throw bad_cell(number, column, cell, status, detail::scalar_name<Scalar>());
        features(feature++, rows) = value;
      } else if (!classification) {
        Scalar value{};
        const auto status = detail::parse_number(cell, value);
        if (status != detail::CellNumber::ok)
          throw bad_cell(number, column, cell, status, detail::scalar_name<Scalar>());
        targets.push_back(value);
      } else {
        double value = 0.0;
        const auto status = detail::parse_number(cell, value);
        if (status != detail::CellNumber::ok)
          throw bad_cell(number, column, cell, status, "double");
        const std::string label = "label " + hpt::detail::excerpt(cell);
        if (!(value >= 0.0 && value == std::floor(value)))
          throw std::runtime_error(where(number, column) + label +
                                   " is not a non-negative integer");
        // Compared as doubles, before the conversion to int, which is then exact.
        if (options.class_count > 0 && value >= options.class_count)
          throw std::runtime_error(where(number, column) + label + " is not below class_count " +
                                   std::to_string(options.class_count));
        if (options.class_count == 0 && value >= csv_max_derived_class_count)
          throw std::runtime_error(where(number, column) + label + " is not below " +
                                   std::to_string(csv_max_derived_class_count) +
                                   ", the most classes load_csv derives from the labels; set "
                                   "CsvOptions::class_count to allow more");
        labels.push_back(static_cast<int>(value));
        largest = std::max(largest, labels.back());
      }
    });
    ++rows;
  }
  if (input.bad()) throw std::runtime_error(prefix + ": read error");
  if (first) throw std::runtime_error(prefix + " is empty");
  if (rows == 0) throw std::runtime_error(prefix + " has a header but no data rows");
  features.conservativeResize(Eigen::NoChange, rows);  // gives back the unused capacity

  if (!classification)
    return Dataset<Scalar>(std::move(features),
                           RegressionTargets<Scalar>{Matrix<Scalar>(
                               Eigen::Map<const Matrix<Scalar>>(targets.data(), 1, rows))});
  const int class_count = options.class_count > 0 ? options.class_count : largest + 1;
  return Dataset<Scalar>(std::move(features), ClassLabels{std::move(labels), class_count});
}

/// @brief Loads a numeric CSV file into a Dataset.
///
/// One sample per non-blank line; every cell is a number (blanks around it are ignored, no
/// quoting); every line has the same number of cells. A number is [+-]? digits [. digits]
/// [e [+-]? digits] (or . digits) and must be finite in Scalar once rounded; nan and inf are
/// refused. The label column becomes the targets, the other columns (in order) the features.
/// Throws std::runtime_error, naming the file, the line, the 1-based column and the value
/// (shortened past 80 characters, with its length), if the file cannot be opened, is empty or
/// has only a header, has ragged rows or a cell that is not such a number, or (classification) a
/// label that is not a non-negative integer, not below options.class_count, or (class_count 0)
/// not below csv_max_derived_class_count; std::invalid_argument if label_column is out of range
/// or the options are invalid.
template <class Scalar = double>
Dataset<Scalar> load_csv(const std::filesystem::path& path, const CsvOptions& options = {}) {
  std::ifstream input(path, std::ios::binary);
  if (!input) throw std::runtime_error("hpt::data::load_csv: cannot open '" + path.string() + "'");
  return parse_csv<Scalar>(input, path.string(), options);
}

}  // namespace hpt::data
