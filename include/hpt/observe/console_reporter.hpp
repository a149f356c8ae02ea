#pragma once
/// @file console_reporter.hpp
/// @brief An observer that shows a study's progress: a live line on a terminal (trials done of
/// total, running, best so far, elapsed), and plain log lines when the output is not a terminal
/// (a CI log, a file), where carriage returns would only make noise.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

#include "hpt/study/study.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {

/// @brief Prints progress to a stream; see the file comment.
class ConsoleReporter {
 public:
  /// How to print: detect (a live line only when the stream is std::cout or std::cerr and that is
  /// a terminal), or force one style.
  enum class Style { detect, live, log };

  explicit ConsoleReporter(std::ostream& out = std::cerr, Style style = Style::detect)
      : out_(&out), live_(style == Style::live || (style == Style::detect && is_terminal(out))) {}

  void on_study_start(const Study& study) {
    study_ = &study;
    start_ = Clock::now();
    total_ = study.schedule().trials();
    done_ = 0;
    running_ = 0;
    best_.reset();
    if (!live_)
      *out_ << "[hpt] " << study.options().name << ": " << study.schedule().strategy << ", "
            << (total_ ? std::to_string(*total_) : std::string("?")) << " trials\n";
  }
  void on_trial_start(const Trial&) {
    ++running_;
    if (live_) draw();
  }
  void on_trial_end(const Trial& trial) {
    ++done_;
    // Tracked here rather than asking the study, which would scan every trial at every event.
    const bool qualifies =
        trial.status == TrialStatus::completed || trial.status == TrialStatus::stopped;
    if (qualifies && std::isfinite(trial.result()) &&
        (!best_ || is_better(study_->direction(), trial.result(), best_value_))) {
      best_ = trial.id;
      best_value_ = trial.result();
    }
    if (running_ > 0) --running_;
    if (live_) {
      draw();
    } else {
      *out_ << "[hpt] trial " << trial.id << ' ' << to_string(trial.status) << " after "
            << trial.resource << (trial.resource == 1 ? " step" : " steps") << ", result "
            << format_result(trial.result());
      if (!trial.reason.empty()) *out_ << " (" << trial.reason << ')';
      *out_ << "; best " << best_text() << '\n';
    }
  }
  void on_study_end(const Study& study) {
    if (live_) {
      draw();
      *out_ << '\n';
    }
    *out_ << "[hpt] done: " << study.status_summary() << " in " << seconds(elapsed(), 2)
          << " s; best " << best_text() << '\n';
    for (const auto& error : study.observer_errors()) {
      *out_ << "[hpt] observer " << error.observer << " threw in " << error.hook;
      if (error.trial) *out_ << " (trial " << *error.trial << ')';
      *out_ << " and was not called again: " << error.message << '\n';
    }
  }

  /// @brief True when the reporter draws a live line rather than log lines.
  [[nodiscard]] bool live() const noexcept { return live_; }

 private:
  using Clock = std::chrono::steady_clock;

  static bool is_terminal(const std::ostream& out) {
#if __has_include(<unistd.h>)
    if (&out == &std::cout) return ::isatty(STDOUT_FILENO) != 0;
    if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) != 0;
#endif
    (void)out;
    return false;
  }

  // Formatted apart so the user's stream keeps its own flags and precision.
  static std::string seconds(double value, int digits) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(digits) << value;
    return text.str();
  }

  static std::string format_result(double value) {
    std::ostringstream text;
    text << std::setprecision(6) << value;
    return text.str();
  }

  [[nodiscard]] double elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

  [[nodiscard]] std::string best_text() const {
    if (!best_) return "none yet";
    return format_result(best_value_) + " (trial " + std::to_string(*best_) + ")";
  }

  void draw() {
    // Redrawing costs a write per event; throttle to ~10 Hz so that microsecond trials are not
    // slowed down by the terminal.
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && (!total_ || done_ < *total_)) return;
    last_draw_ = now;
    // "in progress" counts started trials not yet ended: running, or paused at a rung.
    *out_ << "\r[hpt] " << done_ << '/' << (total_ ? std::to_string(*total_) : std::string("?"))
          << " trials, " << running_ << " in progress, best " << best_text() << ", "
          << seconds(elapsed(), 1) << " s   " << std::flush;
  }

  std::ostream* out_;
  bool live_;
  const Study* study_ = nullptr;
  Clock::time_point start_{};
  Clock::time_point last_draw_{};
  std::optional<std::size_t> total_{};
  std::size_t done_ = 0;
  std::size_t running_ = 0;
  std::optional<std::size_t> best_{};
  double best_value_ = 0;
};

}  // namespace hpt
