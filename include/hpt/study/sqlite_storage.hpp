#pragma once
/// @file sqlite_storage.hpp
/// @brief A study log in an SQLite file (target hpt::sqlite): durable, resumable studies, several
/// in one file, readable with the `sqlite3` shell (docs/storage.md, "The SQLite file").
///
/// The file is in WAL mode; every append() is one `BEGIN IMMEDIATE` transaction, so a crash
/// leaves the log as it was after some append, never part of one. A paused trial's checkpoint is
/// written in the same transaction as its job's end. Files that are not hpt's, damaged or written
/// by a newer hpt are refused with a StorageError naming the file; a row the decoder cannot read
/// (detail/sqlite_rows.hpp) is refused naming the study, the event's seq and the column.

#include <sqlite3.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "hpt/core/direction.hpp"
#include "hpt/core/format.hpp"
#include "hpt/core/input_excerpt.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/study/detail/sqlite_rows.hpp"
#include "hpt/study/events.hpp"
#include "hpt/study/storage.hpp"

namespace hpt {

/// @brief How hard SQLite pushes each commit to the disk (PRAGMA synchronous).
enum class SqliteSync {
  /// NORMAL: a commit survives the application's crash; a power loss or an operating-system crash
  /// may lose the last commits (never corrupt the file). The default.
  normal,
  /// FULL: a commit also survives a power loss, at the cost of an fsync per commit.
  full,
};

/// @brief "normal" or "full".
constexpr std::string_view to_string(SqliteSync sync) noexcept {
  return sync == SqliteSync::full ? "full" : "normal";
}

/// @brief How SqliteStorage opens its file.
struct SqliteOptions {
  SqliteSync synchronous = SqliteSync::normal;
  /// How long a write waits for another connection's lock before failing (sqlite3_busy_timeout).
  /// hpt's own transactions last microseconds: this only runs out when another program keeps
  /// the file locked.
  std::chrono::milliseconds busy_timeout{60000};
  /// How often a session renews its lease on the jobs it runs (a thread of its own does it).
  std::chrono::milliseconds heartbeat_interval{1000};
  /// A session whose lease is older than this is gone: its jobs are abandoned and run again
  /// elsewhere. On one machine a session whose process has died is gone at once, whatever this
  /// says; the lease matters for a process that is stopped or suspended, or on another machine.
  std::chrono::milliseconds lease_timeout{30000};
  /// How often a session with nothing to do looks for other sessions' results.
  std::chrono::milliseconds poll_interval{20};
  /// False: the file must exist and hold hpt's tables (for tools that inspect studies: a
  /// mistyped name is refused instead of becoming a new, empty database).
  bool create = true;

  /// @brief Throws std::invalid_argument naming the field and its value.
  void validate() const {
    if (synchronous != SqliteSync::normal && synchronous != SqliteSync::full)
      throw std::invalid_argument(
          "hpt::SqliteOptions: synchronous = " + std::to_string(static_cast<int>(synchronous)) +
          " is neither SqliteSync::normal nor SqliteSync::full");
    if (busy_timeout.count() < 0)
      throw std::invalid_argument("hpt::SqliteOptions: busy_timeout = " +
                                  std::to_string(busy_timeout.count()) + " ms is negative");
    if (busy_timeout.count() > INT_MAX)
      throw std::invalid_argument(
          "hpt::SqliteOptions: busy_timeout = " + std::to_string(busy_timeout.count()) +
          " ms is more than " + std::to_string(INT_MAX) + " ms (SQLite's limit)");
    const auto positive = [](const char* name, std::chrono::milliseconds value) {
      if (value.count() <= 0)
        throw std::invalid_argument("hpt::SqliteOptions: " + std::string(name) + " = " +
                                    std::to_string(value.count()) + " ms must be positive");
    };
    positive("heartbeat_interval", heartbeat_interval);
    positive("lease_timeout", lease_timeout);
    positive("poll_interval", poll_interval);
    if (lease_timeout < 2 * heartbeat_interval)
      throw std::invalid_argument(
          "hpt::SqliteOptions: lease_timeout = " + std::to_string(lease_timeout.count()) +
          " ms must be at least twice heartbeat_interval = " +
          std::to_string(heartbeat_interval.count()) +
          " ms, or a live session's lease could lapse between two heartbeats");
  }
};

namespace detail {

/// @brief Owns a connection (sqlite3_close_v2 on destruction).
class SqliteConnection {
 public:
  SqliteConnection() = default;
  explicit SqliteConnection(sqlite3* db) noexcept : db_(db) {}
  SqliteConnection(SqliteConnection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  SqliteConnection& operator=(SqliteConnection&& other) noexcept {
    if (this != &other) {
      close();
      db_ = std::exchange(other.db_, nullptr);
    }
    return *this;
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection() { close(); }

  [[nodiscard]] sqlite3* get() const noexcept { return db_; }

 private:
  void close() noexcept {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  sqlite3* db_ = nullptr;
};

/// @brief Owns a prepared statement (sqlite3_finalize on destruction).
class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(SqliteStatement&& other) noexcept
      : statement_(std::exchange(other.statement_, nullptr)) {}
  SqliteStatement& operator=(SqliteStatement&& other) noexcept {
    if (this != &other) {
      sqlite3_finalize(statement_);
      statement_ = std::exchange(other.statement_, nullptr);
    }
    return *this;
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() { sqlite3_finalize(statement_); }

  /// @brief Prepares `sql` (kept for reuse: SQLITE_PREPARE_PERSISTENT); an SQLite result code.
  int prepare(sqlite3* db, std::string_view sql) noexcept {
    sqlite3_finalize(statement_);
    statement_ = nullptr;
    return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &statement_, nullptr);
  }

  [[nodiscard]] sqlite3_stmt* get() const noexcept { return statement_; }

  /// @brief Ready to run again, with no parameter bound (blobs are bound without a copy).
  void reset() noexcept {
    if (!statement_) return;
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }

  /// @brief Binds parameter `index` (1-based) to `value`, text and blobs without a copy: the
  /// value must outlive the step. An SQLite result code.
  int bind(int index, const SqliteValue& value) noexcept {
    switch (value.type) {
      case SqliteValue::Type::null:
        return sqlite3_bind_null(statement_, index);
      case SqliteValue::Type::integer:
        return sqlite3_bind_int64(statement_, index, value.integer);
      case SqliteValue::Type::real:
        return sqlite3_bind_double(statement_, index, value.real);
      case SqliteValue::Type::text:
        return sqlite3_bind_text64(statement_, index, value.bytes.data(), value.bytes.size(),
                                   SQLITE_STATIC, SQLITE_UTF8);
      case SqliteValue::Type::blob:
        return bind_blob(index, value.bytes);
    }
    return SQLITE_MISUSE;
  }
  int bind_integer(int index, std::int64_t value) noexcept {
    return sqlite3_bind_int64(statement_, index, value);
  }
  int bind_text(int index, std::string_view text) noexcept {
    // A null pointer would bind NULL: an empty text is bound from a non-null one.
    return sqlite3_bind_text64(statement_, index, text.empty() ? "" : text.data(), text.size(),
                               SQLITE_STATIC, SQLITE_UTF8);
  }
  int bind_blob(int index, std::string_view bytes) noexcept {
    if (bytes.empty()) return sqlite3_bind_zeroblob(statement_, index, 0);  // not NULL
    return sqlite3_bind_blob64(statement_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
  }

  /// @brief Column `index` (0-based) of the current row.
  void column(int index, SqliteValue& value) const {
    switch (sqlite3_column_type(statement_, index)) {
      case SQLITE_INTEGER:
        value.set_integer(sqlite3_column_int64(statement_, index));
        return;
      case SQLITE_FLOAT:
        value.set_real(sqlite3_column_double(statement_, index));
        return;
      case SQLITE_TEXT: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_, index));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, index));
        value.set_text(text ? std::string_view(text, size) : std::string_view{});
        return;
      }
      case SQLITE_BLOB: {
        const auto* blob = static_cast<const char*>(sqlite3_column_blob(statement_, index));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, index));
        value.set_blob(blob ? std::string_view(blob, size) : std::string_view{});
        return;
      }
      default:
        value.set_null();
    }
  }

 private:
  sqlite3_stmt* statement_ = nullptr;
};

/// @brief Resets a statement when it goes out of scope, however the scope is left.
class SqliteResetOnExit {
 public:
  explicit SqliteResetOnExit(SqliteStatement& statement) noexcept : statement_(statement) {}
  SqliteResetOnExit(const SqliteResetOnExit&) = delete;
  SqliteResetOnExit& operator=(const SqliteResetOnExit&) = delete;
  ~SqliteResetOnExit() { statement_.reset(); }

 private:
  SqliteStatement& statement_;
};

/// The `application_id` of hpt's files: "hpt1" in ASCII.
inline constexpr std::int32_t sqlite_application_id = 0x68707431;
/// The schema version this hpt writes and reads (table hpt_schema).
inline constexpr std::int64_t sqlite_schema_version = 1;

/// The schema (docs/storage.md documents it for users; a change needs a new version).
inline constexpr std::string_view sqlite_schema = R"sql(
CREATE TABLE hpt_schema (
  version INTEGER NOT NULL
);
CREATE TABLE studies (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  direction   TEXT NOT NULL,
  result_rule TEXT NOT NULL,
  seed        TEXT NOT NULL,
  space       TEXT NOT NULL,
  strategy    TEXT NOT NULL,
  hpt_version TEXT NOT NULL,
  created     TEXT NOT NULL,
  policy      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE events (
  study             INTEGER NOT NULL REFERENCES studies (id),
  seq               INTEGER NOT NULL,
  kind              TEXT NOT NULL,
  trial             INTEGER,
  bracket           INTEGER,
  rung              INTEGER,
  resource          INTEGER,
  last_rung         INTEGER,
  restart           INTEGER,
  step              INTEGER,
  objective         REAL,
  objective_bits    INTEGER,
  metrics           TEXT,
  config            TEXT,
  status            TEXT,
  failure           TEXT,
  reason            TEXT,
  stopped_by        TEXT,
  wall_seconds      REAL,
  wall_seconds_bits INTEGER,
  steps_run         INTEGER,
  started           INTEGER,
  saved             INTEGER,
  session           INTEGER,
  PRIMARY KEY (study, seq)
);
CREATE TABLE sessions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  study         INTEGER NOT NULL REFERENCES studies (id),
  host          TEXT NOT NULL,
  boot          TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  process_start TEXT NOT NULL,
  started       TEXT NOT NULL,
  heartbeat     REAL NOT NULL,
  ended         TEXT
);
CREATE TABLE checkpoints (
  study INTEGER NOT NULL REFERENCES studies (id),
  trial INTEGER NOT NULL,
  data  BLOB NOT NULL,
  PRIMARY KEY (study, trial)
);
-- The views read the log in one pass each (window functions and GROUP BY, not a lookup per row):
-- an index by trial would cost every commit a page write, for queries only.
-- A step counts when the next job event of its trial is a started, uninterrupted job end.
CREATE VIEW steps AS
SELECT s.name AS study, m.trial AS trial, m.step AS step, m.objective AS objective,
       m.metrics AS metrics, m.seq AS seq
FROM (SELECT e.study, e.trial, e.kind, e.step, e.objective, e.metrics, e.seq,
             min(CASE WHEN e.kind IN ('job_started', 'job_ended', 'job_abandoned') THEN e.seq END)
               OVER (PARTITION BY e.study, e.trial ORDER BY e.seq DESC
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS closed_by
      FROM events AS e WHERE e.trial IS NOT NULL) AS m
JOIN studies AS s ON s.id = m.study
JOIN events AS x ON x.study = m.study AND x.seq = m.closed_by
WHERE m.kind = 'step' AND x.kind = 'job_ended' AND x.status <> 'interrupted' AND x.started = 1;
CREATE VIEW trials AS
SELECT s.name AS study, c.trial AS trial, c.bracket AS bracket, c.config AS config,
       coalesce(CASE e.kind WHEN 'trial_pruned' THEN 'pruned' ELSE e.status END, 'pending')
         AS status,
       e.reason AS reason, e.stopped_by AS stopped_by, e.failure AS failure,
       coalesce(p.steps, 0) AS steps, p.last_step AS last_step, p.objective AS objective
FROM events AS c
JOIN studies AS s ON s.id = c.study
LEFT JOIN (SELECT study, trial, max(seq) AS seq FROM events
           WHERE kind IN ('job_ended', 'trial_pruned') GROUP BY study, trial) AS ended
  ON ended.study = c.study AND ended.trial = c.trial
LEFT JOIN events AS e ON e.study = c.study AND e.seq = ended.seq
-- With one max() in the query, SQLite takes the bare columns from the row that has it.
LEFT JOIN (SELECT study, trial, count(*) AS steps, step AS last_step, objective,
                  max(seq) AS last_seq
           FROM steps GROUP BY study, trial) AS p
  ON p.study = s.name AND p.trial = c.trial
WHERE c.kind = 'trial_created';
)sql";

}  // namespace detail

namespace detail {

/// @brief Seconds since the Unix epoch: leases compare clocks of one machine's processes.
inline double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
inline double seconds(std::chrono::milliseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

/// @brief Who runs a session: enough to tell, on the same machine, that its process has died
/// (the pid alone could be reused by another process; its start time tells them apart).
struct SqliteProcess {
  std::string host{};
  std::string boot{};  ///< The kernel's boot id: pids mean nothing across a restart.
  std::int64_t pid = 0;
  std::string start{};  ///< When the process started (clock ticks since boot), empty if unknown.

  static SqliteProcess current() {
    SqliteProcess process;
#if defined(__unix__) || defined(__APPLE__)
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0) process.host = name;
    process.pid = static_cast<std::int64_t>(getpid());
#endif
    process.boot = first_line("/proc/sys/kernel/random/boot_id");
    process.start = start_of(process.pid);
    return process;
  }

  /// @brief Whether process `pid` of this machine runs and started at `start`.
  static bool running(std::int64_t pid, const std::string& start) {
    if (pid <= 0) return false;
    const std::string now = start_of(pid);
    return !now.empty() && now == start;
  }

 private:
  static std::string first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  }
  /// Field 22 of /proc/<pid>/stat (after the command, which may hold spaces and parentheses);
  /// empty when the process does not exist or is a zombie.
  static std::string start_of(std::int64_t pid) {
    if (pid <= 0) return {};
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const auto command_end = stat.rfind(')');
    if (command_end == std::string::npos) return {};
    std::istringstream fields(stat.substr(command_end + 1));
    std::string field, state;
    fields >> state;  // field 3
    if (state == "Z" || state == "X") return {};
    for (int index = 4; index <= 22; ++index)
      if (!(fields >> field)) return {};
    return field;
  }
};

/// @brief Renews a session's lease every heartbeat_interval, on a thread and a connection of its
/// own, so that a long step never lets it lapse. Stops when destroyed.
class SqliteHeartbeat {
 public:
  SqliteHeartbeat(const std::filesystem::path& file, const SqliteOptions& options,
                  std::int64_t session)
      : thread_([this, path = file.string(), options, session] { beat(path, options, session); }) {}
  SqliteHeartbeat(const SqliteHeartbeat&) = delete;
  SqliteHeartbeat& operator=(const SqliteHeartbeat&) = delete;
  ~SqliteHeartbeat() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void beat(const std::string& path, const SqliteOptions& options, std::int64_t session) {
    sqlite3* handle = nullptr;
    sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr);
    SqliteConnection connection(handle);
    SqliteStatement renew;
    const bool ready =
        handle &&
        sqlite3_busy_timeout(handle, static_cast<int>(options.busy_timeout.count())) == SQLITE_OK &&
        renew.prepare(handle, "UPDATE sessions SET heartbeat = ?1 WHERE id = ?2") == SQLITE_OK;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (wake_.wait_for(lock, options.heartbeat_interval, [&] { return stopping_; })) break;
      if (!ready) continue;  // the lease lapses: other sessions will take over this one's jobs
      lock.unlock();
      sqlite3_bind_double(renew.get(), 1, unix_seconds());
      sqlite3_bind_int64(renew.get(), 2, session);
      sqlite3_step(renew.get());  // a failure is retried at the next beat
      renew.reset();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the members it uses exist
};

}  // namespace detail

/// @brief A stored study as SqliteStorage::read_study returns it: enough to rebuild its records
/// (read_stored_study in stored_study.hpp) without the program that made it.
struct StoredLog {
  StudyIdentity identity{};
  std::string created{};  ///< UTC, ISO 8601.
  std::vector<StudyEvent> events{};
};

/// @brief A session of a stored study (SqliteStorage::sessions).
struct SqliteSession {
  std::uint64_t id = 0;
  std::string host{};
  std::int64_t pid = 0;
  std::string started{};              ///< UTC, ISO 8601.
  std::optional<std::string> gone{};  ///< Why it is gone; nothing while it runs.
};

/// @brief A Storage in an SQLite file. Open it with sqlite_storage(file, options); every call
/// comes from one thread (the coordinator's), as Storage says. Semantics are MemoryStorage's:
/// the same events come back in the same order, bit for bit, and checkpoint() answers as
/// MemoryStorage::checkpoint does for the same log.
class SqliteStorage final : public Storage {
 public:
  /// @brief Opens (or creates) `file`. Throws std::invalid_argument for bad options and
  /// StorageError for a file that cannot be opened, is not an SQLite database or is damaged,
  /// belongs to another application, or was written by a newer hpt.
  explicit SqliteStorage(std::filesystem::path file, SqliteOptions options = {})
      : file_(std::move(file)), options_(options) {
    options_.validate();
    connect();
  }
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;
  ~SqliteStorage() override { close(); }

  std::vector<StudyEvent> open(const StudyIdentity& identity, OpenMode mode) override {
    close();
    const std::string study = "study " + detail::quote_input(identity.name);
    Transaction transaction(*this, "opening " + study);
    std::vector<StudyEvent> events;
    std::int64_t id = 0;
    if (auto stored = find_study(identity.name)) {
      if (mode == OpenMode::create)
        throw StorageError(prefix() + "a " + study +
                           " exists already (resume it, or choose another name)");
      if (const auto difference = identity_difference(stored->second, identity);
          !difference.empty() && mode != OpenMode::resume_changed)
        throw StorageError(prefix() + study + " was stored with other settings: " + difference +
                           std::string(changed_settings_hint));
      id = stored->first;
      events = read_events(id, identity.name, 0);
    } else {
      if (mode == OpenMode::resume || mode == OpenMode::resume_changed)
        throw StorageError(prefix() + "no " + study + " to resume");
      id = insert_study(identity);
    }
    const std::int64_t session = insert_session(id, "opening " + study);
    transaction.commit("opening " + study);
    open_ = Opened{id, identity.name, static_cast<std::int64_t>(events.size()), session};
    heartbeat_ = std::make_unique<detail::SqliteHeartbeat>(file_, options_, session);
    return events;
  }

  [[nodiscard]] std::uint64_t session() const noexcept override {
    return open_ ? static_cast<std::uint64_t>(open_->session) : 0;
  }

  std::vector<StudyEvent> lock() override {
    if (!open_) throw StorageError(prefix() + "lock before open");
    if (in_transaction_) throw StorageError(prefix() + "lock inside a transaction");
    const std::string what = "reading study " + detail::quote_input(open_->name);
    run(begin_, what + " (BEGIN IMMEDIATE)");
    in_transaction_ = true;
    read_before_lock_ = open_->last_seq;
    try {
      auto events = read_events(open_->id, open_->name, open_->last_seq);
      open_->last_seq += static_cast<std::int64_t>(events.size());
      return events;
    } catch (...) {
      rollback();
      throw;
    }
  }

  void commit(std::span<const StudyEvent> events) override {
    if (!open_ || !in_transaction_) throw StorageError(prefix() + "commit without lock");
    const std::string what = "appending to study " + detail::quote_input(open_->name);
    try {
      const std::string context = prefix() + "study " + detail::quote_input(open_->name);
      if (rows_.size() < events.size()) rows_.resize(events.size());
      for (std::size_t i = 0; i < events.size(); ++i)
        detail::encode_event_row(events[i], open_->last_seq + 1 + static_cast<std::int64_t>(i),
                                 rows_[i], context);
      for (std::size_t i = 0; i < events.size(); ++i) {
        insert_event(rows_[i], what);
        if (const auto* ended = std::get_if<JobEnded>(&events[i])) {
          if (keeps_checkpoint(*ended)) continue;
          if (ended->status == TrialStatus::paused && ended->saved)
            store_checkpoint(ended->trial, ended->checkpoint, what);
          else
            drop_checkpoint(ended->trial, what);
        } else if (const auto* pruned = std::get_if<TrialPruned>(&events[i])) {
          drop_checkpoint(pruned->trial, what);
        }
      }
      run(commit_, what + " (COMMIT)");
    } catch (...) {
      rollback();
      throw;
    }
    in_transaction_ = false;
    open_->last_seq += static_cast<std::int64_t>(events.size());
  }

  void rollback() noexcept override {
    if (!in_transaction_) return;
    in_transaction_ = false;
    if (open_) open_->last_seq = read_before_lock_;  // what lock() returned is unread again
    // SQLite may have rolled back already (after some I/O errors): then there is nothing to do.
    if (sqlite3_get_autocommit(db())) return;
    sqlite3_step(rollback_.get());
    rollback_.reset();
  }

  [[nodiscard]] std::vector<GoneSession> gone(std::span<const std::uint64_t> sessions) override {
    std::vector<GoneSession> gone;
    if (!open_) return gone;
    const std::string what = "reading the sessions of study " + detail::quote_input(open_->name);
    const double now = detail::unix_seconds();
    const auto here = detail::SqliteProcess::current();
    for (const std::uint64_t session : sessions) {
      const std::string name = "session " + std::to_string(session);
      auto& statement = select_session_;
      detail::SqliteResetOnExit reset(statement);
      if (!std::in_range<std::int64_t>(session)) {
        gone.push_back({session, name + " is not in the file"});
        continue;
      }
      check(statement.bind_integer(1, static_cast<std::int64_t>(session)), what);
      check(statement.bind_integer(2, open_->id), what);
      const int code = sqlite3_step(statement.get());
      if (code == SQLITE_DONE) {
        gone.push_back({session, name + " is not in the file"});
        continue;
      }
      if (code != SQLITE_ROW) fail(code, what);
      const SessionRow row = session_row(statement, 0);
      if (auto why = why_gone(name, row, now, here)) gone.push_back({session, std::move(*why)});
    }
    return gone;
  }

  bool wait_for_news(std::chrono::milliseconds timeout) override {
    if (!open_) return false;
    const auto until = std::chrono::steady_clock::now() + timeout;
    const std::string what = "looking for news in study " + detail::quote_input(open_->name);
    for (;;) {
      if (last_seq(open_->id, what) > open_->last_seq) return true;
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) return false;
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(until - now, options_.poll_interval));
    }
  }

  [[nodiscard]] std::chrono::milliseconds poll_interval() const noexcept override {
    return options_.poll_interval;
  }

  void close() noexcept override {
    rollback();
    heartbeat_.reset();  // stops renewing the lease
    if (open_) {
      // Best effort: a session whose end is not written is found gone by its process's death.
      auto& statement = end_session_;
      statement.bind_integer(1, open_->session);
      sqlite3_step(statement.get());
      statement.reset();
    }
    open_.reset();
  }

  [[nodiscard]] std::optional<std::string> checkpoint(std::size_t trial) override {
    if (!open_ || !std::in_range<std::int64_t>(trial)) return std::nullopt;
    const std::string what = "reading the checkpoint of trial " + std::to_string(trial) +
                             " of study " + detail::quote_input(open_->name);
    auto& statement = select_checkpoint_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, open_->id), what);
    check(statement.bind_integer(2, static_cast<std::int64_t>(trial)), what);
    const int code = sqlite3_step(statement.get());
    if (code == SQLITE_DONE) return std::nullopt;
    if (code != SQLITE_ROW) fail(code, what);
    detail::SqliteValue data;
    statement.column(0, data);
    if (data.type != detail::SqliteValue::Type::blob)
      throw StorageError(prefix() + "study " + detail::quote_input(open_->name) +
                         ", table checkpoints, trial " + std::to_string(trial) +
                         ", column \"data\": expected a blob, got " +
                         detail::EventRowReader::describe(data));
    return std::move(data.bytes);
  }

  [[nodiscard]] bool durable() const noexcept override { return true; }

  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  [[nodiscard]] const SqliteOptions& options() const noexcept { return options_; }
  /// @brief The storage's own connection, for inspection (e.g. `PRAGMA synchronous`, which
  /// belongs to a connection, not to the file). Writing through it bypasses the storage.
  [[nodiscard]] sqlite3* native_handle() const noexcept { return connection_.get(); }

  // ---- Inspection, outside any session's transaction (the `hpt` tool uses these). ----

  /// @brief The names of the studies in the file, in the order they were created.
  [[nodiscard]] std::vector<std::string> study_names() {
    ReadTransaction transaction(*this, "listing the studies");
    auto names = study_names_now();
    transaction.commit("listing the studies");
    return names;
  }

  /// @brief Study `name`'s identity, creation time (UTC) and whole log, read in one
  /// transaction, without opening a session. Throws StorageError for a study the file does not
  /// hold (naming those it does) or a row that cannot be decoded (naming it).
  [[nodiscard]] StoredLog read_study(const std::string& name) {
    const std::string what = "reading study " + detail::quote_input(name);
    ReadTransaction transaction(*this, what);
    auto [id, identity] = existing_study(name);
    StoredLog log{.identity = std::move(identity),
                  .created = text_of("SELECT created FROM studies WHERE id = ?1", id, what),
                  .events = read_events(id, name, 0)};
    transaction.commit(what);
    return log;
  }

  /// @brief The sessions that opened study `name`, oldest first, each with why it is gone (or
  /// nothing while it runs), by the rules Storage::gone() applies.
  [[nodiscard]] std::vector<SqliteSession> sessions(const std::string& name) {
    const std::string what = "reading the sessions of study " + detail::quote_input(name);
    ReadTransaction transaction(*this, what);
    const std::int64_t id = existing_study(name).first;
    detail::SqliteStatement statement;
    check(statement.prepare(db(),
                            "SELECT id, started, host, boot, pid, process_start, heartbeat, ended "
                            "FROM sessions WHERE study = ?1 ORDER BY id"),
          what);
    check(statement.bind_integer(1, id), what);
    const double now = detail::unix_seconds();
    const auto here = detail::SqliteProcess::current();
    std::vector<SqliteSession> found;
    for (;;) {
      const int code = sqlite3_step(statement.get());
      if (code == SQLITE_DONE) break;
      if (code != SQLITE_ROW) fail(code, what);
      detail::SqliteValue session_id, started;
      statement.column(0, session_id);
      statement.column(1, started);
      const SessionRow row = session_row(statement, 2);
      const auto number = session_id.type == detail::SqliteValue::Type::integer
                              ? static_cast<std::uint64_t>(session_id.integer)
                              : 0;
      found.push_back({.id = number,
                       .host = row.host,
                       .pid = row.pid,
                       .started = started.type == detail::SqliteValue::Type::text ? started.bytes
                                                                                  : std::string(),
                       .gone = why_gone("session " + std::to_string(number), row, now, here)});
    }
    transaction.commit(what);
    return found;
  }

  /// @brief Deletes study `name` (its log, sessions and checkpoints) in one transaction. While
  /// any of its sessions runs this is refused, naming them, unless `even_if_running`: those
  /// sessions then fail at their next write.
  void remove_study(const std::string& name, bool even_if_running = false) {
    const std::string what = "deleting study " + detail::quote_input(name);
    if (!even_if_running) {
      std::string running;
      for (const auto& session : sessions(name))
        if (!session.gone)
          running += (running.empty() ? "" : ", ") +
                     ("session " + std::to_string(session.id) + " (process " +
                      std::to_string(session.pid) + " on " + session.host + ")");
      if (!running.empty())
        throw StorageError(prefix() + "study " + detail::quote_input(name) + " is running in " +
                           running +
                           ": stop it first (or delete it even so, and those sessions fail)");
    }
    if (in_transaction_) throw StorageError(prefix() + what + " inside a transaction");
    Transaction transaction(*this, what);
    const std::int64_t id = existing_study(name).first;
    for (const char* table : {"checkpoints", "events", "sessions", "studies"}) {
      detail::SqliteStatement statement;
      const std::string column = std::string_view(table) == "studies" ? "id" : "study";
      check(statement.prepare(db(),
                              "DELETE FROM " + std::string(table) + " WHERE " + column + " = ?1"),
            what);
      check(statement.bind_integer(1, id), what);
      const int code = sqlite3_step(statement.get());
      if (code != SQLITE_DONE) fail(code, what);
    }
    transaction.commit(what);
  }

 private:
  struct Opened {
    std::int64_t id;
    std::string name;
    std::int64_t last_seq;  // of the log this session has read or written
    std::int64_t session;
  };

  /// A transaction: BEGIN IMMEDIATE, then commit() or, if the scope is left without it, ROLLBACK.
  class Transaction {
   public:
    Transaction(SqliteStorage& storage, const std::string& what) : storage_(storage) {
      storage_.run(storage_.begin_, what + " (BEGIN IMMEDIATE)");
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit(const std::string& what) {
      storage_.run(storage_.commit_, what + " (COMMIT)");
      committed_ = true;
    }
    ~Transaction() {
      // SQLite may have rolled back already (after some I/O errors): then there is nothing to do.
      if (committed_ || sqlite3_get_autocommit(storage_.db())) return;
      sqlite3_step(storage_.rollback_.get());
      storage_.rollback_.reset();
    }

   private:
    SqliteStorage& storage_;
    bool committed_ = false;
  };

  /// A row of table sessions, from column `first` on: host, boot, pid, process_start,
  /// heartbeat, ended.
  struct SessionRow {
    std::string host, boot, start;
    std::int64_t pid = 0;
    double heartbeat = 0;
    std::optional<std::string> ended{};
  };

  static SessionRow session_row(const detail::SqliteStatement& statement, int first) {
    detail::SqliteValue cells[6];
    for (int i = 0; i < 6; ++i) statement.column(first + i, cells[i]);
    const auto text = [&](int i) {
      return cells[i].type == detail::SqliteValue::Type::text ? cells[i].bytes : std::string();
    };
    SessionRow row;
    row.host = text(0);
    row.boot = text(1);
    row.start = text(3);
    row.pid = cells[2].type == detail::SqliteValue::Type::integer ? cells[2].integer : 0;
    row.heartbeat = cells[4].type == detail::SqliteValue::Type::real ? cells[4].real
                    : cells[4].type == detail::SqliteValue::Type::integer
                        ? static_cast<double>(cells[4].integer)
                        : 0.0;
    if (cells[5].type != detail::SqliteValue::Type::null) row.ended = text(5);
    return row;
  }

  /// Why the session `name` is gone (ended, its process died, its machine restarted, its lease
  /// ran out), or nothing while it runs.
  std::optional<std::string> why_gone(const std::string& name, const SessionRow& row, double now,
                                      const detail::SqliteProcess& here) const {
    const std::string where = "process " + std::to_string(row.pid) + " on " + row.host;
    if (row.ended) return name + " (" + where + ") has ended";
    if (here.host == row.host && !here.boot.empty() && here.boot != row.boot)
      return name + " (" + where + ") ran before the machine restarted";
    if (here.host == row.host && !row.start.empty() &&
        !detail::SqliteProcess::running(row.pid, row.start))
      return name + " (" + where + ") is no longer running";
    if (now - row.heartbeat > detail::seconds(options_.lease_timeout))
      return name + " (" + where + ") renewed its lease " + format_real(now - row.heartbeat) +
             " s ago (lease_timeout " + format_real(detail::seconds(options_.lease_timeout)) +
             " s)";
    return std::nullopt;
  }

  /// A read transaction for inspection (BEGIN ... COMMIT; rolled back if the scope is left
  /// without commit()): what it reads is one consistent state of the file.
  class ReadTransaction {
   public:
    ReadTransaction(SqliteStorage& storage, const std::string& what) : storage_(storage) {
      if (storage_.in_transaction_)
        throw StorageError(storage_.prefix() + what + " inside a transaction");
      storage_.execute("BEGIN", what + " (BEGIN)");
    }
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;
    void commit(const std::string& what) {
      storage_.execute("COMMIT", what + " (COMMIT)");
      committed_ = true;
    }
    ~ReadTransaction() {
      if (!committed_ && !sqlite3_get_autocommit(storage_.db()))
        sqlite3_exec(storage_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

   private:
    SqliteStorage& storage_;
    bool committed_ = false;
  };

  /// The id and identity of study `name`, or StorageError naming the studies the file has.
  std::pair<std::int64_t, StudyIdentity> existing_study(const std::string& name) {
    if (auto found = find_study(name)) return std::move(*found);
    const auto names = study_names_now();
    std::string listed;
    for (const auto& other : names)
      listed += (listed.empty() ? "" : ", ") + detail::quote_input(other);
    throw StorageError(prefix() + "no study " + detail::quote_input(name) + " in the file (" +
                       (names.empty() ? std::string("it holds none") : "it holds " + listed) + ")");
  }

  std::vector<std::string> study_names_now() {
    const std::string what = "listing the studies";
    detail::SqliteStatement statement;
    check(statement.prepare(db(), "SELECT name FROM studies ORDER BY id"), what);
    std::vector<std::string> names;
    for (;;) {
      const int code = sqlite3_step(statement.get());
      if (code == SQLITE_DONE) break;
      if (code != SQLITE_ROW) fail(code, what);
      detail::SqliteValue value;
      statement.column(0, value);
      if (value.type != detail::SqliteValue::Type::text)
        throw StorageError(prefix() + "table studies, column \"name\": expected text, got " +
                           detail::EventRowReader::describe(value));
      names.push_back(value.bytes);
    }
    return names;
  }

  /// Text column 0 of the one row `sql` (with ?1 bound to `id`) returns, or empty.
  std::string text_of(std::string_view sql, std::int64_t id, const std::string& what) {
    detail::SqliteStatement statement;
    check(statement.prepare(db(), sql), what);
    check(statement.bind_integer(1, id), what);
    const int code = sqlite3_step(statement.get());
    if (code == SQLITE_DONE) return {};
    if (code != SQLITE_ROW) fail(code, what);
    detail::SqliteValue value;
    statement.column(0, value);
    return value.type == detail::SqliteValue::Type::text ? value.bytes : std::string();
  }

  [[nodiscard]] sqlite3* db() const noexcept { return connection_.get(); }

  [[nodiscard]] std::string prefix() const {
    return "hpt::SqliteStorage: \"" + file_.string() + "\": ";
  }

  [[noreturn]] void fail(int code, const std::string& what) const {
    std::string message = prefix() + what + ": ";
    message += db() ? sqlite3_errmsg(db()) : sqlite3_errstr(code);
    const int primary = code & 0xFF;
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
      message += " (not an SQLite database, or a damaged one)";
    throw StorageError(message);
  }

  void check(int code, const std::string& what) const {
    if (code != SQLITE_OK) fail(code, what);
  }

  void prepare(detail::SqliteStatement& statement, std::string_view sql) {
    check(statement.prepare(db(), sql), "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
  }

  /// Runs a statement that returns no row.
  void run(detail::SqliteStatement& statement, const std::string& what) {
    detail::SqliteResetOnExit reset(statement);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_DONE && code != SQLITE_ROW) fail(code, what);
  }

  /// Runs `sql` once (pragmas, the schema).
  void execute(std::string_view sql, const std::string& what) {
    check(sqlite3_exec(db(), std::string(sql).c_str(), nullptr, nullptr, nullptr), what);
  }

  /// The first column of the first row of `sql`, or nullopt when it returns none.
  std::optional<detail::SqliteValue> query_value(std::string_view sql, const std::string& what) {
    detail::SqliteStatement statement;
    check(statement.prepare(db(), sql), what);
    const int code = sqlite3_step(statement.get());
    if (code == SQLITE_DONE) return std::nullopt;
    if (code != SQLITE_ROW) fail(code, what);
    detail::SqliteValue value;
    statement.column(0, value);
    return value;
  }

  [[noreturn]] void refuse_file(const std::string& why) const {
    throw StorageError(prefix() + why);
  }

  void connect() {
    sqlite3* handle = nullptr;
    const std::string path = file_.string();
    if (!options_.create) {
      std::error_code error;
      if (!std::filesystem::is_regular_file(file_, error))
        refuse_file(std::filesystem::exists(file_, error) ? "not a regular file" : "no such file");
    }
    const int flags = SQLITE_OPEN_READWRITE | (options_.create ? SQLITE_OPEN_CREATE : 0);
    const int opened = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
    connection_ = detail::SqliteConnection(handle);
    if (opened != SQLITE_OK) fail(opened, "opening the file");
    sqlite3_extended_result_codes(db(), 1);
    check(sqlite3_busy_timeout(db(), static_cast<int>(options_.busy_timeout.count())),
          "setting the busy timeout");

    // Whose file is it? Read before anything is written, so that a foreign file stays as it was.
    // Both read in one transaction: another process may be creating hpt's tables meanwhile.
    execute("BEGIN", "reading the file's header");
    const auto [application_id, empty] = ownership();
    execute("COMMIT", "reading the file's header");
    check_owner(application_id, empty);
    if (empty && !options_.create) refuse_file("the file holds no hpt studies (it is empty)");

    // WAL first: the journal mode cannot change inside a transaction.
    const auto mode = switch_to_wal();
    if (!mode || mode->type != detail::SqliteValue::Type::text || mode->bytes != "wal")
      refuse_file("SQLite could not switch the file to WAL mode (it stays in \"" +
                  detail::excerpt(mode ? mode->bytes : std::string("?")) +
                  "\" mode): WAL needs a local file system that supports shared memory");
    execute(options_.synchronous == SqliteSync::full ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL",
            "setting PRAGMA synchronous");
    execute("PRAGMA foreign_keys=ON", "setting PRAGMA foreign_keys");

    prepare(begin_, "BEGIN IMMEDIATE");
    prepare(commit_, "COMMIT");
    prepare(rollback_, "ROLLBACK");
    if (empty) {
      Transaction transaction(*this, "creating hpt's tables");
      // Another program may have made its tables since the check above.
      const auto [application_now, still_empty] = ownership();
      if (still_empty) {
        execute(detail::sqlite_schema, "creating hpt's tables");
        execute("INSERT INTO hpt_schema (version) VALUES (" +
                    std::to_string(detail::sqlite_schema_version) + ")",
                "creating hpt's tables");
        execute("PRAGMA application_id=" + std::to_string(detail::sqlite_application_id),
                "setting PRAGMA application_id");
      }
      transaction.commit("creating hpt's tables");
      if (!still_empty) {
        check_owner(application_now, false);
        check_schema();
      }
    } else {
      check_schema();
    }

    // Files made before hpt stored the stopping policy get the column (empty: not compared);
    // a file opened for inspection only is read as it is.
    bool has_policy = has_policy_column();
    if (!has_policy && options_.create) {
      Transaction transaction(*this, "adding column studies.policy");
      if (!has_policy_column())
        execute("ALTER TABLE studies ADD COLUMN policy TEXT NOT NULL DEFAULT ''",
                "adding column studies.policy");
      transaction.commit("adding column studies.policy");
      has_policy = true;
    }
    prepare(find_study_, std::string("SELECT id, direction, result_rule, seed, space, strategy, "
                                     "hpt_version, ") +
                             (has_policy ? "policy" : "''") + " FROM studies WHERE name = ?1");
    // Without the column (inspection of an old file, which never inserts) there is no ?8.
    prepare(insert_study_,
            std::string("INSERT INTO studies (name, direction, result_rule, seed, space, "
                        "strategy, hpt_version, created") +
                (has_policy ? ", policy" : "") +
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')" +
                (has_policy ? ", ?8" : "") + ")");
    std::string columns, parameters;
    for (std::size_t i = 0; i < detail::event_column_count; ++i) {
      columns += ", " + std::string(detail::event_column_names[i]);
      parameters += ", ?" + std::to_string(i + 2);
    }
    prepare(select_events_, "SELECT " + columns.substr(2) +
                                " FROM events WHERE study = ?1 AND seq > ?2 ORDER BY seq");
    prepare(insert_event_,
            "INSERT INTO events (study" + columns + ") VALUES (?1" + parameters + ")");
    prepare(last_seq_, "SELECT coalesce(max(seq), 0) FROM events WHERE study = ?1");
    prepare(store_checkpoint_,
            "INSERT INTO checkpoints (study, trial, data) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (study, trial) DO UPDATE SET data = excluded.data");
    prepare(drop_checkpoint_, "DELETE FROM checkpoints WHERE study = ?1 AND trial = ?2");
    prepare(select_checkpoint_, "SELECT data FROM checkpoints WHERE study = ?1 AND trial = ?2");
    prepare(insert_session_,
            "INSERT INTO sessions (study, host, boot, pid, process_start, started, heartbeat) "
            "VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?6)");
    prepare(select_session_,
            "SELECT host, boot, pid, process_start, heartbeat, ended FROM sessions "
            "WHERE id = ?1 AND study = ?2");
    prepare(end_session_,
            "UPDATE sessions SET ended = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1");
  }

  /// PRAGMA journal_mode=WAL, retried while another connection holds the file (SQLite answers
  /// that at once, without its busy handler), up to the busy timeout.
  std::optional<detail::SqliteValue> switch_to_wal() {
    const std::string what = "switching to WAL mode";
    const auto until = std::chrono::steady_clock::now() + options_.busy_timeout;
    for (;;) {
      detail::SqliteStatement statement;
      int code = statement.prepare(db(), "PRAGMA journal_mode=WAL");
      if (code == SQLITE_OK) code = sqlite3_step(statement.get());
      if (code == SQLITE_ROW) {
        detail::SqliteValue value;
        statement.column(0, value);
        return value;
      }
      if (code == SQLITE_DONE) return std::nullopt;
      const int primary = code & 0xFF;
      if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= until)
        fail(code, what);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  /// Whether table studies has the column policy (files made before hpt stored it do not).
  bool has_policy_column() {
    const auto count =
        query_value("SELECT count(*) FROM pragma_table_info('studies') WHERE name = 'policy'",
                    "reading the columns of table studies");
    return count && count->type == detail::SqliteValue::Type::integer && count->integer == 1;
  }

  /// The file's application_id, and whether it holds no table, index or view at all.
  std::pair<std::int64_t, bool> ownership() {
    const std::string what = "reading the file's header";
    const auto application = query_value("PRAGMA application_id", what);
    const auto objects = query_value("SELECT count(*) FROM sqlite_master", what);
    return {
        application && application->type == detail::SqliteValue::Type::integer
            ? application->integer
            : 0,
        objects && objects->type == detail::SqliteValue::Type::integer && objects->integer == 0};
  }

  /// Refuses a file that is not hpt's (a new, empty file is).
  void check_owner(std::int64_t application_id, bool empty) const {
    const bool ours = application_id == detail::sqlite_application_id;
    if (!ours && application_id != 0)
      refuse_file("the file belongs to another application (application_id " +
                  std::to_string(application_id) + "), not to hpt");
    if (!ours && !empty)
      refuse_file(
          "the file is an SQLite database of another application: it has tables, but not hpt's");
    if (ours && empty) refuse_file("the file has hpt's application_id but no tables: damaged");
  }

  /// An hpt file: its schema version must be one this hpt reads.
  void check_schema() {
    const std::string what = "reading the schema version (table hpt_schema)";
    const auto tables = query_value(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'hpt_schema'", what);
    if (!tables || tables->type != detail::SqliteValue::Type::integer || tables->integer != 1)
      refuse_file("the file has hpt's application_id but no table hpt_schema: damaged");
    detail::SqliteStatement statement;
    check(statement.prepare(db(), "SELECT version FROM hpt_schema"), what);
    std::optional<std::int64_t> version;
    for (int rows = 0;; ++rows) {
      const int code = sqlite3_step(statement.get());
      if (code == SQLITE_DONE) break;
      if (code != SQLITE_ROW) fail(code, what);
      detail::SqliteValue value;
      statement.column(0, value);
      if (rows > 0 || value.type != detail::SqliteValue::Type::integer)
        refuse_file("table hpt_schema must hold one integer, the schema version: damaged");
      version = value.integer;
    }
    if (!version) refuse_file("table hpt_schema holds no schema version: damaged");
    if (*version > detail::sqlite_schema_version)
      refuse_file("the file was written by a newer hpt (schema version " +
                  std::to_string(*version) + "; this hpt reads version " +
                  std::to_string(detail::sqlite_schema_version) + ")");
    if (*version < 1)
      refuse_file("table hpt_schema holds schema version " + std::to_string(*version) +
                  ", which no hpt writes: damaged");
  }

  /// The stored study `name`: its id and identity.
  std::optional<std::pair<std::int64_t, StudyIdentity>> find_study(const std::string& name) {
    const std::string study = "study " + detail::quote_input(name);
    const std::string what = "reading " + study;
    auto& statement = find_study_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_text(1, name), what);
    const int code = sqlite3_step(statement.get());
    if (code == SQLITE_DONE) return std::nullopt;
    if (code != SQLITE_ROW) fail(code, what);
    constexpr std::string_view columns[] = {"id",    "direction", "result_rule", "seed",
                                            "space", "strategy",  "hpt_version", "policy"};
    detail::SqliteValue cells[8];
    for (int i = 0; i < 8; ++i) statement.column(i, cells[i]);
    const auto refuse = [&](int column, const std::string& problem) {
      throw StorageError(prefix() + study + ", table studies, column \"" +
                         std::string(columns[column]) + "\": " + problem);
    };
    const auto text = [&](int column) -> const std::string& {
      if (cells[column].type != detail::SqliteValue::Type::text)
        refuse(column, "expected text, got " + detail::EventRowReader::describe(cells[column]));
      return cells[column].bytes;
    };
    if (cells[0].type != detail::SqliteValue::Type::integer)
      refuse(0, "expected an integer, got " + detail::EventRowReader::describe(cells[0]));
    StudyIdentity identity;
    identity.name = name;
    try {
      identity.direction = parse_direction(detail::excerpt(text(1)));
    } catch (const std::invalid_argument& error) {
      refuse(1, error.what());
    }
    try {
      identity.result = parse_trial_result(detail::excerpt(text(2)));
    } catch (const std::invalid_argument& error) {
      refuse(2, error.what());
    }
    const auto seed = detail::parse_decimal_uint64(text(3));
    if (!seed)
      refuse(3, detail::quote_input(text(3)) + " is not a decimal integer from 0 to " +
                    std::to_string(std::numeric_limits<std::uint64_t>::max()));
    identity.seed = *seed;
    identity.space = text(4);
    identity.strategy = text(5);
    identity.version = text(6);
    identity.policy = text(7);
    return std::pair{cells[0].integer, std::move(identity)};
  }

  std::int64_t insert_study(const StudyIdentity& identity) {
    const std::string what = "creating study " + detail::quote_input(identity.name);
    auto& statement = insert_study_;
    detail::SqliteResetOnExit reset(statement);
    const std::string seed = std::to_string(identity.seed);
    check(statement.bind_text(1, identity.name), what);
    check(statement.bind_text(2, to_string(identity.direction)), what);
    check(statement.bind_text(3, to_string(identity.result)), what);
    check(statement.bind_text(4, seed), what);
    check(statement.bind_text(5, identity.space), what);
    check(statement.bind_text(6, identity.strategy), what);
    check(statement.bind_text(7, identity.version), what);
    if (sqlite3_bind_parameter_count(statement.get()) >= 8)
      check(statement.bind_text(8, identity.policy), what);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_DONE) fail(code, what);
    return sqlite3_last_insert_rowid(db());
  }

  /// The events of the study after seq `after`.
  std::vector<StudyEvent> read_events(std::int64_t id, const std::string& name,
                                      std::int64_t after) {
    const std::string context = prefix() + "study " + detail::quote_input(name);
    const std::string what = "reading the events of study " + detail::quote_input(name);
    auto& statement = select_events_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, id), what);
    check(statement.bind_integer(2, after), what);
    std::vector<StudyEvent> events;
    detail::EventRow row;
    for (std::int64_t seq = after + 1;; ++seq) {
      const int code = sqlite3_step(statement.get());
      if (code == SQLITE_DONE) break;
      if (code != SQLITE_ROW) fail(code, what);
      for (std::size_t i = 0; i < detail::event_column_count; ++i)
        statement.column(static_cast<int>(i), row[i]);
      events.push_back(detail::decode_event_row(row, seq, context));
    }
    return events;
  }

  std::int64_t last_seq(std::int64_t id, const std::string& what) {
    auto& statement = last_seq_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, id), what);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_ROW) fail(code, what);
    return sqlite3_column_int64(statement.get(), 0);
  }

  void insert_event(const detail::EventRow& row, const std::string& what) {
    auto& statement = insert_event_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, open_->id), what);
    for (std::size_t i = 0; i < detail::event_column_count; ++i)
      check(statement.bind(static_cast<int>(i) + 2, row[i]), what);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_DONE) fail(code, what);
  }

  void store_checkpoint(std::size_t trial, std::string_view data, const std::string& what) {
    auto& statement = store_checkpoint_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, open_->id), what);
    check(statement.bind_integer(2, static_cast<std::int64_t>(trial)), what);
    check(statement.bind_blob(3, data), what);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_DONE)
      fail(code, what + " (storing the checkpoint of trial " + std::to_string(trial) + ")");
  }

  /// A new session of study `id`, for this process.
  std::int64_t insert_session(std::int64_t id, const std::string& what) {
    const auto here = detail::SqliteProcess::current();
    auto& statement = insert_session_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, id), what);
    check(statement.bind_text(2, here.host), what);
    check(statement.bind_text(3, here.boot), what);
    check(statement.bind_integer(4, here.pid), what);
    check(statement.bind_text(5, here.start), what);
    check(sqlite3_bind_double(statement.get(), 6, detail::unix_seconds()), what);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_DONE) fail(code, what + " (registering a session)");
    return sqlite3_last_insert_rowid(db());
  }

  void drop_checkpoint(std::size_t trial, const std::string& what) {
    auto& statement = drop_checkpoint_;
    detail::SqliteResetOnExit reset(statement);
    check(statement.bind_integer(1, open_->id), what);
    check(statement.bind_integer(2, static_cast<std::int64_t>(trial)), what);
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_DONE)
      fail(code, what + " (deleting the checkpoint of trial " + std::to_string(trial) + ")");
  }

  std::filesystem::path file_;
  SqliteOptions options_;
  // The connection outlives its statements (members are destroyed in reverse order).
  detail::SqliteConnection connection_;
  detail::SqliteStatement begin_, commit_, rollback_, find_study_, insert_study_, select_events_,
      insert_event_, last_seq_, store_checkpoint_, drop_checkpoint_, select_checkpoint_,
      insert_session_, select_session_, end_session_;
  std::optional<Opened> open_;
  bool in_transaction_ = false;
  std::int64_t read_before_lock_ = 0;
  std::unique_ptr<detail::SqliteHeartbeat> heartbeat_;  // the open session's lease
  std::vector<detail::EventRow> rows_;                  // append()'s rows, kept for their buffers
};

/// @brief Opens (or creates) the SQLite file `file` as a study storage; see SqliteStorage.
inline std::shared_ptr<SqliteStorage> sqlite_storage(std::filesystem::path file,
                                                     SqliteOptions options = {}) {
  return std::make_shared<SqliteStorage>(std::move(file), options);
}

}  // namespace hpt
