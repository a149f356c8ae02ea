// Checks that a steady-state MLP training step (forward with dropout, loss, backward, clipping,
// optimizer step, inference; by hand and through train_step) allocates nothing on the heap, with
// Eigen's EIGEN_RUNTIME_NO_MALLOC. Not part of hpt_nn_tests (the macro changes Eigen's inline
// functions, so it needs its own executable); the .cxx extension keeps it out of that suite's glob.
// Build and run:
//   g++ -std=c++20 -O2 -Iinclude -I/usr/include/eigen3 tests/nn/no_malloc_check.cxx -o check
//   ./check            # default sizes; or ./check <inputs> <batch> <width>
// Exit status 0: no allocation. Eigen aborts with an assertion on the first allocation.
// Covers benchmarks/model_throughput.cpp's MLP (784-256-256-10) at every benchmarked minibatch:
// Eigen's own products would allocate their packing buffers there (above 128 KiB); hpt keeps
// them between steps (include/hpt/linalg/product.hpp).
#undef NDEBUG  // Eigen reports forbidden allocations through eigen_assert
#define EIGEN_RUNTIME_NO_MALLOC
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/optimizer.hpp>

#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace hpt::models;

// through_train_step: the step is train_step() with MlpShape::max_gradient_norm clipping;
// otherwise train_loss_and_gradients(), clip_gradient_norm() and optimizer.step().
template <class Scalar, class Optimizer>
void check(Optimizer optimizer, Eigen::Index inputs, Eigen::Index batch, Eigen::Index width,
           double dropout, Task task, bool through_train_step) {
  Mlp<Scalar> model(MlpShape{.inputs = inputs,
                             .hidden = {width, width},
                             .outputs = 10,
                             .activation = Activation::tanh,
                             .dropout = dropout,
                             .task = task,
                             .max_gradient_norm = through_train_step ? 1.0 : 0.0});
  hpt::Random random(1);
  model.initialize(random);
  const Matrix<Scalar> input = Matrix<Scalar>::Random(inputs, batch);
  const Matrix<Scalar> targets = Matrix<Scalar>::Random(10, batch);
  const std::vector<int> labels(static_cast<std::size_t>(batch), 3);
  const auto views = model.parameters();
  auto step = [&] {
    if (through_train_step) {
      if (task == Task::classification)
        model.train_step(input, labels, optimizer);
      else
        model.train_step(input, targets, optimizer);
      model.forward(input);
      return;
    }
    if (task == Task::classification)
      model.train_loss_and_gradients(input, labels);
    else
      model.train_loss_and_gradients(input, targets);
    clip_gradient_norm(views, Scalar(1));
    optimizer.step(views);
    model.forward(input);
  };
  step();  // sizes the workspaces and the optimizer state
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 3; ++i) step();
  Eigen::internal::set_is_malloc_allowed(true);
}

int main(int argc, char** argv) {
  struct Size {
    Eigen::Index inputs, batch, width;
  };
  std::vector<Size> sizes{{32, 1, 64}, {32, 32, 64}, {32, 256, 64}, {32, 64, 128}};
  for (Eigen::Index batch : {1, 2, 4, 8, 16, 32, 64, 128, 256}) sizes.push_back({784, batch, 256});
  if (argc == 4) sizes = {{std::atol(argv[1]), std::atol(argv[2]), std::atol(argv[3])}};
  for (const auto& [inputs, batch, width] : sizes) {
    for (const bool through_train_step : {false, true}) {
      check<float>(Sgd<float>{.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}, inputs,
                   batch, width, 0.2, Task::classification, through_train_step);
      check<double>(Adam<double>{.weight_decay = 0.01}, inputs, batch, width, 0.0, Task::regression,
                    through_train_step);
    }
    std::printf("no allocation: inputs %ld, batch %ld, width %ld\n", static_cast<long>(inputs),
                static_cast<long>(batch), static_cast<long>(width));
  }
  return 0;
}
