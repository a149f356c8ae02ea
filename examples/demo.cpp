// hpt's demo: Hyperband tunes the reference MLP on the 8x8 handwritten digits (data/digits.csv)
// over learning rate, minibatch size, width, depth, dropout and L2, with early stopping and
// divergence detection; then it prints the leaderboard and the best configuration, retrains that
// configuration (same seed: the same weights as in the study) and reports its test accuracy.
//
//   hpt_demo                 the full study (Hyperband up to 81 epochs; about 20 s on two cores)
//   hpt_demo --quick         a small one (up to 9 epochs), as the tests run it
//   hpt_demo --study FILE    stores the study in the SQLite file FILE as it runs: interrupt it
//                            (Ctrl-C, or kill -9) and run the same command again, and it continues
//                            where it stopped; once finished, it is shown again without running
//   --stop-after N           stops cleanly after N trials have ended (as Ctrl-C does)
// scripts/demo.sh runs it with --study build/demo.db.
#include <hpt/data/digits.hpp>
#include <hpt/hpt.hpp>
#include <hpt/trainers/mlp_trainer.hpp>
#if HPT_EXAMPLE_SQLITE
#include <hpt/study/sqlite_storage.hpp>
#endif

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

namespace {

/// Asks the study to stop once `after` trials have ended (0: never).
struct StopAfter {
  std::stop_source* source;
  std::size_t after;
  std::size_t ended = 0;
  void on_trial_end(const hpt::Trial&) {
    if (after > 0 && ++ended == after) source->request_stop();
  }
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string file;
  std::size_t stop_after = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--study" && i + 1 < argc) {
      file = argv[++i];
    } else if (arg == "--stop-after" && i + 1 < argc) {
      stop_after = std::stoul(argv[++i]);
    } else {
      std::cerr << "usage: hpt_demo [--quick] [--study FILE] [--stop-after N]\n";
      return 2;
    }
  }
  using Digits = hpt::data::Dataset<float>;
  using hpt::data::Stratify;

  // 1,797 images: a fifth held out for the final test, a fifth of the rest for validation.
  const Digits digits =
      hpt::data::load_digits<float>(hpt::data::default_digits_path(), hpt::data::PixelScale::unit);
  const auto [rest, test] = digits.split(0.2, 1, Stratify::yes);
  const auto data =
      std::make_shared<const hpt::data::DatasetSplit<Digits>>(rest.split(0.2, 2, Stratify::yes));
  std::cout << "Digits: " << data->train.size() << " training, " << data->validation.size()
            << " validation, " << test.size() << " test images\n\n";

  const hpt::SearchSpace space{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::ordinal("minibatch_size", {1, 2, 4, 8, 16, 32, 64, 128, 256}),
      hpt::int_range("hidden_units", 16, 256, hpt::log_scale),
      hpt::int_range("layers", 1, 3),
      hpt::uniform("dropout", 0.0, 0.5),
      hpt::log_uniform("l2", 1e-6, 1e-2),
  };
  // Settings the study does not search; every trial starts from the same seed, so trials
  // differ by their hyperparameters only.
  const hpt::models::MlpTrainerSettings fixed{.momentum = 0.9, .seed = 7};
  auto make_trainer = [&](const hpt::Config& config) {
    return hpt::models::MlpTrainer<float>(config, data, fixed);
  };
  const hpt::Hyperband strategy{.max_resource = quick ? 9 : 81, .reduction_factor = 3};
  std::cout << "Search space:\n"
            << space << "\nSchedule (resource = epochs):\n"
            << strategy.schedule() << '\n';

  // Early stopping on the validation loss, and each trial's best epoch as its result (Keras's
  // restore_best_weights; Hyperband then ranks its rungs by the best epoch so far too).
  std::stop_source stop;
  hpt::StudyOptions options{.direction = hpt::minimize,
                            .seed = 42,
                            .result = hpt::TrialResult::best_step,
                            .name = quick ? "digits MLP (quick)" : "digits MLP",
                            .checkpoint_paused = true,
                            .stop = stop.get_token(),
                            .stop_on_interrupt = true};
  if (!file.empty()) {
#if HPT_EXAMPLE_SQLITE
    // What the file holds already decides what this run does: nothing there, a study to
    // continue, or a finished one to show again.
    if (std::filesystem::exists(file)) {
      auto stored = hpt::SqliteStorage(file);
      for (const auto& name : stored.study_names()) {
        if (name != options.name) continue;
        const auto log = stored.read_study(name);
        const auto found = hpt::read_stored_study(log.identity, log.events);
        std::cout << (found.finished ? "Found the finished study \"" : "Resuming the study \"")
                  << name << "\" in " << file << ": " << found.study.trials().size()
                  << " trials stored (" << found.study.status_summary() << ")"
                  << (found.finished ? "; showing it without running anything" : "; continuing")
                  << "\n\n";
      }
    }
    options.storage = hpt::sqlite_storage(file);
#else
    std::cerr << "hpt_demo: --study needs hpt built with SQLite (libsqlite3-dev)\n";
    return 2;
#endif
  }

  hpt::ConsoleReporter reporter;
  StopAfter stopper{&stop, stop_after};
  const auto study = hpt::tune(space, make_trainer, strategy,
                               hpt::Patience{.patience = 5, .min_delta = 1e-4} | hpt::Divergence{},
                               options, reporter, stopper);

  std::cout << '\n' << study.status_summary() << " in " << study.wall_seconds() << " s\n";
  if (study.interrupted()) {
    std::cout << "Stopped before the end";
    if (!file.empty())
      std::cout << ": every finished trial is in " << file
                << "; run the same command again to continue";
    std::cout << '\n';
    return 0;
  }
  if (!file.empty())
    std::cout << "Stored in " << file << " (see it with: hpt leaderboard " << file << " '"
              << options.name << "')\n";
  std::cout << '\n';
  study.print_leaderboard(std::cout, 10);
  const auto& best = study.best();
  double best_accuracy = 0;
  for (const auto& point : best.curve)
    if (point.step == best.result_step())
      for (const auto& [name, value] : point.values)
        if (name == "validation_accuracy") best_accuracy = value;
  std::cout << "\nBest configuration: " << best.config << "\nvalidation loss " << best.result()
            << ", validation accuracy " << 100 * best_accuracy << "% after " << best.result_step()
            << " epochs (trial " << best.id << ")\n";

  // The same configuration and seed train to the same weights: retrain to the best epoch and
  // measure the held-out test set once.
  hpt::models::MlpTrainer<float> final_trainer(best.config, data, fixed);
  hpt::Metrics last;
  for (std::int64_t epoch = 0; epoch < best.result_step(); ++epoch) last = final_trainer.step();
  const auto result = final_trainer.evaluate(test);
  std::cout << "Retrained: validation loss " << last.objective
            << (last.objective == best.result() ? " (the study's, reproduced exactly)"
                                                : " (differs from the study's!)")
            << "\nTest accuracy " << 100 * result.accuracy << "% (" << test.size()
            << " images), test loss " << result.loss << '\n';
  return last.objective == best.result() && std::isfinite(result.loss) ? 0 : 1;
}
