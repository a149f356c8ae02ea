#pragma once
/// @file direction.hpp
/// @brief Whether a study minimizes or maximizes its objective.

#include <cmath>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hpt {

/// @brief The sense of an objective. It belongs to the study, not to the trainable.
enum class Direction { minimize, maximize };

inline constexpr Direction minimize = Direction::minimize;
inline constexpr Direction maximize = Direction::maximize;

/// @brief "minimize" or "maximize".
constexpr std::string_view to_string(Direction direction) noexcept {
  return direction == Direction::minimize ? "minimize" : "maximize";
}

/// @brief Parses "minimize" or "maximize"; throws std::invalid_argument naming the text otherwise.
inline Direction parse_direction(std::string_view text) {
  if (text == "minimize") return Direction::minimize;
  if (text == "maximize") return Direction::maximize;
  throw std::invalid_argument("hpt: direction must be \"minimize\" or \"maximize\", got \"" +
                              std::string(text) + "\"");
}

inline std::ostream& operator<<(std::ostream& out, Direction direction) {
  return out << to_string(direction);
}

/// @brief True when a is strictly better than b. NaN is never better than anything, and anything
/// that is not NaN is better than NaN, so NaN always ranks last.
constexpr bool is_better(Direction direction, double a, double b) noexcept {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return direction == Direction::minimize ? a < b : a > b;
}

/// @brief The value as a loss: itself when minimizing, its negation when maximizing. Lets policies
/// written for minimization serve both directions.
constexpr double as_loss(Direction direction, double value) noexcept {
  return direction == Direction::minimize ? value : -value;
}

}  // namespace hpt
