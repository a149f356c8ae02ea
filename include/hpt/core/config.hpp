#pragma once
/// @file config.hpp
/// @brief A configuration: the active hyperparameters of one trial, by name, in space order.

#include <bit>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hpt/core/value.hpp"

namespace hpt {

/// @brief The hyperparameters of one trial. Only active parameters are present: a conditional
/// parameter whose condition does not hold is absent, and asking for it throws.
///
/// Parameters keep the order they were set in. A configuration of up to linear_search_limit
/// parameters is searched by name in order; a larger one also keeps a hash index of its names,
/// so that set(), assign() and find() take constant time on average however many there are.
class Config {
 public:
  using Entry = std::pair<std::string, Value>;

  /// The most parameters a configuration holds without a name index (a trial's few parameters
  /// cost no index to build or copy).
  static constexpr std::size_t linear_search_limit = 16;

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
    const std::size_t position = position_of(name);
    return position < entries_.size() ? &entries_[position].second : nullptr;
  }

  [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name); }

  /// @brief Adds a parameter; throws std::invalid_argument when the name is already present.
  void set(std::string name, Value value) {
    if (contains(name))
      throw std::invalid_argument("hpt::Config: parameter \"" + name + "\" is set twice");
    append(std::move(name), std::move(value));
  }

  /// @brief Replaces or adds a parameter.
  void assign(std::string_view name, Value value) {
    if (const std::size_t position = position_of(name); position < entries_.size())
      entries_[position].second = std::move(value);
    else
      append(std::string(name), std::move(value));
  }

  /// @brief Removes the last parameter (used while expanding grids); throws std::out_of_range
  /// when there is none.
  void pop_back() {
    if (entries_.empty())
      throw std::out_of_range("hpt::Config::pop_back: the configuration is empty");
    if (!slots_.empty()) {
      // The last entry was indexed last (a rebuild indexes in order), so emptying its slot leaves
      // the index as it was before: no other name's probe sequence runs through that slot.
      const std::size_t mask = slots_.size() - 1;
      for (std::size_t i = hash(entries_.back().first) & mask;; i = (i + 1) & mask)
        if (slots_[i] == entries_.size()) {
          slots_[i] = 0;
          break;
        }
    }
    entries_.pop_back();
  }
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

  /// @brief The same parameters with the same values in the same order.
  friend bool operator==(const Config& a, const Config& b) { return a.entries_ == b.entries_; }

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
  static std::size_t hash(std::string_view name) noexcept {
    return std::hash<std::string_view>{}(name);
  }

  /// The position of `name` in entries_, or entries_.size() when it is absent.
  [[nodiscard]] std::size_t position_of(std::string_view name) const noexcept {
    if (slots_.empty()) {
      for (std::size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].first == name) return i;
      return entries_.size();
    }
    // At most half the slots are full, so the probe ends at an empty one.
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(name) & mask;; i = (i + 1) & mask) {
      const std::size_t slot = slots_[i];
      if (slot == 0) return entries_.size();
      if (entries_[slot - 1].first == name) return slot - 1;
    }
  }

  /// Adds an entry and indexes it; if indexing throws (std::bad_alloc), nothing changes.
  void append(std::string name, Value value) {
    entries_.emplace_back(std::move(name), std::move(value));
    const std::size_t size = entries_.size();
    if (slots_.empty() && size <= linear_search_limit) return;
    if (2 * size <= slots_.size()) {
      index(slots_, size - 1);
      return;
    }
    try {
      // Rebuilt with four slots per entry once half are full: amortised O(1) per entry.
      std::vector<std::size_t> grown(std::bit_ceil(4 * size), 0);
      for (std::size_t position = 0; position < size; ++position) index(grown, position);
      slots_ = std::move(grown);
    } catch (...) {
      entries_.pop_back();
      throw;
    }
  }

  /// Puts entries_[position] into `slots`, a power of two of them, not all full.
  void index(std::vector<std::size_t>& slots, std::size_t position) const noexcept {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = hash(entries_[position].first) & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = position + 1;
  }

  [[nodiscard]] std::string names_text() const {
    std::string text;
    for (const auto& [key, value] : entries_) text += (text.empty() ? "" : ", ") + key;
    return text.empty() ? "none" : text;
  }

  std::vector<Entry> entries_;
  // The name index, empty for short configurations: open addressing with linear probing, a power
  // of two of slots, each 0 (empty) or 1 + the position in entries_ of a name.
  std::vector<std::size_t> slots_;
};

}  // namespace hpt
