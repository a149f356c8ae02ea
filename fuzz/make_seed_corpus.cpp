// Writes the fuzz targets' seed corpora: valid inputs made by hpt's own writers, so that the
// fuzzers start from the inputs users actually have and mutate from there.
//
//   hpt_fuzz_seeds DIRECTORY   writes DIRECTORY/<target>/<name> for every target (replacing it)
//
// Deterministic but for wall-clock times in the study exports.
#include <hpt/data/csv.hpp>
#include <hpt/engine/tune.hpp>
#include <hpt/executors/wire.hpp>
#include <hpt/io/csv.hpp>
#include <hpt/io/json.hpp>
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/safetensors.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/fixed_budget.hpp>
#include <hpt/scheduling/hyperband.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <hpt/stopping/patience.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fuzz_safetensors.hpp"
#include "fuzz_sqlite_rows.hpp"
#include "fuzz_trainers.hpp"

namespace {

namespace fs = std::filesystem;

fs::path output;
std::size_t written = 0;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path directory = output / target;
  fs::create_directories(directory);
  std::ofstream out(directory / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (directory / name).string());
  ++written;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A trial whose curve depends on its configuration: failures, divergence, infinities, strings
// that need quoting, conditional parameters and several named metrics all reach the writers.
struct Curve {
  explicit Curve(const hpt::Config& config)
      : x(config.get<double>("x")), kind(config.get<std::string>("kind")) {}
  hpt::Metrics step() {
    ++steps;
    if (kind == "fails, \"loudly\"" && steps == 2) throw std::runtime_error("broke,\n\"twice\"");
    if (kind == "diverges" && steps == 3) return {.objective = NAN};
    return {.objective = x + 1.0 / steps,
            .values = {{"train_loss", x * steps}, {"odd", steps == 1 ? INFINITY : -0.0}}};
  }
  double x;
  std::string kind;
  int steps = 0;
};

const hpt::SearchSpace& space() {
  static const hpt::SearchSpace space{
      hpt::uniform("x", -1.0, 1.0).grid(3),
      hpt::choice("kind", {"plain", "fails, \"loudly\"", "diverges", "1"}),
      hpt::int_range("n", -3, 3).when(hpt::equals("kind", "plain")),
      hpt::log_uniform("rate", 1e-5, 1e-1).when(hpt::equals("kind", "1")),
      hpt::choice("flag", {true, false})};
  return space;
}

std::vector<hpt::Study> studies() {
  std::vector<hpt::Study> all;
  all.push_back(hpt::tune<Curve>(space(), hpt::RandomSearch{.trials = 6, .max_resource = 4},
                                 hpt::NoStopping{}, {.seed = 1, .name = "random, \"quoted\""}));
  all.push_back(hpt::tune<Curve>(space(), hpt::Hyperband{.max_resource = 9}, hpt::NoStopping{},
                                 {.direction = hpt::maximize, .seed = 2, .name = "hyperband"}));
  all.push_back(hpt::tune<Curve>(space(), hpt::Asha{.trials = 8, .max_resource = 9},
                                 hpt::Patience{.patience = 2},
                                 {.seed = 3, .result = hpt::TrialResult::best_step}));
  all.push_back(hpt::tune<Curve>(space(),
                                 hpt::SuccessiveHalving{.configurations = 9, .max_resource = 9},
                                 hpt::NoStopping{}, {.seed = 4, .name = "halving"}));
  return all;
}

void write_studies() {
  int index = 0;
  for (const auto& study : studies()) {
    const std::string name = "study_" + std::to_string(index++);
    std::ostringstream csv;
    hpt::write_csv(study, csv);
    write("study_csv", name + ".csv", csv.str());
    std::ostringstream jsonl;
    hpt::write_jsonl(study, jsonl);
    write("study_jsonl", name + ".jsonl", jsonl.str());
    for (std::size_t trial = 0; trial < 3 && trial < study.trials().size(); ++trial)
      write("config_json", name + "_trial_" + std::to_string(trial) + ".json",
            hpt::config_to_json(study.trial(trial).config));
  }
  write("config_json", "empty.json", "{}");
  write("config_json", "kinds.json",
        R"({"int": -9223372036854775808, "real": 2.5e-300, "text": "a \"b\"\n\u00e9", )"
        R"("yes": true, "no": false, "big": 9223372036854775807})");
}

void write_datasets() {
  // The first byte is the target's options (see dataset_csv.cpp): bits 0-1 header, 2 regression,
  // 3 label first, 4-5 separator, 6 class count 3, 7 float.
  const auto with = [](unsigned char options, const std::string& text) {
    return std::string(1, static_cast<char>(options)) + text;
  };
  write("dataset_csv", "classes_header.csv",
        with(0x01, "a,b,label\n0.5,-1e3,0\n1.25,.5,2\n-0,7,1\n"));
  write("dataset_csv", "classes_automatic_crlf.csv",
        with(0x00, "x,y,class\r\n1,2,0\r\n3,4,1\r\n\r\n"));
  write("dataset_csv", "regression_no_header.csv", with(0x06, "1.5,2e-3,-4.25\n0,0,3.0e+2\n"));
  write("dataset_csv", "label_first_semicolon.csv", with(0x19, "label;f\n1;0.25\n0;-0.75\n"));
  write("dataset_csv", "tab_class_count_float.csv", with(0xE2, "0\t1\t2\n4\t5\t1\n"));
  write("dataset_csv", "space_regression_float.csv", with(0xB6, "1 2 3\n4 5 6.5\n"));
  std::ostringstream digits;
  digits << "p0,p1,p2,p3,digit\n";
  for (int row = 0; row < 20; ++row)
    digits << row % 16 << ',' << (row * 7) % 16 << ',' << (row * 3) % 16 << ',' << (row * 11) % 16
           << ',' << row % 10 << '\n';
  write("dataset_csv", "digits_like.csv", with(0x01, digits.str()));
}

template <class Scalar>
void write_safetensors(const std::string& target) {
  const fs::path scratch = output / ("scratch_" + target + ".safetensors");
  auto model = hpt::fuzz::safetensors_model<Scalar>();
  hpt::models::save_model(scratch, model);
  write(target, "model.safetensors", file_bytes(scratch));
  hpt::models::save_model(scratch, model, {{"epoch", "3"}, {"note", "seed \"corpus\""}});
  write(target, "model_metadata.safetensors", file_bytes(scratch));
  // The other scalar type: refused by default, read with SafetensorsOptions::convert.
  using Other = std::conditional_t<std::is_same_v<Scalar, float>, double, float>;
  auto other = hpt::fuzz::safetensors_model<Other>();
  hpt::models::save_model(scratch, other);
  write(target, "other_dtype.safetensors", file_bytes(scratch));
  // More tensors than the model has (read with SafetensorsOptions::allow_extra).
  auto wider =
      hpt::models::Mlp<Scalar>(hpt::models::MlpShape{.inputs = 3, .hidden = {4, 2}, .outputs = 2});
  hpt::models::save_model(scratch, wider);
  write(target, "two_hidden_layers.safetensors", file_bytes(scratch));
  fs::remove(scratch);
}

template <class WithTrainer>
void write_checkpoints(const std::string& target, std::size_t variants, WithTrainer with_trainer) {
  for (std::size_t variant = 0; variant < variants; ++variant)
    with_trainer(variant, [&](auto& trainer) {
      for (int steps = 0; steps <= 3; ++steps) {
        if (steps != 2)
          write(target, "variant_" + std::to_string(variant) + "_after_" + std::to_string(steps),
                std::string(1, static_cast<char>(variant)) + hpt::fuzz::saved(trainer));
        (void)trainer.step();
      }
    });
}

// One events row of every kind, edge values included, as the SQLite storage writes them; and
// configurations and metrics as its JSON.
void write_sqlite_rows() {
  const std::string target = "sqlite_event_row";
  const hpt::Config config{{"rate", 1e-3},
                           {"layers", 3},
                           {"three", 3.0},
                           {"flag", true},
                           {"cell", "lstm \"quoted\" \\ caf\xc3\xa9\n"},
                           {"nan", NAN},
                           {"minus_zero", -0.0},
                           {"tiny", 5e-324},
                           {"infinite", -INFINITY},
                           {"min", std::numeric_limits<std::int64_t>::min()}};
  const std::vector<std::pair<std::string, double>> metrics{
      {"train_loss", 0.25}, {"odd", INFINITY}, {"nan", -NAN}, {"zero", -0.0}, {"odd", 1.0}};
  const std::vector<hpt::StudyEvent> events{
      hpt::TrialCreated{.trial = 0, .bracket = 1, .config = config},
      hpt::TrialCreated{.trial = 1, .config = {}},
      hpt::JobStarted{
          .job = {.trial = 0, .resource = 9, .bracket = 1, .rung = 2, .last_rung = true},
          .restart = true},
      hpt::StepRecorded{.trial = 0, .point = {.step = 1, .objective = 0.5, .values = metrics}},
      hpt::StepRecorded{.trial = 0, .point = {.step = 2}},
      hpt::StepRecorded{.trial = 0, .point = {.step = 3, .objective = -0.0}},
      hpt::JobEnded{.trial = 0,
                    .status = hpt::TrialStatus::failed,
                    .reason = "step() threw: \"bad\"\n",
                    .stopped_by = "Patience",
                    .failure = hpt::FailureStage::step,
                    .wall_seconds = 0.125,
                    .steps_run = 3},
      hpt::JobEnded{.trial = 1,
                    .status = hpt::TrialStatus::paused,
                    .wall_seconds = NAN,
                    .started = false,
                    .checkpoint = "saved",
                    .saved = true},
      hpt::TrialPruned{.trial = 1, .rung = 1, .reason = "not in the top third"},
      hpt::StudyFinished{}};
  int index = 0;
  for (const auto& event : events) {
    hpt::detail::EventRow row;
    hpt::detail::encode_event_row(event, 1, row, "seeds");
    write(target, "row_" + std::to_string(index++) + "_" + std::string(hpt::event_kind(event)),
          hpt::fuzz::format_sqlite_row(row));
  }
  std::string json;
  hpt::detail::encode_config_json(config, json);
  write(target, "config_kinds.json", "c" + json);
  hpt::detail::encode_config_json({}, json);
  write(target, "config_empty.json", "c" + json);
  hpt::detail::encode_metrics_json(metrics, json);
  write(target, "metrics.json", "m" + json);
}

// One wire message of every kind, edge values included, as the MPI executor's ranks send them.
void write_wire_messages() {
  const std::string target = "wire_message";
  const hpt::Config config{{"rate", 1e-3},
                           {"layers", 3},
                           {"flag", true},
                           {"cell", std::string("lstm\0\xc3\xa9", 7)},
                           {"nan", NAN},
                           {"minus_zero", -0.0},
                           {"min", std::numeric_limits<std::int64_t>::min()}};
  const std::vector<hpt::Step> steps{
      {.step = 1, .objective = 0.5, .values = {{"train_loss", 0.25}, {"odd", INFINITY}}},
      {.step = 2, .objective = -NAN},
      {.step = std::numeric_limits<std::int64_t>::max(), .objective = -0.0}};
  const std::vector<hpt::wire::Message> messages{
      hpt::wire::Hello{.fingerprint = 0x0123456789abcdef},
      hpt::wire::RunBatch{
          .jobs = {{.job = {.trial = 7, .resource = 9, .bracket = 1, .rung = 2, .last_rung = true},
                    .config = config,
                    .steps_done = 3,
                    .checkpoint = std::string("ck\0pt", 5),
                    .replay = steps,
                    .catch_up = true},
                   {.checkpoint = std::string()},
                   {}},
          .release = {2, 11}},
      hpt::wire::Ruling{.verdict = hpt::Verdict::prune("MedianStopping", "worse than the median")},
      hpt::wire::Ruling{.error = "the rule threw", .standard_exception = true},
      hpt::wire::StopRequested{},
      hpt::wire::Shutdown{.reason = "hpt: worker rank 2 failed: bad batch"},
      hpt::wire::HelloReply{.fingerprint = 0x0123456789abcdef, .rank = 3, .host = "node-3"},
      hpt::wire::StepsDone{.trial = std::numeric_limits<std::size_t>::max(), .points = steps},
      hpt::wire::JudgeStep{.trial = 7,
                           .step = 2,
                           .objective = 0.5,
                           .metrics = {.objective = 0.5, .values = {{"acc", 0.75}}, .done = true},
                           .direction = hpt::maximize},
      hpt::wire::JobFinished{.job = {.trial = 7, .resource = 9},
                             .status = hpt::TrialStatus::paused,
                             .wall_seconds = 0.125,
                             .steps_run = 3,
                             .saved = true,
                             .checkpoint = std::string("ck\0pt", 5)},
      hpt::wire::JobFinished{.status = hpt::TrialStatus::failed,
                             .reason = "step 2 threw: \"bad\"\n",
                             .stopped_by = "Patience",
                             .failure = hpt::FailureStage::step,
                             .wall_seconds = NAN,
                             .started = false,
                             .error_message = "bad"},
      hpt::wire::WorkerFree{},
      hpt::wire::WorkerFailed{.what = "std::bad_alloc"}};
  int index = 0;
  for (const auto& message : messages)
    write(target,
          "message_" + std::to_string(index++) + "_" +
              std::string(hpt::wire::kind_name(hpt::wire::kind_of(message))),
          hpt::wire::encode(message));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 2;
  }
  try {
    output = argv[1];
    for (const char* target : {"study_csv", "study_jsonl", "config_json", "dataset_csv",
                               "safetensors_float", "safetensors_double", "mlp_trainer_restore",
                               "sequence_trainer_restore", "sqlite_event_row", "wire_message"})
      fs::remove_all(output / target);
    write_studies();
    write_sqlite_rows();
    write_wire_messages();
    write_datasets();
    write_safetensors<float>("safetensors_float");
    write_safetensors<double>("safetensors_double");
    write_checkpoints("mlp_trainer_restore", hpt::fuzz::mlp_variants,
                      [](std::size_t v, auto&& visit) { hpt::fuzz::with_mlp_trainer(v, visit); });
    write_checkpoints(
        "sequence_trainer_restore", hpt::fuzz::sequence_variants,
        [](std::size_t v, auto&& visit) { hpt::fuzz::with_sequence_trainer(v, visit); });
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hpt_fuzz_seeds: %s\n", error.what());
    return 1;
  }
  std::printf("hpt_fuzz_seeds: %zu inputs in %s\n", written, output.c_str());
  return 0;
}
