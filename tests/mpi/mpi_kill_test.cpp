// One run of the MPI kill test (tests/mpi/mpi_kill_test.sh runs it under mpirun): a study with an
// SQLite storage on rank 0; with --kill-rank R --kill-after K, rank R SIGKILLs itself at its K-th
// step, which is kill -9 at a moment no one chose (mpirun then tears the job down, which takes
// about a second: the other ranks go on meanwhile); with --kill-coordinator yes it SIGKILLs rank
// 0 first (same machine), so that the stored study ends at that very moment. Run again
// without them, the study resumes from the file; once it is finished, rank 0 compares it with an
// uninterrupted study of the same seed and exits 0 only if they are equal; it also says how many
// of the study's steps this run trained (fewer when it resumed).
//
//   mpi_kill_test --file F --strategy grid|random|halving|hyperband --seed S
//                 [--kill-rank R --kill-after K [--kill-coordinator yes]]
#include <hpt/executors/mpi.hpp>
#include <hpt/hpt.hpp>
#include <hpt/study/sqlite_storage.hpp>

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "resume_support.hpp"
#include "study_difference.hpp"

namespace {

int kill_rank = -1;
long kill_after = 0;
bool kill_coordinator = false;  // rank 0 dies with the victim: the job's end at that moment
int coordinator_pid = 0;
long steps_here = 0;

/// resume_support's checkpointed learner (paused trials move between ranks), with steps of a few
/// hundred microseconds so that kills land in the middle of the study.
class Victim : public test_support::CheckpointedLearner {
 public:
  using CheckpointedLearner::CheckpointedLearner;
  hpt::Metrics step() {
    if (++steps_here == kill_after && kill_rank >= 0) {
      if (kill_coordinator) ::kill(coordinator_pid, SIGKILL);
      std::raise(SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    return CheckpointedLearner::step();
  }
};

const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(8),
                             hpt::uniform("y", 0.0, 1.0).grid(3)};

template <class Strategy>
int run(const Strategy& strategy, const std::string& file, std::uint64_t seed, int rank) {
  const auto policy = hpt::Patience{.patience = 3};
  coordinator_pid = static_cast<int>(::getpid());
  MPI_Bcast(&coordinator_pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  hpt::StudyOptions options{.seed = seed, .name = "killed"};
  if (rank == 0) options.storage = hpt::sqlite_storage(file);
  const std::optional<hpt::Study> study = hpt::mpi::tune<Victim>(space, strategy, policy, options);
  // The steps this run trained, over all ranks: fewer than the study's when it resumed.
  long trained = 0;
  MPI_Reduce(&steps_here, &trained, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank != 0) return 0;
  kill_rank = -1;  // the uninterrupted study is run here, on rank 0, to the end
  const hpt::Study plain =
      hpt::tune<Victim>(space, strategy, policy, {.seed = seed, .name = "killed"});
  long steps = 0;
  for (const auto& trial : plain.trials()) steps += trial.resource;
  const std::string difference = test_support::study_difference(plain, *study);
  if (!difference.empty()) {
    std::cerr << "mpi_kill_test: the resumed study differs from the uninterrupted one: "
              << difference << "\n";
    return 1;
  }
  std::cout << "mpi_kill_test: equal to the uninterrupted study (" << study->trials().size()
            << " trials); trained " << trained << " of its " << steps << " steps\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    hpt::mpi::Session mpi(argc, argv);
    std::string file, strategy;
    std::uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string_view flag = argv[i];
      const std::string value = argv[i + 1];
      if (flag == "--file")
        file = value;
      else if (flag == "--strategy")
        strategy = value;
      else if (flag == "--seed")
        seed = std::stoull(value);
      else if (flag == "--kill-rank")
        kill_rank = std::stoi(value);
      else if (flag == "--kill-after")
        kill_after = std::stol(value);
      else if (flag == "--kill-coordinator")
        kill_coordinator = value == "yes";
      else
        throw std::invalid_argument("unknown option " + std::string(flag));
    }
    if (file.empty()) throw std::invalid_argument("--file is missing");
    if (kill_rank != mpi.rank()) kill_rank = -1;
    if (strategy == "grid") return run(hpt::GridSearch{.max_resource = 9}, file, seed, mpi.rank());
    if (strategy == "random")
      return run(hpt::RandomSearch{.trials = 40, .max_resource = 9}, file, seed, mpi.rank());
    if (strategy == "halving")
      return run(hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
                 file, seed, mpi.rank());
    if (strategy == "hyperband")
      return run(hpt::Hyperband{.max_resource = 27}, file, seed, mpi.rank());
    throw std::invalid_argument("--strategy: unknown strategy '" + strategy + "'");
  } catch (const std::exception& error) {
    std::cerr << "mpi_kill_test: " << error.what() << "\n";
    return 2;
  }
}
