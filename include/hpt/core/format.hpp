#pragma once
/// @file format.hpp
/// @brief Number formatting shared by values, messages and exports.

#include <charconv>
#include <cmath>
#include <string>

namespace hpt {

/// @brief Formats a double so that it reads back as the same double, and as a real (never "1").
inline std::string format_real(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, end);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

/// @brief Six significant digits, for messages a person reads ("0.312", "1.2954e+29").
inline std::string format_short(double value) {
  char buffer[32];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 6);
  return std::string(buffer, result.ptr);
}

}  // namespace hpt
