// One program for one machine and for a cluster (docs/distributed.md): run alone it tunes on
// threads; under `mpirun -np N` rank 0 coordinates and ranks 1 .. N-1 train. The study is
// stored in an SQLite file on rank 0, so a run that is killed (a node lost, the job's time limit)
// continues where it stopped when it is started again.
//
//   build/gcc/examples/hpt_distributed [--study FILE]
//   mpirun -np 8 build/gcc/examples/hpt_distributed --study tuning.db
//   srun build/gcc/examples/hpt_distributed --study tuning.db      (Slurm)
#include <hpt/executors/mpi.hpp>
#include <hpt/hpt.hpp>
#include <hpt/study/sqlite_storage.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>

// A stand-in for a real trainer: each epoch takes half a millisecond and the loss falls towards
// a floor set by the learning rate. save() and restore() let a paused trial resume on any rank.
struct SlowBowl {
  double floor;
  int epoch = 0;

  explicit SlowBowl(const hpt::Config& config)
      : floor(std::pow(std::log10(config.get<double>("learning_rate")) + 2.5, 2) +
              0.01 * config.get<int>("minibatch_size") / 64.0) {}

  hpt::Metrics step() {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    ++epoch;
    return {.objective = floor + 1.0 / epoch};
  }
  void save(std::ostream& out) const { out << epoch; }
  void restore(std::istream& in) { in >> epoch; }
};

int main(int argc, char** argv) {
  hpt::mpi::Session mpi(argc, argv);  // MPI_Init_thread ... MPI_Finalize
  std::string file;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--study") file = argv[i + 1];

  const hpt::SearchSpace space{hpt::log_uniform("learning_rate", 1e-5, 1e-1),
                               hpt::ordinal("minibatch_size", {16, 32, 64, 128})};
  hpt::StudyOptions options{.seed = 7, .name = "bowl", .workers = 2};
  // The storage lives on rank 0, which alone reads and writes the study.
  if (!file.empty() && mpi.coordinator()) options.storage = hpt::sqlite_storage(file);

  const auto study = hpt::mpi::tune<SlowBowl>(space, hpt::Hyperband{.max_resource = 27},
                                              hpt::Patience{.patience = 3}, options);
  if (!study) return 0;  // a worker rank: rank 0 has the study
  std::cout << "ranks: " << mpi.ranks() << " (" << (mpi.ranks() > 1 ? "MPI" : "threads") << "); "
            << study->status_summary() << "\nbest: " << study->best().config << " -> "
            << study->best().result() << '\n';
  return study->best().result() < 0.2 ? 0 : 1;
}
