#include <hpt/nn/mlp.hpp>
#include <hpt/nn/optimizer.hpp>

#include <catch2/catch.hpp>
#include <vector>

#include "finite_difference.hpp"

using hpt::models::Activation;
using hpt::models::Mlp;
using hpt::models::MlpShape;
using hpt::models::Task;
using hpt_test::numeric_gradient;
using hpt_test::random_matrix;
using hpt_test::relative_error;

namespace {

// Checks every parameter gradient of `model` against central differences of `loss`, which must
// evaluate the training loss with the same dropout masks as the analytic pass.
template <class Loss>
void check_gradients(Mlp<double>& model, const Loss& loss) {
  loss();  // analytic gradients of the current parameters
  std::vector<Eigen::MatrixXd> analytic;
  for (const auto& view : model.parameters()) analytic.emplace_back(view.gradients());
  std::size_t index = 0;
  for (const auto& view : model.parameters()) {
    INFO(view.name);
    auto values = view.values();
    const Eigen::MatrixXd numeric = numeric_gradient(values, [&] { return loss(); });
    CHECK(relative_error(analytic[index], numeric) < 1e-6);
    ++index;
  }
}

}  // namespace

TEST_CASE("MLP gradients match finite differences (dropout off)", "[mlp][gradient]") {
  for (auto activation : {Activation::relu, Activation::tanh, Activation::sigmoid}) {
    INFO(to_string(activation));
    hpt::Random random(21);
    SECTION("classification " + std::string(to_string(activation))) {
      Mlp<double> model(
          MlpShape{.inputs = 4, .hidden = {6, 5}, .outputs = 3, .activation = activation});
      model.initialize(random);
      const Eigen::MatrixXd input = random_matrix(random, 4, 7, -2, 2);
      const std::vector<int> targets{0, 1, 2, 2, 1, 0, 1};
      check_gradients(model, [&] { return model.train_loss_and_gradients(input, targets); });
    }
    SECTION("regression " + std::string(to_string(activation))) {
      Mlp<double> model(MlpShape{.inputs = 3,
                                 .hidden = {5},
                                 .outputs = 2,
                                 .activation = activation,
                                 .task = Task::regression});
      model.initialize(random);
      const Eigen::MatrixXd input = random_matrix(random, 3, 4, -2, 2);
      const Eigen::MatrixXd targets = random_matrix(random, 2, 4);
      check_gradients(model, [&] { return model.train_loss_and_gradients(input, targets); });
    }
  }
}

TEST_CASE("MLP gradients match finite differences with a fixed dropout mask", "[mlp][gradient]") {
  hpt::Random random(22);
  Mlp<double> model(MlpShape{
      .inputs = 4, .hidden = {8, 6}, .outputs = 3, .activation = Activation::tanh, .dropout = 0.3});
  model.initialize(random);
  const Eigen::MatrixXd input = random_matrix(random, 4, 5);
  const std::vector<int> targets{2, 0, 1, 1, 0};
  const hpt::Random dropout_state(99);
  // A copy of the same random state draws the same masks on every evaluation.
  check_gradients(model, [&] {
    hpt::Random dropout = dropout_state;
    return model.train_loss_and_gradients(input, targets, dropout);
  });
}

TEST_CASE("Dropout is inverted and only active in training", "[mlp]") {
  hpt::Random random(23);
  Mlp<float> model(MlpShape{.inputs = 10, .hidden = {200}, .outputs = 2, .dropout = 0.25}, 5);
  model.initialize(random);
  const Eigen::MatrixXf input = random_matrix(random, 10, 50).cast<float>();
  const Eigen::MatrixXf first = model.forward(input);
  CHECK(model.forward(input) == first);  // inference: deterministic, no dropout
  std::vector<int> targets(50, 1);
  model.train_loss_and_gradients(input, targets);
  const auto& mask = model.dropout_mask(0);
  REQUIRE(mask.rows() == 200);
  REQUIRE(mask.cols() == 50);
  const auto dropped = (mask.array() == 0.0F).count();
  const auto kept = (mask.array() == 1.0F / 0.75F).count();
  CHECK(dropped + kept == mask.size());
  CHECK(static_cast<double>(dropped) / static_cast<double>(mask.size()) ==
        Approx(0.25).margin(0.02));
  // The model's own random source is seeded: the same seed gives the same masks.
  Mlp<float> twin(model.shape(), 5);
  const auto twin_views = twin.parameters();
  const auto model_views = model.parameters();
  for (std::size_t i = 0; i < twin_views.size(); ++i)
    twin_views[i].values() = model_views[i].values();
  twin.train_loss_and_gradients(input, targets);
  CHECK(twin.dropout_mask(0) == mask);
}

TEST_CASE("MLP parameter names follow nn.Sequential with Dropout modules", "[mlp]") {
  Mlp<double> model(MlpShape{.inputs = 5, .hidden = {4, 3}, .outputs = 2});
  const auto views = model.parameters();
  std::vector<std::string> names;
  for (const auto& view : views) names.push_back(view.name);
  CHECK(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.3.weight",
                                          "layers.3.bias", "layers.6.weight", "layers.6.bias"});
  CHECK(views[2].shape() == std::vector<std::size_t>{3, 4});
  Mlp<double> no_hidden(MlpShape{.inputs = 5, .outputs = 2});
  CHECK(no_hidden.parameters()[0].name == "layers.0.weight");
}

TEST_CASE("Invalid MLP shapes and targets are rejected", "[mlp]") {
  CHECK_THROWS_WITH(Mlp<double>(MlpShape{.inputs = 0, .outputs = 2}), Catch::Contains("inputs"));
  CHECK_THROWS_WITH(Mlp<double>(MlpShape{.inputs = 2, .hidden = {3, 0}, .outputs = 2}),
                    Catch::Contains("hidden[1]"));
  CHECK_THROWS_WITH(Mlp<double>(MlpShape{.inputs = 2, .outputs = 0}), Catch::Contains("outputs"));
  CHECK_THROWS_WITH(Mlp<double>(MlpShape{.inputs = 2, .outputs = 2, .dropout = 1.0}),
                    Catch::Contains("dropout"));
  CHECK_THROWS_WITH(Mlp<double>(MlpShape{.inputs = 2, .outputs = 2, .dropout = -0.1}),
                    Catch::Contains("dropout"));
  Mlp<double> classifier(MlpShape{.inputs = 2, .hidden = {3}, .outputs = 2});
  const Eigen::MatrixXd input = Eigen::MatrixXd::Ones(2, 3);
  CHECK_THROWS_AS(classifier.train_loss_and_gradients(input, Eigen::MatrixXd::Zero(2, 3)),
                  std::invalid_argument);
  CHECK_THROWS_AS(classifier.forward(Eigen::MatrixXd::Ones(3, 3)), std::invalid_argument);
  CHECK_THROWS_AS(classifier.train_loss_and_gradients(input, std::vector<int>{0, 1, 2}),
                  std::out_of_range);
}

TEST_CASE("MLP training with SGD reduces the loss, also when the batch size changes", "[mlp]") {
  hpt::Random random(24);
  Mlp<float> model(
      MlpShape{.inputs = 2, .hidden = {16}, .outputs = 2, .activation = Activation::tanh});
  model.initialize(random);
  // Two classes separated by the sign of x0 * x1.
  Eigen::MatrixXf input = random_matrix(random, 2, 64).cast<float>();
  std::vector<int> targets;
  for (Eigen::Index j = 0; j < 64; ++j) targets.push_back(input(0, j) * input(1, j) > 0 ? 1 : 0);
  hpt::models::Sgd<float> sgd{.learning_rate = 0.5, .momentum = 0.9};
  const auto views = model.parameters();
  const float initial = model.evaluate_loss(input, targets);
  for (int epoch = 0; epoch < 200; ++epoch) {
    model.train_loss_and_gradients(input.leftCols(48), std::span<const int>(targets).first(48));
    sgd.step(views);
    model.train_loss_and_gradients(input.rightCols(16), std::span<const int>(targets).last(16));
    sgd.step(views);
  }
  CHECK(model.evaluate_loss(input, targets) < 0.5F * initial);
  CHECK(hpt::models::accuracy(model.forward(input), targets) > 0.9);
}
