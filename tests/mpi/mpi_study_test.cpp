// hpt::mpi::tune under mpirun (tests/CMakeLists.txt runs this program with -np 4 and -np 8):
// over real MPI ranks, studies equal the thread pool's for the order-independent strategies, with
// trials that move and trials that stay; a study rule is judged on rank 0; an SQLite storage on
// rank 0 only; rank 0 makes no trainable and several worker ranks make some; ranks of another study
// are refused on both sides, and the run goes on. Every rank runs the same test cases in the same
// order (a case must not leave before its tune() calls: CHECK, never REQUIRE, before them);
// assertions are made on rank 0, where the study is.
#include <catch2/catch.hpp>
#include <hpt/executors/mpi.hpp>
#include <hpt/hpt.hpp>
#include <hpt/study/sqlite_storage.hpp>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exception_message.hpp"
#include "parallel_support.hpp"
#include "resume_support.hpp"
#include "study_difference.hpp"

// This rank and the number of ranks (tests/mpi/main.cpp sets them).
int rank = -1;
int ranks = 0;

namespace {

std::atomic<int> made{0};  // trainables made on this rank

/// A resume_support learner whose steps take 0-50 microseconds (a seeded hash of the
/// configuration and the step), so that results reach rank 0 in orders no schedule decides.
template <class Base>
class Jittered : public Base {
 public:
  explicit Jittered(const hpt::Config& config) : Base(config), key_(test_support::key_of(config)) {
    ++made;
  }
  hpt::Metrics step() {
    test_support::jitter(test_support::mix(key_ ^ static_cast<std::uint64_t>(this->steps_)), 50);
    return Base::step();
  }

 private:
  std::uint64_t key_;
};
using Staying = Jittered<test_support::Learner>;
using Moving = Jittered<test_support::CheckpointedLearner>;

const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0).grid(8),
                             hpt::uniform("y", 0.0, 1.0).grid(3)};

/// How many trainables each rank made (on rank 0; empty elsewhere).
std::vector<int> gather_made() {
  const int mine = made.exchange(0);
  std::vector<int> all(static_cast<std::size_t>(ranks));
  MPI_Gather(&mine, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (rank != 0) all.clear();
  return all;
}

template <class T, class Strategy, class Policy>
void check_equals_pool(const std::string& label, const Strategy& strategy, const Policy& policy,
                       hpt::StudyOptions options) {
  INFO(label << " on " << ranks << " ranks against the thread pool");
  const std::optional<hpt::Study> study = hpt::mpi::tune<T>(space, strategy, policy, options);
  const std::vector<int> made_by_rank = gather_made();
  CHECK(study.has_value() == (rank == 0));
  if (rank != 0 || !study) return;
  options.workers = 2;
  const hpt::Study pool = hpt::tune<T>(space, strategy, policy, options);
  made = 0;
  CHECK(test_support::study_difference(pool, *study) == "");
  // Rank 0 trains nothing; the work is spread (a small study need not reach every rank).
  CHECK(made_by_rank[0] == 0);
  int working = 0;
  for (int worker = 1; worker < ranks; ++worker)
    if (made_by_rank[static_cast<std::size_t>(worker)] > 0) ++working;
  CHECK(working >= 2);
}

template <class T, class Policy>
void check_strategies(const char* name, const Policy& policy) {
  const std::string label = name;
  check_equals_pool<T>(label + ", grid", hpt::GridSearch{.max_resource = 6}, policy, {.seed = 1});
  check_equals_pool<T>(label + ", random", hpt::RandomSearch{.trials = 60, .max_resource = 6},
                       policy, {.seed = 2});
  check_equals_pool<T>(
      label + ", successive halving",
      hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9}, policy,
      {.seed = 3});
  check_equals_pool<T>(label + ", Hyperband", hpt::Hyperband{.max_resource = 27}, policy,
                       {.seed = 4});
}

}  // namespace

TEST_CASE("a study over MPI ranks equals the thread pool's", "[mpi]") {
  check_strategies<Moving>("moving", hpt::NoStopping{});
  check_strategies<Moving>("moving, Patience | Divergence",
                           hpt::Patience{.patience = 2} | hpt::Divergence{});
  check_strategies<Staying>("staying, Patience | Divergence",
                            hpt::Patience{.patience = 2} | hpt::Divergence{});
  check_equals_pool<Moving>(
      "maximize, best step", hpt::Hyperband{.max_resource = 9}, hpt::Patience{.patience = 1},
      {.direction = hpt::maximize, .seed = 5, .result = hpt::TrialResult::best_step});
}

TEST_CASE("a study rule is judged on rank 0", "[mpi]") {
  const hpt::MedianStopping median{.startup_trials = 3, .warmup_steps = 1};
  check_equals_pool<Moving>("random, MedianStopping",
                            hpt::RandomSearch{.trials = 30, .max_resource = 8}, median,
                            {.seed = 6, .reproducible_lag = 4});
  check_equals_pool<Staying>("Hyperband, MedianStopping", hpt::Hyperband{.max_resource = 9}, median,
                             {.seed = 6, .reproducible_lag = 4});
}

TEST_CASE("ASHA over MPI ranks accounts for every trial", "[mpi]") {
  const auto study =
      hpt::mpi::tune<Moving>(space, hpt::Asha{.trials = 60, .min_resource = 1, .max_resource = 27},
                             hpt::NoStopping{}, {.seed = 7});
  (void)gather_made();
  if (rank != 0) return;
  REQUIRE(study);
  CHECK(study->trials().size() == 60);
  for (const auto& trial : study->trials()) CHECK(trial.finished());
}

TEST_CASE("an SQLite storage on rank 0 only: stored, and resumed to the same study", "[mpi]") {
  const hpt::Hyperband hyperband{.max_resource = 9};
  const auto policy = hpt::Patience{.patience = 2};
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("hpt_mpi_study_test_" + std::to_string(ranks) + ".db");
  if (rank == 0) std::filesystem::remove(file);
  hpt::StudyOptions options{.seed = 8, .name = "ranks"};
  // Only rank 0 writes; the workers' options carry no storage (the fingerprint ignores it).
  if (rank == 0) options.storage = hpt::sqlite_storage(file.string());
  const auto stored = hpt::mpi::tune<Moving>(space, hyperband, policy, options);
  (void)gather_made();
  // Again on the finished study: nothing is trained, the stored study comes back.
  options.open = hpt::OpenMode::resume;
  if (rank == 0) options.storage = hpt::sqlite_storage(file.string());
  const auto resumed = hpt::mpi::tune<Moving>(space, hyperband, policy, options);
  const std::vector<int> made_again = gather_made();
  if (rank != 0) return;
  const hpt::Study plain =
      hpt::tune<Moving>(space, hyperband, policy, {.seed = 8, .name = "ranks"});
  REQUIRE(stored);
  REQUIRE(resumed);
  CHECK(test_support::study_difference(plain, *stored) == "");
  CHECK(test_support::study_difference(plain, *resumed) == "");
  for (const int count : made_again) CHECK(count == 0);
  std::filesystem::remove(file);
}

TEST_CASE("ranks of another study are refused on both sides; the next study runs", "[mpi]") {
  const hpt::GridSearch grid{.max_resource = 3};
  const hpt::SearchSpace other{hpt::uniform("x", 0.0, 2.0).grid(8),
                               hpt::uniform("y", 0.0, 1.0).grid(3)};
  std::string error;
  try {
    (void)hpt::mpi::tune<Moving>(rank == 2 ? other : space, grid, hpt::NoStopping{}, {});
  } catch (const std::exception& thrown) {
    error = thrown.what();
  }
  if (rank == 0)
    CHECK_THAT(error, Catch::StartsWith("hpt::wire: rank 2 on \"") &&
                          Catch::Contains("start every rank from the same program"));
  else if (rank == 2)
    CHECK_THAT(error, Catch::StartsWith("hpt::wire: the coordinator runs hpt"));
  else  // told why by rank 0
    CHECK_THAT(error, Catch::StartsWith("hpt: the coordinator (rank 0) ended the study: "
                                        "hpt::wire: rank 2 on \""));
  (void)gather_made();
  // What the refused run left unread stays on its own communicator.
  check_equals_pool<Moving>("after a refused run", grid, hpt::NoStopping{}, {.seed = 11});
}
