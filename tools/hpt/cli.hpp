#pragma once
/// @file cli.hpp
/// @brief The `hpt` command-line tool: studies in an SQLite file, listed, ranked, shown and
/// exported without the program that ran them (tools/hpt/main.cpp is its main()). Every command
/// reads a study's log in one transaction and rebuilds its records with read_stored_study, so a
/// study that is running elsewhere can be inspected while it runs.
///
///   hpt list FILE
///   hpt leaderboard FILE STUDY [--top N]
///   hpt schedule FILE STUDY
///   hpt curve FILE STUDY TRIAL
///   hpt export FILE STUDY [--format csv|jsonl] [--output PATH]
///   hpt delete FILE STUDY [--force]
///
/// Exit status: 0 done, 1 the command failed (a missing file or study, a damaged row), 2 the
/// command line is wrong. Messages go to the error stream, prefixed "hpt: ".

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "hpt/core/format.hpp"
#include "hpt/core/version.hpp"
#include "hpt/io/csv.hpp"
#include "hpt/study/sqlite_storage.hpp"
#include "hpt/study/stored_study.hpp"
#if HPT_CLI_JSON
#include "hpt/io/json.hpp"
#endif

namespace hpt::cli {

inline constexpr std::string_view usage = R"(usage:
  hpt list FILE                          the studies in FILE
  hpt leaderboard FILE STUDY [--top N]   its trials, best first (N rows, 10 by default; 0: all)
  hpt schedule FILE STUDY                its plan, and how far each rung got
  hpt curve FILE STUDY TRIAL             one trial's learning curve, every metric
  hpt export FILE STUDY [--format csv|jsonl] [--output PATH]
                                         the study as CSV (default) or JSON Lines, to PATH or
                                         the standard output
  hpt delete FILE STUDY [--force]        deletes the study (--force: even while it runs)
  hpt --help | hpt --version
)";

/// @brief A wrong command line: exit status 2, with the usage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

/// The arguments of a command: positional ones in order, options by name.
struct Arguments {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--top" -> "5"; flags -> ""
};

/// Splits `args` (after the command) by the options `valued` (which take a value) and `flags`.
inline Arguments parse(const std::vector<std::string>& args, std::set<std::string> valued,
                       std::set<std::string> flags, std::string_view command) {
  Arguments parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() > 2 && arg.starts_with("--")) {
      std::string name = arg, value;
      bool has_value = false;
      if (const auto equals = arg.find('='); equals != std::string::npos) {
        name = arg.substr(0, equals);
        value = arg.substr(equals + 1);
        has_value = true;
      }
      if (valued.count(name)) {
        if (!has_value) {
          if (i + 1 == args.size())
            throw UsageError(std::string(command) + ": " + name + " needs a value");
          value = args[++i];
        }
      } else if (flags.count(name)) {
        if (has_value) throw UsageError(std::string(command) + ": " + name + " takes no value");
      } else {
        throw UsageError(std::string(command) + ": unknown option " +
                         hpt::detail::quote_input(arg));
      }
      if (parsed.options.count(name))
        throw UsageError(std::string(command) + ": " + name + " given twice");
      parsed.options[name] = value;
    } else {
      parsed.positional.push_back(arg);
    }
  }
  return parsed;
}

inline void expect_positional(const Arguments& arguments, std::size_t count,
                              std::string_view command, std::string_view names) {
  if (arguments.positional.size() != count)
    throw UsageError(std::string(command) + " takes " + std::string(names) + " (" +
                     std::to_string(arguments.positional.size()) + " argument" +
                     (arguments.positional.size() == 1 ? "" : "s") + " given)");
}

/// A non-negative decimal integer, or UsageError naming `what`.
inline std::size_t parse_count(const std::string& text, std::string_view what) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty())
    throw UsageError(std::string(what) + ": " + hpt::detail::quote_input(text) +
                     " is not a non-negative integer");
  return value;
}

/// Opens FILE for inspection: it must exist and be hpt's (never created).
inline SqliteStorage open_file(const std::string& file) {
  SqliteOptions options;
  options.create = false;
  return SqliteStorage(file, options);
}

inline StoredStudy load(SqliteStorage& storage, const std::string& name) {
  const StoredLog log = storage.read_study(name);
  return read_stored_study(log.identity, log.events);
}

/// Left-aligned columns, two spaces apart.
inline void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

inline std::string config_text(const Config& config) {
  std::ostringstream text;
  text << config;
  return text.str();
}

/// "finished", "running: 2 sessions", "stopped" (not finished, nothing running).
inline std::string state_of(const StoredStudy& stored, std::size_t live_sessions) {
  if (stored.finished) return "finished";
  if (live_sessions > 0)
    return "running (" + std::to_string(live_sessions) + " session" +
           (live_sessions == 1 ? "" : "s") + ")";
  return stored.running_jobs > 0
             ? "stopped (" + std::to_string(stored.running_jobs) + " jobs to run again)"
             : "stopped";
}

inline int list(const std::vector<std::string>& args, std::ostream& out) {
  const Arguments arguments = parse(args, {}, {}, "list");
  expect_positional(arguments, 1, "list", "FILE");
  SqliteStorage storage = open_file(arguments.positional[0]);
  const auto names = storage.study_names();
  if (names.empty()) {
    out << "no studies in " << arguments.positional[0] << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> rows{
      {"study", "direction", "trials", "state", "best", "statuses", "created"}};
  for (const auto& name : names) {
    const StoredLog log = storage.read_study(name);
    const StoredStudy stored = read_stored_study(log.identity, log.events);
    std::size_t live = 0;
    for (const auto& session : storage.sessions(name))
      if (!session.gone) ++live;
    const Study& study = stored.study;
    std::string best = "-";
    if (study.has_best()) {
      const Trial& trial = study.best();
      best = format_short(trial.result()) + " (trial " + std::to_string(trial.id) + ")";
    }
    rows.push_back({name, std::string(to_string(study.direction())),
                    std::to_string(study.trials().size()), state_of(stored, live), best,
                    study.trials().empty() ? "-" : study.status_summary(), log.created});
  }
  print_table(out, rows);
  return 0;
}

inline int leaderboard(const std::vector<std::string>& args, std::ostream& out) {
  const Arguments arguments = parse(args, {"--top"}, {}, "leaderboard");
  expect_positional(arguments, 2, "leaderboard", "FILE STUDY");
  std::size_t top = 10;
  if (const auto found = arguments.options.find("--top"); found != arguments.options.end())
    top = parse_count(found->second, "--top");
  SqliteStorage storage = open_file(arguments.positional[0]);
  const StoredStudy stored = load(storage, arguments.positional[1]);
  const Study& study = stored.study;
  out << "study " << hpt::detail::quote_input(arguments.positional[1]) << ": "
      << to_string(study.direction()) << ", " << study.trials().size() << " trials ("
      << (study.trials().empty() ? std::string("none") : study.status_summary()) << "), "
      << (stored.finished ? "finished" : "not finished") << '\n';
  if (study.trials().empty()) return 0;
  study.print_leaderboard(out, top == 0 ? study.trials().size() : top);
  return 0;
}

inline int schedule(const std::vector<std::string>& args, std::ostream& out) {
  const Arguments arguments = parse(args, {}, {}, "schedule");
  expect_positional(arguments, 2, "schedule", "FILE STUDY");
  SqliteStorage storage = open_file(arguments.positional[0]);
  const StoredStudy stored = load(storage, arguments.positional[1]);
  const Study& study = stored.study;
  const Schedule& plan = study.schedule();
  out << plan.strategy << '\n';
  if (plan.brackets.empty()) {
    out << "(the stored plan has no brackets this hpt can read)\n";
    return 0;
  }
  // Per rung: the plan's configurations and resource, how many trials got a job at it (a
  // trial's rung is the highest it reached), and how those at it stand now.
  std::vector<std::vector<std::string>> rows{
      {"bracket", "rung", "resource", "planned", "reached", "at this rung now"}};
  for (const auto& bracket : plan.brackets) {
    for (std::size_t r = 0; r < bracket.rungs.size(); ++r) {
      const Rung& rung = bracket.rungs[r];
      std::size_t reached = 0;
      std::map<std::string, std::size_t> statuses;
      for (const Trial& trial : study.trials()) {
        if (trial.bracket != bracket.index || trial.rung < static_cast<int>(r)) continue;
        ++reached;
        if (trial.rung == static_cast<int>(r)) ++statuses[std::string(to_string(trial.status))];
      }
      std::string now;
      for (const auto& [status, count] : statuses)
        now += (now.empty() ? "" : ", ") + std::to_string(count) + " " + status;
      rows.push_back({std::to_string(bracket.index), std::to_string(r),
                      std::to_string(rung.resource),
                      rung.configurations ? std::to_string(*rung.configurations) : "*",
                      std::to_string(reached), now.empty() ? "-" : now});
    }
  }
  print_table(out, rows);
  out << study.trials().size() << " trials created";
  if (const auto planned = plan.trials()) out << " of " << *planned << " planned";
  out << "; " << (stored.finished ? "finished" : "not finished");
  if (stored.running_jobs > 0) out << ", " << stored.running_jobs << " jobs out";
  out << '\n';
  return 0;
}

inline int curve(const std::vector<std::string>& args, std::ostream& out) {
  const Arguments arguments = parse(args, {}, {}, "curve");
  expect_positional(arguments, 3, "curve", "FILE STUDY TRIAL");
  const std::size_t id = parse_count(arguments.positional[2], "TRIAL");
  SqliteStorage storage = open_file(arguments.positional[0]);
  const StoredStudy stored = load(storage, arguments.positional[1]);
  const Study& study = stored.study;
  if (id >= study.trials().size())
    throw std::invalid_argument(
        "study " + hpt::detail::quote_input(arguments.positional[1]) + " has no trial " +
        std::to_string(id) +
        (study.trials().empty()
             ? std::string(" (it has none)")
             : " (its trials are 0 to " + std::to_string(study.trials().size() - 1) + ")"));
  const Trial& trial = study.trial(id);
  out << "trial " << id << ": " << to_string(trial.status);
  if (!trial.reason.empty()) out << " (" << trial.reason << ")";
  out << "\nconfiguration: " << config_text(trial.config) << "\nbracket " << trial.bracket
      << ", rung " << trial.rung << ", " << trial.curve.size() << " steps, result "
      << format_short(trial.result()) << " at step " << trial.result_step() << '\n';
  std::vector<std::string> metrics;  // every name any step reported, in first-seen order
  for (const Step& point : trial.curve)
    for (const auto& [name, value] : point.values)
      if (std::find(metrics.begin(), metrics.end(), name) == metrics.end()) metrics.push_back(name);
  std::vector<std::vector<std::string>> rows{{"step", "objective"}};
  rows.front().insert(rows.front().end(), metrics.begin(), metrics.end());
  for (const Step& point : trial.curve) {
    std::vector<std::string> row{std::to_string(point.step), format_real(point.objective)};
    for (const auto& name : metrics) {
      const auto found = std::find_if(point.values.begin(), point.values.end(),
                                      [&](const auto& value) { return value.first == name; });
      row.push_back(found == point.values.end() ? "" : format_real(found->second));
    }
    rows.push_back(std::move(row));
  }
  print_table(out, rows);
  return 0;
}

inline int export_study(const std::vector<std::string>& args, std::ostream& out) {
  const Arguments arguments = parse(args, {"--format", "--output"}, {}, "export");
  expect_positional(arguments, 2, "export", "FILE STUDY");
  std::string format = "csv";
  if (const auto found = arguments.options.find("--format"); found != arguments.options.end())
    format = found->second;
  if (format != "csv" && format != "jsonl")
    throw UsageError("export: --format " + hpt::detail::quote_input(format) +
                     " is neither csv nor jsonl");
#if !HPT_CLI_JSON
  if (format == "jsonl")
    throw std::runtime_error(
        "export --format jsonl: this hpt was built without nlohmann-json (hpt::json)");
#endif
  SqliteStorage storage = open_file(arguments.positional[0]);
  const StoredStudy stored = load(storage, arguments.positional[1]);
  const auto write = [&](std::ostream& to) {
    if (format == "csv") {
      write_csv(stored.study, to);
    } else {
#if HPT_CLI_JSON
      write_jsonl(stored.study, to);
#endif
    }
  };
  const auto output = arguments.options.find("--output");
  if (output == arguments.options.end()) {
    write(out);
    return 0;
  }
  // Written beside the target and renamed over it: a reader never sees half a file.
  const std::filesystem::path target = output->second;
  std::filesystem::path partial = target;
  partial += ".partial";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file)
      throw std::runtime_error("export: cannot write " +
                               hpt::detail::quote_input(partial.string()));
    write(file);
    file.flush();
    if (!file)
      throw std::runtime_error("export: writing " + hpt::detail::quote_input(partial.string()) +
                               " failed");
  }
  std::filesystem::rename(partial, target);
  return 0;
}

inline int remove(const std::vector<std::string>& args, std::ostream& out) {
  const Arguments arguments = parse(args, {}, {"--force"}, "delete");
  expect_positional(arguments, 2, "delete", "FILE STUDY");
  SqliteStorage storage = open_file(arguments.positional[0]);
  const std::string& name = arguments.positional[1];
  const std::size_t trials = load(storage, name).study.trials().size();
  storage.remove_study(name, arguments.options.count("--force") > 0);
  out << "deleted study " << hpt::detail::quote_input(name) << " (" << trials << " trials) from "
      << arguments.positional[0] << '\n';
  return 0;
}

}  // namespace detail

/// @brief Runs the command `args` (without the program's name): its output to `out`, errors to
/// `err`. Returns the exit status (see the file comment); never throws.
inline int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.empty()) throw UsageError("no command given");
    const std::string& command = args.front();
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "--help" || command == "-h" || command == "help") {
      out << usage;
      return 0;
    }
    if (command == "--version") {
      out << "hpt " << version << '\n';
      return 0;
    }
    if (command == "list") return detail::list(rest, out);
    if (command == "leaderboard") return detail::leaderboard(rest, out);
    if (command == "schedule") return detail::schedule(rest, out);
    if (command == "curve") return detail::curve(rest, out);
    if (command == "export") return detail::export_study(rest, out);
    if (command == "delete") return detail::remove(rest, out);
    throw UsageError("unknown command " + hpt::detail::quote_input(command));
  } catch (const UsageError& error) {
    err << "hpt: " << error.what() << '\n' << usage;
    return 2;
  } catch (const std::exception& error) {
    err << "hpt: " << error.what() << '\n';
    return 1;
  }
}

}  // namespace hpt::cli
