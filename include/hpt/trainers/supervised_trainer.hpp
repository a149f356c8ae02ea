#pragma once
/// @file supervised_trainer.hpp
/// @brief The training loop the reference trainers (MlpTrainer, SequenceTrainer) share: shuffled
/// minibatches from a resumable cursor, an optimizer step per minibatch, the metrics of a step,
/// evaluation, and checkpoints of the whole training state.

#include <hpt/core/input_excerpt.hpp>
#include <hpt/core/metrics.hpp>
#include <hpt/core/random.hpp>
#include <hpt/data/epoch_cursor.hpp>
#include <hpt/data/minibatch.hpp>
#include <hpt/data/sample_store.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/trainers/training_settings.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace hpt::models {

/// @brief The most classes the reference trainers (MlpTrainer, SequenceTrainer) accept in their
/// training data: 2^24 = 16777216. The output layer has a row of weights per class, so a class
/// count beyond any real task (a typo, a label taken for a count) would allocate class count x
/// hidden units weights, gradients and optimizer state until std::bad_alloc; the trainers'
/// constructors throw std::invalid_argument naming the count and this limit instead, before
/// allocating anything for the model.
inline constexpr int max_class_count = 1 << 24;

/// @brief A model's loss and accuracy on a dataset.
struct Evaluation {
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< Mean loss, as in training.
  /// Share of correct predictions (arg max of the logits), in [0, 1]; NaN for regression.
  double accuracy = std::numeric_limits<double>::quiet_NaN();
};

namespace detail {

/// The number of columns of `logits` whose largest entry is at the row `labels` names.
template <class Scalar>
std::size_t count_correct(const Matrix<Scalar>& logits, std::span<const int> labels) {
  std::size_t correct = 0;
  for (Eigen::Index column = 0; column < logits.cols(); ++column) {
    Eigen::Index best = 0;
    logits.col(column).maxCoeff(&best);
    correct += best == labels[static_cast<std::size_t>(column)] ? 1U : 0U;
  }
  return correct;
}

/// Copies every parameter value of one model into another of the same shape.
template <class Scalar>
void copy_parameter_values(std::span<const ParameterView<Scalar>> from,
                           std::span<const ParameterView<Scalar>> to) {
  for (std::size_t i = 0; i < from.size(); ++i) to[i].values() = from[i].values();
}

/// The shared part of MlpTrainer and SequenceTrainer (CRTP). Derived provides
///   Scalar train_minibatch(const data::Minibatch<Scalar>&, TrainerOptimizer<Scalar>&, Random&)
///       (one optimizer step; returns the minibatch's mean loss),
///   const Matrix<Scalar>& training_output() const (the outputs of that step),
///   Evaluation evaluate_minibatch(const data::Minibatch<Scalar>&) (no dropout, no update),
///   std::span<const ParameterView<Scalar>> parameter_views() const.
template <class Derived, class Scalar, class DatasetType, class Settings>
class SupervisedTrainer {
 public:
  /// The data a trainer reads: a train/validation split, shared by every trial of a study.
  using Data = data::DatasetSplit<DatasetType>;

  SupervisedTrainer(const SupervisedTrainer&) = delete;
  SupervisedTrainer& operator=(const SupervisedTrainer&) = delete;
  SupervisedTrainer(SupervisedTrainer&&) noexcept = default;
  SupervisedTrainer& operator=(SupervisedTrainer&&) noexcept = default;
  ~SupervisedTrainer() = default;

  /// @brief Trains for one step (one epoch, or minibatches_per_step minibatches) and reports:
  /// objective = validation loss; train_loss (mean over the step's minibatches, in training
  /// mode: with dropout, before each update, as Keras reports it), validation_loss, and for
  /// classification train_accuracy and validation_accuracy; epoch (epochs done, as a fraction),
  /// samples (trained in this step) and samples_per_second (training only). A non-finite
  /// training loss ends the step at once; its validation loss then marks the trial diverged.
  /// With epochs > 0, a step ends early when that many epochs are complete, and done is set.
  Metrics step() {
    const auto minibatch_size = static_cast<std::size_t>(settings_.minibatch_size);
    const std::size_t minibatches = settings_.minibatches_per_step > 0
                                        ? static_cast<std::size_t>(settings_.minibatches_per_step)
                                        : cursor_.minibatches_per_epoch(minibatch_size);
    double loss_sum = 0;
    std::size_t samples = 0;
    std::size_t correct = 0;
    std::size_t predictions = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < minibatches; ++k) {
      const auto indices = cursor_.next(minibatch_size);
      auto& batch = indices.size() == minibatch_size ? full_ : last_;
      data_->train.gather(indices, batch);
      const double loss =
          static_cast<double>(derived().train_minibatch(batch, optimizer_, dropout_random_));
      loss_sum += loss * static_cast<double>(batch.size());
      samples += batch.size();
      if (classification_) {
        correct += count_correct<Scalar>(derived().training_output(), batch.labels);
        predictions += batch.labels.size();
      }
      if (!std::isfinite(loss)) break;
      // The epochs limit ends a step early rather than training past it.
      if (settings_.epochs > 0 && cursor_.completed_epochs() >= settings_.epochs) break;
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    ++steps_;

    const double train_loss = loss_sum / static_cast<double>(samples);
    const Evaluation validation = std::isfinite(train_loss)
                                      ? derived().evaluate_minibatch(validation_batch_)
                                      : Evaluation{.loss = train_loss, .accuracy = 0};
    Metrics metrics;
    metrics.objective = validation.loss;
    metrics.values.reserve(7);
    metrics.values.emplace_back("train_loss", train_loss);
    metrics.values.emplace_back("validation_loss", validation.loss);
    if (classification_) {
      metrics.values.emplace_back("train_accuracy",
                                  static_cast<double>(correct) / static_cast<double>(predictions));
      metrics.values.emplace_back("validation_accuracy", validation.accuracy);
    }
    metrics.values.emplace_back("epoch", cursor_.epochs());
    metrics.values.emplace_back("samples", static_cast<double>(samples));
    metrics.values.emplace_back("samples_per_second",
                                seconds.count() > 0 ? static_cast<double>(samples) / seconds.count()
                                                    : std::numeric_limits<double>::infinity());
    metrics.done = settings_.epochs > 0 && cursor_.completed_epochs() >= settings_.epochs;
    return metrics;
  }

  /// @brief Loss and accuracy on any dataset of the training data's kind (e.g. a test set),
  /// without dropout and without changing the model.
  [[nodiscard]] Evaluation evaluate(const DatasetType& dataset) {
    return derived().evaluate_minibatch(dataset.as_minibatch());
  }

  /// @brief The settings, after reading the configuration and validating.
  [[nodiscard]] const Settings& settings() const noexcept { return settings_; }
  /// @brief The data.
  [[nodiscard]] const Data& data() const noexcept { return *data_; }
  /// @brief Where training is: epochs done and the next minibatch's samples.
  [[nodiscard]] const data::EpochCursor& cursor() const noexcept { return cursor_; }
  /// @brief The number of step() calls so far.
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }

  /// @brief Writes the whole training state: weights, optimizer state (momentum or Adam's
  /// moments), the sampling position and both random sources, so that restore() continues
  /// exactly where this trainer stands (the next steps give the same numbers bit for bit).
  void save(std::ostream& out) const {
    out << tag << '\n'
        << owner_ << '\n'
        << header() << '\n'
        << settings_.describe() << '\n'
        << steps_ << '\n';
    const auto views = derived().parameter_views();
    std::vector<Vector<Scalar>> values;
    values.reserve(views.size());
    for (const auto& view : views) values.emplace_back(view.values().reshaped());
    write_tensors(out, values);
    optimizer_.write(out);
    cursor_.write(out);
    out << dropout_random_ << '\n' << end_tag << '\n';
    if (!out) throw std::runtime_error(owner_ + "::save: stream error");
  }

  /// @brief Reads what save() wrote, from a trainer made from the same configuration and data.
  /// Throws std::runtime_error naming the mismatch (another model, shape, optimizer or dataset
  /// size), the invalid field or the truncation, and then changes nothing. Every count and size
  /// in the stream is checked against this trainer's model and data before anything is
  /// allocated for it, and the state is parsed whole into temporaries before it replaces the
  /// trainer's.
  void restore(std::istream& in) {
    const std::string where = owner_ + "::restore: ";
    std::string line;
    if (!std::getline(in, line) || line != tag)
      throw std::runtime_error(where + "not a trainer checkpoint");
    if (!std::getline(in, line) || line != owner_)
      throw std::runtime_error(where + "the checkpoint is of a " + hpt::detail::quote_input(line));
    if (!std::getline(in, line) || line != header())
      throw std::runtime_error(where + "the checkpoint holds " + hpt::detail::quote_input(line) +
                               ", this trainer \"" + header() + "\"");
    // Settings that keep every shape (learning rate, dropout, minibatch size, ...) would
    // otherwise be restored silently into a trainer that reports others.
    if (!std::getline(in, line) || line != settings_.describe())
      throw std::runtime_error(where + settings_difference(line, settings_.describe()));
    std::int64_t steps = 0;
    if (!(in >> steps) || in.get() != '\n')
      throw std::runtime_error(where + "truncated checkpoint");
    // step() adds one: INT64_MAX would overflow.
    if (steps < 0 || steps == std::numeric_limits<std::int64_t>::max())
      throw std::runtime_error(where + "step count " + std::to_string(steps) + " is out of range");
    const auto views = derived().parameter_views();
    const auto values = read_tensors<Scalar>(in, views, where, "the checkpoint", false);
    TrainerOptimizer<Scalar> optimizer = read_optimizer(in, views, where);
    data::EpochCursor cursor = cursor_;
    try {
      cursor.read(in);
    } catch (const std::runtime_error& error) {
      throw std::runtime_error(where + "data cursor: " + error.what());
    }
    Random dropout_random;
    std::string end;
    // The end tag also tells a random state cut in its last number from a whole one.
    if (!(in >> dropout_random >> end) || end != end_tag)
      throw std::runtime_error(where + "truncated checkpoint (random state)");

    // Nothing below throws: the trainer changes all at once or not at all.
    for (std::size_t i = 0; i < views.size(); ++i) views[i].values().reshaped() = values[i];
    optimizer_ = std::move(optimizer);
    cursor_ = std::move(cursor);
    dropout_random_ = dropout_random;
    steps_ = steps;
  }

 protected:
  /// `owner` names the trainer in messages; seeds: derive_seed(seed, 0) is the model's
  /// initialisation (Derived's), 1 the shuffling, 2 dropout.
  SupervisedTrainer(std::string owner, const Settings& settings, std::shared_ptr<const Data> data)
      : owner_(std::move(owner)),
        settings_(settings),
        data_(checked(std::move(data), owner_)),
        optimizer_(settings.optimizer, settings.learning_rate, settings.momentum, settings.l2),
        cursor_(data_->train.size(), derive_seed(static_cast<std::uint64_t>(settings.seed), 1)),
        dropout_random_(derive_seed(static_cast<std::uint64_t>(settings.seed), 2)),
        classification_(data_->train.is_classification()),
        validation_batch_(data_->validation.as_minibatch()) {
    if (data_->validation.is_classification() != classification_)
      throw std::invalid_argument(owner_ +
                                  ": train and validation sets hold different kinds of targets");
  }

  /// The seed of the model's initialisation.
  [[nodiscard]] static std::uint64_t initialization_seed(const Settings& settings) noexcept {
    return derive_seed(static_cast<std::uint64_t>(settings.seed), 0);
  }

 private:
  static constexpr const char* tag = "hpt.trainer.1";

  // The first "name=value" entry where a checkpoint's settings line and this trainer's differ,
  // quoted from the checkpoint within bounds: the line may be anything.
  static std::string settings_difference(std::string_view theirs, std::string_view ours) {
    const auto next = [](std::string_view& text) {
      const auto end = text.find(';');
      const auto entry = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
      return entry;
    };
    while (!theirs.empty() || !ours.empty()) {
      const auto their_entry = next(theirs);
      const auto our_entry = next(ours);
      if (their_entry != our_entry)
        return "the checkpoint was written with the setting " +
               hpt::detail::quote_input(their_entry) + ", this trainer has \"" +
               std::string(our_entry) + "\"";
    }
    return "the checkpoint's settings differ from this trainer's";
  }
  static constexpr const char* end_tag = "hpt.trainer.end";

  // The optimizer's state, checked against the model (TrainerOptimizer::read without the
  // parameters would take the sizes in the stream on trust), into a new optimizer: one made
  // from the settings, as the constructor makes optimizer_, whose state the read replaces.
  TrainerOptimizer<Scalar> read_optimizer(std::istream& in,
                                          std::span<const ParameterView<Scalar>> views,
                                          const std::string& where) const {
    TrainerOptimizer<Scalar> optimizer(settings_.optimizer, settings_.learning_rate,
                                       settings_.momentum, settings_.l2);
    try {
      optimizer.read(in, views);
    } catch (const std::runtime_error& error) {
      throw std::runtime_error(where + "optimizer state: " + error.what());
    }
    // The settings line matched, so the optimizer's settings must be this trainer's.
    const bool same_settings = std::visit(
        [](const auto& restored, const auto& own) {
          using Restored = std::decay_t<decltype(restored)>;
          if constexpr (!std::is_same_v<Restored, std::decay_t<decltype(own)>>) {
            return false;
          } else if constexpr (std::is_same_v<Restored, Sgd<Scalar>>) {
            return restored.learning_rate == own.learning_rate &&
                   restored.momentum == own.momentum && restored.dampening == own.dampening &&
                   restored.nesterov == own.nesterov && restored.weight_decay == own.weight_decay;
          } else {
            return restored.learning_rate == own.learning_rate && restored.beta1 == own.beta1 &&
                   restored.beta2 == own.beta2 && restored.epsilon == own.epsilon &&
                   restored.weight_decay == own.weight_decay;
          }
        },
        optimizer.get(), optimizer_.get());
    if (!same_settings)
      throw std::runtime_error(where +
                               "the optimizer's settings in the checkpoint are not this trainer's");
    return optimizer;
  }

  // The scalar type and the data's size: a float checkpoint must not be read as double.
  [[nodiscard]] std::string header() const {
    return "scalar_bytes=" + std::to_string(sizeof(Scalar)) +
           ";train_samples=" + std::to_string(data_->train.size()) + ";";
  }

  static std::shared_ptr<const Data> checked(std::shared_ptr<const Data> data,
                                             const std::string& owner) {
    if (!data) throw std::invalid_argument(owner + ": data is null");
    // Before Derived makes its model, whose output layer has a row per class.
    if (data->train.is_classification() && data->train.class_count() > max_class_count)
      throw std::invalid_argument(
          owner +
          ": the training data's class_count = " + std::to_string(data->train.class_count()) +
          " is above hpt::models::max_class_count = " + std::to_string(max_class_count) +
          " (the output layer has a row of weights per class)");
    return data;
  }

  Derived& derived() noexcept { return static_cast<Derived&>(*this); }
  const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

  std::string owner_;
  Settings settings_;
  std::shared_ptr<const Data> data_;
  TrainerOptimizer<Scalar> optimizer_;
  data::EpochCursor cursor_;
  Random dropout_random_;
  bool classification_;
  data::Minibatch<Scalar> validation_batch_;
  data::Minibatch<Scalar> full_;  // minibatches of minibatch_size samples
  data::Minibatch<Scalar> last_;  // the shorter last minibatch of an epoch
  std::int64_t steps_ = 0;
};

}  // namespace detail

}  // namespace hpt::models
