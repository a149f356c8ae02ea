// The input format of the sqlite_event_row target (and of its seeds, make_seed_corpus.cpp): the
// first byte picks what is decoded, the rest is its input.
//
//   'c' TEXT    hpt::detail::decode_config_json(TEXT)
//   'm' TEXT    hpt::detail::decode_metrics_json(TEXT)
//   other ROW   hpt::detail::decode_event_row of one `events` row, expected at seq 1
//
// ROW is up to 23 fields (the columns seq ... session) separated by the byte 0x1F; a missing field
// is NULL. A field's first byte is its type, the rest its value: 'n' NULL, 'i' an integer in
// decimal, 'r' a real as 16 hex digits of its bits, 't' text, 'b' a blob; a field that does not
// parse as its type, or has another first byte, is the whole field as text.
#pragma once

#include <hpt/study/detail/sqlite_rows.hpp>

#include <bit>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace hpt::fuzz {

inline constexpr char sqlite_field_separator = '\x1f';

inline detail::SqliteValue parse_sqlite_field(std::string_view field) {
  detail::SqliteValue value;
  if (field.empty()) return value;
  const std::string_view rest = field.substr(1);
  switch (field[0]) {
    case 'n':
      if (rest.empty()) return value;
      break;
    case 'i': {
      std::int64_t integer = 0;
      const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), integer);
      if (error == std::errc{} && end == rest.data() + rest.size() && !rest.empty()) {
        value.set_integer(integer);
        return value;
      }
      break;
    }
    case 'r': {
      std::uint64_t bits = 0;
      const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), bits, 16);
      if (error == std::errc{} && end == rest.data() + rest.size() && rest.size() == 16) {
        value.set_real(std::bit_cast<double>(bits));
        return value;
      }
      break;
    }
    case 't':
      value.set_text(rest);
      return value;
    case 'b':
      value.set_blob(rest);
      return value;
    default:
      break;
  }
  value.set_text(field);
  return value;
}

inline detail::EventRow parse_sqlite_row(std::string_view input) {
  detail::EventRow row;
  for (std::size_t column = 0; column < detail::event_column_count && !input.empty(); ++column) {
    const std::size_t end = input.find(sqlite_field_separator);
    row[column] = parse_sqlite_field(input.substr(0, end));
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
  }
  return row;
}

/// @brief The input that parse_sqlite_row reads back as `row` (texts and blobs without 0x1F).
inline std::string format_sqlite_row(const detail::EventRow& row) {
  std::string out(1, 'e');
  for (std::size_t column = 0; column < detail::event_column_count; ++column) {
    if (column > 0) out += sqlite_field_separator;
    const auto& value = row[column];
    switch (value.type) {
      case detail::SqliteValue::Type::null:
        out += 'n';
        break;
      case detail::SqliteValue::Type::integer:
        out += 'i' + std::to_string(value.integer);
        break;
      case detail::SqliteValue::Type::real: {
        char hex[17];
        const auto bits = std::bit_cast<std::uint64_t>(value.real);
        for (int i = 0; i < 16; ++i) hex[i] = "0123456789abcdef"[(bits >> (60 - 4 * i)) & 0xF];
        hex[16] = '\0';
        out += 'r';
        out += hex;
        break;
      }
      case detail::SqliteValue::Type::text:
        out += 't' + value.bytes;
        break;
      case detail::SqliteValue::Type::blob:
        out += 'b' + value.bytes;
        break;
    }
  }
  return out;
}

}  // namespace hpt::fuzz
