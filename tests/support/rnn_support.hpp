#pragma once
// Shared by every file of hpt_recurrent_tests and included FIRST, before any Eigen header, so that
// all translation units of the executable see the same Eigen configuration (one definition rule):
//  - EIGEN_RUNTIME_NO_MALLOC lets allocation_test.cpp forbid Eigen heap allocations;
//  - eigen_assert is always on (also in Release builds, where NDEBUG would silence it), so block
//    and product size mistakes abort the tests; a forbidden heap allocation is counted instead of
//    aborting, so that the allocation test can report how many happened.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hpt_test {
/// Heap allocations Eigen attempted while Eigen::internal::set_is_malloc_allowed(false).
inline long& eigen_forbidden_allocations() {
  static long count = 0;
  return count;
}
inline void eigen_assertion_failed(const char* condition, const char* file, int line) {
  if (std::strstr(condition, "heap allocation is forbidden") != nullptr) {
    ++eigen_forbidden_allocations();
    return;
  }
  std::fprintf(stderr, "%s:%d: Eigen assertion failed: %s\n", file, line, condition);
  std::abort();
}
}  // namespace hpt_test

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) \
  ((x) ? static_cast<void>(0) : ::hpt_test::eigen_assertion_failed(#x, __FILE__, __LINE__))

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "golden.hpp"

#ifndef HPT_TEST_DATA_DIR
#error "HPT_TEST_DATA_DIR must be the absolute path of tests/golden"
#endif

namespace hpt_test {

template <class Scalar>
using TestMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// A golden file of tests/golden by name.
inline Golden load_golden(const std::string& name) {
  return Golden(std::string(HPT_TEST_DATA_DIR) + "/" + name);
}

/// A PyTorch parameter (rows, cols) or (rows) as a rows x cols matrix (the golden file is
/// row-major, hpt column-major).
template <class Scalar>
TestMatrix<Scalar> as_parameter(const GoldenTensor& tensor) {
  const auto rows = static_cast<Eigen::Index>(tensor.shape.empty() ? 1 : tensor.shape[0]);
  const auto cols = static_cast<Eigen::Index>(tensor.shape.size() >= 2 ? tensor.shape[1] : 1);
  TestMatrix<Scalar> out(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j)
      out(i, j) = static_cast<Scalar>(tensor.values[static_cast<std::size_t>(i * cols + j)]);
  return out;
}

/// A PyTorch data tensor (..., features), e.g. a sequence (time, batch, features) or a state
/// (layers, batch, hidden), as a features x (everything else) matrix: the same bytes.
template <class Scalar>
TestMatrix<Scalar> as_data(const GoldenTensor& tensor) {
  const auto rows = static_cast<Eigen::Index>(tensor.shape.empty() ? 1 : tensor.shape.back());
  const auto cols = static_cast<Eigen::Index>(tensor.size()) / rows;
  TestMatrix<Scalar> out(rows, cols);
  for (Eigen::Index k = 0; k < out.size(); ++k)
    out.data()[k] = static_cast<Scalar>(tensor.values[static_cast<std::size_t>(k)]);
  return out;
}

/// max over elements of |actual - expected| / max(1, |expected|): the golden comparison rule is
/// that this is <= 1e-10 in double and <= 1e-5 in float.
template <class A, class B>
double max_relative_difference(const Eigen::MatrixBase<A>& actual,
                               const Eigen::MatrixBase<B>& expected) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols()) return INFINITY;
  double worst = 0;
  for (Eigen::Index j = 0; j < actual.cols(); ++j)
    for (Eigen::Index i = 0; i < actual.rows(); ++i) {
      const double a = static_cast<double>(actual(i, j));
      const double b = static_cast<double>(expected(i, j));
      worst = std::max(worst, std::abs(a - b) / std::max(1.0, std::abs(b)));
    }
  return worst;
}

/// Finite-difference rule: |analytic - numeric| / max(|analytic|, |numeric|, 1e-3), so that tiny
/// gradients are compared absolutely (central differences have an absolute error ~1e-10).
inline double gradient_relative_error(double analytic, double numeric) {
  return std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), 1e-3});
}

}  // namespace hpt_test
