#pragma once
/// @file json.hpp
/// @brief A study as JSON Lines, whole learning curves included, and back. Needs nlohmann-json
/// (Debian's nlohmann-json3-dev; CMake target hpt::json); the rest of hpt does not.
///
/// The first line describes the study: {"hpt_study": 1, "name", "direction", "seed", "result"
/// (the trial result rule), "strategy", "schedule": [[{"configurations", "resource"}, ...], ...]}.
/// Each further line is a trial: {"trial", "status", "bracket", "rung", "resource", "wall_seconds",
/// "stopped_by", "reason", "result_index", "failure" (only for a failed trial: where it failed,
/// hpt::FailureStage), "config": {...}, "curve": [{"step", "objective",
/// "values"}, ...]}. Keys keep their order (ordered_json), so configurations load back in space
/// order. Non-finite numbers, which JSON cannot hold, are written as the strings "nan", "inf",
/// "-inf".
///
/// The readers are safe on any input. They refuse nesting deeper than detail::json_max_depth (32)
/// levels, duplicate keys, integers beyond 64 bits and reals beyond a double; every integer field
/// must be a JSON integer within its C++ type (a trial's bracket, rung, resource and curve steps
/// non-negative too). Each error names the source, the line (read_jsonl)
/// and the field or key, and quotes at most detail::quoted_input_limit (80) characters of a value;
/// an array or object is described by its size, never printed.

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpt/core/config.hpp"
#include "hpt/core/input_excerpt.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/core/value.hpp"
#include "hpt/io/csv.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {
namespace detail {

using Json = nlohmann::ordered_json;

/// The deepest nesting of arrays and objects the JSON readers accept. A study's lines need five
/// levels and a configuration one; the bound keeps a hostile input from building (and then
/// destroying or printing) a value millions of levels deep.
inline constexpr std::size_t json_max_depth = 32;

/// @brief An error of the JSON readers whose message is complete (source, line or key, value).
class JsonReadError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// @brief Where a JSON reader is, for its messages: e.g. {"hpt::read_jsonl: line 3", ", ",
/// "field"} gives `hpt::read_jsonl: line 3, field "rung": ...`.
struct JsonSource {
  std::string name;
  std::string_view separator;
  std::string_view noun;

  /// @brief Throws JsonReadError for the value at `path` ("" for the whole input).
  [[noreturn]] void fail(std::string_view path, const std::string& message) const {
    std::string text = name;
    if (!path.empty()) {
      text += separator;
      text += noun;
      text += ' ' + quote_input(path);
    }
    throw JsonReadError(text + ": " + message);
  }
};

/// @brief A value for an error message: a scalar as JSON (strings cut by quote_input), a container
/// by its size only, since it may be huge.
inline std::string describe_json(const Json& j) {
  if (j.is_string()) return quote_input(j.get_ref<const std::string&>());
  const auto count = [&](const char* noun) {
    return std::to_string(j.size()) + ' ' + noun + (j.size() == 1 ? "" : "s");
  };
  if (j.is_array()) return "an array of " + count("element");
  if (j.is_object()) return "an object of " + count("member");
  return j.dump();  // a number, a boolean or null: short
}

/// @brief A SAX handler for nlohmann's parser that builds the value as nlohmann's own would, but
/// refuses nesting beyond json_max_depth, duplicate keys (nlohmann keeps the last silently) and
/// integers beyond 64 bits (nlohmann reads them as reals), and remembers where it failed.
class BoundedJsonBuilder {
 public:
  bool null() { return add(nullptr); }
  bool boolean(bool value) { return add(value); }
  bool number_integer(Json::number_integer_t value) { return add(value); }
  bool number_unsigned(Json::number_unsigned_t value) { return add(value); }
  bool number_float(Json::number_float_t value, const Json::string_t& text) {
    if (text.find_first_of(".eE") == std::string::npos)
      return fail("the integer " + excerpt(text) + " does not fit in 64 bits");
    return add(value);
  }
  bool string(Json::string_t& value) { return add(std::move(value)); }
  bool binary(Json::binary_t& /*value*/) { return fail("binary values are not JSON"); }
  bool start_object(std::size_t /*elements*/) { return open(Json::object()); }
  bool start_array(std::size_t /*elements*/) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(Json::string_t& name) {
    Frame& top = stack_.back();
    top.key = name;
    if (!top.keys.insert(name).second) return fail("the key appears twice in its object");
    // Appended to the underlying vector: ordered_map's own insertion searches every key, which
    // is quadratic in the object's size, and the key is known to be new.
    auto& members = top.value->get_ref<Json::object_t&>();
    static_cast<Json::object_t::Container&>(members).emplace_back(std::move(name), nullptr);
    slot_ = &members.back().second;
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& token,
                   const nlohmann::json::exception& error) {
    if (error.id == 406)  // out_of_range.406: beyond a double, after the integer reading failed
      return fail("the number " + excerpt(token) +
                  (token.find_first_of(".eE") == std::string::npos
                       ? " does not fit in 64 bits"
                       : " is out of the range of a double"));
    // nlohmann's message quotes the whole token read so far: cut it to an excerpt.
    std::string text = error.what();
    if (const auto bracket = text.find("] "); bracket != std::string::npos)
      text.erase(0, bracket + 2);  // "[json.exception.parse_error.101] "
    const std::string quoted = "last read: '" + token + "'";
    if (const auto at = text.find(quoted); at != std::string::npos)
      text.replace(at, quoted.size(), "last read: '" + excerpt(token) + "'");
    // nlohmann's own words, with the line and column, are short; bound them should that change.
    if (text.size() > 4 * quoted_input_limit) text = text.substr(0, 4 * quoted_input_limit) + "...";
    return fail(std::move(text));
  }

  /// @brief The value parsed, once the parse succeeded.
  Json& result() { return root_; }
  /// @brief Where the parse failed: e.g. "curve[3].objective", "" for the top level.
  [[nodiscard]] const std::string& error_path() const { return error_path_; }
  /// @brief Why the parse failed.
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;  // an array or an object being filled; its parent does not move meanwhile
    std::unordered_set<std::string> keys{};
    std::optional<std::string> key{};  // the member being read, for objects
  };

  Json* place(Json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& top = *stack_.back().value;
    if (top.is_array()) {
      top.get_ref<Json::array_t&>().push_back(std::move(value));
      return &top.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }

  bool add(Json value) {
    place(std::move(value));
    member_done();
    return true;
  }

  // The innermost object's member is complete: an error before the next key is not in it.
  void member_done() {
    if (!stack_.empty() && stack_.back().value->is_object()) stack_.back().key.reset();
  }

  bool open(Json container) {
    if (stack_.size() >= json_max_depth)
      return fail("nested deeper than " + std::to_string(json_max_depth) + " levels");
    Json* placed = place(std::move(container));
    stack_.push_back({placed});
    return true;
  }

  bool close() {
    // A move makes nlohmann record each element's parent (used under JSON_DIAGNOSTICS), as its
    // own builder does when a container ends.
    Json& done = *stack_.back().value;
    done = Json(std::move(done));
    stack_.pop_back();
    member_done();
    return true;
  }

  bool fail(std::string message) {
    // The innermost open container's next element (or current member) is where the error is;
    // an outer array's element is its last, the one still open.
    for (std::size_t i = 0; i < stack_.size(); ++i) {
      const Frame& frame = stack_[i];
      if (frame.value->is_array()) {
        const std::size_t size = frame.value->size();
        error_path_ += '[' + std::to_string(i + 1 == stack_.size() ? size : size - 1) + ']';
      } else if (frame.key) {
        error_path_ += (error_path_.empty() ? "" : ".") + *frame.key;
      }
    }
    error_ = std::move(message);
    return false;
  }

  Json root_;
  std::vector<Frame> stack_;
  Json* slot_ = nullptr;  // the member the next value of the innermost object goes into
  std::string error_path_, error_;
};

/// @brief Parses one JSON text through BoundedJsonBuilder; throws JsonReadError naming `source`,
/// the key or field and what was wrong.
inline Json parse_bounded_json(std::string_view text, const JsonSource& source) {
  BoundedJsonBuilder builder;
  if (!Json::sax_parse(text, &builder)) source.fail(builder.error_path(), builder.error());
  return std::move(builder.result());
}

inline Json json_number(double value) {
  if (std::isfinite(value)) return value;
  return format_real(value);
}

inline Json json_value(const Value& value) {
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

/// @brief A configuration value, or nothing when `j` cannot be one (then `problem` says why).
inline std::optional<Value> value_from_json(const Json& j, std::string& problem) {
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_unsigned()) {
    const auto integer = j.get<std::uint64_t>();
    if (std::in_range<std::int64_t>(integer)) return Value(static_cast<std::int64_t>(integer));
    problem = "the integer " + j.dump() + " does not fit a configuration integer (" +
              integer_range_text<std::int64_t>() + ")";
    return std::nullopt;
  }
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number_float()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  problem = describe_json(j) +
            " is not a configuration value (a boolean, an integer, a real or a string)";
  return std::nullopt;
}

/// @brief `path` joined with a member name, for messages: "curve[2]" + "step".
inline std::string json_path(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + '.' + std::string(name);
}

/// @brief The typed reads of one JSON Lines record: each refuses the wrong type or range with a
/// message naming the line, the field and the value.
struct JsonlFields {
  JsonSource source;

  const Json& member(const Json& object, std::string_view path, std::string_view name) const {
    if (!object.is_object()) source.fail(path, "expected an object, got " + describe_json(object));
    const auto found = object.find(name);
    if (found == object.end()) source.fail(json_path(path, name), "the field is missing");
    return *found;
  }

  const Json& array(const Json& j, std::string_view path) const {
    if (!j.is_array()) source.fail(path, "expected an array, got " + describe_json(j));
    return j;
  }

  const Json& object(const Json& j, std::string_view path) const {
    if (!j.is_object()) source.fail(path, "expected an object, got " + describe_json(j));
    return j;
  }

  std::string string(const Json& j, std::string_view path) const {
    if (!j.is_string()) source.fail(path, "expected a string, got " + describe_json(j));
    return j.get<std::string>();
  }

  /// @brief A JSON integer within T and not below `low`: reals (even 1.0) and out-of-range values
  /// are refused, since converting them would be undefined or would silently wrap.
  template <std::integral T>
  T integer(const Json& j, std::string_view path, T low = std::numeric_limits<T>::min()) const {
    bool fits = false;
    if (j.is_number_unsigned())
      fits =
          std::in_range<T>(j.get<std::uint64_t>()) && static_cast<T>(j.get<std::uint64_t>()) >= low;
    else if (j.is_number_integer())
      fits =
          std::in_range<T>(j.get<std::int64_t>()) && static_cast<T>(j.get<std::int64_t>()) >= low;
    else
      source.fail(path, "expected an integer, got " + describe_json(j));
    if (!fits)
      source.fail(path, j.dump() + " is out of range (" + integer_range_text<T>(low) + ")");
    return j.is_number_unsigned() ? static_cast<T>(j.get<std::uint64_t>())
                                  : static_cast<T>(j.get<std::int64_t>());
  }

  /// @brief A number, or one of the strings "nan", "inf", "-inf" that write_jsonl uses for
  /// non-finite numbers.
  double number(const Json& j, std::string_view path) const {
    if (j.is_number()) return j.get<double>();
    if (j.is_string()) {
      const auto& text = j.get_ref<const std::string&>();
      if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (text == "inf") return std::numeric_limits<double>::infinity();
      if (text == "-inf") return -std::numeric_limits<double>::infinity();
    }
    source.fail(path, "expected a number, got " + describe_json(j));
  }

  /// @brief A text parsed by `parse` (e.g. parse_direction), its error given the field.
  template <class Parse>
  auto parsed(const Json& j, std::string_view path, Parse parse) const {
    const std::string text = string(j, path);
    try {
      return parse(excerpt(text));  // so that the parser's message quotes a bounded text
    } catch (const std::invalid_argument& error) {
      source.fail(path, error.what());
    }
  }
};

}  // namespace detail

/// @brief A configuration as one JSON object, e.g. {"learning_rate":0.001,"optimizer":"sgd"};
/// reals keep a '.' or an exponent so they load back as reals.
inline std::string config_to_json(const Config& config) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const auto& [name, value] : config) object[name] = detail::json_value(value);
  return object.dump();
}

/// @brief A configuration from a JSON object written by config_to_json. Throws
/// std::invalid_argument naming the key and the value for malformed JSON, a non-object, a
/// duplicate key, an integer beyond 64 bits, a real beyond a double, nesting deeper than
/// detail::json_max_depth, or any value that is not a boolean, a number or a string.
inline Config config_from_json(const std::string& text) {
  const detail::JsonSource source{"hpt::config_from_json", ": ", "key"};
  const detail::Json object = detail::parse_bounded_json(text, source);
  if (!object.is_object())
    source.fail("", "expected a JSON object, got " + detail::describe_json(object));
  Config config;
  std::string problem;
  for (const auto& [name, value] : object.items()) {
    auto parameter = detail::value_from_json(value, problem);
    if (!parameter) source.fail(name, problem);
    config.set(name, std::move(*parameter));
  }
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
    if (t.failure != FailureStage::none) line["failure"] = std::string(to_string(t.failure));
    out << line.dump() << '\n';
  }
}

/// @brief Reads a study written by write_jsonl. Safe on any input: throws std::invalid_argument
/// naming the line, the field and the value for malformed JSON, a missing field or one of the
/// wrong type, an integer field holding a real or a value outside its C++ type (ids, seed and
/// result_index non-negative; a trial's bracket, rung, resource and curve steps non-negative
/// too), a duplicate key, or nesting deeper than
/// detail::json_max_depth. Messages quote at most detail::quoted_input_limit characters of a value.
inline Study read_jsonl(std::istream& in) {
  std::string text;
  std::size_t line = 0;
  Study study;
  bool have_header = false;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty()) continue;
    const detail::JsonlFields f{{"hpt::read_jsonl: line " + std::to_string(line), ", ", "field"}};
    const detail::Json j = detail::parse_bounded_json(text, f.source);
    try {
      if (!have_header) {
        if (!j.is_object() || !j.contains("hpt_study"))
          f.source.fail("", "the first line is not an hpt study header");
        // A later version may mean other fields or other meanings: refuse it rather than guess.
        if (const auto version = f.integer<std::int64_t>(j.at("hpt_study"), "hpt_study");
            version != 1)
          f.source.fail("hpt_study",
                        "version " + std::to_string(version) + ", this reader knows version 1");
        StudyOptions options;
        options.name = f.string(f.member(j, "", "name"), "name");
        options.direction = f.parsed(f.member(j, "", "direction"), "direction",
                                     [](const std::string& s) { return parse_direction(s); });
        options.seed = f.integer<std::uint64_t>(f.member(j, "", "seed"), "seed");
        // Older files lack the rule; their trials still carry their result steps (result_index).
        if (j.contains("result"))
          options.result = f.parsed(j.at("result"), "result",
                                    [](const std::string& s) { return parse_trial_result(s); });
        Schedule schedule{f.string(f.member(j, "", "strategy"), "strategy"), {}};
        const auto& brackets = f.array(f.member(j, "", "schedule"), "schedule");
        for (std::size_t b = 0; b < brackets.size(); ++b) {
          const std::string bracket_path = "schedule[" + std::to_string(b) + "]";
          const auto& bracket_json = brackets[b];
          Bracket bracket{f.integer<int>(f.member(bracket_json, bracket_path, "bracket"),
                                         detail::json_path(bracket_path, "bracket")),
                          {}};
          const std::string rungs_path = detail::json_path(bracket_path, "rungs");
          const auto& rungs = f.array(f.member(bracket_json, bracket_path, "rungs"), rungs_path);
          for (std::size_t r = 0; r < rungs.size(); ++r) {
            const std::string rung_path = rungs_path + "[" + std::to_string(r) + "]";
            const auto& count = f.member(rungs[r], rung_path, "configurations");
            Rung rung;
            if (!count.is_null())
              rung.configurations =
                  f.integer<std::size_t>(count, detail::json_path(rung_path, "configurations"));
            rung.resource = f.integer<std::int64_t>(f.member(rungs[r], rung_path, "resource"),
                                                    detail::json_path(rung_path, "resource"));
            bracket.rungs.push_back(rung);
          }
          schedule.brackets.push_back(std::move(bracket));
        }
        study = Study(std::move(options), std::move(schedule));
        if (j.contains("wall_seconds"))
          study.set_wall_seconds(f.number(j.at("wall_seconds"), "wall_seconds"));
        have_header = true;
        continue;
      }
      Trial t;
      t.id = f.integer<std::size_t>(f.member(j, "", "trial"), "trial");
      t.status = f.parsed(f.member(j, "", "status"), "status",
                          [](const std::string& s) { return detail::parse_status(s); });
      // Brackets, rungs, resources and steps are never negative (the engine refuses a scheduler
      // that hands out a negative bracket or rung).
      t.bracket = f.integer<int>(f.member(j, "", "bracket"), "bracket", 0);
      t.rung = f.integer<int>(f.member(j, "", "rung"), "rung", 0);
      t.resource = f.integer<std::int64_t>(f.member(j, "", "resource"), "resource", 0);
      t.wall_seconds = f.number(f.member(j, "", "wall_seconds"), "wall_seconds");
      t.stopped_by = f.string(f.member(j, "", "stopped_by"), "stopped_by");
      t.reason = f.string(f.member(j, "", "reason"), "reason");
      if (j.contains("failure"))  // written only for failed trials (older files have none)
        t.failure = f.parsed(j.at("failure"), "failure",
                             [](const std::string& s) { return detail::parse_failure_stage(s); });
      if (const auto& index = f.member(j, "", "result_index"); !index.is_null())
        t.result_index = f.integer<std::size_t>(index, "result_index");
      std::string problem;
      for (const auto& [name, value] : f.object(f.member(j, "", "config"), "config").items()) {
        auto parameter = detail::value_from_json(value, problem);
        if (!parameter)
          f.source.fail("config", "parameter " + detail::quote_input(name) + ": " + problem);
        t.config.set(name, std::move(*parameter));
      }
      const auto& curve = f.array(f.member(j, "", "curve"), "curve");
      for (std::size_t i = 0; i < curve.size(); ++i) {
        const std::string path = "curve[" + std::to_string(i) + "]";
        const auto& s = curve[i];
        Step step{f.integer<std::int64_t>(f.member(s, path, "step"), path + ".step", 0),
                  f.number(f.member(s, path, "objective"), path + ".objective"),
                  {}};
        const std::string values_path = path + ".values";
        for (const auto& [name, value] : f.object(f.member(s, path, "values"), values_path).items())
          step.values.emplace_back(name, f.number(value, detail::json_path(values_path, name)));
        t.curve.push_back(std::move(step));
      }
      // Trial::result() would silently fall back to the last step.
      if (t.result_index && *t.result_index >= t.curve.size())
        f.source.fail("result_index", std::to_string(*t.result_index) + " is beyond the curve's " +
                                          std::to_string(t.curve.size()) + " steps");
      study.add_trial(std::move(t));
    } catch (const detail::JsonReadError&) {
      throw;
    } catch (const std::invalid_argument& error) {  // from Study::add_trial
      f.source.fail("", error.what());
    }
  }
  if (!have_header) throw std::invalid_argument("hpt::read_jsonl: the input is empty");
  return study;
}

}  // namespace hpt
