// Trials in parallel: the same Hyperband study on 1 and on 4 workers gives the same study, and a
// stop request ends one cleanly, keeping every finished trial.
#include <hpt/hpt.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <iostream>
#include <stop_token>
#include <thread>

// A stand-in for a real trainer: each step (an "epoch") takes a millisecond of wall time and the
// loss falls towards a floor set by the learning rate.
struct SlowBowl {
  double floor;
  int epoch = 0;

  explicit SlowBowl(const hpt::Config& config)
      : floor(std::pow(std::log10(config.get<double>("learning_rate")) + 2.5, 2)) {}

  hpt::Metrics step() {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++epoch;
    return {.objective = floor + 1.0 / epoch};
  }
};

// Stops the study once `after` trials have ended (observers run on the calling thread only).
struct StopAfter {
  std::stop_source* source;
  std::size_t after;
  std::size_t ended = 0;
  void on_trial_end(const hpt::Trial&) {
    if (++ended == after) source->request_stop();
  }
};

int main() {
  const hpt::SearchSpace space{hpt::log_uniform("learning_rate", 1e-5, 1e-1)};
  const hpt::Hyperband strategy{.max_resource = 27};
  const auto policy = hpt::Patience{.patience = 3} | hpt::Divergence{};

  const auto one = hpt::tune<SlowBowl>(space, strategy, policy, {.seed = 7});
  const auto four = hpt::tune<SlowBowl>(space, strategy, policy, {.seed = 7, .workers = 4});
  std::cout << "1 worker:  " << one.status_summary() << " in " << one.wall_seconds() << " s\n"
            << "4 workers: " << four.status_summary() << " in " << four.wall_seconds() << " s\n"
            << "same best trial: " << (one.best().id == four.best().id ? "yes" : "NO") << " ("
            << one.best().config << ")\n";

  std::stop_source source;
  StopAfter stop_after{&source, 10};
  const auto stopped = hpt::tune<SlowBowl>(
      space, strategy, policy, {.seed = 7, .workers = 4, .stop = source.get_token()}, stop_after);
  std::cout << "stopped after 10 trials ended: " << stopped.status_summary()
            << (stopped.interrupted() ? " (interrupted)" : "") << '\n';
  return one.best().id == four.best().id && stopped.interrupted() ? 0 : 1;
}
