#pragma once
/// @file recurrent.hpp
/// @brief Pieces shared by the stacked recurrent modules Lstm and Gru: the per-layer tensors in
/// PyTorch's layout, their initialisation and names, and workspaces that only ever grow.

#include <hpt/core/random.hpp>
#include <hpt/linalg/product.hpp>
#include <hpt/linalg/tensor_view.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt::models {

/// @brief The trainable tensors of one layer of a PyTorch recurrent module (nn.LSTM, nn.GRU).
///
/// All gates share one matrix, stacked in PyTorch's block order (LSTM: i, f, g, o; GRU: r, z, n),
/// so that `weight_ih_l{k}` (gates*hidden, inputs) and `weight_hh_l{k}` (gates*hidden, hidden)
/// import from a state_dict as plain copies, and so that one matrix product serves every gate.
template <class Scalar>
struct RecurrentWeights {
  /// @brief Zero tensors for `gates` gates of `hidden` units fed by `inputs` features.
  RecurrentWeights(Eigen::Index gates, Eigen::Index inputs, Eigen::Index hidden)
      : weight_ih(Matrix<Scalar>::Zero(gates * hidden, inputs)),
        weight_hh(Matrix<Scalar>::Zero(gates * hidden, hidden)),
        bias_ih(Vector<Scalar>::Zero(gates * hidden)),
        bias_hh(Vector<Scalar>::Zero(gates * hidden)),
        weight_ih_gradient(Matrix<Scalar>::Zero(gates * hidden, inputs)),
        weight_hh_gradient(Matrix<Scalar>::Zero(gates * hidden, hidden)),
        bias_ih_gradient(Vector<Scalar>::Zero(gates * hidden)),
        bias_hh_gradient(Vector<Scalar>::Zero(gates * hidden)) {}

  Matrix<Scalar> weight_ih;           ///< PyTorch's weight_ih_l{k}: (gates*hidden, inputs).
  Matrix<Scalar> weight_hh;           ///< PyTorch's weight_hh_l{k}: (gates*hidden, hidden).
  Vector<Scalar> bias_ih;             ///< PyTorch's bias_ih_l{k}: (gates*hidden).
  Vector<Scalar> bias_hh;             ///< PyTorch's bias_hh_l{k}: (gates*hidden).
  Matrix<Scalar> weight_ih_gradient;  ///< dL/dweight_ih from the last backward().
  Matrix<Scalar> weight_hh_gradient;  ///< dL/dweight_hh from the last backward().
  Vector<Scalar> bias_ih_gradient;    ///< dL/dbias_ih from the last backward().
  Vector<Scalar> bias_hh_gradient;    ///< dL/dbias_hh from the last backward().

  /// @brief Number of hidden units.
  [[nodiscard]] Eigen::Index hidden() const noexcept { return weight_hh.cols(); }
  /// @brief Number of input features of this layer.
  [[nodiscard]] Eigen::Index inputs() const noexcept { return weight_ih.cols(); }

  /// @brief PyTorch's default: every tensor from U(-1/sqrt(hidden), 1/sqrt(hidden)), drawn in
  /// state_dict order (weight_ih, weight_hh, bias_ih, bias_hh), each in row-major order.
  void initialize(hpt::Random& random) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden()));
    auto fill = [&](auto& tensor) {
      for (Eigen::Index row = 0; row < tensor.rows(); ++row)
        for (Eigen::Index col = 0; col < tensor.cols(); ++col)
          tensor(row, col) = static_cast<Scalar>(random.uniform(-bound, bound));
    };
    fill(weight_ih);
    fill(weight_hh);
    fill(bias_ih);
    fill(bias_hh);
  }

  /// @brief Appends views named prefix + "weight_ih_l{layer}", ... in state_dict order.
  void append_parameters(std::vector<ParameterView<Scalar>>& out, const std::string& prefix,
                         Eigen::Index layer) {
    const std::string suffix = "_l" + std::to_string(layer);
    out.push_back(view_of(prefix + "weight_ih" + suffix, weight_ih, weight_ih_gradient));
    out.push_back(view_of(prefix + "weight_hh" + suffix, weight_hh, weight_hh_gradient));
    out.push_back(view_of(prefix + "bias_ih" + suffix, bias_ih, bias_ih_gradient));
    out.push_back(view_of(prefix + "bias_hh" + suffix, bias_hh, bias_hh_gradient));
  }
};

/// @brief Makes `workspace` have `rows` rows and at least `columns` columns. It only grows, so
/// that after the largest minibatch has been seen, forward and backward never allocate again;
/// callers use `workspace.leftCols(columns)`.
template <class Scalar>
void reserve_columns(Matrix<Scalar>& workspace, Eigen::Index rows, Eigen::Index columns) {
  if (workspace.rows() == rows && workspace.cols() >= columns) return;
  const Eigen::Index kept = workspace.rows() == rows ? workspace.cols() : 0;
  workspace.resize(rows, std::max(columns, kept));
}

/// @brief gates = bias (in every column) + weight * input: the input projection of a chunk of time
/// steps, accumulated onto the biases (no zero-fill, no second pass over the gates).
template <class Scalar, class Gates, class Input>
void project_onto_bias(detail::ProductWorkspace<Scalar>& products, Gates&& gates,
                       const Vector<Scalar>& bias, const Matrix<Scalar>& weight,
                       const Input& input) {
  gates.colwise() = bias;
  detail::add_product(products, gates, weight, input);
}

/// @brief Default for Lstm/Gru::chunk_columns(): 256 columns of gates (512 KiB for an LSTM of
/// hidden 128 in float) stay in a 1 MiB L2 cache between the products that write and read them.
inline constexpr Eigen::Index default_chunk_columns = 256;

/// @brief Time steps per chunk for sequences of `batch` columns per step: as many as fit in
/// `chunk_columns` columns, at least 1, at most `time`.
inline Eigen::Index steps_per_chunk(Eigen::Index chunk_columns, Eigen::Index batch,
                                    Eigen::Index time) {
  return std::clamp<Eigen::Index>(chunk_columns / std::max<Eigen::Index>(batch, 1), 1,
                                  std::max<Eigen::Index>(time, 1));
}

/// @brief Checks a chunk_columns setting.
/// @throws std::invalid_argument naming the setting and its value unless it is positive.
inline void check_chunk_columns(const std::string& module, Eigen::Index chunk_columns) {
  if (chunk_columns <= 0)
    throw std::invalid_argument(module + ": chunk_columns must be positive, got " +
                                std::to_string(chunk_columns));
}

/// @brief Validates the sizes of a stacked recurrent module.
/// @throws std::invalid_argument naming the field and its value.
inline void check_recurrent_sizes(const std::string& module, Eigen::Index input,
                                  Eigen::Index hidden, Eigen::Index layers) {
  auto require_positive = [&](const char* field, Eigen::Index value) {
    if (value <= 0)
      throw std::invalid_argument(module + ": " + field + " must be positive, got " +
                                  std::to_string(value));
  };
  require_positive("input", input);
  require_positive("hidden", hidden);
  require_positive("layers", layers);
}

/// @brief Checks an optional (hidden x layers*batch) state matrix: empty, or exactly that shape.
inline void check_state_shape(const std::string& where, const char* name, Eigen::Index rows,
                              Eigen::Index columns, Eigen::Index hidden, Eigen::Index layers,
                              Eigen::Index batch) {
  if (rows * columns == 0) return;
  if (rows != hidden || columns != layers * batch)
    throw std::invalid_argument(where + ": " + name + " is " + std::to_string(rows) + "x" +
                                std::to_string(columns) + ", expected " + std::to_string(hidden) +
                                "x" + std::to_string(layers * batch) +
                                " (hidden x layers*batch) or empty");
}

/// @brief Checks an optional (hidden x time*batch) output gradient: empty, or exactly that shape.
inline void check_output_gradient_shape(const std::string& where, Eigen::Index rows,
                                        Eigen::Index columns, Eigen::Index hidden,
                                        Eigen::Index sequence_columns) {
  if (rows * columns == 0) return;
  if (rows != hidden || columns != sequence_columns)
    throw std::invalid_argument(where + ": output_gradient is " + std::to_string(rows) + "x" +
                                std::to_string(columns) + ", expected " + std::to_string(hidden) +
                                "x" + std::to_string(sequence_columns) +
                                " (hidden x time*batch) or empty");
}

}  // namespace hpt::models
