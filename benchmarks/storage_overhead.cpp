/// @file storage_overhead.cpp
/// @brief What hpt's SQLite study storage costs per trial and per reported step, with the trivial
/// trainable of engine_overhead.cpp, for random search (27 steps), successive halving and
/// Hyperband at 1e3 and 1e4 trials, beside the same studies without a storage; and how long a
/// stored study of 1e5 trials takes to reopen and resume.
///
/// One benchmark iteration is one whole study written to a fresh SQLite file: from opening the
/// file (hpt::sqlite_storage, which creates the schema) through hpt::tune() to the destruction of
/// the returned Study and of the storage (the connection closes, SQLite checkpoints its WAL).
/// The file lives in a directory of its own under std::filesystem::temp_directory_path() (so
/// TMPDIR chooses the file system); it is removed after each iteration with the timers paused.
/// Variants:
///   memory      - no storage (StudyOptions::storage empty): engine_overhead.cpp's baseline;
///   sqlite      - hpt::sqlite_storage(file), SqliteSync::normal (the default);
///   sqlite_full - SqliteSync::full (an fsync per transaction), random search at 1e3 only.
/// Time is wall-clock time (UseRealTime: a storage's cost is partly waiting for the disk) and
/// process CPU time (MeasureProcessCPUTime: SQLite's lease heartbeat runs on a thread of its own).
/// Counters:
///   trials, steps        - per study (the same in every iteration: the seed is fixed);
///   seconds_per_trial    - wall time / trials;
///   seconds_per_step     - wall time / reported steps.
/// The CPU time per trial is cpu_time / trials (benchmarks/compare_storage.py computes it).
///
/// BM_ReopenResume: a finished random-search study of N trials of 3 steps each is written once per
/// process (outside the timing); one iteration opens the file and resumes the study with the
/// options that wrote it: the stored log is read and folded into a fresh scheduler, and nothing
/// runs. Counters: events (rows of the log), seconds (per reopen), events_per_second. The file is
/// in the page cache: this is the cost of reading and replaying the log, not of a cold disk.
///
/// benchmarks/optuna_storage_overhead.py runs the same schedules with Optuna 3.1 on its SQLite
/// RDB storage and its journal file storage; benchmarks/compare_storage.py puts both side by side
/// (see docs/performance.md, "Storage overhead").

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include "build_context.hpp"
#include "overhead_support.hpp"
#include "temporary_directory.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "hpt/engine/tune.hpp"
#include "hpt/scheduling/detail/halving_bracket.hpp"
#include "hpt/scheduling/fixed_budget.hpp"
#include "hpt/scheduling/hyperband.hpp"
#include "hpt/scheduling/successive_halving.hpp"
#include "hpt/space/hyperparameter.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/study/sqlite_storage.hpp"

namespace {

/// Steps per trial of the study BM_ReopenResume reopens ("few steps": the log is mostly trials).
constexpr std::int64_t resume_steps_per_trial = 3;
constexpr std::uint64_t seed = 42;

using namespace hpt_bench::overhead;

using hpt_bench::TemporaryDirectory;

enum class Backend { memory, sqlite, sqlite_full };

std::shared_ptr<hpt::Storage> open_storage(Backend backend, const std::filesystem::path& file) {
  switch (backend) {
    case Backend::memory:
      return nullptr;
    case Backend::sqlite:
      return hpt::sqlite_storage(file);
    case Backend::sqlite_full:
      return hpt::sqlite_storage(file, hpt::SqliteOptions{.synchronous = hpt::SqliteSync::full});
  }
  return nullptr;
}

/// Runs one study per iteration, into a fresh SQLite file unless `backend` is memory, and sets
/// the counters from it. Only the removal of the file is outside the timing.
template <class Strategy>
void run(benchmark::State& state, Backend backend, const Strategy& strategy) {
  const TemporaryDirectory directory;
  const std::string name = "study.db";
  std::size_t trials = 0;
  std::int64_t steps = 0;
  for (auto _ : state) {
    {
      const hpt::Study study =
          hpt::tune<Quadratic>(space(), strategy, hpt::NoStopping{},
                               {.seed = seed,
                                .name = "bench",
                                .storage = open_storage(backend, directory.path() / name)});
      trials = study.trials().size();
      steps = total_steps(study);
      benchmark::DoNotOptimize(study.trials().data());
    }  // the Study holds the storage: both are destroyed inside the timing
    if (backend != Backend::memory) {
      state.PauseTiming();
      directory.remove(name);
      state.ResumeTiming();
    }
  }
  set_counters(state, trials, steps);
}

std::size_t trials_argument(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

void BM_RandomSearch(benchmark::State& state, Backend backend) {
  run(state, backend,
      hpt::RandomSearch{.trials = trials_argument(state), .max_resource = steps_per_trial});
}

void BM_SuccessiveHalving(benchmark::State& state, Backend backend) {
  run(state, backend,
      hpt::SuccessiveHalving{.configurations = trials_argument(state),
                             .min_resource = 1,
                             .max_resource = steps_per_trial,
                             .reduction_factor = 3});
}

void BM_Hyperband(benchmark::State& state, Backend backend) {
  run(state, backend,
      RepeatedHyperband{.hyperband = hyperband_27,
                        .iterations = hyperband_iterations(trials_argument(state))});
}

hpt::RandomSearch resume_strategy(std::size_t trials) {
  return {.trials = trials, .max_resource = resume_steps_per_trial};
}

/// Rows of the `events` table of an hpt SQLite file (read with SQLite itself, outside the timing).
std::int64_t count_events(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  std::int64_t count = -1;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &statement, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW)
      count = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
  }
  sqlite3_close_v2(db);
  if (count < 0)
    throw std::runtime_error("storage_overhead: cannot count the events of " + file.string());
  return count;
}

/// Finished studies of N trials for BM_ReopenResume, written once per process (Google Benchmark
/// calls a benchmark function several times) and removed at exit.
struct StoredStudy {
  std::filesystem::path file;
  std::int64_t events = 0;
};

const StoredStudy& stored_study(std::size_t trials) {
  static const TemporaryDirectory directory;
  static std::map<std::size_t, StoredStudy> studies;
  if (const auto found = studies.find(trials); found != studies.end()) return found->second;
  StoredStudy stored{directory.path() / ("resume_" + std::to_string(trials) + ".db"), 0};
  {
    const hpt::Study study = hpt::tune<Quadratic>(
        space(), resume_strategy(trials), hpt::NoStopping{},
        {.seed = seed, .name = "bench", .storage = hpt::sqlite_storage(stored.file)});
    if (study.trials().size() != trials)
      throw std::runtime_error("storage_overhead: the stored study has " +
                               std::to_string(study.trials().size()) + " trials, not " +
                               std::to_string(trials));
  }
  stored.events = count_events(stored.file);
  return studies.emplace(trials, std::move(stored)).first->second;
}

void BM_ReopenResume(benchmark::State& state) {
  const std::size_t trials = trials_argument(state);
  const StoredStudy* stored = nullptr;
  try {
    stored = &stored_study(trials);
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  std::size_t resumed = 0;
  for (auto _ : state) {
    const hpt::Study study = hpt::tune<Quadratic>(
        space(), resume_strategy(trials), hpt::NoStopping{},
        {.seed = seed, .name = "bench", .storage = hpt::sqlite_storage(stored->file)});
    resumed = study.trials().size();
    benchmark::DoNotOptimize(study.trials().data());
  }
  if (resumed != trials) {
    state.SkipWithError("the resumed study does not have the stored trials");
    return;
  }
  using benchmark::Counter;
  state.counters["trials"] = static_cast<double>(trials);
  state.counters["events"] = static_cast<double>(stored->events);
  state.counters["seconds"] = Counter(1.0, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["events_per_second"] =
      Counter(static_cast<double>(stored->events), Counter::kIsIterationInvariantRate);
}

void timing(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("trials")->UseRealTime()->MeasureProcessCPUTime()->Unit(
      benchmark::kMillisecond);
}

void trial_counts(benchmark::internal::Benchmark* benchmark) {
  timing(benchmark);
  benchmark->Arg(1000)->Arg(10000);
}

BENCHMARK_CAPTURE(BM_RandomSearch, memory, Backend::memory)->Apply(trial_counts);
BENCHMARK_CAPTURE(BM_RandomSearch, sqlite, Backend::sqlite)->Apply(trial_counts);
BENCHMARK_CAPTURE(BM_RandomSearch, sqlite_full, Backend::sqlite_full)->Apply(timing)->Arg(1000);
BENCHMARK_CAPTURE(BM_SuccessiveHalving, memory, Backend::memory)->Apply(trial_counts);
BENCHMARK_CAPTURE(BM_SuccessiveHalving, sqlite, Backend::sqlite)->Apply(trial_counts);
BENCHMARK_CAPTURE(BM_Hyperband, memory, Backend::memory)->Apply(trial_counts);
BENCHMARK_CAPTURE(BM_Hyperband, sqlite, Backend::sqlite)->Apply(trial_counts);
BENCHMARK(BM_ReopenResume)->Apply(timing)->Arg(1000)->Arg(10000)->Arg(100000);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::AddCustomContext("trainable", "Quadratic: one line of arithmetic per step");
  benchmark::AddCustomContext("storage_directory", std::filesystem::temp_directory_path().string());
  benchmark::AddCustomContext("sqlite", sqlite3_libversion());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
