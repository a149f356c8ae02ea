#pragma once
/// @file epoch_cursor.hpp
/// @brief A resumable position in shuffled epochs: which samples the next minibatch takes.

#include <hpt/core/random.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
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
  /// state is malformed or was written for another number of samples: the order must be a
  /// permutation of 0..N-1, the position at most N, the completed epochs in [0, INT64_MAX) (and
  /// both 0 and N before the first minibatch), and the random state whole.
  void read(std::istream& in) {
    constexpr const char* where = "hpt::data::EpochCursor::read: ";
    std::string tag;
    std::size_t size = 0;
    int started = 0;
    if (!(in >> tag) || tag != "hpt.epoch_cursor.1")
      throw std::runtime_error(std::string(where) + "not an epoch cursor state");
    std::size_t position = 0;
    std::int64_t completed_epochs = 0;
    if (!(in >> size >> position >> completed_epochs >> started))
      throw std::runtime_error(std::string(where) + "truncated state");
    // Checked before the order is read: the order and the marks below have this cursor's size.
    if (size != order_.size())
      throw std::runtime_error(std::string(where) + "the state is for " + std::to_string(size) +
                               " samples, this cursor has " + std::to_string(order_.size()));
    if (position > size)
      throw std::runtime_error(std::string(where) + "position " + std::to_string(position) +
                               " is beyond the " + std::to_string(size) + " samples");
    // next() adds one when an epoch ends: INT64_MAX would overflow.
    if (completed_epochs < 0 || completed_epochs == std::numeric_limits<std::int64_t>::max())
      throw std::runtime_error(std::string(where) + "completed epochs " +
                               std::to_string(completed_epochs) + " out of range");
    if (started != 0 && started != 1)
      throw std::runtime_error(std::string(where) + "started flag " + std::to_string(started) +
                               " is neither 0 nor 1");
    if (started == 0 && (position != size || completed_epochs != 0))
      throw std::runtime_error(std::string(where) +
                               "a cursor that has not started has a position or epochs");
    EpochCursor restored(order_.size(), 0);
    std::vector<bool> seen(size, false);
    for (auto& index : restored.order_) {
      if (!(in >> index) || index >= size || seen[index])
        throw std::runtime_error(std::string(where) + "the order is not a permutation of 0.." +
                                 std::to_string(size - 1));
      seen[index] = true;
    }
    // write() ends the random state with a newline: a state cut short in its last number would
    // otherwise parse, and the next field be taken for it.
    if (!(in >> restored.random_) || in.get() != '\n')
      throw std::runtime_error(std::string(where) + "truncated or malformed random state");
    restored.position_ = position;
    restored.completed_epochs_ = completed_epochs;
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
