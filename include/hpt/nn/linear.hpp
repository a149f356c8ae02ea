#pragma once
/// @file linear.hpp
/// @brief A fully connected layer y = W x + b on column minibatches, equal to PyTorch's nn.Linear.

#include <hpt/core/random.hpp>
#include <hpt/linalg/product.hpp>
#include <hpt/linalg/tensor_view.hpp>

#include <Eigen/Core>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt::models {

/// @brief A fully connected layer: input (inputs x batch) -> output (outputs x batch).
///
/// `weight` has PyTorch's shape (out, in), so a PyTorch state_dict imports as a plain copy. With
/// samples as columns, PyTorch's `x @ W.T + b` becomes `W * x + b` here: the same numbers.
/// Workspaces are resized when the batch size changes (the products' packing buffers only grow);
/// a steady-state step with a fixed batch size allocates nothing, except with Eigen's own threads
/// or HPT_MODELS_OWN_GEMM_BUFFERS = 0 (see product.hpp).
template <class Scalar>
class Linear {
 public:
  /// @brief A layer with zero parameters; call initialize() or assign `weight` and `bias`.
  Linear(Eigen::Index inputs, Eigen::Index outputs)
      : weight(Matrix<Scalar>::Zero(outputs, inputs)),
        bias(Vector<Scalar>::Zero(outputs)),
        weight_gradient(Matrix<Scalar>::Zero(outputs, inputs)),
        bias_gradient(Vector<Scalar>::Zero(outputs)) {
    if (inputs <= 0 || outputs <= 0)
      throw std::invalid_argument("hpt::models::Linear: inputs and outputs must be positive, got " +
                                  std::to_string(inputs) + " and " + std::to_string(outputs));
  }

  Matrix<Scalar> weight;           ///< (outputs, inputs), PyTorch's `weight`.
  Vector<Scalar> bias;             ///< (outputs), PyTorch's `bias`.
  Matrix<Scalar> weight_gradient;  ///< dL/dweight from the last backward().
  Vector<Scalar> bias_gradient;    ///< dL/dbias from the last backward().

  /// @brief Number of input features.
  [[nodiscard]] Eigen::Index inputs() const noexcept { return weight.cols(); }
  /// @brief Number of output features.
  [[nodiscard]] Eigen::Index outputs() const noexcept { return weight.rows(); }

  /// @brief PyTorch's default initialisation: weight and bias from U(-1/sqrt(in), 1/sqrt(in)).
  /// Draws the weight in PyTorch's row-major order, then the bias.
  void initialize(hpt::Random& random) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(inputs()));
    for (Eigen::Index row = 0; row < weight.rows(); ++row)
      for (Eigen::Index col = 0; col < weight.cols(); ++col)
        weight(row, col) = static_cast<Scalar>(random.uniform(-bound, bound));
    for (Eigen::Index row = 0; row < bias.rows(); ++row)
      bias(row) = static_cast<Scalar>(random.uniform(-bound, bound));
  }

  /// @brief output = weight * input + bias; keeps a copy of the input for backward().
  const Matrix<Scalar>& forward(const Eigen::Ref<const Matrix<Scalar>>& input) {
    check_input(input.rows(), "forward");
    input_.resize(input.rows(), input.cols());  // no-op when the batch size is unchanged
    input_ = input;
    forward_into(input_, output_);
    return output_;
  }

  /// @brief Back-propagates through the last forward(): overwrites weight_gradient and
  /// bias_gradient and, if `input_gradient` is not null, writes dL/dinput (inputs x batch).
  void backward(const Eigen::Ref<const Matrix<Scalar>>& output_gradient,
                Matrix<Scalar>* input_gradient) {
    backward_with_input(input_, output_gradient, input_gradient);
  }

  /// @brief forward() without keeping the input, for callers (like Mlp) that keep it themselves.
  void forward_into(const Eigen::Ref<const Matrix<Scalar>>& input, Matrix<Scalar>& output) {
    check_input(input.rows(), "forward_into");
    output.resize(outputs(), input.cols());
    output.colwise() = bias;  // the product accumulates onto the bias: no zero-fill, one pass less
    detail::add_product(products_, output, weight, input);
  }

  /// @brief backward() given the input of the forward pass explicitly.
  void backward_with_input(const Eigen::Ref<const Matrix<Scalar>>& input,
                           const Eigen::Ref<const Matrix<Scalar>>& output_gradient,
                           Matrix<Scalar>* input_gradient) {
    check_input(input.rows(), "backward");
    if (output_gradient.rows() != outputs() || output_gradient.cols() != input.cols())
      throw std::invalid_argument("hpt::models::Linear::backward: output_gradient is " +
                                  std::to_string(output_gradient.rows()) + "x" +
                                  std::to_string(output_gradient.cols()) + ", expected " +
                                  std::to_string(outputs()) + "x" + std::to_string(input.cols()));
    detail::assign_product(products_, weight_gradient, output_gradient, input.transpose());
    bias_gradient.noalias() = output_gradient.rowwise().sum();
    if (input_gradient != nullptr) {
      input_gradient->resize(inputs(), input.cols());
      detail::assign_product(products_, *input_gradient, weight.transpose(), output_gradient);
    }
  }

  /// @brief Appends views named prefix + "weight" and prefix + "bias" (PyTorch's names).
  void append_parameters(std::vector<ParameterView<Scalar>>& out, const std::string& prefix) {
    out.push_back(view_of(prefix + "weight", weight, weight_gradient));
    out.push_back(view_of(prefix + "bias", bias, bias_gradient));
  }

 private:
  void check_input(Eigen::Index rows, const char* where) const {
    if (rows != inputs())
      throw std::invalid_argument(std::string("hpt::models::Linear::") + where + ": input has " +
                                  std::to_string(rows) + " rows, expected " +
                                  std::to_string(inputs()));
  }

  Matrix<Scalar> input_;   // copy of the last forward() input
  Matrix<Scalar> output_;  // last forward() output
  detail::ProductWorkspace<Scalar> products_;
};

}  // namespace hpt::models
