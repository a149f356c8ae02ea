#pragma once
/// @file loss.hpp
/// @brief Losses with their gradients: softmax cross-entropy (nn.CrossEntropyLoss) and mean
/// squared error (nn.MSELoss), both averaged like PyTorch's default reduction="mean".

#include <hpt/linalg/tensor_view.hpp>

#include <Eigen/Core>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace hpt::models {

// The Eigen::Ref parameters name Scalar only through std::type_identity_t so that Scalar is deduced
// from the gradient matrix and a Matrix, a block or a Map converts to the Ref implicitly.

/// @brief Mean softmax cross-entropy over the batch and its gradient.
///
/// `logits` is classes x batch, `targets` holds one class index per sample (column). Returns
/// L = (1/B) sum_j [logsumexp(z_j) - z_j[t_j]] and writes dL/dlogits = (softmax(z_j) - onehot(t_j))
/// / B into `logits_gradient` (resized to logits' shape). The maximum of each column is subtracted
/// before exponentiating, so large logits do not overflow. Throws std::invalid_argument if
/// targets.size() != batch, std::out_of_range if a target is outside [0, classes). Allocates
/// nothing when `logits_gradient` already has the right shape.
template <class Scalar>
Scalar softmax_cross_entropy(const Eigen::Ref<const Matrix<std::type_identity_t<Scalar>>>& logits,
                             std::span<const int> targets, Matrix<Scalar>& logits_gradient) {
  const Eigen::Index classes = logits.rows();
  const Eigen::Index batch = logits.cols();
  if (static_cast<Eigen::Index>(targets.size()) != batch)
    throw std::invalid_argument(
        "hpt::models::softmax_cross_entropy: " + std::to_string(targets.size()) +
        " targets for a batch of " + std::to_string(batch));
  if (batch == 0 || classes == 0)
    throw std::invalid_argument("hpt::models::softmax_cross_entropy: empty logits");
  for (Eigen::Index sample = 0; sample < batch; ++sample) {
    const int target = targets[static_cast<std::size_t>(sample)];
    if (target < 0 || target >= classes)
      throw std::out_of_range("hpt::models::softmax_cross_entropy: target " +
                              std::to_string(target) + " of sample " + std::to_string(sample) +
                              " is outside [0, " + std::to_string(classes) + ")");
  }
  logits_gradient.resize(classes, batch);
  const Scalar inverse_batch = Scalar(1) / static_cast<Scalar>(batch);
  Scalar total = 0;
  // Column by column: each column is contiguous, and no temporary is needed.
  for (Eigen::Index sample = 0; sample < batch; ++sample) {
    const auto column = logits.col(sample);
    auto gradient = logits_gradient.col(sample);
    const Scalar maximum = column.maxCoeff();
    gradient.array() = (column.array() - maximum).exp();
    const Scalar sum = gradient.sum();
    const int target = targets[static_cast<std::size_t>(sample)];
    total += std::log(sum) + maximum - column(target);
    gradient *= inverse_batch / sum;
    gradient(target) -= inverse_batch;
  }
  return total / static_cast<Scalar>(batch);
}

/// @brief Mean squared error over all elements, L = (1/N) sum (p - t)^2, and
/// dL/dprediction = 2 (p - t) / N written into `prediction_gradient`. Throws
/// std::invalid_argument if the shapes differ or are empty.
template <class Scalar>
Scalar mean_squared_error(const Eigen::Ref<const Matrix<std::type_identity_t<Scalar>>>& prediction,
                          const Eigen::Ref<const Matrix<std::type_identity_t<Scalar>>>& target,
                          Matrix<Scalar>& prediction_gradient) {
  if (prediction.rows() != target.rows() || prediction.cols() != target.cols())
    throw std::invalid_argument(
        "hpt::models::mean_squared_error: prediction is " + std::to_string(prediction.rows()) +
        "x" + std::to_string(prediction.cols()) + " but target is " +
        std::to_string(target.rows()) + "x" + std::to_string(target.cols()));
  if (prediction.size() == 0)
    throw std::invalid_argument("hpt::models::mean_squared_error: empty prediction");
  prediction_gradient.resize(prediction.rows(), prediction.cols());
  prediction_gradient = prediction - target;
  const Scalar count = static_cast<Scalar>(prediction.size());
  const Scalar loss = prediction_gradient.squaredNorm() / count;
  prediction_gradient *= Scalar(2) / count;
  return loss;
}

/// @brief Fraction of samples whose largest logit is the target (ties: the lowest index wins,
/// as torch.argmax). Throws like softmax_cross_entropy on a size mismatch.
template <class Derived>
double accuracy(const Eigen::MatrixBase<Derived>& logits, std::span<const int> targets) {
  if (static_cast<Eigen::Index>(targets.size()) != logits.cols())
    throw std::invalid_argument("hpt::models::accuracy: " + std::to_string(targets.size()) +
                                " targets for a batch of " + std::to_string(logits.cols()));
  if (logits.cols() == 0 || logits.rows() == 0) return 0.0;
  Eigen::Index correct = 0;
  for (Eigen::Index sample = 0; sample < logits.cols(); ++sample) {
    Eigen::Index best = 0;
    logits.col(sample).maxCoeff(&best);
    if (best == targets[static_cast<std::size_t>(sample)]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(logits.cols());
}

}  // namespace hpt::models
