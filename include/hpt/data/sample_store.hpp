#pragma once
/// @file sample_store.hpp
/// @brief Storage, checks, subsets, splits and gathers shared by Dataset and SequenceDataset.

#include <hpt/core/random.hpp>
#include <hpt/data/minibatch.hpp>
#include <hpt/data/targets.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hpt::data {

/// @brief Whether a split keeps each class's share in both parts.
enum class Stratify : bool {
  no,  ///< Plain random split.
  yes  ///< Per-class random split (classification with one label per sample only).
};

/// @brief The two parts of a split.
template <class DatasetType>
struct DatasetSplit {
  DatasetType train;       ///< The remaining samples, in their original order.
  DatasetType validation;  ///< The held-out samples, in their original order.
};

namespace detail {

/// @brief Formats a double for error messages (shortest round-trip-ish form).
inline std::string number_text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

/// @brief N samples, each T feature columns (sample-major: sample n, step t is column n * T + t),
/// with targets per sample (S = 1) or per step (S = T). Dataset is the case T = 1.
template <class Scalar>
class SampleStore {
 public:
  SampleStore(std::string owner, Matrix<Scalar> features, Eigen::Index time_steps,
              Targets<Scalar> targets, SequenceTarget alignment)
      : owner_(std::move(owner)),
        features_(std::move(features)),
        targets_(std::move(targets)),
        time_steps_(time_steps),
        alignment_(alignment) {
    if (time_steps_ <= 0) fail("time_steps must be positive, got " + std::to_string(time_steps_));
    if (features_.rows() == 0) fail("features has 0 rows: a sample needs at least one feature");
    if (features_.cols() == 0) fail("features has 0 columns: the dataset would be empty");
    if (features_.cols() % time_steps_ != 0)
      fail("features has " + std::to_string(features_.cols()) +
           " columns, which is not a multiple of time_steps " + std::to_string(time_steps_));
    check_finite(features_, "features");
    size_ = static_cast<std::size_t>(features_.cols() / time_steps_);
    target_steps_ = alignment == SequenceTarget::many_to_many ? time_steps_ : 1;
    const auto expected = size_ * static_cast<std::size_t>(target_steps_);
    const std::string per = target_steps_ == 1 ? "one per sample" : "one per step";
    if (auto* classes = std::get_if<ClassLabels>(&targets_)) {
      if (classes->class_count <= 0)
        fail("class_count must be positive, got " + std::to_string(classes->class_count));
      if (classes->labels.size() != expected)
        fail("labels has " + std::to_string(classes->labels.size()) + " entries, expected " +
             std::to_string(expected) + " (" + per + ")");
      for (std::size_t i = 0; i < classes->labels.size(); ++i)
        if (classes->labels[i] < 0 || classes->labels[i] >= classes->class_count)
          fail("labels[" + std::to_string(i) + "] = " + std::to_string(classes->labels[i]) +
               " is outside [0, class_count = " + std::to_string(classes->class_count) + ")");
    } else {
      const auto& values = std::get<RegressionTargets<Scalar>>(targets_).values;
      if (values.rows() == 0) fail("regression targets have 0 rows (outputs)");
      if (static_cast<std::size_t>(values.cols()) != expected)
        fail("regression targets have " + std::to_string(values.cols()) + " columns, expected " +
             std::to_string(expected) + " (" + per + ")");
      check_finite(values, "regression targets");
    }
  }

  [[nodiscard]] const std::string& owner() const noexcept { return owner_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] Eigen::Index time_steps() const noexcept { return time_steps_; }
  [[nodiscard]] Eigen::Index target_steps() const noexcept { return target_steps_; }
  [[nodiscard]] SequenceTarget alignment() const noexcept { return alignment_; }
  [[nodiscard]] Eigen::Index feature_count() const noexcept { return features_.rows(); }
  [[nodiscard]] const Matrix<Scalar>& features() const noexcept { return features_; }
  [[nodiscard]] const Targets<Scalar>& targets() const noexcept { return targets_; }
  [[nodiscard]] bool is_classification() const noexcept {
    return std::holds_alternative<ClassLabels>(targets_);
  }

  [[nodiscard]] const ClassLabels& class_labels() const {
    if (const auto* classes = std::get_if<ClassLabels>(&targets_)) return *classes;
    throw std::logic_error(owner_ + ": the dataset has regression targets, not class labels");
  }
  [[nodiscard]] const Matrix<Scalar>& regression_targets() const {
    if (const auto* values = std::get_if<RegressionTargets<Scalar>>(&targets_))
      return values->values;
    throw std::logic_error(owner_ + ": the dataset has class labels, not regression targets");
  }
  /// @brief Rows of the model's output: the class count or the regression target rows.
  [[nodiscard]] Eigen::Index output_count() const noexcept {
    if (const auto* classes = std::get_if<ClassLabels>(&targets_)) return classes->class_count;
    return std::get<RegressionTargets<Scalar>>(targets_).values.rows();
  }

  /// @brief Samples per class (classification only; per-step labels count every step).
  [[nodiscard]] std::vector<std::size_t> class_counts() const {
    const auto& classes = class_labels();
    std::vector<std::size_t> counts(static_cast<std::size_t>(classes.class_count), 0);
    for (const int label : classes.labels) ++counts[static_cast<std::size_t>(label)];
    return counts;
  }

  /// @brief The samples `indices` (repeats allowed), in that order.
  [[nodiscard]] SampleStore subset(std::span<const std::size_t> indices) const {
    if (indices.empty())
      throw std::invalid_argument(owner_ + "::subset: indices is empty: the subset would be empty");
    check_indices(indices, "subset");
    const Eigen::Index count = static_cast<Eigen::Index>(indices.size());
    Matrix<Scalar> features(features_.rows(), count * time_steps_);
    for (Eigen::Index i = 0; i < count; ++i)
      features.middleCols(i * time_steps_, time_steps_) =
          features_.middleCols(sample_column(indices[static_cast<std::size_t>(i)]), time_steps_);
    Targets<Scalar> targets;
    if (const auto* classes = std::get_if<ClassLabels>(&targets_)) {
      ClassLabels picked{{}, classes->class_count};
      picked.labels.reserve(indices.size() * static_cast<std::size_t>(target_steps_));
      for (const std::size_t index : indices) {
        const auto first =
            classes->labels.begin() +
            static_cast<std::ptrdiff_t>(index * static_cast<std::size_t>(target_steps_));
        picked.labels.insert(picked.labels.end(), first, first + target_steps_);
      }
      targets = std::move(picked);
    } else {
      const auto& values = std::get<RegressionTargets<Scalar>>(targets_).values;
      Matrix<Scalar> picked(values.rows(), count * target_steps_);
      for (Eigen::Index i = 0; i < count; ++i)
        picked.middleCols(i * target_steps_, target_steps_) = values.middleCols(
            static_cast<Eigen::Index>(indices[static_cast<std::size_t>(i)]) * target_steps_,
            target_steps_);
      targets = RegressionTargets<Scalar>{std::move(picked)};
    }
    return {owner_, std::move(features), time_steps_, std::move(targets), alignment()};
  }

  /// @brief The sample indices of {train, validation}, each sorted.
  ///
  /// The validation part has round(validation_fraction * N) samples, at least 1 and at most
  /// N - 1. A plain split shuffles 0..N-1 with hpt::Random(seed) and takes the first ones. A
  /// stratified split gives each class its share of the validation count (largest remainders,
  /// ties to the lower class), then shuffles each class's indices in class order with the same
  /// Random and takes the first ones.
  [[nodiscard]] std::pair<std::vector<std::size_t>, std::vector<std::size_t>> split_indices(
      double validation_fraction, std::uint64_t seed, Stratify stratify) const {
    if (!(validation_fraction > 0.0 && validation_fraction < 1.0))
      throw std::invalid_argument(owner_ + "::split: validation_fraction must be in (0, 1), got " +
                                  number_text(validation_fraction));
    if (size_ < 2)
      throw std::invalid_argument(owner_ + "::split: the dataset has " + std::to_string(size_) +
                                  " sample; a split needs at least 2");
    const auto rounded =
        static_cast<std::size_t>(std::llround(validation_fraction * static_cast<double>(size_)));
    const std::size_t validation_count = std::clamp<std::size_t>(rounded, 1, size_ - 1);
    Random random(seed);
    std::vector<std::size_t> validation;
    std::vector<bool> held_out(size_, false);
    if (stratify == Stratify::no) {
      std::vector<std::size_t> order(size_);
      std::iota(order.begin(), order.end(), std::size_t{0});
      random.shuffle(order.begin(), order.end());
      validation.assign(order.begin(),
                        order.begin() + static_cast<std::ptrdiff_t>(validation_count));
    } else {
      if (!is_classification() || target_steps_ != 1)
        throw std::invalid_argument(
            owner_ + "::split: stratify = yes needs class labels with one label per sample");
      const auto& classes = class_labels();
      std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(classes.class_count));
      for (std::size_t i = 0; i < size_; ++i)
        members[static_cast<std::size_t>(classes.labels[i])].push_back(i);
      // Largest-remainder apportionment: the class shares add up to validation_count exactly.
      std::vector<std::size_t> quota(members.size());
      std::vector<std::pair<double, std::size_t>> remainders;
      std::size_t assigned = 0;
      for (std::size_t c = 0; c < members.size(); ++c) {
        const double exact = static_cast<double>(validation_count) *
                             static_cast<double>(members[c].size()) / static_cast<double>(size_);
        quota[c] = static_cast<std::size_t>(std::floor(exact));
        assigned += quota[c];
        remainders.emplace_back(exact - static_cast<double>(quota[c]), c);
      }
      std::stable_sort(remainders.begin(), remainders.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      for (std::size_t k = 0; assigned < validation_count && k < remainders.size(); ++k) {
        const std::size_t c = remainders[k].second;
        if (quota[c] < members[c].size()) {
          ++quota[c];
          ++assigned;
        }
      }
      for (std::size_t c = 0; c < members.size(); ++c) {
        random.shuffle(members[c].begin(), members[c].end());
        validation.insert(validation.end(), members[c].begin(),
                          members[c].begin() + static_cast<std::ptrdiff_t>(quota[c]));
      }
    }
    for (const std::size_t index : validation) held_out[index] = true;
    std::vector<std::size_t> train;
    train.reserve(size_ - validation.size());
    for (std::size_t i = 0; i < size_; ++i)
      if (!held_out[i]) train.push_back(i);
    std::sort(validation.begin(), validation.end());
    return {std::move(train), std::move(validation)};
  }

  /// @brief Copies the samples `indices` into `batch` in the minibatch layout. Reuses the
  /// batch's buffers: no allocation when they already have this size.
  void gather(std::span<const std::size_t> indices, Minibatch<Scalar>& batch) const {
    check_indices(indices, "gather");
    const auto count = static_cast<Eigen::Index>(indices.size());
    batch.time_steps = time_steps_;
    batch.target_steps = target_steps_;
    batch.indices.assign(indices.begin(), indices.end());
    batch.features.resize(features_.rows(), time_steps_ * count);
    for (Eigen::Index b = 0; b < count; ++b) {
      const Eigen::Index first = sample_column(indices[static_cast<std::size_t>(b)]);
      for (Eigen::Index t = 0; t < time_steps_; ++t)
        batch.features.col(t * count + b) = features_.col(first + t);
    }
    if (const auto* classes = std::get_if<ClassLabels>(&targets_)) {
      batch.targets.resize(0, 0);
      batch.labels.resize(static_cast<std::size_t>(target_steps_ * count));
      for (Eigen::Index b = 0; b < count; ++b) {
        const auto first =
            indices[static_cast<std::size_t>(b)] * static_cast<std::size_t>(target_steps_);
        for (Eigen::Index s = 0; s < target_steps_; ++s)
          batch.labels[static_cast<std::size_t>(s * count + b)] =
              classes->labels[first + static_cast<std::size_t>(s)];
      }
    } else {
      const auto& values = std::get<RegressionTargets<Scalar>>(targets_).values;
      batch.labels.clear();
      batch.targets.resize(values.rows(), target_steps_ * count);
      for (Eigen::Index b = 0; b < count; ++b) {
        const auto first =
            static_cast<Eigen::Index>(indices[static_cast<std::size_t>(b)]) * target_steps_;
        for (Eigen::Index s = 0; s < target_steps_; ++s)
          batch.targets.col(s * count + b) = values.col(first + s);
      }
    }
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw std::invalid_argument(owner_ + ": " + message);
  }

 private:
  [[nodiscard]] Eigen::Index sample_column(std::size_t index) const noexcept {
    return static_cast<Eigen::Index>(index) * time_steps_;
  }

  void check_indices(std::span<const std::size_t> indices, const char* operation) const {
    for (std::size_t i = 0; i < indices.size(); ++i)
      if (indices[i] >= size_)
        throw std::out_of_range(owner_ + "::" + operation + ": indices[" + std::to_string(i) +
                                "] = " + std::to_string(indices[i]) + " is out of range for " +
                                std::to_string(size_) + " samples");
  }

  void check_finite(const Matrix<Scalar>& values, const char* what) const {
    if (values.allFinite()) return;
    for (Eigen::Index col = 0; col < values.cols(); ++col)
      for (Eigen::Index row = 0; row < values.rows(); ++row)
        if (!std::isfinite(values(row, col)))
          fail(std::string(what) + " has a non-finite value at (" + std::to_string(row) + ", " +
               std::to_string(col) + ")");
  }

  std::string owner_;
  Matrix<Scalar> features_;
  Targets<Scalar> targets_;
  Eigen::Index time_steps_ = 1;
  SequenceTarget alignment_ = SequenceTarget::many_to_one;
  Eigen::Index target_steps_ = 1;
  std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace hpt::data
