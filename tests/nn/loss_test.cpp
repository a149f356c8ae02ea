#include <hpt/nn/loss.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "finite_difference.hpp"

using hpt_test::numeric_gradient;
using hpt_test::random_matrix;
using hpt_test::relative_error;

TEST_CASE("Softmax cross-entropy gradient matches finite differences", "[loss][gradient]") {
  hpt::Random random(11);
  Eigen::MatrixXd logits = random_matrix(random, 5, 4, -3, 3);
  const std::vector<int> targets{0, 4, 2, 2};
  Eigen::MatrixXd scratch;
  auto loss = [&] { return hpt::models::softmax_cross_entropy(logits, targets, scratch); };
  Eigen::MatrixXd gradient;
  const double value = hpt::models::softmax_cross_entropy(logits, targets, gradient);
  CHECK(value > 0);
  CHECK(relative_error(gradient, numeric_gradient(logits, loss)) < 1e-6);
  // Each column of the gradient sums to zero (softmax minus one-hot, over B).
  CHECK(gradient.colwise().sum().cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("Softmax cross-entropy value, stability and target checks", "[loss]") {
  Eigen::MatrixXd logits(2, 1);
  logits << 0, 0;
  Eigen::MatrixXd gradient;
  CHECK(hpt::models::softmax_cross_entropy(logits, std::vector<int>{1}, gradient) ==
        Approx(std::log(2.0)));
  logits << 1000, -1000;  // would overflow without subtracting the maximum
  const double loss = hpt::models::softmax_cross_entropy(logits, std::vector<int>{1}, gradient);
  CHECK(loss == Approx(2000));
  CHECK(std::isfinite(gradient(0, 0)));
  CHECK_THROWS_AS(hpt::models::softmax_cross_entropy(logits, std::vector<int>{2}, gradient),
                  std::out_of_range);
  CHECK_THROWS_WITH(hpt::models::softmax_cross_entropy(logits, std::vector<int>{-1}, gradient),
                    Catch::Contains("target -1") && Catch::Contains("sample 0"));
  CHECK_THROWS_AS(hpt::models::softmax_cross_entropy(logits, std::vector<int>{0, 1}, gradient),
                  std::invalid_argument);
}

TEST_CASE("Mean squared error gradient matches finite differences", "[loss][gradient]") {
  hpt::Random random(12);
  Eigen::MatrixXd prediction = random_matrix(random, 3, 4);
  const Eigen::MatrixXd target = random_matrix(random, 3, 4);
  Eigen::MatrixXd scratch;
  auto loss = [&] { return hpt::models::mean_squared_error(prediction, target, scratch); };
  Eigen::MatrixXd gradient;
  const double value = hpt::models::mean_squared_error(prediction, target, gradient);
  CHECK(value == Approx((prediction - target).squaredNorm() / 12));
  CHECK(relative_error(gradient, numeric_gradient(prediction, loss)) < 1e-6);
  CHECK_THROWS_AS(hpt::models::mean_squared_error(prediction, target.leftCols(3), gradient),
                  std::invalid_argument);
}

TEST_CASE("Accuracy counts argmax hits, first maximum on ties", "[loss]") {
  Eigen::MatrixXf logits(3, 4);
  logits << 1, 0, 0, 5,  //
      2, 0, 1, 5,        //
      0, 3, 1, 1;
  CHECK(hpt::models::accuracy(logits, std::vector<int>{1, 2, 1, 0}) == 1.0);
  CHECK(hpt::models::accuracy(logits, std::vector<int>{0, 2, 0, 1}) == 0.25);
}
