/// @file wire_codec.cpp
/// @brief What the MPI executor's messages (hpt/executors/wire.hpp) cost to encode and decode, for
/// the three a job makes on the hot path: the RunBatch that hands it out (one job, a configuration
/// of six parameters, no checkpoint), a StepsDone with one step and two metrics, and the
/// JobFinished that ends it. Encoding reuses one buffer, as a rank does; decoding makes the
/// message afresh. Counters: messages_per_second, bytes (the message's size).
///
/// Rank 0 must sustain 50,000 jobs per second (issue 13): each job costs it one RunBatch encode,
/// one JobFinished decode and a StepsDone decode per step.

#include <benchmark/benchmark.h>

#include "build_context.hpp"

#include <cstdint>
#include <string>

#include "hpt/executors/wire.hpp"

namespace {

hpt::wire::Message run_batch() {
  return hpt::wire::RunBatch{
      .jobs = {{.job = {.trial = 1234, .resource = 27, .bracket = 1, .rung = 2},
                .config = {{"learning_rate", 1e-3},
                           {"minibatch_size", 64},
                           {"hidden", 128},
                           {"layers", 2},
                           {"dropout", 0.25},
                           {"optimizer", "adam"}},
                .steps_done = 9}}};
}

hpt::wire::Message steps_done() {
  return hpt::wire::StepsDone{
      .trial = 1234,
      .points = {{.step = 10, .objective = 0.125, .values = {{"train_loss", 0.1}, {"acc", 0.9}}}}};
}

hpt::wire::Message job_finished() {
  return hpt::wire::JobFinished{.job = {.trial = 1234, .resource = 27, .bracket = 1, .rung = 2},
                                .status = hpt::TrialStatus::paused,
                                .wall_seconds = 0.003,
                                .steps_run = 18};
}

void report(benchmark::State& state, std::size_t bytes) {
  state.counters["messages_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["bytes"] = static_cast<double>(bytes);
}

template <hpt::wire::Message (*make)()>
void BM_Encode(benchmark::State& state) {
  const hpt::wire::Message message = make();
  std::string buffer;
  for (auto _ : state) {
    hpt::wire::encode(message, buffer);
    benchmark::DoNotOptimize(buffer.data());
  }
  report(state, buffer.size());
}

template <hpt::wire::Message (*make)()>
void BM_Decode(benchmark::State& state) {
  const std::string bytes = hpt::wire::encode(make());
  for (auto _ : state) {
    hpt::wire::Message message = hpt::wire::decode(bytes);
    benchmark::DoNotOptimize(message);
  }
  report(state, bytes.size());
}

BENCHMARK(BM_Encode<run_batch>)->Name("BM_Encode/run_batch");
BENCHMARK(BM_Decode<run_batch>)->Name("BM_Decode/run_batch");
BENCHMARK(BM_Encode<steps_done>)->Name("BM_Encode/steps_done");
BENCHMARK(BM_Decode<steps_done>)->Name("BM_Decode/steps_done");
BENCHMARK(BM_Encode<job_finished>)->Name("BM_Encode/job_finished");
BENCHMARK(BM_Decode<job_finished>)->Name("BM_Decode/job_finished");

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hpt_bench::add_build_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
