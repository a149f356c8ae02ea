#pragma once
/// @file product.hpp
/// @brief Matrix products for the models: no heap allocation once warmed up, and fast for
/// minibatches of 2 to 4.

#include <Eigen/Core>
#include <type_traits>

/// 1 when hpt runs Eigen's matrix-product kernels itself with packing buffers that persist between
/// calls (Eigen 3.4, not delegated to a BLAS); 0 when it falls back to Eigen's product
/// expressions, which allocate their packing buffers on the heap for large products.
#if !defined(HPT_MODELS_OWN_GEMM_BUFFERS)
#if EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4 && !defined(EIGEN_USE_BLAS)
#define HPT_MODELS_OWN_GEMM_BUFFERS 1
#else
#define HPT_MODELS_OWN_GEMM_BUFFERS 0
#endif
#endif

namespace hpt::models::detail {

/// Right-hand sides with at most this many columns are multiplied column by column. Eigen's
/// general product packs the whole left-hand matrix (a weight) on every call; for 2 to 4
/// columns that packing costs more than the arithmetic, and a matrix-vector product per column
/// (which packs nothing) is up to twice as fast: 256x784 times 784x2 takes 118 us as two
/// products against 198 us as one, 512x128 times 128x2 18 us against 34 us (portable build,
/// this project's 2-core Xeon). From 8 columns on the general product wins.
inline constexpr Eigen::Index column_by_column_limit = 4;

/// @brief Scratch space for the products of one model: the packing buffers of Eigen's GEMM.
///
/// Eigen's `dst.noalias() = a * b` packs blocks of both operands into buffers it places on the
/// stack up to EIGEN_STACK_ALLOCATION_LIMIT (128 KiB) and on the heap above, at every call. This
/// workspace keeps those buffers instead: they grow during the first steps (one allocation per
/// new largest block) and are reused afterwards, so that a steady-state training step allocates
/// nothing. The numbers are Eigen's own: the same kernels with the same block sizes.
///
/// Not shared between threads (each model owns one). A copy starts empty: it is scratch, not
/// state. With Eigen's own threads (OpenMP, Eigen::nbThreads() > 1) the product is Eigen's
/// parallel one, whose per-thread buffers Eigen allocates.
template <class Scalar>
class ProductWorkspace {
 public:
  ProductWorkspace() = default;
  ProductWorkspace(const ProductWorkspace&) noexcept {}
  ProductWorkspace& operator=(const ProductWorkspace&) noexcept { return *this; }
  ProductWorkspace(ProductWorkspace&&) noexcept = default;
  ProductWorkspace& operator=(ProductWorkspace&&) noexcept = default;
  ~ProductWorkspace() = default;

  /// @brief dst = lhs * rhs (Accumulate false) or dst += lhs * rhs (true). `dst` is column-major
  /// and aliases neither operand; every operand has unit inner stride (plain matrices, column
  /// blocks, Refs, and transposes of those).
  template <bool Accumulate, class Destination, class Lhs, class Rhs>
  void multiply(Destination& dst, const Lhs& lhs, const Rhs& rhs) {
    const Eigen::Index columns = rhs.cols();
    if (columns >= 1 && columns <= column_by_column_limit) {
      for (Eigen::Index j = 0; j < columns; ++j) {
        if constexpr (Accumulate)
          dst.col(j).noalias() += lhs * rhs.col(j);
        else
          dst.col(j).noalias() = lhs * rhs.col(j);
      }
      return;
    }
#if HPT_MODELS_OWN_GEMM_BUFFERS
#ifdef EIGEN_HAS_OPENMP
    if (Eigen::nbThreads() > 1) {
      expression_product<Accumulate>(dst, lhs, rhs);
      return;
    }
#endif
    general_product<Accumulate>(dst, lhs, rhs);
#else
    expression_product<Accumulate>(dst, lhs, rhs);
#endif
  }

 private:
  template <bool Accumulate, class Destination, class Lhs, class Rhs>
  static void expression_product(Destination& dst, const Lhs& lhs, const Rhs& rhs) {
    if constexpr (Accumulate)
      dst.noalias() += lhs * rhs;
    else
      dst.noalias() = lhs * rhs;
  }

#if HPT_MODELS_OWN_GEMM_BUFFERS
  // Eigen's level3_blocking with its buffers pointing into this workspace's storage.
  class Blocking : public Eigen::internal::level3_blocking<Scalar, Scalar> {
   public:
    Blocking(Eigen::Index kc, Eigen::Index mc, Eigen::Index nc, Scalar* block_a, Scalar* block_b) {
      this->m_kc = kc;
      this->m_mc = mc;
      this->m_nc = nc;
      this->m_blockA = block_a;
      this->m_blockB = block_b;
    }
  };

  template <class Operand>
  static constexpr int storage_order() {
    static_assert(Operand::Flags & Eigen::DirectAccessBit,
                  "hpt::models::detail::ProductWorkspace: operands must be stored matrices");
    static_assert(Operand::InnerStrideAtCompileTime == 1,
                  "hpt::models::detail::ProductWorkspace: operands need unit inner stride");
    return (Operand::Flags & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor;
  }

  static void grow(Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& buffer, Eigen::Index size) {
    if (buffer.size() < size) buffer.resize(size);
  }

  // What Eigen's dense GEMM does for one thread (GeneralMatrixMatrix.h, Eigen 3.4), with the
  // packing buffers supplied.
  template <bool Accumulate, class Destination, class Lhs, class Rhs>
  void general_product(Destination& dst, const Lhs& lhs, const Rhs& rhs) {
    using Dst = std::remove_cvref_t<Destination>;
    static_assert(storage_order<Dst>() == Eigen::ColMajor,
                  "hpt::models::detail::ProductWorkspace: the destination must be column-major");
    if constexpr (!Accumulate) dst.setZero();
    const Eigen::Index rows = dst.rows();
    const Eigen::Index cols = dst.cols();
    const Eigen::Index depth = lhs.cols();
    if (rows == 0 || cols == 0 || depth == 0) return;
    Eigen::Index kc = depth;
    Eigen::Index mc = rows;
    Eigen::Index nc = cols;
    Eigen::internal::computeProductBlockingSizes<Scalar, Scalar, 1, Eigen::Index>(kc, mc, nc, 1);
    grow(packed_lhs_, kc * mc);
    grow(packed_rhs_, kc * nc);
    Blocking blocking(kc, mc, nc, packed_lhs_.data(), packed_rhs_.data());
    Eigen::internal::general_matrix_matrix_product<
        Eigen::Index, Scalar, storage_order<Lhs>(), false, Scalar, storage_order<Rhs>(), false,
        Eigen::ColMajor, 1>::run(rows, cols, depth, lhs.data(), lhs.outerStride(), rhs.data(),
                                 rhs.outerStride(), dst.data(), 1, dst.outerStride(), Scalar(1),
                                 blocking);
  }

  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> packed_lhs_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> packed_rhs_;
#endif
};

/// dst = lhs * rhs, for dst not aliasing lhs or rhs.
template <class Scalar, class Destination, class Lhs, class Rhs>
void assign_product(ProductWorkspace<Scalar>& workspace, Destination&& dst, const Lhs& lhs,
                    const Rhs& rhs) {
  workspace.template multiply<false>(dst, lhs, rhs);
}

/// dst += lhs * rhs, for dst not aliasing lhs or rhs.
template <class Scalar, class Destination, class Lhs, class Rhs>
void add_product(ProductWorkspace<Scalar>& workspace, Destination&& dst, const Lhs& lhs,
                 const Rhs& rhs) {
  workspace.template multiply<true>(dst, lhs, rhs);
}

}  // namespace hpt::models::detail
