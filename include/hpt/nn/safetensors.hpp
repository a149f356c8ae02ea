#pragma once
/// @file safetensors.hpp
/// @brief Saves and loads model parameters in the safetensors format, so that weights move
/// between hpt and PyTorch (`safetensors.torch.save_file` / `load_file`) unchanged, and lists the
/// tensors of a file without loading them.
///
/// Format: an unsigned 64-bit little-endian header length N, N bytes of JSON
/// `{name: {"dtype": "F32"|"F64"|..., "shape": [...], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {string: string}}`, then the tensor bytes, little-endian, row-major (PyTorch's
/// order), offsets relative to the end of the header. hpt's views are column-major: a 2-D tensor
/// is transposed on the way in and out, and 1-D tensors are copied.
///
/// Names: a parameter is stored under `options.prefix + options.rename(parameter.name)` (the
/// parameter's own name when neither is set), so that a model can be read from, or written for,
/// a PyTorch module whose state_dict names differ from hpt's.
///
/// Loading checks everything before it changes any parameter: on error the model is unchanged.
/// The dtype must match Scalar (F32 for float, F64 for double) unless `convert` is set, in which
/// case values are converted (F64 -> float rounds to nearest). This part needs nlohmann/json;
/// models themselves need Eigen only.

#include <hpt/core/input_excerpt.hpp>
#include <hpt/linalg/tensor_view.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace hpt::models {

/// @brief A malformed or incompatible safetensors file; the message names the file and tensor.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief How load_safetensors() matches a file to the parameters, and how both load and save
/// name the file's tensors.
///
/// `SafetensorsOptions{.prefix = "model."}` reads and writes "model.head.weight" for the
/// parameter "head.weight"; `.rename` maps any name to another (applied before the prefix).
struct SafetensorsOptions {
  bool convert = false;      ///< Loading: accept F32 into double and F64 into float (converting).
  bool allow_extra = false;  ///< Loading: ignore tensors in the file that no parameter asks for.
  /// Put before every (renamed) parameter name to give the file's name, e.g. "net." for a
  /// PyTorch module that holds the model as its attribute `net`.
  std::string prefix{};
  /// The file's name of a parameter (before the prefix); not set: the parameter's own name.
  std::function<std::string(const std::string&)> rename{};

  /// @brief The name `parameter` has in the file: prefix + rename(parameter).
  [[nodiscard]] std::string file_name(const std::string& parameter) const {
    return prefix + (rename ? rename(parameter) : parameter);
  }
};

/// @brief One tensor of a safetensors file as its header describes it (see safetensors_tensors).
struct SafetensorsTensor {
  std::string name;                ///< The name in the file, e.g. "0.weight".
  std::string dtype;               ///< The safetensors dtype: "F32", "F64", "BF16", "I64", ...
  std::vector<std::size_t> shape;  ///< PyTorch's shape (row-major); empty for a scalar.
  std::uint64_t begin = 0;         ///< The tensor's first byte, counted from the file's start.
  std::uint64_t end = 0;           ///< One past its last byte: it has end - begin bytes.

  /// @brief The number of elements: the product of the shape (1 for a scalar).
  [[nodiscard]] std::uint64_t elements() const noexcept {
    std::uint64_t count = 1;
    for (const auto size : shape) count *= size;
    return count;
  }
};

namespace detail {

using hpt::detail::excerpt;
using hpt::detail::quote_input;

template <class Scalar>
constexpr const char* safetensors_dtype() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "safetensors: only float (F32) and double (F64) parameters");
  return std::is_same_v<Scalar, float> ? "F32" : "F64";
}

/// Bytes per element of a safetensors dtype; 0 for a name the format does not define.
inline std::uint64_t safetensors_element_size(const std::string& dtype) {
  static const std::map<std::string, std::uint64_t> sizes{
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  const auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

template <class T>
T from_little_endian(const unsigned char* bytes) {
  unsigned char buffer[sizeof(T)];
  std::memcpy(buffer, bytes, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(buffer, buffer + sizeof(T));
  T value;
  std::memcpy(&value, buffer, sizeof(T));
  return value;
}

template <class T>
void append_little_endian(std::string& out, T value) {
  unsigned char buffer[sizeof(T)];
  std::memcpy(buffer, &value, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(buffer, buffer + sizeof(T));
  out.append(reinterpret_cast<const char*>(buffer), sizeof(T));
}

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// A validated header: tensors in the order of their bytes (offsets relative to the data, as in
/// the header), the raw metadata, and where the data starts.
struct SafetensorsHeader {
  std::vector<SafetensorsTensor> tensors;
  nlohmann::json metadata;
  std::uint64_t data_start = 0;
};

/// How deep a header may nest: the format needs three levels (the header, a tensor, its shape).
inline constexpr int safetensors_header_depth = 3;

/// Parses and validates the JSON header [begin, end) of a file whose data has data_size bytes.
inline SafetensorsHeader parse_safetensors_header(const std::string& where,
                                                  const unsigned char* begin,
                                                  const unsigned char* end,
                                                  std::uint64_t data_size) {
  // Unordered: ordered_json finds keys by linear search, quadratic in the tensor count, and the
  // tensors are put in the order of their bytes below anyway.
  nlohmann::json header;
  // nlohmann keeps the last of two equal keys silently; a repeated tensor name (or field) would
  // hide a tensor, so every object's keys are tracked while parsing.
  std::vector<std::set<std::string>> keys;
  int depth = 0;
  const auto refuse_repeated_keys = [&](int, nlohmann::json::parse_event_t event,
                                        nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start || event == Event::array_start) {
      if (++depth > safetensors_header_depth)
        throw SafetensorsError(where + ": the JSON header nests deeper than " +
                               std::to_string(safetensors_header_depth) +
                               " levels, which no safetensors header does");
      if (event == Event::object_start) keys.emplace_back();
    } else if (event == Event::object_end || event == Event::array_end) {
      --depth;
      if (event == Event::object_end) keys.pop_back();
    } else if (event == Event::key && !keys.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second)
        throw SafetensorsError(where + ": the JSON header has the key " + quote_input(key) +
                               " twice" + (keys.size() == 1 ? " (two tensors of that name)" : ""));
    }
    return true;
  };
  try {
    header = nlohmann::json::parse(begin, end, refuse_repeated_keys);
  } catch (const nlohmann::json::exception& error) {
    // nlohmann's message quotes the last token read, which may be any length.
    throw SafetensorsError(where + ": malformed JSON header: " + excerpt(error.what()));
  }
  if (!header.is_object()) throw SafetensorsError(where + ": the JSON header is not an object");

  SafetensorsHeader result;
  for (const auto& item : header.items()) {
    const std::string& name = item.key();
    const auto& info = item.value();
    if (name == "__metadata__") {
      // The format's metadata is a string-to-string map; anything else is a malformed file.
      if (!info.is_object()) throw SafetensorsError(where + ": \"__metadata__\" is not an object");
      for (const auto& entry : info.items())
        if (!entry.value().is_string())
          throw SafetensorsError(where + ": \"__metadata__\" entry " + quote_input(entry.key()) +
                                 " is not a string");
      result.metadata = info;
      continue;
    }
    const std::string tensor = where + ": tensor " + quote_input(name) + ": ";
    if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() ||
        !info.contains("shape") || !info["shape"].is_array() || !info.contains("data_offsets") ||
        !info["data_offsets"].is_array() || info["data_offsets"].size() != 2)
      throw SafetensorsError(tensor + "needs \"dtype\", \"shape\" and two \"data_offsets\"");
    SafetensorsTensor entry;
    entry.name = name;
    entry.dtype = info["dtype"].get<std::string>();
    const std::uint64_t element_size = safetensors_element_size(entry.dtype);
    if (element_size == 0)
      throw SafetensorsError(tensor + "unsupported dtype " + quote_input(entry.dtype) +
                             " (not a safetensors dtype)");
    std::uint64_t count = 1;
    for (const auto& dimension : info["shape"]) {
      if (!dimension.is_number_unsigned())
        throw SafetensorsError(tensor + "shape entries must be non-negative integers");
      const auto size = dimension.get<std::uint64_t>();
      if (size != 0 && count > (std::uint64_t{1} << 62) / size)
        throw SafetensorsError(tensor + "shape too large");
      count *= size;
      entry.shape.push_back(static_cast<std::size_t>(size));
    }
    // count * element_size must not wrap around (a shape [2^62] of F32 would need 0 bytes).
    if (count > std::numeric_limits<std::uint64_t>::max() / element_size)
      throw SafetensorsError(tensor + "shape " + shape_text(entry.shape) + " of " + entry.dtype +
                             " needs more bytes than a 64-bit size can count");
    const auto& offsets = info["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw SafetensorsError(tensor + "data_offsets must be non-negative integers");
    entry.begin = offsets[0].get<std::uint64_t>();
    entry.end = offsets[1].get<std::uint64_t>();
    if (entry.begin > entry.end || entry.end > data_size)
      throw SafetensorsError(tensor + "data_offsets [" + std::to_string(entry.begin) + ", " +
                             std::to_string(entry.end) + "] out of range (data has " +
                             std::to_string(data_size) + " bytes: truncated file?)");
    if (entry.end - entry.begin != count * element_size)
      throw SafetensorsError(tensor + "data_offsets span " +
                             std::to_string(entry.end - entry.begin) + " bytes, but shape " +
                             shape_text(entry.shape) + " of " + entry.dtype + " needs " +
                             std::to_string(count * element_size));
    result.tensors.push_back(std::move(entry));
  }

  // The order of the bytes is the order the writer chose (the JSON object's order is not
  // meaningful to every writer); a stable sort keeps the header's order for empty tensors.
  std::stable_sort(
      result.tensors.begin(), result.tensors.end(),
      [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.begin < b.begin; });
  // No two tensors may share bytes.
  const SafetensorsTensor* previous = nullptr;
  for (const auto& entry : result.tensors) {
    if (entry.end == entry.begin) continue;
    if (previous != nullptr && entry.begin < previous->end)
      throw SafetensorsError(where + ": tensors " + quote_input(previous->name) + " and " +
                             quote_input(entry.name) + " overlap");
    previous = &entry;
  }
  return result;
}

/// Reads and validates the header of `path`; with `bytes` not null, also reads the whole file
/// into it (the tensor data starts at data_start).
inline SafetensorsHeader read_safetensors_header(const std::filesystem::path& path,
                                                 const std::string& where,
                                                 std::vector<unsigned char>* bytes) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw SafetensorsError(where + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SafetensorsError(where + ": cannot open the file");
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) throw SafetensorsError(where + ": cannot read the file");
  const auto file_size = static_cast<std::uint64_t>(end);
  if (file_size < 8)
    throw SafetensorsError(where + ": truncated file (" + std::to_string(file_size) +
                           " bytes, the header length alone needs 8)");
  std::vector<unsigned char> header_bytes;
  std::vector<unsigned char>& buffer = bytes != nullptr ? *bytes : header_bytes;
  buffer.resize(8);
  in.read(reinterpret_cast<char*>(buffer.data()), 8);
  const auto header_length = from_little_endian<std::uint64_t>(buffer.data());
  if (header_length > file_size - 8)
    throw SafetensorsError(where + ": header length " + std::to_string(header_length) +
                           " goes beyond the end of the file (" + std::to_string(file_size) +
                           " bytes)");
  const std::uint64_t data_start = 8 + header_length;
  buffer.resize(static_cast<std::size_t>(bytes != nullptr ? file_size : data_start));
  in.read(reinterpret_cast<char*>(buffer.data() + 8),
          static_cast<std::streamsize>(buffer.size() - 8));
  if (!in) throw SafetensorsError(where + ": read failed");
  auto header = parse_safetensors_header(where, buffer.data() + 8, buffer.data() + data_start,
                                         file_size - data_start);
  header.data_start = data_start;
  return header;
}

/// "\"a\", \"b\", ... (n in all)": a short list of a file's names for error messages.
inline std::string some_names(const std::vector<SafetensorsTensor>& tensors) {
  constexpr std::size_t shown = 8;
  std::string text;
  for (std::size_t i = 0; i < tensors.size() && i < shown; ++i)
    text += (i ? ", " : "") + quote_input(tensors[i].name);
  if (tensors.size() > shown) text += ", ... (" + std::to_string(tensors.size()) + " in all)";
  return tensors.empty() ? "no tensors" : text;
}

/// The file name of every parameter; throws std::invalid_argument for an empty or reserved name
/// and for two parameters with the same file name.
template <class Scalar>
std::vector<std::string> file_names(const std::string& where,
                                    std::span<const ParameterView<Scalar>> parameters,
                                    const SafetensorsOptions& options) {
  std::vector<std::string> names;
  names.reserve(parameters.size());
  std::map<std::string, std::string> owners;  // file name -> parameter name
  for (const auto& parameter : parameters) {
    std::string name = options.file_name(parameter.name);
    const std::string mapped =
        name == parameter.name ? "" : " (the file's name of parameter \"" + parameter.name + "\")";
    if (name.empty() || name == "__metadata__")
      throw std::invalid_argument(where + ": invalid tensor name \"" + name + "\"" + mapped);
    const auto [found, inserted] = owners.emplace(name, parameter.name);
    if (!inserted)
      throw std::invalid_argument(where + ": parameters \"" + found->second + "\" and \"" +
                                  parameter.name + "\" both have the tensor name \"" + name + "\"");
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace detail

/// @brief The tensors of a safetensors file (name, dtype, shape, byte range), in the order of
/// their bytes in the file, from its header alone: the tensor data is not read.
///
/// For files written tensor after tensor from a state_dict or parameters() (by hpt, or by hand as
/// tests/golden/make_mlp_golden.py does) this is state_dict order; `safetensors.torch.save_file`
/// sorts by dtype, then name. Every dtype of the format is listed (loading supports F32 and F64
/// only). Throws SafetensorsError naming the file
/// (and tensor) for a missing file or a directory, a truncated one, a header length beyond the
/// file, malformed JSON, a key given twice (e.g. two tensors of one name), a "__metadata__" that
/// is not an object of strings, missing fields, an unknown dtype, a shape too large for a 64-bit
/// byte count, offsets out of range or not matching the shape, and overlapping tensors.
[[nodiscard]] inline std::vector<SafetensorsTensor> safetensors_tensors(
    const std::filesystem::path& path) {
  const std::string where = "hpt::models::safetensors_tensors: " + path.string();
  auto header = detail::read_safetensors_header(path, where, nullptr);
  for (auto& tensor : header.tensors) {
    tensor.begin += header.data_start;
    tensor.end += header.data_start;
  }
  return std::move(header.tensors);
}

/// @brief The "__metadata__" of a safetensors file (empty if it has none), from its header
/// alone. Throws SafetensorsError as safetensors_tensors() does, and for metadata that is not
/// an object of strings.
[[nodiscard]] inline std::map<std::string, std::string> safetensors_metadata(
    const std::filesystem::path& path) {
  const std::string where = "hpt::models::safetensors_metadata: " + path.string();
  const auto header = detail::read_safetensors_header(path, where, nullptr);
  std::map<std::string, std::string> metadata;
  if (header.metadata.is_null()) return metadata;
  if (!header.metadata.is_object())
    throw SafetensorsError(where + ": \"__metadata__\" is not an object");
  for (const auto& item : header.metadata.items()) {
    if (!item.value().is_string())
      throw SafetensorsError(where + ": \"__metadata__\" entry " + detail::quote_input(item.key()) +
                             " is not a string");
    metadata.emplace(item.key(), item.value().get<std::string>());
  }
  return metadata;
}

/// @brief Writes the parameters to `path` (overwriting it), in their order, each under its file
/// name `options.prefix + options.rename(name)` (its own name by default; options.convert and
/// allow_extra do not apply). `metadata` goes to "__metadata__" (with "format": "pt" unless
/// given). An empty, reserved or repeated tensor name throws std::invalid_argument naming it; I/O
/// errors throw SafetensorsError.
template <class Scalar>
void save_safetensors(const std::filesystem::path& path,
                      std::span<const ParameterView<Scalar>> parameters,
                      const std::map<std::string, std::string>& metadata = {},
                      const SafetensorsOptions& options = {}) {
  const std::string where = "hpt::models::save_safetensors: " + path.string();
  const auto names = detail::file_names<Scalar>(where, parameters, options);
  // Ordered: the header lists the tensors in the order of their bytes, the parameters' order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  meta["format"] = "pt";
  for (const auto& [key, value] : metadata) meta[key] = value;
  header["__metadata__"] = meta;
  std::string data;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& parameter = parameters[i];
    const std::uint64_t begin = data.size();
    // Row-major: walk PyTorch's rows, each across the columns.
    for (Eigen::Index row = 0; row < parameter.rows; ++row)
      for (Eigen::Index col = 0; col < parameter.cols; ++col)
        detail::append_little_endian(data, parameter.value[row + col * parameter.rows]);
    header[names[i]] = {{"dtype", detail::safetensors_dtype<Scalar>()},
                        {"shape", parameter.shape()},
                        {"data_offsets", {begin, static_cast<std::uint64_t>(data.size())}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the tensor data 8-byte aligned
  std::string file;
  detail::append_little_endian(file, static_cast<std::uint64_t>(text.size()));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw SafetensorsError(where + ": cannot open for writing");
  out.write(file.data(), static_cast<std::streamsize>(file.size()));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) throw SafetensorsError(where + ": write failed");
}

/// @brief save_safetensors() for the vector that models' parameters() return.
template <class Scalar>
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<ParameterView<Scalar>>& parameters,
                      const std::map<std::string, std::string>& metadata = {},
                      const SafetensorsOptions& options = {}) {
  save_safetensors<Scalar>(path, std::span<const ParameterView<Scalar>>(parameters), metadata,
                           options);
}

/// @brief Reads every parameter from the tensor of its file name (`options.prefix +
/// options.rename(name)`, its own name by default) in `path`.
///
/// Throws SafetensorsError naming the file (and tensor) for: a missing or unreadable file, a file
/// shorter than 8 bytes, a header length beyond the file, malformed JSON or header fields, a key
/// given twice, a "__metadata__" that is not an object of strings, an unknown dtype, a shape
/// too large for a 64-bit byte count, offsets that are out of range, do not match the shape,
/// or overlap another
/// tensor, a dtype other than F32 and F64 for a tensor a parameter asks for, a shape different
/// from the parameter's, a dtype different from Scalar (unless options.convert), a missing tensor
/// (the message lists the file's names), and a tensor no parameter asks for (unless
/// options.allow_extra). Two parameters with the same file name, or an empty one, throw
/// std::invalid_argument. On error no parameter has changed.
template <class Scalar>
void load_safetensors(const std::filesystem::path& path,
                      std::span<const ParameterView<Scalar>> parameters,
                      const SafetensorsOptions& options = {}) {
  const std::string where = "hpt::models::load_safetensors: " + path.string();
  const auto names = detail::file_names<Scalar>(where, parameters, options);
  std::vector<unsigned char> bytes;
  const auto header = detail::read_safetensors_header(path, where, &bytes);
  std::map<std::string, const SafetensorsTensor*> entries;
  for (const auto& tensor : header.tensors) entries.emplace(tensor.name, &tensor);

  // Match names, shapes and dtypes, and decode into temporaries.
  std::vector<std::vector<Scalar>> decoded;
  decoded.reserve(parameters.size());
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& parameter = parameters[i];
    const std::string tensor =
        where + ": tensor \"" + names[i] + "\"" +
        (names[i] == parameter.name ? "" : " (parameter \"" + parameter.name + "\")") + ": ";
    const auto found = entries.find(names[i]);
    if (found == entries.end())
      throw SafetensorsError(tensor + "missing from the file, which has " +
                             detail::some_names(header.tensors) +
                             " (map names with SafetensorsOptions::prefix and rename)");
    const auto& entry = *found->second;
    if (entry.dtype != "F32" && entry.dtype != "F64")
      throw SafetensorsError(tensor + "unsupported dtype " + entry.dtype + " (F32 or F64 only)");
    if (entry.shape != parameter.shape())
      throw SafetensorsError(tensor + "shape " + detail::shape_text(entry.shape) +
                             " in the file, expected " + detail::shape_text(parameter.shape()));
    if (entry.dtype != detail::safetensors_dtype<Scalar>() && !options.convert)
      throw SafetensorsError(tensor + "dtype " + entry.dtype + " in the file, expected " +
                             detail::safetensors_dtype<Scalar>() +
                             " (set SafetensorsOptions::convert to convert)");
    const unsigned char* source = bytes.data() + header.data_start + entry.begin;
    std::vector<Scalar> values(static_cast<std::size_t>(parameter.size()));
    const Eigen::Index rows = parameter.rows;
    const Eigen::Index cols = parameter.cols;
    for (Eigen::Index row = 0; row < rows; ++row)
      for (Eigen::Index col = 0; col < cols; ++col) {
        const auto index = static_cast<std::size_t>(row * cols + col);  // row-major in the file
        const Scalar value =
            entry.dtype == "F32"
                ? static_cast<Scalar>(detail::from_little_endian<float>(source + 4 * index))
                : static_cast<Scalar>(detail::from_little_endian<double>(source + 8 * index));
        values[static_cast<std::size_t>(row + col * rows)] = value;
      }
    decoded.push_back(std::move(values));
  }
  if (!options.allow_extra) {
    const std::set<std::string> wanted(names.begin(), names.end());
    for (const auto& entry : header.tensors)
      if (wanted.count(entry.name) == 0)
        throw SafetensorsError(where + ": tensor " + detail::quote_input(entry.name) +
                               " in the file matches no parameter (set "
                               "SafetensorsOptions::allow_extra to ignore it)");
  }

  for (std::size_t i = 0; i < parameters.size(); ++i)
    std::copy(decoded[i].begin(), decoded[i].end(), parameters[i].value);
}

/// @brief load_safetensors() for the vector that models' parameters() return.
template <class Scalar>
void load_safetensors(const std::filesystem::path& path,
                      const std::vector<ParameterView<Scalar>>& parameters,
                      const SafetensorsOptions& options = {}) {
  load_safetensors<Scalar>(path, std::span<const ParameterView<Scalar>>(parameters), options);
}

/// @brief Saves a model's parameters (any model with parameters(), e.g. Mlp) to `path`.
template <class Model>
void save_model(const std::filesystem::path& path, Model& model,
                const std::map<std::string, std::string>& metadata = {},
                const SafetensorsOptions& options = {}) {
  save_safetensors(path, model.parameters(), metadata, options);
}

/// @brief Loads a model's parameters from `path` (see load_safetensors for the checks).
template <class Model>
void load_model(const std::filesystem::path& path, Model& model,
                const SafetensorsOptions& options = {}) {
  load_safetensors(path, model.parameters(), options);
}

}  // namespace hpt::models
