#pragma once
/// @file sequence_trainer.hpp
/// @brief The reference LSTM/GRU sequence model as an hpt::Trainable: built from a
/// configuration (the cell type is a hyperparameter), one epoch per step(), validation loss as
/// the objective, checkpoints of the whole training state.

#include <hpt/core/config.hpp>
#include <hpt/core/random.hpp>
#include <hpt/data/minibatch.hpp>
#include <hpt/data/sequence_dataset.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/sequence_model.hpp>
#include <hpt/nn/task.hpp>
#include <hpt/trainers/supervised_trainer.hpp>
#include <hpt/trainers/training_settings.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hpt::models {

/// @brief Everything a SequenceTrainer is made from; a flat aggregate like MlpTrainerSettings
/// (configuration names = member names).
struct SequenceTrainerSettings {
  Cell cell = Cell::lstm;        ///< lstm or gru.
  int hidden_units = 64;         ///< Hidden units per recurrent layer, >= 1.
  int layers = 1;                ///< Stacked recurrent layers, >= 1.
  double dropout = 0;            ///< On the head's input in training, [0, 1).
  double max_gradient_norm = 0;  ///< > 0: clip the global gradient norm; 0: no clipping.
  double learning_rate = 0.01;   ///< > 0.
  int minibatch_size = 32;       ///< Sequences per minibatch, >= 1.
  int minibatches_per_step = 0;  ///< Minibatches per step(); 0: one epoch.
  int epochs = 0;  ///< > 0: the trainer reports done after this many epochs; 0: no own limit.
  OptimizerKind optimizer = OptimizerKind::sgd;  ///< sgd or adam.
  double momentum = 0;                           ///< SGD momentum, >= 0 (sgd only).
  double l2 = 0;          ///< L2 penalty (the optimizer's weight decay), >= 0.
  std::int64_t seed = 0;  ///< Initialisation, shuffling and dropout.

  /// @brief The configuration names the settings read, besides the training ones.
  static constexpr std::array<std::string_view, 5> model_names{"cell", "hidden_units", "layers",
                                                               "dropout", "max_gradient_norm"};

  /// @brief `defaults` with every setting that `config` names replaced (see
  /// MlpTrainerSettings::from_config for the rules).
  [[nodiscard]] static SequenceTrainerSettings from_config(const Config& config) {
    return from_config(config, SequenceTrainerSettings{});
  }
  /// @brief As above, starting from `defaults` instead of the members' initialisers.
  [[nodiscard]] static SequenceTrainerSettings from_config(const Config& config,
                                                           SequenceTrainerSettings defaults) {
    detail::check_known_names(config, "SequenceTrainer", model_names);
    detail::read_exact(config, "cell", defaults.cell);
    detail::read_exact(config, "hidden_units", defaults.hidden_units);
    detail::read_exact(config, "layers", defaults.layers);
    detail::read_real(config, "dropout", defaults.dropout);
    detail::read_real(config, "max_gradient_norm", defaults.max_gradient_norm);
    detail::read_training_settings(config, defaults);
    defaults.validate();
    return defaults;
  }

  /// @brief Throws std::invalid_argument naming the first invalid setting and its value.
  void validate() const {
    if (cell != Cell::lstm && cell != Cell::gru)
      detail::bad_trainer_setting("SequenceTrainer", "cell", std::to_string(static_cast<int>(cell)),
                                  "must be lstm or gru");
    if (hidden_units < 1)
      detail::bad_trainer_setting("SequenceTrainer", "hidden_units", std::to_string(hidden_units),
                                  "must be >= 1");
    if (layers < 1)
      detail::bad_trainer_setting("SequenceTrainer", "layers", std::to_string(layers),
                                  "must be >= 1");
    if (!(dropout >= 0 && dropout < 1))
      detail::bad_trainer_setting("SequenceTrainer", "dropout", detail::format_setting(dropout),
                                  "must be in [0, 1)");
    if (!(max_gradient_norm >= 0) || !std::isfinite(max_gradient_norm))
      detail::bad_trainer_setting("SequenceTrainer", "max_gradient_norm",
                                  detail::format_setting(max_gradient_norm),
                                  "must be finite and >= 0");
    detail::validate_training_settings(*this, "SequenceTrainer");
  }

  /// @brief Every setting as "name=value;" text (reals with 17 digits); checkpoints keep it.
  [[nodiscard]] std::string describe() const {
    std::string text = "cell=" + std::string(cell == Cell::lstm ? "lstm" : "gru") +
                       ";hidden_units=" + std::to_string(hidden_units) +
                       ";layers=" + std::to_string(layers) +
                       ";dropout=" + detail::format_setting(dropout) +
                       ";max_gradient_norm=" + detail::format_setting(max_gradient_norm) + ";";
    detail::describe_training_settings(*this, text);
    return text;
  }
};

/// @brief The reference SequenceModel (stacked LSTM or GRU and a Linear head) trained on a
/// data::SequenceDataset, as an hpt::Trainable and Checkpointable.
///
/// Many-to-one datasets get a head on the last hidden state, many-to-many ones a head at every
/// step; class labels train with softmax cross-entropy, regression targets with mean squared
/// error. Everything else is as MlpTrainer.
template <class Scalar = float>
class SequenceTrainer
    : public detail::SupervisedTrainer<SequenceTrainer<Scalar>, Scalar,
                                       data::SequenceDataset<Scalar>, SequenceTrainerSettings> {
  using Base = detail::SupervisedTrainer<SequenceTrainer<Scalar>, Scalar,
                                         data::SequenceDataset<Scalar>, SequenceTrainerSettings>;
  friend Base;

 public:
  using typename Base::Data;

  /// @brief A trainer with `settings` on `data` (shared by every trial of a study). Throws
  /// std::invalid_argument for invalid settings, null data, or training data with more than
  /// max_class_count classes.
  SequenceTrainer(const SequenceTrainerSettings& settings, std::shared_ptr<const Data> data)
      : Base("SequenceTrainer", validated(settings), std::move(data)),
        model_(config_for(settings, this->data().train)),
        evaluator_(model_.config()) {
    Random random(Base::initialization_seed(settings));
    model_.initialize(random);
  }

  /// @brief A trainer from a configuration (see SequenceTrainerSettings::from_config).
  SequenceTrainer(const Config& config, std::shared_ptr<const Data> data,
                  const SequenceTrainerSettings& defaults = {})
      : SequenceTrainer(SequenceTrainerSettings::from_config(config, defaults), std::move(data)) {}

  /// @brief The model being trained.
  [[nodiscard]] const SequenceModel<Scalar>& model() const noexcept { return model_; }

 private:
  static const SequenceTrainerSettings& validated(const SequenceTrainerSettings& settings) {
    settings.validate();
    return settings;
  }

  static SequenceModelConfig config_for(const SequenceTrainerSettings& settings,
                                        const data::SequenceDataset<Scalar>& data) {
    return SequenceModelConfig{
        .input = data.feature_count(),
        .hidden = settings.hidden_units,
        .layers = settings.layers,
        .outputs = data.output_count(),
        .cell = settings.cell,
        .output_mode = data.alignment() == data::SequenceTarget::many_to_many
                           ? OutputMode::many_to_many
                           : OutputMode::many_to_one,
        .task = data.is_classification() ? Task::classification : Task::regression,
        .max_gradient_norm = settings.max_gradient_norm,
        .dropout = settings.dropout};
  }

  Scalar train_minibatch(const data::Minibatch<Scalar>& batch, TrainerOptimizer<Scalar>& optimizer,
                         Random& dropout_random) {
    const auto size = static_cast<Eigen::Index>(batch.size());
    if (model_.config().task == Task::classification)
      return model_.train_step(batch.features, size, std::span<const int>(batch.labels), optimizer,
                               dropout_random);
    return model_.train_step(batch.features, size, batch.targets, optimizer, dropout_random);
  }

  [[nodiscard]] const Matrix<Scalar>& training_output() const { return model_.output(); }

  Evaluation evaluate_minibatch(const data::Minibatch<Scalar>& batch) {
    detail::copy_parameter_values<Scalar>(model_.parameters(), evaluator_.parameters());
    evaluator_.forward(batch.features, static_cast<Eigen::Index>(batch.size()));
    Evaluation result;
    if (model_.config().task == Task::classification) {
      result.loss = static_cast<double>(evaluator_.loss(std::span<const int>(batch.labels)));
      result.accuracy =
          static_cast<double>(detail::count_correct<Scalar>(evaluator_.output(), batch.labels)) /
          static_cast<double>(batch.labels.size());
    } else {
      result.loss = static_cast<double>(evaluator_.loss(batch.targets));
    }
    return result;
  }

  [[nodiscard]] std::span<const ParameterView<Scalar>> parameter_views() const noexcept {
    return model_.parameters();
  }

  SequenceModel<Scalar> model_;
  SequenceModel<Scalar> evaluator_;  // see MlpTrainer: keeps training steps allocation-free
};

}  // namespace hpt::models
