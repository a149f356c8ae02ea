// SequenceTrainer: settings, one full-batch step against a hand-written SequenceModel step for
// both cells, many-to-many regression, reproducibility and bit-exact resumption.
#include <hpt/data/digits.hpp>
#include <hpt/data/sequence_dataset.hpp>
#include <hpt/data/synthetic.hpp>
#include <hpt/hpt.hpp>
#include <hpt/trainers/sequence_trainer.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

using hpt::models::Cell;
using hpt::models::OptimizerKind;
using hpt::models::SequenceTrainer;
using hpt::models::SequenceTrainerSettings;
using Split = hpt::data::DatasetSplit<hpt::data::SequenceDataset<double>>;

namespace {

// 120 digits as 8 steps of 8 pixels (scaled to [0, 1]); the file is in the source tree.
std::shared_ptr<const Split> digit_sequences() {
  const auto digits = hpt::data::load_digits<double>(
      std::filesystem::path(HPT_TEST_DATA_DIR) / ".." / ".." / "data" / "digits.csv",
      hpt::data::PixelScale::unit);
  std::vector<std::size_t> first(120);
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = i;
  return std::make_shared<const Split>(
      hpt::data::digits_as_sequences(digits.subset(first)).split(0.25, 5));
}

std::vector<Eigen::VectorXd> weights_of(const hpt::models::SequenceModel<double>& model) {
  std::vector<Eigen::VectorXd> weights;
  for (const auto& view : model.parameters()) weights.emplace_back(view.values().reshaped());
  return weights;
}

}  // namespace

TEST_CASE("SequenceTrainerSettings read cell, depth and clipping; refuse bad values by name",
          "[trainer]") {
  const auto settings = SequenceTrainerSettings::from_config(
      hpt::Config{{"cell", "gru"}, {"hidden_units", 12}, {"layers", 2}, {"max_gradient_norm", 1}});
  CHECK(settings.cell == Cell::gru);
  CHECK(settings.hidden_units == 12);
  CHECK(settings.layers == 2);
  CHECK(settings.max_gradient_norm == 1.0);
  CHECK_THROWS_WITH(SequenceTrainerSettings::from_config(hpt::Config{{"cell", "rnn"}}),
                    Catch::Contains("rnn"));
  CHECK_THROWS_WITH(SequenceTrainerSettings::from_config(hpt::Config{{"layers", 0}}),
                    Catch::Contains("layers = 0"));
  CHECK_THROWS_WITH(SequenceTrainerSettings::from_config(hpt::Config{{"max_gradient_norm", -1}}),
                    Catch::Contains("max_gradient_norm = -1"));
  CHECK_THROWS_WITH(SequenceTrainerSettings::from_config(hpt::Config{{"activation", "relu"}}),
                    Catch::Contains("unknown parameter \"activation\""));
}

TEST_CASE("A full-batch step of SequenceTrainer is one SequenceModel train_step", "[trainer]") {
  const auto data = digit_sequences();
  const int train_size = static_cast<int>(data->train.size());
  for (const Cell cell : {Cell::lstm, Cell::gru}) {
    CAPTURE(static_cast<int>(cell));
    const SequenceTrainerSettings settings{.cell = cell,
                                           .hidden_units = 6,
                                           .layers = 2,
                                           .max_gradient_norm = 0.5,
                                           .learning_rate = 0.2,
                                           .minibatch_size = train_size,
                                           .optimizer = OptimizerKind::adam,
                                           .l2 = 1e-3,
                                           .seed = 8};
    SequenceTrainer<double> trainer(settings, data);

    hpt::models::SequenceModel<double> model({.input = 8,
                                              .hidden = 6,
                                              .layers = 2,
                                              .outputs = 10,
                                              .cell = cell,
                                              .max_gradient_norm = 0.5});
    hpt::Random init(hpt::derive_seed(8, 0));
    model.initialize(init);
    hpt::models::Adam<double> adam{.learning_rate = 0.2, .weight_decay = 1e-3};
    const auto train = data->train.as_minibatch();  // the same samples in another order
    const auto validation = data->validation.as_minibatch();
    for (int epoch = 0; epoch < 2; ++epoch) {
      const double loss =
          model.train_step(train.features, train_size, std::span<const int>(train.labels), adam);
      const auto metrics = trainer.step();
      CHECK(metrics.value("train_loss") == Approx(loss).epsilon(1e-12));
    }
    model.forward(validation.features, static_cast<Eigen::Index>(validation.size()));
    const double validation_loss = model.loss(std::span<const int>(validation.labels));
    CHECK(trainer.evaluate(data->validation).loss == Approx(validation_loss).epsilon(1e-12));
    const auto expected = weights_of(model);
    const auto actual = weights_of(trainer.model());
    for (std::size_t i = 0; i < expected.size(); ++i)
      CHECK((actual[i] - expected[i]).norm() <= 1e-10 * (1 + expected[i].norm()));
  }
}

TEST_CASE("SequenceTrainer learns next-step prediction (many-to-many regression)", "[trainer]") {
  const auto data =
      std::make_shared<const Split>(hpt::data::noisy_sine<double>(64, 12, 0.01, 3).split(0.25, 1));
  SequenceTrainer<double> trainer(SequenceTrainerSettings{.cell = Cell::gru,
                                                          .hidden_units = 8,
                                                          .learning_rate = 0.02,
                                                          .minibatch_size = 8,
                                                          .optimizer = OptimizerKind::adam},
                                  data);
  const double before = trainer.evaluate(data->validation).loss;
  hpt::Metrics metrics;
  for (int epoch = 0; epoch < 15; ++epoch) metrics = trainer.step();
  CHECK(metrics.objective < 0.5 * before);
  CHECK(metrics.find("validation_accuracy") == nullptr);
}

TEST_CASE("SequenceTrainer: same seed same weights; restore continues bit for bit", "[trainer]") {
  const auto data = digit_sequences();
  const SequenceTrainerSettings settings{.cell = Cell::lstm,
                                         .hidden_units = 5,
                                         .dropout = 0.3,
                                         .learning_rate = 0.05,
                                         .minibatch_size = 6,
                                         .minibatches_per_step = 4,
                                         .momentum = 0.9,
                                         .seed = 3};
  SequenceTrainer<double> first(settings, data);
  SequenceTrainer<double> second(settings, data);
  for (int step = 0; step < 3; ++step) CHECK(first.step().objective == second.step().objective);
  CHECK(weights_of(first.model()) == weights_of(second.model()));

  std::stringstream checkpoint;
  first.save(checkpoint);
  SequenceTrainer<double> restored(settings, data);
  restored.restore(checkpoint);
  for (int step = 0; step < 3; ++step) {
    const auto expected = first.step();
    CHECK(restored.step().objective == expected.objective);
  }
  CHECK(weights_of(restored.model()) == weights_of(first.model()));

  auto gru_settings = settings;
  gru_settings.cell = Cell::gru;
  SequenceTrainer<double> gru(gru_settings, data);
  std::stringstream again;
  first.save(again);
  CHECK_THROWS_AS(gru.restore(again), std::runtime_error);
}

TEST_CASE("SequenceTrainer refuses a class count above max_class_count before making the model",
          "[trainer][robustness]") {
  // Two sequences of 3 steps of 2 features labelled 0 and 1, with an explicit class count far
  // beyond them: the head (a row of hidden_units weights per class) used to be allocated until
  // std::bad_alloc.
  hpt::models::Matrix<double> features(2, 6);
  features << 0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0;
  const hpt::data::SequenceDataset<double> set(
      features, 3, hpt::data::ClassLabels{{0, 1}, std::numeric_limits<int>::max()});
  const auto data = std::make_shared<const Split>(Split{set, set});
  REQUIRE_THROWS_AS(SequenceTrainer<double>(SequenceTrainerSettings{}, data),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(SequenceTrainer<double>(SequenceTrainerSettings{}, data),
                      Catch::Contains("SequenceTrainer") &&
                          Catch::Contains("class_count = 2147483647") &&
                          Catch::Contains("hpt::models::max_class_count = 16777216"));
}
