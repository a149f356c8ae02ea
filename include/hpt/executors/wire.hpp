#pragma once
/// @file wire.hpp
/// @brief The binary messages between an MPI run's coordinator (rank 0) and its workers: jobs
/// with their configurations and checkpoints, steps, verdicts and job ends, in a compact,
/// versioned encoding that refuses anything malformed with a WireError saying where and why.
///
/// A message is `magic | version | kind | body`: the bytes 'h' 'p' 'w', the wire version as a
/// varint (`wire::version`, 1), one byte naming the message kind (Kind), then the message's fields
/// in declaration order, and nothing after them. Fields are written as follows:
/// - counts, sizes, ids and other unsigned integers: unsigned LEB128 varints (7 bits a byte, low
///   bits first, the high bit set on every byte but the last): at most 10 bytes, the shortest
///   encoding only (a last byte of 0 after the first is refused), within the field's type;
/// - signed integers: zigzag varints (0, -1, 1, -2, ... as 0, 1, 2, 3, ...), within the type;
/// - doubles: their IEEE 754 bit pattern as 8 bytes, little-endian (NaN payloads, -0.0 and the
///   infinities travel bit for bit); the study fingerprint likewise as 8 bytes, little-endian;
/// - booleans and enums: one byte, 0 or 1 for a boolean, the enumerator's value for an enum;
/// - strings: their length as a varint, then their bytes (any bytes, NULs included);
/// - optional strings: a boolean (present or not), then the string if present;
/// - vectors and configurations: the element count as a varint, then the elements;
/// - a Value: its kind (Value::Kind as a byte), then the boolean, zigzag integer, double or string.
///
/// The encoding has one form per message, so `encode(decode(bytes)) == bytes` for every message
/// decode() accepts (the fuzz target fuzz/wire_message.cpp checks it). decode() refuses, with a
/// WireError naming the message kind, the field, its byte offset (from 0, the magic's first byte)
/// and the offending value: another magic, another wire version, an unknown kind, a message cut
/// short, bytes after its end, an overlong or overflowing varint, a value outside its field's
/// type or enum, a boolean byte other than 0 and 1, and a configuration that names a parameter
/// twice. A length or count is checked against the bytes left before anything is allocated for
/// it, so memory stays within a small multiple of the message's size whatever it claims. Input
/// is quoted through hpt::detail::excerpt, so messages stay short and printable.
///
/// Buffers are std::string: the strings a message carries (configurations' names, checkpoints,
/// reasons) are std::string already, so encoding copies them with one append and decoding makes
/// them from a std::string_view of the buffer; MPI sends `data()` and `size()` of either. Encode
/// into a buffer kept across messages (`encode(message, buffer)`) and a steady stream of messages
/// allocates nothing but the decoded strings and vectors.

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/direction.hpp"
#include "hpt/core/input_excerpt.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/core/value.hpp"
#include "hpt/core/version.hpp"
#include "hpt/engine/trial_runner.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt::wire {

/// @brief The version of the encoding this hpt writes and the only one it reads. Ranks of one run
/// must run the same hpt: a change to any message's fields makes a new version.
inline constexpr std::uint64_t version = 1;

/// @brief The first three bytes of every message.
inline constexpr std::string_view magic = "hpw";

/// @brief The most bytes a varint takes (64 bits, 7 a byte).
inline constexpr std::size_t max_varint_bytes = 10;

/// @brief Every refusal of a message, and a peer that runs another hpt or another study.
class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief The kinds of message, as the byte after the version holds them.
enum class Kind : std::uint8_t {
  // coordinator -> worker
  hello = 1,
  run_batch,
  ruling,
  stop_requested,
  shutdown,  // and back: the closing handshake
  // worker -> coordinator
  hello_reply,
  steps_done,
  judge_step,
  job_finished,
  worker_free,
  worker_failed,
};

/// @brief The number of kinds: a kind byte is from 1 to kind_count.
inline constexpr std::uint8_t kind_count = 11;

/// @brief E.g. "run_batch"; "unknown" for a value that is not a kind.
constexpr std::string_view kind_name(Kind kind) noexcept {
  constexpr std::array<std::string_view, kind_count> names{
      "hello",      "run_batch",  "ruling",       "stop_requested", "shutdown",     "hello_reply",
      "steps_done", "judge_step", "job_finished", "worker_free",    "worker_failed"};
  const auto index = static_cast<std::size_t>(kind);
  return index >= 1 && index <= kind_count ? names[index - 1] : std::string_view("unknown");
}

// ---------------------------------------------------------------------------------------------
// Primitives

/// @brief Appends fields to a std::string (see the file comment for their encoding).
class Writer {
 public:
  explicit Writer(std::string& out) noexcept : out_(&out) {}

  void byte(std::uint8_t value) { out_->push_back(static_cast<char>(value)); }
  void varint(std::uint64_t value) {
    std::array<char, max_varint_bytes> buffer{};
    std::size_t size = 0;
    while (value >= 0x80) {
      buffer[size++] = static_cast<char>((value & 0x7F) | 0x80);
      value >>= 7;
    }
    buffer[size++] = static_cast<char>(value);
    out_->append(buffer.data(), size);
  }
  void zigzag(std::int64_t value) {
    varint((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void fixed64(std::uint64_t value) {
    std::array<char, 8> buffer{};
    for (std::size_t i = 0; i < 8; ++i) buffer[i] = static_cast<char>(value >> (8 * i));
    out_->append(buffer.data(), buffer.size());
  }
  void real(double value) { fixed64(std::bit_cast<std::uint64_t>(value)); }
  void boolean(bool value) { byte(value ? 1 : 0); }
  template <class E>
  requires std::is_enum_v<E>
  void enumeration(E value) { byte(static_cast<std::uint8_t>(value)); }
  void text(std::string_view value) {
    varint(value.size());
    out_->append(value.data(), value.size());
  }
  void optional_text(const std::optional<std::string>& value) {
    boolean(value.has_value());
    if (value) text(*value);
  }

 private:
  std::string* out_;
};

/// @brief Reads fields from a message with bounds-checked reads; every refusal is a WireError
/// naming the message kind, the field's path (e.g. `jobs[2].replay[0].objective`), its byte
/// offset and the offending value.
class Reader {
 public:
  /// @param kind The message kind being decoded, for errors; empty while reading the envelope.
  explicit Reader(std::string_view bytes, std::string_view kind = {}) noexcept
      : bytes_(bytes), kind_(kind) {}

  [[nodiscard]] std::size_t offset() const noexcept { return position_; }
  [[nodiscard]] std::size_t left() const noexcept { return bytes_.size() - position_; }
  void set_kind(std::string_view kind) noexcept { kind_ = kind; }

  /// @brief While it lives, fields are named inside `name` (and `name[i]` after index(i)).
  class Nested {
   public:
    Nested(Reader& reader, const char* name) noexcept : reader_(reader) {
      if (reader_.depth_ < max_depth) reader_.frames_[reader_.depth_] = {name, no_index};
      ++reader_.depth_;
    }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;
    ~Nested() { --reader_.depth_; }
    void index(std::size_t index) noexcept {
      if (reader_.depth_ <= max_depth) reader_.frames_[reader_.depth_ - 1].index = index;
    }

   private:
    Reader& reader_;
  };
  [[nodiscard]] Nested enter(const char* name) noexcept { return Nested(*this, name); }

  std::uint8_t byte(const char* field) {
    need(field, 1);
    return static_cast<std::uint8_t>(bytes_[position_++]);
  }

  std::uint64_t varint(const char* field) {
    const std::size_t start = position_;
    std::uint64_t value = 0;
    for (std::size_t i = 0;; ++i) {
      if (position_ == bytes_.size())
        fail(field, start,
             i == 0 ? "the message ends here: a varint needs at least 1 byte, 0 are left"
                    : "the message ends inside the varint " + hex(start, position_));
      const auto byte = static_cast<std::uint8_t>(bytes_[position_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
      if (i + 1 == max_varint_bytes) {
        if (byte & 0x80)
          fail(field, start, hex(start, position_) + " is a varint of more than 10 bytes");
        if (byte > 1)
          fail(field, start, "the varint " + hex(start, position_) + " overflows 64 bits");
      }
      if (!(byte & 0x80)) {
        if (byte == 0 && i > 0)
          fail(field, start,
               "the varint " + hex(start, position_) +
                   " is overlong (its last byte is 0: not the shortest encoding of " +
                   std::to_string(value) + ")");
        return value;
      }
    }
  }

  /// @brief A varint within T.
  template <std::unsigned_integral T>
  T unsigned_integer(const char* field) {
    const std::size_t start = position_;
    const std::uint64_t value = varint(field);
    if (!std::in_range<T>(value))
      fail(field, start,
           std::to_string(value) + " is out of range (0.." +
               std::to_string(std::numeric_limits<T>::max()) + ")");
    return static_cast<T>(value);
  }

  /// @brief A zigzag varint within T.
  template <std::signed_integral T>
  T signed_integer(const char* field) {
    const std::size_t start = position_;
    const std::uint64_t bits = varint(field);
    const auto value = static_cast<std::int64_t>((bits >> 1) ^ (~(bits & 1) + 1));
    if (!std::in_range<T>(value))
      fail(field, start,
           std::to_string(value) + " is out of range (" +
               std::to_string(std::numeric_limits<T>::min()) + ".." +
               std::to_string(std::numeric_limits<T>::max()) + ")");
    return static_cast<T>(value);
  }

  std::uint64_t fixed64(const char* field) {
    need(field, 8);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i)
      value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes_[position_ + i]))
               << (8 * i);
    position_ += 8;
    return value;
  }

  double real(const char* field) { return std::bit_cast<double>(fixed64(field)); }

  bool boolean(const char* field) {
    const std::size_t start = position_;
    const std::uint8_t value = byte(field);
    if (value > 1) fail(field, start, std::to_string(value) + " is not a boolean (0 or 1)");
    return value == 1;
  }

  /// @brief One byte holding an enumerator of E from 0 to count - 1; `what` names E in errors
  /// ("a trial status").
  template <class E>
  requires std::is_enum_v<E> E enumeration(const char* field, std::size_t count,
                                           std::string_view what) {
    const std::size_t start = position_;
    const std::uint8_t value = byte(field);
    if (value >= count)
      fail(field, start,
           std::to_string(value) + " is not " + std::string(what) + " (0.." +
               std::to_string(count - 1) + ")");
    return static_cast<E>(value);
  }

  /// @brief A length, checked against the bytes left, then that many bytes.
  std::string_view text_view(const char* field) {
    const std::size_t start = position_;
    const std::uint64_t size = varint(field);
    if (size > left())
      fail(field, start,
           "a string of " + std::to_string(size) + " bytes, but " + std::to_string(left()) +
               (left() == 1 ? " byte is" : " bytes are") + " left");
    const std::string_view view = bytes_.substr(position_, static_cast<std::size_t>(size));
    position_ += view.size();
    return view;
  }
  std::string text(const char* field) { return std::string(text_view(field)); }

  std::optional<std::string> optional_text(const char* field) {
    if (!boolean(field)) return std::nullopt;
    return text(field);
  }

  /// @brief An element count, refused when the bytes left cannot hold that many elements of at
  /// least `element_bytes` bytes each (so nothing is allocated for a count the message cannot
  /// back).
  std::size_t count(const char* field, std::size_t element_bytes) {
    const std::size_t start = position_;
    const auto value = unsigned_integer<std::size_t>(field);
    if (value > left() / element_bytes)
      fail(field, start,
           "a count of " + std::to_string(value) + " elements of at least " +
               std::to_string(element_bytes) + (element_bytes == 1 ? " byte" : " bytes") +
               " each, but " + std::to_string(left()) + (left() == 1 ? " byte is" : " bytes are") +
               " left");
    return value;
  }

  /// @brief Refuses bytes after the end of the message.
  void finish() const {
    if (left() == 0) return;
    throw WireError(prefix() + std::to_string(left()) + (left() == 1 ? " byte" : " bytes") +
                    " after the end of the message at byte " + std::to_string(position_) +
                    ", starting " + hex(position_, position_ + std::min<std::size_t>(left(), 8)) +
                    (left() > 8 ? " ..." : ""));
  }

  /// @brief Throws the WireError for `field` (in the current nesting) at byte `at`.
  [[noreturn]] void fail(const char* field, std::size_t at, std::string_view what) const {
    std::string message = prefix();
    message += "field \"";
    message += path(field);
    message += "\" at byte ";
    message += std::to_string(at);
    message += ": ";
    message += what;
    throw WireError(message);
  }

 private:
  static constexpr std::size_t max_depth = 4;
  static constexpr std::size_t no_index = std::numeric_limits<std::size_t>::max();
  struct Frame {
    const char* name = "";
    std::size_t index = no_index;
  };

  void need(const char* field, std::size_t size) const {
    if (left() < size)
      fail(field, position_,
           "the message ends here: " + std::to_string(size) + (size == 1 ? " byte" : " bytes") +
               " needed, " + std::to_string(left()) + " left");
  }

  [[nodiscard]] std::string prefix() const {
    return "hpt::wire: " +
           (kind_.empty() ? std::string("message envelope") : std::string(kind_) + " message") +
           ": ";
  }

  [[nodiscard]] std::string path(const char* field) const {
    std::string text;
    for (std::size_t i = 0; i < std::min(depth_, max_depth); ++i) {
      text += frames_[i].name;
      if (frames_[i].index != no_index) text += '[' + std::to_string(frames_[i].index) + ']';
      text += '.';
    }
    return text + field;
  }

  /// Bytes [from, to) of the message in hex, e.g. "0x80 0x80 0x00".
  [[nodiscard]] std::string hex(std::size_t from, std::size_t to) const {
    constexpr const char* digits = "0123456789abcdef";
    std::string text;
    for (std::size_t i = from; i < to; ++i) {
      const auto byte = static_cast<std::uint8_t>(bytes_[i]);
      if (i != from) text += ' ';
      text += "0x";
      text += digits[byte >> 4];
      text += digits[byte & 0xF];
    }
    return text;
  }

  std::string_view bytes_;
  std::string_view kind_;
  std::size_t position_ = 0;
  std::array<Frame, max_depth> frames_{};
  std::size_t depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The vocabulary: write(out, x) and read(in, name, x) for each type a message carries. `name` is
// the field's name in the enclosing message, for errors; nested fields are named inside it.

/// The fewest bytes one element of a vector takes, which bounds the count a message can back.
/// Value: kind + 1; configuration entry: name + Value; metric: name + double; Step: step +
/// objective + count; RunJob: Job (5) + configuration + steps_done + checkpoint flag + count +
/// catch_up. The tests check each bound against an encoded smallest element.
inline constexpr std::size_t min_value_bytes = 2;
inline constexpr std::size_t min_config_entry_bytes = 1 + min_value_bytes;
inline constexpr std::size_t min_metric_bytes = 1 + 8;
inline constexpr std::size_t min_step_bytes = 1 + 8 + 1;
inline constexpr std::size_t min_run_job_bytes = 5 + 1 + 1 + 1 + 1 + 1;

inline void write(Writer& out, const Value& value) {
  out.enumeration(value.kind());
  std::visit(
      [&](const auto& held) {
        using T = std::decay_t<decltype(held)>;
        if constexpr (std::same_as<T, bool>)
          out.boolean(held);
        else if constexpr (std::same_as<T, std::int64_t>)
          out.zigzag(held);
        else if constexpr (std::same_as<T, double>)
          out.real(held);
        else
          out.text(held);
      },
      value.variant());
}

/// Fields "kind" and "value" inside the caller's nesting (a Value is a configuration's entry).
inline void read_value(Reader& in, Value& value) {
  switch (in.enumeration<Value::Kind>("kind", 4, "a value kind (boolean, integer, real, string)")) {
    case Value::Kind::boolean:
      value = in.boolean("value");
      return;
    case Value::Kind::integer:
      value = in.signed_integer<std::int64_t>("value");
      return;
    case Value::Kind::real:
      value = in.real("value");
      return;
    case Value::Kind::string:
      value = in.text("value");
      return;
  }
}

inline void write(Writer& out, const Config& config) {
  out.varint(config.size());
  for (const auto& [name, value] : config) {
    out.text(name);
    write(out, value);
  }
}

/// Keeps the order; a name that appears twice is refused.
inline void read(Reader& in, const char* name, Config& config) {
  const std::size_t count = in.count(name, min_config_entry_bytes);
  Config result;
  result.reserve(count);
  auto nested = in.enter(name);
  for (std::size_t i = 0; i < count; ++i) {
    nested.index(i);
    const std::size_t at = in.offset();
    std::string key = in.text("name");
    if (result.contains(key)) in.fail("name", at, hpt::detail::quote_input(key) + " appears twice");
    Value value;
    read_value(in, value);
    result.set(std::move(key), std::move(value));
  }
  config = std::move(result);
}

/// Metrics::values and Step::values: named doubles, in order (a name may repeat).
using NamedValues = std::vector<std::pair<std::string, double>>;

inline void write(Writer& out, const NamedValues& values) {
  out.varint(values.size());
  for (const auto& [name, number] : values) {
    out.text(name);
    out.real(number);
  }
}

inline void read(Reader& in, const char* name, NamedValues& values) {
  const std::size_t count = in.count(name, min_metric_bytes);
  values.clear();
  values.reserve(count);
  auto nested = in.enter(name);
  for (std::size_t i = 0; i < count; ++i) {
    nested.index(i);
    std::string key = in.text("name");
    values.emplace_back(std::move(key), in.real("value"));
  }
}

inline void write(Writer& out, const Job& job) {
  out.varint(job.trial);
  out.zigzag(job.resource);
  out.zigzag(job.bracket);
  out.zigzag(job.rung);
  out.boolean(job.last_rung);
}

inline void read(Reader& in, const char* name, Job& job) {
  const auto nested = in.enter(name);
  job.trial = in.unsigned_integer<std::size_t>("trial");
  job.resource = in.signed_integer<std::int64_t>("resource");
  job.bracket = in.signed_integer<int>("bracket");
  job.rung = in.signed_integer<int>("rung");
  job.last_rung = in.boolean("last_rung");
}

inline void write(Writer& out, const Step& step) {
  out.zigzag(step.step);
  out.real(step.objective);
  write(out, step.values);
}

/// Fields inside the caller's nesting (a Step is an element of a vector).
inline void read_fields(Reader& in, Step& step) {
  step.step = in.signed_integer<std::int64_t>("step");
  step.objective = in.real("objective");
  read(in, "values", step.values);
}

inline void write(Writer& out, const std::vector<Step>& steps) {
  out.varint(steps.size());
  for (const Step& step : steps) write(out, step);
}

inline void read(Reader& in, const char* name, std::vector<Step>& steps) {
  const std::size_t count = in.count(name, min_step_bytes);
  steps.clear();
  steps.reserve(count);
  auto nested = in.enter(name);
  for (std::size_t i = 0; i < count; ++i) {
    nested.index(i);
    read_fields(in, steps.emplace_back());
  }
}

inline void write(Writer& out, const Metrics& metrics) {
  out.real(metrics.objective);
  write(out, metrics.values);
  out.boolean(metrics.done);
}

inline void read(Reader& in, const char* name, Metrics& metrics) {
  const auto nested = in.enter(name);
  metrics.objective = in.real("objective");
  read(in, "values", metrics.values);
  metrics.done = in.boolean("done");
}

inline void write(Writer& out, const Verdict& verdict) {
  out.enumeration(verdict.action);
  out.text(verdict.policy);
  out.text(verdict.reason);
}

inline void read(Reader& in, const char* name, Verdict& verdict) {
  const auto nested = in.enter(name);
  verdict.action =
      in.enumeration<Verdict::Action>("action", 4, "a verdict (proceed, stop, prune, diverge)");
  verdict.policy = in.text("policy");
  verdict.reason = in.text("reason");
}

// ---------------------------------------------------------------------------------------------
// Bit-for-bit equality, for the messages' operator==: doubles compare by bit pattern (a NaN equals
// the same NaN, -0.0 differs from 0.0), so two messages are equal when they encode alike.

namespace detail {

inline bool same(double a, double b) noexcept {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}
inline bool same(const Value& a, const Value& b) noexcept {
  if (a.is_real() && b.is_real())
    return same(std::get<double>(a.variant()), std::get<double>(b.variant()));
  return a == b;
}
inline bool same(const Config& a, const Config& b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a.entries()[i].first != b.entries()[i].first ||
        !same(a.entries()[i].second, b.entries()[i].second))
      return false;
  return true;
}
inline bool same(const NamedValues& a, const NamedValues& b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !same(a[i].second, b[i].second)) return false;
  return true;
}
inline bool same(const Job& a, const Job& b) noexcept {
  return a.trial == b.trial && a.resource == b.resource && a.bracket == b.bracket &&
         a.rung == b.rung && a.last_rung == b.last_rung;
}
inline bool same(const Step& a, const Step& b) noexcept {
  return a.step == b.step && same(a.objective, b.objective) && same(a.values, b.values);
}
inline bool same(const std::vector<Step>& a, const std::vector<Step>& b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}
inline bool same(const Metrics& a, const Metrics& b) noexcept {
  return same(a.objective, b.objective) && same(a.values, b.values) && a.done == b.done;
}
inline bool same(const Verdict& a, const Verdict& b) noexcept {
  return a.action == b.action && a.policy == b.policy && a.reason == b.reason;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Messages, coordinator -> worker

/// @brief The coordinator's first message to every worker: who it is and which study it runs.
struct Hello {
  static constexpr Kind kind = Kind::hello;
  std::uint64_t wire_version = version;
  std::string hpt_version{hpt::version};
  /// A hash of the study the coordinator runs (its space and strategy), which a worker compares
  /// with its own: a worker from another build or program is refused (check_hello).
  std::uint64_t fingerprint = 0;
  friend bool operator==(const Hello&, const Hello&) = default;
};

/// @brief One job for a worker, with what it needs to run it on any rank.
struct RunJob {
  Job job{};
  Config config{};
  std::int64_t steps_done = 0;  ///< The trial's steps before this job.
  /// A paused trial's checkpoint (its save()), when it has one: any bytes, possibly none.
  std::optional<std::string> checkpoint{};
  /// The steps already recorded for the trial, for the worker to rebuild the trial rule's state
  /// when the trial's state is not on that rank.
  std::vector<Step> replay{};
  bool catch_up = false;  ///< Retrain steps_done steps unreported before running (no checkpoint).
  friend bool operator==(const RunJob& a, const RunJob& b) noexcept {
    return detail::same(a.job, b.job) && detail::same(a.config, b.config) &&
           a.steps_done == b.steps_done && a.checkpoint == b.checkpoint &&
           detail::same(a.replay, b.replay) && a.catch_up == b.catch_up;
  }
};

/// @brief Jobs for one worker, run in order.
struct RunBatch {
  static constexpr Kind kind = Kind::run_batch;
  std::vector<RunJob> jobs{};
  /// Trials that ended on the coordinator (pruned at a rung, or when the study ended) whose
  /// trainables this worker still holds: freed before the jobs run.
  std::vector<std::size_t> release{};
  friend bool operator==(const RunBatch&, const RunBatch&) = default;
};

/// @brief The coordinator's answer to JudgeStep: a study rule's verdict, or what it threw.
struct Ruling {
  static constexpr Kind kind = Kind::ruling;
  Verdict verdict{};
  std::optional<std::string> error{};  ///< The rule threw: its message.
  bool standard_exception = false;     ///< What it threw was a std::exception (error is what()).
  friend bool operator==(const Ruling& a, const Ruling& b) noexcept {
    return detail::same(a.verdict, b.verdict) && a.error == b.error &&
           a.standard_exception == b.standard_exception;
  }
};

/// @brief The study is stopping: end the running job at its next step.
struct StopRequested {
  static constexpr Kind kind = Kind::stop_requested;
  friend bool operator==(const StopRequested&, const StopRequested&) = default;
};

/// @brief From the coordinator: no more work, the worker leaves; `reason` says why when the run
/// ends in an error (the worker then throws it), and is empty when the study is over. From a
/// worker, its answer (the closing handshake): nothing more comes from it.
struct Shutdown {
  static constexpr Kind kind = Kind::shutdown;
  std::string reason{};
  friend bool operator==(const Shutdown&, const Shutdown&) = default;
};

// Messages, worker -> coordinator

/// @brief A worker's answer to Hello.
struct HelloReply {
  static constexpr Kind kind = Kind::hello_reply;
  std::uint64_t wire_version = version;
  std::string hpt_version{hpt::version};
  std::uint64_t fingerprint = 0;  ///< The worker's own study fingerprint.
  int rank = 0;
  std::string host{};
  friend bool operator==(const HelloReply&, const HelloReply&) = default;
};

/// @brief Steps a trial has done (points of its learning curve, in order).
struct StepsDone {
  static constexpr Kind kind = Kind::steps_done;
  std::size_t trial = 0;
  std::vector<Step> points{};
  friend bool operator==(const StepsDone& a, const StepsDone& b) noexcept {
    return a.trial == b.trial && detail::same(a.points, b.points);
  }
};

/// @brief A step for the coordinator's study rule to judge (a StepReport, its Metrics by value);
/// the worker waits for the Ruling.
struct JudgeStep {
  static constexpr Kind kind = Kind::judge_step;
  std::size_t trial = 0;
  std::int64_t step = 0;
  double objective = 0;
  Metrics metrics{};
  Direction direction = Direction::minimize;
  std::size_t epoch = std::numeric_limits<std::size_t>::max();
  friend bool operator==(const JudgeStep& a, const JudgeStep& b) noexcept {
    return a.trial == b.trial && a.step == b.step && detail::same(a.objective, b.objective) &&
           detail::same(a.metrics, b.metrics) && a.direction == b.direction && a.epoch == b.epoch;
  }
};

/// @brief How a job ended (hpt::detail::JobDone), with the exception's message in place of the
/// exception, and a paused trial's checkpoint so that it can resume on any rank.
struct JobFinished {
  static constexpr Kind kind = Kind::job_finished;
  Job job{};
  TrialStatus status = TrialStatus::running;
  std::string reason{};
  std::string stopped_by{};
  FailureStage failure = FailureStage::none;
  double wall_seconds = 0;
  std::int64_t steps_run = 0;
  bool started = true;
  bool saved = false;
  /// JobDone::error's what() (with catch_exceptions = false), when there was one.
  std::optional<std::string> error_message{};
  std::optional<std::string> checkpoint{};  ///< A paused trial's save().
  friend bool operator==(const JobFinished& a, const JobFinished& b) noexcept {
    return detail::same(a.job, b.job) && a.status == b.status && a.reason == b.reason &&
           a.stopped_by == b.stopped_by && a.failure == b.failure &&
           detail::same(a.wall_seconds, b.wall_seconds) && a.steps_run == b.steps_run &&
           a.started == b.started && a.saved == b.saved && a.error_message == b.error_message &&
           a.checkpoint == b.checkpoint;
  }
};

/// @brief The worker has finished its batch and takes more.
struct WorkerFree {
  static constexpr Kind kind = Kind::worker_free;
  friend bool operator==(const WorkerFree&, const WorkerFree&) = default;
};

/// @brief The worker threw outside any trial (what() of the exception); it stops.
struct WorkerFailed {
  static constexpr Kind kind = Kind::worker_failed;
  std::string what{};
  friend bool operator==(const WorkerFailed&, const WorkerFailed&) = default;
};

/// @brief Any message, alternatives in the order of Kind (index = kind - 1).
using Message = std::variant<Hello, RunBatch, Ruling, StopRequested, Shutdown, HelloReply,
                             StepsDone, JudgeStep, JobFinished, WorkerFree, WorkerFailed>;

/// @brief One of Message's alternatives.
namespace detail {
template <class M, class V>
struct IsAlternative : std::false_type {};
template <class M, class... Alternatives>
struct IsAlternative<M, std::variant<Alternatives...>>
    : std::bool_constant<(std::same_as<M, Alternatives> || ...)> {};
template <std::size_t... I>
constexpr bool kinds_in_order(std::index_sequence<I...>) {
  return ((static_cast<std::size_t>(std::variant_alternative_t<I, Message>::kind) == I + 1) && ...);
}
}  // namespace detail

/// @brief One of Message's alternatives.
template <class M>
concept MessageType = detail::IsAlternative<M, Message>::value;

static_assert(std::variant_size_v<Message> == kind_count &&
              detail::kinds_in_order(std::make_index_sequence<kind_count>{}));

/// @brief The kind of a message.
inline Kind kind_of(const Message& message) noexcept {
  return static_cast<Kind>(message.index() + 1);
}

// ---------------------------------------------------------------------------------------------
// Message bodies

inline void write_body(Writer& out, const Hello& m) {
  out.varint(m.wire_version);
  out.text(m.hpt_version);
  out.fixed64(m.fingerprint);
}
inline void read_body(Reader& in, Hello& m) {
  m.wire_version = in.varint("wire_version");
  m.hpt_version = in.text("hpt_version");
  m.fingerprint = in.fixed64("fingerprint");
}

inline void write_body(Writer& out, const RunBatch& m) {
  out.varint(m.jobs.size());
  for (const RunJob& job : m.jobs) {
    write(out, job.job);
    write(out, job.config);
    out.zigzag(job.steps_done);
    out.optional_text(job.checkpoint);
    write(out, job.replay);
    out.boolean(job.catch_up);
  }
  out.varint(m.release.size());
  for (const std::size_t trial : m.release) out.varint(trial);
}
inline void read_body(Reader& in, RunBatch& m) {
  const std::size_t count = in.count("jobs", min_run_job_bytes);
  m.jobs.clear();
  m.jobs.reserve(count);
  auto nested = in.enter("jobs");
  for (std::size_t i = 0; i < count; ++i) {
    nested.index(i);
    RunJob& job = m.jobs.emplace_back();
    read(in, "job", job.job);
    read(in, "config", job.config);
    job.steps_done = in.signed_integer<std::int64_t>("steps_done");
    job.checkpoint = in.optional_text("checkpoint");
    read(in, "replay", job.replay);
    job.catch_up = in.boolean("catch_up");
  }
  const std::size_t released = in.count("release", 1);
  m.release.clear();
  m.release.reserve(released);
  auto trials = in.enter("release");
  for (std::size_t i = 0; i < released; ++i) {
    trials.index(i);
    m.release.push_back(in.unsigned_integer<std::size_t>("trial"));
  }
}

inline void write_body(Writer& out, const Ruling& m) {
  write(out, m.verdict);
  out.optional_text(m.error);
  out.boolean(m.standard_exception);
}
inline void read_body(Reader& in, Ruling& m) {
  read(in, "verdict", m.verdict);
  m.error = in.optional_text("error");
  m.standard_exception = in.boolean("standard_exception");
}

inline void write_body(Writer&, const StopRequested&) {}
inline void read_body(Reader&, StopRequested&) {}
inline void write_body(Writer& out, const Shutdown& m) {
  out.text(m.reason);
}
inline void read_body(Reader& in, Shutdown& m) {
  m.reason = in.text("reason");
}

inline void write_body(Writer& out, const HelloReply& m) {
  out.varint(m.wire_version);
  out.text(m.hpt_version);
  out.fixed64(m.fingerprint);
  out.zigzag(m.rank);
  out.text(m.host);
}
inline void read_body(Reader& in, HelloReply& m) {
  m.wire_version = in.varint("wire_version");
  m.hpt_version = in.text("hpt_version");
  m.fingerprint = in.fixed64("fingerprint");
  m.rank = in.signed_integer<int>("rank");
  m.host = in.text("host");
}

inline void write_body(Writer& out, const StepsDone& m) {
  out.varint(m.trial);
  write(out, m.points);
}
inline void read_body(Reader& in, StepsDone& m) {
  m.trial = in.unsigned_integer<std::size_t>("trial");
  read(in, "points", m.points);
}

inline void write_body(Writer& out, const JudgeStep& m) {
  out.varint(m.trial);
  out.zigzag(m.step);
  out.real(m.objective);
  write(out, m.metrics);
  out.enumeration(m.direction);
  out.varint(m.epoch);
}
inline void read_body(Reader& in, JudgeStep& m) {
  m.trial = in.unsigned_integer<std::size_t>("trial");
  m.step = in.signed_integer<std::int64_t>("step");
  m.objective = in.real("objective");
  read(in, "metrics", m.metrics);
  m.direction = in.enumeration<Direction>("direction", 2, "a direction (minimize, maximize)");
  m.epoch = in.unsigned_integer<std::size_t>("epoch");
}

inline void write_body(Writer& out, const JobFinished& m) {
  write(out, m.job);
  out.enumeration(m.status);
  out.text(m.reason);
  out.text(m.stopped_by);
  out.enumeration(m.failure);
  out.real(m.wall_seconds);
  out.zigzag(m.steps_run);
  out.boolean(m.started);
  out.boolean(m.saved);
  out.optional_text(m.error_message);
  out.optional_text(m.checkpoint);
}
inline void read_body(Reader& in, JobFinished& m) {
  read(in, "job", m.job);
  m.status = in.enumeration<TrialStatus>("status", 9, "a trial status");
  m.reason = in.text("reason");
  m.stopped_by = in.text("stopped_by");
  m.failure = in.enumeration<FailureStage>("failure", 6, "a failure stage");
  m.wall_seconds = in.real("wall_seconds");
  m.steps_run = in.signed_integer<std::int64_t>("steps_run");
  m.started = in.boolean("started");
  m.saved = in.boolean("saved");
  m.error_message = in.optional_text("error_message");
  m.checkpoint = in.optional_text("checkpoint");
}

inline void write_body(Writer&, const WorkerFree&) {}
inline void read_body(Reader&, WorkerFree&) {}

inline void write_body(Writer& out, const WorkerFailed& m) {
  out.text(m.what);
}
inline void read_body(Reader& in, WorkerFailed& m) {
  m.what = in.text("what");
}

// ---------------------------------------------------------------------------------------------
// Encoding and decoding whole messages

/// @brief Replaces `out` with the message (its capacity is kept: reuse one buffer per stream).
template <MessageType M>
void encode(const M& message, std::string& out) {
  out.clear();
  out.append(magic.data(), magic.size());
  Writer writer(out);
  writer.varint(version);
  writer.enumeration(M::kind);
  write_body(writer, message);
}

inline void encode(const Message& message, std::string& out) {
  std::visit([&](const auto& alternative) { encode(alternative, out); }, message);
}

template <MessageType M>
[[nodiscard]] std::string encode(const M& message) {
  std::string out;
  encode(message, out);
  return out;
}

[[nodiscard]] inline std::string encode(const Message& message) {
  std::string out;
  encode(message, out);
  return out;
}

namespace detail {

template <std::size_t I = 0>
Message read_message(Reader& in, std::size_t index) {
  if constexpr (I + 1 < std::variant_size_v<Message>) {
    if (index != I) return read_message<I + 1>(in, index);
  }
  std::variant_alternative_t<I, Message> message;
  read_body(in, message);
  return message;
}

}  // namespace detail

/// @brief The message in `bytes`, which must hold it exactly; throws WireError otherwise.
[[nodiscard]] inline Message decode(std::string_view bytes) {
  if (!bytes.starts_with(magic)) {
    const std::string_view start = bytes.substr(0, magic.size());
    throw WireError(
        "hpt::wire: not an hpt wire message: " + std::to_string(bytes.size()) +
        (bytes.size() == 1 ? " byte" : " bytes") +
        (start.empty() ? std::string() : ", starting " + hpt::detail::quote_input(start)) +
        ", where every message starts \"hpw\"");
  }
  Reader in(bytes);
  for (std::size_t i = 0; i < magic.size(); ++i) (void)in.byte("magic");
  const std::uint64_t received = in.varint("version");
  if (received != version)
    throw WireError("hpt::wire: wire version " + std::to_string(received) + "; this hpt speaks " +
                    std::to_string(version) + ": run the same hpt on every rank");
  const std::size_t at = in.offset();
  const std::uint8_t kind = in.byte("kind");
  if (kind < 1 || kind > kind_count)
    in.fail(
        "kind", at,
        std::to_string(kind) + " is not a message kind (1.." + std::to_string(kind_count) + ")");
  in.set_kind(kind_name(static_cast<Kind>(kind)));
  Message message = detail::read_message(in, kind - 1u);
  in.finish();
  return message;
}

// ---------------------------------------------------------------------------------------------
// Conversions between messages and the engine's types, and the hello check

/// @brief `report` as a message: its Metrics by value (an empty Metrics with the report's
/// objective when it has none).
[[nodiscard]] inline JudgeStep judge_step(const StepReport& report) {
  return {.trial = report.trial,
          .step = report.step,
          .objective = report.objective,
          .metrics = report.metrics ? *report.metrics : Metrics{.objective = report.objective},
          .direction = report.direction,
          .epoch = report.epoch};
}

/// @brief The StepReport a JudgeStep carries; it points into `message`, which must outlive it.
[[nodiscard]] inline StepReport step_report(const JudgeStep& message) noexcept {
  return {.trial = message.trial,
          .step = message.step,
          .objective = message.objective,
          .metrics = &message.metrics,
          .direction = message.direction,
          .epoch = message.epoch};
}

/// @brief what() of the exception in `error` ("a non-standard exception" for one that is not a
/// std::exception); nothing for no exception.
[[nodiscard]] inline std::optional<std::string> error_message(const std::exception_ptr& error) {
  if (!error) return std::nullopt;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& exception) {
    return std::string(exception.what());
  } catch (...) {
    return std::string("a non-standard exception");
  }
}

/// @brief `done` as a message, its exception as its message, with a paused trial's checkpoint.
[[nodiscard]] inline JobFinished job_finished(const hpt::detail::JobDone& done,
                                              std::optional<std::string> checkpoint = {}) {
  return {.job = done.job,
          .status = done.status,
          .reason = done.reason,
          .stopped_by = done.stopped_by,
          .failure = done.failure,
          .wall_seconds = done.wall_seconds,
          .steps_run = done.steps_run,
          .started = done.started,
          .saved = done.saved,
          .error_message = error_message(done.error),
          .checkpoint = std::move(checkpoint)};
}

/// @brief The JobDone a JobFinished carries (without its checkpoint): an error message becomes a
/// std::runtime_error with that message.
[[nodiscard]] inline hpt::detail::JobDone job_done(const JobFinished& message) {
  return {.job = message.job,
          .status = message.status,
          .reason = message.reason,
          .stopped_by = message.stopped_by,
          .failure = message.failure,
          .wall_seconds = message.wall_seconds,
          .steps_run = message.steps_run,
          .started = message.started,
          .saved = message.saved,
          .error = message.error_message
                       ? std::make_exception_ptr(std::runtime_error(*message.error_message))
                       : std::exception_ptr()};
}

namespace detail {

inline std::string hex64(std::uint64_t value) {
  constexpr const char* digits = "0123456789abcdef";
  std::string text = "0x";
  for (int shift = 60; shift >= 0; shift -= 4) text += digits[(value >> shift) & 0xF];
  return text;
}

/// Throws unless the peer runs this wire version, this hpt and the study `fingerprint`.
inline void check_peer(std::string_view peer, std::string_view here, std::uint64_t wire_version,
                       std::string_view hpt_version, std::uint64_t peer_fingerprint,
                       std::uint64_t fingerprint) {
  if (wire_version == version && hpt_version == hpt::version && peer_fingerprint == fingerprint)
    return;
  throw WireError(
      "hpt::wire: " + std::string(peer) + " runs hpt " + hpt::detail::quote_input(hpt_version) +
      " (wire version " + std::to_string(wire_version) + ") on the study with fingerprint " +
      hex64(peer_fingerprint) + ", " + std::string(here) + " hpt \"" + std::string(hpt::version) +
      "\" (wire version " + std::to_string(version) + ") on " + hex64(fingerprint) +
      ": start every rank from the same program, built with the same hpt");
}

}  // namespace detail

/// @brief On a worker: throws WireError (naming both sides' versions and fingerprints) unless
/// the coordinator's Hello is for this hpt and the study whose fingerprint is `fingerprint`.
inline void check_hello(const Hello& hello, std::uint64_t fingerprint) {
  detail::check_peer("the coordinator", "this worker", hello.wire_version, hello.hpt_version,
                     hello.fingerprint, fingerprint);
}

/// @brief On the coordinator: the same check of a worker's HelloReply, naming its rank and host.
inline void check_hello_reply(const HelloReply& reply, std::uint64_t fingerprint) {
  detail::check_peer(
      "rank " + std::to_string(reply.rank) + " on " + hpt::detail::quote_input(reply.host),
      "the coordinator", reply.wire_version, reply.hpt_version, reply.fingerprint, fingerprint);
}

}  // namespace hpt::wire
