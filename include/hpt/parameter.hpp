#pragma once
/// @file parameter.hpp
/// @brief Hyperparameter domains and the builders that declare them.
///
/// `hpt::log_uniform("learning_rate", 1e-6, 1e-1)` declares a named parameter for a SearchSpace;
/// the same builders without a name (`hpt::log_uniform(1e-6, 1e-1)`) give a Domain for binding a
/// struct member (see typed_space.hpp).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/condition.hpp"
#include "hpt/random.hpp"
#include "hpt/value.hpp"

namespace hpt {

/// @brief How a numeric range is sampled and gridded.
enum class Scale { linear, log };
inline constexpr Scale linear_scale = Scale::linear;
inline constexpr Scale log_scale = Scale::log;

/// @brief Real numbers in [low, high] (sampled in [low, high)), uniform or log-uniform.
struct RealDomain {
  double low = 0;
  double high = 1;
  Scale scale = Scale::linear;
  std::optional<std::size_t> grid_points{};  ///< Required for grid search.
};

/// @brief Integers in [low, high], uniform or log-uniform.
struct IntegerDomain {
  std::int64_t low = 0;
  std::int64_t high = 1;
  Scale scale = Scale::linear;
  std::optional<std::size_t> grid_points{};  ///< Grid search uses every integer when absent.
};

/// @brief A finite set of values: categorical (unordered) or an ordered list (ordinal), e.g.
/// learning rates 1e-1 ... 1e-6. Both sample uniformly; the order matters to model-based samplers.
struct ChoiceDomain {
  std::vector<Value> choices;
  bool ordered = false;
};

/// @brief The values a parameter can take.
using Domain = std::variant<RealDomain, IntegerDomain, ChoiceDomain>;

namespace detail {

[[noreturn]] inline void invalid(const std::string& name, const std::string& what) {
  throw std::invalid_argument("hpt: parameter \"" + name + "\": " + what);
}

inline void validate_domain(const std::string& name, const Domain& domain) {
  if (const auto* real = std::get_if<RealDomain>(&domain)) {
    if (!std::isfinite(real->low) || !std::isfinite(real->high))
      invalid(name, "bounds must be finite, got low " + format_real(real->low) + " and high " +
                        format_real(real->high));
    if (!(real->low < real->high))
      invalid(name,
              "low " + format_real(real->low) + " must be below high " + format_real(real->high));
    if (real->scale == Scale::log && real->low <= 0)
      invalid(name, "a log scale needs low > 0, got low " + format_real(real->low));
    if (real->grid_points && *real->grid_points < 2)
      invalid(name, "a grid over a range needs at least 2 points, got " +
                        std::to_string(*real->grid_points));
  } else if (const auto* integer = std::get_if<IntegerDomain>(&domain)) {
    if (!(integer->low < integer->high))
      invalid(name, "low " + std::to_string(integer->low) + " must be below high " +
                        std::to_string(integer->high));
    if (integer->scale == Scale::log && integer->low < 1)
      invalid(name, "an integer log scale needs low >= 1, got low " + std::to_string(integer->low));
    if (integer->grid_points && *integer->grid_points < 2)
      invalid(name, "a grid over a range needs at least 2 points, got " +
                        std::to_string(*integer->grid_points));
  } else {
    const auto& choice = std::get<ChoiceDomain>(domain);
    if (choice.choices.empty()) invalid(name, "the list of choices is empty");
    for (std::size_t i = 0; i < choice.choices.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (choice.choices[i] == choice.choices[j])
          invalid(name, "the choice " + choice.choices[i].describe() + " appears twice");
  }
}

}  // namespace detail

/// @brief A named parameter of a search space, optionally conditional on an earlier one.
class Parameter {
 public:
  /// The most integers a grid enumerates for a range without a point count.
  static constexpr std::uint64_t max_integer_grid = 1'000'000;

  Parameter(std::string name, Domain domain) : name_(std::move(name)), domain_(std::move(domain)) {
    if (name_.empty()) throw std::invalid_argument("hpt: a parameter name must not be empty");
    detail::validate_domain(name_, domain_);
  }

  /// @brief Grid search uses `points` values of this range (log-spaced on a log scale).
  [[nodiscard]] Parameter grid(std::size_t points) && {
    std::visit(
        [&](auto& domain) {
          if constexpr (requires { domain.grid_points; }) {
            domain.grid_points = points;
          } else {
            detail::invalid(name_, "grid points apply to ranges, not to choices");
          }
        },
        domain_);
    detail::validate_domain(name_, domain_);
    return std::move(*this);
  }

  /// @brief The parameter exists only when `condition` holds.
  [[nodiscard]] Parameter when(Condition condition) && {
    condition_ = std::move(condition);
    return std::move(*this);
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const Domain& domain() const noexcept { return domain_; }
  [[nodiscard]] const std::optional<Condition>& condition() const noexcept { return condition_; }

  /// @brief A random value from the domain.
  [[nodiscard]] Value sample(Random& random) const {
    return std::visit([&](const auto& domain) { return sample_from(domain, random); }, domain_);
  }

  /// @brief The values grid search enumerates; throws std::invalid_argument for a real range
  /// without a point count.
  [[nodiscard]] std::vector<Value> grid_values() const {
    return std::visit([&](const auto& domain) { return grid_of(domain); }, domain_);
  }

 private:
  static Value sample_from(const RealDomain& d, Random& random) {
    if (d.scale == Scale::log) return std::exp(random.uniform(std::log(d.low), std::log(d.high)));
    return random.uniform(d.low, d.high);
  }
  static Value sample_from(const IntegerDomain& d, Random& random) {
    if (d.scale == Scale::linear) return random.between(d.low, d.high);
    // Log-uniform over the integers: sample the real range widened by half a unit on each side so
    // that the end points get their fair share, then round.
    const double x = std::exp(random.uniform(std::log(static_cast<double>(d.low) - 0.5),
                                             std::log(static_cast<double>(d.high) + 0.5)));
    auto rounded = static_cast<std::int64_t>(std::llround(x));
    return std::clamp(rounded, d.low, d.high);
  }
  static Value sample_from(const ChoiceDomain& d, Random& random) {
    return d.choices[random.below(d.choices.size())];
  }

  static double spaced(double low, double high, Scale scale, std::size_t i, std::size_t points) {
    if (i == 0) return low;
    if (i + 1 == points) return high;  // exact end points, whatever the rounding
    const double t = static_cast<double>(i) / static_cast<double>(points - 1);
    if (scale == Scale::log) return std::exp(std::log(low) + t * (std::log(high) - std::log(low)));
    return low + t * (high - low);
  }

  std::vector<Value> grid_of(const RealDomain& d) const {
    if (!d.grid_points)
      detail::invalid(name_,
                      "grid search over a real range needs a point count: use .grid(points)");
    std::vector<Value> values;
    for (std::size_t i = 0; i < *d.grid_points; ++i)
      values.emplace_back(spaced(d.low, d.high, d.scale, i, *d.grid_points));
    return values;
  }
  std::vector<Value> grid_of(const IntegerDomain& d) const {
    std::vector<Value> values;
    if (!d.grid_points) {
      // Every integer, up to a limit: a grid over 0 .. 1e12 is a mistake, not a plan.
      const std::uint64_t count =
          static_cast<std::uint64_t>(d.high) - static_cast<std::uint64_t>(d.low) + 1;
      if (count == 0 || count > max_integer_grid)
        detail::invalid(name_, "grid search over " + std::to_string(d.low) + " .. " +
                                   std::to_string(d.high) + " would enumerate more than " +
                                   std::to_string(max_integer_grid) +
                                   " integers: use .grid(points)");
      for (std::uint64_t i = 0; i < count; ++i)
        values.emplace_back(static_cast<std::int64_t>(static_cast<std::uint64_t>(d.low) + i));
      return values;
    }
    for (std::size_t i = 0; i < *d.grid_points; ++i) {
      const auto v = static_cast<std::int64_t>(std::llround(spaced(
          static_cast<double>(d.low), static_cast<double>(d.high), d.scale, i, *d.grid_points)));
      if (values.empty() || values.back() != Value(v)) values.emplace_back(v);  // rounding ties
    }
    return values;
  }
  std::vector<Value> grid_of(const ChoiceDomain& d) const { return d.choices; }

  std::string name_;
  Domain domain_;
  std::optional<Condition> condition_{};
};

/// @brief Reals in [low, high], uniform.
inline Parameter uniform(std::string name, double low, double high) {
  return {std::move(name), RealDomain{low, high, Scale::linear}};
}
/// @brief Reals in [low, high], log-uniform (low > 0).
inline Parameter log_uniform(std::string name, double low, double high) {
  return {std::move(name), RealDomain{low, high, Scale::log}};
}
/// @brief Integers in [low, high], uniform or log-uniform.
inline Parameter int_range(std::string name, std::int64_t low, std::int64_t high,
                           Scale scale = Scale::linear) {
  return {std::move(name), IntegerDomain{low, high, scale}};
}
/// @brief One of `choices` (numbers, strings, booleans or enums), unordered.
inline Parameter choice(std::string name, std::vector<Value> choices) {
  return {std::move(name), ChoiceDomain{std::move(choices), false}};
}
/// @brief One of an ordered list of values, e.g. minibatch sizes 1, 2, 4, ..., 256.
inline Parameter ordinal(std::string name, std::vector<Value> values) {
  return {std::move(name), ChoiceDomain{std::move(values), true}};
}

/// @brief An unnamed domain with its value type, for binding struct members (typed_space.hpp).
template <class T>
struct DomainOf {
  Domain domain;
};

/// @brief Unnamed: reals in [low, high], uniform.
inline DomainOf<double> uniform(double low, double high) {
  return {RealDomain{low, high, Scale::linear}};
}
/// @brief Unnamed: reals in [low, high], log-uniform.
inline DomainOf<double> log_uniform(double low, double high) {
  return {RealDomain{low, high, Scale::log}};
}
/// @brief Unnamed: integers in [low, high].
inline DomainOf<std::int64_t> int_range(std::int64_t low, std::int64_t high,
                                        Scale scale = Scale::linear) {
  return {IntegerDomain{low, high, scale}};
}
/// @brief Unnamed: one of `choices`, all of type T.
template <class T>
DomainOf<T> choice(std::initializer_list<T> choices) {
  ChoiceDomain domain;
  for (const T& c : choices) domain.choices.emplace_back(c);
  return {std::move(domain)};
}
/// @brief Unnamed: one of an ordered list of values of type T.
template <class T>
DomainOf<T> ordinal(std::initializer_list<T> values) {
  auto result = choice(values);
  std::get<ChoiceDomain>(result.domain).ordered = true;
  return result;
}

}  // namespace hpt
