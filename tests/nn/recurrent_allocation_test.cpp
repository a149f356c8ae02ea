// Steady-state training steps (forward + loss + backward + clipping + optimizer step) must not
// allocate: the second and later steps with the same (time, batch) shape are run with Eigen's
// heap allocations forbidden (EIGEN_RUNTIME_NO_MALLOC, counted by rnn_support.hpp) and with the
// global operator new counted.
//
// hpt keeps the packing buffers of Eigen's matrix products between steps
// (include/hpt/linalg/product.hpp), so that holds at every size, including the benchmark
// configuration (hidden 128, minibatch up to 256) where Eigen's own products would allocate.
#include "rnn_support.hpp"

#include <catch2/catch.hpp>
#include <hpt/core/random.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/nn/sequence_model.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <span>
#include <sstream>
#include <vector>

// AddressSanitizer owns the global allocation functions (replacing them makes it report
// mismatched new/free at exit): under ASan only Eigen's allocations are counted.
#if defined(__SANITIZE_ADDRESS__)
#define HPT_TEST_COUNT_NEW 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HPT_TEST_COUNT_NEW 0
#endif
#endif
#ifndef HPT_TEST_COUNT_NEW
#define HPT_TEST_COUNT_NEW 1
#endif

namespace {
std::atomic<bool> counting_new{false};
std::atomic<long> counted_new{0};
}  // namespace

#if HPT_TEST_COUNT_NEW
// Replaced global allocation functions (one definition in the program: this file).
void* operator new(std::size_t size) {
  if (counting_new.load(std::memory_order_relaxed)) counted_new.fetch_add(1);
  if (void* pointer = std::malloc(size == 0 ? 1 : size)) return pointer;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return ::operator new(size);
}
// Not inlined: GCC would otherwise pair an inlined free() with a new-expression and warn.
[[gnu::noinline]] void operator delete(void* pointer) noexcept {
  std::free(pointer);
}
[[gnu::noinline]] void operator delete[](void* pointer) noexcept {
  std::free(pointer);
}
[[gnu::noinline]] void operator delete(void* pointer, std::size_t) noexcept {
  std::free(pointer);
}
[[gnu::noinline]] void operator delete[](void* pointer, std::size_t) noexcept {
  std::free(pointer);
}
#endif

using hpt::models::Cell;
using hpt::models::Matrix;
using hpt::models::OutputMode;
using hpt::models::SequenceModel;
using hpt::models::SequenceModelConfig;
using hpt::models::Task;

namespace {

struct Allocations {
  long eigen = 0;         // Eigen heap allocations (aligned_malloc) while forbidden
  long operator_new = 0;  // global operator new calls
};

// Runs two warm-up training steps, then `steps` more with allocations forbidden and counted.
template <class Scalar, class Optimizer>
Allocations steady_state_allocations(const SequenceModelConfig& config, Eigen::Index time,
                                     Eigen::Index batch, Optimizer optimizer, int steps = 2) {
  hpt::Random random(3);
  SequenceModel<Scalar> model(config);
  model.initialize(random);
  Matrix<Scalar> input(config.input, time * batch);
  for (Eigen::Index k = 0; k < input.size(); ++k)
    input.data()[k] = static_cast<Scalar>(random.uniform(-1, 1));
  const Eigen::Index predictions =
      config.output_mode == OutputMode::many_to_one ? batch : time * batch;
  std::vector<int> classes(static_cast<std::size_t>(predictions));
  for (auto& label : classes) label = static_cast<int>(random.below(config.outputs));
  Matrix<Scalar> targets(config.outputs, predictions);
  for (Eigen::Index k = 0; k < targets.size(); ++k)
    targets.data()[k] = static_cast<Scalar>(random.uniform(-1, 1));
  auto step = [&]() {
    if (config.task == Task::classification)
      return model.train_step(input, batch, std::span<const int>(classes), optimizer);
    return model.train_step(input, batch, targets, optimizer);
  };
  step();
  step();
  const long eigen_before = hpt_test::eigen_forbidden_allocations();
  counted_new = 0;
  counting_new = true;
  Eigen::internal::set_is_malloc_allowed(false);
  Scalar loss = 0;
  for (int k = 0; k < steps; ++k) loss += step();
  Eigen::internal::set_is_malloc_allowed(true);
  counting_new = false;
  REQUIRE(std::isfinite(static_cast<double>(loss)));
  return {hpt_test::eigen_forbidden_allocations() - eigen_before, counted_new.load()};
}

}  // namespace

TEST_CASE("The allocation counters work", "[rnn][allocation]") {
  const long before = hpt_test::eigen_forbidden_allocations();
  Eigen::internal::set_is_malloc_allowed(false);
  Matrix<double> allocated(7, 7);
  Eigen::internal::set_is_malloc_allowed(true);
  REQUIRE(hpt_test::eigen_forbidden_allocations() == before + 1);
  counted_new = 0;
  counting_new = true;
  auto* vector = new std::vector<int>(3);
  counting_new = false;
  delete vector;
  REQUIRE(counted_new >= (HPT_TEST_COUNT_NEW ? 1 : 0));
}

TEST_CASE("Steady-state training steps allocate nothing while products fit Eigen's stack buffers",
          "[rnn][allocation]") {
  for (Cell cell : {Cell::lstm, Cell::gru})
    for (OutputMode mode : {OutputMode::many_to_one, OutputMode::many_to_many})
      for (Task task : {Task::classification, Task::regression}) {
        CAPTURE(static_cast<int>(cell), static_cast<int>(mode), static_cast<int>(task));
        const SequenceModelConfig config{.input = 4,
                                         .hidden = 16,
                                         .layers = 2,
                                         .outputs = 5,
                                         .cell = cell,
                                         .output_mode = mode,
                                         .task = task,
                                         .max_gradient_norm = 1.0};
        for (Eigen::Index batch : {1, 4}) {
          CAPTURE(batch);
          const auto sgd = steady_state_allocations<float>(
              config, 8, batch, hpt::models::Sgd<float>{.learning_rate = 0.1, .momentum = 0.9});
          CHECK(sgd.eigen == 0);
          CHECK(sgd.operator_new == 0);
          const auto adam =
              steady_state_allocations<double>(config, 8, batch, hpt::models::Adam<double>{});
          CHECK(adam.eigen == 0);
          CHECK(adam.operator_new == 0);
        }
      }
}

TEST_CASE("Steady-state training steps allocate nothing at the benchmark sizes",
          "[rnn][allocation]") {
#if HPT_MODELS_OWN_GEMM_BUFFERS
  for (Cell cell : {Cell::lstm, Cell::gru}) {
    // benchmarks/model_throughput.cpp's configuration, then a wider two-layer one.
    for (Eigen::Index batch : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
      CAPTURE(static_cast<int>(cell), batch);
      const SequenceModelConfig config{
          .input = 32, .hidden = 128, .layers = 1, .outputs = 10, .cell = cell};
      const auto counts = steady_state_allocations<float>(
          config, 32, batch, hpt::models::Sgd<float>{.learning_rate = 0.01}, 1);
      CHECK(counts.eigen == 0);
      CHECK(counts.operator_new == 0);
    }
    for (Eigen::Index batch : {32, 256}) {
      CAPTURE(static_cast<int>(cell), batch);
      const SequenceModelConfig config{.input = 8,
                                       .hidden = 256,
                                       .layers = 2,
                                       .outputs = 10,
                                       .cell = cell,
                                       .output_mode = OutputMode::many_to_many};
      const auto counts =
          steady_state_allocations<double>(config, 16, batch, hpt::models::Adam<double>{}, 1);
      CHECK(counts.eigen == 0);
      CHECK(counts.operator_new == 0);
    }
  }
#else
  WARN(
      "HPT_MODELS_OWN_GEMM_BUFFERS is 0 (not Eigen 3.4, or EIGEN_USE_BLAS): large products "
      "allocate their packing buffers");
#endif
}
