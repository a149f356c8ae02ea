#pragma once
/// @file safetensors.hpp
/// @brief Saves and loads model parameters in the safetensors format, so that weights move
/// between hpt and PyTorch (`safetensors.torch.save_file` / `load_file`) unchanged.
///
/// Format: an unsigned 64-bit little-endian header length N, N bytes of JSON
/// `{name: {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {string: string}}`, then the tensor bytes, little-endian, row-major (PyTorch's
/// order), offsets relative to the end of the header. hpt's views are column-major: a 2-D tensor
/// is transposed on the way in and out, and 1-D tensors are copied.
///
/// Loading checks everything before it changes any parameter: on error the model is unchanged.
/// The dtype must match Scalar (F32 for float, F64 for double) unless `convert` is set, in which
/// case values are converted (F64 -> float rounds to nearest). This part needs nlohmann/json;
/// models themselves need Eigen only.

#include <hpt/models/parameter.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace hpt::models {

/// @brief A malformed or incompatible safetensors file; the message names the file and tensor.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief How strictly load_safetensors() matches a file to the parameters.
struct SafetensorsOptions {
  bool convert = false;      ///< Accept F32 into double and F64 into float (converting values).
  bool allow_extra = false;  ///< Ignore tensors in the file that no parameter asks for.
};

namespace detail {

template <class Scalar>
constexpr const char* safetensors_dtype() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "safetensors: only float (F32) and double (F64) parameters");
  return std::is_same_v<Scalar, float> ? "F32" : "F64";
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

struct SafetensorsEntry {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

/// Reads `path` into `bytes` and returns its validated header entries (everything but the match
/// against the parameters); data_start is where the tensor bytes begin.
inline std::map<std::string, SafetensorsEntry> read_safetensors(const std::filesystem::path& path,
                                                                const std::string& where,
                                                                std::vector<unsigned char>& bytes,
                                                                std::size_t& data_start) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SafetensorsError(where + ": cannot open the file");
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (bytes.size() < 8)
    throw SafetensorsError(where + ": truncated file (" + std::to_string(bytes.size()) +
                           " bytes, the header length alone needs 8)");
  const auto header_length = detail::from_little_endian<std::uint64_t>(bytes.data());
  if (header_length > bytes.size() - 8)
    throw SafetensorsError(where + ": header length " + std::to_string(header_length) +
                           " goes beyond the end of the file (" + std::to_string(bytes.size()) +
                           " bytes)");
  data_start = 8 + static_cast<std::size_t>(header_length);
  const std::uint64_t data_size = bytes.size() - data_start;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8,
                                   bytes.begin() + static_cast<std::ptrdiff_t>(data_start));
  } catch (const nlohmann::json::exception& error) {
    throw SafetensorsError(where + ": malformed JSON header: " + error.what());
  }
  if (!header.is_object()) throw SafetensorsError(where + ": the JSON header is not an object");

  std::map<std::string, detail::SafetensorsEntry> entries;
  for (const auto& item : header.items()) {
    const std::string& name = item.key();
    const nlohmann::json& info = item.value();
    if (name == "__metadata__") continue;
    const std::string tensor = where + ": tensor \"" + name + "\": ";
    if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() ||
        !info.contains("shape") || !info["shape"].is_array() || !info.contains("data_offsets") ||
        !info["data_offsets"].is_array() || info["data_offsets"].size() != 2)
      throw SafetensorsError(tensor + "needs \"dtype\", \"shape\" and two \"data_offsets\"");
    detail::SafetensorsEntry entry;
    entry.dtype = info["dtype"].get<std::string>();
    if (entry.dtype != "F32" && entry.dtype != "F64")
      throw SafetensorsError(tensor + "unsupported dtype " + entry.dtype + " (F32 or F64 only)");
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
    const auto& offsets = info["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw SafetensorsError(tensor + "data_offsets must be non-negative integers");
    entry.begin = offsets[0].get<std::uint64_t>();
    entry.end = offsets[1].get<std::uint64_t>();
    if (entry.begin > entry.end || entry.end > data_size)
      throw SafetensorsError(tensor + "data_offsets [" + std::to_string(entry.begin) + ", " +
                             std::to_string(entry.end) + "] out of range (data has " +
                             std::to_string(data_size) + " bytes: truncated file?)");
    const std::uint64_t element_size = entry.dtype == "F32" ? 4 : 8;
    if (entry.end - entry.begin != count * element_size)
      throw SafetensorsError(tensor + "data_offsets span " +
                             std::to_string(entry.end - entry.begin) + " bytes, but shape " +
                             detail::shape_text(entry.shape) + " of " + entry.dtype + " needs " +
                             std::to_string(count * element_size));
    entries.emplace(name, std::move(entry));
  }

  // No two tensors may share bytes.
  std::vector<std::pair<std::pair<std::uint64_t, std::uint64_t>, std::string>> ranges;
  for (const auto& [name, entry] : entries)
    if (entry.end > entry.begin) ranges.push_back({{entry.begin, entry.end}, name});
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first.first < ranges[i - 1].first.second)
      throw SafetensorsError(where + ": tensors \"" + ranges[i - 1].second + "\" and \"" +
                             ranges[i].second + "\" overlap");
  return entries;
}

}  // namespace detail

/// @brief Writes the parameters to `path` (overwriting it), in their order, with their names.
/// `metadata` goes to "__metadata__" (with "format": "pt" unless given). Duplicate names throw
/// std::invalid_argument; I/O errors throw SafetensorsError.
template <class Scalar>
void save_safetensors(const std::filesystem::path& path,
                      std::span<const ParameterView<Scalar>> parameters,
                      const std::map<std::string, std::string>& metadata = {}) {
  const std::string where = "hpt::models::save_safetensors: " + path.string();
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json meta = nlohmann::json::object();
  meta["format"] = "pt";
  for (const auto& [key, value] : metadata) meta[key] = value;
  header["__metadata__"] = meta;
  std::string data;
  for (const auto& parameter : parameters) {
    if (parameter.name.empty() || parameter.name == "__metadata__" ||
        header.contains(parameter.name))
      throw std::invalid_argument(where + ": invalid or duplicate tensor name \"" + parameter.name +
                                  "\"");
    const std::uint64_t begin = data.size();
    // Row-major: walk PyTorch's rows, each across the columns.
    for (Eigen::Index row = 0; row < parameter.rows; ++row)
      for (Eigen::Index col = 0; col < parameter.cols; ++col)
        detail::append_little_endian(data, parameter.value[row + col * parameter.rows]);
    header[parameter.name] = {{"dtype", detail::safetensors_dtype<Scalar>()},
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
                      const std::map<std::string, std::string>& metadata = {}) {
  save_safetensors<Scalar>(path, std::span<const ParameterView<Scalar>>(parameters), metadata);
}

/// @brief Reads every parameter (matched by name) from `path`.
///
/// Throws SafetensorsError naming the file (and tensor) for: a missing or unreadable file, a file
/// shorter than 8 bytes, a header length beyond the file, malformed JSON or header fields, an
/// unsupported dtype, offsets that are out of range, do not match the shape, or overlap another
/// tensor, a shape different from the parameter's, a dtype different from Scalar (unless
/// options.convert), a missing tensor, and a tensor no parameter asks for (unless
/// options.allow_extra). On error no parameter has changed.
template <class Scalar>
void load_safetensors(const std::filesystem::path& path,
                      std::span<const ParameterView<Scalar>> parameters,
                      SafetensorsOptions options = {}) {
  const std::string where = "hpt::models::load_safetensors: " + path.string();
  std::vector<unsigned char> bytes;
  std::size_t data_start = 0;
  const auto entries = detail::read_safetensors(path, where, bytes, data_start);

  // Match names, shapes and dtypes, and decode into temporaries.
  std::set<std::string> wanted;
  std::vector<std::vector<Scalar>> decoded;
  for (const auto& parameter : parameters) {
    wanted.insert(parameter.name);
    const std::string tensor = where + ": tensor \"" + parameter.name + "\": ";
    const auto found = entries.find(parameter.name);
    if (found == entries.end()) throw SafetensorsError(tensor + "missing from the file");
    const auto& entry = found->second;
    if (entry.shape != parameter.shape())
      throw SafetensorsError(tensor + "shape " + detail::shape_text(entry.shape) +
                             " in the file, expected " + detail::shape_text(parameter.shape()));
    if (entry.dtype != detail::safetensors_dtype<Scalar>() && !options.convert)
      throw SafetensorsError(tensor + "dtype " + entry.dtype + " in the file, expected " +
                             detail::safetensors_dtype<Scalar>() +
                             " (set SafetensorsOptions::convert to convert)");
    const unsigned char* source = bytes.data() + data_start + entry.begin;
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
  if (wanted.size() != parameters.size())
    throw std::invalid_argument(where + ": two parameters share a name");
  if (!options.allow_extra)
    for (const auto& [name, entry] : entries)
      if (wanted.count(name) == 0)
        throw SafetensorsError(where + ": tensor \"" + name +
                               "\" in the file matches no parameter (set "
                               "SafetensorsOptions::allow_extra to ignore it)");

  for (std::size_t i = 0; i < parameters.size(); ++i)
    std::copy(decoded[i].begin(), decoded[i].end(), parameters[i].value);
}

/// @brief load_safetensors() for the vector that models' parameters() return.
template <class Scalar>
void load_safetensors(const std::filesystem::path& path,
                      const std::vector<ParameterView<Scalar>>& parameters,
                      SafetensorsOptions options = {}) {
  load_safetensors<Scalar>(path, std::span<const ParameterView<Scalar>>(parameters), options);
}

/// @brief Saves a model's parameters (any model with parameters(), e.g. Mlp) to `path`.
template <class Model>
void save_model(const std::filesystem::path& path, Model& model,
                const std::map<std::string, std::string>& metadata = {}) {
  save_safetensors(path, model.parameters(), metadata);
}

/// @brief Loads a model's parameters from `path` (see load_safetensors for the checks).
template <class Model>
void load_model(const std::filesystem::path& path, Model& model, SafetensorsOptions options = {}) {
  load_safetensors(path, model.parameters(), options);
}

}  // namespace hpt::models
