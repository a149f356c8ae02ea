/// @file
/// @brief How readers quote outside input in their error messages: bounded and printable, so a
/// huge or binary cell, key, line or name can neither make a huge message nor put control bytes
/// (newlines, terminal escapes) into a log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hpt::detail {

/// The longest piece of input (a cell, a key, a line, a name) a message quotes whole.
inline constexpr std::size_t quoted_input_limit = 80;
/// How much of a longer piece a message shows, before "..." and its length.
inline constexpr std::size_t quoted_input_shown = 64;

/// @brief `text` for an error message: bytes below 0x20 and 0x7F as \xNN; longer than
/// quoted_input_limit, its first quoted_input_shown bytes (cut at a whole UTF-8 character), then
/// "...". With `quote` (e.g. '"'), in that quote; a shortened text's length follows the closing
/// quote, e.g. "7777..." (100000000 characters).
inline std::string excerpt(std::string_view text, char quote = '\0') {
  const bool shorten = text.size() > quoted_input_limit;
  std::size_t keep = shorten ? quoted_input_shown : text.size();
  while (shorten && keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  std::string out;
  if (quote != '\0') out += quote;
  for (const char c : text.substr(0, keep)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7F) {
      out += c;
      continue;
    }
    constexpr const char* hex = "0123456789abcdef";
    out += "\\x";
    out += hex[byte >> 4];
    out += hex[byte & 0xF];
  }
  if (shorten) out += "...";
  if (quote != '\0') out += quote;
  if (shorten) out += " (" + std::to_string(text.size()) + " characters)";
  return out;
}

/// @brief excerpt() in double quotes.
inline std::string quote_input(std::string_view text) {
  return excerpt(text, '"');
}

}  // namespace hpt::detail
