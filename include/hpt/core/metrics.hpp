#pragma once
/// @file metrics.hpp
/// @brief What a trainable reports after each step.

#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hpt {

/// @brief One step's report: the objective the study optimises, further named values (training
/// loss, accuracy, ...) and whether the trainable has finished by itself.
struct Metrics {
  /// The value the study minimizes or maximizes (e.g. the validation loss). NaN or infinity marks
  /// the trial as diverged.
  double objective = std::numeric_limits<double>::quiet_NaN();
  /// Further named values, kept in the learning curve and usable by stopping policies.
  std::vector<std::pair<std::string, double>> values{};
  /// Set by a trainable that has nothing left to do (it ran its own epochs); the trial completes.
  bool done = false;

  /// @brief The named value; throws std::out_of_range naming the metric when it was not reported.
  [[nodiscard]] double value(std::string_view name) const {
    if (const double* found = find(name)) return *found;
    std::string known;
    for (const auto& [key, unused] : values) known += (known.empty() ? "" : ", ") + key;
    throw std::out_of_range("hpt::Metrics: no metric named \"" + std::string(name) +
                            "\" (reported: " + (known.empty() ? "none" : known) + ")");
  }

  /// @brief A pointer to the named value, or nullptr when it was not reported.
  [[nodiscard]] const double* find(std::string_view name) const noexcept {
    for (const auto& [key, number] : values)
      if (key == name) return &number;
    return nullptr;
  }
};

}  // namespace hpt
