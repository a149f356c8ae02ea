#pragma once
/// @file config.hpp
/// @brief A configuration: the active hyperparameters of one trial, by name, in space order.

#include <cstddef>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hpt/value.hpp"

namespace hpt {

/// @brief The hyperparameters of one trial. Only active parameters are present: a conditional
/// parameter whose condition does not hold is absent, and asking for it throws.
class Config {
 public:
  using Entry = std::pair<std::string, Value>;

  Config() = default;
  /// @brief E.g. `Config{{"learning_rate", 0.01}, {"optimizer", "sgd"}}`; duplicate names throw.
  Config(std::initializer_list<Entry> entries) {
    for (const auto& [name, value] : entries) set(name, value);
  }

  /// @brief The value of a parameter as T, with no conversion between kinds (see Value::as).
  /// Throws std::out_of_range naming the parameter when it is absent.
  template <class T>
  [[nodiscard]] T get(std::string_view name) const {
    return value(name).template as<T>(name);
  }

  /// @brief The value of a parameter, or `fallback` when the parameter is not active.
  template <class T>
  [[nodiscard]] T get_or(std::string_view name, T fallback) const {
    const Value* found = find(name);
    return found ? found->template as<T>(name) : fallback;
  }

  /// @brief The raw value; throws std::out_of_range naming the parameter when it is absent.
  [[nodiscard]] const Value& value(std::string_view name) const {
    if (const Value* found = find(name)) return *found;
    throw std::out_of_range("hpt::Config: no parameter named \"" + std::string(name) +
                            "\" (active: " + names_text() + ")");
  }

  /// @brief A pointer to the value, or nullptr when the parameter is not active.
  [[nodiscard]] const Value* find(std::string_view name) const noexcept {
    for (const auto& [key, value] : entries_)
      if (key == name) return &value;
    return nullptr;
  }

  [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name); }

  /// @brief Adds a parameter; throws std::invalid_argument when the name is already present.
  void set(std::string name, Value value) {
    if (contains(name))
      throw std::invalid_argument("hpt::Config: parameter \"" + name + "\" is set twice");
    entries_.emplace_back(std::move(name), std::move(value));
  }

  /// @brief Replaces or adds a parameter.
  void assign(std::string_view name, Value value) {
    for (auto& [key, existing] : entries_)
      if (key == name) {
        existing = std::move(value);
        return;
      }
    entries_.emplace_back(std::string(name), std::move(value));
  }

  /// @brief Removes the last parameter (used while expanding grids).
  void pop_back() { entries_.pop_back(); }
  void reserve(std::size_t count) { entries_.reserve(count); }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] auto begin() const noexcept { return entries_.begin(); }
  [[nodiscard]] auto end() const noexcept { return entries_.end(); }
  [[nodiscard]] const std::vector<Entry>& entries() const noexcept { return entries_; }

  /// @brief E.g. `{learning_rate: 0.01, optimizer: "sgd"}`.
  [[nodiscard]] std::string to_string() const {
    std::ostringstream out;
    out << *this;
    return out.str();
  }

  friend bool operator==(const Config&, const Config&) = default;

  friend std::ostream& operator<<(std::ostream& out, const Config& config) {
    out << '{';
    bool first = true;
    for (const auto& [name, value] : config.entries_) {
      out << (first ? "" : ", ") << name << ": " << value;
      first = false;
    }
    return out << '}';
  }

 private:
  [[nodiscard]] std::string names_text() const {
    std::string text;
    for (const auto& [key, value] : entries_) text += (text.empty() ? "" : ", ") + key;
    return text.empty() ? "none" : text;
  }

  std::vector<Entry> entries_;
};

}  // namespace hpt
