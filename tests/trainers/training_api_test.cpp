// Mlp and SequenceModel train through the same API: train_step(input, [batch,] targets,
// optimizer[, random]) and train_loss_and_gradients(input, [batch,] targets[, random]), each
// equal bit for bit to the hand-written sequence it replaces.
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/nn/sequence_model.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "finite_difference.hpp"

using hpt::models::Activation;
using hpt::models::Adam;
using hpt::models::Cell;
using hpt::models::clip_gradient_norm;
using hpt::models::Matrix;
using hpt::models::Mlp;
using hpt::models::MlpShape;
using hpt::models::ParameterView;
using hpt::models::SequenceModel;
using hpt::models::Sgd;
using hpt::models::Task;
using hpt_test::random_matrix;

namespace {

template <class Scalar>
std::vector<Matrix<Scalar>> values_of(const std::vector<ParameterView<Scalar>>& views) {
  std::vector<Matrix<Scalar>> values;
  for (const auto& view : views) values.emplace_back(view.values());
  return values;
}

// Steps through the common API, written once for both models: `input` is (x) for an Mlp and
// (x, batch) for a SequenceModel.
template <class Model, class Optimizer, class Targets, class... Input>
std::vector<double> train_steps(Model& model, Optimizer optimizer, int steps,
                                const Targets& targets, const Input&... input) {
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step)
    losses.push_back(static_cast<double>(model.train_step(input..., targets, optimizer)));
  return losses;
}

}  // namespace

TEST_CASE("Mlp::train_step is train_loss_and_gradients, clipping and optimizer.step, bit for bit",
          "[mlp][training_api]") {
  hpt::Random random(31);
  const MlpShape shape{.inputs = 4,
                       .hidden = {6, 5},
                       .outputs = 3,
                       .activation = Activation::tanh,
                       .dropout = 0.3,
                       .max_gradient_norm = 0.5};
  Mlp<double> model(shape, /*dropout_seed=*/9);
  model.initialize(random);
  const Matrix<double> x = random_matrix(random, 4, 7);
  const std::vector<int> labels{0, 1, 2, 2, 1, 0, 1};

  // The hand-written sequence of the old API.
  Mlp<double> by_hand = model;
  Sgd<double> sgd_by_hand{.learning_rate = 0.1, .momentum = 0.9};
  std::vector<double> losses_by_hand;
  for (int step = 0; step < 4; ++step) {
    losses_by_hand.push_back(by_hand.train_loss_and_gradients(x, labels));
    clip_gradient_norm(by_hand.parameters(), 0.5);
    sgd_by_hand.step(by_hand.parameters());
  }
  Mlp<double> common = model;
  const auto losses = train_steps(common, Sgd<double>{.learning_rate = 0.1, .momentum = 0.9}, 4,
                                  std::span<const int>(labels), x);
  CHECK(losses == losses_by_hand);
  CHECK(values_of(common.parameters()) == values_of(by_hand.parameters()));
  CHECK(values_of(common.parameters()) != values_of(model.parameters()));  // it did train

  // With a caller's random source, and regression with Adam.
  Mlp<double> given = model, given_by_hand = model;
  hpt::Random dropout_a(4), dropout_b(4);
  Adam<double> adam_a{.learning_rate = 0.01}, adam_b{.learning_rate = 0.01};
  const double given_loss = given.train_step(x, std::span<const int>(labels), adam_a, dropout_a);
  const double given_loss_by_hand = given_by_hand.train_loss_and_gradients(x, labels, dropout_b);
  clip_gradient_norm(given_by_hand.parameters(), 0.5);
  adam_b.step(given_by_hand.parameters());
  CHECK(given_loss == given_loss_by_hand);
  CHECK(values_of(given.parameters()) == values_of(given_by_hand.parameters()));
  CHECK(dropout_a.uniform() == dropout_b.uniform());  // both drew the same masks

  Mlp<double> regressor(
      MlpShape{.inputs = 4, .hidden = {5}, .outputs = 2, .task = Task::regression});
  regressor.initialize(random);
  const Matrix<double> targets = random_matrix(random, 2, 7);
  Mlp<double> regressor_by_hand = regressor;
  Adam<double> adam{.learning_rate = 0.01, .weight_decay = 0.01};
  std::vector<double> regression_by_hand;
  for (int step = 0; step < 3; ++step) {
    regression_by_hand.push_back(regressor_by_hand.train_loss_and_gradients(x, targets));
    adam.step(regressor_by_hand.parameters());  // no clipping: max_gradient_norm is 0
  }
  CHECK(train_steps(regressor, Adam<double>{.learning_rate = 0.01, .weight_decay = 0.01}, 3,
                    targets, x) == regression_by_hand);
  CHECK(values_of(regressor.parameters()) == values_of(regressor_by_hand.parameters()));
}

TEST_CASE("SequenceModel::train_loss_and_gradients is forward, loss and backward, bit for bit",
          "[rnn][training_api]") {
  for (const Cell cell : {Cell::lstm, Cell::gru}) {
    CAPTURE(static_cast<int>(cell));
    hpt::Random random(32);
    SequenceModel<double> model({.input = 3,
                                 .hidden = 5,
                                 .layers = 2,
                                 .outputs = 3,
                                 .cell = cell,
                                 .max_gradient_norm = 0.5,
                                 .dropout = 0.2});
    model.initialize(random);
    const Eigen::Index time = 4, batch = 3;
    const Matrix<double> x = random_matrix(random, 3, time * batch);
    const std::vector<int> labels{2, 0, 1};

    // train_loss_and_gradients == training forward + loss + backward (same random state).
    SequenceModel<double> pieces = model, whole = model;
    hpt::Random random_a(8), random_b(8);
    pieces.forward(x, batch, random_a);
    const double loss_pieces = pieces.loss(std::span<const int>(labels));
    pieces.backward();
    const double loss_whole = whole.train_loss_and_gradients(x, batch, labels, random_b);
    CHECK(loss_whole == loss_pieces);
    for (std::size_t i = 0; i < model.parameters().size(); ++i)
      CHECK(whole.parameters()[i].gradients() == pieces.parameters()[i].gradients());

    // train_step == train_loss_and_gradients + clipping + optimizer.step, the Mlp's sequence.
    SequenceModel<double> by_hand = model, common = model;
    Sgd<double> sgd{.learning_rate = 0.1, .momentum = 0.9};
    std::vector<double> losses_by_hand;
    for (int step = 0; step < 3; ++step) {
      losses_by_hand.push_back(by_hand.train_loss_and_gradients(x, batch, labels));
      clip_gradient_norm(by_hand.parameters(), 0.5);
      sgd.step(by_hand.parameters());
    }
    CHECK(train_steps(common, Sgd<double>{.learning_rate = 0.1, .momentum = 0.9}, 3,
                      std::span<const int>(labels), x, batch) == losses_by_hand);
    CHECK(values_of(common.parameters()) == values_of(by_hand.parameters()));
  }
}

TEST_CASE("Mlp keeps its parameter views: copies get their own, moves keep them valid",
          "[mlp][training_api]") {
  hpt::Random random(33);
  Mlp<float> model(MlpShape{.inputs = 3, .hidden = {4}, .outputs = 2});
  model.initialize(random);
  CHECK(model.parameters().data() == model.parameters().data());  // made once, not per call
  CHECK(model.parameters()[0].value == model.layers()[0].weight.data());

  Mlp<float> copy = model;
  CHECK(copy.parameters()[0].value == copy.layers()[0].weight.data());
  CHECK(copy.parameters()[0].name == "layers.0.weight");
  const Matrix<float> x = random_matrix(random, 3, 5).cast<float>();
  const std::vector<int> labels{0, 1, 1, 0, 1};
  Sgd<float> sgd{.learning_rate = 0.5};
  copy.train_step(x, std::span<const int>(labels), sgd);
  CHECK(copy.layers()[0].weight != model.layers()[0].weight);  // the original is untouched

  Mlp<float> assigned(MlpShape{.inputs = 1, .outputs = 1});
  assigned = copy;
  CHECK(assigned.parameters()[0].value == assigned.layers()[0].weight.data());
  CHECK(assigned.parameters().size() == 4);

  const float* weight = copy.layers()[0].weight.data();
  Mlp<float> moved = std::move(copy);
  CHECK(moved.parameters()[0].value == weight);
  CHECK(moved.layers()[0].weight.data() == weight);
}

TEST_CASE("MlpShape::max_gradient_norm is validated and clips in train_step",
          "[mlp][training_api]") {
  CHECK_THROWS_WITH(Mlp<double>(MlpShape{.inputs = 1, .outputs = 1, .max_gradient_norm = -1}),
                    Catch::Contains("max_gradient_norm = -1"));
  CHECK_THROWS_WITH(
      Mlp<double>(MlpShape{.inputs = 1, .outputs = 1, .max_gradient_norm = std::nan("")}),
      Catch::Contains("max_gradient_norm = nan"));
  // A tiny maximum norm: the update is learning_rate * max_norm in norm (one SGD step from 0
  // momentum), far smaller than without clipping.
  hpt::Random random(34);
  Mlp<double> clipped(MlpShape{.inputs = 2, .outputs = 2, .max_gradient_norm = 1e-3});
  clipped.initialize(random);
  Mlp<double> plain = clipped;
  const Matrix<double> x = random_matrix(random, 2, 4, -3, 3);
  const std::vector<int> labels{0, 1, 1, 0};
  const auto before = values_of(clipped.parameters());
  Sgd<double> sgd_clipped{.learning_rate = 1}, sgd_plain{.learning_rate = 1};
  clipped.train_step(x, std::span<const int>(labels), sgd_clipped);
  plain.train_loss_and_gradients(x, labels);
  const double gradient_norm = clip_gradient_norm(plain.parameters(), 1e300);
  double squared_change = 0;
  for (std::size_t i = 0; i < before.size(); ++i)
    squared_change += (values_of(clipped.parameters())[i] - before[i]).squaredNorm();
  REQUIRE(gradient_norm > 1e-2);
  CHECK(std::sqrt(squared_change) == Approx(1e-3 * gradient_norm / (gradient_norm + 1e-6)));
}
