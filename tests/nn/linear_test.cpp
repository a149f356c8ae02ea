#include <hpt/nn/activation.hpp>
#include <hpt/nn/linear.hpp>

#include <catch2/catch.hpp>

#include "finite_difference.hpp"

using hpt::models::Linear;
using hpt_test::numeric_gradient;
using hpt_test::random_matrix;
using hpt_test::relative_error;

TEST_CASE("Linear forward is W x + b with PyTorch's (out, in) weight", "[linear]") {
  Linear<double> layer(3, 2);
  layer.weight << 1, 2, 3, 4, 5, 6;
  layer.bias << 0.5, -1;
  Eigen::MatrixXd input(3, 2);
  input << 1, 0, 0, 1, 1, 2;
  const auto& output = layer.forward(input);
  REQUIRE(output.rows() == 2);
  REQUIRE(output.cols() == 2);
  CHECK(output(0, 0) == 4.5);   // 1 + 3 + 0.5
  CHECK(output(1, 0) == 9.0);   // 4 + 6 - 1
  CHECK(output(0, 1) == 8.5);   // 2 + 6 + 0.5
  CHECK(output(1, 1) == 16.0);  // 5 + 12 - 1
}

TEST_CASE("Linear gradients match central finite differences", "[linear][gradient]") {
  hpt::Random random(7);
  Linear<double> layer(5, 4);
  layer.initialize(random);
  Eigen::MatrixXd input = random_matrix(random, 5, 3);
  const Eigen::MatrixXd weights = random_matrix(random, 4, 3);  // L = sum(weights .* y)
  auto loss = [&] {
    Linear<double> copy = layer;
    return copy.forward(input).cwiseProduct(weights).sum();
  };
  layer.forward(input);
  Eigen::MatrixXd input_gradient;
  layer.backward(weights, &input_gradient);

  CHECK(relative_error(layer.weight_gradient, numeric_gradient(layer.weight, loss)) < 1e-6);
  CHECK(relative_error(layer.bias_gradient, numeric_gradient(layer.bias, loss)) < 1e-6);
  CHECK(relative_error(input_gradient, numeric_gradient(input, loss)) < 1e-6);

  // Overwrite, not accumulate: a second backward gives the same gradients.
  const Eigen::MatrixXd first = layer.weight_gradient;
  layer.backward(weights, nullptr);
  CHECK(layer.weight_gradient == first);
}

TEST_CASE("Linear initialisation is U(-1/sqrt(in), 1/sqrt(in)) and names follow PyTorch",
          "[linear]") {
  hpt::Random random(1);
  Linear<float> layer(16, 8);
  layer.initialize(random);
  const float bound = 0.25F;
  CHECK(layer.weight.maxCoeff() < bound);
  CHECK(layer.weight.minCoeff() >= -bound);
  CHECK(layer.bias.maxCoeff() < bound);
  CHECK(layer.bias.minCoeff() >= -bound);
  CHECK(layer.weight.maxCoeff() > 0.2F);
  std::vector<hpt::models::ParameterView<float>> views;
  layer.append_parameters(views, "layers.0.");
  REQUIRE(views.size() == 2);
  CHECK(views[0].name == "layers.0.weight");
  CHECK(views[0].shape() == std::vector<std::size_t>{8, 16});
  CHECK(views[1].name == "layers.0.bias");
  CHECK(views[1].shape() == std::vector<std::size_t>{8});
  CHECK(views[0].value == layer.weight.data());
  CHECK(views[1].gradient == layer.bias_gradient.data());
}

TEST_CASE("Linear rejects inputs of the wrong width", "[linear]") {
  Linear<double> layer(3, 2);
  CHECK_THROWS_AS(layer.forward(Eigen::MatrixXd::Zero(4, 2)), std::invalid_argument);
  CHECK_THROWS_AS(Linear<double>(0, 2), std::invalid_argument);
  layer.forward(Eigen::MatrixXd::Zero(3, 2));
  CHECK_THROWS_AS(layer.backward(Eigen::MatrixXd::Zero(2, 3), nullptr), std::invalid_argument);
}

TEST_CASE("Activation derivatives match central finite differences", "[activation][gradient]") {
  using hpt::models::Activation;
  hpt::Random random(3);
  for (auto activation : {Activation::relu, Activation::tanh, Activation::sigmoid}) {
    INFO(to_string(activation));
    Eigen::MatrixXd input = random_matrix(random, 4, 5, -3, 3);
    const Eigen::MatrixXd weights = random_matrix(random, 4, 5);
    auto loss = [&] {
      Eigen::MatrixXd output;
      hpt::models::activate<double>(activation, input, output);
      return output.cwiseProduct(weights).sum();
    };
    Eigen::MatrixXd output;
    hpt::models::activate<double>(activation, input, output);
    Eigen::MatrixXd gradient = weights;
    hpt::models::multiply_by_derivative(activation, output, gradient);
    CHECK(relative_error(gradient, numeric_gradient(input, loss)) < 1e-6);
  }
}

TEST_CASE("Activation values, names and parsing", "[activation]") {
  using hpt::models::Activation;
  Eigen::MatrixXd values(1, 3);
  values << -1000, 0, 2;
  Eigen::MatrixXd copy = values;
  hpt::models::activate_in_place(Activation::relu, copy);
  CHECK(copy(0, 0) == 0);
  CHECK(copy(0, 2) == 2);
  copy = values;
  hpt::models::activate_in_place(Activation::sigmoid, copy);
  CHECK(copy(0, 0) == 0);  // no NaN for very negative inputs
  CHECK(copy(0, 1) == 0.5);
  copy = values;
  hpt::models::activate_in_place(Activation::tanh, copy.block(0, 1, 1, 2));
  CHECK(copy(0, 0) == -1000);  // only the block changed
  CHECK(copy(0, 2) == Approx(std::tanh(2.0)));
  for (auto activation : {Activation::relu, Activation::tanh, Activation::sigmoid})
    CHECK(hpt::models::parse_activation(to_string(activation)) == activation);
  CHECK_THROWS_WITH(hpt::models::parse_activation("gelu"), Catch::Contains("\"gelu\""));
}
