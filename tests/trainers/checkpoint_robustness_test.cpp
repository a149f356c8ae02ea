// Trainer checkpoints from an untrusted stream (issue 10, defect 1): valid checkpoints with one
// field corrupted at a time (counts, sizes, a shrunken moment tensor, step counts, the cursor's
// order and position, truncation) are refused with a message naming the field, before anything is
// allocated from a claimed size, and a refused restore leaves the trainer exactly as it was.
#include <hpt/data/dataset.hpp>
#include <hpt/data/digits.hpp>
#include <hpt/data/epoch_cursor.hpp>
#include <hpt/data/sequence_dataset.hpp>
#include <hpt/data/synthetic.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/trainers/mlp_trainer.hpp>
#include <hpt/trainers/sequence_trainer.hpp>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "exception_message.hpp"

using hpt::models::MlpTrainer;
using hpt::models::MlpTrainerSettings;
using hpt::models::OptimizerKind;
using hpt::models::SequenceTrainer;
using hpt::models::SequenceTrainerSettings;
using test_support::message_of;

namespace {

constexpr std::uint64_t huge = std::uint64_t{1} << 40;

std::shared_ptr<const hpt::data::DatasetSplit<hpt::data::Dataset<double>>> spirals() {
  return std::make_shared<const hpt::data::DatasetSplit<hpt::data::Dataset<double>>>(
      hpt::data::two_spirals<double>(30, 0.05, 11).split(0.25, 3));
}

std::shared_ptr<const hpt::data::DatasetSplit<hpt::data::SequenceDataset<double>>> sequences() {
  const auto digits = hpt::data::load_digits<double>(
      std::filesystem::path(HPT_TEST_DATA_DIR) / ".." / ".." / "data" / "digits.csv",
      hpt::data::PixelScale::unit);
  std::vector<std::size_t> first(40);
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = i;
  return std::make_shared<const hpt::data::DatasetSplit<hpt::data::SequenceDataset<double>>>(
      hpt::data::digits_as_sequences(digits.subset(first)).split(0.25, 5));
}

std::uint64_t get_u64(const std::string& bytes, std::size_t at) {
  std::uint64_t value = 0;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

template <class T>
std::string patched(std::string bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
  return bytes;
}

// Where the fields of a checkpoint are (its binary part is in the machine's byte order).
struct Layout {
  std::size_t weights = 0;                // the weight tensor count
  std::vector<std::size_t> weight_sizes;  // each weight tensor's size field
  std::size_t optimizer = 0;              // the optimizer's tag
  std::size_t adam_steps = 0;             // Adam's step count
  std::size_t first_moments = 0;          // Adam's first moments, or SGD's momentum buffers
  std::size_t second_moments = 0;         // Adam's second moments
  std::size_t optimizer_end = 0;          // the cursor's text
};

std::size_t skip_tensors(const std::string& bytes, std::size_t at,
                         std::vector<std::size_t>* sizes = nullptr) {
  const auto count = get_u64(bytes, at);
  at += 8;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (sizes != nullptr) sizes->push_back(at);
    at += 8 + 8 * get_u64(bytes, at);  // double trainers
  }
  return at;
}

Layout layout_of(const std::string& bytes) {
  Layout layout;
  std::size_t at = 0;
  for (int line = 0; line < 5; ++line) at = bytes.find('\n', at) + 1;
  layout.weights = at;
  layout.optimizer = skip_tensors(bytes, at, &layout.weight_sizes);
  const bool adam = bytes.compare(layout.optimizer, 8, "hpt.adm1") == 0;
  at = layout.optimizer + 16;  // tag, byte order mark, scalar size
  if (adam) {
    layout.adam_steps = at + 5 * 8;
    layout.first_moments = layout.adam_steps + 8;
    layout.second_moments = skip_tensors(bytes, layout.first_moments);
    layout.optimizer_end = skip_tensors(bytes, layout.second_moments);
  } else {
    layout.first_moments = at + 3 * 8 + 1 + 8;
    layout.optimizer_end = skip_tensors(bytes, layout.first_moments);
  }
  return layout;
}

// Tensors [at, end of them) replaced by as many tensors of one value each.
std::string shrunk(const std::string& bytes, std::size_t at) {
  const auto count = get_u64(bytes, at);
  std::string tensors(bytes.substr(at, 8));
  for (std::uint64_t i = 0; i < count; ++i) {
    tensors += patched(std::string(8, '\0'), 0, std::uint64_t{1});
    tensors += patched(std::string(8, '\0'), 0, 0.25);
  }
  return bytes.substr(0, at) + tensors + bytes.substr(skip_tensors(bytes, at));
}

// The text of the cursor's header line: "hpt.epoch_cursor.1 N position epochs started".
std::string with_cursor_header(const std::string& bytes, std::size_t cursor,
                               const std::string& header) {
  const auto end = bytes.find('\n', cursor);
  return bytes.substr(0, cursor) + header + bytes.substr(end);
}

std::string saved(const auto& trainer) {
  std::stringstream out;
  trainer.save(out);
  return out.str();
}

// Restores `bad` into `victim`: it must be refused with a message containing `expected`, and
// leave `victim` as it was (its whole state, as save() writes it).
template <class Trainer>
void check_refused(Trainer& victim, const std::string& bad, const std::string& expected) {
  const std::string before = saved(victim);
  std::stringstream in(bad);
  CHECK_THROWS_WITH(victim.restore(in), Catch::Contains(expected));
  CHECK(saved(victim) == before);
}

// After refused restores, `victim` steps exactly as `twin`, which never saw them.
template <class Trainer>
void check_same_next_step(Trainer& victim, Trainer& twin) {
  const auto expected = twin.step();
  const auto actual = victim.step();
  CHECK(actual.objective == expected.objective);
  CHECK(saved(victim) == saved(twin));
}

}  // namespace

TEST_CASE("MlpTrainer (Adam) refuses corrupted optimizer state and stays unchanged",
          "[checkpoint]") {
  const auto data = spirals();
  const MlpTrainerSettings settings{
      .hidden_units = 4, .minibatch_size = 8, .optimizer = OptimizerKind::adam, .seed = 5};
  MlpTrainer<double> source(settings, data);
  source.step();
  const std::string good = saved(source);
  const Layout layout = layout_of(good);
  REQUIRE(good.compare(layout.optimizer, 8, "hpt.adm1") == 0);

  MlpTrainer<double> victim(settings, data);
  MlpTrainer<double> twin(settings, data);
  victim.step();
  twin.step();
  victim.step();
  twin.step();

  SECTION("second moments of one value each (a use-after-free in Adam::step before)") {
    check_refused(victim, shrunk(good, layout.second_moments), "second moments");
  }
  SECTION("first moments of one value each") {
    check_refused(victim, shrunk(good, layout.first_moments), "first moments");
  }
  SECTION("a step count that the next step would overflow, or a negative one") {
    check_refused(victim,
                  patched(good, layout.adam_steps, std::numeric_limits<std::int64_t>::max()),
                  "step count 9223372036854775807");
    check_refused(victim, patched(good, layout.adam_steps, std::int64_t{-1}), "step count -1");
  }
  SECTION("tensor counts and sizes of 2^40 are refused before any allocation") {
    check_refused(victim, patched(good, layout.first_moments, huge), "first moments has");
    check_refused(victim, patched(good, layout.second_moments, huge), "second moments has");
    check_refused(victim, patched(good, layout.first_moments + 8, huge),
                  "values in the first moments");
  }
  SECTION("optimizer settings other than the trainer's") {
    // The learning rate is the first setting after the 16-byte header.
    check_refused(victim, patched(good, layout.optimizer + 16, 0.5), "settings");
    check_refused(victim, patched(good, layout.optimizer + 16, -1.0), "learning_rate");
  }
  check_same_next_step(victim, twin);
}

TEST_CASE("MlpTrainer refuses corrupted weights, step counts and cursors, and stays unchanged",
          "[checkpoint]") {
  const auto data = spirals();
  const MlpTrainerSettings settings{
      .hidden_units = 4, .minibatch_size = 8, .minibatches_per_step = 2, .momentum = 0.9};
  MlpTrainer<double> source(settings, data);
  source.step();
  const std::string good = saved(source);
  const Layout layout = layout_of(good);
  const std::size_t cursor = layout.optimizer_end;
  REQUIRE(good.compare(cursor, 18, "hpt.epoch_cursor.1") == 0);
  const std::size_t samples = data->train.size();

  MlpTrainer<double> victim(settings, data);
  MlpTrainer<double> twin(settings, data);
  victim.step();
  twin.step();

  SECTION("weight tensor count or size of 2^40, or a size of 1") {
    check_refused(victim, patched(good, layout.weights, huge),
                  "the checkpoint has 1099511627776 tensors, the model 4");
    check_refused(victim, patched(good, layout.weight_sizes[1], huge),
                  "layers.0.bias has 1099511627776 values in the checkpoint, the model 4");
    check_refused(victim, patched(good, layout.weight_sizes[0], std::uint64_t{1}),
                  "layers.0.weight has 1 values");
  }
  SECTION("momentum buffers of another count or size") {
    check_refused(victim, patched(good, layout.first_moments, std::uint64_t{3}),
                  "the momentum buffers has 3 tensors, the model 4");
    check_refused(victim, shrunk(good, layout.first_moments), "values in the momentum");
    check_refused(victim, patched(good, layout.first_moments + 8, huge), "values in the momentum");
  }
  SECTION("a trainer step count the next step would overflow") {
    const auto steps_line = good.rfind('\n', layout.weights - 2) + 1;
    const std::string text =
        good.substr(0, steps_line) + "9223372036854775807\n" + good.substr(layout.weights);
    check_refused(victim, text, "step count 9223372036854775807");
  }
  SECTION("cursor: position, epochs, flag and order") {
    const std::string n = std::to_string(samples);
    check_refused(
        victim,
        with_cursor_header(good, cursor,
                           "hpt.epoch_cursor.1 " + n + " " + std::to_string(samples + 1) + " 0 1"),
        "position");
    check_refused(
        victim,
        with_cursor_header(good, cursor, "hpt.epoch_cursor.1 " + n + " 0 9223372036854775807 1"),
        "completed epochs");
    check_refused(victim, with_cursor_header(good, cursor, "hpt.epoch_cursor.1 " + n + " 0 0 2"),
                  "started flag");
    check_refused(victim,
                  with_cursor_header(good, cursor, "hpt.epoch_cursor.1 1099511627776 0 0 1"),
                  "1099511627776 samples");
    // The order's first index replaced by the second: not a permutation.
    const auto order = good.find('\n', cursor) + 1;
    const auto space = good.find(' ', order);
    const auto second = good.substr(space + 1, good.find(' ', space + 1) - space - 1);
    std::string repeated = good;
    repeated.replace(order, space - order, second);
    check_refused(victim, repeated, "not a permutation");
  }
  SECTION("truncated anywhere") {
    // Every byte of the binary part, a sample of the (long) text part.
    for (std::size_t length = 0; length < good.size(); length += length < cursor + 64 ? 1 : 37) {
      INFO("cut at " << length << " of " << good.size());
      std::stringstream in(good.substr(0, length));
      CHECK_THROWS_AS(victim.restore(in), std::runtime_error);
    }
  }
  check_same_next_step(victim, twin);
}

TEST_CASE("SequenceTrainer refuses corrupted checkpoints and stays unchanged", "[checkpoint]") {
  const auto data = sequences();
  const SequenceTrainerSettings settings{.hidden_units = 3,
                                         .learning_rate = 0.05,
                                         .minibatch_size = 6,
                                         .minibatches_per_step = 2,
                                         .optimizer = OptimizerKind::adam,
                                         .seed = 2};
  SequenceTrainer<double> source(settings, data);
  source.step();
  const std::string good = saved(source);
  const Layout layout = layout_of(good);
  SequenceTrainer<double> victim(settings, data);
  SequenceTrainer<double> twin(settings, data);
  victim.step();
  twin.step();

  check_refused(victim, shrunk(good, layout.second_moments), "second moments");
  check_refused(victim, patched(good, layout.weights, huge), "tensors, the model");
  check_refused(victim, patched(good, layout.weight_sizes.back(), huge), "values in the");
  check_refused(victim, patched(good, layout.adam_steps, std::numeric_limits<std::int64_t>::max()),
                "step count");
  check_same_next_step(victim, twin);

  // And the valid checkpoint still restores bit for bit.
  SequenceTrainer<double> resumed(settings, data);
  std::stringstream in(good);
  resumed.restore(in);
  CHECK(saved(resumed) == good);
}

TEST_CASE("Adam and Sgd read() check their state; Adam::step refuses mismatched moments",
          "[checkpoint]") {
  Eigen::VectorXd value = Eigen::VectorXd::Ones(3);
  Eigen::VectorXd gradient = Eigen::VectorXd::Constant(3, 0.5);
  const std::vector<hpt::models::ParameterView<double>> parameters{
      {"w", value.data(), gradient.data(), 3, 1, true}};
  const std::span<const hpt::models::ParameterView<double>> views(parameters);

  hpt::models::Adam<double> adam;
  adam.step(views);
  std::stringstream out;
  adam.write(out);
  const std::string good = out.str();
  const std::size_t first = 16 + 5 * 8 + 8;
  const std::size_t second = skip_tensors(good, first);

  hpt::models::Adam<double> target;
  std::stringstream shrunk_moments(shrunk(good, second));
  CHECK_THROWS_WITH(target.read(shrunk_moments), Catch::Contains("moments differ"));
  std::stringstream checked(shrunk(good, second));
  CHECK_THROWS_WITH(target.read(checked, views), Catch::Contains("w has 1 values"));
  // A claimed 2^40 values with nothing behind them: refused at the end of the stream.
  std::stringstream claimed(patched(good, first + 8, huge).substr(0, first + 24));
  CHECK_THROWS_WITH(target.read(claimed), Catch::Contains("truncated"));
  CHECK(target.steps == 0);
  CHECK(target.first_moments.empty());

  // Adam's own state made inconsistent by hand is refused by step() (not read out of bounds).
  hpt::models::Adam<double> broken = adam;
  broken.second_moments[0].resize(1);
  CHECK_THROWS_WITH(broken.step(views), Catch::Contains("its state has 1"));
  broken = adam;
  broken.steps = std::numeric_limits<std::int64_t>::max();
  CHECK_THROWS_WITH(broken.step(views), Catch::Contains("step count"));

  hpt::models::Sgd<double> sgd{.momentum = 0.9};
  sgd.step(views);
  std::stringstream sgd_out;
  sgd.write(sgd_out);
  const std::string sgd_good = sgd_out.str();
  const std::size_t nesterov = 16 + 3 * 8;
  std::stringstream bad_flag(patched(sgd_good, nesterov, std::uint8_t{7}));
  hpt::models::Sgd<double> sgd_target;
  CHECK_THROWS_WITH(sgd_target.read(bad_flag), Catch::Contains("nesterov flag 7"));
  std::stringstream sgd_checked(shrunk(sgd_good, nesterov + 1 + 8));
  CHECK_THROWS_WITH(sgd_target.read(sgd_checked, views), Catch::Contains("w has 1 values"));
  std::stringstream sgd_whole(sgd_good);
  sgd_target.read(sgd_whole, views);
  CHECK(sgd_target.momentum_buffers == sgd.momentum_buffers);
}

TEST_CASE("EpochCursor::read refuses out-of-range fields and a cut random state", "[checkpoint]") {
  hpt::data::EpochCursor cursor(5, 3);
  (void)cursor.next(2);
  std::stringstream out;
  cursor.write(out);
  const std::string good = out.str();
  const auto header_end = good.find('\n');
  const auto body = good.substr(header_end);
  hpt::data::EpochCursor target(5, 9);
  const hpt::data::EpochCursor untouched = target;
  const auto refused = [&](const std::string& text, const std::string& expected) {
    std::stringstream in(text);
    CHECK_THROWS_WITH(target.read(in), Catch::Contains(expected));
    CHECK(target == untouched);
  };
  refused("hpt.epoch_cursor.1 5 6 0 1" + body, "position 6");
  refused("hpt.epoch_cursor.1 5 2 -1 1" + body, "completed epochs -1");
  refused("hpt.epoch_cursor.1 5 2 9223372036854775807 1" + body, "completed epochs");
  refused("hpt.epoch_cursor.1 5 2 0 0" + body, "not started");
  // Something after the random state on its line: the state did not parse as written.
  refused(good.substr(0, good.size() - 1) + " 7\n", "random state");
  refused(good.substr(0, good.rfind(' ')) + " hpt\n", "random state");
  std::stringstream whole(good);
  target.read(whole);
  CHECK(target == cursor);
}

TEST_CASE("restore quotes a checkpoint's text lines within bounds and names the setting",
          "[checkpoint]") {
  const auto data = spirals();
  const MlpTrainerSettings settings{.hidden_units = 4, .minibatch_size = 8, .seed = 5};
  MlpTrainer<double> source(settings, data);
  const std::string good = saved(source);
  // Lines 1 (the trainer's name), 2 (its header) and 3 (its settings) made huge and escaped.
  const auto with_line = [&](int index, const std::string& appended) {
    std::string bytes = good;
    std::size_t at = 0;
    for (int line = 0; line <= index; ++line) at = bytes.find('\n', at) + 1;
    return bytes.insert(at - 1, appended);
  };
  const std::string junk = "\x1b[2J" + std::string(100000, '7');
  MlpTrainer<double> victim(settings, data);
  for (int index = 1; index <= 3; ++index) {
    const std::string message = message_of([&] {
      std::istringstream in(with_line(index, junk));
      victim.restore(in);
    });
    INFO(message.substr(0, 300));
    CHECK(message.rfind("MlpTrainer::restore: ", 0) == 0);
    CHECK(message.size() < 600);
    CHECK(message.find('\x1b') == std::string::npos);
    CHECK_THAT(message, Catch::Contains("characters)"));
  }
  // Another learning rate: the message names the setting that differs.
  MlpTrainerSettings faster = settings;
  faster.learning_rate = 0.5;
  MlpTrainer<double> other(faster, data);
  std::istringstream in(saved(other));
  CHECK_THAT(message_of([&] { victim.restore(in); }),
             Catch::Contains("the setting \"learning_rate=0.5\", this trainer has "
                             "\"learning_rate=0.01\""));
}

TEST_CASE("restore names the trainer on the data cursor's errors", "[checkpoint]") {
  const auto data = spirals();
  const MlpTrainerSettings settings{.hidden_units = 4, .minibatch_size = 8, .seed = 5};
  MlpTrainer<double> source(settings, data);
  const std::string good = saved(source);
  const auto cursor = good.find("hpt.epoch_cursor.1");
  REQUIRE(cursor != std::string::npos);
  std::string bad = good;
  bad.replace(cursor, 18, "hpt.epoch_cursor.9");
  MlpTrainer<double> victim(settings, data);
  std::istringstream in(bad);
  CHECK_THAT(message_of([&] { victim.restore(in); }),
             Catch::StartsWith("MlpTrainer::restore: data cursor: hpt::data::EpochCursor::read"));
}
