// The models' matrix products (include/hpt/linalg/product.hpp) against a plain triple loop in
// long double: every storage order the models use (A B, Aᵀ B, A Bᵀ), column blocks with an outer
// stride, assignment and accumulation, and every size class (1 column, column by column, Eigen's
// GEMM with one block and with several blocks along each dimension).
#include <catch2/catch.hpp>
#include <hpt/core/random.hpp>
#include <hpt/linalg/product.hpp>
#include <hpt/linalg/tensor_view.hpp>

#include <cmath>

using hpt::models::Matrix;
using hpt::models::detail::add_product;
using hpt::models::detail::assign_product;
using hpt::models::detail::ProductWorkspace;

namespace {

template <class Scalar>
Matrix<Scalar> random_matrix(Eigen::Index rows, Eigen::Index cols, hpt::Random& random) {
  Matrix<Scalar> m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = Scalar(random.uniform(-1, 1));
  return m;
}

// start + a * b by definition, with a and b given as plain matrices (already transposed).
template <class Scalar>
Matrix<long double> reference(const Matrix<Scalar>& start, const Matrix<Scalar>& a,
                              const Matrix<Scalar>& b) {
  Matrix<long double> out = start.template cast<long double>();
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < b.cols(); ++j)
      for (Eigen::Index k = 0; k < a.cols(); ++k)
        out(i, j) += static_cast<long double>(a(i, k)) * static_cast<long double>(b(k, j));
  return out;
}

// Largest |got - want| relative to the sum of |a_ik b_kj| (the scale of the rounding error).
template <class Scalar, class Got>
double error(const Got& got, const Matrix<long double>& want, const Matrix<Scalar>& a,
             const Matrix<Scalar>& b) {
  const Matrix<long double> scale =
      (a.cwiseAbs().template cast<long double>() * b.cwiseAbs().template cast<long double>())
          .array() +
      1.0L;
  long double worst = 0;
  for (Eigen::Index i = 0; i < want.rows(); ++i)
    for (Eigen::Index j = 0; j < want.cols(); ++j)
      worst = std::max(worst,
                       std::fabs(static_cast<long double>(got(i, j)) - want(i, j)) / scale(i, j));
  return static_cast<double>(worst);
}

template <class Scalar>
void check_shapes(double tolerance) {
  hpt::Random random(11);
  ProductWorkspace<Scalar> workspace;  // one workspace for every shape, as in a model
  // (rows, depth, cols): one column, column by column, small GEMM, and GEMMs larger than one
  // cache block along rows, depth and columns (Eigen's kc is a few hundred).
  const Eigen::Index shapes[][3] = {{7, 5, 1},      {9, 13, 3},    {16, 8, 5},   {33, 17, 29},
                                    {512, 128, 64}, {70, 900, 40}, {64, 40, 700}};
  for (const auto& shape : shapes) {
    const Eigen::Index rows = shape[0], depth = shape[1], cols = shape[2];
    CAPTURE(rows, depth, cols);
    const Matrix<Scalar> a = random_matrix<Scalar>(rows, depth, random);
    const Matrix<Scalar> b = random_matrix<Scalar>(depth, cols, random);
    const Matrix<Scalar> at = a.transpose();
    const Matrix<Scalar> bt = b.transpose();
    const Matrix<Scalar> start = random_matrix<Scalar>(rows, cols, random);
    const Matrix<Scalar> zero = Matrix<Scalar>::Zero(rows, cols);
    const Matrix<long double> product = reference(zero, a, b);
    const Matrix<long double> sum = reference(start, a, b);

    Matrix<Scalar> out = random_matrix<Scalar>(rows, cols, random);  // overwritten
    assign_product(workspace, out, a, b);
    CHECK(error(out, product, a, b) < tolerance);
    assign_product(workspace, out, at.transpose(), b);
    CHECK(error(out, product, a, b) < tolerance);
    assign_product(workspace, out, a, bt.transpose());
    CHECK(error(out, product, a, b) < tolerance);
    out = start;
    add_product(workspace, out, a, b);
    CHECK(error(out, sum, a, b) < tolerance);
    out = start;
    add_product(workspace, out, at.transpose(), bt.transpose());
    CHECK(error(out, sum, a, b) < tolerance);

    // Column blocks inside larger matrices (outer stride > rows), as the time loops use them.
    Matrix<Scalar> wide_b = random_matrix<Scalar>(depth + 3, cols + 4, random);
    wide_b.block(2, 1, depth, cols) = b;
    Matrix<Scalar> tall_out = random_matrix<Scalar>(rows + 6, cols + 2, random);
    const Matrix<Scalar> untouched = tall_out;
    assign_product(workspace, tall_out.block(2, 1, rows, cols), a, wide_b.block(2, 1, depth, cols));
    CHECK(error(tall_out.block(2, 1, rows, cols), product, a, b) < tolerance);
    tall_out.block(2, 1, rows, cols) = untouched.block(2, 1, rows, cols);
    CHECK(tall_out == untouched);  // nothing outside the block was written
  }
}

// Products through a PackedProduct for several right-hand sides (the steps of a sequence).
template <class Scalar>
void check_packed(double tolerance) {
  using hpt::models::detail::PackedProduct;
  hpt::Random random(5);
  PackedProduct<Scalar> packed;
  // (rows, depth, columns). With this project's machines' caches (1 MiB L2) Eigen splits
  // 900 x 700 along the depth, 5000 x 64 along the rows and 64 x 40 x 700 along the columns
  // (except float with AVX-512); 161 x 644 is W_hh^T of an LSTM with hidden 161, whose blocks
  // start misaligned for AVX-512 floats unless padded; 4 columns are the smallest packed
  // minibatch; 3 and 1 take the matrix-vector path.
  const Eigen::Index shapes[][3] = {{512, 128, 32}, {900, 700, 40}, {5000, 64, 64}, {64, 40, 700},
                                    {161, 644, 8},  {64, 16, 4},    {64, 16, 3},    {64, 16, 1}};
  for (const auto& shape : shapes) {
    const Eigen::Index rows = shape[0], depth = shape[1], cols = shape[2];
    CAPTURE(rows, depth, cols);
    const Matrix<Scalar> a = random_matrix<Scalar>(rows, depth, random);
    const Matrix<Scalar> at = a.transpose();
    const Matrix<Scalar> zero = Matrix<Scalar>::Zero(rows, cols);
    for (bool transposed : {false, true}) {
      CAPTURE(transposed);
      if (transposed)
        packed.prepare(at.transpose(), cols);
      else
        packed.prepare(a, cols);
      const Matrix<Scalar> steps = random_matrix<Scalar>(depth, 2 * cols, random);
      for (Eigen::Index step = 0; step < 2; ++step) {
        const Matrix<Scalar> b = steps.middleCols(step * cols, cols);
        const Matrix<long double> product = reference(zero, a, b);
        const Matrix<Scalar> start = random_matrix<Scalar>(rows, cols, random);
        const Matrix<long double> sum = product + start.template cast<long double>();
        Matrix<Scalar> out = random_matrix<Scalar>(rows, cols, random);
        if (transposed)
          packed.template multiply<false>(out, at.transpose(), steps.middleCols(step * cols, cols));
        else
          packed.template multiply<false>(out, a, steps.middleCols(step * cols, cols));
        CHECK(error(out, product, a, b) < tolerance);
        out = start;
        if (transposed)
          packed.template multiply<true>(out, at.transpose(), b);
        else
          packed.template multiply<true>(out, a, b);
        CHECK(error(out, sum, a, b) < tolerance);
      }
    }
  }
}

}  // namespace

TEST_CASE("Model products equal the definition for every operand layout and size",
          "[models][product]") {
  SECTION("double") {
    check_shapes<double>(1e-14);
  }
  SECTION("float") {
    check_shapes<float>(1e-5);
  }
}

TEST_CASE("Copying a product workspace gives an empty, independent one", "[models][product]") {
  hpt::Random random(2);
  ProductWorkspace<double> workspace;
  const Matrix<double> a = random_matrix<double>(300, 200, random);
  const Matrix<double> b = random_matrix<double>(200, 100, random);
  Matrix<double> out(300, 100);
  assign_product(workspace, out, a, b);
  ProductWorkspace<double> copy = workspace;
  Matrix<double> again(300, 100);
  assign_product(copy, again, a, b);
  CHECK(again == out);  // same kernels and blocks: the same bits
  ProductWorkspace<double> moved = std::move(copy);
  assign_product(moved, again, a, b);
  CHECK(again == out);
}

TEST_CASE("A packed left-hand side gives the definition's products for many right-hand sides",
          "[models][product]") {
  SECTION("double") {
    check_packed<double>(1e-14);
  }
  SECTION("float") {
    check_packed<float>(1e-5);
  }
}

TEST_CASE(
    "A packed product refuses operands that do not match its packing, and a moved-from "
    "one packs again",
    "[models][product]") {
  using hpt::models::detail::PackedProduct;
  hpt::Random random(6);
  const Matrix<double> a = random_matrix<double>(20, 10, random);
  const Matrix<double> b = random_matrix<double>(10, 8, random);
  PackedProduct<double> packed;
  packed.prepare(a, 8);
  Matrix<double> out(20, 8);
#if HPT_MODELS_OWN_GEMM_BUFFERS
  const Matrix<double> wrong_depth = random_matrix<double>(11, 8, random);
  CHECK_THROWS_AS(packed.multiply<false>(out, a, wrong_depth), std::logic_error);
  Matrix<double> wrong_rows(19, 8);
  CHECK_THROWS_AS(packed.multiply<false>(wrong_rows, a, b), std::logic_error);
#endif
  const Matrix<long double> want = reference(Matrix<double>::Zero(20, 8).eval(), a, b);
  PackedProduct<double> moved = std::move(packed);
  moved.multiply<false>(out, a, b);
  CHECK(error(out, want, a, b) < 1e-14);
  packed.multiply<false>(out, a, b);  // not packed any more: Eigen's product, same numbers
  CHECK(error(out, want, a, b) < 1e-14);
}
