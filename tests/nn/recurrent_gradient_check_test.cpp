// Finite-difference checks, in double, of every gradient of Lstm, Gru and SequenceModel: every
// parameter element, every input element and (for the bare modules) the initial states.
#include "rnn_support.hpp"

#include <catch2/catch.hpp>
#include <hpt/core/random.hpp>
#include <hpt/nn/gru.hpp>
#include <hpt/nn/lstm.hpp>
#include <hpt/nn/sequence_model.hpp>

#include <functional>
#include <span>
#include <vector>

using hpt::models::Cell;
using hpt::models::Matrix;
using hpt::models::OutputMode;
using hpt::models::SequenceModel;
using hpt::models::Task;

namespace {

constexpr double step = 1e-5;       // central differences: error ~ step^2 + eps / step
constexpr double tolerance = 1e-6;  // on hpt_test::gradient_relative_error

Matrix<double> uniform_matrix(Eigen::Index rows, Eigen::Index cols, hpt::Random& random) {
  Matrix<double> out(rows, cols);
  for (Eigen::Index k = 0; k < out.size(); ++k) out.data()[k] = random.uniform(-1.0, 1.0);
  return out;
}

// Largest error between `analytic` and central differences of `loss` w.r.t. the `count` values
// at `values` (perturbed in place and restored).
double check_values(double* values, const double* analytic, Eigen::Index count,
                    const std::function<double()>& loss) {
  double worst = 0;
  for (Eigen::Index k = 0; k < count; ++k) {
    const double saved = values[k];
    values[k] = saved + step;
    const double plus = loss();
    values[k] = saved - step;
    const double minus = loss();
    values[k] = saved;
    worst = std::max(worst,
                     hpt_test::gradient_relative_error(analytic[k], (plus - minus) / (2 * step)));
  }
  return worst;
}

// batch 2 runs the products column by column; batch 6 runs Eigen's GEMM with W_hh packed once
// per layer, and chunk_steps > 0 splits the sequence into chunks of that many steps; hidden 6
// makes the dW_hh products of the chunks GEMMs too (more than 4 columns).
template <class Module>
void check_bare_module(Eigen::Index layers, std::uint64_t seed, Eigen::Index batch = 2,
                       Eigen::Index chunk_steps = 0, Eigen::Index hidden = 4) {
  constexpr bool is_lstm = std::is_same_v<Module, hpt::models::Lstm<double>>;
  const Eigen::Index input = 3, time = 3;
  hpt::Random random(seed);
  Module module(input, hidden, layers);
  if (chunk_steps > 0) module.set_chunk_columns(chunk_steps * batch);
  module.initialize(random);
  Matrix<double> x = uniform_matrix(input, time * batch, random);
  Matrix<double> h0 = uniform_matrix(hidden, layers * batch, random);
  Matrix<double> c0 = uniform_matrix(hidden, layers * batch, random);
  const Matrix<double> output_weight = uniform_matrix(hidden, time * batch, random);
  const Matrix<double> hidden_weight = uniform_matrix(hidden, layers * batch, random);
  const Matrix<double> cell_weight = uniform_matrix(hidden, layers * batch, random);
  // loss = sum(output * R) + sum(h_n * S) (+ sum(c_n * U)): its gradients are R, S, U.
  auto loss = [&]() {
    double value = 0;
    if constexpr (is_lstm) {
      value += module.forward(x, batch, h0, c0).cwiseProduct(output_weight).sum();
      value += module.final_cell().cwiseProduct(cell_weight).sum();
    } else {
      value += module.forward(x, batch, h0).cwiseProduct(output_weight).sum();
    }
    return value + module.final_hidden().cwiseProduct(hidden_weight).sum();
  };
  loss();
  Matrix<double> input_gradient;
  if constexpr (is_lstm)
    module.backward(output_weight, &input_gradient, hidden_weight, cell_weight);
  else
    module.backward(output_weight, &input_gradient, hidden_weight);
  std::vector<hpt::models::ParameterView<double>> views;
  module.append_parameters(views);
  std::vector<Matrix<double>> gradients;
  for (const auto& view : views) gradients.emplace_back(view.gradients());
  const Matrix<double> h0_gradient = module.initial_hidden_gradient();
  Matrix<double> c0_gradient;
  if constexpr (is_lstm) c0_gradient = module.initial_cell_gradient();

  for (std::size_t i = 0; i < views.size(); ++i) {
    CAPTURE(views[i].name);
    CHECK(check_values(views[i].value, gradients[i].data(), views[i].size(), loss) < tolerance);
  }
  CHECK(check_values(x.data(), input_gradient.data(), x.size(), loss) < tolerance);
  CHECK(check_values(h0.data(), h0_gradient.data(), h0.size(), loss) < tolerance);
  if constexpr (is_lstm)
    CHECK(check_values(c0.data(), c0_gradient.data(), c0.size(), loss) < tolerance);
}

// dropout > 0: every evaluation draws the same mask (a fresh Random(seed)), so the loss is a
// smooth function of the parameters and finite differences check the masked gradients.
void check_model(Cell cell, Eigen::Index layers, OutputMode mode, Task task, std::uint64_t seed,
                 double dropout = 0) {
  const Eigen::Index input = 3, hidden = 4, outputs = 3, time = 3, batch = 2;
  hpt::Random random(seed);
  SequenceModel<double> model({.input = input,
                               .hidden = hidden,
                               .layers = layers,
                               .outputs = outputs,
                               .cell = cell,
                               .output_mode = mode,
                               .task = task,
                               .dropout = dropout});
  model.initialize(random);
  Matrix<double> x = uniform_matrix(input, time * batch, random);
  const Eigen::Index predictions = mode == OutputMode::many_to_one ? batch : time * batch;
  std::vector<int> classes(static_cast<std::size_t>(predictions));
  for (auto& label : classes) label = static_cast<int>(random.below(outputs));
  const Matrix<double> targets = uniform_matrix(outputs, predictions, random);
  auto loss = [&]() {
    if (dropout > 0) {
      hpt::Random mask_random(seed);
      model.forward(x, batch, mask_random);
    } else {
      model.forward(x, batch);
    }
    return task == Task::classification ? model.loss(std::span<const int>(classes))
                                        : model.loss(targets);
  };
  loss();
  Matrix<double> input_gradient;
  model.backward(&input_gradient);
  std::vector<Matrix<double>> gradients;
  for (const auto& view : model.parameters()) gradients.emplace_back(view.gradients());
  for (std::size_t i = 0; i < model.parameters().size(); ++i) {
    const auto& view = model.parameters()[i];
    CAPTURE(view.name);
    CHECK(check_values(view.value, gradients[i].data(), view.size(), loss) < tolerance);
  }
  CHECK(check_values(x.data(), input_gradient.data(), x.size(), loss) < tolerance);
}

}  // namespace

TEST_CASE("Lstm gradients (parameters, input, h_0, c_0) match finite differences",
          "[rnn][lstm][gradient]") {
  for (Eigen::Index layers : {1, 2}) {
    CAPTURE(layers);
    check_bare_module<hpt::models::Lstm<double>>(layers, 11 + static_cast<std::uint64_t>(layers));
    for (Eigen::Index chunk_steps : {0, 1, 2}) {
      CAPTURE(chunk_steps);
      check_bare_module<hpt::models::Lstm<double>>(layers, 13, 6, chunk_steps, 6);
    }
  }
}

TEST_CASE("Gru gradients (parameters, input, h_0) match finite differences",
          "[rnn][gru][gradient]") {
  for (Eigen::Index layers : {1, 2}) {
    CAPTURE(layers);
    check_bare_module<hpt::models::Gru<double>>(layers, 21 + static_cast<std::uint64_t>(layers));
    for (Eigen::Index chunk_steps : {0, 1, 2}) {
      CAPTURE(chunk_steps);
      check_bare_module<hpt::models::Gru<double>>(layers, 23, 6, chunk_steps, 6);
    }
  }
}

TEST_CASE("SequenceModel gradients match finite differences for every cell, depth, mode and loss",
          "[rnn][model][gradient]") {
  std::uint64_t seed = 100;
  for (Cell cell : {Cell::lstm, Cell::gru})
    for (Eigen::Index layers : {1, 2})
      for (OutputMode mode : {OutputMode::many_to_one, OutputMode::many_to_many})
        for (Task task : {Task::classification, Task::regression}) {
          CAPTURE(static_cast<int>(cell), layers, static_cast<int>(mode), static_cast<int>(task));
          check_model(cell, layers, mode, task, ++seed);
        }
}

TEST_CASE("SequenceModel gradients with dropout on the head's input match finite differences",
          "[rnn][model][gradient]") {
  std::uint64_t seed = 200;
  for (Cell cell : {Cell::lstm, Cell::gru})
    for (OutputMode mode : {OutputMode::many_to_one, OutputMode::many_to_many}) {
      CAPTURE(static_cast<int>(cell), static_cast<int>(mode));
      check_model(cell, 2, mode, Task::classification, ++seed, 0.4);
    }
}

TEST_CASE("SequenceModel dropout: inverted masks in training, none in inference",
          "[rnn][model][dropout]") {
  const Eigen::Index input = 3, hidden = 6, time = 4, batch = 5;
  hpt::Random random(1);
  SequenceModel<double> model({.input = input,
                               .hidden = hidden,
                               .outputs = 2,
                               .output_mode = OutputMode::many_to_many,
                               .dropout = 0.5});
  model.initialize(random);
  const Matrix<double> x = uniform_matrix(input, time * batch, random);
  const Matrix<double> plain = model.forward(x, batch);
  hpt::Random mask_random(7);
  const Matrix<double> trained = model.forward(x, batch, mask_random);
  // Expected: the head on h .* m, m drawn in column-major order: 0 with probability 0.5, else
  // 1 / (1 - 0.5) = 2 (inverted dropout).
  const Matrix<double> states = model.lstm()->forward(x, batch);
  hpt::Random expected_random(7);
  Matrix<double> mask(states.rows(), states.cols());
  for (Eigen::Index k = 0; k < mask.size(); ++k)
    mask(k) = expected_random.uniform() < 0.5 ? 0.0 : 2.0;
  const Matrix<double> expected =
      (model.head().weight * states.cwiseProduct(mask)).colwise() + model.head().bias;
  CHECK((trained - expected).norm() < 1e-12);
  CHECK((trained - plain).norm() > 1e-3);
  CHECK(model.forward(x, batch) == plain);  // inference: no mask
  // Dropout 0: the training forward pass is the inference one.
  SequenceModel<double> no_dropout(
      {.input = input, .hidden = hidden, .outputs = 2, .output_mode = OutputMode::many_to_many});
  hpt::Random init(1);
  no_dropout.initialize(init);
  hpt::Random unused(3);
  const Matrix<double> training_output = no_dropout.forward(x, batch, unused);
  CHECK(training_output == no_dropout.forward(x, batch));
  // train_step() without a Random draws from the model's own source: the same masks as a
  // Random(0) given explicitly.
  hpt::models::Sgd<double> sgd{.learning_rate = 0.1};
  SequenceModel<double> own = model, given = model;
  const std::vector<int> labels(static_cast<std::size_t>(time * batch), 1);
  hpt::Random zero(0);
  const double own_loss = own.train_step(x, batch, std::span<const int>(labels), sgd);
  const double given_loss = given.train_step(x, batch, std::span<const int>(labels), sgd, zero);
  CHECK(own_loss == given_loss);
  model.forward(x, batch);
  const double plain_loss = model.loss(std::span<const int>(labels));
  CHECK(own_loss != plain_loss);
  CHECK_THROWS_WITH(SequenceModel<double>({.input = 1, .hidden = 1, .outputs = 1, .dropout = 1}),
                    Catch::Contains("dropout = 1"));
}
