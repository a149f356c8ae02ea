#pragma once
/// @file value.hpp
/// @brief One hyperparameter value: a boolean, an integer, a real number or a string.
///
/// Values are strictly typed: an integer never silently becomes a real, nor the reverse. Enums are
/// stored by label when the enum provides labels (see LabelledEnum), else by their integer value.

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "hpt/core/format.hpp"

namespace hpt {

/// @brief An enum whose values have labels, found by argument-dependent lookup:
/// `constexpr auto enum_labels(Cell) { return std::array{std::pair{Cell::lstm, "lstm"}, ...}; }`
/// declared beside the enum. Labelled enums print, serialise and load back by label.
template <class E>
concept LabelledEnum = std::is_enum_v<E> && requires(E e) {
  {std::begin(enum_labels(e))};
  {std::end(enum_labels(e))};
};

/// @brief A hyperparameter value.
class Value {
 public:
  /// The kinds a value can hold, in the order of the underlying variant.
  enum class Kind { boolean, integer, real, string };

  Value() = default;
  Value(bool value) : data_(value) {}  // NOLINT: implicit on purpose, values are literals
  template <std::integral I>
  requires(!std::same_as<I, bool> && !std::same_as<I, char>) Value(I value)
      : data_(checked_integer(value)) {}  // NOLINT
  template <std::floating_point F>
  Value(F value) : data_(static_cast<double>(value)) {}         // NOLINT
  Value(std::string value) : data_(std::move(value)) {}         // NOLINT
  Value(std::string_view value) : data_(std::string(value)) {}  // NOLINT
  Value(const char* value) : data_(std::string(value)) {}       // NOLINT
  template <class E>
  requires std::is_enum_v<E> Value(E value) : data_(from_enum(value)) {}  // NOLINT

  [[nodiscard]] Kind kind() const noexcept { return static_cast<Kind>(data_.index()); }
  [[nodiscard]] bool is_boolean() const noexcept { return kind() == Kind::boolean; }
  [[nodiscard]] bool is_integer() const noexcept { return kind() == Kind::integer; }
  [[nodiscard]] bool is_real() const noexcept { return kind() == Kind::real; }
  [[nodiscard]] bool is_string() const noexcept { return kind() == Kind::string; }
  /// @brief True for integers and reals.
  [[nodiscard]] bool is_number() const noexcept { return is_integer() || is_real(); }

  /// @brief The value as a double, for integers and reals; throws std::invalid_argument otherwise.
  [[nodiscard]] double number() const {
    if (is_integer()) return static_cast<double>(std::get<std::int64_t>(data_));
    if (is_real()) return std::get<double>(data_);
    throw std::invalid_argument("hpt::Value: " + describe() + " is not a number");
  }

  /// @brief The value as T, with no conversion between kinds. `parameter` names the value in the
  /// error: std::invalid_argument for the wrong kind, std::out_of_range when an integer does not
  /// fit in T, std::invalid_argument for an unknown enum label.
  template <class T>
  [[nodiscard]] T as(std::string_view parameter = "value") const {
    using U = std::remove_cvref_t<T>;
    if constexpr (std::same_as<U, bool>) {
      if (is_boolean()) return std::get<bool>(data_);
      throw wrong_kind(parameter, "a boolean");
    } else if constexpr (std::is_enum_v<U>) {
      return to_enum<U>(parameter);
    } else if constexpr (std::integral<U>) {
      if (!is_integer()) throw wrong_kind(parameter, "an integer");
      const std::int64_t value = std::get<std::int64_t>(data_);
      if (!std::in_range<U>(value))
        throw std::out_of_range("hpt: parameter \"" + std::string(parameter) + "\" holds " +
                                std::to_string(value) + ", which does not fit the requested type");
      return static_cast<U>(value);
    } else if constexpr (std::floating_point<U>) {
      if (is_real()) return static_cast<U>(std::get<double>(data_));
      throw wrong_kind(parameter, "a real number");
    } else if constexpr (std::same_as<U, std::string> || std::same_as<U, std::string_view>) {
      if (is_string()) return U(std::get<std::string>(data_));
      throw wrong_kind(parameter, "a string");
    } else {
      static_assert(sizeof(U) == 0,
                    "hpt::Value::as<T>: T must be bool, an integer, a floating-point type, "
                    "std::string, std::string_view or an enum");
    }
  }

  /// @brief The value as text: numbers round-trip exactly, strings are unquoted.
  [[nodiscard]] std::string to_string() const {
    switch (kind()) {
      case Kind::boolean:
        return std::get<bool>(data_) ? "true" : "false";
      case Kind::integer:
        return std::to_string(std::get<std::int64_t>(data_));
      case Kind::real:
        return format_real(std::get<double>(data_));
      case Kind::string:
        return std::get<std::string>(data_);
    }
    return {};
  }

  /// @brief The kind's name: "boolean", "integer", "real" or "string".
  [[nodiscard]] static std::string_view kind_name(Kind kind) noexcept {
    constexpr std::string_view names[] = {"boolean", "integer", "real", "string"};
    return names[static_cast<int>(kind)];
  }

  /// @brief E.g. `real 0.01` or `string "sgd"`, for error messages.
  [[nodiscard]] std::string describe() const {
    std::string text(kind_name(kind()));
    text += ' ';
    text += is_string() ? '"' + to_string() + '"' : to_string();
    return text;
  }

  /// @brief The underlying variant.
  [[nodiscard]] const auto& variant() const noexcept { return data_; }

  friend bool operator==(const Value&, const Value&) = default;

  friend std::ostream& operator<<(std::ostream& out, const Value& value) {
    return value.is_string() ? out << '"' << value.to_string() << '"' : out << value.to_string();
  }

 private:
  template <std::integral I>
  static std::int64_t checked_integer(I value) {
    if (!std::in_range<std::int64_t>(value))
      throw std::out_of_range("hpt::Value: integer " + std::to_string(value) +
                              " does not fit in 64 bits");
    return static_cast<std::int64_t>(value);
  }

  template <class E>
  static std::variant<bool, std::int64_t, double, std::string> from_enum(E value) {
    if constexpr (LabelledEnum<E>) {
      for (const auto& [entry, label] : enum_labels(value))
        if (entry == value) return std::string(label);
      throw std::invalid_argument("hpt::Value: enum value " +
                                  std::to_string(static_cast<long long>(value)) +
                                  " has no label in enum_labels");
    } else {
      return checked_integer(static_cast<std::underlying_type_t<E>>(value));
    }
  }

  template <class E>
  E to_enum(std::string_view parameter) const {
    if constexpr (LabelledEnum<E>) {
      if (!is_string()) throw wrong_kind(parameter, "an enum label");
      const auto& text = std::get<std::string>(data_);
      std::string known;
      for (const auto& [entry, label] : enum_labels(E{})) {
        if (text == label) return entry;
        known += (known.empty() ? "" : ", ") + std::string(label);
      }
      throw std::invalid_argument("hpt: parameter \"" + std::string(parameter) + "\" holds \"" +
                                  text + "\", which is not a label of the enum (" + known + ")");
    } else {
      if (!is_integer()) throw wrong_kind(parameter, "an enum's integer value");
      return static_cast<E>(std::get<std::int64_t>(data_));
    }
  }

  std::invalid_argument wrong_kind(std::string_view parameter, std::string_view wanted) const {
    return std::invalid_argument("hpt: parameter \"" + std::string(parameter) + "\" holds " +
                                 describe() + ", not " + std::string(wanted));
  }

  std::variant<bool, std::int64_t, double, std::string> data_{false};
};

}  // namespace hpt
