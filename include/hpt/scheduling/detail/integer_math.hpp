#pragma once
/// @file integer_math.hpp
/// @brief Exact integer powers, logarithms and divisions for the strategies' plans, and the
/// settings checks they share (floating-point logarithms would silently lose a rung).

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace hpt {
namespace detail {

/// @brief base^exponent in integers; throws std::overflow_error rather than wrapping.
inline std::int64_t integer_power(std::int64_t base, int exponent) {
  std::int64_t result = 1;
  for (int i = 0; i < exponent; ++i) {
    if (result > std::numeric_limits<std::int64_t>::max() / base)
      throw std::overflow_error("hpt: " + std::to_string(base) + "^" + std::to_string(exponent) +
                                " overflows 64 bits");
    result *= base;
  }
  return result;
}

/// @brief The largest s with low * base^s <= high, in exact integer arithmetic (floating-point
/// log(243)/log(3) is 4.999... and would silently lose a Hyperband bracket).
inline int integer_log(std::int64_t high, std::int64_t low, std::int64_t base) {
  int s = 0;
  std::int64_t value = low;
  while (value <= high / base) {
    value *= base;
    ++s;
  }
  return s;
}

/// @brief floor(log_base(value)): the largest k with base^k <= value, in exact integer
/// arithmetic (0 for value < base); base must be at least 2. For counts of configurations,
/// which are unsigned.
inline int floor_log(std::uint64_t value, std::uint64_t base) {
  int k = 0;
  for (std::uint64_t power = 1; power <= value / base; power *= base) ++k;
  return k;
}

/// @brief ceil(numerator / denominator) for a positive denominator, without overflow.
inline std::uint64_t ceil_div(std::uint64_t numerator, std::uint64_t denominator) {
  return numerator / denominator + (numerator % denominator != 0 ? 1 : 0);
}

[[noreturn]] inline void invalid_setting(const std::string& strategy, const std::string& field,
                                         const std::string& value, const std::string& rule) {
  throw std::invalid_argument("hpt::" + strategy + ": " + field + " = " + value + " " + rule);
}

inline void check_budget(const std::string& strategy, std::int64_t min_resource,
                         std::int64_t max_resource, std::int64_t reduction_factor) {
  if (min_resource < 1)
    invalid_setting(strategy, "min_resource", std::to_string(min_resource), "must be at least 1");
  if (max_resource < min_resource)
    invalid_setting(strategy, "max_resource", std::to_string(max_resource),
                    "must be at least min_resource (" + std::to_string(min_resource) + ")");
  if (reduction_factor < 2)
    invalid_setting(strategy, "reduction_factor", std::to_string(reduction_factor),
                    "must be at least 2");
}

}  // namespace detail
}  // namespace hpt
