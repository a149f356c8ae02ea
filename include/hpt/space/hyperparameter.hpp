#pragma once
/// @file hyperparameter.hpp
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

#include "hpt/core/random.hpp"
#include "hpt/core/value.hpp"
#include "hpt/space/condition.hpp"

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
  /// The most values grid_values() lists, and the most points of an integer grid given by
  /// .grid(points) on a log scale (rounding merges its points, so they are listed to be counted).
  /// Other grids of any size are computed point by point.
  static constexpr std::uint64_t max_listed_grid = 1'000'000;

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

  /// @brief How many values grid search enumerates, counted without listing them. Throws
  /// std::invalid_argument for a real range without a point count, an integer range of more
  /// than max_integer_grid integers without one, and a log-scale integer grid of more than
  /// max_listed_grid points.
  [[nodiscard]] std::uint64_t grid_size() const {
    return std::visit([&](const auto& domain) { return count_of(domain); }, domain_);
  }

  /// @brief The grid value at `index` (< grid_size()), computed on its own: O(1), except for a
  /// rounded integer grid (.grid(points) with points <= max_listed_grid), which is listed first.
  /// Throws std::out_of_range past the end.
  [[nodiscard]] Value grid_value(std::uint64_t index) const {
    const auto listed = is_listed() ? grid_values() : std::vector<Value>{};
    const std::uint64_t size = is_listed() ? listed.size() : grid_size();
    if (index >= size)
      throw std::out_of_range("hpt: parameter \"" + name_ + "\": no grid value " +
                              std::to_string(index) + " in a grid of " + std::to_string(size));
    if (is_listed()) return listed[static_cast<std::size_t>(index)];
    return std::visit([&](const auto& domain) { return value_of(domain, index); }, domain_);
  }

  /// @brief The values grid search enumerates, in order. Throws std::invalid_argument as
  /// grid_size() does, and for more than max_listed_grid values (use grid_value()).
  [[nodiscard]] std::vector<Value> grid_values() const {
    if (const auto* d = std::get_if<ChoiceDomain>(&domain_)) return d->choices;
    if (const auto* d = std::get_if<IntegerDomain>(&domain_); d && d->grid_points && is_listed())
      return rounded_grid(*d);
    const std::uint64_t size = grid_size();
    if (size > max_listed_grid)
      detail::invalid(name_, "its grid has " + std::to_string(size) + " values, more than " +
                                 std::to_string(max_listed_grid) +
                                 " to list: use grid_size() and grid_value(index)");
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(size));
    for (std::uint64_t i = 0; i < size; ++i)
      values.push_back(
          std::visit([&](const auto& domain) { return value_of(domain, i); }, domain_));
    return values;
  }

  /// @brief True when the grid's values are only known by listing them (choices, and integer
  /// grids whose points rounding may merge): a grid enumerator keeps those lists.
  [[nodiscard]] bool is_listed() const noexcept {
    if (std::holds_alternative<ChoiceDomain>(domain_)) return true;
    const auto* d = std::get_if<IntegerDomain>(&domain_);
    return d && d->grid_points && *d->grid_points <= max_listed_grid;
  }

 private:
  static Value sample_from(const RealDomain& d, Random& random) {
    // exp(log(x)) may land an ulp outside [low, high]: keep samples in the domain.
    if (d.scale == Scale::log)
      return std::clamp(std::exp(random.uniform(std::log(d.low), std::log(d.high))), d.low, d.high);
    return random.uniform(d.low, d.high);
  }
  static Value sample_from(const IntegerDomain& d, Random& random) {
    if (d.scale == Scale::linear) return random.between(d.low, d.high);
    // Log-uniform over the integers: sample the real range widened by half a unit on each side so
    // that the end points get their fair share, then round.
    const double x = std::exp(random.uniform(std::log(static_cast<double>(d.low) - 0.5),
                                             std::log(static_cast<double>(d.high) + 0.5)));
    return round_into(x, d.low, d.high);
  }
  static Value sample_from(const ChoiceDomain& d, Random& random) {
    return d.choices[random.below(d.choices.size())];
  }

  /// llround(x) clamped to [low, high]. llround is unspecified outside int64 (on x86 2^63, which
  /// is INT64_MAX as a double, becomes INT64_MIN), so out-of-range x is clamped before it.
  static std::int64_t round_into(double x, std::int64_t low, std::int64_t high) {
    if (!(x < 0x1p63)) return high;
    if (x < -0x1p63) return low;
    return std::clamp(static_cast<std::int64_t>(std::llround(x)), low, high);
  }

  static double spaced(double low, double high, Scale scale, std::uint64_t i,
                       std::uint64_t points) {
    if (i == 0) return low;
    if (i + 1 == points) return high;  // exact end points, whatever the rounding
    const double t = static_cast<double>(i) / static_cast<double>(points - 1);
    if (scale == Scale::log)
      return std::clamp(std::exp(std::log(low) + t * (std::log(high) - std::log(low))), low, high);
    const double width = high - low;
    if (std::isfinite(width)) return low + t * width;
    // Wider than the largest double: interpolate so that no point becomes infinite.
    return std::clamp(low * (1 - t) + high * t, low, high);
  }

  /// The distance high - low, which overflows int64 for ranges wider than half of it.
  static std::uint64_t span(const IntegerDomain& d) {
    return static_cast<std::uint64_t>(d.high) - static_cast<std::uint64_t>(d.low);
  }

  /// Every integer of the range: without a point count, or with more points than integers.
  static bool every_integer(const IntegerDomain& d) {
    return !d.grid_points || *d.grid_points - 1 >= span(d);
  }

  /// round(a * b / d) for a <= d, rounding halves up, without a 128-bit type: long
  /// multiplication over the bits of a, holding b * 2^i as quotient and remainder by d.
  static std::uint64_t scaled(std::uint64_t a, std::uint64_t b, std::uint64_t d) {
    std::uint64_t quotient = 0, remainder = 0;           // the product so far, divided by d
    std::uint64_t part = b / d, part_remainder = b % d;  // b * 2^i divided by d
    for (; a != 0; a >>= 1) {
      if (a & 1) {
        quotient += part;
        if (remainder >= d - part_remainder) {
          remainder -= d - part_remainder;
          ++quotient;
        } else {
          remainder += part_remainder;
        }
      }
      if (a == 1) break;  // doubling further could overflow and is not needed
      part *= 2;
      if (part_remainder >= d - part_remainder) {
        part_remainder -= d - part_remainder;
        ++part;
      } else {
        part_remainder *= 2;
      }
    }
    return quotient + (remainder >= d - remainder ? 1 : 0);
  }

  std::uint64_t count_of(const RealDomain& d) const {
    if (!d.grid_points)
      detail::invalid(name_,
                      "grid search over a real range needs a point count: use .grid(points)");
    return *d.grid_points;
  }
  std::uint64_t count_of(const IntegerDomain& d) const {
    if (!d.grid_points) {
      // Every integer, up to a limit: a grid over 0 .. 1e12 is a mistake, not a plan.
      if (span(d) >= max_integer_grid)
        detail::invalid(name_, "grid search over " + std::to_string(d.low) + " .. " +
                                   std::to_string(d.high) + " would enumerate more than " +
                                   std::to_string(max_integer_grid) +
                                   " integers: use .grid(points)");
      return span(d) + 1;
    }
    if (*d.grid_points <= max_listed_grid) return rounded_grid(d).size();
    if (every_integer(d)) return span(d) + 1;  // no overflow: span < points
    if (d.scale == Scale::log)
      detail::invalid(name_, "a log-scale integer grid takes at most " +
                                 std::to_string(max_listed_grid) + " points, got " +
                                 std::to_string(*d.grid_points));
    return *d.grid_points;
  }
  std::uint64_t count_of(const ChoiceDomain& d) const { return d.choices.size(); }

  Value value_of(const RealDomain& d, std::uint64_t i) const {
    return spaced(d.low, d.high, d.scale, i, *d.grid_points);
  }
  /// Unlisted integer grids: every integer, or more than max_listed_grid linear points, spaced
  /// exactly in integers (points - 1 <= span, so no two round to the same integer).
  Value value_of(const IntegerDomain& d, std::uint64_t i) const {
    const std::uint64_t offset = every_integer(d) ? i : scaled(i, span(d), *d.grid_points - 1);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(d.low) + offset);
  }
  Value value_of(const ChoiceDomain& d, std::uint64_t i) const {
    return d.choices[static_cast<std::size_t>(i)];
  }

  /// An integer grid of at most max_listed_grid points, spaced in doubles and rounded; points
  /// that round to the same integer appear once. The end points are exact.
  static std::vector<Value> rounded_grid(const IntegerDomain& d) {
    std::vector<Value> values;
    const std::uint64_t points = *d.grid_points;
    for (std::uint64_t i = 0; i < points; ++i) {
      const std::int64_t v =
          i == 0            ? d.low
          : i + 1 == points ? d.high
                            : round_into(spaced(static_cast<double>(d.low),
                                                static_cast<double>(d.high), d.scale, i, points),
                                         d.low, d.high);
      if (values.empty() || values.back() != Value(v)) values.emplace_back(v);  // rounding ties
    }
    return values;
  }

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
