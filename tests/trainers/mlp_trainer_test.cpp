// MlpTrainer and the settings every reference trainer reads: configuration parsing and errors,
// one step against a hand-written full-batch gradient step, metrics, reproducibility, and
// checkpoints that resume bit for bit (mid-epoch, with dropout and Adam).
#include <hpt/data/dataset.hpp>
#include <hpt/data/synthetic.hpp>
#include <hpt/hpt.hpp>
#include <hpt/trainers/mlp_trainer.hpp>

#include <catch2/catch.hpp>
#include <cmath>
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
using Split = hpt::data::DatasetSplit<hpt::data::Dataset<double>>;

namespace {

std::shared_ptr<const Split> spirals(std::size_t per_class = 60) {
  return std::make_shared<const Split>(
      hpt::data::two_spirals<double>(per_class, 0.05, 11).split(0.25, 3));
}

std::vector<Eigen::VectorXd> weights_of(const hpt::models::Mlp<double>& model) {
  std::vector<Eigen::VectorXd> weights;
  for (const auto& layer : model.layers()) {
    weights.emplace_back(layer.weight.reshaped());
    weights.emplace_back(layer.bias);
  }
  return weights;
}

using test_support::message_of;

}  // namespace

TEST_CASE("MlpTrainerSettings read a configuration; unnamed settings keep their defaults",
          "[trainer]") {
  const hpt::Config config{{"learning_rate", 0.05}, {"minibatch_size", 8},  {"hidden_units", 16},
                           {"layers", 2},           {"activation", "tanh"}, {"dropout", 0},
                           {"optimizer", "adam"},   {"l2", 1e-4},           {"seed", 9}};
  const auto settings = MlpTrainerSettings::from_config(config, {.epochs = 3});
  CHECK(settings.learning_rate == 0.05);
  CHECK(settings.minibatch_size == 8);
  CHECK(settings.hidden_units == 16);
  CHECK(settings.layers == 2);
  CHECK(settings.activation == hpt::models::Activation::tanh);
  CHECK(settings.dropout == 0.0);  // an integer is taken for a real setting
  CHECK(settings.optimizer == OptimizerKind::adam);
  CHECK(settings.l2 == 1e-4);
  CHECK(settings.seed == 9);
  CHECK(settings.epochs == 3);  // from the defaults
  CHECK(settings.momentum == 0.0);
}

TEST_CASE("MlpTrainerSettings refuse typos, wrong kinds and invalid values by name", "[trainer]") {
  using hpt::Config;
  CHECK_THROWS_WITH(
      MlpTrainerSettings::from_config(Config{{"learning_rat", 0.1}}),
      Catch::Contains("unknown parameter \"learning_rat\"") && Catch::Contains("learning_rate"));
  CHECK_THROWS_AS(MlpTrainerSettings::from_config(Config{{"hidden_units", 1.5}}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"learning_rate", "fast"}}),
                    Catch::Contains("learning_rate"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"learning_rate", 0.0}}),
                    Catch::Contains("learning_rate = 0"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"minibatch_size", 0}}),
                    Catch::Contains("minibatch_size = 0"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"dropout", 1.0}}),
                    Catch::Contains("dropout = 1"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"layers", -1}}),
                    Catch::Contains("layers = -1"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"l2", -0.5}}),
                    Catch::Contains("l2 = -0.5"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"optimizer", "rmsprop"}}),
                    Catch::Contains("rmsprop"));
  CHECK_THROWS_WITH(MlpTrainerSettings::from_config(Config{{"activation", "gelu"}}),
                    Catch::Contains("gelu"));
  // Momentum belongs to SGD: with Adam it is refused when the trainer is made.
  CHECK_THROWS_WITH(MlpTrainer<double>(Config{{"optimizer", "adam"}, {"momentum", 0.9}}, spirals()),
                    Catch::Contains("momentum"));
  CHECK_THROWS_WITH(MlpTrainer<double>(MlpTrainerSettings{}, nullptr), Catch::Contains("null"));
  CHECK_THROWS_WITH(
      MlpTrainerSettings::from_config(Config{{"optimizer", "adam"}, {"momentum", 0.9}}),
      Catch::Contains("MlpTrainer: momentum = 0.90000000000000002"));
}

TEST_CASE("A full-batch step of MlpTrainer is one SGD step on the whole training set",
          "[trainer]") {
  const auto data = spirals();
  const int train_size = static_cast<int>(data->train.size());
  const MlpTrainerSettings settings{.hidden_units = 5,
                                    .layers = 2,
                                    .learning_rate = 0.3,
                                    .minibatch_size = train_size,
                                    .momentum = 0.5,
                                    .l2 = 0.01,
                                    .seed = 4};
  MlpTrainer<double> trainer(settings, data);

  // The same model, initialised from the same seed, trained by hand: with every sample in one
  // minibatch the shuffle only reorders a sum.
  hpt::models::Mlp<double> model(
      hpt::models::MlpShape{.inputs = 2, .hidden = {5, 5}, .outputs = 2});
  hpt::Random init(hpt::derive_seed(4, 0));
  model.initialize(init);
  hpt::models::Sgd<double> sgd{.learning_rate = 0.3, .momentum = 0.5, .weight_decay = 0.01};
  std::vector<double> losses;
  for (int epoch = 0; epoch < 3; ++epoch) {
    losses.push_back(model.train_loss_and_gradients(data->train.features(), data->train.labels()));
    sgd.step(model.parameters());
  }
  const double validation_loss =
      model.evaluate_loss(data->validation.features(), data->validation.labels());

  hpt::Metrics metrics;
  for (int epoch = 0; epoch < 3; ++epoch) {
    metrics = trainer.step();
    CHECK(metrics.value("train_loss") ==
          Approx(losses[static_cast<std::size_t>(epoch)]).epsilon(1e-12));
  }
  CHECK(metrics.objective == Approx(validation_loss).epsilon(1e-12));
  CHECK(metrics.value("validation_loss") == metrics.objective);
  CHECK(metrics.value("epoch") == 3.0);
  CHECK(metrics.value("samples") == train_size);
  CHECK(metrics.value("samples_per_second") > 0);
  const auto expected = weights_of(model);
  const auto actual = weights_of(trainer.model());
  for (std::size_t i = 0; i < expected.size(); ++i)
    CHECK((actual[i] - expected[i]).norm() <= 1e-12 * (1 + expected[i].norm()));

  // Accuracies are shares of correct arg-max predictions.
  const auto evaluation = trainer.evaluate(data->validation);
  CHECK(evaluation.loss == Approx(validation_loss).epsilon(1e-12));
  model.evaluate_loss(data->validation.features(), data->validation.labels());
  std::size_t correct = 0;
  for (Eigen::Index j = 0; j < model.output().cols(); ++j) {
    Eigen::Index best = 0;
    model.output().col(j).maxCoeff(&best);
    correct += best == data->validation.labels()[static_cast<std::size_t>(j)] ? 1U : 0U;
  }
  CHECK(evaluation.accuracy ==
        Approx(static_cast<double>(correct) / static_cast<double>(data->validation.size())));
  CHECK(metrics.value("validation_accuracy") == evaluation.accuracy);
  CHECK(metrics.value("train_accuracy") >= 0);
  CHECK(metrics.value("train_accuracy") <= 1);
}

TEST_CASE("MlpTrainer steps: epochs, minibatches_per_step, done, learning", "[trainer]") {
  const auto data = spirals();
  const auto train_size = static_cast<double>(data->train.size());  // 90
  SECTION("one epoch per step by default; done after `epochs`") {
    MlpTrainer<double> trainer(MlpTrainerSettings{.minibatch_size = 16, .epochs = 2}, data);
    auto first = trainer.step();
    CHECK(first.value("samples") == train_size);
    CHECK(first.value("epoch") == 1.0);
    CHECK_FALSE(first.done);
    CHECK(trainer.step().done);
  }
  SECTION("the epochs limit ends a step early: never trains past it") {
    MlpTrainer<double> trainer(
        MlpTrainerSettings{.minibatch_size = 16, .minibatches_per_step = 4, .epochs = 1}, data);
    CHECK(trainer.step().value("samples") == 64);
    const auto last = trainer.step();  // 16 + 10 samples finish the only epoch
    CHECK(last.value("samples") == 26);
    CHECK(last.value("epoch") == 1.0);
    CHECK(last.done);
  }
  SECTION("N minibatches per step cross epochs where they fall") {
    MlpTrainer<double> trainer(MlpTrainerSettings{.minibatch_size = 16, .minibatches_per_step = 4},
                               data);
    auto metrics = trainer.step();  // 64 samples of 90
    CHECK(metrics.value("samples") == 64);
    CHECK(metrics.value("epoch") == Approx(64 / train_size));
    metrics = trainer.step();  // 16 + 10 (end of epoch 1) + 16 + 16
    CHECK(metrics.value("samples") == 58);
    CHECK(metrics.value("epoch") == Approx(1 + 32 / train_size));
  }
  SECTION("training lowers the validation loss and lifts the accuracy") {
    MlpTrainer<double> trainer(MlpTrainerSettings{.hidden_units = 32,
                                                  .layers = 2,
                                                  .learning_rate = 0.01,
                                                  .minibatch_size = 8,
                                                  .optimizer = OptimizerKind::adam,
                                                  .seed = 1},
                               data);
    const auto before = trainer.evaluate(data->validation);
    hpt::Metrics metrics;
    for (int epoch = 0; epoch < 40; ++epoch) metrics = trainer.step();
    CHECK(metrics.objective < 0.7 * before.loss);
    CHECK(metrics.value("validation_accuracy") > before.accuracy);
  }
  SECTION("a regression dataset gets mean squared error and no accuracy") {
    Eigen::MatrixXd x = Eigen::MatrixXd::Random(3, 40);
    Eigen::MatrixXd y = 2 * x.topRows(1);
    const auto regression = std::make_shared<const Split>(
        hpt::data::Dataset<double>(x, hpt::data::RegressionTargets<double>{y}).split(0.25, 1));
    MlpTrainer<double> trainer(MlpTrainerSettings{.layers = 0, .learning_rate = 0.1}, regression);
    const auto metrics = trainer.step();
    CHECK(std::isfinite(metrics.objective));
    CHECK(metrics.find("validation_accuracy") == nullptr);
    CHECK(metrics.find("train_accuracy") == nullptr);
  }
  SECTION("a diverging trainer reports a non-finite objective") {
    Eigen::MatrixXd x = 10 * Eigen::MatrixXd::Random(3, 40);
    Eigen::MatrixXd y = 5 * x.topRows(1);
    const auto regression = std::make_shared<const Split>(
        hpt::data::Dataset<double>(x, hpt::data::RegressionTargets<double>{y}).split(0.25, 1));
    MlpTrainer<double> trainer(MlpTrainerSettings{.learning_rate = 10, .minibatch_size = 4},
                               regression);
    bool finite = true;
    for (int epoch = 0; epoch < 5 && finite; ++epoch)
      finite = std::isfinite(trainer.step().objective);
    CHECK_FALSE(finite);
  }
}

TEST_CASE("Same settings, same weights; another seed, other weights", "[trainer]") {
  const auto data = spirals();
  const MlpTrainerSettings settings{
      .hidden_units = 8, .dropout = 0.3, .minibatch_size = 7, .seed = 5};
  MlpTrainer<double> first(settings, data);
  MlpTrainer<double> second(settings, data);
  auto other_settings = settings;
  other_settings.seed = 6;
  MlpTrainer<double> other(other_settings, data);
  for (int epoch = 0; epoch < 3; ++epoch) {
    CHECK(first.step().objective == second.step().objective);
    other.step();
  }
  CHECK(weights_of(first.model()) == weights_of(second.model()));
  CHECK(weights_of(first.model()) != weights_of(other.model()));
}

TEST_CASE("A restored MlpTrainer continues bit for bit (mid-epoch, dropout, Adam)", "[trainer]") {
  const auto data = spirals();
  const MlpTrainerSettings settings{.hidden_units = 8,
                                    .dropout = 0.25,
                                    .minibatch_size = 7,
                                    .minibatches_per_step = 5,
                                    .optimizer = OptimizerKind::adam,
                                    .seed = 2};
  MlpTrainer<double> original(settings, data);
  original.step();
  original.step();  // 70 of 90 samples: in the middle of the first epoch
  std::stringstream checkpoint;
  original.save(checkpoint);

  MlpTrainer<double> restored(hpt::Config{{"hidden_units", 8},
                                          {"dropout", 0.25},
                                          {"minibatch_size", 7},
                                          {"minibatches_per_step", 5},
                                          {"optimizer", "adam"},
                                          {"seed", 2}},
                              data);
  restored.restore(checkpoint);
  CHECK(restored.steps() == 2);
  CHECK(restored.cursor() == original.cursor());
  for (int step = 0; step < 4; ++step) {
    const auto expected = original.step();
    const auto actual = restored.step();
    CHECK(actual.objective == expected.objective);
    CHECK(actual.value("train_loss") == expected.value("train_loss"));
  }
  CHECK(weights_of(restored.model()) == weights_of(original.model()));
}

TEST_CASE("MlpTrainer::restore refuses other models and damaged checkpoints, changing nothing",
          "[trainer]") {
  const auto data = spirals();
  MlpTrainer<double> small(MlpTrainerSettings{.hidden_units = 4}, data);
  small.step();
  std::stringstream checkpoint;
  small.save(checkpoint);
  const std::string bytes = checkpoint.str();

  MlpTrainer<double> wider(MlpTrainerSettings{.hidden_units = 5}, data);
  const auto before = weights_of(wider.model());
  std::stringstream in(bytes);
  CHECK_THROWS_WITH(wider.restore(in),
                    Catch::Contains("hidden_units=4") && Catch::Contains("hidden_units=5"));
  CHECK(weights_of(wider.model()) == before);

  // Settings that keep every shape are compared too, and so is the scalar type.
  MlpTrainer<double> faster(MlpTrainerSettings{.hidden_units = 4, .learning_rate = 0.02}, data);
  std::stringstream for_faster(bytes);
  CHECK_THROWS_WITH(faster.restore(for_faster), Catch::Contains("learning_rate=0.02"));
  MlpTrainer<double> more_dropout(MlpTrainerSettings{.hidden_units = 4, .dropout = 0.5}, data);
  std::stringstream for_dropout(bytes);
  CHECK_THROWS_AS(more_dropout.restore(for_dropout), std::runtime_error);
  const auto float_data =
      std::make_shared<const hpt::data::DatasetSplit<hpt::data::Dataset<float>>>(
          hpt::data::two_spirals<float>(60, 0.05, 11).split(0.25, 3));
  MlpTrainer<float> single(MlpTrainerSettings{.hidden_units = 4}, float_data);
  std::stringstream for_float(bytes);
  CHECK_THROWS_WITH(single.restore(for_float), Catch::Contains("scalar_bytes=8"));

  MlpTrainer<double> adam(MlpTrainerSettings{.hidden_units = 4, .optimizer = OptimizerKind::adam},
                          data);
  std::stringstream for_adam(bytes);
  CHECK_THROWS_AS(adam.restore(for_adam), std::runtime_error);

  MlpTrainer<double> same(MlpTrainerSettings{.hidden_units = 4}, data);
  const auto fresh = weights_of(same.model());
  for (const std::size_t length :
       {std::size_t{0}, std::size_t{5}, bytes.size() / 2, bytes.size() - 3}) {
    std::stringstream truncated(bytes.substr(0, length));
    INFO("checkpoint cut at " << length << " of " << bytes.size() << " bytes");
    CHECK_THROWS_AS(same.restore(truncated), std::runtime_error);
    CHECK(weights_of(same.model()) == fresh);
  }
  std::stringstream garbage("not a checkpoint");
  CHECK_THROWS_WITH(same.restore(garbage), Catch::Contains("not a trainer checkpoint"));
  CHECK(message_of([&] {
          std::stringstream whole(bytes);
          same.restore(whole);
        }) == "(no exception)");
  CHECK(weights_of(same.model()) == weights_of(small.model()));
}

TEST_CASE("MlpTrainer under Hyperband with checkpoints: pauses, resumes, diverges safely",
          "[trainer]") {
  const auto data = spirals(40);
  const hpt::SearchSpace space{
      hpt::log_uniform("learning_rate", 1e-3, 1e3),
      hpt::ordinal("minibatch_size", {4, 16}),
      hpt::int_range("hidden_units", 4, 16),
  };
  auto factory = [&](const hpt::Config& config) { return MlpTrainer<double>(config, data); };
  auto run = [&] {
    return hpt::tune(space, factory, hpt::Hyperband{.max_resource = 9, .reduction_factor = 3},
                     hpt::Divergence{},
                     {.direction = hpt::minimize, .seed = 3, .checkpoint_paused = true});
  };
  const auto study = run();
  CHECK(study.trials().size() > 5);
  CHECK(std::isfinite(study.best().result()));
  for (const auto& trial : study.trials()) CHECK(trial.status != hpt::TrialStatus::failed);
  // Same seed, same study, trainers included.
  const auto again = run();
  CHECK(again.best().config.to_string() == study.best().config.to_string());
  CHECK(again.best().result() == study.best().result());
}

TEST_CASE("MlpTrainer refuses a class count above max_class_count before making the model",
          "[trainer][robustness]") {
  // Four samples labelled 0 and 1, with an explicit class count far beyond them: the output
  // layer (a row of hidden_units weights per class, 2^31 x 64 doubles here) used to be allocated
  // until std::bad_alloc.
  const auto data_with = [](int class_count) {
    hpt::models::Matrix<double> features(2, 4);
    features << 0, 1, 2, 3, 3, 2, 1, 0;
    const hpt::data::Dataset<double> set(features, std::vector<int>{0, 1, 0, 1}, class_count);
    return std::make_shared<const Split>(Split{set, set});
  };
  constexpr int limit = hpt::models::max_class_count;
  STATIC_REQUIRE(limit == 1 << 24);
  const auto huge = data_with(std::numeric_limits<int>::max());
  REQUIRE_THROWS_AS(MlpTrainer<double>(MlpTrainerSettings{}, huge), std::invalid_argument);
  CHECK_THAT(message_of([&] { MlpTrainer<double>(MlpTrainerSettings{}, huge); }),
             Catch::Contains("MlpTrainer") && Catch::Contains("class_count = 2147483647") &&
                 Catch::Contains("hpt::models::max_class_count = 16777216"));
  // One class too many, with a model small enough to make were the limit not checked.
  const MlpTrainerSettings linear{.hidden_units = 1, .layers = 0};
  CHECK_THAT(message_of([&] { MlpTrainer<double>(linear, data_with(limit + 1)); }),
             Catch::Contains("class_count = 16777217") && Catch::Contains("= 16777216"));
  // Through a configuration too.
  CHECK_THAT(message_of([&] {
               MlpTrainer<double>(hpt::Config{{"hidden_units", 64}}, huge);
             }),
             Catch::Contains("class_count = 2147483647"));
  // A class count with room to spare is fine.
  const MlpTrainer<double> trainer(linear, data_with(3));
  CHECK(trainer.model().shape().outputs == 3);
}
