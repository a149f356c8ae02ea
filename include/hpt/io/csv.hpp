#pragma once
/// @file csv.hpp
/// @brief A study as CSV, one row per trial, and back.
///
/// Columns: trial, status, bracket, rung, resource, result, result_step, wall_seconds,
/// stopped_by, reason, direction, result_rule, failure (where a failed trial failed: construct,
/// step, save, restore or policy; "none" otherwise), then one column per parameter (named after
/// it; empty where the parameter was inactive). read_csv also reads files from before the failure
/// column (their trials get FailureStage::none). Every row carries the study's direction
/// ("minimize" or "maximize") and its result rule ("last_step" or "best_step", which step `result`
/// is), so that the file alone says which result is best and each row stands alone in a spreadsheet
/// or a data frame; read_csv restores both and refuses a file without them. Strings are always
/// quoted so that "1" (a string) and 1 (an integer) stay apart; reals always have a '.' or an
/// exponent. The CSV keeps each trial's result, not its whole learning curve: use JSON Lines
/// (<hpt/io/json.hpp>) for curves.
///
/// read_csv is safe on any input: integer columns must hold integers that fit their field (trial
/// ids, brackets, rungs, resources and result steps are non-negative), a parameter integer must fit
/// in 64 bits, every error names the line, the column and the cell, and an error message quotes at
/// most quoted_input_limit characters of any cell.

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <iterator>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/core/input_excerpt.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/core/value.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {
namespace detail {

/// @brief E.g. "an integer from -2147483648 to 2147483647" (or from `low`), for range errors.
template <std::integral T>
std::string integer_range_text(T low = std::numeric_limits<T>::min()) {
  return "an integer from " + std::to_string(low) + " to " +
         std::to_string(std::numeric_limits<T>::max());
}

inline std::string csv_quote(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

inline std::string csv_cell(const Value& value) {
  return value.is_string() ? csv_quote(value.to_string()) : value.to_string();
}

/// @brief Splits one CSV record (RFC 4180 quoting; quoted cells may hold newlines), remembering
/// which cells were quoted.
inline bool read_csv_record(std::istream& in, std::vector<std::string>& cells,
                            std::vector<bool>& quoted, std::size_t& line) {
  cells.clear();
  quoted.clear();
  std::string cell;
  bool in_quotes = false, was_quoted = false, any = false;
  std::size_t quote_line = line;  // where the open quote began, for the message
  char c = 0;
  while (in.get(c)) {
    any = true;
    if (in_quotes) {
      if (c == '"') {
        if (in.peek() == '"') {
          cell += '"';
          in.get();
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
    } else if (c == '"') {
      in_quotes = was_quoted = true;
      quote_line = line;
    } else if (c == ',') {
      cells.push_back(std::move(cell));
      quoted.push_back(was_quoted);
      cell.clear();
      was_quoted = false;
    } else if (c == '\n') {
      ++line;
      break;
    } else if (c != '\r') {
      cell += c;
    }
  }
  if (in_quotes)
    throw std::invalid_argument("hpt::read_csv: line " + std::to_string(quote_line) +
                                ": a quote opened here is never closed");
  if (!any) return false;
  cells.push_back(std::move(cell));
  quoted.push_back(was_quoted);
  return true;
}

/// @brief A cell back to a Value: quoted → string; true/false → boolean; digits → integer;
/// otherwise a real. Throws std::invalid_argument for anything else.
inline Value parse_csv_value(const std::string& cell, bool quoted, std::size_t line,
                             std::string_view column) {
  if (quoted) return Value(cell);
  if (cell == "true") return Value(true);
  if (cell == "false") return Value(false);
  const char* first = cell.data();
  const char* last = first + cell.size();
  const auto where = [&] {
    return "hpt::read_csv: line " + std::to_string(line) + ", column " + quote_input(column) + ": ";
  };
  std::int64_t integer = 0;
  if (auto [end, error] = std::from_chars(first, last, integer); end == last) {
    if (error == std::errc{}) return Value(integer);
    // Read as a real it would silently change kind and lose digits.
    if (error == std::errc::result_out_of_range)
      throw std::invalid_argument(where() + "the integer " + quote_input(cell) +
                                  " does not fit in 64 bits");
  }
  double real = 0;
  if (auto [end, error] = std::from_chars(first, last, real); error == std::errc{} && end == last)
    return Value(real);
  throw std::invalid_argument(where() + "cannot read " + quote_input(cell) + " as a value");
}

/// @brief An integer cell for a field of type T: refuses reals, text and values outside T or
/// below `low` (0 for counts, steps and indices, which are never negative).
template <std::integral T>
T parse_csv_integer(const std::string& cell, std::size_t line, std::string_view column,
                    T low = std::numeric_limits<T>::min()) {
  const Value value = parse_csv_value(cell, false, line, column);
  const auto where = [&] {
    return "hpt::read_csv: line " + std::to_string(line) + ", column " + quote_input(column) + ": ";
  };
  if (!value.is_integer())
    throw std::invalid_argument(where() + quote_input(cell) + " is not an integer");
  const auto integer = value.as<std::int64_t>();
  if (!std::in_range<T>(integer) || static_cast<T>(integer) < low)
    throw std::invalid_argument(where() + std::to_string(integer) + " is out of range (" +
                                integer_range_text<T>(low) + ")");
  return static_cast<T>(integer);
}

inline double parse_csv_number(const std::string& cell, std::size_t line, std::string_view column) {
  if (cell == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (cell == "inf") return std::numeric_limits<double>::infinity();
  if (cell == "-inf") return -std::numeric_limits<double>::infinity();
  const Value value = parse_csv_value(cell, false, line, column);
  if (!value.is_number())
    throw std::invalid_argument("hpt::read_csv: line " + std::to_string(line) + ", column " +
                                quote_input(column) + ": " + quote_input(cell) +
                                " is not a number");
  return value.number();
}

inline TrialStatus parse_status(std::string_view text) {
  for (auto status : {TrialStatus::pending, TrialStatus::running, TrialStatus::paused,
                      TrialStatus::completed, TrialStatus::stopped, TrialStatus::pruned,
                      TrialStatus::failed, TrialStatus::diverged, TrialStatus::interrupted})
    if (to_string(status) == text) return status;
  // Callers pass an excerpt of long input, as they do to parse_direction.
  throw std::invalid_argument("unknown trial status \"" + std::string(text) + "\"");
}

inline FailureStage parse_failure_stage(std::string_view text) {
  for (auto stage : {FailureStage::none, FailureStage::construct, FailureStage::step,
                     FailureStage::save, FailureStage::restore, FailureStage::policy})
    if (to_string(stage) == text) return stage;
  throw std::invalid_argument("unknown failure stage \"" + std::string(text) + "\"");
}

inline constexpr std::string_view csv_fixed_columns[] = {
    "trial",        "status",     "bracket", "rung",      "resource",    "result", "result_step",
    "wall_seconds", "stopped_by", "reason",  "direction", "result_rule", "failure"};
/// Files written before the failure column have only the first twelve.
inline constexpr std::size_t csv_columns_without_failure = 12;

}  // namespace detail

/// @brief Writes the study as CSV (see the file comment), trials in id order.
inline void write_csv(const Study& study, std::ostream& out) {
  std::vector<std::string> parameters;  // every parameter name, in first-seen order
  for (const auto& trial : study.trials())
    for (const auto& [name, value] : trial.config) {
      bool known = false;
      for (const auto& p : parameters) known = known || p == name;
      if (!known) parameters.push_back(name);
    }
  bool first = true;
  for (auto column : detail::csv_fixed_columns) {
    out << (first ? "" : ",") << column;
    first = false;
  }
  for (const auto& name : parameters) out << ',' << detail::csv_quote(name);
  out << '\n';
  for (const auto& t : study.trials()) {
    out << t.id << ',' << to_string(t.status) << ',' << t.bracket << ',' << t.rung << ','
        << t.resource << ',' << format_real(t.result()) << ',' << t.result_step() << ','
        << format_real(t.wall_seconds) << ',' << detail::csv_quote(t.stopped_by) << ','
        << detail::csv_quote(t.reason) << ',' << to_string(study.direction()) << ','
        << to_string(study.options().result) << ',' << to_string(t.failure);
    for (const auto& name : parameters) {
      out << ',';
      if (const Value* value = t.config.find(name)) out << detail::csv_cell(*value);
    }
    out << '\n';
  }
}

/// @brief Reads a study written by write_csv: its trials, its direction and its result rule (so
/// best() and the leaderboard rank as the original study did). Each trial's curve holds its
/// result step only; the study's name and seed are not in the CSV (JSON Lines keeps the whole
/// study). Throws std::invalid_argument naming the line and column on bad input (an unclosed
/// quote names the line where it opened), and for a file without the direction column or with
/// rows that disagree on a study-level column. Messages quote cells through detail::excerpt.
inline Study read_csv(std::istream& in) {
  std::vector<std::string> header, cells;
  std::vector<bool> quoted;
  std::size_t line = 1;
  if (!detail::read_csv_record(in, header, quoted, line))
    throw std::invalid_argument("hpt::read_csv: the input is empty");
  // Fixed columns are written unquoted and parameter names quoted, so an older file whose first
  // parameter is called "direction" (or "failure") is not mistaken for a newer layout.
  const std::size_t failure_column = detail::csv_columns_without_failure;
  const bool has_failure = header.size() > failure_column && !quoted[failure_column] &&
                           header[failure_column] == "failure";
  const std::size_t fixed = has_failure ? failure_column + 1 : failure_column;
  for (std::size_t i = 0; i < fixed; ++i)
    if (i >= header.size() || header[i] != detail::csv_fixed_columns[i] || quoted[i]) {
      if (detail::csv_fixed_columns[i] == "direction")
        throw std::invalid_argument(
            "hpt::read_csv: line 1: column " + std::to_string(i + 1) +
            " must be \"direction\": without the study's direction (minimize or maximize) the "
            "best trial cannot be known (a file from an older hpt: add the column, or load the "
            "study's JSON Lines)");
      throw std::invalid_argument("hpt::read_csv: line 1: column " + std::to_string(i + 1) +
                                  " must be \"" + std::string(detail::csv_fixed_columns[i]) + "\"");
    }
  // Two columns for one parameter would make its configuration ambiguous.
  std::unordered_set<std::string_view> parameters;
  for (std::size_t i = fixed; i < header.size(); ++i)
    if (!parameters.insert(header[i]).second)
      throw std::invalid_argument("hpt::read_csv: line 1: column " + std::to_string(i + 1) +
                                  ", parameter " + detail::quote_input(header[i]) +
                                  ", repeats an earlier column");
  std::optional<Study> study;  // made at the first row, which says the direction and the rule
  std::size_t record_line = line;
  while (detail::read_csv_record(in, cells, quoted, line)) {
    if (cells.size() == 1 && cells[0].empty() && !quoted[0]) {
      record_line = line;
      continue;  // a blank line
    }
    if (cells.size() != header.size())
      throw std::invalid_argument("hpt::read_csv: line " + std::to_string(record_line) + " has " +
                                  std::to_string(cells.size()) + " cells, the header has " +
                                  std::to_string(header.size()));
    auto fail = [&](std::size_t column, const std::string& message) {
      return std::invalid_argument("hpt::read_csv: line " + std::to_string(record_line) +
                                   ", column " + detail::quote_input(header[column]) + ": " +
                                   message);
    };
    // A study-level column: parsed on every row, and every row must agree with the first.
    auto study_level = [&](std::size_t column, auto parse, auto first_value) {
      try {
        const auto value = parse(cells[column]);
        if (study && value != first_value(*study))
          throw std::invalid_argument(detail::quote_input(cells[column]) +
                                      " where earlier rows say \"" +
                                      std::string(to_string(first_value(*study))) + "\"");
        return value;
      } catch (const std::invalid_argument& error) {
        throw fail(column, error.what());
      }
    };
    const Direction direction = study_level(
        10, [](const std::string& text) { return parse_direction(detail::excerpt(text)); },
        [](const Study& s) { return s.direction(); });
    const TrialResult rule = study_level(
        11, [](const std::string& text) { return parse_trial_result(detail::excerpt(text)); },
        [](const Study& s) { return s.options().result; });
    if (!study) study.emplace(StudyOptions{.direction = direction, .result = rule});

    Trial trial;
    trial.id = detail::parse_csv_integer<std::size_t>(cells[0], record_line, header[0]);
    try {
      trial.status = detail::parse_status(detail::excerpt(cells[1]));
    } catch (const std::invalid_argument& error) {
      throw fail(1, error.what());
    }
    // Brackets, rungs, steps and resources are never negative (the engine refuses a scheduler
    // that hands out a negative bracket or rung); a negative result_step would drop the result.
    trial.bracket = detail::parse_csv_integer<int>(cells[2], record_line, header[2], 0);
    trial.rung = detail::parse_csv_integer<int>(cells[3], record_line, header[3], 0);
    trial.resource = detail::parse_csv_integer<std::int64_t>(cells[4], record_line, header[4], 0);
    const double result = detail::parse_csv_number(cells[5], record_line, header[5]);
    const auto result_step =
        detail::parse_csv_integer<std::int64_t>(cells[6], record_line, header[6], 0);
    trial.wall_seconds = detail::parse_csv_number(cells[7], record_line, header[7]);
    trial.stopped_by = cells[8];
    trial.reason = cells[9];
    if (has_failure) {
      try {
        trial.failure = detail::parse_failure_stage(detail::excerpt(cells[failure_column]));
      } catch (const std::invalid_argument& error) {
        throw fail(failure_column, error.what());
      }
      // Only a failed trial has a stage (one from an older file or made by hand may have none).
      if (trial.failure != FailureStage::none && trial.status != TrialStatus::failed)
        throw fail(failure_column, "failure stage " + detail::quote_input(cells[failure_column]) +
                                       " for a trial whose status is " +
                                       std::string(to_string(trial.status)));
    }
    // write_csv gives a trial without a result step the result nan: any other value would be
    // dropped silently.
    if (result_step == 0 && !std::isnan(result))
      throw fail(5, detail::quote_input(cells[5]) + " but result_step 0 (no result)");
    if (result_step > 0) trial.curve.push_back({result_step, result, {}});
    for (std::size_t column = fixed; column < header.size(); ++column)
      if (!cells[column].empty() || quoted[column])
        trial.config.set(header[column], detail::parse_csv_value(cells[column], quoted[column],
                                                                 record_line, header[column]));
    try {
      study->add_trial(std::move(trial));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("hpt::read_csv: line " + std::to_string(record_line) + ": " +
                                  error.what());
    }
    record_line = line;
  }
  // A file with no rows says no direction; with no trial to rank, the defaults are as good as any.
  return study ? std::move(*study) : Study{};
}

}  // namespace hpt
