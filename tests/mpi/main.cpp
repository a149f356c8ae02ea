// The MPI tests' main: MPI for the whole run, then Catch on every rank (tests/mpi/*_test.cpp
// explain why every rank runs every case).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <hpt/executors/mpi.hpp>

#include <iostream>

extern int rank;
extern int ranks;

int main(int argc, char** argv) {
  hpt::mpi::Session mpi(argc, argv);
  rank = mpi.rank();
  ranks = mpi.ranks();
  if (ranks < 3) {
    if (rank == 0) std::cerr << "mpi_study_test: run it with mpirun -np 3 or more\n";
    return 2;
  }
  Catch::Session session;
  if (const int invalid = session.applyCommandLine(argc, argv); invalid != 0) return invalid;
  const int failed = session.run();
  // Any rank's failure fails the run (mpirun exits with a failed rank's code).
  return failed == 0 ? 0 : 1;
}
