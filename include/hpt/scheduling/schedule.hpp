#pragma once
/// @file schedule.hpp
/// @brief A strategy's plan: brackets of rungs, inspectable before running (the protocol that
/// runs it is in protocol.hpp).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
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

/// @brief The schedule `text` as operator<< prints it (the strategy's line, then one line per
/// bracket: "  bracket <index>:" and "  <configurations or *> x <resource>" per rung), e.g. a
/// stored study's plan. Throws std::invalid_argument naming the line and what is wrong.
inline Schedule parse_schedule(std::string_view text) {
  Schedule schedule;
  std::size_t line_number = 0;
  const auto refuse = [&](std::string_view line, const std::string& why) {
    throw std::invalid_argument("hpt::parse_schedule: line " + std::to_string(line_number) +
                                " (\"" + std::string(line.substr(0, 80)) + "\"): " + why);
  };
  const auto skip_spaces = [](std::string_view& rest) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  };
  const auto take_integer = [&](std::string_view line, std::string_view& rest, auto& value,
                                const char* what) {
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (error != std::errc{} || end == rest.data())
      refuse(line,
             std::string("expected ") + what + " at \"" + std::string(rest.substr(0, 20)) + "\"");
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
  };
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line_number == 1) {
      schedule.strategy = std::string(line);
      continue;
    }
    if (line.empty() && text.empty()) break;  // the final newline
    std::string_view rest = line;
    constexpr std::string_view head = "  bracket ";
    if (!rest.starts_with(head)) refuse(line, "expected \"  bracket <index>:\"");
    rest.remove_prefix(head.size());
    Bracket bracket;
    take_integer(line, rest, bracket.index, "a bracket index");
    if (!rest.starts_with(':')) refuse(line, "expected ':' after the bracket index");
    rest.remove_prefix(1);
    for (;;) {
      skip_spaces(rest);
      if (rest.empty()) break;
      Rung rung;
      if (rest.front() == '*') {
        rest.remove_prefix(1);
      } else {
        std::size_t configurations = 0;
        take_integer(line, rest, configurations, "a number of configurations or '*'");
        rung.configurations = configurations;
      }
      if (!rest.starts_with(" x ")) refuse(line, "expected \" x <resource>\" in a rung");
      rest.remove_prefix(3);
      take_integer(line, rest, rung.resource, "a resource");
      bracket.rungs.push_back(rung);
    }
    schedule.brackets.push_back(std::move(bracket));
  }
  if (line_number == 0) throw std::invalid_argument("hpt::parse_schedule: the text is empty");
  return schedule;
}

}  // namespace hpt
