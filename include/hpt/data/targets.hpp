#pragma once
/// @file targets.hpp
/// @brief What a dataset predicts: class labels or a regression matrix.

#include <hpt/linalg/tensor_view.hpp>

#include <variant>
#include <vector>

namespace hpt::data {

/// @brief The matrix type of hpt's data: features are rows, samples (or steps) are columns.
template <class Scalar>
using Matrix = hpt::models::Matrix<Scalar>;

/// @brief Class labels in [0, class_count), one per sample (or one per step of a sequence).
struct ClassLabels {
  std::vector<int> labels;  ///< One class index per sample (or step).
  int class_count = 0;      ///< Number of classes; a class may have no sample.
};

/// @brief Regression targets: outputs x samples (or outputs x steps), like the features.
template <class Scalar>
struct RegressionTargets {
  Matrix<Scalar> values;  ///< Column j is the target of sample (or step) j.
};

/// @brief Either kind of target. A dataset holds exactly one.
template <class Scalar>
using Targets = std::variant<ClassLabels, RegressionTargets<Scalar>>;

/// @brief How the targets of a sequence dataset line up with the time steps.
enum class SequenceTarget {
  many_to_one,  ///< One target per sequence (e.g. a class of the whole sequence).
  many_to_many  ///< One target per time step (e.g. next-step prediction).
};

}  // namespace hpt::data
