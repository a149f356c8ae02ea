#pragma once
/// @file dataset.hpp
/// @brief A dataset of feature vectors with class labels or regression targets.

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

/// @brief N samples of F features (a features x samples matrix) with either class labels or
/// regression targets (outputs x samples). Never empty.
///
/// Constructors throw std::invalid_argument, naming the mismatch, when the shapes disagree, a
/// label is outside [0, class_count), class_count <= 0, there is no sample or no feature, or a
/// value is not finite.
template <class Scalar>
class Dataset {
 public:
  using scalar_type = Scalar;

  /// @brief A classification dataset: labels.labels[j] is the class of column j.
  Dataset(Matrix<Scalar> features, ClassLabels labels)
      : store_(kName, std::move(features), 1, std::move(labels), SequenceTarget::many_to_one) {}
  /// @brief A classification dataset: labels[j] in [0, class_count) is the class of column j.
  Dataset(Matrix<Scalar> features, std::vector<int> labels, int class_count)
      : Dataset(std::move(features), ClassLabels{std::move(labels), class_count}) {}
  /// @brief A regression dataset: targets.values.col(j) is the target of column j.
  Dataset(Matrix<Scalar> features, RegressionTargets<Scalar> targets)
      : store_(kName, std::move(features), 1, std::move(targets), SequenceTarget::many_to_one) {}

  /// @brief The number of samples N (>= 1).
  [[nodiscard]] std::size_t size() const noexcept { return store_.size(); }
  /// @brief The number of features F (rows of features()).
  [[nodiscard]] Eigen::Index feature_count() const noexcept { return store_.feature_count(); }
  /// @brief features x samples.
  [[nodiscard]] const Matrix<Scalar>& features() const noexcept { return store_.features(); }
  /// @brief The targets, whichever kind they are.
  [[nodiscard]] const Targets<Scalar>& targets() const noexcept { return store_.targets(); }
  /// @brief True for class labels, false for regression targets.
  [[nodiscard]] bool is_classification() const noexcept { return store_.is_classification(); }
  /// @brief One class per sample; throws std::logic_error for a regression dataset.
  [[nodiscard]] const std::vector<int>& labels() const { return store_.class_labels().labels; }
  /// @brief The number of classes; throws std::logic_error for a regression dataset.
  [[nodiscard]] int class_count() const { return store_.class_labels().class_count; }
  /// @brief Samples per class; throws std::logic_error for a regression dataset.
  [[nodiscard]] std::vector<std::size_t> class_counts() const { return store_.class_counts(); }
  /// @brief outputs x samples; throws std::logic_error for a classification dataset.
  [[nodiscard]] const Matrix<Scalar>& regression_targets() const {
    return store_.regression_targets();
  }
  /// @brief The rows a model's output needs: class_count() or the regression target rows.
  [[nodiscard]] Eigen::Index output_count() const noexcept { return store_.output_count(); }

  /// @brief The samples `indices` (in that order, repeats allowed). Throws std::invalid_argument
  /// for no index and std::out_of_range for an index >= size().
  [[nodiscard]] Dataset subset(std::span<const std::size_t> indices) const {
    return Dataset(store_.subset(indices));
  }

  /// @brief A seeded random split into {train, validation}.
  ///
  /// validation gets round(validation_fraction * N) samples (at least 1, at most N - 1), train
  /// the rest; both keep the original order. The same seed gives the same split on every
  /// platform. With Stratify::yes each class is split in the same proportion (classification
  /// only). Throws std::invalid_argument if validation_fraction is not in (0, 1), N < 2, or
  /// stratification is asked of a regression dataset.
  [[nodiscard]] DatasetSplit<Dataset> split(double validation_fraction, std::uint64_t seed,
                                            Stratify stratify = Stratify::no) const {
    auto [train, validation] = store_.split_indices(validation_fraction, seed, stratify);
    return {subset(train), subset(validation)};
  }

  /// @brief Shuffled minibatches, one epoch per begin() (see Minibatches). Throws
  /// std::invalid_argument if minibatch_size is 0. The dataset and random must outlive the range.
  [[nodiscard]] Minibatches<Scalar> minibatches(std::size_t minibatch_size, Random& random) const& {
    return {store_, minibatch_size, random};
  }
  /// Minibatches of a temporary dataset would dangle.
  void minibatches(std::size_t minibatch_size, Random& random) const&& = delete;

  /// @brief The samples `indices` in the minibatch layout, into `batch`'s reused buffers.
  void gather(std::span<const std::size_t> indices, Minibatch<Scalar>& batch) const {
    store_.gather(indices, batch);
  }
  /// @brief The whole dataset, in order, as one minibatch (e.g. for evaluation).
  [[nodiscard]] Minibatch<Scalar> as_minibatch() const {
    Minibatch<Scalar> batch;
    std::vector<std::size_t> all(size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    store_.gather(all, batch);
    return batch;
  }

 private:
  static constexpr const char* kName = "hpt::data::Dataset";
  explicit Dataset(detail::SampleStore<Scalar> store) : store_(std::move(store)) {}
  detail::SampleStore<Scalar> store_;
};

}  // namespace hpt::data
