#pragma once
// Helpers for the SQLite storage's tests: a study identity, events compared field by field (every
// double to the bit), and a raw sqlite3 connection for looking into or damaging a file behind
// the storage's back.

#include <sqlite3.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <hpt/study/events.hpp>
#include <hpt/study/storage.hpp>

namespace test_support {

inline hpt::StudyIdentity study_identity(const std::string& name, std::uint64_t seed = 7) {
  return {.name = name,
          .direction = hpt::Direction::minimize,
          .result = hpt::TrialResult::last_step,
          .seed = seed,
          .space = "x: uniform(0, 1)\nkind: choice(a, b)",
          .strategy = "bracket 0: 9 x 1, 3 x 3, 1 x 9",
          .version = "0.1.0"};
}

inline std::uint64_t bits_of(double value) {
  return std::bit_cast<std::uint64_t>(value);
}

namespace detail {

inline std::string value_text(const hpt::Value& value) {
  std::string text(hpt::Value::kind_name(value.kind()));
  if (value.is_real()) return text + " bits " + std::to_string(bits_of(value.as<double>()));
  return text + " " + value.to_string();
}

inline std::string same_values(const hpt::Value& a, const hpt::Value& b) {
  if (a.kind() != b.kind() || (a.is_real() && bits_of(a.as<double>()) != bits_of(b.as<double>())) ||
      (!a.is_real() && !(a == b)))
    return value_text(a) + " | " + value_text(b);
  return {};
}

}  // namespace detail

/// The first field in which `read` (read back) differs from `written` (appended), as "field:
/// read | written"; empty when none does. Doubles compare bit for bit, configuration values by
/// kind too; a JobEnded read back has no checkpoint text (Storage::checkpoint keeps it).
inline std::string event_difference(const hpt::StudyEvent& read, const hpt::StudyEvent& written) {
  if (read.index() != written.index())
    return "kind: " + std::string(hpt::event_kind(read)) + " | " +
           std::string(hpt::event_kind(written));
  const auto number = [](const char* field, double a, double b) -> std::string {
    if (bits_of(a) == bits_of(b)) return {};
    return std::string(field) + ": bits " + std::to_string(bits_of(a)) + " | " +
           std::to_string(bits_of(b));
  };
  const auto integer = [](const char* field, auto a, auto b) -> std::string {
    if (a == b) return {};
    return std::string(field) + ": " + std::to_string(a) + " | " + std::to_string(b);
  };
  const auto text = [](const char* field, const std::string& a,
                       const std::string& b) -> std::string {
    if (a == b) return {};
    return std::string(field) + ": \"" + a + "\" | \"" + b + "\"";
  };
  std::vector<std::string> found;
  const auto add = [&](std::string difference) {
    if (!difference.empty()) found.push_back(std::move(difference));
  };
  if (const auto* a = std::get_if<hpt::TrialCreated>(&read)) {
    const auto& b = std::get<hpt::TrialCreated>(written);
    add(integer("trial", a->trial, b.trial));
    add(integer("bracket", a->bracket, b.bracket));
    add(integer("config size", a->config.size(), b.config.size()));
    for (std::size_t i = 0; i < a->config.size() && i < b.config.size(); ++i) {
      const auto& [name_a, value_a] = a->config.entries()[i];
      const auto& [name_b, value_b] = b.config.entries()[i];
      add(text("config name", name_a, name_b));
      if (auto difference = detail::same_values(value_a, value_b); !difference.empty())
        add("config " + name_a + ": " + difference);
    }
  } else if (const auto* a = std::get_if<hpt::JobStarted>(&read)) {
    const auto& b = std::get<hpt::JobStarted>(written);
    add(integer("trial", a->job.trial, b.job.trial));
    add(integer("resource", a->job.resource, b.job.resource));
    add(integer("bracket", a->job.bracket, b.job.bracket));
    add(integer("rung", a->job.rung, b.job.rung));
    add(integer("last_rung", a->job.last_rung, b.job.last_rung));
    add(integer("restart", a->restart, b.restart));
  } else if (const auto* a = std::get_if<hpt::StepRecorded>(&read)) {
    const auto& b = std::get<hpt::StepRecorded>(written);
    add(integer("trial", a->trial, b.trial));
    add(integer("step", a->point.step, b.point.step));
    add(number("objective", a->point.objective, b.point.objective));
    add(integer("metric count", a->point.values.size(), b.point.values.size()));
    for (std::size_t i = 0; i < a->point.values.size() && i < b.point.values.size(); ++i) {
      add(text("metric name", a->point.values[i].first, b.point.values[i].first));
      add(number("metric", a->point.values[i].second, b.point.values[i].second));
    }
  } else if (const auto* a = std::get_if<hpt::JobEnded>(&read)) {
    const auto& b = std::get<hpt::JobEnded>(written);
    add(integer("trial", a->trial, b.trial));
    add(text("status", std::string(hpt::to_string(a->status)),
             std::string(hpt::to_string(b.status))));
    add(text("reason", a->reason, b.reason));
    add(text("stopped_by", a->stopped_by, b.stopped_by));
    add(text("failure", std::string(hpt::to_string(a->failure)),
             std::string(hpt::to_string(b.failure))));
    add(number("wall_seconds", a->wall_seconds, b.wall_seconds));
    add(integer("steps_run", a->steps_run, b.steps_run));
    add(integer("started", a->started, b.started));
    add(integer("saved", a->saved, b.saved));
    if (!a->checkpoint.empty()) add("checkpoint: read back non-empty");
  } else if (const auto* a = std::get_if<hpt::TrialPruned>(&read)) {
    const auto& b = std::get<hpt::TrialPruned>(written);
    add(integer("trial", a->trial, b.trial));
    add(integer("rung", a->rung, b.rung));
    add(text("reason", a->reason, b.reason));
  }
  return found.empty() ? std::string{} : found.front();
}

/// A connection of the test's own to a file, outside the storage.
class RawDatabase {
 public:
  explicit RawDatabase(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK)
      throw std::runtime_error("RawDatabase: cannot open " + file.string());
    sqlite3_busy_timeout(db_, 10000);  // sessions' heartbeats write the file too
  }
  RawDatabase(const RawDatabase&) = delete;
  RawDatabase& operator=(const RawDatabase&) = delete;
  ~RawDatabase() { sqlite3_close_v2(db_); }

  void execute(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error("RawDatabase: " + sql + ": " + message);
    }
  }

  /// The rows of `sql`, each column as text ("NULL" for NULL), columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) { return rows_of(db_, sql); }
  /// The only value of `sql`.
  std::string value(const std::string& sql) { return value_of(db_, sql); }

  static std::vector<std::string> rows_of(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
      throw std::runtime_error("RawDatabase: " + sql + ": " + sqlite3_errmsg(db));
    std::vector<std::string> out;
    int code = 0;
    while ((code = sqlite3_step(statement)) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        if (i > 0) row += '|';
        const auto* text = sqlite3_column_text(statement, i);
        row += text ? std::string(reinterpret_cast<const char*>(text),
                                  static_cast<std::size_t>(sqlite3_column_bytes(statement, i)))
                    : std::string("NULL");
      }
      out.push_back(row);
    }
    sqlite3_finalize(statement);
    if (code != SQLITE_DONE)
      throw std::runtime_error("RawDatabase: " + sql + ": " + sqlite3_errmsg(db));
    return out;
  }
  static std::string value_of(sqlite3* db, const std::string& sql) {
    const auto all = rows_of(db, sql);
    if (all.size() != 1) throw std::runtime_error("RawDatabase: " + sql + ": not one row");
    return all.front();
  }

  [[nodiscard]] sqlite3* get() const noexcept { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

inline std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace test_support
