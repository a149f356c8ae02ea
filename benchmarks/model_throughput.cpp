/// @file model_throughput.cpp
/// @brief Minibatch throughput of hpt's reference models (float32), training and inference, at
/// minibatch sizes 1 .. 256, and a large Eigen GEMM as the machine's practical peak.
///
/// Three fixed configurations (benchmarks/pytorch_throughput.py builds the same with PyTorch):
///   mlp   784 -> 256 -> 256 -> 10, ReLU, softmax cross-entropy, plain SGD (lr 0.01);
///   lstm  input 32, hidden 128, 1 layer, 32 time steps, Linear(128 -> 10) head on the last
///         hidden state, softmax cross-entropy, plain SGD;
///   gru   the same with a GRU cell.
/// `<model>_train` times one training step: forward, loss, backward and Sgd::step() on every
/// parameter. `<model>_infer` times one forward pass (no dropout, no gradients).
/// `gemm/n:N` times C = A * B with N x N float matrices, N = 256, 512, 1024 (the same compiler
/// flags); the best of them is the practical peak that the model figures are compared with.
///
/// Every benchmark reports wall-clock time (UseRealTime: with 2 threads, process CPU time counts
/// both cores) and the counters
///   items_per_second  samples per second (state.SetItemsProcessed: minibatch * iterations);
///   GFLOPS            10^9 floating-point operations per second, from the FLOP counts below.
///
/// Threads: Eigen parallelises its matrix products only when compiled with OpenMP, which
/// benchmarks/CMakeLists.txt enables for this executable alone. The thread count is read from the
/// environment variable HPT_BENCH_THREADS (default 1) and given to Eigen::setNbThreads(); the
/// JSON context records it. Without OpenMP every product is single-threaded whatever the setting.
///
/// Inputs, targets and initial weights are fixed pseudo-random values made before the timed loop;
/// each benchmark runs a few untimed warm-up steps (which also size every workspace) before
/// measuring; --benchmark_min_warmup_time adds a timed-but-discarded warm-up phase.
///
/// benchmarks/compare_throughput.py puts this next to PyTorch (docs/performance.md).

#include <benchmark/benchmark.h>

#include "build_context.hpp"

#include <Eigen/Core>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "hpt/core/random.hpp"
#include "hpt/linalg/tensor_view.hpp"
#include "hpt/nn/mlp.hpp"
#include "hpt/nn/optimizer.hpp"
#include "hpt/nn/sequence_model.hpp"

namespace {

using Scalar = float;
using Matrix = hpt::models::Matrix<Scalar>;
namespace models = hpt::models;

// ---------------------------------------------------------------------------------------------
// Configurations.
constexpr Eigen::Index mlp_inputs = 784;
constexpr Eigen::Index mlp_hidden = 256;
constexpr Eigen::Index classes = 10;

constexpr Eigen::Index rnn_input = 32;
constexpr Eigen::Index rnn_hidden = 128;
constexpr Eigen::Index rnn_time = 32;

constexpr double learning_rate = 0.01;
constexpr std::uint64_t seed = 42;
constexpr int warm_up_steps = 3;

// ---------------------------------------------------------------------------------------------
// FLOP counts per sample. Only matrix products are counted, 2*m*n*k each (one multiply and one
// add per term); element-wise work (bias adds, activations, gate arithmetic, softmax and
// cross-entropy, the SGD update) is ignored, so the GFLOPS counter slightly understates the work.
//
// Forward pass, per sample:
//   Linear(in -> out):                         2*in*out
//   MLP:    F_mlp  = 2*(784*256 + 256*256 + 256*10)                     =       537,600
//   LSTM/GRU with G gates (LSTM 4, GRU 3), input I, hidden H, T steps, C classes:
//           F_rnn  = T*(2*G*H*I + 2*G*H*H) + 2*C*H
//           LSTM:  32*(2*512*32 + 2*512*128) + 2*10*128                 =     5,245,440
//           GRU:   32*(2*384*32 + 2*384*128) + 2*10*128                 =     3,934,720
// Training step (forward + backward), per sample: the backward pass has two products for every
// forward product, one for the weight gradient (same size) and one for the input gradient
// (same size), except the first layer's input gradient, which nobody needs (neither hpt nor
// PyTorch computes it: the data does not require a gradient):
//   MLP:    3*F_mlp - 2*784*256                                         =     1,211,392
//   LSTM:   3*F_lstm - T*2*4H*I = 3*5,245,440 - 32*2*512*32             =    14,687,744
//   GRU:    3*F_gru  - T*2*3H*I = 3*3,934,720 - 32*2*384*32             =    11,017,728
// The recurrent input gradient W_hh^T * dgates is counted at all T steps (hpt computes the one
// at t = 0 as well: dL/dh_{-1}); PyTorch skips it when h_0 needs no gradient, a 1/32 difference
// in that term.
// GEMM (n x n times n x n): 2*n^3 per product.
constexpr double linear_flop(Eigen::Index in, Eigen::Index out) {
  return 2.0 * static_cast<double>(in) * static_cast<double>(out);
}
constexpr double mlp_forward_flop = linear_flop(mlp_inputs, mlp_hidden) +
                                    linear_flop(mlp_hidden, mlp_hidden) +
                                    linear_flop(mlp_hidden, classes);
constexpr double mlp_train_flop = 3 * mlp_forward_flop - linear_flop(mlp_inputs, mlp_hidden);

constexpr double rnn_forward_flop(Eigen::Index gates) {
  return static_cast<double>(rnn_time) * (linear_flop(rnn_input, gates * rnn_hidden) +
                                          linear_flop(rnn_hidden, gates * rnn_hidden)) +
         linear_flop(rnn_hidden, classes);
}
constexpr double rnn_train_flop(Eigen::Index gates) {
  return 3 * rnn_forward_flop(gates) -
         static_cast<double>(rnn_time) * linear_flop(rnn_input, gates * rnn_hidden);
}

static_assert(mlp_forward_flop == 537'600);
static_assert(mlp_train_flop == 1'211'392);
static_assert(rnn_forward_flop(4) == 5'245'440);
static_assert(rnn_train_flop(4) == 14'687'744);
static_assert(rnn_forward_flop(3) == 3'934'720);
static_assert(rnn_train_flop(3) == 11'017'728);

// ---------------------------------------------------------------------------------------------
// Data.

/// Standard normal values, fixed by the seed.
Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream) {
  hpt::Random random(hpt::derive_seed(seed, stream));
  Matrix values(rows, cols);
  for (Eigen::Index i = 0; i < values.size(); ++i) values(i) = static_cast<Scalar>(random.normal());
  return values;
}

/// Class indices in [0, classes), fixed by the seed.
std::vector<int> random_targets(Eigen::Index count) {
  hpt::Random random(hpt::derive_seed(seed, 1000));
  std::vector<int> targets(static_cast<std::size_t>(count));
  for (auto& target : targets) target = static_cast<int>(random.below(classes));
  return targets;
}

Eigen::Index batch_argument(const benchmark::State& state) {
  return state.range(0);
}

/// Samples per second and GFLOPS from a per-sample FLOP count.
void set_counters(benchmark::State& state, Eigen::Index batch, double flop_per_sample) {
  const auto samples = static_cast<double>(batch);
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["GFLOPS"] = benchmark::Counter(samples * flop_per_sample * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["batch"] = samples;
  state.counters["flop_per_sample"] = flop_per_sample;
}

// ---------------------------------------------------------------------------------------------
// MLP.

models::Mlp<Scalar> make_mlp() {
  models::Mlp<Scalar> model(models::MlpShape{.inputs = mlp_inputs,
                                             .hidden = {mlp_hidden, mlp_hidden},
                                             .outputs = classes,
                                             .activation = models::Activation::relu});
  hpt::Random random(seed);
  model.initialize(random);
  return model;
}

void BM_MlpTrain(benchmark::State& state) {
  const Eigen::Index batch = batch_argument(state);
  models::Mlp<Scalar> model = make_mlp();
  const Matrix input = random_matrix(mlp_inputs, batch, 1);
  const std::vector<int> targets = random_targets(batch);
  models::Sgd<Scalar> sgd{.learning_rate = learning_rate};
  for (int i = 0; i < warm_up_steps; ++i) model.train_step(input, targets, sgd);
  for (auto _ : state) {
    Scalar loss = model.train_step(input, targets, sgd);
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  set_counters(state, batch, mlp_train_flop);
}

void BM_MlpInfer(benchmark::State& state) {
  const Eigen::Index batch = batch_argument(state);
  models::Mlp<Scalar> model = make_mlp();
  const Matrix input = random_matrix(mlp_inputs, batch, 1);
  for (int i = 0; i < warm_up_steps; ++i) model.forward(input);
  for (auto _ : state) {
    const Matrix& logits = model.forward(input);
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, batch, mlp_forward_flop);
}

// ---------------------------------------------------------------------------------------------
// LSTM and GRU: models::SequenceModel, many-to-one with a Linear head.

models::SequenceModel<Scalar> make_sequence_model(models::Cell cell) {
  models::SequenceModel<Scalar> model(
      models::SequenceModelConfig{.input = rnn_input,
                                  .hidden = rnn_hidden,
                                  .layers = 1,
                                  .outputs = classes,
                                  .cell = cell,
                                  .output_mode = models::OutputMode::many_to_one,
                                  .task = models::Task::classification});
  hpt::Random random(seed);
  model.initialize(random);
  return model;
}

Eigen::Index gates_of(models::Cell cell) {
  return cell == models::Cell::lstm ? 4 : 3;
}

void BM_SequenceTrain(benchmark::State& state, models::Cell cell) {
  const Eigen::Index batch = batch_argument(state);
  models::SequenceModel<Scalar> model = make_sequence_model(cell);
  // (input x time*batch): column t*batch + b is step t of sequence b.
  const Matrix input = random_matrix(rnn_input, rnn_time * batch, 2);
  const std::vector<int> targets = random_targets(batch);
  models::Sgd<Scalar> sgd{.learning_rate = learning_rate};
  for (int i = 0; i < warm_up_steps; ++i) model.train_step(input, batch, targets, sgd);
  for (auto _ : state) {
    Scalar loss = model.train_step(input, batch, targets, sgd);
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  set_counters(state, batch, rnn_train_flop(gates_of(cell)));
}

void BM_SequenceInfer(benchmark::State& state, models::Cell cell) {
  const Eigen::Index batch = batch_argument(state);
  models::SequenceModel<Scalar> model = make_sequence_model(cell);
  const Matrix input = random_matrix(rnn_input, rnn_time * batch, 2);
  for (int i = 0; i < warm_up_steps; ++i) model.forward(input, batch);
  for (auto _ : state) {
    const Matrix& logits = model.forward(input, batch);
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, batch, rnn_forward_flop(gates_of(cell)));
}

// ---------------------------------------------------------------------------------------------
// Large GEMM: what Eigen's float product reaches with these flags and threads.

void BM_Gemm(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Matrix a = random_matrix(n, n, 3);
  const Matrix b = random_matrix(n, n, 4);
  Matrix c(n, n);
  c.noalias() = a * b;  // warm-up
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  const double flop =
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  state.counters["GFLOPS"] =
      benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void minibatches(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("batch");
  for (std::int64_t batch = 1; batch <= 256; batch *= 2) benchmark->Arg(batch);
  benchmark->UseRealTime()->Unit(benchmark::kMicrosecond);
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("mlp_train", BM_MlpTrain)->Apply(minibatches);
  benchmark::RegisterBenchmark("mlp_infer", BM_MlpInfer)->Apply(minibatches);
  for (const auto cell : {models::Cell::lstm, models::Cell::gru}) {
    const std::string name = cell == models::Cell::lstm ? "lstm" : "gru";
    benchmark::RegisterBenchmark((name + "_train").c_str(), BM_SequenceTrain, cell)
        ->Apply(minibatches);
    benchmark::RegisterBenchmark((name + "_infer").c_str(), BM_SequenceInfer, cell)
        ->Apply(minibatches);
  }
  benchmark::RegisterBenchmark("gemm", BM_Gemm)
      ->ArgName("n")
      ->Arg(256)
      ->Arg(512)
      ->Arg(1024)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

/// HPT_BENCH_THREADS (default 1), or -1 if it is not a positive integer.
int requested_threads() {
  const char* text = std::getenv("HPT_BENCH_THREADS");
  if (text == nullptr || *text == '\0') return 1;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > 1024) return -1;
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = requested_threads();
  if (threads < 1) {
    std::cerr << "HPT_BENCH_THREADS must be a positive integer\n";
    return 1;
  }
#if !defined(_OPENMP)
  if (threads > 1) {
    std::cerr << "HPT_BENCH_THREADS=" << threads
              << ": this build has no OpenMP, so Eigen cannot use more than one thread\n";
    return 1;
  }
#endif
  Eigen::setNbThreads(threads);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::AddCustomContext("eigen_threads", std::to_string(Eigen::nbThreads()));
#if defined(_OPENMP)
  benchmark::AddCustomContext("openmp", std::to_string(_OPENMP));
#else
  benchmark::AddCustomContext("openmp", "off");
#endif
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
  benchmark::AddCustomContext("eigen_version", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                                   std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                                   std::to_string(EIGEN_MINOR_VERSION));
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
