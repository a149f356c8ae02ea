#pragma once
/// @file sequence_dataset.hpp
/// @brief A dataset of fixed-length sequences for recurrent models.

#include <hpt/core/random.hpp>
#include <hpt/data/minibatch.hpp>
#include <hpt/data/minibatches.hpp>
#include <hpt/data/sample_store.hpp>
#include <hpt/data/targets.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace hpt::data {

/// @brief N sequences of T time steps of F features, with class labels or regression targets,
/// one per sequence (many-to-one) or one per step (many-to-many).
///
/// Storage is sample-major: features() is F x (N * T) and column n * T + t is step t of
/// sequence n, so a sequence is a contiguous block of T columns. Per-step targets are stored the
/// same way (label n * T + t, or regression column n * T + t); per-sequence targets have one
/// entry (column) per sequence. Minibatches are gathered time-major, as the recurrent models read
/// them: column t * B + b (see Minibatch).
///
/// Constructors throw std::invalid_argument on a shape mismatch (features' columns not a
/// multiple of time_steps, target count not N or N * T), an invalid label, time_steps <= 0, an
/// empty dataset or a non-finite value.
template <class Scalar>
class SequenceDataset {
 public:
  using scalar_type = Scalar;

  /// @brief A classification dataset: F x (N * T) features, N or N * T labels.
  SequenceDataset(Matrix<Scalar> features, Eigen::Index time_steps, ClassLabels labels,
                  SequenceTarget alignment = SequenceTarget::many_to_one)
      : store_(kName, std::move(features), time_steps, std::move(labels), alignment) {}
  /// @brief A regression dataset: F x (N * T) features, outputs x N or outputs x (N * T) targets.
  SequenceDataset(Matrix<Scalar> features, Eigen::Index time_steps,
                  RegressionTargets<Scalar> targets,
                  SequenceTarget alignment = SequenceTarget::many_to_one)
      : store_(kName, std::move(features), time_steps, std::move(targets), alignment) {}

  /// @brief The number of sequences N (>= 1).
  [[nodiscard]] std::size_t size() const noexcept { return store_.size(); }
  /// @brief The length of every sequence, T.
  [[nodiscard]] Eigen::Index time_steps() const noexcept { return store_.time_steps(); }
  /// @brief Features per step, F.
  [[nodiscard]] Eigen::Index feature_count() const noexcept { return store_.feature_count(); }
  /// @brief One target per sequence or per step.
  [[nodiscard]] SequenceTarget alignment() const noexcept { return store_.alignment(); }
  /// @brief F x (N * T), sample-major: column n * T + t.
  [[nodiscard]] const Matrix<Scalar>& features() const noexcept { return store_.features(); }
  /// @brief Sequence n as F x T (column t = step t).
  [[nodiscard]] auto sequence(std::size_t n) const {
    return store_.features().middleCols(static_cast<Eigen::Index>(n) * time_steps(), time_steps());
  }
  /// @brief The targets, whichever kind they are.
  [[nodiscard]] const Targets<Scalar>& targets() const noexcept { return store_.targets(); }
  /// @brief True for class labels, false for regression targets.
  [[nodiscard]] bool is_classification() const noexcept { return store_.is_classification(); }
  /// @brief N or N * T labels (sample-major); throws std::logic_error for regression.
  [[nodiscard]] const std::vector<int>& labels() const { return store_.class_labels().labels; }
  /// @brief The number of classes; throws std::logic_error for regression.
  [[nodiscard]] int class_count() const { return store_.class_labels().class_count; }
  /// @brief Labels per class (per step for many-to-many); throws std::logic_error for regression.
  [[nodiscard]] std::vector<std::size_t> class_counts() const { return store_.class_counts(); }
  /// @brief outputs x N or outputs x (N * T); throws std::logic_error for classification.
  [[nodiscard]] const Matrix<Scalar>& regression_targets() const {
    return store_.regression_targets();
  }
  /// @brief The rows a model's output needs: class_count() or the regression target rows.
  [[nodiscard]] Eigen::Index output_count() const noexcept { return store_.output_count(); }

  /// @brief The sequences `indices`, in that order (see Dataset::subset).
  [[nodiscard]] SequenceDataset subset(std::span<const std::size_t> indices) const {
    return SequenceDataset(store_.subset(indices));
  }
  /// @brief A seeded split of the sequences into {train, validation} (see Dataset::split);
  /// stratification needs many-to-one class labels.
  [[nodiscard]] DatasetSplit<SequenceDataset> split(double validation_fraction, std::uint64_t seed,
                                                    Stratify stratify = Stratify::no) const {
    auto [train, validation] = store_.split_indices(validation_fraction, seed, stratify);
    return {subset(train), subset(validation)};
  }
  /// @brief Shuffled minibatches of sequences in the time-major layout (see Minibatches).
  [[nodiscard]] Minibatches<Scalar> minibatches(std::size_t minibatch_size, Random& random) const& {
    return {store_, minibatch_size, random};
  }
  /// Minibatches of a temporary dataset would dangle.
  void minibatches(std::size_t minibatch_size, Random& random) const&& = delete;

  /// @brief The sequences `indices` in the time-major minibatch layout, into reused buffers.
  void gather(std::span<const std::size_t> indices, Minibatch<Scalar>& batch) const {
    store_.gather(indices, batch);
  }
  /// @brief All sequences, in order, as one time-major minibatch (e.g. for evaluation).
  [[nodiscard]] Minibatch<Scalar> as_minibatch() const {
    Minibatch<Scalar> batch;
    std::vector<std::size_t> all(size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    store_.gather(all, batch);
    return batch;
  }

 private:
  static constexpr const char* kName = "hpt::data::SequenceDataset";
  explicit SequenceDataset(detail::SampleStore<Scalar> store) : store_(std::move(store)) {}
  detail::SampleStore<Scalar> store_;
};

}  // namespace hpt::data
