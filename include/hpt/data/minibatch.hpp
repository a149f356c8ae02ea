#pragma once
/// @file minibatch.hpp
/// @brief One minibatch in the layout hpt's models read.

#include <hpt/data/targets.hpp>

#include <cstddef>
#include <vector>

namespace hpt::data {

/// @brief A minibatch of B samples gathered from a dataset (copies, into reused buffers).
///
/// Layout (B = size(), T = time_steps; T = 1 for a plain Dataset):
/// - features: feature_count x (T * B); column t * B + b is step t of sample b (time-major
///   blocks, i.e. PyTorch's (seq, batch, feature) memory order).
/// - classification: labels holds B entries (one per sample, many-to-one) or T * B entries
///   (one per step, index t * B + b); targets is empty (0 x 0).
/// - regression: targets is outputs x B or outputs x (T * B) (column t * B + b); labels is empty.
/// - indices[b] is the dataset's index of sample b.
template <class Scalar>
struct Minibatch {
  Matrix<Scalar> features;           ///< feature_count x (time_steps * size()).
  std::vector<int> labels;           ///< Class labels (classification only).
  Matrix<Scalar> targets;            ///< Regression targets (regression only).
  std::vector<std::size_t> indices;  ///< Dataset index of each sample, in column order.
  Eigen::Index time_steps = 1;       ///< T; 1 for non-sequence data.
  Eigen::Index target_steps = 1;     ///< Targets per sample: 1 or time_steps (many-to-many).

  /// @brief The number of samples (sequences) B.
  [[nodiscard]] std::size_t size() const noexcept { return indices.size(); }
  /// @brief The column of step `step` of sample `sample` in features (and per-step targets).
  [[nodiscard]] Eigen::Index column(Eigen::Index step, Eigen::Index sample) const noexcept {
    return step * static_cast<Eigen::Index>(indices.size()) + sample;
  }
};

}  // namespace hpt::data
