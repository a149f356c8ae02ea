#pragma once
/// @file sqlite_rows.hpp
/// @brief How SqliteStorage (<hpt/study/sqlite_storage.hpp>) turns study events into rows of its
/// `events` table and back, without SQLite: a row is an array of SqliteValue cells, one per
/// column, so that the decoder can be tested and fuzzed without a database (fuzz/sqlite_rows.cpp).
///
/// Encoding rules (docs/storage.md, "The SQLite file"):
/// - Every column a kind does not use is NULL; decoding refuses a value there.
/// - A double goes to a REAL column. SQLite stores NaN as NULL and -0.0 as 0 in a REAL column,
///   so for those two (only) the companion column `<name>_bits` holds the IEEE 754 bit pattern
///   as a signed 64-bit integer; the REAL column then holds NULL (NaN) or 0.0 (-0.0).
/// - Configurations and metrics are flat JSON objects. A configuration's integer is written
///   without '.' or exponent and its real always with one, so the kinds stay apart; reals are
///   written with the fewest digits that read back to the same double. JSON has no NaN or
///   infinity: such a real is written as the object {"real": "inf"}, {"real": "-inf"},
///   {"real": "nan"} (the bits 0x7ff8000000000000) or {"real": "nan:<16 hex digits>"} (any other
///   NaN, by its bits).
/// - Strings are written byte for byte but for JSON's escapes (quotes, backslashes, bytes below
///   0x20, NUL included); bytes from 0x80 up are copied as they are.
///
/// Decoding accepts what the encoder writes, and refuses anything else with a StorageError that
/// names the study, the event's seq and the column, quoting input through detail::excerpt.

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/direction.hpp"
#include "hpt/core/format.hpp"
#include "hpt/core/input_excerpt.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/core/value.hpp"
#include "hpt/study/events.hpp"
#include "hpt/study/storage.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt::detail {

/// @brief One SQLite value as a column of a row holds it.
struct SqliteValue {
  enum class Type { null, integer, real, text, blob };
  Type type = Type::null;
  std::int64_t integer = 0;
  double real = 0;
  std::string bytes{};  ///< The text or the blob.

  void set_null() noexcept {
    type = Type::null;
    bytes.clear();
  }
  void set_integer(std::int64_t value) noexcept {
    set_null();
    type = Type::integer;
    integer = value;
  }
  void set_real(double value) noexcept {
    set_null();
    type = Type::real;
    real = value;
  }
  void set_text(std::string_view value) {
    type = Type::text;
    bytes.assign(value.data(), value.size());
  }
  void set_blob(std::string_view value) {
    type = Type::blob;
    bytes.assign(value.data(), value.size());
  }

  /// @brief Same type and same value, reals compared bit for bit.
  friend bool operator==(const SqliteValue& a, const SqliteValue& b) noexcept {
    if (a.type != b.type) return false;
    switch (a.type) {
      case Type::null:
        return true;
      case Type::integer:
        return a.integer == b.integer;
      case Type::real:
        return std::bit_cast<std::uint64_t>(a.real) == std::bit_cast<std::uint64_t>(b.real);
      case Type::text:
      case Type::blob:
        return a.bytes == b.bytes;
    }
    return false;
  }
};

/// @brief The columns of the `events` table after `study`, in the order of the table.
enum class EventColumn : std::size_t {
  seq,
  kind,
  trial,
  bracket,
  rung,
  resource,
  last_rung,
  restart,
  step,
  objective,
  objective_bits,
  metrics,
  config,
  status,
  failure,
  reason,
  stopped_by,
  wall_seconds,
  wall_seconds_bits,
  steps_run,
  started,
  saved,
  session,
};
inline constexpr std::size_t event_column_count = 23;
/// The columns' names, as in the table.
inline constexpr std::array<std::string_view, event_column_count> event_column_names{
    "seq",
    "kind",
    "trial",
    "bracket",
    "rung",
    "resource",
    "last_rung",
    "restart",
    "step",
    "objective",
    "objective_bits",
    "metrics",
    "config",
    "status",
    "failure",
    "reason",
    "stopped_by",
    "wall_seconds",
    "wall_seconds_bits",
    "steps_run",
    "started",
    "saved",
    "session"};
/// One row of `events` without its `study`.
using EventRow = std::array<SqliteValue, event_column_count>;

inline constexpr std::string_view event_kind_labels[] = {
    "trial_created", "job_started",    "step",         "job_ended",
    "trial_pruned",  "study_finished", "job_abandoned"};

inline std::string_view column_name(EventColumn column) noexcept {
  return event_column_names[static_cast<std::size_t>(column)];
}

// ---- Labels -------------------------------------------------------------------------------

/// @brief The status whose to_string is `label`, if any.
inline std::optional<TrialStatus> trial_status_of_label(std::string_view label) noexcept {
  for (auto status : {TrialStatus::pending, TrialStatus::running, TrialStatus::paused,
                      TrialStatus::completed, TrialStatus::stopped, TrialStatus::pruned,
                      TrialStatus::failed, TrialStatus::diverged, TrialStatus::interrupted})
    if (to_string(status) == label) return status;
  return std::nullopt;
}

/// @brief The failure stage whose to_string is `label`, if any.
inline std::optional<FailureStage> failure_stage_of_label(std::string_view label) noexcept {
  for (auto stage : {FailureStage::none, FailureStage::construct, FailureStage::step,
                     FailureStage::save, FailureStage::restore, FailureStage::policy})
    if (to_string(stage) == label) return stage;
  return std::nullopt;
}

/// @brief A uint64 in decimal (how the `studies` table keeps a seed: SQLite's integers are
/// signed); nullopt unless `text` is digits without a sign or a leading zero, within 64 bits.
inline std::optional<std::uint64_t> parse_decimal_uint64(std::string_view text) noexcept {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---- Doubles ------------------------------------------------------------------------------

/// @brief True for the doubles a REAL column cannot hold exactly: NaN (stored as NULL) and -0.0
/// (stored as 0).
inline bool needs_bits_column(double value) noexcept {
  return std::isnan(value) || (value == 0 && std::signbit(value));
}

/// @brief The text of a real for {"real": ...}: "inf", "-inf", "nan" or "nan:<16 hex digits>".
inline std::string non_finite_label(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  const auto bits = std::bit_cast<std::uint64_t>(value);
  if (bits == std::bit_cast<std::uint64_t>(std::numeric_limits<double>::quiet_NaN())) return "nan";
  constexpr const char* hex = "0123456789abcdef";
  std::string label = "nan:";
  for (int shift = 60; shift >= 0; shift -= 4) label += hex[(bits >> shift) & 0xF];
  return label;
}

/// @brief The double a non_finite_label stands for, or nullopt.
inline std::optional<double> parse_non_finite_label(std::string_view label) noexcept {
  if (label == "inf") return std::numeric_limits<double>::infinity();
  if (label == "-inf") return -std::numeric_limits<double>::infinity();
  if (label == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (label.size() != 20 || label.substr(0, 4) != "nan:") return std::nullopt;
  std::uint64_t bits = 0;
  for (char c : label.substr(4)) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0) return std::nullopt;
    bits = bits << 4 | static_cast<std::uint64_t>(digit);
  }
  const double value = std::bit_cast<double>(bits);
  if (!std::isnan(value)) return std::nullopt;
  return value;
}

// ---- Flat JSON objects --------------------------------------------------------------------

/// @brief Appends `text` as a JSON string.
inline void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[static_cast<unsigned char>(c) >> 4];
          out += hex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

/// @brief Appends a real: the shortest text that reads back to it, always with '.' or an
/// exponent; {"real": ...} for NaN and infinities.
inline void append_json_real(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "{\"real\":\"";
    out += non_finite_label(value);
    out += "\"}";
    return;
  }
  out += format_real(value);
}

inline void append_json_value(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::boolean:
      out += std::get<bool>(value.variant()) ? "true" : "false";
      return;
    case Value::Kind::integer:
      out += std::to_string(std::get<std::int64_t>(value.variant()));
      return;
    case Value::Kind::real:
      append_json_real(out, std::get<double>(value.variant()));
      return;
    case Value::Kind::string:
      append_json_string(out, std::get<std::string>(value.variant()));
      return;
  }
}

/// @brief A configuration as a JSON object, its parameters in order.
inline void encode_config_json(const Config& config, std::string& out) {
  out.clear();
  out += '{';
  bool first = true;
  for (const auto& [name, value] : config) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_value(out, value);
  }
  out += '}';
}

/// @brief Metrics as a JSON object, in order (a name reported twice is written twice).
inline void encode_metrics_json(const std::vector<std::pair<std::string, double>>& values,
                                std::string& out) {
  out.clear();
  out += '{';
  bool first = true;
  for (const auto& [name, value] : values) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_real(out, value);
  }
  out += '}';
}

/// @brief A reader of one flat JSON object whose members are scalars (and {"real": ...}).
/// Errors are std::invalid_argument naming the byte offset; no recursion, no allocation beyond
/// the members read.
class FlatJsonReader {
 public:
  explicit FlatJsonReader(std::string_view text) noexcept : text_(text) {}

  /// @brief Calls on_member(std::string key, Value value) for each member, in order.
  template <class OnMember>
  void read_object(OnMember&& on_member) {
    skip_space();
    expect('{', "a JSON object");
    skip_space();
    if (peek() == '}') {
      ++at_;
    } else {
      for (;;) {
        skip_space();
        if (peek() != '"') fail("expected a member name in double quotes");
        std::string key = read_string();
        skip_space();
        expect(':', "':' after the member name");
        skip_space();
        const std::size_t value_at = at_;
        Value value = read_value();
        on_member(std::move(key), std::move(value), value_at);
        skip_space();
        if (peek() == ',') {
          ++at_;
          continue;
        }
        expect('}', "',' or '}'");
        break;
      }
    }
    skip_space();
    if (at_ != text_.size()) fail("text after the object");
  }

  [[noreturn]] void fail(const std::string& what) const { fail_at(at_, what); }
  [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
    std::string message = "at byte " + std::to_string(at) + ": " + what;
    if (at < text_.size()) message += " (at " + quote_input(text_.substr(at, 16)) + ")";
    throw std::invalid_argument(message);
  }

 private:
  [[nodiscard]] char peek() const noexcept { return at_ < text_.size() ? text_[at_] : '\0'; }
  [[nodiscard]] bool at_end() const noexcept { return at_ >= text_.size(); }

  void skip_space() noexcept {
    while (!at_end() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }

  void expect(char c, const char* what) {
    if (at_end() || text_[at_] != c)
      fail(std::string("expected ") + what + (at_end() ? ", got the end of the text" : ""));
    ++at_;
  }

  void expect_word(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) fail("not a JSON value");
    at_ += word.size();
  }

  unsigned read_hex4() {
    if (text_.size() - at_ < 4) fail("a \\u escape needs four hex digits");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_++];
      unsigned digit = 0;
      if (c >= '0' && c <= '9')
        digit = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        digit = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        digit = static_cast<unsigned>(c - 'A' + 10);
      else
        fail_at(at_ - 1, "a \\u escape needs four hex digits");
      code = code << 4 | digit;
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string read_string() {
    const std::size_t start = at_;
    expect('"', "a string");
    std::string out;
    for (;;) {
      if (at_end()) fail_at(start, "a string that is never closed");
      const char c = text_[at_];
      if (c == '"') {
        ++at_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        ++at_;
        continue;
      }
      ++at_;
      if (at_end()) fail_at(start, "a string that is never closed");
      const char escape = text_[at_++];
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          out += escape;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const std::size_t escape_at = at_ - 2;
          unsigned code = read_hex4();
          if (code >= 0xDC00 && code <= 0xDFFF) fail_at(escape_at, "a lone low surrogate");
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (text_.substr(at_, 2) != "\\u") fail_at(escape_at, "a lone high surrogate");
            at_ += 2;
            const unsigned low = read_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail_at(escape_at, "a lone high surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default:
          fail_at(at_ - 2, "an unknown escape in a string");
      }
    }
  }

  Value read_number() {
    const std::size_t start = at_;
    bool integral = true;
    if (peek() == '-') ++at_;
    const auto digits = [&] {
      const std::size_t first = at_;
      while (!at_end() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      return at_ - first;
    };
    if (peek() == '0') {
      ++at_;
    } else if (digits() == 0) {
      fail_at(start, "not a JSON value");
    }
    if (peek() == '.') {
      integral = false;
      ++at_;
      if (digits() == 0) fail("a '.' must be followed by digits");
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++at_;
      if (peek() == '+' || peek() == '-') ++at_;
      if (digits() == 0) fail("an exponent needs digits");
    }
    const std::string_view token = text_.substr(start, at_ - start);
    const char* first = token.data();
    const char* last = first + token.size();
    if (integral) {
      std::int64_t integer = 0;
      const auto [end, error] = std::from_chars(first, last, integer);
      if (error != std::errc{} || end != last)
        fail_at(start, "the integer " + quote_input(token) + " does not fit in 64 bits");
      return Value(integer);
    }
    double real = 0;
    const auto [end, error] = std::from_chars(first, last, real);
    if (error != std::errc{} || end != last || !std::isfinite(real))
      fail_at(start, "the number " + quote_input(token) + " is out of the range of a double");
    return Value(real);
  }

  Value read_value() {
    const char c = peek();
    if (c == '"') return Value(read_string());
    if (c == 't') {
      expect_word("true");
      return Value(true);
    }
    if (c == 'f') {
      expect_word("false");
      return Value(false);
    }
    if (c == 'n') {
      expect_word("null");
      fail_at(at_ - 4, "null is not a value here");
    }
    if (c == '[') fail("an array is not a value here");
    if (c == '{') {
      const std::size_t start = at_;
      ++at_;
      skip_space();
      if (peek() == '"' && read_string() == "real") {
        skip_space();
        if (peek() == ':') {
          ++at_;
          skip_space();
          if (peek() == '"') {
            const std::string label = read_string();
            skip_space();
            if (peek() == '}') {
              if (const auto real = parse_non_finite_label(label)) {
                ++at_;
                return Value(*real);
              }
            }
          }
        }
      }
      fail_at(start,
              "an object is a value only as {\"real\": \"inf\"}, \"-inf\", \"nan\" or "
              "\"nan:<16 hex digits>\"");
    }
    if (c == '-' || (c >= '0' && c <= '9')) return read_number();
    if (at_end()) fail("expected a value, got the end of the text");
    fail("not a JSON value");
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

/// @brief A configuration from encode_config_json's text. Throws std::invalid_argument naming
/// the byte, or the parameter set twice.
inline Config decode_config_json(std::string_view text) {
  Config config;
  FlatJsonReader reader(text);
  reader.read_object([&](std::string key, Value value, std::size_t at) {
    if (config.contains(key)) reader.fail_at(at, "parameter " + quote_input(key) + " is set twice");
    config.set(std::move(key), std::move(value));
  });
  return config;
}

/// @brief Metrics from encode_metrics_json's text: every member a number. Throws
/// std::invalid_argument naming the byte.
inline std::vector<std::pair<std::string, double>> decode_metrics_json(std::string_view text) {
  std::vector<std::pair<std::string, double>> values;
  FlatJsonReader reader(text);
  reader.read_object([&](std::string key, Value value, std::size_t at) {
    if (!value.is_number())
      reader.fail_at(at, "metric " + quote_input(key) + " holds " + excerpt(value.describe()) +
                             ", not a number");
    values.emplace_back(std::move(key), value.number());
  });
  return values;
}

// ---- Event rows ---------------------------------------------------------------------------

/// @brief The columns each kind fills (all others are NULL), by event index.
inline constexpr std::array<std::uint32_t, 7> event_kind_columns = [] {
  const auto bit = [](EventColumn column) {
    return std::uint32_t{1} << static_cast<std::size_t>(column);
  };
  using C = EventColumn;
  const std::uint32_t always = bit(C::seq) | bit(C::kind);
  return std::array<std::uint32_t, 7>{
      always | bit(C::trial) | bit(C::bracket) | bit(C::config),
      always | bit(C::trial) | bit(C::bracket) | bit(C::rung) | bit(C::resource) |
          bit(C::last_rung) | bit(C::restart) | bit(C::session),
      always | bit(C::trial) | bit(C::step) | bit(C::objective) | bit(C::objective_bits) |
          bit(C::metrics),
      always | bit(C::trial) | bit(C::status) | bit(C::failure) | bit(C::reason) |
          bit(C::stopped_by) | bit(C::wall_seconds) | bit(C::wall_seconds_bits) |
          bit(C::steps_run) | bit(C::started) | bit(C::saved),
      always | bit(C::trial) | bit(C::rung) | bit(C::reason),
      always,
      always | bit(C::trial) | bit(C::session) | bit(C::reason),
  };
}();

/// @brief Writes `event` (the `seq`-th of its study) into `row`. Throws StorageError, prefixed by
/// `context`, for a value the table cannot hold as the decoder reads it (a negative bracket, rung,
/// resource, step or step count, a trial beyond int64): nothing of such an append is stored.
inline void encode_event_row(const StudyEvent& event, std::int64_t seq, EventRow& row,
                             std::string_view context) {
  for (auto& cell : row) cell.set_null();
  const auto cell = [&](EventColumn column) -> SqliteValue& {
    return row[static_cast<std::size_t>(column)];
  };
  const auto refuse = [&](EventColumn column, const std::string& what) {
    throw StorageError(std::string(context) + ": cannot store event seq " + std::to_string(seq) +
                       " (" + std::string(event_kind(event)) + "), column \"" +
                       std::string(column_name(column)) + "\": " + what);
  };
  const auto non_negative = [&](EventColumn column, std::int64_t value) {
    if (value < 0) refuse(column, std::to_string(value) + " is negative");
    cell(column).set_integer(value);
  };
  const auto trial = [&](std::size_t value) {
    if (!std::in_range<std::int64_t>(value))
      refuse(EventColumn::trial, std::to_string(value) + " is beyond 64-bit signed integers");
    cell(EventColumn::trial).set_integer(static_cast<std::int64_t>(value));
  };
  const auto flag = [&](EventColumn column, bool value) {
    cell(column).set_integer(value ? 1 : 0);
  };
  const auto session = [&](std::uint64_t value) {
    if (!std::in_range<std::int64_t>(value))
      refuse(EventColumn::session, std::to_string(value) + " is beyond 64-bit signed integers");
    cell(EventColumn::session).set_integer(static_cast<std::int64_t>(value));
  };
  const auto real = [&](EventColumn column, EventColumn bits, double value) {
    if (std::isnan(value))
      cell(column).set_null();
    else
      cell(column).set_real(value);
    if (needs_bits_column(value)) cell(bits).set_integer(std::bit_cast<std::int64_t>(value));
  };
  cell(EventColumn::seq).set_integer(seq);
  cell(EventColumn::kind).set_text(event_kind(event));
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        using C = EventColumn;
        if constexpr (std::is_same_v<E, TrialCreated>) {
          trial(e.trial);
          non_negative(C::bracket, e.bracket);
          auto& config = cell(C::config);
          config.type = SqliteValue::Type::text;
          encode_config_json(e.config, config.bytes);
        } else if constexpr (std::is_same_v<E, JobStarted>) {
          trial(e.job.trial);
          non_negative(C::bracket, e.job.bracket);
          non_negative(C::rung, e.job.rung);
          non_negative(C::resource, e.job.resource);
          flag(C::last_rung, e.job.last_rung);
          flag(C::restart, e.restart);
          session(e.session);
        } else if constexpr (std::is_same_v<E, StepRecorded>) {
          trial(e.trial);
          non_negative(C::step, e.point.step);
          real(C::objective, C::objective_bits, e.point.objective);
          auto& metrics = cell(C::metrics);
          metrics.type = SqliteValue::Type::text;
          encode_metrics_json(e.point.values, metrics.bytes);
        } else if constexpr (std::is_same_v<E, JobEnded>) {
          trial(e.trial);
          cell(C::status).set_text(to_string(e.status));
          cell(C::failure).set_text(to_string(e.failure));
          cell(C::reason).set_text(e.reason);
          cell(C::stopped_by).set_text(e.stopped_by);
          real(C::wall_seconds, C::wall_seconds_bits, e.wall_seconds);
          non_negative(C::steps_run, e.steps_run);
          flag(C::started, e.started);
          flag(C::saved, e.saved);
        } else if constexpr (std::is_same_v<E, TrialPruned>) {
          trial(e.trial);
          non_negative(C::rung, e.rung);
          cell(C::reason).set_text(e.reason);
        } else if constexpr (std::is_same_v<E, JobAbandoned>) {
          trial(e.trial);
          session(e.session);
          cell(C::reason).set_text(e.reason);
        }
      },
      event);
}

/// @brief Reads typed values out of one row, every refusal naming the seq and the column.
class EventRowReader {
 public:
  EventRowReader(const EventRow& row, std::int64_t seq, std::string_view context) noexcept
      : row_(row), seq_(seq), context_(context) {}

  void set_kind(std::string_view kind) noexcept { kind_ = kind; }

  [[nodiscard]] const SqliteValue& cell(EventColumn column) const noexcept {
    return row_[static_cast<std::size_t>(column)];
  }

  [[noreturn]] void fail(EventColumn column, const std::string& what) const {
    std::string message = std::string(context_) + ", event seq " + std::to_string(seq_);
    if (!kind_.empty()) message += " (" + std::string(kind_) + ")";
    message += ", column \"" + std::string(column_name(column)) + "\": " + what;
    throw StorageError(message);
  }

  /// @brief E.g. `NULL`, `the integer 7`, `the text "abc"`, `a blob of 3 bytes`.
  [[nodiscard]] static std::string describe(const SqliteValue& value) {
    switch (value.type) {
      case SqliteValue::Type::null:
        return "NULL";
      case SqliteValue::Type::integer:
        return "the integer " + std::to_string(value.integer);
      case SqliteValue::Type::real:
        return "the real " + format_real(value.real);
      case SqliteValue::Type::text:
        return "the text " + quote_input(value.bytes);
      case SqliteValue::Type::blob:
        return "a blob of " + std::to_string(value.bytes.size()) + " bytes";
    }
    return "an unknown value";
  }

  [[nodiscard]] std::int64_t integer(EventColumn column, std::int64_t low,
                                     std::int64_t high) const {
    const SqliteValue& value = cell(column);
    if (value.type != SqliteValue::Type::integer)
      fail(column, "expected an integer, got " + describe(value));
    if (value.integer < low || value.integer > high)
      fail(column, std::to_string(value.integer) + " is out of range (an integer from " +
                       std::to_string(low) + " to " + std::to_string(high) + ")");
    return value.integer;
  }

  template <class T>
  [[nodiscard]] T non_negative(EventColumn column) const {
    constexpr std::int64_t high = std::in_range<std::int64_t>(std::numeric_limits<T>::max())
                                      ? static_cast<std::int64_t>(std::numeric_limits<T>::max())
                                      : std::numeric_limits<std::int64_t>::max();
    return static_cast<T>(integer(column, 0, high));
  }

  [[nodiscard]] std::size_t trial() const {
    constexpr std::int64_t high =
        std::in_range<std::int64_t>(std::numeric_limits<std::size_t>::max())
            ? static_cast<std::int64_t>(std::numeric_limits<std::size_t>::max())
            : std::numeric_limits<std::int64_t>::max();
    return static_cast<std::size_t>(integer(EventColumn::trial, 0, high));
  }

  [[nodiscard]] bool flag(EventColumn column) const { return integer(column, 0, 1) == 1; }

  [[nodiscard]] const std::string& text(EventColumn column) const {
    const SqliteValue& value = cell(column);
    if (value.type != SqliteValue::Type::text)
      fail(column, "expected text, got " + describe(value));
    return value.bytes;
  }

  /// @brief A double from its REAL column and its `_bits` companion (see the file comment).
  [[nodiscard]] double real(EventColumn column, EventColumn bits_column) const {
    const SqliteValue& value = cell(column);
    const SqliteValue& bits = cell(bits_column);
    if (bits.type == SqliteValue::Type::null) {
      if (value.type != SqliteValue::Type::real)
        fail(column, "expected a real number, got " + describe(value) + " (and " +
                         std::string(column_name(bits_column)) + " is NULL)");
      return value.real;
    }
    if (bits.type != SqliteValue::Type::integer)
      fail(bits_column, "expected NULL or an integer, got " + describe(bits));
    const double exact = std::bit_cast<double>(bits.integer);
    if (!needs_bits_column(exact))
      fail(bits_column, "holds the bits of " + format_real(exact) +
                            ", which needs none (only NaN and -0.0 have bits)");
    if (std::isnan(exact)) {
      if (value.type != SqliteValue::Type::null)
        fail(column, "expected NULL (" + std::string(column_name(bits_column)) +
                         " holds a NaN), got " + describe(value));
    } else if (value.type != SqliteValue::Type::real || value.real != 0) {
      fail(column, "expected 0.0 (" + std::string(column_name(bits_column)) + " holds -0.0), got " +
                       describe(value));
    }
    return exact;
  }

 private:
  const EventRow& row_;
  std::int64_t seq_;
  std::string_view context_;
  std::string_view kind_{};
};

/// @brief The event in `row`, which must be the `seq`-th of its study. Throws StorageError
/// "<context>, event seq N (kind), column "c": what" for anything encode_event_row does not
/// write: a NULL where a value is required or a value where NULL is, a wrong type, an unknown
/// kind, status or failure label, a value out of its range, malformed JSON, another seq.
inline StudyEvent decode_event_row(const EventRow& row, std::int64_t seq,
                                   std::string_view context) {
  EventRowReader read(row, seq, context);
  using C = EventColumn;
  const SqliteValue& stored_seq = read.cell(C::seq);
  if (stored_seq.type != SqliteValue::Type::integer)
    read.fail(C::seq, "expected an integer, got " + EventRowReader::describe(stored_seq));
  if (stored_seq.integer != seq)
    read.fail(C::seq, "holds " + std::to_string(stored_seq.integer) + " where seq " +
                          std::to_string(seq) + " comes next (the log has a gap)");
  const std::string& kind = read.text(C::kind);
  std::size_t index = 0;
  while (index < std::size(event_kind_labels) && event_kind_labels[index] != kind) ++index;
  if (index == std::size(event_kind_labels))
    read.fail(C::kind, "unknown event kind " + quote_input(kind));
  read.set_kind(event_kind_labels[index]);
  for (std::size_t column = 0; column < event_column_count; ++column)
    if (!(event_kind_columns[index] >> column & 1) && row[column].type != SqliteValue::Type::null)
      read.fail(static_cast<C>(column),
                "expected NULL for this kind, got " + EventRowReader::describe(row[column]));
  const auto json = [&](C column, auto decode) {
    try {
      return decode(read.text(column));
    } catch (const std::invalid_argument& error) {
      read.fail(column, std::string("malformed JSON: ") + error.what());
    }
  };
  switch (index) {
    case 0:
      return TrialCreated{.trial = read.trial(),
                          .bracket = read.non_negative<int>(C::bracket),
                          .config = json(C::config, [](const std::string& text) {
                            return decode_config_json(text);
                          })};
    case 1:
      return JobStarted{.job = {.trial = read.trial(),
                                .resource = read.non_negative<std::int64_t>(C::resource),
                                .bracket = read.non_negative<int>(C::bracket),
                                .rung = read.non_negative<int>(C::rung),
                                .last_rung = read.flag(C::last_rung)},
                        .restart = read.flag(C::restart),
                        .session = read.non_negative<std::uint64_t>(C::session)};
    case 2:
      return StepRecorded{.trial = read.trial(),
                          .point = {.step = read.non_negative<std::int64_t>(C::step),
                                    .objective = read.real(C::objective, C::objective_bits),
                                    .values = json(C::metrics, [](const std::string& text) {
                                      return decode_metrics_json(text);
                                    })}};
    case 3: {
      JobEnded ended;
      ended.trial = read.trial();
      const auto status = trial_status_of_label(read.text(C::status));
      if (!status)
        read.fail(C::status, "unknown trial status " + quote_input(read.text(C::status)));
      ended.status = *status;
      ended.reason = read.text(C::reason);
      ended.stopped_by = read.text(C::stopped_by);
      const auto failure = failure_stage_of_label(read.text(C::failure));
      if (!failure)
        read.fail(C::failure, "unknown failure stage " + quote_input(read.text(C::failure)));
      ended.failure = *failure;
      ended.wall_seconds = read.real(C::wall_seconds, C::wall_seconds_bits);
      ended.steps_run = read.non_negative<std::int64_t>(C::steps_run);
      ended.started = read.flag(C::started);
      ended.saved = read.flag(C::saved);
      return ended;
    }
    case 4:
      return TrialPruned{.trial = read.trial(),
                         .rung = read.non_negative<int>(C::rung),
                         .reason = read.text(C::reason)};
    case 6:
      return JobAbandoned{.trial = read.trial(),
                          .session = read.non_negative<std::uint64_t>(C::session),
                          .reason = read.text(C::reason)};
    default:
      return StudyFinished{};
  }
}

}  // namespace hpt::detail
