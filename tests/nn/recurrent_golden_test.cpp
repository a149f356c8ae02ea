// hpt's Lstm, Gru and SequenceModel against PyTorch 1.13 (tests/golden/make_rnn_golden.py): the
// outputs, final states, loss, every gradient, and the parameters after 3 SGD (with and without
// gradient clipping) and 3 Adam steps. Rule: |hpt - torch| <= tol * max(1, |torch|) for every
// element, tol = 1e-10 in double and 1e-5 in float.
#include "rnn_support.hpp"

#include <catch2/catch.hpp>
#include <hpt/nn/gru.hpp>
#include <hpt/nn/lstm.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/nn/sequence_model.hpp>

#include <span>
#include <string>
#include <type_traits>
#include <vector>

using hpt::models::Cell;
using hpt::models::Matrix;
using hpt::models::OutputMode;
using hpt::models::ParameterView;
using hpt::models::SequenceModel;
using hpt::models::Task;
using hpt_test::as_data;
using hpt_test::as_parameter;
using hpt_test::max_relative_difference;

namespace {

template <class Scalar>
constexpr double tolerance = std::is_same_v<Scalar, double> ? 1e-10 : 1e-5;

template <class Scalar>
const char* suffix() {
  return std::is_same_v<Scalar, double> ? "f64" : "f32";
}

// Largest difference seen per dtype, printed at the end for the report.
template <class Scalar>
double& worst_seen() {
  static double worst = 0;
  return worst;
}

template <class Scalar, class A, class B>
void expect_close(const std::string& what, const Eigen::MatrixBase<A>& actual,
                  const Eigen::MatrixBase<B>& expected) {
  const double difference = max_relative_difference(actual, expected);
  worst_seen<Scalar>() = std::max(worst_seen<Scalar>(), difference);
  INFO(what << ": max |a-b|/max(1,|b|) = " << difference);
  CHECK(difference <= tolerance<Scalar>);
}

template <class Scalar>
void load_parameters(const std::vector<ParameterView<Scalar>>& views,
                     const hpt_test::Golden& golden, const std::string& prefix) {
  for (const auto& view : views) {
    const std::string name = view.name.substr(prefix.size());
    const auto value = as_parameter<Scalar>(golden[prefix.empty() ? name : prefix + name]);
    REQUIRE(value.rows() == view.rows);
    REQUIRE(value.cols() == view.cols);
    view.values() = value;
  }
}

Eigen::Index config_value(const hpt_test::Golden& golden, std::size_t index) {
  return static_cast<Eigen::Index>(golden["config"].values.at(index));
}

template <class Scalar>
void check_model_scenario(const std::string& cell_name, const std::string& scenario) {
  const std::string file = "rnn_" + cell_name + "_" + scenario + "_" + suffix<Scalar>() + ".txt";
  INFO("golden file " << file);
  const auto golden = hpt_test::load_golden(file);
  const bool many_to_many = scenario.rfind("m2m", 0) == 0;
  const bool classification = scenario.find("classification") != std::string::npos;
  const hpt::models::SequenceModelConfig config{
      .input = config_value(golden, 0),
      .hidden = config_value(golden, 1),
      .layers = config_value(golden, 2),
      .outputs = config_value(golden, 3),
      .cell = cell_name == "lstm" ? Cell::lstm : Cell::gru,
      .output_mode = many_to_many ? OutputMode::many_to_many : OutputMode::many_to_one,
      .task = classification ? Task::classification : Task::regression};
  const Eigen::Index batch = config_value(golden, 5);
  const Matrix<Scalar> input = as_data<Scalar>(golden["input"]);
  std::vector<int> classes;
  for (double label : golden["targets"].values) classes.push_back(static_cast<int>(label));
  const Matrix<Scalar> targets = as_data<Scalar>(golden["targets"]);

  auto fresh_model = [&](double max_gradient_norm) {
    auto with_clip = config;
    with_clip.max_gradient_norm = max_gradient_norm;
    SequenceModel<Scalar> model(with_clip);
    load_parameters(model.parameters(), golden, "");
    return model;
  };

  SequenceModel<Scalar> model = fresh_model(0);
  expect_close<Scalar>("prediction", model.forward(input, batch),
                       as_data<Scalar>(golden["prediction"]));
  if (auto* lstm = model.lstm()) {
    expect_close<Scalar>("output", lstm->output(), as_data<Scalar>(golden["output"]));
    expect_close<Scalar>("h_n", lstm->final_hidden(), as_data<Scalar>(golden["h_n"]));
    expect_close<Scalar>("c_n", lstm->final_cell(), as_data<Scalar>(golden["c_n"]));
  } else {
    expect_close<Scalar>("output", model.gru()->output(), as_data<Scalar>(golden["output"]));
    expect_close<Scalar>("h_n", model.gru()->final_hidden(), as_data<Scalar>(golden["h_n"]));
  }
  const Scalar loss =
      classification ? model.loss(std::span<const int>(classes)) : model.loss(targets);
  expect_close<Scalar>("loss", Matrix<Scalar>::Constant(1, 1, loss),
                       as_data<Scalar>(golden["loss"]));
  Matrix<Scalar> input_gradient;
  model.backward(&input_gradient);
  for (const auto& view : model.parameters())
    expect_close<Scalar>("grad." + view.name, view.gradients(),
                         as_parameter<Scalar>(golden["grad." + view.name]));
  expect_close<Scalar>("grad.input", input_gradient, as_data<Scalar>(golden["grad.input"]));

  auto check_run = [&](const std::string& run, auto optimizer, double max_gradient_norm) {
    SequenceModel<Scalar> trained = fresh_model(max_gradient_norm);
    Matrix<Scalar> losses(3, 1);
    for (Eigen::Index k = 0; k < 3; ++k)
      losses(k) = classification
                      ? trained.train_step(input, batch, std::span<const int>(classes), optimizer)
                      : trained.train_step(input, batch, targets, optimizer);
    expect_close<Scalar>(run + ".losses", losses, as_data<Scalar>(golden[run + ".losses"]));
    for (const auto& view : trained.parameters())
      expect_close<Scalar>(run + "." + view.name, view.values(),
                           as_parameter<Scalar>(golden[run + "." + view.name]));
  };
  check_run("sgd", hpt::models::Sgd<Scalar>{.learning_rate = 0.1, .momentum = 0.9}, 0);
  check_run("sgd_clip", hpt::models::Sgd<Scalar>{.learning_rate = 0.1, .momentum = 0.9}, 0.05);
  check_run("adam", hpt::models::Adam<Scalar>{.learning_rate = 0.01}, 0);
}

// chunk_steps 0 keeps the module's default (the whole sequence is one chunk at these sizes);
// otherwise the sequence is processed in chunks of that many time steps.
template <class Module>
void check_state_scenario(const std::string& cell_name, Eigen::Index chunk_steps = 0) {
  using Scalar =
      typename std::remove_cvref_t<decltype(std::declval<Module>().layer(0).bias_ih)>::Scalar;
  constexpr bool is_lstm = std::is_same_v<Module, hpt::models::Lstm<Scalar>>;
  const std::string file = "rnn_" + cell_name + "_state_" + suffix<Scalar>() + ".txt";
  INFO("golden file " << file);
  const auto golden = hpt_test::load_golden(file);
  const Eigen::Index batch = config_value(golden, 5);
  Module module(config_value(golden, 0), config_value(golden, 1), config_value(golden, 2));
  if (chunk_steps > 0) module.set_chunk_columns(chunk_steps * batch);
  std::vector<ParameterView<Scalar>> views;
  module.append_parameters(views);
  load_parameters(views, golden, "");
  const Matrix<Scalar> input = as_data<Scalar>(golden["input"]);
  const Matrix<Scalar> h0 = as_data<Scalar>(golden["h_0"]);
  const Matrix<Scalar> output_weight = as_data<Scalar>(golden["output_weight"]);
  const Matrix<Scalar> hidden_weight = as_data<Scalar>(golden["h_n_weight"]);
  Matrix<Scalar> input_gradient;
  if constexpr (is_lstm) {
    const Matrix<Scalar> c0 = as_data<Scalar>(golden["c_0"]);
    const Matrix<Scalar> cell_weight = as_data<Scalar>(golden["c_n_weight"]);
    module.forward(input, batch, h0, c0);
    expect_close<Scalar>("c_n", module.final_cell(), as_data<Scalar>(golden["c_n"]));
    module.backward(output_weight, &input_gradient, hidden_weight, cell_weight);
    expect_close<Scalar>("grad.c_0", module.initial_cell_gradient(),
                         as_data<Scalar>(golden["grad.c_0"]));
  } else {
    module.forward(input, batch, h0);
    module.backward(output_weight, &input_gradient, hidden_weight);
  }
  expect_close<Scalar>("output", module.output(), as_data<Scalar>(golden["output"]));
  expect_close<Scalar>("h_n", module.final_hidden(), as_data<Scalar>(golden["h_n"]));
  for (const auto& view : views)
    expect_close<Scalar>("grad." + view.name, view.gradients(),
                         as_parameter<Scalar>(golden["grad." + view.name]));
  expect_close<Scalar>("grad.input", input_gradient, as_data<Scalar>(golden["grad.input"]));
  expect_close<Scalar>("grad.h_0", module.initial_hidden_gradient(),
                       as_data<Scalar>(golden["grad.h_0"]));
}

const char* const scenarios[] = {"m2o_classification", "m2o_regression", "m2m_classification",
                                 "m2m_regression"};

}  // namespace

TEMPLATE_TEST_CASE("SequenceModel matches PyTorch: outputs, loss, gradients, SGD and Adam steps",
                   "[rnn][golden]", double, float) {
  for (const char* cell : {"lstm", "gru"})
    for (const char* scenario : scenarios) {
      CAPTURE(cell, scenario);
      check_model_scenario<TestType>(cell, scenario);
    }
  WARN("largest relative difference to PyTorch (" << suffix<TestType>()
                                                  << "): " << worst_seen<TestType>());
}

TEMPLATE_TEST_CASE(
    "Lstm and Gru with given initial states match PyTorch, including dL/dh_0, dL/dc_0",
    "[rnn][golden]", double, float) {
  check_state_scenario<hpt::models::Lstm<TestType>>("lstm");
  check_state_scenario<hpt::models::Gru<TestType>>("gru");
  // The same through chunks of 1, 2 and 3 time steps (time 4: the last case ends with a shorter
  // chunk), so that projections and gradients summed chunk by chunk are checked too.
  for (Eigen::Index chunk_steps : {1, 2, 3}) {
    CAPTURE(chunk_steps);
    check_state_scenario<hpt::models::Lstm<TestType>>("lstm", chunk_steps);
    check_state_scenario<hpt::models::Gru<TestType>>("gru", chunk_steps);
  }
  WARN("largest relative difference to PyTorch (" << suffix<TestType>()
                                                  << "): " << worst_seen<TestType>());
}
