// A durable study: Hyperband writes every finished job to an SQLite file, a stop request (here
// after 20 trials; Ctrl-C or a crash would do the same) ends the first run, and the second run
// of the same program resumes it from the file and finishes it. The resumed study equals the
// study of a run that was never stopped.
#include <hpt/hpt.hpp>
#include <hpt/study/sqlite_storage.hpp>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <istream>
#include <ostream>
#include <stop_token>

// A stand-in for a real trainer whose state save() and restore() carry, so that a trial paused
// by Hyperband continues after a resume instead of training again.
struct Bowl {
  double floor;
  int epoch = 0;

  explicit Bowl(const hpt::Config& config)
      : floor(std::pow(std::log10(config.get<double>("learning_rate")) + 2.5, 2)) {}
  hpt::Metrics step() {
    ++epoch;
    return {.objective = floor + 1.0 / epoch};
  }
  void save(std::ostream& out) const { out << epoch; }
  void restore(std::istream& in) { in >> epoch; }
};

// Stops the study once `after` trials have ended.
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
  const auto file = std::filesystem::temp_directory_path() / "hpt_example_resume.db";
  std::filesystem::remove(file);

  std::stop_source stop;
  StopAfter stop_after{&stop, 20};
  const hpt::Study first = hpt::tune<Bowl>(
      space, strategy, hpt::NoStopping{},
      {.seed = 7, .name = "bowl", .stop = stop.get_token(), .storage = hpt::sqlite_storage(file)},
      stop_after);
  std::cout << "first run: stopped = " << first.interrupted() << ", " << first.status_summary()
            << '\n';

  // The same call without the stop: it finds the study in the file and continues it.
  const hpt::Study resumed =
      hpt::tune<Bowl>(space, strategy, hpt::NoStopping{},
                      {.seed = 7, .name = "bowl", .storage = hpt::sqlite_storage(file)});
  const hpt::Study whole = hpt::tune<Bowl>(space, strategy, hpt::NoStopping{}, {.seed = 7});
  std::cout << "resumed:   " << resumed.status_summary() << "; best trial " << resumed.best().id
            << ", the same as a run never stopped: "
            << (resumed.best().id == whole.best().id &&
                resumed.best().result() == whole.best().result())
            << '\n';
  std::filesystem::remove(file);
  return resumed.best().id == whole.best().id ? 0 : 1;
}
