#pragma once
/// @file json.hpp
/// @brief A study as JSON Lines, whole learning curves included, and back. Needs nlohmann-json
/// (Debian's nlohmann-json3-dev; CMake target hpt::json); the rest of hpt does not.
///
/// The first line describes the study: {"hpt_study": 1, "name", "direction", "seed", "result"
/// (the trial result rule), "strategy", "schedule": [[{"configurations", "resource"}, ...], ...]}.
/// Each further line is a trial: {"trial", "status", "bracket", "rung", "resource", "wall_seconds",
/// "stopped_by", "reason", "result_index", "config": {...}, "curve": [{"step", "objective",
/// "values"}, ...]}. Keys keep their order (ordered_json), so configurations load back in space
/// order. Non-finite numbers, which JSON cannot hold, are written as the strings "nan", "inf",
/// "-inf".

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "hpt/config.hpp"
#include "hpt/io/csv.hpp"
#include "hpt/study.hpp"
#include "hpt/trial.hpp"
#include "hpt/trial_result.hpp"
#include "hpt/value.hpp"

namespace hpt {
namespace detail {

inline nlohmann::ordered_json json_number(double value) {
  if (std::isfinite(value)) return value;
  return format_real(value);
}

inline double number_from_json(const nlohmann::ordered_json& j, const char* field) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& text = j.get_ref<const std::string&>();
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw std::invalid_argument(std::string("hpt::read_jsonl: field \"") + field +
                              "\" is not a number: " + j.dump());
}

inline nlohmann::ordered_json json_value(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::boolean:
      return value.as<bool>();
    case Value::Kind::integer:
      return value.as<std::int64_t>();
    case Value::Kind::real:
      return json_number(value.as<double>());
    case Value::Kind::string:
      return value.as<std::string>();
  }
  return nullptr;
}

inline Value value_from_json(const nlohmann::ordered_json& j, const std::string& name) {
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number_float()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  throw std::invalid_argument("hpt::read_jsonl: parameter \"" + name +
                              "\" has an unsupported JSON value " + j.dump());
}

}  // namespace detail

/// @brief A configuration as one JSON object, e.g. {"learning_rate":0.001,"optimizer":"sgd"};
/// reals keep a '.' or an exponent so they load back as reals.
inline std::string config_to_json(const Config& config) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const auto& [name, value] : config) object[name] = detail::json_value(value);
  return object.dump();
}

/// @brief A configuration from a JSON object written by config_to_json. Throws
/// std::invalid_argument for malformed JSON, a non-object, or an unsupported value.
inline Config config_from_json(const std::string& text) {
  nlohmann::ordered_json object;
  try {
    object = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("hpt::config_from_json: ") + error.what());
  }
  if (!object.is_object())
    throw std::invalid_argument("hpt::config_from_json: expected a JSON object, got " +
                                object.dump());
  Config config;
  for (const auto& [name, value] : object.items())
    config.set(name, detail::value_from_json(value, name));
  return config;
}

/// @brief Writes the study as JSON Lines (see the file comment).
inline void write_jsonl(const Study& study, std::ostream& out) {
  nlohmann::ordered_json schedule = nlohmann::ordered_json::array();
  for (const auto& bracket : study.schedule().brackets) {
    nlohmann::ordered_json rungs = nlohmann::ordered_json::array();
    for (const auto& rung : bracket.rungs)
      rungs.push_back(
          {{"configurations", rung.configurations ? nlohmann::ordered_json(*rung.configurations)
                                                  : nlohmann::ordered_json(nullptr)},
           {"resource", rung.resource}});
    schedule.push_back({{"bracket", bracket.index}, {"rungs", std::move(rungs)}});
  }
  const auto& options = study.options();
  out << nlohmann::ordered_json{{"hpt_study", 1},
                                {"name", options.name},
                                {"direction", std::string(to_string(options.direction))},
                                {"seed", options.seed},
                                {"result", std::string(to_string(options.result))},
                                {"strategy", study.schedule().strategy},
                                {"schedule", std::move(schedule)},
                                {"wall_seconds", study.wall_seconds()}}
             .dump()
      << '\n';
  for (const auto& t : study.trials()) {
    nlohmann::ordered_json config = nlohmann::ordered_json::object();
    for (const auto& [name, value] : t.config) config[name] = detail::json_value(value);
    nlohmann::ordered_json curve = nlohmann::ordered_json::array();
    for (const auto& step : t.curve) {
      nlohmann::ordered_json values = nlohmann::ordered_json::object();
      for (const auto& [name, number] : step.values) values[name] = detail::json_number(number);
      curve.push_back({{"step", step.step},
                       {"objective", detail::json_number(step.objective)},
                       {"values", std::move(values)}});
    }
    nlohmann::ordered_json line{{"trial", t.id},
                                {"status", std::string(to_string(t.status))},
                                {"bracket", t.bracket},
                                {"rung", t.rung},
                                {"resource", t.resource},
                                {"wall_seconds", t.wall_seconds},
                                {"stopped_by", t.stopped_by},
                                {"reason", t.reason},
                                {"config", std::move(config)},
                                {"curve", std::move(curve)}};
    line["result_index"] =
        t.result_index ? nlohmann::ordered_json(*t.result_index) : nlohmann::ordered_json(nullptr);
    out << line.dump() << '\n';
  }
}

/// @brief Reads a study written by write_jsonl. Throws std::invalid_argument naming the line for
/// malformed input.
inline Study read_jsonl(std::istream& in) {
  std::string text;
  std::size_t line = 0;
  auto parse = [&](const std::string& source) {
    try {
      return nlohmann::ordered_json::parse(source);
    } catch (const nlohmann::json::exception& error) {
      throw std::invalid_argument("hpt::read_jsonl: line " + std::to_string(line) + ": " +
                                  error.what());
    }
  };
  Study study;
  bool have_header = false;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty()) continue;
    const nlohmann::ordered_json j = parse(text);
    try {
      if (!have_header) {
        if (!j.is_object() || !j.contains("hpt_study"))
          throw std::invalid_argument("the first line is not an hpt study header");
        StudyOptions options;
        options.name = j.at("name").get<std::string>();
        options.direction = parse_direction(j.at("direction").get<std::string>());
        options.seed = j.at("seed").get<std::uint64_t>();
        // Older files lack the rule; their trials still carry their result steps (result_index).
        if (j.contains("result"))
          options.result = parse_trial_result(j.at("result").get<std::string>());
        Schedule schedule{j.at("strategy").get<std::string>(), {}};
        for (const auto& b : j.at("schedule")) {
          Bracket bracket{b.at("bracket").get<int>(), {}};
          for (const auto& r : b.at("rungs"))
            bracket.rungs.push_back(
                {r.at("configurations").is_null()
                     ? std::nullopt
                     : std::optional<std::size_t>(r.at("configurations").get<std::size_t>()),
                 r.at("resource").get<std::int64_t>()});
          schedule.brackets.push_back(std::move(bracket));
        }
        study = Study(std::move(options), std::move(schedule));
        study.set_wall_seconds(j.value("wall_seconds", 0.0));
        have_header = true;
        continue;
      }
      Trial t;
      t.id = j.at("trial").get<std::size_t>();
      t.status = detail::parse_status(j.at("status").get<std::string>());
      t.bracket = j.at("bracket").get<int>();
      t.rung = j.at("rung").get<int>();
      t.resource = j.at("resource").get<std::int64_t>();
      t.wall_seconds = detail::number_from_json(j.at("wall_seconds"), "wall_seconds");
      t.stopped_by = j.at("stopped_by").get<std::string>();
      t.reason = j.at("reason").get<std::string>();
      if (!j.at("result_index").is_null()) t.result_index = j.at("result_index").get<std::size_t>();
      for (const auto& [name, value] : j.at("config").items())
        t.config.set(name, detail::value_from_json(value, name));
      for (const auto& s : j.at("curve")) {
        Step step{s.at("step").get<std::int64_t>(),
                  detail::number_from_json(s.at("objective"), "objective"),
                  {}};
        for (const auto& [name, value] : s.at("values").items())
          step.values.emplace_back(name, detail::number_from_json(value, "values"));
        t.curve.push_back(std::move(step));
      }
      study.add_trial(std::move(t));
    } catch (const nlohmann::json::exception& error) {
      throw std::invalid_argument("hpt::read_jsonl: line " + std::to_string(line) + ": " +
                                  error.what());
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("hpt::read_jsonl: line " + std::to_string(line) + ": " +
                                  error.what());
    }
  }
  if (!have_header) throw std::invalid_argument("hpt::read_jsonl: the input is empty");
  return study;
}

}  // namespace hpt
