#pragma once
// Central finite differences for the gradient checks of tests/models: each value is moved by
// +-step (step = 1e-5 * max(1, |value|)) and (L(+) - L(-)) / (2 step) is compared with the
// analytic gradient. The error is measured for a whole tensor as
// ||analytic - numeric|| / max(||analytic||, ||numeric||, 1e-12), which must be < 1e-6 in double.

#include <hpt/core/random.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <functional>

namespace hpt_test {

/// Numeric gradient of loss() with respect to every element of `values` (modified and restored).
template <class Derived>
Eigen::MatrixXd numeric_gradient(Eigen::MatrixBase<Derived>& values,
                                 const std::function<double()>& loss) {
  Eigen::MatrixXd gradient(values.rows(), values.cols());
  for (Eigen::Index col = 0; col < values.cols(); ++col)
    for (Eigen::Index row = 0; row < values.rows(); ++row) {
      const double original = values(row, col);
      const double step = 1e-5 * std::max(1.0, std::abs(original));
      values(row, col) = original + step;
      const double plus = loss();
      values(row, col) = original - step;
      const double minus = loss();
      values(row, col) = original;
      gradient(row, col) = (plus - minus) / (2 * step);
    }
  return gradient;
}

template <class A, class B>
double relative_error(const Eigen::MatrixBase<A>& analytic, const Eigen::MatrixBase<B>& numeric) {
  const double scale = std::max({analytic.norm(), numeric.norm(), 1e-12});
  return (analytic - numeric).norm() / scale;
}

/// A matrix of uniform values in [low, high) from hpt::Random.
inline Eigen::MatrixXd random_matrix(hpt::Random& random, Eigen::Index rows, Eigen::Index cols,
                                     double low = -1, double high = 1) {
  Eigen::MatrixXd result(rows, cols);
  for (Eigen::Index i = 0; i < result.size(); ++i) result(i) = random.uniform(low, high);
  return result;
}

}  // namespace hpt_test
