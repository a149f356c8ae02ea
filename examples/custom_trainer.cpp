// A trainer written from scratch: Hyperband tunes a small linear-regression trainer (minibatch SGD
// with L2 on a synthetic problem) over learning rate, minibatch size and L2, with early stopping
// and divergence detection, then prints the leaderboard and the best configuration.
//
// The trainer is deliberately small so the demo runs in seconds, yet it behaves like a real one:
// too large a learning rate diverges, too small a one crawls, tiny minibatches are noisy.
#include <hpt/hpt.hpp>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <vector>

namespace {

/// Synthetic regression data: y = w*.x + noise, with correlated-scale features.
struct Data {
  static constexpr int features = 8;
  std::vector<std::vector<double>> train_x, validation_x;
  std::vector<double> train_y, validation_y;

  explicit Data(std::uint64_t seed) {
    hpt::Random random(seed);
    std::vector<double> truth(features);
    for (auto& w : truth) w = random.uniform(-2.0, 2.0);
    auto make = [&](int count, auto& xs, auto& ys) {
      for (int i = 0; i < count; ++i) {
        std::vector<double> x(features);
        double y = 0;
        for (int j = 0; j < features; ++j) {
          x[j] = random.normal() * (1.0 + j);  // scales 1..8: large learning rates blow up
          y += truth[j] * x[j];
        }
        xs.push_back(std::move(x));
        ys.push_back(y + 0.5 * random.normal());
      }
    };
    make(2048, train_x, train_y);
    make(512, validation_x, validation_y);
  }
};

const Data& data() {
  static const Data shared(2026);
  return shared;
}

/// One step() is one epoch of minibatch SGD; the objective is the validation mean squared error.
class LinearRegression {
 public:
  explicit LinearRegression(const hpt::Config& config)
      : learning_rate_(config.get<double>("learning_rate")),
        minibatch_size_(config.get<int>("minibatch_size")),
        l2_(config.get<double>("l2")),
        weights_(Data::features, 0.0) {}

  hpt::Metrics step() {
    const auto& d = data();
    const auto samples = static_cast<int>(d.train_x.size());
    std::vector<double> gradient(Data::features);
    double train_loss = 0;
    for (int start = 0; start < samples; start += minibatch_size_) {
      const int end = std::min(samples, start + minibatch_size_);
      std::fill(gradient.begin(), gradient.end(), 0.0);
      for (int i = start; i < end; ++i) {
        const double error = predict(d.train_x[i]) - d.train_y[i];
        train_loss += error * error;
        for (int j = 0; j < Data::features; ++j) gradient[j] += 2 * error * d.train_x[i][j];
      }
      for (int j = 0; j < Data::features; ++j)
        weights_[j] -= learning_rate_ * (gradient[j] / (end - start) + 2 * l2_ * weights_[j]);
    }
    double validation_loss = 0;
    for (std::size_t i = 0; i < d.validation_x.size(); ++i) {
      const double error = predict(d.validation_x[i]) - d.validation_y[i];
      validation_loss += error * error;
    }
    return {.objective = validation_loss / static_cast<double>(d.validation_x.size()),
            .values = {{"train_loss", train_loss / samples}}};
  }

 private:
  double predict(const std::vector<double>& x) const {
    double y = 0;
    for (int j = 0; j < Data::features; ++j) y += weights_[j] * x[j];
    return y;
  }

  double learning_rate_;
  int minibatch_size_;
  double l2_;
  std::vector<double> weights_;
};

}  // namespace

int main() {
  const hpt::SearchSpace space{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::ordinal("minibatch_size", {1, 2, 4, 8, 16, 32, 64, 128, 256}),
      hpt::log_uniform("l2", 1e-6, 1e-1),
  };
  const hpt::Hyperband strategy{.min_resource = 1, .max_resource = 27, .reduction_factor = 3};
  std::cout << "Search space:\n" << space << '\n' << "Schedule:\n" << strategy.schedule() << '\n';

  hpt::ConsoleReporter reporter;
  const auto study = hpt::tune<LinearRegression>(
      space, strategy, hpt::Patience{.patience = 3, .min_delta = 1e-4} | hpt::Divergence{},
      {.direction = hpt::minimize, .seed = 42, .name = "linear-regression demo"}, reporter);

  std::cout << '\n' << study.status_summary() << " in " << study.wall_seconds() << " s\n\n";
  study.print_leaderboard(std::cout, 10);
  const auto& best = study.best();
  std::cout << "\nBest configuration: " << best.config << "\nvalidation MSE " << best.result()
            << " after " << best.resource << " epochs (trial " << best.id << ")\n";
}
