#pragma once
/// @file condition.hpp
/// @brief Conditions that make a parameter exist only for some values of another.

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "hpt/core/value.hpp"

namespace hpt {

/// @brief A test on one earlier parameter's value. A parameter carrying a condition is active only
/// when the parameter it names is active and the test holds.
struct Condition {
  /// What the space can check about the condition when it is added.
  enum class Kind {
    equality,  ///< `values` must be values the parameter can take (catches typos like "sgdd").
    numeric,   ///< The parameter must be numeric.
    custom,    ///< A user predicate: nothing to check.
  };
  std::string parameter;                   ///< The parameter the condition reads.
  std::function<bool(const Value&)> test;  ///< True when the dependent parameter is active.
  std::string description;                 ///< E.g. `layers > 1`, for messages and printing.
  Kind kind = Kind::custom;
  std::vector<Value> values{};  ///< The literals an equality condition compares with.
};

/// @brief Active when `parameter` equals `value` (same kind and value).
inline Condition equals(std::string parameter, Value value) {
  std::string text = parameter + " == " + value.to_string();
  return {std::move(parameter),
          [value](const Value& v) { return v == value; },
          std::move(text),
          Condition::Kind::equality,
          {value}};
}

/// @brief Active when `parameter` is one of `values`.
inline Condition one_of(std::string parameter, std::vector<Value> values) {
  std::string text = parameter + " in {";
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + values[i].to_string();
  text += '}';
  return {std::move(parameter),
          [values](const Value& v) {
            for (const auto& candidate : values)
              if (candidate == v) return true;
            return false;
          },
          std::move(text), Condition::Kind::equality, values};
}

/// @brief Active when the numeric `parameter` is strictly greater than `bound` (units of layer k
/// exist when layers > k).
inline Condition greater_than(std::string parameter, double bound) {
  std::string text = parameter + " > " + format_real(bound);
  return {std::move(parameter),
          [bound](const Value& v) { return v.is_number() && v.number() > bound; }, std::move(text),
          Condition::Kind::numeric};
}

/// @brief Active when the numeric `parameter` is at least `bound`.
inline Condition at_least(std::string parameter, double bound) {
  std::string text = parameter + " >= " + format_real(bound);
  return {std::move(parameter),
          [bound](const Value& v) { return v.is_number() && v.number() >= bound; }, std::move(text),
          Condition::Kind::numeric};
}

/// @brief Active when `test(value of parameter)` holds; `description` says what it tests.
inline Condition where(std::string parameter, std::function<bool(const Value&)> test,
                       std::string description) {
  return {std::move(parameter), std::move(test), std::move(description), Condition::Kind::custom};
}

}  // namespace hpt
