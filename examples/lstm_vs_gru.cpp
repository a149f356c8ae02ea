// LSTM or GRU? The question as a study: the digits read as sequences (8 rows of 8 pixels), the
// cell type a hyperparameter beside learning rate and hidden size, Hyperband over epochs, and the
// whole study repeated with several seeds, because one run's winner can be luck. The table at the
// end gives, per cell type, the best validation loss and accuracy of each seed's study and their
// spread.
//
//   hpt_lstm_vs_gru            5 seeds, Hyperband up to 27 epochs (one to two minutes on two cores)
//   hpt_lstm_vs_gru --quick    2 seeds, up to 3 epochs on a third of the data (the tests' run)
#include <hpt/data/digits.hpp>
#include <hpt/hpt.hpp>
#include <hpt/trainers/sequence_trainer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Sequences = hpt::data::SequenceDataset<float>;

struct Best {
  double loss = std::numeric_limits<double>::infinity();
  double accuracy = 0;
};

// The best trial of one cell type among those that ran their whole budget or were stopped by
// the policy (pruned trials were cut short by design and are not comparable).
Best best_of(const hpt::Study& study, std::string_view cell) {
  Best best;
  for (const auto& trial : study.trials()) {
    if (trial.status != hpt::TrialStatus::completed && trial.status != hpt::TrialStatus::stopped)
      continue;
    if (trial.config.get<std::string>("cell") != cell || !(trial.result() < best.loss)) continue;
    best.loss = trial.result();
    for (const auto& point : trial.curve)
      if (point.step == trial.result_step())
        for (const auto& [name, value] : point.values)
          if (name == "validation_accuracy") best.accuracy = value;
  }
  return best;
}

struct Spread {
  double mean = 0, deviation = 0, low = 0, high = 0;
};

Spread spread_of(const std::vector<double>& values) {
  Spread spread;
  const auto count = static_cast<double>(values.size());
  spread.mean = std::accumulate(values.begin(), values.end(), 0.0) / count;
  for (const double value : values)
    spread.deviation += (value - spread.mean) * (value - spread.mean);
  spread.deviation = values.size() > 1 ? std::sqrt(spread.deviation / (count - 1)) : 0.0;
  spread.low = *std::min_element(values.begin(), values.end());
  spread.high = *std::max_element(values.begin(), values.end());
  return spread;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  auto digits =
      hpt::data::load_digits<float>(hpt::data::default_digits_path(), hpt::data::PixelScale::unit);
  if (quick) {  // every third image
    std::vector<std::size_t> some;
    for (std::size_t i = 0; i < digits.size(); i += 3) some.push_back(i);
    digits = digits.subset(some);
  }
  const auto data = std::make_shared<const hpt::data::DatasetSplit<Sequences>>(
      hpt::data::digits_as_sequences(digits).split(0.2, 3, hpt::data::Stratify::yes));

  const hpt::SearchSpace space{
      hpt::choice("cell", {"lstm", "gru"}),
      hpt::log_uniform("learning_rate", 1e-4, 1e-1),
      hpt::int_range("hidden_units", 8, 64, hpt::log_scale),
  };
  const hpt::Hyperband strategy{.max_resource = quick ? 3 : 27, .reduction_factor = 3};
  std::cout << "Digits as sequences: " << data->train.size() << " training, "
            << data->validation.size() << " validation sequences of 8 steps x 8 pixels\n"
            << "Search space:\n"
            << space << "\nSchedule per seed (resource = epochs):\n"
            << strategy.schedule() << '\n';

  const std::vector<std::uint64_t> seeds =
      quick ? std::vector<std::uint64_t>{1, 2} : std::vector<std::uint64_t>{1, 2, 3, 4, 5};
  std::map<std::string, std::vector<Best>> results;
  for (const auto seed : seeds) {
    // The seed changes both the sampled configurations and every trainer's initialisation.
    const hpt::models::SequenceTrainerSettings fixed{.optimizer = hpt::models::OptimizerKind::adam,
                                                     .seed = static_cast<std::int64_t>(seed)};
    auto make_trainer = [&](const hpt::Config& config) {
      return hpt::models::SequenceTrainer<float>(config, data, fixed);
    };
    const auto study = hpt::tune(
        space, make_trainer, strategy, hpt::Patience{.patience = 4} | hpt::Divergence{},
        // Each trial's best epoch is its result, as early stopping prescribes.
        {.direction = hpt::minimize, .seed = seed, .result = hpt::TrialResult::best_step});
    std::cout << "seed " << seed << ": " << study.status_summary() << " in " << study.wall_seconds()
              << " s; best " << study.best().config << '\n';
    for (const std::string cell : {"lstm", "gru"}) results[cell].push_back(best_of(study, cell));
  }

  std::cout
      << "\nBest per cell type and seed (validation loss / accuracy):\n"
      << "cell  seeds  loss mean +- sd   [min, max]          accuracy mean +- sd  [min, max]\n";
  for (const auto& [cell, bests] : results) {
    std::vector<double> losses, accuracies;
    for (const auto& best : bests)
      if (std::isfinite(best.loss)) {
        losses.push_back(best.loss);
        accuracies.push_back(100 * best.accuracy);
      }
    if (losses.empty()) {
      std::printf("%-5s %5d  no trial of this cell ran its whole budget\n", cell.c_str(), 0);
      continue;
    }
    const Spread loss = spread_of(losses), accuracy = spread_of(accuracies);
    std::printf("%-5s %5zu  %.4f +- %.4f  [%.4f, %.4f]    %5.1f%% +- %4.1f   [%.1f%%, %.1f%%]\n",
                cell.c_str(), losses.size(), loss.mean, loss.deviation, loss.low, loss.high,
                accuracy.mean, accuracy.deviation, accuracy.low, accuracy.high);
  }
  std::cout << "\nA difference smaller than the spread across seeds is not a difference.\n";
}
