/// @file parallel_speedup.cpp
/// @brief How much faster a CPU-bound study runs on 2 workers than on 1, and how busy the
/// workers are: the reference MlpTrainer on the 8x8 digits under RandomSearch, Hyperband and ASHA,
/// and ASHA with MedianStopping, asynchronous and reproducible (reproducible_lag).
///
/// One benchmark iteration is one whole study (hpt::tune() on a fixed seed, so both worker counts
/// run the same configurations; RandomSearch and Hyperband also do the same work, since their
/// promotions do not depend on the order results arrive in, while ASHA's do). Counters:
///   workers, trials, epochs    - per study (epochs: the steps all trials ran);
///   trials_per_second          - trials / Study::wall_seconds();
///   epochs_per_second          - epochs / Study::wall_seconds() (the fair rate where ASHA's
///                                work differs between runs);
///   utilisation                - sum of Trial::wall_seconds (time in constructors and steps)
///                                / (workers * Study::wall_seconds());
///   cpu_per_busy               - CPU time the trainers' threads got while in constructors and
///                                steps / the same wall time: below 1 when other processes took
///                                the cores from them (a shared machine), whatever the engine does;
///   other_cpu_share            - process CPU time outside the trainers (coordinator, pool,
///                                records) / (workers * Study::wall_seconds());
///   tail_idle_share            - idle worker time after the last moment all workers were busy at
///                                once / (workers * wall): the end of the study, when fewer jobs
///                                are left than workers (the last trials, a final rung);
///   gap_idle_share             - the rest of the idle worker time / (workers * wall): between
///                                jobs (hand-over latency) and waits at rung barriers;
///   process_threads            - the most threads the process had when a trial started: workers
///                                + 1 with the pool, 1 inline, so no trainer ran threads of its
///                                own;
///   trainer_cpu_seconds        - CPU time in the trainers per study (more with 2 workers than
///                                with 1 means the trainers slowed each other: caches, memory),
///                                constructor_cpu_seconds the part in constructors;
///   mean_hidden_units          - hidden units per epoch, averaged over all epochs: what an epoch
///                                costs depends mostly on them, so where ASHA promotes other
///                                trials on 2 workers this shows whether its epochs cost more;
///   minor_faults               - the process's minor page faults per study (fresh memory);
///   foreign_cpu_share          - CPU time other processes used during the study (/proc/stat,
///                                all cores, 10 ms ticks) / (cores * wall): the machine was shared;
///   steal_share                - time the hypervisor gave the VM's cores to others, likewise.
/// The idle shares come from the trainers' own intervals: when the cores are oversubscribed
/// (foreign_cpu_share well above 0), a worker taken off its core between two steps counts as a
/// gap, so read them only on a quiet machine.
/// Real time (UseRealTime), since the work happens on the pool's threads; the process CPU time
/// (MeasureProcessCPUTime) is Google Benchmark's cpu_time.
///
/// One thread per trainer: Eigen is compiled without parallelism here (EIGEN_DONT_PARALLELIZE,
/// and this benchmark is not built with OpenMP), which process_threads confirms at run time.
/// Each trainer is wrapped in a meter that reads its thread's CPU clock and a steady clock around
/// its constructor and every step (two clock reads per epoch of about a millisecond).
///
/// The *Sqlite benchmarks run the same studies with an SQLite storage (a fresh file per study,
/// synchronous=NORMAL): every job's end is committed before the coordinator acts on it, so they
/// show whether the storage serialises the workers. Built only where hpt::sqlite exists.
///
/// benchmarks/compare_parallel.py prints the speedups and utilisations from the JSON output.

#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE  // one thread per trainer, whatever the build's flags
#endif

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "build_context.hpp"
#include "temporary_directory.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "hpt/data/digits.hpp"
#include "hpt/engine/tune.hpp"
#if HPT_BENCH_SQLITE
#include "hpt/study/sqlite_storage.hpp"
#endif
#include "hpt/scheduling/asha.hpp"
#include "hpt/scheduling/fixed_budget.hpp"
#include "hpt/scheduling/hyperband.hpp"
#include "hpt/space/hyperparameter.hpp"
#include "hpt/space/search_space.hpp"
#include "hpt/stopping/median_stopping.hpp"
#include "hpt/trainers/mlp_trainer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Digits = hpt::data::Dataset<float>;
using Split = hpt::data::DatasetSplit<Digits>;

double cpu_seconds(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

/// digits.csv: HPT_DATA_DIR or ./data (hpt::data::default_digits_path), else next to this source.
std::filesystem::path digits_path() {
  const std::filesystem::path path = hpt::data::default_digits_path();
  if (std::filesystem::exists(path)) return path;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "digits.csv";
}

/// The digits as the demo splits them (without the demo's test hold-out): 1,438 training and
/// 359 validation images, loaded once and shared by every trial.
const std::shared_ptr<const Split>& digits() {
  static const std::shared_ptr<const Split> data = [] {
    const Digits all = hpt::data::load_digits<float>(digits_path(), hpt::data::PixelScale::unit);
    return std::make_shared<const Split>(all.split(0.2, 1, hpt::data::Stratify::yes));
  }();
  return data;
}

/// Learning rate, minibatch size and width: an epoch costs about 0.7 ms (32 hidden units) to
/// 2.6 ms (128) on the reference machine, so trials differ in length as real ones do.
const hpt::SearchSpace& space() {
  static const hpt::SearchSpace instance{
      hpt::log_uniform("learning_rate", 1e-3, 1e-1),
      hpt::ordinal("minibatch_size", {16, 32, 64, 128}),
      hpt::ordinal("hidden_units", {32, 64, 128}),
  };
  return instance;
}

const hpt::models::MlpTrainerSettings fixed_settings{.momentum = 0.9, .seed = 7};

/// Where the trainers' time went during one study. Filled from the workers; read after tune().
struct Meter {
  struct Interval {
    double start, end;  // seconds since `origin`
  };
  Clock::time_point origin = Clock::now();
  std::atomic<std::int64_t> trainer_cpu_nanoseconds{0};
  std::atomic<std::int64_t> constructor_cpu_nanoseconds{0};
  std::mutex mutex;
  std::vector<Interval> intervals;  // constructors and steps, from every worker

  [[nodiscard]] double since_origin(Clock::time_point when) const {
    return std::chrono::duration<double>(when - origin).count();
  }
  void record(Clock::time_point start, Clock::time_point end, double cpu_start,
              bool constructor = false) {
    const auto cpu =
        static_cast<std::int64_t>((cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start) * 1e9);
    trainer_cpu_nanoseconds.fetch_add(cpu, std::memory_order_relaxed);
    if (constructor) constructor_cpu_nanoseconds.fetch_add(cpu, std::memory_order_relaxed);
    const std::lock_guard lock(mutex);
    intervals.push_back({since_origin(start), since_origin(end)});
  }
};

/// The reference trainer, with its constructor and steps timed on its own thread.
class MeteredTrainer {
 public:
  MeteredTrainer(const hpt::Config& config, Meter& meter)
      : meter_(meter), trainer_(make(config, meter)) {}

  hpt::Metrics step() {
    const double cpu_start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    const auto start = Clock::now();
    hpt::Metrics metrics = trainer_.step();
    meter_.record(start, Clock::now(), cpu_start);
    return metrics;
  }

 private:
  static hpt::models::MlpTrainer<float> make(const hpt::Config& config, Meter& meter) {
    const double cpu_start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    const auto start = Clock::now();
    hpt::models::MlpTrainer<float> trainer(config, digits(), fixed_settings);
    meter.record(start, Clock::now(), cpu_start, true);
    return trainer;
  }

  Meter& meter_;
  hpt::models::MlpTrainer<float> trainer_;
};

/// The machine's CPU time so far (/proc/stat, all cores): busy (user, nice, system, irq, softirq)
/// and stolen by the hypervisor, in seconds; zeros if unknown.
struct MachineCpu {
  double busy = 0, steal = 0;
};

MachineCpu machine_cpu() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu")
    return {};
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {.busy = (user + nice + system + irq + softirq) / tick, .steal = steal / tick};
}

/// Minor page faults of the process so far (memory the kernel had to map on first touch).
double minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

/// Threads of this process now (Linux: /proc/self/status), or 0 if unknown.
int process_threads() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      int threads = 0;
      status >> threads;
      return threads;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

/// Runs on the coordinator's thread when a trial starts: the most threads seen.
struct ThreadCounter {
  int* most;
  void on_trial_start(const hpt::Trial&) const { *most = std::max(*most, process_threads()); }
};

/// Idle worker-seconds in [0, wall] given the busy intervals: after the last moment when every
/// worker was busy (the tail), and before it (gaps between jobs, barriers).
struct Idle {
  double tail = 0, gaps = 0;
};

Idle idle_time(std::vector<Meter::Interval> intervals, std::size_t workers, double wall) {
  std::vector<std::pair<double, int>> events;
  events.reserve(2 * intervals.size() + 1);
  for (const auto& interval : intervals) {
    events.emplace_back(interval.start, +1);
    events.emplace_back(interval.end, -1);
  }
  std::sort(events.begin(), events.end());  // an end before a start at the same instant
  const auto capacity = static_cast<double>(workers);
  double idle = 0, idle_at_last_full = 0, previous = 0;
  int running = 0;
  for (const auto& [time, change] : events) {
    const double now = std::min(std::max(time, 0.0), wall);
    idle += std::max(0.0, capacity - running) * (now - previous);
    previous = now;
    running += change;
    if (running >= static_cast<int>(workers)) idle_at_last_full = idle;
  }
  idle += std::max(0.0, capacity - running) * (wall - previous);
  return {.tail = idle - idle_at_last_full, .gaps = idle_at_last_full};
}

std::size_t workers_argument(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

/// Runs one study per iteration and sets the counters over all iterations.
/// Where a study is stored: nowhere (the default of tune()) or an SQLite file.
enum class Stored { nowhere, sqlite };

template <class Strategy, class Policy = hpt::NoStopping>
void run(benchmark::State& state, const Strategy& strategy, const Policy& policy = {},
         std::optional<std::size_t> reproducible_lag = std::nullopt,
         Stored stored = Stored::nowhere) {
  const std::size_t workers = workers_argument(state);
  (void)digits();  // loaded before the first timed study
  double wall = 0, busy = 0, trainer_cpu = 0, process_cpu = 0, tail = 0, gaps = 0;
  double machine_busy = 0, steal = 0, elapsed = 0, constructor_cpu = 0, faults = 0;
  double hidden_epochs = 0;  // epochs weighted by the trial's hidden units
  double trials = 0, epochs = 0;
  int threads = 0;
  for (auto _ : state) {
    Meter meter;
    auto factory = [&meter](const hpt::Config& config) {
      return std::make_unique<MeteredTrainer>(config, meter);
    };
    ThreadCounter counter{&threads};
    const double faults_start = minor_faults();
    const MachineCpu machine_start = machine_cpu();
    const double cpu_start = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    std::optional<hpt_bench::TemporaryDirectory> directory;
    std::shared_ptr<hpt::Storage> storage;
#if HPT_BENCH_SQLITE
    if (stored == Stored::sqlite) {
      directory.emplace();
      storage = hpt::sqlite_storage(directory->path() / "study.db");
    }
#else
    (void)stored;
#endif
    meter.origin = Clock::now();
    const hpt::Study study = hpt::tune(
        space(), factory, strategy, policy,
        {.seed = 42, .workers = workers, .reproducible_lag = reproducible_lag, .storage = storage},
        counter);
    elapsed += meter.since_origin(Clock::now());
    const double study_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    const MachineCpu machine_end = machine_cpu();
    faults += minor_faults() - faults_start;
    process_cpu += study_cpu;
    machine_busy += machine_end.busy - machine_start.busy - study_cpu;
    steal += machine_end.steal - machine_start.steal;
    wall += study.wall_seconds();
    for (const auto& trial : study.trials()) {
      busy += trial.wall_seconds;
      epochs += static_cast<double>(trial.resource);
      hidden_epochs += static_cast<double>(trial.resource * trial.config.get<int>("hidden_units"));
    }
    trials += static_cast<double>(study.trials().size());
    trainer_cpu += 1e-9 * static_cast<double>(meter.trainer_cpu_nanoseconds.load());
    constructor_cpu += 1e-9 * static_cast<double>(meter.constructor_cpu_nanoseconds.load());
    const Idle idle = idle_time(std::move(meter.intervals), workers, study.wall_seconds());
    tail += idle.tail;
    gaps += idle.gaps;
    benchmark::DoNotOptimize(study.trials().data());
  }
  const auto iterations = static_cast<double>(state.iterations());
  const double capacity = static_cast<double>(workers) * wall;
  state.counters["workers"] = static_cast<double>(workers);
  state.counters["trials"] = trials / iterations;
  state.counters["epochs"] = epochs / iterations;
  state.counters["study_seconds"] = wall / iterations;
  state.counters["busy_seconds"] = busy / iterations;
  state.counters["trials_per_second"] = trials / wall;
  state.counters["epochs_per_second"] = epochs / wall;
  state.counters["utilisation"] = busy / capacity;
  state.counters["cpu_per_busy"] = trainer_cpu / busy;
  state.counters["other_cpu_share"] = (process_cpu - trainer_cpu) / capacity;
  state.counters["tail_idle_share"] = tail / capacity;
  state.counters["gap_idle_share"] = gaps / capacity;
  state.counters["process_threads"] = threads;
  state.counters["trainer_cpu_seconds"] = trainer_cpu / iterations;
  state.counters["constructor_cpu_seconds"] = constructor_cpu / iterations;
  state.counters["mean_hidden_units"] = hidden_epochs / epochs;
  state.counters["minor_faults"] = faults / iterations;
  // Other processes' CPU time and the hypervisor's steal over the study, per core available.
  const double cores = static_cast<double>(std::max(1U, std::thread::hardware_concurrency()));
  state.counters["foreign_cpu_share"] = std::max(0.0, machine_busy) / (cores * elapsed);
  state.counters["steal_share"] = steal / (cores * elapsed);
}

/// 200 configurations, 9 epochs each (1,800 epochs).
void BM_RandomSearch(benchmark::State& state) {
  run(state, hpt::RandomSearch{.trials = 200, .max_resource = 9});
}

/// One Hyperband iteration, R = 81 epochs, eta = 3: 5 brackets, 143 trials, 1,581 epochs.
void BM_Hyperband(benchmark::State& state) {
  run(state, hpt::Hyperband{.min_resource = 1, .max_resource = 81, .reduction_factor = 3});
}

/// 500 configurations, rungs at 1, 3, 9, 27 and 81 epochs.
void BM_Asha(benchmark::State& state) {
  run(state,
      hpt::Asha{.trials = 500, .min_resource = 1, .max_resource = 81, .reduction_factor = 3});
}

/// ASHA with MedianStopping, a rule across trials: every step's verdict is asked of the
/// coordinator (a round trip from the worker), and which trials have ended depends on timing.
const auto median_stopping = hpt::MedianStopping{.startup_trials = 5, .warmup_steps = 1};

void BM_AshaMedian(benchmark::State& state) {
  run(state, hpt::Asha{.trials = 500, .min_resource = 1, .max_resource = 81, .reduction_factor = 3},
      median_stopping);
}

/// The same study, reproducible on any number of workers (reproducible_lag = 4): what the
/// reproducible mode costs in utilisation.
void BM_AshaMedianLag4(benchmark::State& state) {
  run(state, hpt::Asha{.trials = 500, .min_resource = 1, .max_resource = 81, .reduction_factor = 3},
      median_stopping, std::size_t{4});
}

void worker_counts(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("workers")
      ->Arg(1)
      ->Arg(2)
      ->Iterations(1)
      ->UseRealTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kSecond);
}

#if HPT_BENCH_SQLITE
/// The same studies with every event committed to an SQLite file as it happens.
void BM_RandomSearchSqlite(benchmark::State& state) {
  run(state, hpt::RandomSearch{.trials = 200, .max_resource = 9}, hpt::NoStopping{}, std::nullopt,
      Stored::sqlite);
}

void BM_HyperbandSqlite(benchmark::State& state) {
  run(state, hpt::Hyperband{.min_resource = 1, .max_resource = 81, .reduction_factor = 3},
      hpt::NoStopping{}, std::nullopt, Stored::sqlite);
}

void BM_AshaSqlite(benchmark::State& state) {
  run(state, hpt::Asha{.trials = 500, .min_resource = 1, .max_resource = 81, .reduction_factor = 3},
      hpt::NoStopping{}, std::nullopt, Stored::sqlite);
}

BENCHMARK(BM_RandomSearchSqlite)->Apply(worker_counts);
BENCHMARK(BM_HyperbandSqlite)->Apply(worker_counts);
BENCHMARK(BM_AshaSqlite)->Apply(worker_counts);
#endif

BENCHMARK(BM_RandomSearch)->Apply(worker_counts);
BENCHMARK(BM_Hyperband)->Apply(worker_counts);
BENCHMARK(BM_Asha)->Apply(worker_counts);
BENCHMARK(BM_AshaMedian)->Apply(worker_counts);
BENCHMARK(BM_AshaMedianLag4)->Apply(worker_counts);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::AddCustomContext("trainable",
                              "hpt::models::MlpTrainer<float> on the digits (1,438 training, 359 "
                              "validation images), one epoch per step, SGD momentum 0.9");
  benchmark::AddCustomContext("eigen_threads", std::to_string(Eigen::nbThreads()));
#ifdef _OPENMP
  benchmark::AddCustomContext("openmp", "on (Eigen parallelism disabled)");
#else
  benchmark::AddCustomContext("openmp", "off");
#endif
  benchmark::AddCustomContext("hardware_threads",
                              std::to_string(std::thread::hardware_concurrency()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
