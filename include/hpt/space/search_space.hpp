#pragma once
/// @file search_space.hpp
/// @brief A search space: named parameters, possibly conditional, that can be sampled or gridded.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/random.hpp"
#include "hpt/space/hyperparameter.hpp"

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

  /// The most configurations grid() lists; larger grids are enumerated with hpt::Grid.
  static constexpr std::uint64_t max_listed_grid = 1'000'000;

  /// @brief Every configuration of the full factorial grid, the first parameter varying slowest.
  /// Conditional parameters expand only where they are active. Throws std::invalid_argument as
  /// grid_size() does, and for a grid of more than max_listed_grid configurations.
  [[nodiscard]] std::vector<Config> grid() const;

  /// @brief How many configurations grid() gives, counted without building them. Throws
  /// std::invalid_argument for a real range without a point count, and for a count beyond 64 bits.
  [[nodiscard]] std::uint64_t grid_size() const;

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
              fits = in_domain(value, domain);
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
  /// An integer within [low, high], compared as integers: through doubles, which hold integers
  /// exactly only up to 2^53, 2^53 + 1 would fit [0, 2^53].
  static bool in_domain(const Value& value, const IntegerDomain& domain) {
    if (!value.is_integer()) return false;
    const auto integer = value.as<std::int64_t>();
    return integer >= domain.low && integer <= domain.high;
  }

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
              return in_domain(value, d);
            }
          },
          domain);
      if (!possible) refuse("\"" + parent.name() + "\" never takes " + value.describe());
    }
  }

  std::vector<Parameter> parameters_;
};

/// @brief A space's grid, enumerated on demand: size() counts it and config(index) builds one
/// configuration in grid() order (declaration order, the first parameter varying slowest,
/// conditional parameters only where active) without building the others, so grids of 1e9 or
/// 2^63 configurations cost memory only for their parameters' lists.
///
/// The conditions make a forest (each names one earlier parameter), so the configurations left
/// once parameters 0 .. i-1 are fixed are the product, over the parameters whose parent is fixed
/// (or who have none), of each one's subtree count if active and 1 if not. config(index) walks the
/// parameters, dividing the index by that product as a mixed radix; a parameter that others'
/// conditions name keeps prefix sums of its values' subtree counts to find its block.
class Grid {
 public:
  /// @brief Throws std::invalid_argument for a real range without a point count, a parameter
  /// named by conditions with more than Parameter::max_listed_grid grid values, and a grid of
  /// more configurations than 64 bits count.
  explicit Grid(const SearchSpace& space) {
    auto built = std::make_shared<State>();
    State& state = *built;
    state.space = space;
    const auto& parameters = state.space.parameters();
    const std::size_t n = parameters.size();
    state.axes.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      Axis& axis = state.axes[i];
      axis.size = parameters[i].grid_size();
      if (const auto& condition = parameters[i].condition())
        state.axes[*state.space.index_of(condition->parameter)].children.push_back(i);
    }
    for (std::size_t i = 0; i < n; ++i) {
      Axis& axis = state.axes[i];
      if (!axis.children.empty() && axis.size > Parameter::max_listed_grid)
        throw std::invalid_argument(
            "hpt::SearchSpace: parameter \"" + parameters[i].name() + "\" has " +
            std::to_string(axis.size) + " grid values and conditions of later parameters name " +
            "it; a grid expands at most " + std::to_string(Parameter::max_listed_grid) +
            " values of such a parameter");
      if (!axis.children.empty() || parameters[i].is_listed())
        axis.values = parameters[i].grid_values();
    }
    // Subtree counts, children (declared later) first; an overflow matters only where it is used.
    std::vector<std::optional<std::uint64_t>> active(n);
    for (std::size_t i = n; i-- > 0;) {
      Axis& axis = state.axes[i];
      if (axis.children.empty()) {
        active[i] = axis.size;
        continue;
      }
      axis.prefix.assign(axis.values.size() + 1, 0);
      std::optional<std::uint64_t> sum = 0;
      for (std::size_t v = 0; v < axis.values.size(); ++v) {
        std::optional<std::uint64_t> block = 1;
        for (const std::size_t child : axis.children)
          if (parameters[child].condition()->test(axis.values[v]))
            block = times(block, active[child]);
        sum = plus(sum, block);
        axis.prefix[v + 1] = sum.value_or(0);
      }
      active[i] = sum;
    }
    std::optional<std::uint64_t> total = 1;
    for (std::size_t i = 0; i < n; ++i) {
      if (parameters[i].condition()) continue;  // inside a subtree: counted by its root
      total = times(total, active[i]);
      if (!total)
        throw std::invalid_argument(
            "hpt::SearchSpace: the grid has more configurations than 64 bits count (the count "
            "overflows at parameter \"" +
            parameters[i].name() + "\", with " + std::to_string(state.axes[i].size) +
            " grid values)");
    }
    for (std::size_t i = 0; i < n; ++i) state.axes[i].active = active[i].value_or(0);
    state.size = *total;
    state_ = std::move(built);
  }

  /// @brief How many configurations the grid has.
  [[nodiscard]] std::uint64_t size() const noexcept { return state_->size; }

  /// @brief The configuration at `index` in grid order; throws std::out_of_range past the end.
  [[nodiscard]] Config config(std::uint64_t index) const {
    const State& state = *state_;
    if (index >= state.size)
      throw std::out_of_range("hpt::Grid: no configuration " + std::to_string(index) +
                              " in a grid of " + std::to_string(state.size));
    const auto& parameters = state.space.parameters();
    Config config;
    config.reserve(parameters.size());
    std::uint64_t remaining = state.size;  // configurations sharing the parameters fixed so far
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const Parameter& parameter = parameters[i];
      if (!SearchSpace::is_active(parameter, config)) continue;
      const Axis& axis = state.axes[i];
      const std::uint64_t others = remaining / axis.active;  // the other open subtrees
      std::uint64_t value = 0;
      if (axis.children.empty()) {
        value = index / others;
        index %= others;
        remaining = others;
      } else {
        const auto block = std::upper_bound(axis.prefix.begin(), axis.prefix.end(), index / others);
        value = static_cast<std::uint64_t>(block - axis.prefix.begin()) - 1;
        index -= others * axis.prefix[value];
        remaining = others * (axis.prefix[value + 1] - axis.prefix[value]);
      }
      config.set(parameter.name(),
                 axis.values.empty() ? parameter.grid_value(value) : axis.values[value]);
    }
    return config;
  }

 private:
  struct Axis {
    std::uint64_t size = 0;             // grid values of the parameter
    std::vector<Value> values;          // listed when needed (choices, rounded, named by others)
    std::vector<std::size_t> children;  // parameters whose condition names this one
    std::vector<std::uint64_t> prefix;  // for a named one: subtree counts of the values before v
    std::uint64_t active = 0;           // configurations of its subtree when it is active
  };
  struct State {
    SearchSpace space;
    std::vector<Axis> axes;
    std::uint64_t size = 0;
  };

  static std::optional<std::uint64_t> times(std::optional<std::uint64_t> a,
                                            std::optional<std::uint64_t> b) {
    if (!a || !b || (*a != 0 && *b > std::numeric_limits<std::uint64_t>::max() / *a))
      return std::nullopt;
    return *a * *b;
  }
  static std::optional<std::uint64_t> plus(std::optional<std::uint64_t> a,
                                           std::optional<std::uint64_t> b) {
    if (!a || !b || *b > std::numeric_limits<std::uint64_t>::max() - *a) return std::nullopt;
    return *a + *b;
  }

  std::shared_ptr<const State> state_;
};

inline std::uint64_t SearchSpace::grid_size() const {
  return Grid(*this).size();
}

inline std::vector<Config> SearchSpace::grid() const {
  const Grid grid(*this);
  if (grid.size() > max_listed_grid)
    throw std::invalid_argument("hpt::SearchSpace: the grid has " + std::to_string(grid.size()) +
                                " configurations, more than " + std::to_string(max_listed_grid) +
                                " to list: use grid_size() and hpt::Grid(space).config(index)");
  std::vector<Config> configs;
  configs.reserve(static_cast<std::size_t>(grid.size()));
  for (std::uint64_t i = 0; i < grid.size(); ++i) configs.push_back(grid.config(i));
  return configs;
}

}  // namespace hpt
