#pragma once
/// @file tensor_view.hpp
/// @brief Views of a model's trainable tensors, shared by optimizers and weight import/export.

#include <Eigen/Core>
#include <cstddef>
#include <string>
#include <vector>

namespace hpt::models {

/// @brief A dense column-major matrix: features are rows, minibatch samples are columns.
template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// @brief A dense column vector.
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// @brief One trainable tensor seen from outside its model.
///
/// `value` and `gradient` point at the model's own storage (rows x cols, column-major). The tensor
/// is PyTorch's `name` in a state_dict: a 2-D PyTorch tensor of shape (rows, cols) has element
/// (i, j) at value[i + j * rows]; a 1-D one (is_vector) has shape (rows).
template <class Scalar>
struct ParameterView {
  std::string name;        ///< PyTorch's state_dict name, e.g. "weight_ih_l0" or "layers.0.bias".
  Scalar* value{};         ///< rows * cols values, column-major.
  Scalar* gradient{};      ///< Same shape as value.
  Eigen::Index rows = 0;   ///< PyTorch's first dimension.
  Eigen::Index cols = 1;   ///< PyTorch's second dimension (1 for a vector).
  bool is_vector = false;  ///< A 1-D tensor in PyTorch.

  [[nodiscard]] Eigen::Index size() const noexcept { return rows * cols; }
  [[nodiscard]] Eigen::Map<Matrix<Scalar>> values() const { return {value, rows, cols}; }
  [[nodiscard]] Eigen::Map<Matrix<Scalar>> gradients() const { return {gradient, rows, cols}; }
  /// @brief PyTorch's shape: {rows} or {rows, cols}.
  [[nodiscard]] std::vector<std::size_t> shape() const {
    if (is_vector) return {static_cast<std::size_t>(rows)};
    return {static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)};
  }
};

/// @brief A view of a matrix parameter and its gradient (same shape).
template <class Scalar>
ParameterView<Scalar> view_of(std::string name, Matrix<Scalar>& value, Matrix<Scalar>& gradient) {
  return {std::move(name), value.data(), gradient.data(), value.rows(), value.cols(), false};
}

/// @brief A view of a vector parameter (PyTorch 1-D) and its gradient.
template <class Scalar>
ParameterView<Scalar> view_of(std::string name, Vector<Scalar>& value, Vector<Scalar>& gradient) {
  return {std::move(name), value.data(), gradient.data(), value.rows(), 1, true};
}

}  // namespace hpt::models
