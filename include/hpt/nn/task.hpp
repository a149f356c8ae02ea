#pragma once
/// @file task.hpp
/// @brief What a reference model's output is trained for (shared by Mlp and SequenceModel).

#include <array>
#include <utility>

namespace hpt::models {

/// @brief What the output layer is trained for, which selects the loss.
enum class Task {
  classification,  ///< Outputs are class logits; softmax cross-entropy on integer targets
                   ///< (nn.CrossEntropyLoss, mean over the predictions).
  regression       ///< Outputs are predictions; mean squared error over all elements (nn.MSELoss).
};

/// @brief Labels for hpt::Value and configurations: "classification", "regression".
constexpr auto enum_labels(Task) {
  return std::array{std::pair{Task::classification, "classification"},
                    std::pair{Task::regression, "regression"}};
}

}  // namespace hpt::models
