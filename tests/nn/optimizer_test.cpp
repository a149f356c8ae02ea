#include <hpt/nn/optimizer.hpp>

#include <catch2/catch.hpp>
#include <sstream>
#include <vector>

using hpt::models::Adam;
using hpt::models::ParameterView;
using hpt::models::Sgd;

namespace {

// Two small tensors (a 2x3 matrix and a vector of 3) with gradients that change every step.
struct Toy {
  Eigen::MatrixXd weight = Eigen::MatrixXd::Constant(2, 3, 0.5);
  Eigen::MatrixXd weight_gradient = Eigen::MatrixXd::Zero(2, 3);
  Eigen::VectorXd bias = Eigen::VectorXd::LinSpaced(3, -1, 1);
  Eigen::VectorXd bias_gradient = Eigen::VectorXd::Zero(3);
  std::vector<ParameterView<double>> views() {
    return {hpt::models::view_of("weight", weight, weight_gradient),
            hpt::models::view_of("bias", bias, bias_gradient)};
  }
  void set_gradients(int step) {
    for (Eigen::Index i = 0; i < weight_gradient.size(); ++i)
      weight_gradient(i) = std::sin(1.0 + static_cast<double>(i + 7 * step));
    for (Eigen::Index i = 0; i < bias_gradient.size(); ++i)
      bias_gradient(i) = std::cos(2.0 + static_cast<double>(i + 5 * step));
  }
};

template <class Optimizer>
void run(Optimizer& optimizer, Toy& toy, int first, int last) {
  for (int step = first; step < last; ++step) {
    toy.set_gradients(step);
    optimizer.step(toy.views());
  }
}

}  // namespace

TEST_CASE("SGD's first momentum step uses the gradient as the buffer", "[optimizer]") {
  Toy toy;
  Sgd<double> sgd{.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.01};
  toy.set_gradients(0);
  const Eigen::MatrixXd before = toy.weight;
  const Eigen::MatrixXd direction = toy.weight_gradient + 0.01 * before;
  sgd.step(toy.views());
  CHECK((toy.weight - (before - 0.1 * direction)).cwiseAbs().maxCoeff() < 1e-15);
  REQUIRE(sgd.momentum_buffers.size() == 2);
  CHECK((sgd.momentum_buffers[0] - direction.reshaped()).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("Adam's first step moves each value by about learning_rate", "[optimizer]") {
  Toy toy;
  Adam<double> adam{.learning_rate = 0.01};
  toy.set_gradients(0);
  const Eigen::MatrixXd before = toy.weight;
  adam.step(toy.views());
  CHECK(adam.steps == 1);
  for (Eigen::Index i = 0; i < before.size(); ++i)
    CHECK(toy.weight(i) - before(i) ==
          Approx(toy.weight_gradient(i) > 0 ? -0.01 : 0.01).epsilon(1e-6));
}

TEST_CASE("Optimizer state round trip resumes bit for bit", "[optimizer]") {
  SECTION("SGD") {
    Toy straight, resumed;
    Sgd<double> sgd{.learning_rate = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 1e-3};
    run(sgd, straight, 0, 3);
    std::stringstream saved;
    sgd.write(saved);
    run(sgd, straight, 3, 6);

    Sgd<double> other{.learning_rate = 1.0};
    run(other, resumed, 0, 0);
    Sgd<double> first{
        .learning_rate = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 1e-3};
    run(first, resumed, 0, 3);
    other.read(saved);
    CHECK(other.nesterov);
    CHECK(other.learning_rate == 0.05);
    run(other, resumed, 3, 6);
    CHECK(straight.weight == resumed.weight);
    CHECK(straight.bias == resumed.bias);
  }
  SECTION("Adam") {
    Toy straight, resumed;
    Adam<double> adam{.learning_rate = 0.01, .beta1 = 0.8, .weight_decay = 0.1};
    run(adam, straight, 0, 3);
    std::stringstream saved;
    adam.write(saved);
    run(adam, straight, 3, 6);

    Adam<double> first{.learning_rate = 0.01, .beta1 = 0.8, .weight_decay = 0.1};
    run(first, resumed, 0, 3);
    Adam<double> other;
    other.read(saved);
    CHECK(other.steps == 3);
    CHECK(other.beta1 == 0.8);
    run(other, resumed, 3, 6);
    CHECK(straight.weight == resumed.weight);
    CHECK(straight.bias == resumed.bias);
  }
  SECTION("errors leave the optimizer unchanged") {
    Adam<double> adam{.learning_rate = 0.5};
    std::stringstream empty;
    CHECK_THROWS_AS(adam.read(empty), std::runtime_error);
    CHECK(adam.learning_rate == 0.5);
    Sgd<double> sgd{.learning_rate = 0.1, .momentum = 0.5};
    Toy toy;
    run(sgd, toy, 0, 2);
    std::stringstream saved;
    sgd.write(saved);
    const std::string bytes = saved.str();
    std::stringstream truncated(bytes.substr(0, bytes.size() - 3));
    CHECK_THROWS_WITH(sgd.read(truncated), Catch::Contains("truncated"));
    std::stringstream wrong_type(bytes);
    CHECK_THROWS_AS(adam.read(wrong_type), std::runtime_error);
    std::stringstream wrong_scalar(bytes);
    Sgd<float> single;
    CHECK_THROWS_WITH(single.read(wrong_scalar), Catch::Contains("8-byte"));
  }
}

TEST_CASE("Invalid optimizer settings name the field and value", "[optimizer]") {
  Toy toy;
  auto step_error = [&](auto optimizer) {
    try {
      optimizer.step(toy.views());
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(step_error(Sgd<double>{.learning_rate = 0}), Catch::Contains("learning_rate = 0"));
  CHECK_THAT(step_error(Sgd<double>{.learning_rate = -0.5}),
             Catch::Contains("learning_rate = -0.5"));
  CHECK_THAT(step_error(Sgd<double>{.learning_rate = 0.1, .momentum = -0.1}),
             Catch::Contains("momentum = -0.1"));
  CHECK_THAT(step_error(Sgd<double>{.learning_rate = 0.1, .nesterov = true}),
             Catch::Contains("nesterov"));
  CHECK_THAT(step_error(Sgd<double>{.learning_rate = 0.1, .weight_decay = -1}),
             Catch::Contains("weight_decay = -1"));
  CHECK_THAT(step_error(Adam<double>{.learning_rate = -1}), Catch::Contains("learning_rate = -1"));
  CHECK_THAT(step_error(Adam<double>{.beta1 = 1}), Catch::Contains("beta1 = 1"));
  CHECK_THAT(step_error(Adam<double>{.beta2 = -0.1}), Catch::Contains("beta2 = -0.1"));
  CHECK_THAT(step_error(Adam<double>{.epsilon = -1}), Catch::Contains("epsilon = -1"));
  CHECK_THROWS_AS((hpt::models::StepDecay{.step_size = 0}.rate(1, 0)), std::invalid_argument);
  CHECK_THROWS_AS((hpt::models::CosineAnnealing{.period = 0}.rate(1, 0)), std::invalid_argument);
}

TEST_CASE("Optimizers reject parameters that differ from their state", "[optimizer]") {
  Toy toy;
  Adam<double> adam;
  adam.step(toy.views());
  auto views = toy.views();
  views.pop_back();
  CHECK_THROWS_AS(adam.step(views), std::invalid_argument);
}

TEST_CASE("Schedules and clipping follow their closed forms", "[optimizer]") {
  const hpt::models::StepDecay step{.step_size = 3, .gamma = 0.5};
  CHECK(step.rate(0.8, 0) == 0.8);
  CHECK(step.rate(0.8, 2) == 0.8);
  CHECK(step.rate(0.8, 3) == 0.4);
  CHECK(step.rate(0.8, 7) == 0.2);
  const hpt::models::CosineAnnealing cosine{.period = 10, .minimum = 0.1};
  CHECK(cosine.rate(1.0, 0) == 1.0);
  CHECK(cosine.rate(1.0, 5) == Approx(0.55));
  CHECK(cosine.rate(1.0, 10) == Approx(0.1));

  Toy toy;
  toy.weight_gradient.setConstant(1);  // norm sqrt(6 + 3 * 4) = sqrt(18)
  toy.bias_gradient.setConstant(2);
  const double norm = hpt::models::clip_gradient_norm(toy.views(), 3.0);
  CHECK(norm == Approx(std::sqrt(18.0)));
  CHECK(toy.weight_gradient(0) == Approx(3.0 / (std::sqrt(18.0) + 1e-6)));
  const double after = hpt::models::clip_gradient_norm(toy.views(), 10.0);
  CHECK(after == Approx(3.0).epsilon(1e-6));
  CHECK(toy.weight_gradient(0) == Approx(3.0 / (std::sqrt(18.0) + 1e-6)));  // unchanged
}
