#pragma once
/// @file minibatches.hpp
/// @brief One epoch of shuffled minibatches as a range over reused buffers.

#include <hpt/core/random.hpp>
#include <hpt/data/minibatch.hpp>
#include <hpt/data/sample_store.hpp>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <numeric>
#include <span>
#include <stdexcept>
#include <vector>

namespace hpt::data {

template <class Scalar>
class Dataset;
template <class Scalar>
class SequenceDataset;

/// @brief The minibatches of a dataset, one epoch per begin().
///
/// Each begin() starts an epoch: the order 0..N-1 is reset and shuffled with the Random given at
/// creation (hpt::Random::shuffle, so the order is the same on every platform and depends only on
/// the Random's state), then the samples are visited in that order in minibatches of
/// minibatch_size; the last one holds the N mod minibatch_size remaining samples, if any (no
/// sample is dropped). All buffers are allocated when the range is made: one full-size and one
/// last-size Minibatch, so iterating makes no allocation. The Minibatch a dereference returns is
/// overwritten by the next ++; copy it to keep it.
///
/// The dataset and the Random must outlive the range and stay where they are.
///
/// @code
/// hpt::Random random(seed);
/// auto batches = train.minibatches(32, random);
/// for (int epoch = 0; epoch < epochs; ++epoch)
///   for (const auto& batch : batches) model.step(batch.features, batch.labels);
/// @endcode
template <class Scalar>
class Minibatches {
 public:
  /// @brief An input iterator over the current epoch's minibatches.
  class iterator {
   public:
    using value_type = Minibatch<Scalar>;
    using difference_type = std::ptrdiff_t;
    using reference = const Minibatch<Scalar>&;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    reference operator*() const { return owner_->current(); }
    const Minibatch<Scalar>* operator->() const { return &owner_->current(); }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    friend class Minibatches;
    explicit iterator(Minibatches* owner) : owner_(owner) {}
    // A member (unlike the hidden friend above) may read the enclosing class's state.
    [[nodiscard]] bool at_end() const noexcept {
      return owner_ == nullptr || owner_->position_ >= owner_->order_.size();
    }
    Minibatches* owner_ = nullptr;
  };

  /// @brief Starts a new epoch (reshuffles) and returns its first minibatch.
  iterator begin() {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    random_->shuffle(order_.begin(), order_.end());
    position_ = 0;
    load();
    return iterator(this);
  }
  /// @brief The end of the epoch.
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

  /// @brief The number of samples per full minibatch.
  [[nodiscard]] std::size_t minibatch_size() const noexcept { return minibatch_size_; }
  /// @brief Minibatches per epoch: ceil(N / minibatch_size).
  [[nodiscard]] std::size_t minibatch_count() const noexcept {
    return (order_.size() + minibatch_size_ - 1) / minibatch_size_;
  }
  /// @brief The number of samples per epoch, N.
  [[nodiscard]] std::size_t sample_count() const noexcept { return order_.size(); }

 private:
  friend class Dataset<Scalar>;
  friend class SequenceDataset<Scalar>;

  Minibatches(const detail::SampleStore<Scalar>& store, std::size_t minibatch_size, Random& random)
      : store_(&store), random_(&random), order_(store.size()) {
    if (minibatch_size == 0)
      throw std::invalid_argument(store.owner() +
                                  "::minibatches: minibatch_size must be positive, got 0");
    minibatch_size_ = std::min(minibatch_size, order_.size());
    // Gathering the first samples sizes both buffers once; later gathers reuse them.
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    store_->gather(std::span(order_).first(minibatch_size_), full_);
    if (const std::size_t rest = order_.size() % minibatch_size_; rest != 0)
      store_->gather(std::span(order_).first(rest), last_);
    position_ = order_.size();
  }

  // An index rather than a pointer, so that copies of the range stay valid.
  [[nodiscard]] const Minibatch<Scalar>& current() const noexcept {
    return current_is_last_ ? last_ : full_;
  }

  void advance() {
    position_ += current().size();
    load();
  }

  void load() {
    if (position_ >= order_.size()) return;
    const std::size_t count = std::min(minibatch_size_, order_.size() - position_);
    current_is_last_ = count != minibatch_size_;
    store_->gather(std::span(order_).subspan(position_, count), current_is_last_ ? last_ : full_);
  }

  const detail::SampleStore<Scalar>* store_;
  Random* random_;
  std::vector<std::size_t> order_;
  std::size_t minibatch_size_ = 0;
  std::size_t position_ = 0;
  Minibatch<Scalar> full_;
  Minibatch<Scalar> last_;
  bool current_is_last_ = false;
};

}  // namespace hpt::data
