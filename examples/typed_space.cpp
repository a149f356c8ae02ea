// Hyperparameters as your own struct: the space binds to its members through member pointers,
// types are checked at compile time, and the trainer never looks a string up.
#include <hpt/hpt.hpp>

#include <array>
#include <cmath>
#include <iostream>
#include <utility>

enum class Cell { lstm, gru };
// Labels let the enum print, serialise and load back by name.
constexpr auto enum_labels(Cell) {
  return std::array{std::pair{Cell::lstm, "lstm"}, std::pair{Cell::gru, "gru"}};
}

struct Hyper {
  double learning_rate = 1e-3;
  int hidden_units = 64;
  Cell cell = Cell::lstm;
  double momentum = 0;  // only searched for the GRU below; keeps its default otherwise
};

class SequenceTrainer {
 public:
  explicit SequenceTrainer(const Hyper& hyper) : hyper_(hyper) {}
  double step() {  // a stand-in for one epoch; returns the validation loss
    ++epoch_;
    const double size_penalty = std::abs(std::log2(hyper_.hidden_units) - 7) * 0.05;
    const double cell_bonus = hyper_.cell == Cell::gru ? 0.02 : 0.0;
    return std::pow(std::log10(hyper_.learning_rate) + 2.5, 2) + size_penalty - cell_bonus +
           hyper_.momentum * 0.01 + 1.0 / epoch_;
  }

 private:
  Hyper hyper_;
  int epoch_ = 0;
};

int main() {
  const auto space = hpt::space_of<Hyper>(
      hpt::field(&Hyper::learning_rate, "learning_rate", hpt::log_uniform(1e-5, 1e-1)),
      hpt::field(&Hyper::hidden_units, "hidden_units", hpt::int_range(16, 512, hpt::log_scale)),
      hpt::field(&Hyper::cell, "cell", hpt::choice({Cell::lstm, Cell::gru})),
      hpt::field(&Hyper::momentum, "momentum", hpt::uniform(0.0, 0.9))
          .when(hpt::equals("cell", "gru")));
  const auto study =
      hpt::tune<SequenceTrainer>(space, hpt::Asha{.trials = 200, .max_resource = 27},
                                 hpt::MedianStopping{.startup_trials = 5}, {.seed = 7});
  study.print_leaderboard(std::cout, 5);
  const Hyper best = space.bind(study.best().config);
  std::cout << "best: " << study.best().config << " (hidden_units " << best.hidden_units << ")\n";
}
