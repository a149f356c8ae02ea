#pragma once
/// @file storage.hpp
/// @brief Where a study's log lives: the Storage interface the coordinator writes through, a
/// study's identity (what may not change between runs), and MemoryStorage.
///
/// A storage keeps, per study name, the identity and the ordered events (events.hpp), written
/// in transactions: all of one commit() or none. The coordinator appends a job's end in the
/// transaction of the decisions it takes from it, and starts no job before that commits, so
/// whatever a crash leaves is a prefix of the log that ends at a transaction, and resuming from
/// it gives the study the uninterrupted run would have given (docs/storage.md). Several sessions
/// (processes) may share a study: each folds the others' events in before it decides. Checkpoints
/// of paused trials go with the job's end, in the same transaction, and a storage drops a trial's
/// checkpoint when the trial ends.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
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
  /// A stored study, continued with settings that may differ from those it was stored with: the
  /// settings are not compared; the log is replayed under the given ones and checked event by
  /// event as in any resume, so it goes on only if the stored study is one the given settings
  /// could have run (a random search given more trials, another stopping policy, which applies
  /// from now on; not another seed or space, whose first trial already differs). A finished
  /// study whose new plan holds more work continues. The stored settings stay as they were:
  /// every session that runs the study with the new ones opens it this way (docs/storage.md).
  resume_changed,
};

/// @brief The hint a refusal for other settings ends with.
inline constexpr std::string_view changed_settings_hint =
    " (to continue it with these settings anyway, open it with OpenMode::resume_changed)";

/// @brief What a study is: resuming it with other settings is refused, naming the difference.
struct StudyIdentity {
  std::string name{};
  Direction direction = Direction::minimize;
  TrialResult result = TrialResult::last_step;
  std::uint64_t seed = 0;
  std::string space{};     ///< The search space, as SearchSpace's operator<< prints it.
  std::string strategy{};  ///< The strategy's plan, as Schedule's operator<< prints it.
  /// The stopping policy's settings (policy_settings); empty when not known (a policy without
  /// settings(), or a study stored before hpt kept them): then it is not compared.
  std::string policy{};
  std::string version{};  ///< The hpt that created it (informative: never refused).
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
  if (!stored.policy.empty() && !given.policy.empty() && stored.policy != given.policy)
    return "stopping policy: stored " + stored.policy + ", given " + given.policy;
  return {};
}

/// @brief True for a job end that leaves its trial's stored checkpoint as it was: the study
/// stopped during the job or before it began, and the job will run again from that checkpoint.
constexpr bool keeps_checkpoint(const JobEnded& ended) noexcept {
  return ended.status == TrialStatus::interrupted || !ended.started;
}

/// @brief A session that is gone, and why (Storage::gone).
struct GoneSession {
  std::uint64_t session = 0;
  std::string reason{};
};

/// @brief The interface the coordinator writes a study through. An object is one connection:
/// open() makes it a new session of one study, and its calls come from one thread at a time
/// (the coordinator's). Several sessions (processes, or connections in one process) may work on
/// one study at once: each reads and writes the log inside lock() ... commit(), which no other
/// session of the study can interleave, so every session folds the same log in the same order.
class Storage {
 public:
  virtual ~Storage() = default;
  /// @brief Opens the study `identity.name` as a new session of it: creates it, or returns its
  /// stored events in order (empty for a new study). Throws StorageError for a study that
  /// exists (create) or does not (resume), or whose stored identity differs (naming the
  /// difference, identity_difference). Ends the session open before, if any.
  virtual std::vector<StudyEvent> open(const StudyIdentity& identity, OpenMode mode) = 0;
  /// @brief This connection's session of the opened study: unique among the study's sessions,
  /// never 0 once open.
  [[nodiscard]] virtual std::uint64_t session() const noexcept = 0;
  /// @brief Begins a transaction no other session of the study can interleave, and returns the
  /// events other sessions appended since this one last read the log (at open() or lock()).
  virtual std::vector<StudyEvent> lock() = 0;
  /// @brief Appends `events` (possibly none) and ends the transaction lock() began: all of them
  /// are stored or none.
  virtual void commit(std::span<const StudyEvent> events) = 0;
  /// @brief Ends the transaction lock() began without writing anything, as if lock() had not been
  /// called: what it returned is returned again by the next lock() (nothing if none is open).
  virtual void rollback() noexcept = 0;
  /// @brief Inside a transaction: which of `sessions` are gone, with why: ended, or their
  /// process died or stopped renewing its lease. A gone session never comes back.
  [[nodiscard]] virtual std::vector<GoneSession> gone(std::span<const std::uint64_t> sessions) = 0;
  /// @brief Outside a transaction: waits at most `timeout` for other sessions to append, and
  /// says whether they did (true at once if they have since this session last read the log).
  virtual bool wait_for_news(std::chrono::milliseconds timeout) = 0;
  /// @brief How long a session waiting for others' work sleeps between looks at the log.
  [[nodiscard]] virtual std::chrono::milliseconds poll_interval() const noexcept = 0;
  /// @brief Ends this session (a clean end: nothing it ran is still running). Never throws.
  virtual void close() noexcept = 0;
  /// @brief The checkpoint a paused trial of the opened study continues from: the one saved
  /// with its last JobEnded, skipping those that keeps_checkpoint(); none once a job end without a
  /// save, any other end or a TrialPruned came after it.
  [[nodiscard]] virtual std::optional<std::string> checkpoint(std::size_t trial) = 0;
  /// @brief True when what is appended outlives the process (the coordinator then saves every
  /// paused Checkpointable trial, so a resumed study continues it instead of retraining it).
  [[nodiscard]] virtual bool durable() const noexcept = 0;

  /// @brief Appends `events` as one transaction; throws StorageError (appending nothing) when
  /// another session appended since this one last read the log: its events must be read first.
  void append(std::span<const StudyEvent> events) {
    if (!lock().empty()) {
      rollback();
      throw StorageError(
          "hpt::Storage::append: another session appended to the study since this one last read "
          "it (read its events with lock() first)");
    }
    commit(events);
  }
};

/// @brief A storage in memory: studies outlive a tune() call (a stopped study resumes in the
/// same process), not the process. prefix() gives what a crash after any transaction would have
/// left, for testing that resuming gives the uninterrupted study; connect() gives another
/// connection to the same studies, as a second process opening the same file would have, for
/// running several coordinators on one study (each in its own thread).
class MemoryStorage final : public Storage {
 public:
  /// @param durable What durable() answers: true makes the coordinator save paused trials as it
  /// does for a file, so that prefix() behaves as a file left by a crash.
  explicit MemoryStorage(bool durable = false)
      : shared_(std::make_shared<Shared>()), durable_(durable) {}
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;
  ~MemoryStorage() override {
    rollback();
    close();
  }

  /// @brief A new connection to the same studies (no study open yet).
  [[nodiscard]] std::shared_ptr<MemoryStorage> connect() const {
    return std::shared_ptr<MemoryStorage>(new MemoryStorage(shared_, durable_));
  }

  std::vector<StudyEvent> open(const StudyIdentity& identity, OpenMode mode) override {
    rollback();
    close();  // a refused open leaves no study open
    const auto guard = hold();
    auto found = shared_->studies.find(identity.name);
    if (found == shared_->studies.end()) {
      if (mode == OpenMode::resume || mode == OpenMode::resume_changed)
        throw StorageError("hpt::MemoryStorage: no study \"" + identity.name + "\" to resume");
      found = shared_->studies.emplace(identity.name, Stored{identity}).first;
    } else {
      if (mode == OpenMode::create)
        throw StorageError("hpt::MemoryStorage: a study \"" + identity.name +
                           "\" exists already (resume it, or choose another name)");
      if (auto difference = identity_difference(found->second.identity, identity);
          !difference.empty() && mode != OpenMode::resume_changed)
        throw StorageError("hpt::MemoryStorage: study \"" + identity.name +
                           "\" was stored with other settings: " + difference +
                           std::string(changed_settings_hint));
    }
    open_ = &found->second;
    session_ = ++shared_->sessions;
    shared_->live.push_back(session_);
    seen_ = open_->log.size();
    std::vector<StudyEvent> events;
    events.reserve(open_->log.size());
    for (const auto& entry : open_->log) events.push_back(entry.event);
    return events;
  }

  [[nodiscard]] std::uint64_t session() const noexcept override { return session_; }

  std::vector<StudyEvent> lock() override {
    if (!open_) throw StorageError("hpt::MemoryStorage: lock before open");
    if (locked_.owns_lock()) throw StorageError("hpt::MemoryStorage: lock inside a transaction");
    locked_ = std::unique_lock(shared_->mutex);
    seen_before_lock_ = seen_;
    std::vector<StudyEvent> events;
    for (; seen_ < open_->log.size(); ++seen_) events.push_back(open_->log[seen_].event);
    return events;
  }

  void commit(std::span<const StudyEvent> events) override {
    if (!locked_.owns_lock()) throw StorageError("hpt::MemoryStorage: commit without lock");
    for (const auto& event : events) {
      Entry entry{event, {}};
      if (auto* ended = std::get_if<JobEnded>(&entry.event)) {
        if (ended->saved) entry.checkpoint = std::string(ended->checkpoint);
        ended->checkpoint = {};
      }
      open_->log.push_back(std::move(entry));
    }
    if (!events.empty()) open_->transactions.push_back(open_->log.size());
    seen_ = open_->log.size();
    locked_.unlock();
    if (!events.empty()) shared_->appended.notify_all();
  }

  void rollback() noexcept override {
    if (!locked_.owns_lock()) return;
    seen_ = seen_before_lock_;  // what lock() returned is unread again
    locked_.unlock();
  }

  [[nodiscard]] std::vector<GoneSession> gone(std::span<const std::uint64_t> sessions) override {
    std::vector<GoneSession> gone;
    const auto guard = hold();
    for (const std::uint64_t session : sessions)
      if (std::find(shared_->live.begin(), shared_->live.end(), session) == shared_->live.end())
        gone.push_back({session, "its session " + std::to_string(session) + " has ended"});
    return gone;
  }

  bool wait_for_news(std::chrono::milliseconds timeout) override {
    if (!open_) return false;
    std::unique_lock guard(shared_->mutex);
    return shared_->appended.wait_for(guard, timeout, [&] { return seen_ < open_->log.size(); });
  }

  [[nodiscard]] std::chrono::milliseconds poll_interval() const noexcept override {
    return std::chrono::milliseconds(2);  // waits wake on news: this only paces the lease checks
  }

  void close() noexcept override {
    rollback();
    if (session_ == 0) return;
    {
      const std::lock_guard guard(shared_->mutex);
      std::erase(shared_->live, session_);
    }
    session_ = 0;
    open_ = nullptr;
  }

  /// @brief Ends session `session` as a killed process would: its jobs stay running in the log
  /// until another session notices (Storage::gone) and abandons them.
  void end_session(std::uint64_t session) {
    const auto guard = hold();
    std::erase(shared_->live, session);
  }

  [[nodiscard]] std::optional<std::string> checkpoint(std::size_t trial) override {
    if (!open_) return std::nullopt;
    const auto guard = hold();
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
    const auto guard = hold();
    const auto found = shared_->studies.find(name);
    return found == shared_->studies.end() ? 0 : found->second.transactions.size();
  }

  /// @brief The identity study `name` was stored with, or nothing when it is not stored.
  [[nodiscard]] std::optional<StudyIdentity> identity(const std::string& name) const {
    const auto guard = hold();
    const auto found = shared_->studies.find(name);
    if (found == shared_->studies.end()) return std::nullopt;
    return found->second.identity;
  }

  /// @brief The events of study `name` (checkpoints left out), in order.
  [[nodiscard]] std::vector<StudyEvent> events(const std::string& name) const {
    const auto guard = hold();
    std::vector<StudyEvent> events;
    if (const auto found = shared_->studies.find(name); found != shared_->studies.end())
      for (const auto& entry : found->second.log) events.push_back(entry.event);
    return events;
  }

  /// @brief A storage holding study `name` as it was after its first `transactions`
  /// transactions: what a crash at that moment would have left (no session of it is live).
  [[nodiscard]] std::shared_ptr<MemoryStorage> prefix(const std::string& name,
                                                      std::size_t transactions) const {
    auto copy = std::make_shared<MemoryStorage>(durable_);
    const auto guard = hold();
    const Stored& stored = shared_->studies.at(name);
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
    copy->shared_->studies.emplace(name, std::move(cut));
    copy->shared_->sessions = shared_->sessions;  // new sessions get new numbers
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
  /// What every connection to the same studies sees.
  struct Shared {
    std::mutex mutex;
    std::condition_variable appended;
    std::map<std::string, Stored> studies;
    std::uint64_t sessions = 0;       // the last session number given
    std::vector<std::uint64_t> live;  // sessions open and not ended
  };

  MemoryStorage(std::shared_ptr<Shared> shared, bool durable)
      : shared_(std::move(shared)), durable_(durable) {}

  /// The shared lock, unless this connection holds it already (inside lock() ... commit()).
  [[nodiscard]] std::unique_lock<std::mutex> hold() const {
    if (locked_.owns_lock()) return {};
    return std::unique_lock(shared_->mutex);
  }

  std::shared_ptr<Shared> shared_;
  bool durable_;
  Stored* open_ = nullptr;
  std::uint64_t session_ = 0;
  std::size_t seen_ = 0;  // log entries this session has read
  std::size_t seen_before_lock_ = 0;
  std::unique_lock<std::mutex> locked_;
};

}  // namespace hpt
