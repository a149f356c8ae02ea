// Weights exchange with PyTorch's common nn.Sequential MLPs: files that PyTorch wrote
// (tests/golden/make_sequential_golden.py) load through MlpShape::naming or
// SafetensorsOptions::prefix/rename, reproduce PyTorch's outputs, and hpt writes PyTorch's names.
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/safetensors.hpp>
#include <hpt/nn/sequence_model.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "golden.hpp"
#include "scratch_directory.hpp"

using hpt::models::Activation;
using hpt::models::load_model;
using hpt::models::Matrix;
using hpt::models::Mlp;
using hpt::models::MlpLayout;
using hpt::models::MlpNaming;
using hpt::models::MlpShape;
using hpt::models::safetensors_tensors;
using hpt::models::SafetensorsError;
using hpt::models::SafetensorsOptions;
using hpt::models::save_model;

namespace {

using test_support::golden_path;

// Each file's scratch files under its own prefix.
struct ScratchDirectory : test_support::ScratchDirectory {
  ScratchDirectory() : test_support::ScratchDirectory("hpt_sequential_") {}
};

// One module of make_sequential_golden.py and the hpt model that computes the same.
struct Case {
  std::string name;  // the script's case: mlp_<name>_f64.safetensors, <name>.input/.output
  MlpShape shape;
};

std::vector<Case> cases() {
  return {
      {"sequential",  // nn.Sequential(Linear, ReLU, Linear, ReLU, Linear): 0.*, 2.*, 4.*
       MlpShape{.inputs = 5,
                .hidden = {7, 6},
                .outputs = 4,
                .activation = Activation::relu,
                .naming = {.layout = MlpLayout::without_dropout, .prefix = ""}}},
      {"sequential_dropout",  // with Dropout(0.25) after each ReLU: 0.*, 3.*, 6.*
       MlpShape{.inputs = 5,
                .hidden = {7, 6},
                .outputs = 4,
                .activation = Activation::relu,
                .dropout = 0.25,
                .naming = {.layout = MlpLayout::with_dropout, .prefix = ""}}},
      {"net",  // self.net = nn.Sequential(Linear, Tanh, Linear): net.0.*, net.2.*
       MlpShape{.inputs = 4,
                .hidden = {3},
                .outputs = 2,
                .activation = Activation::tanh,
                .naming = {.layout = MlpLayout::without_dropout, .prefix = "net."}}},
  };
}

std::string file_of(const Case& c) {
  return golden_path("mlp_" + c.name + "_f64.safetensors");
}

// PyTorch's (batch, features) tensor as hpt's features x batch matrix: the same bytes.
Matrix<double> as_columns(const hpt_test::GoldenTensor& tensor) {
  Matrix<double> matrix(static_cast<Eigen::Index>(tensor.shape[1]),
                        static_cast<Eigen::Index>(tensor.shape[0]));
  for (Eigen::Index i = 0; i < matrix.size(); ++i)
    matrix(i) = tensor.values[static_cast<std::size_t>(i)];
  return matrix;
}

// |hpt - torch| <= 1e-12 max(1, |torch|) for every output.
void check_output(Mlp<double>& model, const hpt_test::Golden& golden, const std::string& name) {
  const Matrix<double> output = model.forward(as_columns(golden[name + ".input"]));
  const Matrix<double> expected = as_columns(golden[name + ".output"]);
  REQUIRE(output.rows() == expected.rows());
  REQUIRE(output.cols() == expected.cols());
  for (Eigen::Index i = 0; i < output.size(); ++i)
    CHECK(std::abs(output(i) - expected(i)) <= 1e-12 * std::max(1.0, std::abs(expected(i))));
}

std::vector<std::string> names_of(const std::vector<hpt::models::SafetensorsTensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& tensor : tensors) names.push_back(tensor.name);
  return names;
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("PyTorch's nn.Sequential MLPs load with MlpShape::naming and compute PyTorch's outputs",
          "[safetensors][sequential]") {
  const hpt_test::Golden golden(golden_path("mlp_sequential_f64.txt"));
  for (const auto& c : cases()) {
    INFO(c.name);
    Mlp<double> model(c.shape);
    load_model(file_of(c), model);  // strict: every name must match, nothing left over
    check_output(model, golden, c.name);
  }
}

TEST_CASE("MlpNaming gives the state_dict names of each nn.Sequential layout", "[sequential]") {
  const auto names = [](const MlpNaming& naming, std::vector<Eigen::Index> hidden) {
    Mlp<double> model(
        MlpShape{.inputs = 3, .hidden = std::move(hidden), .outputs = 2, .naming = naming});
    std::vector<std::string> result;
    for (const auto& view : model.parameters()) result.push_back(view.name);
    return result;
  };
  CHECK(names({}, {4, 4}) == std::vector<std::string>{"layers.0.weight", "layers.0.bias",
                                                      "layers.3.weight", "layers.3.bias",
                                                      "layers.6.weight", "layers.6.bias"});
  CHECK(names({.layout = MlpLayout::without_dropout, .prefix = ""}, {4, 4}) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});
  CHECK(names({.layout = MlpLayout::with_dropout, .prefix = ""}, {4, 4}) ==
        std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"});
  CHECK(names({.layout = MlpLayout::without_dropout, .prefix = "model.net."}, {}) ==
        std::vector<std::string>{"model.net.0.weight", "model.net.0.bias"});
  CHECK_THROWS_WITH(
      Mlp<double>(MlpShape{.inputs = 1, .outputs = 1, .naming = {.layout = MlpLayout{7}}}),
      Catch::Contains("naming.layout = 7"));
}

TEST_CASE("SafetensorsOptions::prefix and rename map names when loading", "[safetensors]") {
  const hpt_test::Golden golden(golden_path("mlp_sequential_f64.txt"));
  const Case net = cases()[2];

  // The module's attribute as a load option instead of the model's naming.
  MlpShape bare = net.shape;
  bare.naming.prefix = "";
  Mlp<double> by_prefix(bare);
  load_model(file_of(net), by_prefix, SafetensorsOptions{.prefix = "net."});
  check_output(by_prefix, golden, "net");

  // A rename function from hpt's default names (layers.{3k}) to the file's (net.{2k}).
  MlpShape hpt_names = net.shape;
  hpt_names.naming = {};
  Mlp<double> renamed(hpt_names);
  const auto to_file = [](const std::string& name) {
    // "layers.3.weight" -> "2.weight": module 3k of hpt's Sequential is module 2k of the file's.
    const auto first = name.find('.') + 1;
    const auto second = name.find('.', first);
    const int module = std::stoi(name.substr(first, second - first));
    return std::to_string(module / 3 * 2) + name.substr(second);
  };
  load_model(file_of(net), renamed, SafetensorsOptions{.prefix = "net.", .rename = to_file});
  check_output(renamed, golden, "net");

  // Without a mapping the error names the tensor it looked for and the file's names.
  Mlp<double> unmapped(hpt_names);
  CHECK_THROWS_WITH(load_model(file_of(net), unmapped),
                    Catch::Contains("\"layers.0.weight\"") && Catch::Contains("missing") &&
                        Catch::Contains("\"net.0.weight\", \"net.0.bias\", \"net.2.weight\"") &&
                        Catch::Contains("prefix and rename"));
  // A mapped name in a message also names the parameter.
  Mlp<double> wrong(bare);
  CHECK_THROWS_WITH(load_model(file_of(net), wrong, SafetensorsOptions{.prefix = "module."}),
                    Catch::Contains("\"module.0.weight\" (parameter \"0.weight\")"));
}

TEST_CASE("Writing with a chosen layout produces exactly PyTorch's names, shapes and bytes",
          "[safetensors][sequential]") {
  ScratchDirectory scratch;
  const char* export_directory = std::getenv("HPT_SAFETENSORS_SEQUENTIAL_EXPORT");
  for (const auto& c : cases()) {
    INFO(c.name);
    Mlp<double> model(c.shape);
    load_model(file_of(c), model);
    const auto written = scratch.path / (c.name + ".safetensors");
    save_model(written, model);
    const auto expected = safetensors_tensors(file_of(c));
    const auto actual = safetensors_tensors(written);
    CHECK(names_of(actual) == names_of(expected));  // the same names in state_dict order
    const std::string expected_bytes = file_bytes(file_of(c));
    const std::string actual_bytes = file_bytes(written);
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
      CHECK(actual[i].dtype == expected[i].dtype);
      CHECK(actual[i].shape == expected[i].shape);
      CHECK(actual_bytes.substr(actual[i].begin, actual[i].end - actual[i].begin) ==
            expected_bytes.substr(expected[i].begin, expected[i].end - expected[i].begin));
    }

    // A model named the hpt way (e.g. MlpTrainer's) exports to the PyTorch layout through
    // parameters(naming).
    MlpShape default_named = c.shape;
    default_named.naming = {};
    Mlp<double> trained(default_named);
    for (std::size_t i = 0; i < model.parameters().size(); ++i)
      trained.parameters()[i].values() = model.parameters()[i].values();
    const auto exported = scratch.path / (c.name + "_exported.safetensors");
    hpt::models::save_safetensors(exported, trained.parameters(c.shape.naming));
    CHECK(names_of(safetensors_tensors(exported)) == names_of(expected));
    CHECK(file_bytes(exported) == actual_bytes);

    // For make_sequential_golden.py --verify DIRECTORY (run by hand): PyTorch loads these.
    if (export_directory != nullptr)
      save_model(std::filesystem::path(export_directory) / (c.name + ".safetensors"), model);
  }
}

TEST_CASE("Saving and loading with a rename and a prefix round-trips any model", "[safetensors]") {
  ScratchDirectory scratch;
  hpt::models::SequenceModel<double> model(
      {.input = 3, .hidden = 4, .layers = 2, .outputs = 2, .cell = hpt::models::Cell::gru});
  hpt::Random random(5);
  model.initialize(random);
  // A PyTorch module {encoder: {gru, fc}}: rnn.* -> encoder.gru.*, head.* -> encoder.fc.*.
  const SafetensorsOptions options{.prefix = "encoder.", .rename = [](const std::string& name) {
                                     return name.rfind("head.", 0) == 0 ? "fc." + name.substr(5)
                                                                        : "gru." + name.substr(4);
                                   }};
  const auto path = scratch.path / "gru.safetensors";
  save_model(path, model, {}, options);
  CHECK(names_of(safetensors_tensors(path)) ==
        std::vector<std::string>{"encoder.gru.weight_ih_l0", "encoder.gru.weight_hh_l0",
                                 "encoder.gru.bias_ih_l0", "encoder.gru.bias_hh_l0",
                                 "encoder.gru.weight_ih_l1", "encoder.gru.weight_hh_l1",
                                 "encoder.gru.bias_ih_l1", "encoder.gru.bias_hh_l1",
                                 "encoder.fc.weight", "encoder.fc.bias"});
  hpt::models::SequenceModel<double> copy(model.config());
  load_model(path, copy, options);
  for (std::size_t i = 0; i < model.parameters().size(); ++i)
    CHECK(copy.parameters()[i].values() == model.parameters()[i].values());

  // Mappings that give two parameters one name, or an empty or reserved name, are refused.
  const SafetensorsOptions collide{.rename = [](const std::string&) { return std::string("x"); }};
  CHECK_THROWS_WITH(save_model(path, model, {}, collide),
                    Catch::Contains("\"rnn.weight_ih_l0\" and \"rnn.weight_hh_l0\"") &&
                        Catch::Contains("tensor name \"x\""));
  CHECK_THROWS_AS(load_model(path, copy, collide), std::invalid_argument);
  const SafetensorsOptions empty{.rename = [](const std::string&) { return std::string(); }};
  CHECK_THROWS_WITH(load_model(path, copy, empty),
                    Catch::Contains("invalid tensor name \"\"") &&
                        Catch::Contains("parameter \"rnn.weight_ih_l0\""));
}
