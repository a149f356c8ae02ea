#pragma once
/// @file search_space.hpp
/// @brief A search space: named parameters, possibly conditional, that can be sampled or gridded.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/config.hpp"
#include "hpt/parameter.hpp"
#include "hpt/random.hpp"

namespace hpt {

/// @brief An ordered set of parameters. A condition may only name a parameter declared before it,
/// so one pass in declaration order decides which parameters are active.
class SearchSpace {
 public:
  SearchSpace() = default;
  SearchSpace(std::initializer_list<Parameter> parameters) {
    for (const auto& parameter : parameters) add(parameter);
  }
  explicit SearchSpace(std::vector<Parameter> parameters) {
    for (auto& parameter : parameters) add(std::move(parameter));
  }

  /// @brief Appends a parameter. Throws std::invalid_argument for a duplicate name or a condition
  /// on a parameter that is not declared before this one.
  SearchSpace& add(Parameter parameter) {
    for (const auto& existing : parameters_)
      if (existing.name() == parameter.name())
        throw std::invalid_argument("hpt::SearchSpace: parameter \"" + parameter.name() +
                                    "\" is declared twice");
    if (const auto& condition = parameter.condition()) {
      if (!index_of(condition->parameter))
        throw std::invalid_argument("hpt::SearchSpace: parameter \"" + parameter.name() +
                                    "\" has a condition on \"" + condition->parameter +
                                    "\", which is not a parameter declared before it");
      if (!condition->test)
        throw std::invalid_argument("hpt::SearchSpace: parameter \"" + parameter.name() +
                                    "\" has a condition without a test");
      check_condition(parameter.name(), *condition, parameters_[*index_of(condition->parameter)]);
    }
    parameters_.push_back(std::move(parameter));
    return *this;
  }

  [[nodiscard]] const std::vector<Parameter>& parameters() const noexcept { return parameters_; }
  [[nodiscard]] std::size_t size() const noexcept { return parameters_.size(); }

  /// @brief The parameter's position, or nothing when no parameter has that name.
  [[nodiscard]] std::optional<std::size_t> index_of(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < parameters_.size(); ++i)
      if (parameters_[i].name() == name) return i;
    return std::nullopt;
  }

  /// @brief A random configuration: each active parameter drawn in declaration order.
  [[nodiscard]] Config sample(Random& random) const {
    Config config;
    config.reserve(parameters_.size());
    for (const auto& parameter : parameters_)
      if (is_active(parameter, config)) config.set(parameter.name(), parameter.sample(random));
    return config;
  }

  /// @brief A random configuration for trial `trial` of a study seeded with `seed`: the same
  /// whatever order trials run in.
  [[nodiscard]] Config sample(std::uint64_t seed, std::uint64_t trial) const {
    Random random(derive_seed(seed, trial));
    return sample(random);
  }

  /// @brief Every configuration of the full factorial grid, the first parameter varying slowest.
  /// Conditional parameters expand only where they are active. Throws std::invalid_argument for a
  /// real range without a point count.
  [[nodiscard]] std::vector<Config> grid() const {
    std::vector<std::vector<Value>> values;
    values.reserve(parameters_.size());
    for (const auto& parameter : parameters_) values.push_back(parameter.grid_values());
    std::vector<Config> configs;
    Config partial;
    expand(0, values, partial, configs);
    return configs;
  }

  /// @brief How many configurations grid() gives, without building them.
  [[nodiscard]] std::size_t grid_size() const { return grid().size(); }

  /// @brief True when the parameter's condition holds in a configuration built so far.
  [[nodiscard]] static bool is_active(const Parameter& parameter, const Config& partial) {
    const auto& condition = parameter.condition();
    if (!condition) return true;
    const Value* value = partial.find(condition->parameter);
    return value && condition->test(*value);
  }

  /// @brief Throws std::invalid_argument unless `config` could have come from this space: every
  /// active parameter present with a value of its domain's kind, no inactive or unknown ones.
  void check(const Config& config) const {
    Config active;
    for (const auto& parameter : parameters_) {
      if (!is_active(parameter, active)) {
        if (config.contains(parameter.name()))
          throw std::invalid_argument("hpt::SearchSpace: parameter \"" + parameter.name() +
                                      "\" is set but its condition (" +
                                      parameter.condition()->description + ") does not hold");
        continue;
      }
      const Value& value = config.value(parameter.name());
      std::visit(
          [&](const auto& domain) {
            using D = std::decay_t<decltype(domain)>;
            bool fits = false;
            if constexpr (std::is_same_v<D, RealDomain>)
              fits =
                  value.is_real() && value.number() >= domain.low && value.number() <= domain.high;
            else if constexpr (std::is_same_v<D, IntegerDomain>)
              fits = value.is_integer() && value.number() >= static_cast<double>(domain.low) &&
                     value.number() <= static_cast<double>(domain.high);
            else
              for (const auto& choice : domain.choices) fits = fits || choice == value;
            if (!fits)
              throw std::invalid_argument("hpt::SearchSpace: parameter \"" + parameter.name() +
                                          "\" holds " + value.describe() +
                                          ", which is outside its domain");
          },
          parameter.domain());
      active.set(parameter.name(), value);
    }
    if (active.size() != config.size())
      for (const auto& [name, value] : config)
        if (!index_of(name))
          throw std::invalid_argument("hpt::SearchSpace: unknown parameter \"" + name + "\"");
  }

  friend std::ostream& operator<<(std::ostream& out, const SearchSpace& space) {
    for (const auto& parameter : space.parameters_) {
      out << parameter.name() << ": ";
      std::visit(
          [&](const auto& d) {
            using D = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<D, ChoiceDomain>) {
              out << (d.ordered ? "ordinal {" : "choice {");
              for (std::size_t i = 0; i < d.choices.size(); ++i)
                out << (i ? ", " : "") << d.choices[i];
              out << '}';
            } else {
              out << (std::is_same_v<D, RealDomain> ? "real" : "integer") << " [" << Value(d.low)
                  << ", " << Value(d.high) << ']' << (d.scale == Scale::log ? " log" : "");
            }
          },
          parameter.domain());
      if (parameter.condition()) out << " when " << parameter.condition()->description;
      out << '\n';
    }
    return out;
  }

 private:
  /// A condition that can never hold is almost always a typo ("sgdd"): refuse it up front.
  static void check_condition(const std::string& name, const Condition& condition,
                              const Parameter& parent) {
    auto refuse = [&](const std::string& why) {
      throw std::invalid_argument("hpt::SearchSpace: parameter \"" + name +
                                  "\" has the condition " + condition.description + ", but " + why);
    };
    const Domain& domain = parent.domain();
    if (condition.kind == Condition::Kind::numeric) {
      if (const auto* choice = std::get_if<ChoiceDomain>(&domain))
        for (const auto& value : choice->choices)
          if (!value.is_number())
            refuse("\"" + parent.name() + "\" can take the non-numeric " + value.describe());
      return;
    }
    if (condition.kind != Condition::Kind::equality) return;
    for (const auto& value : condition.values) {
      const bool possible = std::visit(
          [&](const auto& d) {
            using D = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<D, ChoiceDomain>) {
              for (const auto& choice : d.choices)
                if (choice == value) return true;
              return false;
            } else if constexpr (std::is_same_v<D, RealDomain>) {
              return value.is_real() && value.number() >= d.low && value.number() <= d.high;
            } else {
              return value.is_integer() && value.number() >= static_cast<double>(d.low) &&
                     value.number() <= static_cast<double>(d.high);
            }
          },
          domain);
      if (!possible) refuse("\"" + parent.name() + "\" never takes " + value.describe());
    }
  }

  void expand(std::size_t index, const std::vector<std::vector<Value>>& values, Config& partial,
              std::vector<Config>& out) const {
    if (index == parameters_.size()) {
      out.push_back(partial);
      return;
    }
    const Parameter& parameter = parameters_[index];
    if (!is_active(parameter, partial)) {
      expand(index + 1, values, partial, out);
      return;
    }
    for (const auto& value : values[index]) {
      partial.set(parameter.name(), value);
      expand(index + 1, values, partial, out);
      partial.pop_back();
    }
  }

  std::vector<Parameter> parameters_;
};

}  // namespace hpt
