#pragma once
/// @file product.hpp
/// @brief Matrix products for the models: no heap allocation once warmed up, and fast for
/// minibatches of 2 to 4.

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>

/// 1 when hpt runs Eigen's matrix-product kernels itself with packing buffers that persist between
/// calls (Eigen 3.4.x releases, not delegated to a BLAS); 0 when it falls back to Eigen's product
/// expressions, which allocate their packing buffers on the heap for large products. It changes
/// the layout of the models' classes: define it (if at all) the same in every translation unit.
#if !defined(HPT_MODELS_OWN_GEMM_BUFFERS)
#if EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4 && EIGEN_MINOR_VERSION < 90 && \
    !defined(EIGEN_USE_BLAS)
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

/// Right-hand sides with at least this many columns use the packed left-hand side of a
/// PackedProduct. Without the repacking, Eigen's kernel beats matrix-vector products from 4
/// columns on (LSTM training at minibatch 4: 5,277 against 3,357 samples/s, native build), but
/// not at 2 (3,070 against 3,287), where the kernel's 4-column micro-panels run half empty.
inline constexpr Eigen::Index packed_column_minimum = 4;

#if HPT_MODELS_OWN_GEMM_BUFFERS
/// Eigen's storage order of a product operand, which must be a stored matrix with unit inner
/// stride (a plain matrix, a column block, a Ref, or a transpose of one of those).
template <class Operand>
constexpr int storage_order() {
  static_assert(Operand::Flags & Eigen::DirectAccessBit,
                "hpt::models::detail: product operands must be stored matrices");
  static_assert(Operand::InnerStrideAtCompileTime == 1,
                "hpt::models::detail: product operands need unit inner stride");
  return (Operand::Flags & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor;
}

/// Grows a scratch buffer to at least `size` scalars; never shrinks it.
template <class Scalar>
void grow(Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& buffer, Eigen::Index size) {
  if (buffer.size() < size) buffer.resize(size);
}
#endif

/// @brief Scratch space for the products of one model: the packing buffers of Eigen's GEMM.
///
/// Eigen's `dst.noalias() = a * b` packs blocks of both operands into buffers it places on the
/// stack up to EIGEN_STACK_ALLOCATION_LIMIT (128 KiB) and on the heap above, at every call. This
/// workspace keeps those buffers instead: they grow during the first steps (one allocation per
/// new largest block) and are reused afterwards, so that a steady-state training step allocates
/// nothing. The numbers are Eigen's own: the same kernels with the same block sizes.
///
/// Not shared between threads (each model owns one). A copy starts empty: it is scratch, not
/// state. With Eigen's own threads (OpenMP, Eigen::nbThreads() > 1, which is Eigen's default
/// under -fopenmp unless Eigen::setNbThreads(1) is called) the product is Eigen's parallel one,
/// whose per-thread buffers Eigen allocates.
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
    // One row (a head with one output) is a matrix-vector product for Eigen too: no packing.
    bool eigen_product = dst.rows() == 1;
#ifdef EIGEN_HAS_OPENMP
    eigen_product = eigen_product || Eigen::nbThreads() > 1;
#endif
    if (eigen_product) {
      expression_product<Accumulate>(dst, lhs, rhs);
      return;
    }
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

/// @brief Products `lhs * rhs_t` with one left-hand matrix and many right-hand sides, such as a
/// recurrent weight W_hh times the hidden state of every time step.
///
/// Eigen's GEMM packs the left-hand matrix into its blocked layout at every call; for a 512x128
/// W_hh and 32 columns that packing is about a sixth of an LSTM training step. prepare() packs it
/// once per sequence and multiply() then packs only the right-hand side. Right-hand sides of
/// fewer than packed_column_minimum columns run as ProductWorkspace runs them (matrix-vector
/// products), and so does everything when the fallback to Eigen's expressions is active.
/// The packed copy must be prepared again whenever the left-hand matrix changes.
template <class Scalar>
class PackedProduct {
 public:
  PackedProduct() = default;
  PackedProduct(const PackedProduct&) noexcept {}
  PackedProduct& operator=(const PackedProduct&) noexcept {
    packed_ = false;
    return *this;
  }
  // A moved-from object must be prepared again: its buffers are gone.
  PackedProduct(PackedProduct&& other) noexcept { *this = std::move(other); }
  PackedProduct& operator=(PackedProduct&& other) noexcept {
    if (this != &other) {
#if HPT_MODELS_OWN_GEMM_BUFFERS
      packed_lhs_ = std::move(other.packed_lhs_);
      packed_rhs_ = std::move(other.packed_rhs_);
      rows_ = other.rows_;
      depth_ = other.depth_;
      kc_ = other.kc_;
      mc_ = other.mc_;
      nc_ = other.nc_;
      block_stride_ = other.block_stride_;
#endif
      packed_ = other.packed_;
      other.packed_ = false;
    }
    return *this;
  }
  ~PackedProduct() = default;

  /// @brief Packs `lhs` for right-hand sides of `columns` columns (when those use the GEMM).
  template <class Lhs>
  void prepare(const Lhs& lhs, Eigen::Index columns) {
    packed_ = false;
#if HPT_MODELS_OWN_GEMM_BUFFERS
    if (columns < packed_column_minimum || lhs.rows() == 0 || lhs.cols() == 0) return;
#ifdef EIGEN_HAS_OPENMP
    // With Eigen's threads, large per-step products go to Eigen's parallel GEMM; small ones are
    // faster on one thread with the weight packed once (2 threads, LSTM hidden 128: up to 1.9x at
    // minibatch 4-16, but 7-17 % slower at 128-256, i.e. from 2^23 multiply-adds per product).
    if (Eigen::nbThreads() > 1 && lhs.rows() * lhs.cols() * columns >= parallel_work_minimum)
      return;
#endif
    using Mapper =
        Eigen::internal::const_blas_data_mapper<Scalar, Eigen::Index, storage_order<Lhs>()>;
    Eigen::internal::gemm_pack_lhs<Scalar, Eigen::Index, Mapper, Traits::mr, Traits::LhsProgress,
                                   typename Traits::LhsPacket4Packing, storage_order<Lhs>()>
        pack_lhs;
    rows_ = lhs.rows();
    depth_ = lhs.cols();
    kc_ = depth_;
    mc_ = rows_;
    nc_ = columns;
    Eigen::internal::computeProductBlockingSizes<Scalar, Scalar, 1, Eigen::Index>(kc_, mc_, nc_, 1);
    const Eigen::Index row_blocks = (rows_ + mc_ - 1) / mc_;
    const Eigen::Index depth_blocks = (depth_ + kc_ - 1) / kc_;
    // The packing routine stores, and the kernel loads, whole aligned packets: every block must
    // start on the buffer's alignment, which mc * kc scalars need not be a multiple of (an odd
    // number of rows times a depth block of 8 mod 16 floats breaks AVX-512's 64 bytes).
    block_stride_ = (mc_ * kc_ + block_alignment - 1) / block_alignment * block_alignment;
    grow(packed_lhs_, row_blocks * depth_blocks * block_stride_);
    grow(packed_rhs_, kc_ * nc_);
    const Mapper mapper(lhs.data(), lhs.outerStride());
    for (Eigen::Index i = 0; i < rows_; i += mc_)
      for (Eigen::Index k = 0; k < depth_; k += kc_) {
        Scalar* destination = block(i, k);
        eigen_assert(reinterpret_cast<std::uintptr_t>(destination) %
                         std::max<std::uintptr_t>(1, EIGEN_DEFAULT_ALIGN_BYTES) ==
                     0);
        pack_lhs(destination, mapper.getSubMapper(i, k), std::min(kc_, depth_ - k),
                 std::min(mc_, rows_ - i));
      }
    packed_ = true;
#else
    static_cast<void>(lhs);
    static_cast<void>(columns);
#endif
  }

  /// @brief dst = lhs * rhs (Accumulate false) or dst += lhs * rhs (true), with `lhs` the matrix
  /// given to prepare() (still needed for the matrix-vector path) and unchanged since.
  template <bool Accumulate, class Destination, class Lhs, class Rhs>
  void multiply(Destination&& dst, const Lhs& lhs, const Rhs& rhs) {
#if HPT_MODELS_OWN_GEMM_BUFFERS
    if (packed_ && rhs.cols() >= packed_column_minimum) {
      packed_product<Accumulate>(dst, rhs);
      return;
    }
#endif
    fallback_.template multiply<Accumulate>(dst, lhs, rhs);
  }

 private:
#if HPT_MODELS_OWN_GEMM_BUFFERS
  using Traits = Eigen::internal::gebp_traits<Scalar, Scalar>;

  static constexpr Eigen::Index parallel_work_minimum = Eigen::Index{1} << 23;

  // Block starts, in scalars, are multiples of 64 bytes (the widest packet, AVX-512), so each
  // block keeps the alignment of the buffer's start (Eigen's aligned heap storage).
  static constexpr Eigen::Index block_alignment =
      std::max<Eigen::Index>(1, 64 / static_cast<Eigen::Index>(sizeof(Scalar)));

  Scalar* block(Eigen::Index row, Eigen::Index depth) {
    const Eigen::Index depth_blocks = (depth_ + kc_ - 1) / kc_;
    return packed_lhs_.data() + ((row / mc_) * depth_blocks + depth / kc_) * block_stride_;
  }

  // Eigen's sequential GEMM loop (GeneralMatrixMatrix.h) with the left-hand blocks packed in
  // advance: for each depth block and column block, pack the right-hand side once and run the
  // kernel over every row block.
  template <bool Accumulate, class Destination, class Rhs>
  void packed_product(Destination& dst, const Rhs& rhs) {
    using Dst = std::remove_cvref_t<Destination>;
    static_assert(storage_order<Dst>() == Eigen::ColMajor,
                  "hpt::models::detail::PackedProduct: the destination must be column-major");
    using RhsMapper =
        Eigen::internal::const_blas_data_mapper<Scalar, Eigen::Index, storage_order<Rhs>()>;
    using ResMapper = Eigen::internal::blas_data_mapper<Scalar, Eigen::Index, Eigen::ColMajor,
                                                        Eigen::Unaligned, 1>;
    Eigen::internal::gemm_pack_rhs<Scalar, Eigen::Index, RhsMapper, Traits::nr,
                                   storage_order<Rhs>()>
        pack_rhs;
    Eigen::internal::gebp_kernel<Scalar, Scalar, Eigen::Index, ResMapper, Traits::mr, Traits::nr,
                                 false, false>
        gebp;
    if (dst.rows() != rows_ || rhs.rows() != depth_ || dst.cols() != rhs.cols())
      throw std::logic_error("hpt::models::detail::PackedProduct: operands do not match prepare()");
    if constexpr (!Accumulate) dst.setZero();
    const Eigen::Index cols = rhs.cols();
    const Eigen::Index nc = std::min(nc_, cols);
    grow(packed_rhs_, kc_ * nc);
    const RhsMapper rhs_mapper(rhs.data(), rhs.outerStride());
    const ResMapper result(dst.data(), dst.outerStride());
    for (Eigen::Index k = 0; k < depth_; k += kc_) {
      const Eigen::Index depth = std::min(kc_, depth_ - k);
      for (Eigen::Index j = 0; j < cols; j += nc) {
        const Eigen::Index width = std::min(nc, cols - j);
        pack_rhs(packed_rhs_.data(), rhs_mapper.getSubMapper(k, j), depth, width);
        for (Eigen::Index i = 0; i < rows_; i += mc_)
          gebp(result.getSubMapper(i, j), block(i, k), packed_rhs_.data(), std::min(mc_, rows_ - i),
               depth, width, Scalar(1));
      }
    }
  }

  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> packed_lhs_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> packed_rhs_;
  Eigen::Index rows_ = 0, depth_ = 0, kc_ = 0, mc_ = 0, nc_ = 0, block_stride_ = 0;
#endif
  bool packed_ = false;
  ProductWorkspace<Scalar> fallback_;
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
