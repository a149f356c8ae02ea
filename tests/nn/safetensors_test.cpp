#include <hpt/nn/mlp.hpp>
#include <hpt/nn/safetensors.hpp>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "golden.hpp"
#include "scratch_directory.hpp"

using hpt::models::load_safetensors;
using hpt::models::Matrix;
using hpt::models::Mlp;
using hpt::models::MlpShape;
using hpt::models::SafetensorsError;
using hpt::models::SafetensorsOptions;
using hpt::models::save_safetensors;
using hpt::models::Vector;

namespace {

using test_support::golden_path;

// Each file's scratch files under its own prefix.
struct ScratchDirectory : test_support::ScratchDirectory {
  ScratchDirectory() : test_support::ScratchDirectory("hpt_model_io_") {}
};

// The architecture of tests/golden/mlp_classification_* (see make_mlp_golden.py).
MlpShape classification_shape() {
  return MlpShape{
      .inputs = 5, .hidden = {7, 6}, .outputs = 4, .activation = hpt::models::Activation::tanh};
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string little_endian_u64(std::uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  return bytes;
}

// A safetensors file from a JSON header text and raw data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return little_endian_u64(header.size()) + header + data;
}

template <class Scalar>
std::string raw(std::initializer_list<Scalar> values) {
  std::string bytes;
  for (Scalar value : values)
    bytes.append(reinterpret_cast<const char*>(&value), sizeof(Scalar));  // x86: little-endian
  return bytes;
}

// A tiny "model": weight (2, 3) and bias (2), both double.
struct Tiny {
  Matrix<double> weight = Matrix<double>::Constant(2, 3, 7);
  Matrix<double> weight_gradient = Matrix<double>::Zero(2, 3);
  Vector<double> bias = Vector<double>::Constant(2, 7);
  Vector<double> bias_gradient = Vector<double>::Zero(2);
  std::vector<hpt::models::ParameterView<double>> views() {
    return {hpt::models::view_of("w", weight, weight_gradient),
            hpt::models::view_of("b", bias, bias_gradient)};
  }
};

const std::string tiny_data = raw<double>({1, 2, 3, 4, 5, 6}) + raw<double>({10, 20});
const std::string tiny_w = R"("w":{"dtype":"F64","shape":[2,3],"data_offsets":[0,48]})";
const std::string tiny_b = R"("b":{"dtype":"F64","shape":[2],"data_offsets":[48,64]})";

std::string load_error(const std::filesystem::path& path, SafetensorsOptions options = {}) {
  Tiny tiny;
  try {
    load_safetensors(path, tiny.views(), options);
  } catch (const SafetensorsError& error) {
    // Nothing may have changed.
    CHECK(tiny.weight == Matrix<double>::Constant(2, 3, 7));
    CHECK(tiny.bias == Vector<double>::Constant(2, 7));
    return error.what();
  }
  return "no error";
}

}  // namespace

TEMPLATE_TEST_CASE("A safetensors file written for PyTorch loads into the MLP", "[safetensors]",
                   float, double) {
  using Scalar = TestType;
  const std::string suffix = std::is_same_v<Scalar, float> ? "f32" : "f64";
  const hpt_test::Golden golden(golden_path("mlp_classification_" + suffix + ".txt"));
  Mlp<Scalar> model(classification_shape());
  hpt::models::load_model(golden_path("mlp_classification_" + suffix + ".safetensors"), model);
  for (const auto& view : model.parameters()) {
    INFO(view.name);
    const auto& expected = golden["initial." + view.name];
    REQUIRE(expected.shape == view.shape());
    for (Eigen::Index row = 0; row < view.rows; ++row)
      for (Eigen::Index col = 0; col < view.cols; ++col)
        CHECK(static_cast<double>(view.values()(row, col)) ==
              expected.values[static_cast<std::size_t>(row * view.cols + col)]);
  }
  // The loaded model reproduces PyTorch's output (same rule as the golden MLP tests).
  const auto& input = golden["input"];
  Matrix<Scalar> x(5, static_cast<Eigen::Index>(input.shape[0]));
  for (Eigen::Index i = 0; i < x.size(); ++i)
    x(i) = static_cast<Scalar>(input.values[static_cast<std::size_t>(i)]);
  const Matrix<Scalar> output = model.forward(x).transpose();  // (batch, classes) like PyTorch
  const double tolerance = std::is_same_v<Scalar, float> ? 1e-5 : 1e-10;
  for (Eigen::Index i = 0; i < output.rows(); ++i)
    for (Eigen::Index j = 0; j < output.cols(); ++j) {
      const double expected = golden["output"].values[static_cast<std::size_t>(i * 4 + j)];
      CHECK(std::abs(static_cast<double>(output(i, j)) - expected) <=
            tolerance * std::max(1.0, std::abs(expected)));
    }
}

TEST_CASE("hpt-written safetensors files reload exactly", "[safetensors]") {
  ScratchDirectory scratch;
  hpt::Random random(8);
  Mlp<double> model(classification_shape());
  model.initialize(random);
  const auto path = scratch.path / "model.safetensors";
  hpt::models::save_model(path, model, {{"trial", "17"}});

  Mlp<double> copy(classification_shape());
  hpt::models::load_model(path, copy);
  const auto original = model.parameters();
  const auto loaded = copy.parameters();
  for (std::size_t i = 0; i < original.size(); ++i)
    CHECK(original[i].values() == loaded[i].values());

  // The header is padded to 8 bytes and carries the metadata.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  CHECK(length % 8 == 0);
  const auto header = nlohmann::json::parse(bytes.substr(8, length));
  CHECK(header["__metadata__"]["trial"] == "17");
  CHECK(header["__metadata__"]["format"] == "pt");
  CHECK(header["layers.3.weight"]["shape"] == nlohmann::json::array({6, 7}));
  CHECK(header["layers.3.weight"]["dtype"] == "F64");

  // The golden weights written by hpt, for make_mlp_golden.py --verify (run by hand)
  // writes hpt's own file, in float32, with the weights of mlp_classification_f32.safetensors..
  if (const char* export_path = std::getenv("HPT_SAFETENSORS_EXPORT")) {
    Mlp<float> golden_model(classification_shape());
    hpt::models::load_model(golden_path("mlp_classification_f32.safetensors"), golden_model);
    hpt::models::save_model(export_path, golden_model);
  }
}

TEST_CASE("Row-major file data becomes column-major views", "[safetensors]") {
  ScratchDirectory scratch;
  write_bytes(scratch.path / "tiny.safetensors",
              safetensors_bytes("{" + tiny_w + "," + tiny_b + "}", tiny_data));
  Tiny tiny;
  load_safetensors(scratch.path / "tiny.safetensors", tiny.views());
  Matrix<double> expected(2, 3);
  expected << 1, 2, 3, 4, 5, 6;
  CHECK(tiny.weight == expected);
  CHECK(tiny.bias == Vector<double>{{10, 20}});
}

TEST_CASE("dtype conversion only on request", "[safetensors]") {
  ScratchDirectory scratch;
  const auto path = scratch.path / "single.safetensors";
  write_bytes(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}})",
                                      raw<float>({1.5F, 2, 3, 4, 5, 6, 0.1F, 20})));
  CHECK_THAT(load_error(path), Catch::Contains("dtype F32") && Catch::Contains("\"w\""));
  Tiny tiny;
  load_safetensors(path, tiny.views(), SafetensorsOptions{.convert = true});
  CHECK(tiny.weight(0, 0) == 1.5);
  CHECK(tiny.bias(0) == static_cast<double>(0.1F));
}

TEST_CASE("Malformed safetensors files throw clear errors and change nothing", "[safetensors]") {
  ScratchDirectory scratch;
  const auto path = scratch.path / "bad.safetensors";
  auto with_header = [&](const std::string& header, const std::string& data = tiny_data) {
    write_bytes(path, safetensors_bytes(header, data));
    return load_error(path);
  };
  const std::string file_name = path.string();

  CHECK_THAT(load_error(scratch.path / "absent.safetensors"),
             Catch::Contains("absent.safetensors") && Catch::Contains("cannot open"));

  write_bytes(path, std::string("\x10\0\0", 3));
  CHECK_THAT(load_error(path), Catch::Contains(file_name) && Catch::Contains("truncated"));

  write_bytes(path, little_endian_u64(1000) + "{}");
  CHECK_THAT(load_error(path), Catch::Contains("header length 1000") && Catch::Contains("beyond"));

  CHECK_THAT(with_header("{\"w\": {"), Catch::Contains("malformed JSON"));
  CHECK_THAT(with_header("[1, 2]"), Catch::Contains("not an object"));
  CHECK_THAT(with_header(R"({"w":{"dtype":"F64","shape":[2,3]}})"),
             Catch::Contains("\"w\"") && Catch::Contains("data_offsets"));
  CHECK_THAT(
      with_header(R"({"w":{"dtype":"I64","shape":[2,3],"data_offsets":[0,48]},)" + tiny_b + "}"),
      Catch::Contains("unsupported dtype I64"));
  CHECK_THAT(
      with_header(R"({"w":{"dtype":"F64","shape":[2,-3],"data_offsets":[0,48]},)" + tiny_b + "}"),
      Catch::Contains("shape"));

  // Offsets beyond the data (also what a file truncated inside the data looks like).
  CHECK_THAT(with_header("{" + tiny_w + "," + tiny_b + "}", tiny_data.substr(0, 60)),
             Catch::Contains("\"b\"") && Catch::Contains("out of range"));
  CHECK_THAT(
      with_header(R"({"w":{"dtype":"F64","shape":[2,3],"data_offsets":[16,8]},)" + tiny_b + "}"),
      Catch::Contains("out of range"));
  CHECK_THAT(
      with_header(R"({"w":{"dtype":"F64","shape":[2,3],"data_offsets":[0,40]},)" + tiny_b + "}"),
      Catch::Contains("needs 48"));
  CHECK_THAT(with_header(R"({"w":{"dtype":"F64","shape":[2,3],"data_offsets":[0,48]},)"
                         R"("b":{"dtype":"F64","shape":[2],"data_offsets":[40,56]}})"),
             Catch::Contains("overlap") && Catch::Contains("\"w\"") && Catch::Contains("\"b\""));

  CHECK_THAT(
      with_header(R"({"w":{"dtype":"F64","shape":[3,2],"data_offsets":[0,48]},)" + tiny_b + "}"),
      Catch::Contains("\"w\"") && Catch::Contains("shape [3, 2]") &&
          Catch::Contains("expected [2, 3]"));
  CHECK_THAT(
      with_header(R"({"w":{"dtype":"F64","shape":[6],"data_offsets":[0,48]},)" + tiny_b + "}"),
      Catch::Contains("shape [6]"));
  CHECK_THAT(with_header("{" + tiny_w + "}"),
             Catch::Contains("\"b\"") && Catch::Contains("missing"));

  const std::string extra = R"("x":{"dtype":"F64","shape":[1],"data_offsets":[64,72]})";
  CHECK_THAT(
      with_header("{" + tiny_w + "," + tiny_b + "," + extra + "}", tiny_data + raw<double>({9})),
      Catch::Contains("\"x\"") && Catch::Contains("matches no parameter"));
  Tiny tiny;
  load_safetensors(path, tiny.views(), SafetensorsOptions{.allow_extra = true});
  CHECK(tiny.bias(1) == 20);
}
