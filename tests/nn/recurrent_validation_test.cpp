// Invalid configurations and shapes throw with messages that name the field or tensor; workspaces
// reused across minibatch shapes give the same numbers as a fresh model; copies own their views.
#include "rnn_support.hpp"

#include <catch2/catch.hpp>
#include <hpt/core/random.hpp>
#include <hpt/nn/gru.hpp>
#include <hpt/nn/lstm.hpp>
#include <hpt/nn/sequence_model.hpp>

#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

using Catch::Matchers::Contains;
using hpt::models::Cell;
using hpt::models::Gru;
using hpt::models::Lstm;
using hpt::models::Matrix;
using hpt::models::OutputMode;
using hpt::models::SequenceModel;
using hpt::models::SequenceModelConfig;
using hpt::models::Task;

namespace {
Matrix<double> uniform_matrix(Eigen::Index rows, Eigen::Index cols, hpt::Random& random) {
  Matrix<double> out(rows, cols);
  for (Eigen::Index k = 0; k < out.size(); ++k) out.data()[k] = random.uniform(-1.0, 1.0);
  return out;
}
const SequenceModelConfig valid{.input = 3, .hidden = 4, .layers = 2, .outputs = 5};
}  // namespace

TEST_CASE("SequenceModelConfig rejects invalid fields, naming field and value",
          "[rnn][validation]") {
  auto with = [](auto change) {
    SequenceModelConfig config = valid;
    change(config);
    return config;
  };
  REQUIRE_NOTHROW(SequenceModel<double>(valid));
  REQUIRE_THROWS_WITH(SequenceModel<double>(with([](auto& c) { c.input = 0; })),
                      Contains("input = 0 must be positive"));
  REQUIRE_THROWS_WITH(SequenceModel<double>(with([](auto& c) { c.hidden = -3; })),
                      Contains("hidden = -3 must be positive"));
  REQUIRE_THROWS_WITH(SequenceModel<float>(with([](auto& c) { c.layers = 0; })),
                      Contains("layers = 0 must be positive"));
  REQUIRE_THROWS_WITH(SequenceModel<float>(with([](auto& c) { c.outputs = 0; })),
                      Contains("outputs = 0 must be positive"));
  REQUIRE_THROWS_WITH(SequenceModel<double>(with([](auto& c) { c.cell = static_cast<Cell>(7); })),
                      Contains("cell = 7"));
  REQUIRE_THROWS_WITH(
      SequenceModel<double>(with([](auto& c) { c.output_mode = static_cast<OutputMode>(9); })),
      Contains("output_mode = 9"));
  REQUIRE_THROWS_WITH(SequenceModel<double>(with([](auto& c) { c.task = static_cast<Task>(4); })),
                      Contains("task = 4"));
  REQUIRE_THROWS_WITH(SequenceModel<double>(with([](auto& c) { c.max_gradient_norm = -1; })),
                      Contains("max_gradient_norm = -1"));
  REQUIRE_THROWS_AS(SequenceModel<double>(with([](auto& c) {
                      c.max_gradient_norm = std::numeric_limits<double>::quiet_NaN();
                    })),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(Lstm<double>(0, 4, 1), Contains("Lstm: input must be positive, got 0"));
  REQUIRE_THROWS_WITH(Gru<float>(3, 4, -1), Contains("Gru: layers must be positive, got -1"));
  Lstm<double> lstm(3, 4, 1);
  REQUIRE_THROWS_WITH(lstm.set_chunk_columns(0),
                      Contains("Lstm: chunk_columns must be positive, got 0"));
  Gru<double> gru(3, 4, 1);
  REQUIRE_THROWS_WITH(gru.set_chunk_columns(-3),
                      Contains("Gru: chunk_columns must be positive, got -3"));
  REQUIRE(gru.chunk_columns() == hpt::models::default_chunk_columns);  // unchanged
}

TEST_CASE("Recurrent modules reject mismatched input and state shapes", "[rnn][validation]") {
  Lstm<double> lstm(3, 4, 2);
  Gru<double> gru(3, 4, 2);
  const Matrix<double> input = Matrix<double>::Zero(3, 12);
  REQUIRE_THROWS_AS(lstm.backward(Matrix<double>(), nullptr), std::logic_error);
  REQUIRE_THROWS_WITH(gru.backward(Matrix<double>(), nullptr), Contains("call forward() first"));
  REQUIRE_THROWS_WITH(lstm.forward(Matrix<double>::Zero(2, 12), 3),
                      Contains("input has 2 rows (features), expected 3"));
  REQUIRE_THROWS_WITH(gru.forward(input, 5), Contains("input has 12 columns"));
  REQUIRE_THROWS_WITH(lstm.forward(input, 0), Contains("batch must be positive, got 0"));
  REQUIRE_THROWS_WITH(gru.forward(Matrix<double>::Zero(3, 0), 3), Contains("time >= 1"));
  REQUIRE_THROWS_WITH(lstm.forward(input, 3, Matrix<double>::Zero(4, 3)),
                      Contains("initial_hidden is 4x3, expected 4x6"));
  REQUIRE_THROWS_WITH(lstm.forward(input, 3, Matrix<double>(), Matrix<double>::Zero(5, 6)),
                      Contains("initial_cell is 5x6, expected 4x6"));
  lstm.forward(input, 3);
  gru.forward(input, 3);
  REQUIRE_THROWS_WITH(lstm.backward(Matrix<double>::Zero(4, 11), nullptr),
                      Contains("output_gradient is 4x11, expected 4x12"));
  REQUIRE_THROWS_WITH(gru.backward(Matrix<double>(), nullptr, Matrix<double>::Zero(4, 3)),
                      Contains("final_hidden_gradient is 4x3, expected 4x6"));
}

TEST_CASE("SequenceModel rejects misuse and mismatched targets", "[rnn][validation]") {
  SequenceModel<double> classifier(valid);
  auto regression_config = valid;
  regression_config.task = Task::regression;
  regression_config.output_mode = OutputMode::many_to_many;
  SequenceModel<double> regressor(regression_config);
  const Matrix<double> input = Matrix<double>::Zero(3, 8);  // time 4, batch 2
  const std::vector<int> two_labels{0, 1};
  REQUIRE_THROWS_WITH(classifier.loss(std::span<const int>(two_labels)),
                      Contains("call forward() first"));
  REQUIRE_THROWS_WITH(classifier.backward(), Contains("call loss() first"));
  REQUIRE_THROWS_WITH(classifier.forward(Matrix<double>::Zero(4, 8), 2),
                      Contains("input has 4 rows (features), expected 3"));
  classifier.forward(input, 2);
  regressor.forward(input, 2);
  REQUIRE(classifier.output().rows() == 5);
  REQUIRE(classifier.output().cols() == 2);
  REQUIRE(regressor.output().cols() == 8);
  REQUIRE_THROWS_WITH(classifier.loss(Matrix<double>::Zero(5, 2)),
                      Contains("task is classification"));
  REQUIRE_THROWS_WITH(regressor.loss(std::span<const int>(two_labels)),
                      Contains("task is regression"));
  const std::vector<int> three_labels{0, 1, 2};
  REQUIRE_THROWS_WITH(classifier.loss(std::span<const int>(three_labels)),
                      Contains("3 targets for a batch of 2"));
  const std::vector<int> out_of_range{0, 5};
  REQUIRE_THROWS_AS(classifier.loss(std::span<const int>(out_of_range)), std::out_of_range);
  REQUIRE_THROWS_WITH(regressor.loss(Matrix<double>::Zero(5, 2)), Contains("target is 5x2"));
  REQUIRE_THROWS_WITH(regressor.backward(Matrix<double>::Zero(5, 7), nullptr),
                      Contains("output_gradient is 5x7"));
}

TEST_CASE("Workspaces reused across minibatch shapes give a fresh model's numbers",
          "[rnn][workspace]") {
  for (Cell cell : {Cell::lstm, Cell::gru})
    for (OutputMode mode : {OutputMode::many_to_one, OutputMode::many_to_many}) {
      CAPTURE(static_cast<int>(cell), static_cast<int>(mode));
      const SequenceModelConfig config{.input = 3,
                                       .hidden = 4,
                                       .layers = 2,
                                       .outputs = 2,
                                       .cell = cell,
                                       .output_mode = mode,
                                       .task = Task::regression};
      hpt::Random random(7);
      SequenceModel<double> reused(config);
      reused.initialize(random);
      SequenceModel<double> fresh = reused;  // copies parameters, not workspaces
      REQUIRE(fresh.parameters()[0].value != reused.parameters()[0].value);
      REQUIRE(fresh.parameters()[0].value == (fresh.lstm() != nullptr
                                                  ? fresh.lstm()->layer(0).weight_ih.data()
                                                  : fresh.gru()->layer(0).weight_ih.data()));
      // A large minibatch first, then a smaller and longer one in the grown workspaces.
      const Matrix<double> large = uniform_matrix(3, 6 * 5, random);
      reused.forward(large, 5);
      const Matrix<double> small = uniform_matrix(3, 7 * 2, random);
      const Eigen::Index predictions = mode == OutputMode::many_to_one ? 2 : 14;
      const Matrix<double> targets = uniform_matrix(2, predictions, random);
      const Matrix<double> reused_output = reused.forward(small, 2);
      const double reused_loss = reused.loss(targets);
      Matrix<double> reused_input_gradient;
      reused.backward(&reused_input_gradient);
      const Matrix<double> fresh_output = fresh.forward(small, 2);
      REQUIRE(fresh.loss(targets) == reused_loss);
      Matrix<double> fresh_input_gradient;
      fresh.backward(&fresh_input_gradient);
      REQUIRE(fresh_output == reused_output);
      REQUIRE(fresh_input_gradient == reused_input_gradient);
      for (std::size_t i = 0; i < fresh.parameters().size(); ++i)
        REQUIRE(fresh.parameters()[i].gradients() == reused.parameters()[i].gradients());
    }
}
