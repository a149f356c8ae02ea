/// @file throughput.cpp
/// @brief Where does a larger minibatch stop paying off on this machine? hpt::measure_throughput
/// times (1) a hand-written trainer, minibatch SGD for linear regression, one epoch per step(),
/// (2) one training step of the reference MLP, and (3) the reference MlpTrainer on the digits, a
/// whole epoch (and its validation pass) per step, at minibatch sizes 1 .. 256, and prints the
/// tables. See docs/throughput.md.

#include <hpt/data/digits.hpp>
#include <hpt/hpt.hpp>
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/trainers/mlp_trainer.hpp>

#include <algorithm>
#include <cstddef>
#include <iostream>
#include <memory>
#include <span>
#include <vector>

namespace {

// A user's trainer: least-squares linear regression y = w.x + b on a fixed synthetic dataset,
// trained by minibatch SGD; one step() is one epoch, as it would be when tuning it.
class LinearRegressionTrainer {
 public:
  static constexpr std::size_t features = 32;
  static constexpr std::size_t samples = 2048;

  LinearRegressionTrainer(std::size_t minibatch_size, double learning_rate)
      : minibatch_size_(minibatch_size), learning_rate_(learning_rate) {
    hpt::Random random(7);
    std::vector<double> truth(features);
    for (auto& weight : truth) weight = random.uniform(-1, 1);
    inputs_.resize(samples * features);
    targets_.resize(samples);
    for (std::size_t i = 0; i < samples; ++i) {
      double target = 0.5;  // the true bias
      for (std::size_t j = 0; j < features; ++j) {
        inputs_[i * features + j] = random.uniform(-1, 1);
        target += truth[j] * inputs_[i * features + j];
      }
      targets_[i] = target + 0.01 * random.uniform(-1, 1);
    }
  }

  // Reports the epoch's mean training loss and the samples it trained on, as hpt's reference
  // trainers do; measure_throughput counts the "samples".
  hpt::Metrics step() {
    double loss_sum = 0;
    for (std::size_t first = 0; first < samples; first += minibatch_size_) {
      const std::size_t last = std::min(first + minibatch_size_, samples);
      std::fill(weight_gradient_.begin(), weight_gradient_.end(), 0.0);
      double bias_gradient = 0;
      for (std::size_t i = first; i < last; ++i) {
        const std::span<const double> x(inputs_.data() + i * features, features);
        double error = bias_ - targets_[i];
        for (std::size_t j = 0; j < features; ++j) error += weights_[j] * x[j];
        loss_sum += error * error;
        for (std::size_t j = 0; j < features; ++j) weight_gradient_[j] += error * x[j];
        bias_gradient += error;
      }
      // The gradient of the minibatch's mean squared error.
      const double scale = 2 * learning_rate_ / static_cast<double>(last - first);
      for (std::size_t j = 0; j < features; ++j) weights_[j] -= scale * weight_gradient_[j];
      bias_ -= scale * bias_gradient;
    }
    const double loss = loss_sum / samples;
    return {.objective = loss,
            .values = {{"train_loss", loss}, {"samples", static_cast<double>(samples)}}};
  }

 private:
  std::size_t minibatch_size_;
  double learning_rate_;
  std::vector<double> inputs_;   // samples x features, row-major
  std::vector<double> targets_;  // one per sample
  std::vector<double> weights_ = std::vector<double>(features, 0.0);
  std::vector<double> weight_gradient_ = std::vector<double>(features, 0.0);
  double bias_ = 0;
};

// One training step of the reference MLP on a fixed random minibatch.
class MlpTrainingStep {
 public:
  explicit MlpTrainingStep(std::size_t minibatch_size)
      : model_(hpt::models::MlpShape{.inputs = 64, .hidden = {64}, .outputs = 10}),
        input_(64, static_cast<Eigen::Index>(minibatch_size)),
        labels_(minibatch_size) {
    hpt::Random random(11);
    model_.initialize(random);
    for (Eigen::Index column = 0; column < input_.cols(); ++column)
      for (Eigen::Index row = 0; row < input_.rows(); ++row)
        input_(row, column) = static_cast<float>(random.uniform(-1, 1));
    for (auto& label : labels_) label = static_cast<int>(random.below(10));
  }

  // Forward, backward and an SGD update: minibatch_size samples, counted by measure_throughput.
  void operator()() { model_.train_step(input_, std::span<const int>(labels_), optimizer_); }

 private:
  hpt::models::Mlp<float> model_;
  hpt::models::Matrix<float> input_;
  std::vector<int> labels_;
  hpt::models::Sgd<float> optimizer_{.learning_rate = 0.01};
};

}  // namespace

int main() {
  const std::vector<std::size_t> sizes{1, 2, 4, 8, 16, 32, 64, 128, 256};
  // Short repeats keep the example quick; for decisions, keep the defaults (5 x 0.05 s).
  const hpt::ThroughputOptions options{.repeats = 5, .min_seconds_per_repeat = 0.01};

  std::cout << "Linear regression by minibatch SGD, one epoch of "
            << LinearRegressionTrainer::samples << " samples per step():\n";
  const auto linear = hpt::measure_throughput(
      [](std::size_t minibatch_size) { return LinearRegressionTrainer(minibatch_size, 0.01); },
      sizes, options);
  linear.print(std::cout);

  std::cout << "\nReference MLP 64-64-10 (float), one training step per call:\n";
  const auto mlp = hpt::measure_throughput(
      [](std::size_t minibatch_size) { return MlpTrainingStep(minibatch_size); }, sizes, options);
  mlp.print(std::cout);

  // A reference trainer reports the samples of its step, so it is measured as it is tuned: one
  // epoch of 1,437 digits plus the validation pass per step().
  const auto digits =
      hpt::data::load_digits<float>(hpt::data::default_digits_path(), hpt::data::PixelScale::unit);
  const auto data = std::make_shared<const hpt::data::DatasetSplit<hpt::data::Dataset<float>>>(
      digits.split(0.2, 1, hpt::data::Stratify::yes));
  std::cout << "\nReference MlpTrainer 64-64-10 on the digits, one epoch per step():\n";
  const auto trainer = hpt::measure_throughput(
      [&](std::size_t minibatch_size) {
        return hpt::models::MlpTrainer<float>(
            hpt::models::MlpTrainerSettings{.minibatch_size = static_cast<int>(minibatch_size)},
            data);
      },
      sizes,
      hpt::ThroughputOptions{.warmup_calls = 1, .repeats = 3, .min_seconds_per_repeat = 0.01});
  trainer.print(std::cout);
}
