#pragma once
/// @file sequence_layout.hpp
/// @brief The memory layout of a minibatch of sequences, shared by the recurrent models.
///
/// A minibatch of `batch` sequences of `time` steps with `features` values per step is ONE
/// column-major `Matrix<Scalar>` of shape (features, time * batch): column `t * batch + b` holds
/// step t of sequence b. These are exactly the bytes of a contiguous PyTorch tensor of shape
/// (time, batch, features) (`batch_first=False`), so a sequence tensor imports as a plain copy.
/// Keeping the batch inside each time step makes one time step a contiguous block of `batch`
/// columns, which is what the recurrent matrix products need.

#include <Eigen/Core>
#include <stdexcept>
#include <string>

namespace hpt::models {

/// @brief The number of time steps and sequences in a minibatch of sequences.
struct SequenceShape {
  Eigen::Index time = 0;   ///< Number of time steps.
  Eigen::Index batch = 0;  ///< Number of sequences (samples) in the minibatch.
  /// @brief Columns of a sequence matrix: time * batch.
  [[nodiscard]] Eigen::Index columns() const noexcept { return time * batch; }
};

/// @brief Checks a (features x time*batch) sequence matrix and returns its time and batch.
/// @throws std::invalid_argument naming `where` if the rows are not `features`, the batch is not
/// positive, or the columns are not a positive multiple of the batch.
inline SequenceShape sequence_shape(const std::string& where, Eigen::Index rows,
                                    Eigen::Index columns, Eigen::Index features,
                                    Eigen::Index batch) {
  if (batch <= 0)
    throw std::invalid_argument(where + ": batch must be positive, got " + std::to_string(batch));
  if (rows != features)
    throw std::invalid_argument(where + ": input has " + std::to_string(rows) +
                                " rows (features), expected " + std::to_string(features));
  if (columns <= 0 || columns % batch != 0)
    throw std::invalid_argument(where + ": input has " + std::to_string(columns) +
                                " columns, expected time * batch with batch " +
                                std::to_string(batch) + " and time >= 1");
  return {columns / batch, batch};
}

/// @brief The columns of time step `step` in a sequence matrix of minibatch size `batch`.
template <class Derived>
auto time_step(Eigen::DenseBase<Derived>& sequence, Eigen::Index step, Eigen::Index batch) {
  return sequence.middleCols(step * batch, batch);
}

/// @brief The columns of time step `step` in a read-only sequence matrix.
template <class Derived>
auto time_step(const Eigen::DenseBase<Derived>& sequence, Eigen::Index step, Eigen::Index batch) {
  return sequence.middleCols(step * batch, batch);
}

}  // namespace hpt::models
