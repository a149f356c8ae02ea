#pragma once
/// @file activation.hpp
/// @brief Element-wise activations (ReLU, tanh, sigmoid) and their derivatives.

#include <hpt/linalg/tensor_view.hpp>

#include <Eigen/Core>
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace hpt::models {

/// @brief An element-wise activation, as PyTorch's nn.ReLU, nn.Tanh and nn.Sigmoid.
enum class Activation { relu, tanh, sigmoid };

/// @brief Labels for hpt::Value and configurations: "relu", "tanh", "sigmoid".
constexpr auto enum_labels(Activation) {
  return std::array{std::pair{Activation::relu, "relu"}, std::pair{Activation::tanh, "tanh"},
                    std::pair{Activation::sigmoid, "sigmoid"}};
}

/// @brief The lower-case name: "relu", "tanh" or "sigmoid".
[[nodiscard]] inline std::string_view to_string(Activation activation) {
  switch (activation) {
    case Activation::relu:
      return "relu";
    case Activation::tanh:
      return "tanh";
    case Activation::sigmoid:
      return "sigmoid";
  }
  throw std::invalid_argument("hpt::models::to_string: invalid Activation value " +
                              std::to_string(static_cast<int>(activation)));
}

/// @brief Parses "relu", "tanh" or "sigmoid"; anything else throws std::invalid_argument.
[[nodiscard]] inline Activation parse_activation(std::string_view name) {
  if (name == "relu") return Activation::relu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  throw std::invalid_argument("hpt::models::parse_activation: unknown activation \"" +
                              std::string(name) + "\" (expected relu, tanh or sigmoid)");
}

/// @brief Applies the activation to every element of a matrix or block, in place.
template <class Derived>
void activate_in_place(Activation activation, const Eigen::MatrixBase<Derived>& values_) {
  using Scalar = typename Derived::Scalar;
  // Eigen's idiom for writable temporaries such as blocks: take const&, cast constness away.
  auto array = const_cast<Eigen::MatrixBase<Derived>&>(values_).array();
  switch (activation) {
    case Activation::relu:
      array = array.max(Scalar(0));
      return;
    case Activation::tanh:
      array = array.tanh();
      return;
    // 1 / (1 + exp(-x)): exp overflows to inf for very negative x and the result is then 0, the
    // correct limit, so no branch is needed.
    case Activation::sigmoid:
      array = (Scalar(1) + (-array).exp()).inverse();
      return;
  }
}

/// @brief output = activation(input), element-wise (output is resized to input's shape).
template <class Scalar>
void activate(Activation activation,
              const Eigen::Ref<const Matrix<std::type_identity_t<Scalar>>>& input,
              Matrix<Scalar>& output) {
  output.resize(input.rows(), input.cols());
  output = input;
  activate_in_place(activation, output);
}

/// @brief Multiplies `gradient` (dL/doutput) in place by the derivative, expressed through the
/// activation's own `output` so that the pre-activation need not be kept:
/// relu' = [y > 0] (0 at 0, as PyTorch), tanh' = 1 - y^2, sigmoid' = y (1 - y).
template <class OutputDerived, class GradientDerived>
void multiply_by_derivative(Activation activation, const Eigen::MatrixBase<OutputDerived>& output,
                            const Eigen::MatrixBase<GradientDerived>& gradient_) {
  using Scalar = typename GradientDerived::Scalar;
  if (output.rows() != gradient_.rows() || output.cols() != gradient_.cols())
    throw std::invalid_argument("hpt::models::multiply_by_derivative: shapes differ");
  auto y = output.array();
  auto g = const_cast<Eigen::MatrixBase<GradientDerived>&>(gradient_).array();
  switch (activation) {
    case Activation::relu:
      g = (y > Scalar(0)).select(g, Scalar(0));
      return;
    case Activation::tanh:
      g *= Scalar(1) - y.square();
      return;
    case Activation::sigmoid:
      g *= y * (Scalar(1) - y);
      return;
  }
}

}  // namespace hpt::models
