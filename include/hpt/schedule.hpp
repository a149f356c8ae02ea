#pragma once
/// @file schedule.hpp
/// @brief A strategy's plan (brackets of rungs, inspectable before running) and the protocol
/// between the study engine and a strategy's scheduler.
///
/// The protocol is ask/tell and tolerates results in any order: the engine asks `next()` for a job
/// (run trial t until it has consumed `resource` steps), runs it, and tells `report()` how it
/// went. `next()` returning nothing while jobs are outstanding means "wait for results"; once
/// `finished()` is true no job will ever come. A sequential engine and a parallel or distributed
/// one drive the same schedulers.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt {

/// @brief One rung of a bracket: how many configurations run to what resource.
struct Rung {
  /// How many configurations reach this rung; nothing when it depends on the run (ASHA).
  std::optional<std::size_t> configurations{};
  std::int64_t resource = 0;  ///< Cumulative steps a trial has done when it completes this rung.
};

/// @brief A sequence of rungs run as one successive-halving round (or a plain budget).
struct Bracket {
  int index = 0;  ///< For Hyperband, the paper's s; 0 otherwise.
  std::vector<Rung> rungs{};
};

/// @brief The whole plan of a strategy.
struct Schedule {
  std::string strategy{};
  std::vector<Bracket> brackets{};

  /// @brief The number of configurations the plan creates (the first rung of every bracket);
  /// nothing when a bracket's count depends on the run. Throws std::overflow_error, naming the
  /// bracket and the counts, when the sum does not fit in std::size_t (only a hand-built plan can
  /// be that large: the built-in strategies refuse such settings).
  [[nodiscard]] std::optional<std::size_t> trials() const {
    for (const auto& bracket : brackets)
      if (bracket.rungs.empty() || !bracket.rungs.front().configurations) return std::nullopt;
    std::size_t total = 0;
    for (std::size_t b = 0; b < brackets.size(); ++b) {
      const std::size_t count = *brackets[b].rungs.front().configurations;
      if (count > std::numeric_limits<std::size_t>::max() - total)
        throw std::overflow_error("hpt::Schedule::trials: " + where(b) +
                                  ", rung 0: " + std::to_string(count) + " configurations after " +
                                  std::to_string(total) + " make more than " +
                                  std::to_string(std::numeric_limits<std::size_t>::max()));
      total += count;
    }
    return total;
  }

  /// @brief Steps the plan spends at most: every rung's configurations times the extra steps
  /// the rung adds (promoted trials resume, they do not start over); nothing when a rung's count
  /// depends on the run. Throws, naming the bracket, the rung and the values,
  /// std::invalid_argument for a rung whose resource is negative or below the previous rung's
  /// (resources are cumulative), and std::overflow_error when the total does not fit in int64
  /// (only a hand-built plan can be either: the built-in strategies refuse such settings).
  [[nodiscard]] std::optional<std::int64_t> total_resource() const {
    for (const auto& bracket : brackets)
      for (const auto& rung : bracket.rungs)
        if (!rung.configurations) return std::nullopt;
    const auto most = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    std::uint64_t total = 0;  // at most `most`
    for (std::size_t b = 0; b < brackets.size(); ++b) {
      std::int64_t previous = 0;
      for (std::size_t r = 0; r < brackets[b].rungs.size(); ++r) {
        const Rung& rung = brackets[b].rungs[r];
        const auto at = [&] { return where(b) + ", rung " + std::to_string(r) + ": "; };
        if (rung.resource < previous)
          throw std::invalid_argument(
              "hpt::Schedule::total_resource: " + at() +
              "resource = " + std::to_string(rung.resource) + " is below " +
              (r == 0 ? std::string("0")
                      : "the previous rung's " + std::to_string(previous) +
                            " (a rung's resource is the cumulative steps of its trials)"));
        // In unsigned arithmetic: the count may exceed int64 (the added steps cannot).
        const auto added =
            static_cast<std::uint64_t>(rung.resource) - static_cast<std::uint64_t>(previous);
        const auto count = static_cast<std::uint64_t>(*rung.configurations);
        previous = rung.resource;
        if (added != 0 && count > (most - total) / added)
          throw std::overflow_error(
              "hpt::Schedule::total_resource: " + at() + std::to_string(count) +
              " configurations x " + std::to_string(added) + " more steps after " +
              std::to_string(total) + " make more than " + std::to_string(most) + " steps");
        total += count * added;
      }
    }
    return static_cast<std::int64_t>(total);
  }

  friend std::ostream& operator<<(std::ostream& out, const Schedule& schedule) {
    out << schedule.strategy << '\n';
    for (const auto& bracket : schedule.brackets) {
      out << "  bracket " << bracket.index << ':';
      for (const auto& rung : bracket.rungs) {
        out << "  ";
        if (rung.configurations)
          out << *rung.configurations;
        else
          out << '*';
        out << " x " << rung.resource;
      }
      out << '\n';
    }
    return out;
  }

 private:
  /// E.g. "bracket 1 (index 3)", for messages: a hand-built plan's indices may repeat.
  [[nodiscard]] std::string where(std::size_t position) const {
    return "bracket " + std::to_string(position) + " (index " +
           std::to_string(brackets[position].index) + ")";
  }
};

/// @brief Work for the engine: run `trial` until it has done `resource` steps in all.
struct Job {
  std::size_t trial = 0;
  std::int64_t resource = 0;
  int bracket = 0;
  int rung = 0;
  bool last_rung = false;  ///< Reaching `resource` completes the trial.
};

/// @brief How a job went, as the scheduler needs it.
struct Outcome {
  /// The trial's result as a loss (negated when maximizing); NaN for failed or diverged trials.
  double loss = std::numeric_limits<double>::quiet_NaN();
  /// The trial reached the job's resource and can be resumed (not stopped, failed or done).
  bool can_continue = false;
};

/// @brief A scheduler's decision not to continue a paused trial.
struct Pruning {
  std::size_t trial = 0;
  int rung = 0;
  std::string reason{};
};

namespace detail {

/// @brief base^exponent in integers; throws std::overflow_error rather than wrapping.
inline std::int64_t integer_power(std::int64_t base, int exponent) {
  std::int64_t result = 1;
  for (int i = 0; i < exponent; ++i) {
    if (result > std::numeric_limits<std::int64_t>::max() / base)
      throw std::overflow_error("hpt: " + std::to_string(base) + "^" + std::to_string(exponent) +
                                " overflows 64 bits");
    result *= base;
  }
  return result;
}

/// @brief The largest s with low * base^s <= high, in exact integer arithmetic (floating-point
/// log(243)/log(3) is 4.999... and would silently lose a Hyperband bracket).
inline int integer_log(std::int64_t high, std::int64_t low, std::int64_t base) {
  int s = 0;
  std::int64_t value = low;
  while (value <= high / base) {
    value *= base;
    ++s;
  }
  return s;
}

/// @brief floor(log_base(value)): the largest k with base^k <= value, in exact integer
/// arithmetic (0 for value < base); base must be at least 2. For counts of configurations,
/// which are unsigned.
inline int floor_log(std::uint64_t value, std::uint64_t base) {
  int k = 0;
  for (std::uint64_t power = 1; power <= value / base; power *= base) ++k;
  return k;
}

/// @brief ceil(numerator / denominator) for a positive denominator, without overflow.
inline std::uint64_t ceil_div(std::uint64_t numerator, std::uint64_t denominator) {
  return numerator / denominator + (numerator % denominator != 0 ? 1 : 0);
}

[[noreturn]] inline void invalid_setting(const std::string& strategy, const std::string& field,
                                         const std::string& value, const std::string& rule) {
  throw std::invalid_argument("hpt::" + strategy + ": " + field + " = " + value + " " + rule);
}

inline void check_budget(const std::string& strategy, std::int64_t min_resource,
                         std::int64_t max_resource, std::int64_t reduction_factor) {
  if (min_resource < 1)
    invalid_setting(strategy, "min_resource", std::to_string(min_resource), "must be at least 1");
  if (max_resource < min_resource)
    invalid_setting(strategy, "max_resource", std::to_string(max_resource),
                    "must be at least min_resource (" + std::to_string(min_resource) + ")");
  if (reduction_factor < 2)
    invalid_setting(strategy, "reduction_factor", std::to_string(reduction_factor),
                    "must be at least 2");
}

}  // namespace detail
}  // namespace hpt
