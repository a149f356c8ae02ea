#include <hpt/hpt.hpp>

#include <cmath>
#include <iostream>

// Your trainer: made from a configuration, one step() per epoch.
struct MyTrainer {
  explicit MyTrainer(const hpt::Config& config)
      : learning_rate(config.get<double>("learning_rate")),
        minibatch_size(config.get<int>("minibatch_size")) {}

  hpt::Metrics step() {
    ++epoch;  // train one epoch here; this stand-in loss is best near learning_rate = 1e-3
    const double loss =
        std::pow(std::log10(learning_rate) + 3, 2) + 1.0 / epoch + 1e-3 * minibatch_size;
    return {.objective = loss, .values = {{"train_loss", 0.9 * loss}}};
  }

  double learning_rate;
  int minibatch_size;
  int epoch = 0;
};

int main() {
  const hpt::SearchSpace space{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::ordinal("minibatch_size", {1, 2, 4, 8, 16, 32, 64, 128, 256}),
  };
  const auto study =
      hpt::tune<MyTrainer>(space, hpt::Hyperband{.max_resource = 81, .reduction_factor = 3},
                           hpt::Patience{.patience = 5, .min_delta = 1e-4} | hpt::Divergence{},
                           {.direction = hpt::minimize, .seed = 42});
  study.print_leaderboard(std::cout);
  std::cout << study.best().config << '\n';
}
