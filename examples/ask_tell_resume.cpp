// Your own training loop on a stored study: hpt::AskTell writes each job's end as it happens, a
// loop that dies with a job out (here an exception; a kill -9 would do the same) leaves that job
// to run again, and a new AskTell on the same storage resumes the study and finishes it. The
// resumed study equals the study of a loop never interrupted. With
// hpt::sqlite_storage("file.db") instead of a MemoryStorage, the study outlives the process too.
#include <hpt/hpt.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

// A stand-in for a real model: its loss after each epoch depends on its learning rate.
struct Model {
  double floor;
  int epoch = 0;

  explicit Model(const hpt::Config& config)
      : floor(std::pow(std::log10(config.get<double>("learning_rate")) + 2.5, 2)) {}
  double train_one_epoch() { return floor + 1.0 / ++epoch; }
};

// Runs the study's jobs; once `crash_after` jobs have ended, throws with the next one out.
template <class Study>
void train(Study& study, std::size_t crash_after = std::numeric_limits<std::size_t>::max()) {
  std::map<std::size_t, Model> models;  // a paused trial's model, until it is resumed
  for (std::size_t jobs = 0; auto job = study.ask(); ++jobs) {
    if (job->steps_done == 0 || job->catch_up) {  // new, or trained before the resume
      Model model(job->config);
      for (std::int64_t step = 0; step < job->steps_done; ++step) model.train_one_epoch();
      models.insert_or_assign(job->trial, model);
    }
    Model& model = models.at(job->trial);
    if (jobs == crash_after) throw std::runtime_error("the loop crashed with a job out");
    while (study.report(job->trial, model.train_one_epoch())) {
    }
  }
}

int main() {
  const hpt::SearchSpace space{hpt::log_uniform("learning_rate", 1e-5, 1e-1)};
  const hpt::Hyperband strategy{.max_resource = 27};
  const hpt::StudyOptions options{
      .seed = 7, .name = "bowl", .storage = std::make_shared<hpt::MemoryStorage>(true)};
  try {
    hpt::AskTell study(space, strategy, hpt::NoStopping{}, options);
    train(study, 40);
  } catch (const std::runtime_error& crash) {  // the AskTell is gone: its session ended
    std::cout << "first loop: " << crash.what() << '\n';
  }
  hpt::AskTell resumed(space, strategy, hpt::NoStopping{}, options);  // resumes "bowl"
  train(resumed);
  const hpt::Study study = resumed.finish();

  hpt::AskTell uninterrupted(space, strategy, hpt::NoStopping{}, {.seed = 7});
  train(uninterrupted);
  const hpt::Study whole = uninterrupted.finish();
  bool same = study.trials().size() == whole.trials().size();
  for (std::size_t i = 0; same && i < whole.trials().size(); ++i)
    same = study.trial(i).status == whole.trial(i).status &&
           study.trial(i).result() == whole.trial(i).result();
  std::cout << "resumed: " << study.status_summary() << "; best trial " << study.best().id
            << ", the same study as a loop never interrupted: " << same << '\n';
  return same ? 0 : 1;
}
