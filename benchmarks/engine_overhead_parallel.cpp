/// @file engine_overhead_parallel.cpp
/// @brief The engine's cost per trial on the thread pool (StudyOptions::workers = 2) next to the
/// inline engine (workers = 1), with a trainable that costs almost nothing, for random search,
/// successive halving, Hyperband and ASHA at 1e3, 1e4 and 1e5 trials.
///
/// The schedules are those of engine_overhead.cpp (27 steps at most, r = 1, eta = 3, Hyperband's
/// iterations repeated in one study). One benchmark iteration is one whole study, from the call to
/// hpt::tune() to the destruction of the Study. Both clocks are kept, because on the pool the work
/// is spread over threads and part of the cost is waiting (a worker woken for each job):
///   cpu_seconds_per_trial  - CPU time of the whole process (every thread) / trials; Google
///                            Benchmark's cpu_time is the same clock (MeasureProcessCPUTime);
///   seconds_per_trial      - real time / trials (UseRealTime: what a user waits);
///   cpu_seconds_per_step, seconds_per_step - the same per reported step;
///   trials, steps          - per study (the same for every iteration and, but for ASHA, for
///                            both worker counts);
///   jobs                   - per study: a trial's first rung and each promotion is one job, the
///                            unit the pool hands to a worker;
///   cpu_seconds_per_job, context_switches_per_job - the same CPU time per job, and the process's
///                            context switches (getrusage, voluntary and not) per job;
///   foreign_cpu_share      - CPU time other processes used meanwhile / (cores * real time), from
///                            /proc/stat: a shared machine shows here, not as hpt's cost.
/// The pool's overhead is the workers = 2 figure over the workers = 1 figure of the same schedule
/// and size (benchmarks/compare_parallel.py --overhead prints the ratios).

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "build_context.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "hpt/engine/tune.hpp"
#include "hpt/scheduling/asha.hpp"
#include "hpt/scheduling/detail/halving_bracket.hpp"
#include "hpt/scheduling/fixed_budget.hpp"
#include "hpt/scheduling/hyperband.hpp"
#include "hpt/scheduling/successive_halving.hpp"
#include "hpt/space/hyperparameter.hpp"
#include "hpt/space/search_space.hpp"

namespace {

constexpr std::int64_t max_steps = 27;

/// Nearly free: the objective is the squared distance of log10(learning_rate) from -3, plus 1/t
/// so that later steps look better and the halving schedules have curves to rank.
class Bowl {
 public:
  explicit Bowl(const hpt::Config& config)
      : offset_(std::log10(config.get<double>("learning_rate")) + 3.0) {}

  hpt::Metrics step() {
    t_ += 1.0;
    return {.objective = offset_ * offset_ + 1.0 / t_};
  }

 private:
  double offset_;
  double t_ = 0;
};

const hpt::SearchSpace& space() {
  static const hpt::SearchSpace instance{
      hpt::log_uniform("learning_rate", 1e-6, 1e-1),
      hpt::ordinal("minibatch_size", {1, 2, 4, 8, 16, 32, 64, 128, 256}),
  };
  return instance;
}

/// R = 27, r = 1, eta = 3: 4 brackets and 49 trials per iteration.
const hpt::Hyperband one_iteration{.min_resource = 1, .max_resource = 27, .reduction_factor = 3};

/// `copies` Hyperband iterations as one study: the brackets of hpt::Hyperband's schedule, in
/// order, `copies` times over, run by hpt's bracket scheduler (a study of 1e5 trials needs
/// 2,041 iterations, which hpt::Hyperband alone does not run).
struct HyperbandIterations {
  std::size_t copies = 1;

  void validate() const { one_iteration.validate(); }

  [[nodiscard]] hpt::Schedule schedule(const hpt::SearchSpace& search_space) const {
    const std::vector<hpt::Bracket> brackets = one_iteration.schedule(search_space).brackets;
    hpt::Schedule result{"HyperbandIterations", {}};
    result.brackets.reserve(copies * brackets.size());
    for (std::size_t copy = 0; copy < copies; ++copy)
      for (const hpt::Bracket& bracket : brackets) result.brackets.push_back(bracket);
    return result;
  }

  [[nodiscard]] hpt::detail::BracketScheduler<hpt::RandomSampler> make_scheduler(
      const hpt::SearchSpace& search_space, std::uint64_t seed) const {
    return {hpt::RandomSampler(search_space, seed), schedule(search_space)};
  }
};

std::size_t iterations_for(std::size_t trials) {
  const std::size_t each = *one_iteration.schedule().trials();
  return trials / each + (trials % each == 0 ? 0 : 1);
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

/// Busy CPU seconds of the whole machine so far (/proc/stat), 0 if unknown.
double machine_busy_seconds() {
  std::ifstream stat("/proc/stat");
  std::string label;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq) ||
      label != "cpu")
    return 0;
  return (user + nice + system + irq + softirq) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Context switches of the process so far (voluntary: a thread waited; involuntary: preempted).
double context_switches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_nvcsw) + static_cast<double>(usage.ru_nivcsw);
}

/// One study per benchmark iteration with `state.range(0)` workers; the counters cover them all.
template <class Strategy>
void measure(benchmark::State& state, const Strategy& strategy) {
  const auto workers = static_cast<std::size_t>(state.range(0));
  std::size_t trials = 0;
  std::int64_t steps = 0, jobs = 0;
  double cpu = 0, real = 0, machine = 0, switches = 0;
  for (auto _ : state) {
    const double switches_before = context_switches();
    const double machine_before = machine_busy_seconds();
    const double cpu_before = process_cpu_seconds();
    const auto real_before = std::chrono::steady_clock::now();
    {
      const hpt::Study study =
          hpt::tune<Bowl>(space(), strategy, hpt::NoStopping{}, {.seed = 42, .workers = workers});
      trials = study.trials().size();
      steps = 0;
      jobs = 0;
      for (const hpt::Trial& trial : study.trials()) {
        steps += trial.resource;
        jobs += trial.rung + 1;  // one job per rung reached: rung 0 is the first
      }
      benchmark::DoNotOptimize(study.trials().data());
    }
    real += std::chrono::duration<double>(std::chrono::steady_clock::now() - real_before).count();
    const double study_cpu = process_cpu_seconds() - cpu_before;
    cpu += study_cpu;
    machine += machine_busy_seconds() - machine_before - study_cpu;
    switches += context_switches() - switches_before;
  }
  const auto studies = static_cast<double>(state.iterations());
  const double per_study_trials = static_cast<double>(trials);
  const double per_study_steps = static_cast<double>(steps);
  const double cores = static_cast<double>(std::max(1U, std::thread::hardware_concurrency()));
  state.counters["workers"] = static_cast<double>(workers);
  state.counters["trials"] = per_study_trials;
  state.counters["steps"] = per_study_steps;
  state.counters["cpu_seconds_per_trial"] = cpu / studies / per_study_trials;
  state.counters["seconds_per_trial"] = real / studies / per_study_trials;
  state.counters["cpu_seconds_per_step"] = cpu / studies / per_study_steps;
  state.counters["seconds_per_step"] = real / studies / per_study_steps;
  state.counters["jobs"] = static_cast<double>(jobs);
  state.counters["cpu_seconds_per_job"] = cpu / studies / static_cast<double>(jobs);
  state.counters["context_switches_per_job"] = switches / studies / static_cast<double>(jobs);
  state.counters["foreign_cpu_share"] = std::max(0.0, machine) / (cores * real);
}

std::size_t trials_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(1));
}

void BM_RandomSearch(benchmark::State& state) {
  measure(state, hpt::RandomSearch{.trials = trials_of(state), .max_resource = max_steps});
}

void BM_SuccessiveHalving(benchmark::State& state) {
  measure(state, hpt::SuccessiveHalving{.configurations = trials_of(state),
                                        .min_resource = 1,
                                        .max_resource = max_steps,
                                        .reduction_factor = 3});
}

void BM_Hyperband(benchmark::State& state) {
  measure(state, HyperbandIterations{.copies = iterations_for(trials_of(state))});
}

void BM_Asha(benchmark::State& state) {
  measure(state, hpt::Asha{.trials = trials_of(state),
                           .min_resource = 1,
                           .max_resource = max_steps,
                           .reduction_factor = 3});
}

void sizes(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"workers", "trials"})
      ->ArgsProduct({{1, 2}, {1000, 10000, 100000}})
      ->MeasureProcessCPUTime()
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_RandomSearch)->Apply(sizes);
BENCHMARK(BM_SuccessiveHalving)->Apply(sizes);
BENCHMARK(BM_Hyperband)->Apply(sizes);
BENCHMARK(BM_Asha)->Apply(sizes);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::AddCustomContext("trainable", "Bowl: one line of arithmetic per step");
  benchmark::AddCustomContext("hardware_threads",
                              std::to_string(std::thread::hardware_concurrency()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
