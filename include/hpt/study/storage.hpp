#pragma once
/// @file storage.hpp
/// @brief Where a study's log lives: the Storage interface the coordinator writes through, a
/// study's identity (what may not change between runs), and MemoryStorage.
///
/// A storage keeps, per study name, the identity and the ordered events (events.hpp), written
/// in transactions: all of one append() or none. The coordinator appends a job's end before it
/// acts on it (tells the scheduler, starts the next job), so whatever a crash leaves is a prefix
/// of the log that ends at a transaction, and resuming from it gives the study the uninterrupted
/// run would have given (docs/storage.md). Checkpoints of paused trials go with the job's end, in
/// the same transaction, and a storage drops a trial's checkpoint when the trial ends.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/study/events.hpp"

namespace hpt {

/// @brief A storage refused or failed an operation (a study that exists or does not, changed
/// settings, a damaged file); the message names the study and, for stored data, the row.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Which of creating or resuming a study the caller asks for.
enum class OpenMode {
  create,            ///< A new study; refused if one of that name is stored.
  resume,            ///< A stored study; refused if none of that name is.
  create_or_resume,  ///< Resume it if it is stored, else create it (Optuna's load_if_exists).
};

/// @brief What a study is: resuming it with other settings is refused, naming the difference.
struct StudyIdentity {
  std::string name{};
  Direction direction = Direction::minimize;
  TrialResult result = TrialResult::last_step;
  std::uint64_t seed = 0;
  std::string space{};     ///< The search space, as SearchSpace's operator<< prints it.
  std::string strategy{};  ///< The strategy's plan, as Schedule's operator<< prints it.
  std::string version{};   ///< The hpt that created it (informative: never refused).
};

/// @brief The first setting in which `given` differs from `stored`, as "seed: stored 1, given 2"
/// (the space and the strategy quote their first differing line); empty when none does.
inline std::string identity_difference(const StudyIdentity& stored, const StudyIdentity& given) {
  const auto first_line_apart = [](const std::string& a, const std::string& b) {
    std::istringstream left(a), right(b);
    std::string x, y;
    for (int line = 1;; ++line) {
      const bool more_left = static_cast<bool>(std::getline(left, x));
      const bool more_right = static_cast<bool>(std::getline(right, y));
      if (!more_left && !more_right) return std::string{};
      if (!more_left) x = "(nothing)";
      if (!more_right) y = "(nothing)";
      if (x != y)
        return "line " + std::to_string(line) + ": stored \"" + x + "\", given \"" + y + "\"";
    }
  };
  if (stored.direction != given.direction)
    return "direction: stored " + std::string(to_string(stored.direction)) + ", given " +
           std::string(to_string(given.direction));
  if (stored.result != given.result)
    return "result rule: stored " + std::string(to_string(stored.result)) + ", given " +
           std::string(to_string(given.result));
  if (stored.seed != given.seed)
    return "seed: stored " + std::to_string(stored.seed) + ", given " + std::to_string(given.seed);
  if (auto apart = first_line_apart(stored.space, given.space); !apart.empty())
    return "search space, " + apart;
  if (auto apart = first_line_apart(stored.strategy, given.strategy); !apart.empty())
    return "strategy, " + apart;
  return {};
}

/// @brief True for a job end that leaves its trial's stored checkpoint as it was: the study
/// stopped during the job or before it began, and the job will run again from that checkpoint.
constexpr bool keeps_checkpoint(const JobEnded& ended) noexcept {
  return ended.status == TrialStatus::interrupted || !ended.started;
}

/// @brief The interface the coordinator writes a study through. One coordinator writes a study
/// at a time; the calls come from the coordinator's thread only.
class Storage {
 public:
  virtual ~Storage() = default;
  /// @brief Opens the study `identity.name`: creates it, or returns its stored events in order
  /// (empty for a new study). Throws StorageError for a study that exists (create) or does not
  /// (resume), or whose stored identity differs (naming the difference, identity_difference).
  virtual std::vector<StudyEvent> open(const StudyIdentity& identity, OpenMode mode) = 0;
  /// @brief Appends events to the opened study as one transaction: all are stored or none.
  virtual void append(std::span<const StudyEvent> events) = 0;
  /// @brief The checkpoint a paused trial of the opened study continues from: the one saved
  /// with its last JobEnded, skipping those that keeps_checkpoint(); none once a job end without a
  /// save, any other end or a TrialPruned came after it.
  [[nodiscard]] virtual std::optional<std::string> checkpoint(std::size_t trial) = 0;
  /// @brief True when what is appended outlives the process (the coordinator then saves every
  /// paused Checkpointable trial, so a resumed study continues it instead of retraining it).
  [[nodiscard]] virtual bool durable() const noexcept = 0;
};

/// @brief A storage in memory: studies outlive a tune() call (a stopped study resumes in the
/// same process), not the process. prefix() gives what a crash after any transaction would have
/// left, for testing that resuming gives the uninterrupted study.
class MemoryStorage final : public Storage {
 public:
  /// @param durable What durable() answers: true makes the coordinator save paused trials as it
  /// does for a file, so that prefix() behaves as a file left by a crash.
  explicit MemoryStorage(bool durable = false) : durable_(durable) {}

  std::vector<StudyEvent> open(const StudyIdentity& identity, OpenMode mode) override {
    open_ = nullptr;  // a refused open leaves no study open for append()
    auto found = studies_.find(identity.name);
    if (found == studies_.end()) {
      if (mode == OpenMode::resume)
        throw StorageError("hpt::MemoryStorage: no study \"" + identity.name + "\" to resume");
      found = studies_.emplace(identity.name, Stored{identity}).first;
    } else {
      if (mode == OpenMode::create)
        throw StorageError("hpt::MemoryStorage: a study \"" + identity.name +
                           "\" exists already (resume it, or choose another name)");
      if (auto difference = identity_difference(found->second.identity, identity);
          !difference.empty())
        throw StorageError("hpt::MemoryStorage: study \"" + identity.name +
                           "\" was stored with other settings: " + difference);
    }
    open_ = &found->second;
    std::vector<StudyEvent> events;
    events.reserve(open_->log.size());
    for (const auto& entry : open_->log) events.push_back(entry.event);
    return events;
  }

  void append(std::span<const StudyEvent> events) override {
    if (!open_) throw StorageError("hpt::MemoryStorage: append before open");
    for (const auto& event : events) {
      Entry entry{event, {}};
      if (auto* ended = std::get_if<JobEnded>(&entry.event)) {
        if (ended->saved) entry.checkpoint = std::string(ended->checkpoint);
        ended->checkpoint = {};
      }
      open_->log.push_back(std::move(entry));
    }
    open_->transactions.push_back(open_->log.size());
  }

  [[nodiscard]] std::optional<std::string> checkpoint(std::size_t trial) override {
    if (!open_) return std::nullopt;
    for (auto entry = open_->log.rbegin(); entry != open_->log.rend(); ++entry) {
      if (const auto* pruned = std::get_if<TrialPruned>(&entry->event);
          pruned && pruned->trial == trial)
        return std::nullopt;
      const auto* ended = std::get_if<JobEnded>(&entry->event);
      if (!ended || ended->trial != trial || keeps_checkpoint(*ended)) continue;
      return ended->status == TrialStatus::paused ? entry->checkpoint : std::nullopt;
    }
    return std::nullopt;
  }

  [[nodiscard]] bool durable() const noexcept override { return durable_; }

  /// @brief How many transactions the study `name` holds (0 when it is not stored).
  [[nodiscard]] std::size_t transactions(const std::string& name) const {
    const auto found = studies_.find(name);
    return found == studies_.end() ? 0 : found->second.transactions.size();
  }

  /// @brief The events of study `name` (checkpoints left out), in order.
  [[nodiscard]] std::vector<StudyEvent> events(const std::string& name) const {
    std::vector<StudyEvent> events;
    if (const auto found = studies_.find(name); found != studies_.end())
      for (const auto& entry : found->second.log) events.push_back(entry.event);
    return events;
  }

  /// @brief A storage holding study `name` as it was after its first `transactions`
  /// transactions: what a crash at that moment would have left.
  [[nodiscard]] std::shared_ptr<MemoryStorage> prefix(const std::string& name,
                                                      std::size_t transactions) const {
    auto copy = std::make_shared<MemoryStorage>(durable_);
    const Stored& stored = studies_.at(name);
    if (transactions > stored.transactions.size())
      throw std::out_of_range("hpt::MemoryStorage::prefix: study \"" + name + "\" has " +
                              std::to_string(stored.transactions.size()) + " transactions, not " +
                              std::to_string(transactions));
    Stored cut{stored.identity};
    const std::size_t events = transactions == 0 ? 0 : stored.transactions[transactions - 1];
    cut.log.assign(stored.log.begin(), stored.log.begin() + static_cast<std::ptrdiff_t>(events));
    cut.transactions.assign(
        stored.transactions.begin(),
        stored.transactions.begin() + static_cast<std::ptrdiff_t>(transactions));
    copy->studies_.emplace(name, std::move(cut));
    return copy;
  }

 private:
  struct Entry {
    StudyEvent event;
    std::optional<std::string> checkpoint;
  };
  struct Stored {
    StudyIdentity identity;
    std::vector<Entry> log{};
    std::vector<std::size_t> transactions{};  // the log's size after each
  };
  bool durable_;
  std::map<std::string, Stored> studies_;
  Stored* open_ = nullptr;
};

}  // namespace hpt
