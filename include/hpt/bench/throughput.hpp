#pragma once
/// @file throughput.hpp
/// @brief Samples per second of a trainer (or of any callable) at each of several minibatch
/// sizes, to see where a larger minibatch stops paying off on this machine.
///
/// ```cpp
/// auto table = hpt::measure_throughput(make_trainer, {1, 2, 4, 8, 16, 32, 64, 128, 256});
/// table.print(std::cout);  // minibatch, samples/s (median, spread, min, max), s/call, calls
/// ```
/// `make_trainer(minibatch_size)` returns what is timed: a Trainable (one step() per call) or a
/// callable with no arguments that processes one minibatch. See docs/throughput.md.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iomanip>
#include <ios>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hpt/core/format.hpp"
#include "hpt/core/metrics.hpp"
#include "hpt/trial/trainable.hpp"

namespace hpt {

/// @brief What measure_throughput can time: a Trainable (one call is one step()) or a callable
/// with no arguments that processes one minibatch. A type that is both is timed as a Trainable.
template <class T>
concept Measurable = Trainable<T> || std::invocable<T&>;

/// @brief How long and how often measure_throughput times each minibatch size.
struct ThroughputOptions {
  /// Untimed calls before anything is timed: first calls size workspaces and warm the caches.
  int warmup_calls = 3;
  /// Timed repeats per size; a row reports their median, minimum and maximum.
  int repeats = 5;
  /// Each repeat runs calls until at least this many seconds have passed.
  double min_seconds_per_repeat = 0.05;
  /// The current time in seconds from any fixed origin. Empty: std::chrono::steady_clock. Set it
  /// to time with another clock, or to a fake clock in tests.
  std::function<double()> clock{};

  /// @brief Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    if (warmup_calls < 0) fail("warmup_calls", std::to_string(warmup_calls), "must be >= 0");
    if (repeats < 1) fail("repeats", std::to_string(repeats), "must be >= 1");
    if (!(std::isfinite(min_seconds_per_repeat) && min_seconds_per_repeat > 0))
      fail("min_seconds_per_repeat", format_short(min_seconds_per_repeat),
           "must be finite and > 0");
  }

 private:
  [[noreturn]] static void fail(const std::string& field, const std::string& value,
                                const std::string& rule) {
    throw std::invalid_argument("hpt::ThroughputOptions: " + field + " = " + value + " " + rule);
  }
};

/// @brief The throughput measured at one minibatch size.
struct ThroughputRow {
  std::size_t minibatch_size = 0;
  /// Samples per second: the median over repeats (each repeat: its samples / its seconds).
  double median_samples_per_second = 0;
  double min_samples_per_second = 0;  ///< The slowest repeat.
  double max_samples_per_second = 0;  ///< The fastest repeat.
  /// Seconds per call: the median over repeats of a repeat's seconds / its calls.
  double seconds_per_call = 0;
  /// Timed calls over all repeats (warm-up and calibration calls are not counted).
  std::size_t calls = 0;

  /// @brief (max - min) / median of samples per second: 0.05 means the repeats lay within 5% of
  /// the median's size. Compare it with the differences between rows before trusting them.
  [[nodiscard]] double spread() const noexcept {
    return (max_samples_per_second - min_samples_per_second) / median_samples_per_second;
  }
};

/// @brief One row per minibatch size, in the order the sizes were given.
struct ThroughputTable {
  std::vector<ThroughputRow> rows{};

  /// @brief The row with the highest median samples per second (the first of equals); throws
  /// std::logic_error when the table is empty.
  [[nodiscard]] const ThroughputRow& best() const {
    require_rows("best");
    return *std::max_element(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return a.median_samples_per_second < b.median_samples_per_second;
    });
  }

  /// @brief The knee: the row with the smallest minibatch size whose median samples per second is
  /// at least (1 - tolerance) times the best's, so no measured size runs more than 1 / (1 -
  /// tolerance) times faster. Throws std::invalid_argument for a tolerance outside [0, 1),
  /// std::logic_error when the table is empty.
  [[nodiscard]] const ThroughputRow& knee(double tolerance = 0.1) const {
    if (!(tolerance >= 0 && tolerance < 1))
      throw std::invalid_argument("hpt::ThroughputTable::knee: tolerance = " +
                                  format_short(tolerance) + " must be in [0, 1)");
    const double needed = (1 - tolerance) * best().median_samples_per_second;
    const ThroughputRow* found = nullptr;
    for (const auto& row : rows)
      if (row.median_samples_per_second >= needed &&
          (found == nullptr || row.minibatch_size < found->minibatch_size))
        found = &row;
    return found != nullptr ? *found : best();  // none only when the best median is NaN
  }

  /// @brief A header and one line per row (minibatch, samples/s as median, share of the best,
  /// spread, min and max, seconds per call, calls), then the best row and the knee for
  /// `knee_tolerance`, and a note when the spread of either exceeds that tolerance.
  void print(std::ostream& out, double knee_tolerance = 0.1) const {
    const ThroughputRow* knee_row = rows.empty() ? nullptr : &knee(knee_tolerance);
    const double best_rate = rows.empty() ? 0 : best().median_samples_per_second;
    const auto flags = out.flags();
    out << std::left << std::setw(11) << "minibatch" << std::setw(12) << "samples/s" << std::setw(9)
        << "of best" << std::setw(9) << "spread" << std::setw(12) << "min" << std::setw(12) << "max"
        << std::setw(12) << "s/call"
        << "calls\n";
    for (const auto& row : rows) {
      out << std::setw(11) << row.minibatch_size << std::setw(12)
          << rate(row.median_samples_per_second) << std::setw(9)
          << percent(row.median_samples_per_second / best_rate) << std::setw(9)
          << percent(row.spread()) << std::setw(12) << rate(row.min_samples_per_second)
          << std::setw(12) << rate(row.max_samples_per_second) << std::setw(12)
          << significant(row.seconds_per_call) << row.calls << '\n';
    }
    out.flags(flags);
    if (knee_row == nullptr) return;
    const ThroughputRow& top = best();
    out << "best: minibatch " << top.minibatch_size << " at " << rate(top.median_samples_per_second)
        << " samples/s; knee: minibatch " << knee_row->minibatch_size << ", the smallest within "
        << format_short(100 * knee_tolerance) << "% of the best\n";
    // The knee compares medians; a spread wider than the tolerance makes that comparison noise.
    for (const ThroughputRow* row : {knee_row, &top}) {
      if (row->spread() > knee_tolerance) {
        out << "note: the spread at minibatch " << row->minibatch_size
            << " exceeds the tolerance; raise repeats or min_seconds_per_repeat\n";
        break;
      }
    }
  }

 private:
  void require_rows(const char* what) const {
    if (rows.empty())
      throw std::logic_error(std::string("hpt::ThroughputTable::") + what + ": the table is empty");
  }
  static std::string text(double value, std::chars_format format, int precision) {
    char buffer[400];  // the widest double in fixed notation fits
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, format, precision);
    return std::string(buffer, result.ptr);
  }
  // Four significant digits: more would be timing noise.
  static std::string significant(double value) {
    return text(value, std::chars_format::general, 4);
  }
  // Whole samples per second from 1000 on ("21000" reads better than "2.1e+04").
  static std::string rate(double value) {
    return value >= 1000 ? text(value, std::chars_format::fixed, 0) : significant(value);
  }
  static std::string percent(double share) {
    return text(100 * share, std::chars_format::fixed, 1) + "%";
  }
};

namespace detail {

/// A calibrated batch of calls lasts at least this share of a repeat; the clock is read once per
/// batch, so its cost (tens of nanoseconds) disappears in the batch's.
inline constexpr double throughput_batch_share = 1.0 / 16;
/// Calibration stops doubling the batch here: a million calls per clock read is overhead enough.
inline constexpr std::uint64_t throughput_max_batch = std::uint64_t{1} << 20;

inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double checked_samples(double samples) {
  if (!(std::isfinite(samples) && samples >= 0))
    throw std::runtime_error("a call reported " + format_short(samples) +
                             " samples (must be finite and >= 0)");
  return samples;
}

/// The samples a call's Metrics report ("samples"), else `fallback`.
inline double samples_in(const Metrics& metrics, double fallback) {
  const double* samples = metrics.find("samples");
  return samples != nullptr ? checked_samples(*samples) : fallback;
}

/// Runs one call (one step() of a Trainable) and returns the samples it processed.
template <Measurable T>
double call_once(T& subject, std::size_t minibatch_size) {
  const auto fallback = static_cast<double>(minibatch_size);
  if constexpr (Trainable<T>) {
    // A number from step() is the objective, never a count.
    if constexpr (std::convertible_to<decltype(subject.step()), Metrics>) {
      return samples_in(subject.step(), fallback);
    } else {
      (void)subject.step();
      return fallback;
    }
  } else {
    using Result = std::invoke_result_t<T&>;
    using Plain = std::remove_cvref_t<Result>;
    if constexpr (std::is_void_v<Result>) {
      std::invoke(subject);
      return fallback;
    } else if constexpr (std::integral<Plain> && !std::same_as<Plain, bool>) {
      const Plain count = std::invoke(subject);
      if constexpr (std::is_signed_v<Plain>) {
        if (count < 0) return checked_samples(static_cast<double>(count));
      }
      return static_cast<double>(count);
    } else if constexpr (std::convertible_to<Result, Metrics>) {
      return samples_in(std::invoke(subject), fallback);
    } else {
      (void)std::invoke(subject);  // e.g. a loss: not a count
      return fallback;
    }
  }
}

/// The median (the mean of the middle two for an even count) of a non-empty list.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

inline void check_minibatch_sizes(std::span<const std::size_t> sizes) {
  const std::string owner = "hpt::measure_throughput: ";
  if (sizes.empty())
    throw std::invalid_argument(owner + "minibatch_sizes is empty (give at least one size)");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::string element = "minibatch_sizes[" + std::to_string(i) + "] = ";
    if (sizes[i] == 0) throw std::invalid_argument(owner + element + "0 must be >= 1");
    for (std::size_t j = 0; j < i; ++j)
      if (sizes[j] == sizes[i])
        throw std::invalid_argument(owner + element + std::to_string(sizes[i]) +
                                    " repeats minibatch_sizes[" + std::to_string(j) + "]");
  }
}

/// Warm-up, calibration and the timed repeats at one size.
template <Measurable T>
ThroughputRow measure_one(T& subject, std::size_t minibatch_size, const ThroughputOptions& options,
                          const std::function<double()>& now) {
  for (int k = 0; k < options.warmup_calls; ++k) call_once(subject, minibatch_size);

  // The smallest power of two of calls that lasts throughput_batch_share of a repeat.
  const double batch_target = options.min_seconds_per_repeat * throughput_batch_share;
  std::uint64_t batch = 1;
  for (;;) {
    const double start = now();
    for (std::uint64_t k = 0; k < batch; ++k) call_once(subject, minibatch_size);
    const double elapsed = now() - start;
    if (elapsed >= batch_target) break;
    if (batch == throughput_max_batch) {
      if (elapsed > 0) break;
      throw std::runtime_error(std::to_string(batch) +
                               " calls took no measurable time (is the work optimised away?)");
    }
    batch *= 2;
  }

  std::vector<double> rates;
  std::vector<double> call_seconds;
  std::uint64_t calls = 0;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    double samples = 0;
    std::uint64_t repeat_calls = 0;
    double elapsed = 0;
    const double start = now();
    do {
      for (std::uint64_t k = 0; k < batch; ++k) samples += call_once(subject, minibatch_size);
      repeat_calls += batch;
      elapsed = now() - start;
    } while (elapsed < options.min_seconds_per_repeat);
    rates.push_back(samples / elapsed);
    call_seconds.push_back(elapsed / static_cast<double>(repeat_calls));
    calls += repeat_calls;
  }
  const auto [slowest, fastest] = std::minmax_element(rates.begin(), rates.end());
  return {.minibatch_size = minibatch_size,
          .median_samples_per_second = median(rates),
          .min_samples_per_second = *slowest,
          .max_samples_per_second = *fastest,
          .seconds_per_call = median(call_seconds),
          .calls = static_cast<std::size_t>(calls)};
}

}  // namespace detail

/// @brief Times what `make(minibatch_size)` returns at each size, in the order given.
///
/// `make` is called once per size, and what it returns (a Measurable) lives until that size is
/// measured. Per size: `warmup_calls` untimed calls; calibration, doubling a batch of calls from
/// 1 until one batch lasts at least min_seconds_per_repeat / 16; then `repeats` repeats, each
/// running whole batches until min_seconds_per_repeat has passed (the clock is read once per
/// batch). Samples per call: for a Trainable, the value named "samples" when step() returns
/// Metrics that report it, else minibatch_size; for a callable, its return value when that is an
/// integer, "samples" when it returns Metrics that report it, else minibatch_size.
///
/// Throws std::invalid_argument, before anything runs, for invalid options or sizes (empty, a 0,
/// a repeated size), naming the parameter and its value. An exception from `make` or from a call
/// becomes std::runtime_error("hpt::measure_throughput: minibatch_size 16: <what>") with the
/// original nested (std::rethrow_if_nested).
template <class Factory>
requires std::invocable<Factory&, std::size_t> &&
    Measurable<std::remove_reference_t<std::invoke_result_t<Factory&, std::size_t>>>
[[nodiscard]] ThroughputTable measure_throughput(Factory&& make,
                                                 std::span<const std::size_t> minibatch_sizes,
                                                 const ThroughputOptions& options = {}) {
  options.validate();
  detail::check_minibatch_sizes(minibatch_sizes);
  const std::function<double()> now =
      options.clock ? options.clock : std::function<double()>(detail::steady_seconds);
  ThroughputTable table;
  table.rows.reserve(minibatch_sizes.size());
  for (const std::size_t size : minibatch_sizes) {
    const std::string where = "hpt::measure_throughput: minibatch_size " + std::to_string(size);
    try {
      decltype(auto) subject = std::invoke(make, size);
      table.rows.push_back(detail::measure_one(subject, size, options, now));
    } catch (const std::exception& error) {
      std::throw_with_nested(std::runtime_error(where + ": " + error.what()));
    } catch (...) {
      std::throw_with_nested(
          std::runtime_error(where + ": an exception not derived from std::exception"));
    }
  }
  return table;
}

/// @brief As above, for a list written in place: `measure_throughput(make, {1, 8, 64})`.
template <class Factory>
requires std::invocable<Factory&, std::size_t> &&
    Measurable<std::remove_reference_t<std::invoke_result_t<Factory&, std::size_t>>>
[[nodiscard]] ThroughputTable measure_throughput(Factory&& make,
                                                 std::initializer_list<std::size_t> minibatch_sizes,
                                                 const ThroughputOptions& options = {}) {
  return measure_throughput(
      std::forward<Factory>(make),
      std::span<const std::size_t>(minibatch_sizes.begin(), minibatch_sizes.size()), options);
}

}  // namespace hpt
