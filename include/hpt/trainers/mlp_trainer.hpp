#pragma once
/// @file mlp_trainer.hpp
/// @brief The reference MLP as an hpt::Trainable: built from a configuration, one epoch per
/// step(), validation loss as the objective, checkpoints of the whole training state.

#include <hpt/core/config.hpp>
#include <hpt/core/random.hpp>
#include <hpt/data/dataset.hpp>
#include <hpt/data/minibatch.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/activation.hpp>
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/task.hpp>
#include <hpt/trainers/supervised_trainer.hpp>
#include <hpt/trainers/training_settings.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hpt::models {

/// @brief Everything an MlpTrainer is made from. A flat aggregate, so that it can be the typed
/// hyperparameters of a study (hpt::space_of<MlpTrainerSettings>) or read from a Config with
/// from_config(); each member's configuration name is the member's name.
struct MlpTrainerSettings {
  int hidden_units = 64;                     ///< Units in every hidden layer, >= 1.
  int layers = 1;                            ///< Hidden layers, >= 0 (0: a linear model).
  Activation activation = Activation::relu;  ///< relu, tanh or sigmoid.
  double dropout = 0;                        ///< Drop probability after each hidden layer, [0, 1).
  double learning_rate = 0.01;               ///< > 0.
  int minibatch_size = 32;                   ///< Samples per minibatch, >= 1.
  int minibatches_per_step = 0;              ///< Minibatches per step(); 0: one epoch.
  int epochs = 0;  ///< > 0: the trainer reports done after this many epochs; 0: no own limit.
  OptimizerKind optimizer = OptimizerKind::sgd;  ///< sgd or adam.
  double momentum = 0;                           ///< SGD momentum, >= 0 (sgd only).
  double l2 = 0;          ///< L2 penalty (the optimizer's weight decay), >= 0.
  std::int64_t seed = 0;  ///< Initialisation, shuffling and dropout.

  /// @brief The configuration names the settings read, besides the training ones.
  static constexpr std::array<std::string_view, 4> model_names{"hidden_units", "layers",
                                                               "activation", "dropout"};

  /// @brief `defaults` with every setting that `config` names replaced. Integers are taken for
  /// real settings (dropout 0); enums by label ("adam", "tanh"). Throws std::invalid_argument
  /// for a name no setting has (a typo), a value of the wrong kind or an invalid value.
  [[nodiscard]] static MlpTrainerSettings from_config(const Config& config) {
    return from_config(config, MlpTrainerSettings{});
  }
  /// @brief As above, starting from `defaults` instead of the members' initialisers.
  [[nodiscard]] static MlpTrainerSettings from_config(const Config& config,
                                                      MlpTrainerSettings defaults) {
    detail::check_known_names(config, "MlpTrainer", model_names);
    detail::read_exact(config, "hidden_units", defaults.hidden_units);
    detail::read_exact(config, "layers", defaults.layers);
    detail::read_exact(config, "activation", defaults.activation);
    detail::read_real(config, "dropout", defaults.dropout);
    detail::read_training_settings(config, defaults);
    defaults.validate();
    return defaults;
  }

  /// @brief Throws std::invalid_argument naming the first invalid setting and its value.
  void validate() const {
    if (hidden_units < 1)
      detail::bad_trainer_setting("MlpTrainer", "hidden_units", std::to_string(hidden_units),
                                  "must be >= 1");
    if (layers < 0)
      detail::bad_trainer_setting("MlpTrainer", "layers", std::to_string(layers), "must be >= 0");
    if (!(dropout >= 0 && dropout < 1))
      detail::bad_trainer_setting("MlpTrainer", "dropout", detail::format_setting(dropout),
                                  "must be in [0, 1)");
    (void)to_string(activation);
    detail::validate_training_settings(*this, "MlpTrainer");
  }

  /// @brief Every setting as "name=value;" text (reals with 17 digits); checkpoints keep it.
  [[nodiscard]] std::string describe() const {
    std::string text = "hidden_units=" + std::to_string(hidden_units) +
                       ";layers=" + std::to_string(layers) +
                       ";activation=" + std::string(to_string(activation)) +
                       ";dropout=" + detail::format_setting(dropout) + ";";
    detail::describe_training_settings(*this, text);
    return text;
  }
};

/// @brief The reference Mlp trained on a data::Dataset, as an hpt::Trainable and Checkpointable.
///
/// @code
/// auto data = std::make_shared<const hpt::data::DatasetSplit<hpt::data::Dataset<float>>>(
///     hpt::data::load_digits<float>().split(0.2, 7));
/// auto study = hpt::tune(space,
///     [&](const hpt::Config& config) { return hpt::models::MlpTrainer<float>(config, data); },
///     hpt::Hyperband{.max_resource = 27}, hpt::Divergence{});
/// @endcode
///
/// The model has the dataset's features as inputs and its classes (softmax cross-entropy) or
/// regression targets (mean squared error) as outputs, and PyTorch's default initialisation
/// from the seed. The same settings and data give the same weights after the same steps, also
/// after a save() and restore() in between.
template <class Scalar = float>
class MlpTrainer : public detail::SupervisedTrainer<MlpTrainer<Scalar>, Scalar,
                                                    data::Dataset<Scalar>, MlpTrainerSettings> {
  using Base = detail::SupervisedTrainer<MlpTrainer<Scalar>, Scalar, data::Dataset<Scalar>,
                                         MlpTrainerSettings>;
  friend Base;

 public:
  using typename Base::Data;

  /// @brief A trainer with `settings` on `data` (kept alive by the shared pointer; every trial
  /// of a study can share it). Throws std::invalid_argument for invalid settings, null data, or
  /// training data with more than max_class_count classes.
  MlpTrainer(const MlpTrainerSettings& settings, std::shared_ptr<const Data> data)
      : Base("MlpTrainer", validated(settings), std::move(data)),
        model_(shape_for(settings, this->data().train)),  // dropout masks come from the trainer
        evaluator_(model_.shape()) {
    Random random(Base::initialization_seed(settings));
    model_.initialize(random);
  }

  /// @brief A trainer from a configuration (see MlpTrainerSettings::from_config); settings the
  /// configuration does not name keep their value in `defaults`.
  MlpTrainer(const Config& config, std::shared_ptr<const Data> data,
             const MlpTrainerSettings& defaults = {})
      : MlpTrainer(MlpTrainerSettings::from_config(config, defaults), std::move(data)) {}

  /// @brief The model being trained.
  [[nodiscard]] const Mlp<Scalar>& model() const noexcept { return model_; }

 private:
  static const MlpTrainerSettings& validated(const MlpTrainerSettings& settings) {
    settings.validate();
    return settings;
  }

  static MlpShape shape_for(const MlpTrainerSettings& settings, const data::Dataset<Scalar>& data) {
    return MlpShape{.inputs = data.feature_count(),
                    .hidden = std::vector<Eigen::Index>(static_cast<std::size_t>(settings.layers),
                                                        settings.hidden_units),
                    .outputs = data.output_count(),
                    .activation = settings.activation,
                    .dropout = settings.dropout,
                    .task = data.is_classification() ? Task::classification : Task::regression};
  }

  Scalar train_minibatch(const data::Minibatch<Scalar>& batch, TrainerOptimizer<Scalar>& optimizer,
                         Random& dropout_random) {
    if (model_.shape().task == Task::classification)
      return model_.train_step(batch.features, std::span<const int>(batch.labels), optimizer,
                               dropout_random);
    return model_.train_step(batch.features, batch.targets, optimizer, dropout_random);
  }

  [[nodiscard]] const Matrix<Scalar>& training_output() const noexcept { return model_.output(); }

  Evaluation evaluate_minibatch(const data::Minibatch<Scalar>& batch) {
    detail::copy_parameter_values<Scalar>(model_.parameters(), evaluator_.parameters());
    Evaluation result;
    if (model_.shape().task == Task::classification) {
      result.loss = static_cast<double>(evaluator_.evaluate_loss(batch.features, batch.labels));
      result.accuracy =
          static_cast<double>(detail::count_correct<Scalar>(evaluator_.output(), batch.labels)) /
          static_cast<double>(batch.labels.size());
    } else {
      result.loss = static_cast<double>(evaluator_.evaluate_loss(batch.features, batch.targets));
    }
    return result;
  }

  [[nodiscard]] std::span<const ParameterView<Scalar>> parameter_views() const noexcept {
    return model_.parameters();
  }

  Mlp<Scalar> model_;
  // A second model for evaluation: its workspaces keep the validation set's size, so that the
  // training model's stay at the minibatch's and training steps do not allocate.
  Mlp<Scalar> evaluator_;
};

}  // namespace hpt::models
