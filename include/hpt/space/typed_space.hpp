#pragma once
/// @file typed_space.hpp
/// @brief A search space bound to the user's own struct through member pointers, so that a
/// trainable receives `const MyHyperparameters&` with checked types and no string look-ups.
///
/// ```
/// struct Hyper { double learning_rate; int hidden_units; Cell cell; };
/// auto space = hpt::space_of<Hyper>(
///     hpt::field(&Hyper::learning_rate, "learning_rate", hpt::log_uniform(1e-5, 1e-1)),
///     hpt::field(&Hyper::hidden_units, "hidden_units", hpt::int_range(16, 512, hpt::log_scale)),
///     hpt::field(&Hyper::cell, "cell", hpt::choice({Cell::lstm, Cell::gru})));
/// ```
/// A member whose type cannot hold the domain's values is a compile-time error.

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/space/hyperparameter.hpp"
#include "hpt/space/search_space.hpp"

namespace hpt {

/// @brief True when a member of type Member can hold every value of a DomainOf<T>: reals into
/// floating-point members, integers into integer members, other choices into the same type.
template <class Member, class T>
concept HoldsDomainValues = (std::floating_point<T> && std::floating_point<Member>) ||
                            (std::integral<T> && !std::same_as<T, bool> && std::integral<Member> &&
                             !std::same_as<Member, bool>) ||
                            (!std::is_arithmetic_v<T> && std::same_as<Member, T>) ||
                            (std::same_as<T, bool> && std::same_as<Member, bool>) ||
                            (std::convertible_to<T, std::string_view> &&
                             std::same_as<Member, std::string>);

/// @brief One struct member bound to a named parameter.
template <class Struct, class Member>
struct Field {
  Member Struct::*member;
  Parameter parameter;

  /// @brief The member is set only when `condition` holds; otherwise it keeps its default.
  [[nodiscard]] Field when(Condition condition) && {
    parameter = std::move(parameter).when(std::move(condition));
    return std::move(*this);
  }
  /// @brief Grid search uses `points` values of this member's range.
  [[nodiscard]] Field grid(std::size_t points) && {
    parameter = std::move(parameter).grid(points);
    return std::move(*this);
  }
};

/// @brief Binds `member` to the parameter `name` with the given domain.
template <class Struct, class Member, class T>
requires HoldsDomainValues<Member, T>
[[nodiscard]] Field<Struct, Member> field(Member Struct::*member, std::string name,
                                          DomainOf<T> domain) {
  return {member, Parameter(std::move(name), std::move(domain.domain))};
}

/// @brief A SearchSpace whose configurations convert to a Struct.
template <class Struct>
class TypedSpace {
 public:
  using Hyperparameters = Struct;

  template <class... Members>
  explicit TypedSpace(Field<Struct, Members>... fields) {
    (add(std::move(fields)), ...);
  }

  /// @brief The untyped space (for sampling, grids, printing).
  [[nodiscard]] const SearchSpace& space() const noexcept { return space_; }

  /// @brief The struct for a configuration; members of inactive parameters keep their defaults.
  [[nodiscard]] Struct bind(const Config& config) const {
    Struct result{};
    for (const auto& setter : setters_) setter(config, result);
    return result;
  }

 private:
  template <class Member>
  void add(Field<Struct, Member> field) {
    const std::string name = field.parameter.name();
    if constexpr (std::integral<Member> && !std::same_as<Member, bool>) {
      // An integer member too narrow for its range would fail every trial at bind time.
      auto fits = [](std::int64_t v) { return std::in_range<Member>(v); };
      const Domain& domain = field.parameter.domain();
      bool ok = true;
      if (const auto* range = std::get_if<IntegerDomain>(&domain))
        ok = fits(range->low) && fits(range->high);
      else if (const auto* choice = std::get_if<ChoiceDomain>(&domain))
        for (const auto& value : choice->choices)
          ok = ok && (!value.is_integer() || fits(value.as<std::int64_t>()));
      if (!ok)
        throw std::invalid_argument("hpt::space_of: parameter \"" + name +
                                    "\" has values that do not fit its struct member's type");
    }
    space_.add(std::move(field.parameter));
    setters_.push_back([name, member = field.member](const Config& config, Struct& target) {
      if (const Value* value = config.find(name)) target.*member = value->template as<Member>(name);
    });
  }

  SearchSpace space_;
  std::vector<std::function<void(const Config&, Struct&)>> setters_;
};

/// @brief A search space bound to Struct's members.
template <class Struct, class... Members>
[[nodiscard]] TypedSpace<Struct> space_of(Field<Struct, Members>... fields) {
  return TypedSpace<Struct>(std::move(fields)...);
}

}  // namespace hpt
