// Golden tests against PyTorch 1.13 (data from tests/golden/make_mlp_golden.py, which documents
// the modules). Agreement rule: |hpt - torch| <= tolerance * max(|torch|, 1) for every element,
// with tolerance 1e-10 in double and 1e-5 in float. Set HPT_GOLDEN_REPORT=1 to print the largest
// scaled error of each file.

#include <hpt/nn/mlp.hpp>
#include <hpt/nn/optimizer.hpp>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "golden.hpp"

using hpt::models::Activation;
using hpt::models::Matrix;
using hpt::models::Mlp;
using hpt::models::MlpShape;
using hpt::models::ParameterView;
using hpt::models::Task;

namespace {

// Tracks the largest scaled error seen while comparing one golden file.
struct Comparison {
  Comparison(std::string file_name, double tolerance_)
      : file(std::move(file_name)), tolerance(tolerance_) {}
  Comparison(const Comparison&) = delete;
  Comparison& operator=(const Comparison&) = delete;
  std::string file;
  double tolerance;
  double worst = 0;
  std::string worst_name;

  template <class Derived>
  void matrix(const std::string& name, const Eigen::MatrixBase<Derived>& actual,
              const hpt_test::GoldenTensor& expected) {
    // actual is column-major (rows x cols); expected is row-major with the same (rows, cols)
    // unless it is PyTorch's (batch, features), which the caller passes transposed.
    REQUIRE(static_cast<std::size_t>(actual.size()) == expected.size());
    const Eigen::Index rows = actual.rows();
    const Eigen::Index cols = actual.cols();
    for (Eigen::Index i = 0; i < rows; ++i)
      for (Eigen::Index j = 0; j < cols; ++j)
        element(name, static_cast<double>(actual(i, j)),
                expected.values[static_cast<std::size_t>(i * cols + j)]);
  }
  void element(const std::string& name, double actual, double expected) {
    const double scaled = std::abs(actual - expected) / std::max(std::abs(expected), 1.0);
    if (!(scaled <= tolerance)) {
      INFO(file << ": " << name << " is " << actual << ", PyTorch " << expected);
      CHECK(scaled <= tolerance);
    }
    if (scaled > worst || std::isnan(scaled)) {
      worst = scaled;
      worst_name = name;
    }
  }
  ~Comparison() {
    if (std::getenv("HPT_GOLDEN_REPORT") != nullptr)
      std::cout << file << ": largest scaled error " << worst << " (" << worst_name << ")\n";
  }
};

template <class Scalar>
Matrix<Scalar> golden_matrix(const hpt_test::GoldenTensor& tensor, Eigen::Index rows,
                             Eigen::Index cols) {
  REQUIRE(tensor.size() == static_cast<std::size_t>(rows * cols));
  Matrix<Scalar> result(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j)
      result(i, j) = static_cast<Scalar>(tensor.values[static_cast<std::size_t>(i * cols + j)]);
  return result;
}

// PyTorch's (batch, features) row-major tensor is hpt's features x batch column-major matrix.
template <class Scalar>
Matrix<Scalar> golden_batch(const hpt_test::GoldenTensor& tensor) {
  REQUIRE(tensor.shape.size() == 2);
  const auto batch = static_cast<Eigen::Index>(tensor.shape[0]);
  const auto features = static_cast<Eigen::Index>(tensor.shape[1]);
  return golden_matrix<Scalar>(tensor, batch, features).transpose();
}

template <class Scalar>
void load_parameters(const hpt_test::Golden& golden, const std::string& prefix,
                     const std::vector<ParameterView<Scalar>>& views) {
  for (const auto& view : views) {
    const auto& tensor = golden[prefix + view.name];
    REQUIRE(tensor.shape == view.shape());
    view.values() = golden_matrix<Scalar>(tensor, view.rows, view.cols);
  }
}

struct CaseSetup {
  Task task;
  Activation activation;
};

const std::map<std::string, CaseSetup>& cases() {
  static const std::map<std::string, CaseSetup> table{
      {"classification", {Task::classification, Activation::tanh}},
      {"regression", {Task::regression, Activation::relu}},
      {"sigmoid", {Task::classification, Activation::sigmoid}},
      {"linear", {Task::regression, Activation::relu}},
  };
  return table;
}

template <class Scalar>
void check_case(const std::string& name, const std::string& suffix, double tolerance) {
  const std::string file = "mlp_" + name + "_" + suffix + ".txt";
  const hpt_test::Golden golden(std::string(HPT_TEST_DATA_DIR) + "/" + file);
  Comparison compare{file, tolerance};
  const CaseSetup setup = cases().at(name);

  MlpShape shape{.inputs = static_cast<Eigen::Index>(golden["shape.inputs"].values[0]),
                 .outputs = static_cast<Eigen::Index>(golden["shape.outputs"].values[0]),
                 .activation = setup.activation,
                 .task = setup.task};
  for (double units : golden["shape.hidden"].values)
    shape.hidden.push_back(static_cast<Eigen::Index>(units));

  const Matrix<Scalar> input = golden_batch<Scalar>(golden["input"]);
  std::vector<int> labels;
  Matrix<Scalar> regression_targets;
  if (setup.task == Task::classification)
    for (double label : golden["target"].values) labels.push_back(static_cast<int>(label));
  else
    regression_targets = golden_batch<Scalar>(golden["target"]);

  auto fresh_model = [&] {
    Mlp<Scalar> model(shape);
    load_parameters<Scalar>(golden, "initial.", model.parameters());
    return model;
  };
  auto train_step = [&](Mlp<Scalar>& model) {
    return setup.task == Task::classification
               ? model.train_loss_and_gradients(input, labels)
               : model.train_loss_and_gradients(input, regression_targets);
  };

  {
    Mlp<Scalar> model = fresh_model();
    compare.matrix("output", model.forward(input).transpose(), golden["output"]);
    const Scalar loss = train_step(model);
    compare.element("loss", static_cast<double>(loss), golden["loss"].values[0]);
    compare.matrix("output (training)", model.output().transpose(), golden["output"]);
    for (const auto& view : model.parameters())
      compare.matrix("gradient." + view.name, view.gradients(), golden["gradient." + view.name]);
  }

  // The optimizer settings of make_mlp_golden.py (SGD_NESTEROV, SGD_DAMPENED, ADAM).
  auto run = [&](const std::string& run_name, auto optimizer) {
    Mlp<Scalar> model = fresh_model();
    const auto views = model.parameters();
    const auto& losses = golden[run_name + ".losses"];
    for (std::size_t step = 0; step < losses.size(); ++step) {
      const Scalar loss = train_step(model);
      compare.element(run_name + ".losses", static_cast<double>(loss), losses.values[step]);
      optimizer.step(views);
    }
    for (const auto& view : views)
      compare.matrix(run_name + "." + view.name, view.values(), golden[run_name + "." + view.name]);
  };
  run("sgd_nesterov",
      hpt::models::Sgd<Scalar>{
          .learning_rate = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01});
  run("sgd_dampened",
      hpt::models::Sgd<Scalar>{.learning_rate = 0.05, .momentum = 0.5, .dampening = 0.2});
  run("adam", hpt::models::Adam<Scalar>{.learning_rate = 0.01,
                                        .beta1 = 0.9,
                                        .beta2 = 0.99,
                                        .epsilon = 1e-8,
                                        .weight_decay = 0.01});
}

}  // namespace

TEST_CASE("MLP matches PyTorch in double: outputs, loss, gradients, SGD and Adam steps",
          "[mlp][golden]") {
  for (const auto& [name, setup] : cases()) {
    (void)setup;
    check_case<double>(name, "f64", 1e-10);
  }
}

TEST_CASE("MLP matches PyTorch in float: outputs, loss, gradients, SGD and Adam steps",
          "[mlp][golden]") {
  for (const auto& [name, setup] : cases()) {
    (void)setup;
    check_case<float>(name, "f32", 1e-5);
  }
}

TEST_CASE("Schedules match StepLR and CosineAnnealingLR", "[optimizer][golden]") {
  const hpt_test::Golden golden(std::string(HPT_TEST_DATA_DIR) + "/mlp_schedules.txt");
  Comparison compare{"mlp_schedules.txt (schedules)", 1e-10};
  const hpt::models::StepDecay step{.step_size = 3, .gamma = 0.5};
  const hpt::models::CosineAnnealing cosine{.period = 10, .minimum = 0.001};
  for (std::size_t epoch = 0; epoch < golden["step.rate"].size(); ++epoch) {
    const auto e = static_cast<std::int64_t>(epoch);
    compare.element("step.rate", step.rate(0.1, e), golden["step.rate"].values[epoch]);
    compare.element("step.closed_form", step.rate(0.1, e),
                    golden["step.closed_form"].values[epoch]);
    compare.element("cosine.rate", cosine.rate(0.1, e), golden["cosine.rate"].values[epoch]);
    compare.element("cosine.closed_form", cosine.rate(0.1, e),
                    golden["cosine.closed_form"].values[epoch]);
    // The closed forms are evaluated with the same operations as PyTorch's: bit for bit.
    CHECK(step.rate(0.1, e) == golden["step.closed_form"].values[epoch]);
    CHECK(cosine.rate(0.1, e) == golden["cosine.closed_form"].values[epoch]);
  }
}

namespace {
template <class Scalar>
void check_clipping(const std::string& suffix, double tolerance) {
  const hpt_test::Golden golden(std::string(HPT_TEST_DATA_DIR) + "/mlp_schedules.txt");
  for (const std::string case_name : {"clip", "noclip"}) {
    const std::string prefix = case_name + "_" + suffix + ".";
    Comparison compare{"mlp_schedules.txt (" + prefix + ")", tolerance};
    Matrix<Scalar> weight = Matrix<Scalar>::Zero(3, 4);
    Matrix<Scalar> weight_gradient = golden_matrix<Scalar>(golden[prefix + "before0"], 3, 4);
    hpt::models::Vector<Scalar> bias = hpt::models::Vector<Scalar>::Zero(5);
    hpt::models::Vector<Scalar> bias_gradient =
        golden_matrix<Scalar>(golden[prefix + "before1"], 5, 1);
    const std::vector<ParameterView<Scalar>> views{
        hpt::models::view_of("weight", weight, weight_gradient),
        hpt::models::view_of("bias", bias, bias_gradient)};
    const auto max_norm = static_cast<Scalar>(golden[prefix + "max_norm"].values[0]);
    const Scalar norm = hpt::models::clip_gradient_norm(views, max_norm);
    compare.element("norm", static_cast<double>(norm), golden[prefix + "norm"].values[0]);
    compare.matrix("after0", weight_gradient, golden[prefix + "after0"]);
    compare.matrix("after1", bias_gradient, golden[prefix + "after1"]);
  }
}
}  // namespace

TEST_CASE("Gradient clipping matches clip_grad_norm_", "[optimizer][golden]") {
  check_clipping<double>("f64", 1e-10);
  check_clipping<float>("f32", 1e-5);
}
