// safetensors_tensors() and safetensors_metadata(): a file's tensors (name, dtype, shape, byte
// range) and metadata from its header alone, e.g. to build a model of the file's shape.
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/safetensors.hpp>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "golden.hpp"
#include "scratch_directory.hpp"

using hpt::models::Matrix;
using hpt::models::Mlp;
using hpt::models::MlpLayout;
using hpt::models::MlpShape;
using hpt::models::safetensors_metadata;
using hpt::models::safetensors_tensors;
using hpt::models::SafetensorsError;
using hpt::models::SafetensorsTensor;

namespace {

using test_support::golden_path;

// Each file's scratch files under its own prefix.
struct ScratchDirectory : test_support::ScratchDirectory {
  ScratchDirectory() : test_support::ScratchDirectory("hpt_listing_") {}
};

std::string little_endian_u64(std::uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  return bytes;
}

void write_file(const std::filesystem::path& path, const std::string& header,
                const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const std::string bytes = little_endian_u64(header.size()) + header + data;
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string listing_error(const std::filesystem::path& path) {
  try {
    (void)safetensors_tensors(path);
  } catch (const SafetensorsError& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("safetensors_tensors lists a PyTorch file's tensors in state_dict order",
          "[safetensors][listing]") {
  const auto path = golden_path("mlp_sequential_dropout_f64.safetensors");
  const auto tensors = safetensors_tensors(path);
  std::vector<std::string> names;
  for (const auto& tensor : tensors) names.push_back(tensor.name);
  CHECK(names ==
        std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"});
  REQUIRE(tensors.size() == 6);
  CHECK(tensors[0].shape == std::vector<std::size_t>{7, 5});
  CHECK(tensors[1].shape == std::vector<std::size_t>{7});
  CHECK(tensors[4].shape == std::vector<std::size_t>{4, 6});
  // The byte ranges are absolute, back to back from the end of the header to the end of the file.
  const auto file_size = std::filesystem::file_size(path);
  CHECK(tensors.back().end == file_size);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].name);
    CHECK(tensors[i].dtype == "F64");
    CHECK(tensors[i].end - tensors[i].begin == 8 * tensors[i].elements());
    if (i > 0) CHECK(tensors[i].begin == tensors[i - 1].end);
  }
  CHECK(tensors[0].begin >= 8);
  CHECK(safetensors_metadata(path) == std::map<std::string, std::string>{{"format", "pt"}});
}

TEST_CASE("A model of a file's shape, built from its listing, loads the file",
          "[safetensors][listing]") {
  // What docs/models/mlp.md shows: the weights' shapes give inputs, hidden units and outputs.
  const auto path = golden_path("mlp_sequential_dropout_f64.safetensors");
  const auto tensors = safetensors_tensors(path);
  std::map<int, std::vector<std::size_t>> weights;  // module number -> (out, in)
  for (const SafetensorsTensor& tensor : safetensors_tensors(path))
    if (tensor.shape.size() == 2) weights[std::stoi(tensor.name)] = tensor.shape;  // "3.weight"
  MlpShape shape{.inputs = static_cast<Eigen::Index>(weights.begin()->second[1]),
                 .outputs = static_cast<Eigen::Index>(weights.rbegin()->second[0]),
                 .activation = hpt::models::Activation::relu,
                 .naming = {.layout = MlpLayout::with_dropout, .prefix = ""}};
  for (auto it = weights.begin(); std::next(it) != weights.end(); ++it)
    shape.hidden.push_back(static_cast<Eigen::Index>(it->second[0]));
  CHECK(shape.inputs == 5);
  CHECK(shape.hidden == std::vector<Eigen::Index>{7, 6});
  CHECK(shape.outputs == 4);
  Mlp<double> model(shape);
  hpt::models::load_model(path, model);
  const hpt_test::Golden golden(golden_path("mlp_sequential_f64.txt"));
  const auto& input = golden["sequential_dropout.input"];
  Matrix<double> x(5, 3);
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = input.values[static_cast<std::size_t>(i)];
  const Matrix<double> output = model.forward(x);
  const auto& expected = golden["sequential_dropout.output"].values;
  for (Eigen::Index i = 0; i < output.size(); ++i)
    CHECK(std::abs(output(i) - expected[static_cast<std::size_t>(i)]) <= 1e-12);
}

TEST_CASE("safetensors_tensors lists every dtype, in the order of the bytes, and the metadata",
          "[safetensors][listing]") {
  ScratchDirectory scratch;
  const auto path = scratch.path / "mixed.safetensors";
  // The header's order is not the data's; BF16 and I64 cannot be loaded but are listed.
  write_file(path,
             R"({"b":{"dtype":"I64","shape":[2],"data_offsets":[4,20]},)"
             R"("a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]},)"
             R"("s":{"dtype":"F32","shape":[],"data_offsets":[20,24]},)"
             R"("__metadata__":{"trial":"17"}})",
             std::string(24, '\0'));
  const auto tensors = safetensors_tensors(path);
  REQUIRE(tensors.size() == 3);
  CHECK(tensors[0].name == "a");
  CHECK(tensors[0].dtype == "BF16");
  CHECK(tensors[1].name == "b");
  CHECK(tensors[1].dtype == "I64");
  CHECK(tensors[1].elements() == 2);
  CHECK(tensors[2].name == "s");
  CHECK(tensors[2].shape.empty());
  CHECK(tensors[2].elements() == 1);
  const std::uint64_t data_start = std::filesystem::file_size(path) - 24;
  CHECK(tensors[0].begin == data_start);
  CHECK(tensors[2].end == data_start + 24);
  CHECK(safetensors_metadata(path) == std::map<std::string, std::string>{{"trial", "17"}});

  // Only the header is read: the data need not be valid numbers, and loading still checks
  // the dtype of the tensors it is asked for.
  hpt::models::Vector<double> value(2), gradient(2);
  const std::vector<hpt::models::ParameterView<double>> views{
      hpt::models::view_of("b", value, gradient)};
  CHECK_THROWS_WITH(
      hpt::models::load_safetensors(path, views, {.allow_extra = true}),
      Catch::Contains("\"b\"") && Catch::Contains("unsupported dtype I64 (F32 or F64 only)"));

  // hpt writes its metadata and lists the tensors in the parameters' order.
  Mlp<float> model(MlpShape{.inputs = 2, .hidden = {3}, .outputs = 2});
  const auto saved = scratch.path / "saved.safetensors";
  hpt::models::save_model(saved, model, {{"trial", "4"}});
  CHECK(safetensors_metadata(saved) ==
        std::map<std::string, std::string>{{"format", "pt"}, {"trial", "4"}});
  std::vector<std::string> names;
  for (const auto& tensor : safetensors_tensors(saved)) names.push_back(tensor.name);
  CHECK(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.3.weight",
                                          "layers.3.bias"});
}

TEST_CASE("safetensors_tensors names the file for a malformed header", "[safetensors][listing]") {
  ScratchDirectory scratch;
  const auto path = scratch.path / "bad.safetensors";
  const std::string file = "safetensors_tensors: " + path.string();
  const auto with_header = [&](const std::string& header, const std::string& data = "") {
    write_file(path, header, data);
    return listing_error(path);
  };

  CHECK_THAT(listing_error(scratch.path / "absent.safetensors"),
             Catch::Contains("absent.safetensors") && Catch::Contains("cannot open"));
  CHECK_THAT(listing_error(scratch.path), Catch::Contains("is a directory"));
  {
    std::ofstream out(path, std::ios::binary);
    out << "abc";
  }
  CHECK_THAT(listing_error(path), Catch::Contains(file) && Catch::Contains("truncated file (3"));
  {
    std::ofstream out(path, std::ios::binary);
    out << little_endian_u64(500) << "{}";
  }
  CHECK_THAT(listing_error(path),
             Catch::Contains(file) && Catch::Contains("header length 500 goes beyond"));
  CHECK_THAT(with_header("{\"w\": [1, "),
             Catch::Contains(file) && Catch::Contains("malformed JSON header"));
  CHECK_THAT(with_header("\"text\""), Catch::Contains(file) && Catch::Contains("not an object"));
  CHECK_THAT(
      with_header(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd"),
      Catch::Contains(file) && Catch::Contains("tensor \"w\"") && Catch::Contains("data_offsets"));
  CHECK_THAT(with_header(R"({"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})", "abcd"),
             Catch::Contains(file) && Catch::Contains("unsupported dtype \"F12\""));
  CHECK_THAT(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd"),
             Catch::Contains(file) && Catch::Contains("out of range"));
  CHECK_THAT(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"),
             Catch::Contains(file) && Catch::Contains("needs 8"));
  CHECK_THAT(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         "abcdefgh"),
             Catch::Contains(file) && Catch::Contains("\"w\" and \"v\" overlap"));
  with_header(R"({"__metadata__":{"n":1}})");
  CHECK_THROWS_WITH(safetensors_metadata(path), Catch::Contains(path.string()) &&
                                                    Catch::Contains("entry \"n\" is not a string"));
}
