#pragma once
/// @file epoch_cursor.hpp
/// @brief A resumable position in shuffled epochs: which samples the next minibatch takes.

#include <hpt/random.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <numeric>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt::data {

/// @brief Hands out sample indices minibatch by minibatch, epoch after epoch, and can be written
/// out and read back mid-epoch.
///
/// An epoch starts when the previous one is used up: the order 0..N-1 is reset and shuffled with
/// the cursor's own hpt::Random (the same shuffle as Minibatches, so a cursor and a Minibatches
/// range seeded alike visit the samples in the same order). A minibatch never crosses an epoch's
/// end: the last one of an epoch holds the N mod size remaining samples. Unlike Minibatches, the
/// cursor is a value that a trainer can checkpoint: order, position, epoch count and random state.
class EpochCursor {
 public:
  /// @brief A cursor over `sample_count` samples, shuffled from `seed`; throws
  /// std::invalid_argument for 0 samples.
  EpochCursor(std::size_t sample_count, std::uint64_t seed)
      : random_(seed), order_(sample_count), position_(sample_count) {
    if (sample_count == 0)
      throw std::invalid_argument("hpt::data::EpochCursor: sample_count must be positive, got 0");
  }

  /// @brief The indices of the next minibatch of at most `minibatch_size` samples (fewer at the
  /// end of an epoch); starts a new epoch first when the current one is used up. The span stays
  /// valid until the next call. Throws std::invalid_argument for a size of 0.
  std::span<const std::size_t> next(std::size_t minibatch_size) {
    if (minibatch_size == 0)
      throw std::invalid_argument("hpt::data::EpochCursor::next: minibatch_size must be positive");
    if (position_ == order_.size()) {
      if (started_) ++completed_epochs_;
      std::iota(order_.begin(), order_.end(), std::size_t{0});
      random_.shuffle(order_.begin(), order_.end());
      position_ = 0;
      started_ = true;
    }
    const std::size_t count = std::min(minibatch_size, order_.size() - position_);
    const auto batch = std::span<const std::size_t>(order_).subspan(position_, count);
    position_ += count;
    return batch;
  }

  /// @brief The number of samples N.
  [[nodiscard]] std::size_t sample_count() const noexcept { return order_.size(); }
  /// @brief Minibatches in one epoch of minibatches of `minibatch_size`: ceil(N / size).
  [[nodiscard]] std::size_t minibatches_per_epoch(std::size_t minibatch_size) const {
    if (minibatch_size == 0)
      throw std::invalid_argument(
          "hpt::data::EpochCursor::minibatches_per_epoch: minibatch_size must be positive");
    return (order_.size() + minibatch_size - 1) / minibatch_size;
  }
  /// @brief Epochs whose every sample has been handed out.
  [[nodiscard]] std::int64_t completed_epochs() const noexcept {
    return completed_epochs_ + (started_ && position_ == order_.size() ? 1 : 0);
  }
  /// @brief Epochs seen so far as a fraction: completed epochs plus the share of the current one.
  [[nodiscard]] double epochs() const noexcept {
    if (!started_ || position_ == order_.size()) return static_cast<double>(completed_epochs());
    return static_cast<double>(completed_epochs_) +
           static_cast<double>(position_) / static_cast<double>(order_.size());
  }

  /// @brief Writes the whole state (text, one line per field), for checkpoints.
  void write(std::ostream& out) const {
    out << "hpt.epoch_cursor.1 " << order_.size() << ' ' << position_ << ' ' << completed_epochs_
        << ' ' << (started_ ? 1 : 0) << '\n';
    for (const auto index : order_) out << index << ' ';
    out << '\n' << random_ << '\n';
    if (!out) throw std::runtime_error("hpt::data::EpochCursor::write: stream error");
  }

  /// @brief Reads what write() wrote. Throws std::runtime_error, and changes nothing, if the
  /// state is malformed or was written for another number of samples.
  void read(std::istream& in) {
    std::string tag;
    std::size_t size = 0;
    EpochCursor restored(order_.size(), 0);
    int started = 0;
    if (!(in >> tag) || tag != "hpt.epoch_cursor.1")
      throw std::runtime_error("hpt::data::EpochCursor::read: not an epoch cursor state");
    if (!(in >> size >> restored.position_ >> restored.completed_epochs_ >> started))
      throw std::runtime_error("hpt::data::EpochCursor::read: truncated state");
    if (size != order_.size())
      throw std::runtime_error("hpt::data::EpochCursor::read: the state is for " +
                               std::to_string(size) + " samples, this cursor has " +
                               std::to_string(order_.size()));
    std::vector<bool> seen(size, false);
    for (auto& index : restored.order_) {
      if (!(in >> index) || index >= size || seen[index])
        throw std::runtime_error("hpt::data::EpochCursor::read: the order is not a permutation");
      seen[index] = true;
    }
    if (!(in >> restored.random_))
      throw std::runtime_error("hpt::data::EpochCursor::read: truncated random state");
    if (restored.position_ > size || restored.completed_epochs_ < 0 ||
        (started != 0 && started != 1))
      throw std::runtime_error("hpt::data::EpochCursor::read: inconsistent state");
    restored.started_ = started == 1;
    *this = std::move(restored);
  }

  friend bool operator==(const EpochCursor&, const EpochCursor&) = default;

 private:
  Random random_;
  std::vector<std::size_t> order_;
  std::size_t position_;  // next index into order_; == size: the epoch is used up
  std::int64_t completed_epochs_ = 0;
  bool started_ = false;
};

}  // namespace hpt::data
