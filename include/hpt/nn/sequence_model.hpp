#pragma once
/// @file sequence_model.hpp
/// @brief A complete sequence model: a stacked LSTM or GRU and a Linear head, many-to-one or
/// many-to-many, with softmax cross-entropy or mean squared error and full backpropagation
/// through time.
///
/// The equivalent PyTorch module (see docs/models/lstm.md) has two children, `rnn` (nn.LSTM or
/// nn.GRU with batch_first=False) and `head` (nn.Linear(hidden, outputs)); parameters() uses the
/// names of its state_dict: rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0,
/// ..., head.weight, head.bias.

#include <hpt/core/random.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/gru.hpp>
#include <hpt/nn/linear.hpp>
#include <hpt/nn/loss.hpp>
#include <hpt/nn/lstm.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/nn/sequence_layout.hpp>
#include <hpt/nn/task.hpp>

#include <Eigen/Core>
#include <array>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hpt::models {

/// @brief The recurrent cell of a SequenceModel.
enum class Cell { lstm, gru };

/// @brief Labels for hpt::Value and configurations: "lstm", "gru".
constexpr auto enum_labels(Cell) {
  return std::array{std::pair{Cell::lstm, "lstm"}, std::pair{Cell::gru, "gru"}};
}

/// @brief Where the head reads the recurrent states.
enum class OutputMode {
  many_to_one,  ///< Once per sequence, on the top layer's last hidden state: outputs x batch.
  many_to_many  ///< At every step: outputs x time*batch (same column order as the input).
};

/// @brief The shape of a SequenceModel, e.g. `{.input = 8, .hidden = 128, .layers = 2,
/// .outputs = 10, .cell = Cell::lstm, .output_mode = OutputMode::many_to_one,
/// .task = Task::classification}`.
struct SequenceModelConfig {
  Eigen::Index input = 0;    ///< Features per time step, > 0.
  Eigen::Index hidden = 0;   ///< Hidden units per recurrent layer, > 0.
  Eigen::Index layers = 1;   ///< Stacked recurrent layers, > 0.
  Eigen::Index outputs = 0;  ///< Head outputs (classes for classification), > 0.
  Cell cell = Cell::lstm;    ///< LSTM or GRU.
  OutputMode output_mode = OutputMode::many_to_one;  ///< Head on the last step or every step.
  Task task = Task::classification;                  ///< Loss used by train_step().
  double max_gradient_norm = 0;  ///< > 0: train_step() clips the global gradient norm; 0: off.
  /// Drop probability in [0, 1) on the head's input (the hidden states it reads) in training
  /// forward passes, inverted dropout as nn.Dropout; 0: off. nn.LSTM's own `dropout` acts between
  /// stacked layers instead; this one also regularises one-layer models.
  double dropout = 0;

  /// @brief Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    auto fail = [](const std::string& field, const std::string& value, const char* rule) {
      throw std::invalid_argument("hpt::models::SequenceModelConfig: " + field + " = " + value +
                                  " " + rule);
    };
    if (input <= 0) fail("input", std::to_string(input), "must be positive");
    if (hidden <= 0) fail("hidden", std::to_string(hidden), "must be positive");
    if (layers <= 0) fail("layers", std::to_string(layers), "must be positive");
    if (outputs <= 0) fail("outputs", std::to_string(outputs), "must be positive");
    if (cell != Cell::lstm && cell != Cell::gru)
      fail("cell", std::to_string(static_cast<int>(cell)), "must be Cell::lstm or Cell::gru");
    if (output_mode != OutputMode::many_to_one && output_mode != OutputMode::many_to_many)
      fail("output_mode", std::to_string(static_cast<int>(output_mode)),
           "must be OutputMode::many_to_one or OutputMode::many_to_many");
    if (task != Task::classification && task != Task::regression)
      fail("task", std::to_string(static_cast<int>(task)),
           "must be Task::classification or Task::regression");
    if (!(max_gradient_norm >= 0) || !std::isfinite(max_gradient_norm))
      fail("max_gradient_norm", detail::format_setting(max_gradient_norm),
           "must be finite and >= 0");
    if (!(dropout >= 0 && dropout < 1))
      fail("dropout", detail::format_setting(dropout), "must be in [0, 1)");
  }
};

/// @brief Stacked LSTM or GRU layers followed by a Linear head.
///
/// Input: (input x time*batch), column t*batch + b = step t of sequence b (sequence_layout.hpp).
/// Training, as Mlp: `train_step(x, batch, targets, optimizer)` is a training forward(), loss(),
/// backward(), clipping (if max_gradient_norm > 0) and `optimizer.step(parameters())`;
/// `train_loss_and_gradients(x, batch, targets)` stops after backward(), leaving the gradients.
/// With a fixed (time, batch) the steady state allocates nothing (see docs/models/lstm.md).
template <class Scalar>
class SequenceModel {
 public:
  /// @brief A model with zero parameters; call initialize() or assign them via parameters().
  /// @throws std::invalid_argument naming an invalid configuration field.
  explicit SequenceModel(const SequenceModelConfig& config)
      : config_(validated(config)),
        recurrent_(make_recurrent(config)),
        head_(config.hidden, config.outputs) {
    build_parameter_views();
  }
  SequenceModel(const SequenceModel& other)
      : config_(other.config_),
        recurrent_(other.recurrent_),
        head_(other.head_),
        random_(other.random_) {
    build_parameter_views();
  }
  // Moving an Eigen matrix hands over its heap buffer, so the moved views stay valid: moves
  // allocate nothing and can be noexcept.
  SequenceModel(SequenceModel&& other) noexcept
      : config_(other.config_),
        recurrent_(std::move(other.recurrent_)),
        head_(std::move(other.head_)),
        random_(other.random_),
        parameters_(std::move(other.parameters_)) {}
  SequenceModel& operator=(const SequenceModel& other) {
    if (this != &other) *this = SequenceModel(other);
    return *this;
  }
  SequenceModel& operator=(SequenceModel&& other) noexcept {
    config_ = other.config_;
    recurrent_ = std::move(other.recurrent_);
    head_ = std::move(other.head_);
    random_ = other.random_;
    parameters_ = std::move(other.parameters_);
    has_output_ = false;
    dropout_applied_ = false;
    has_loss_gradient_ = false;
    head_output_ = nullptr;
    return *this;
  }
  ~SequenceModel() = default;

  /// @brief The configuration.
  [[nodiscard]] const SequenceModelConfig& config() const noexcept { return config_; }

  /// @brief PyTorch's default initialisation: the recurrent layers (U(-1/sqrt(hidden),
  /// 1/sqrt(hidden))), then the head (U(-1/sqrt(hidden), 1/sqrt(hidden)) as nn.Linear).
  void initialize(hpt::Random& random) {
    std::visit([&](auto& recurrent) { recurrent.initialize(random); }, recurrent_);
    head_.initialize(random);
  }

  /// @brief Views of every tensor with the state_dict names of the PyTorch module
  /// {rnn: nn.LSTM/nn.GRU, head: nn.Linear}: "rnn.weight_ih_l0", ..., "head.weight", "head.bias".
  [[nodiscard]] const std::vector<ParameterView<Scalar>>& parameters() const noexcept {
    return parameters_;
  }

  /// @brief The LSTM layers, or null for a GRU model.
  [[nodiscard]] Lstm<Scalar>* lstm() noexcept { return std::get_if<Lstm<Scalar>>(&recurrent_); }
  /// @brief The GRU layers, or null for an LSTM model.
  [[nodiscard]] Gru<Scalar>* gru() noexcept { return std::get_if<Gru<Scalar>>(&recurrent_); }
  /// @brief The head.
  [[nodiscard]] Linear<Scalar>& head() noexcept { return head_; }

  /// @brief Sizes the recurrent workspaces for up to `time` steps and `batch` sequences.
  void reserve(Eigen::Index time, Eigen::Index batch) {
    std::visit([&](auto& recurrent) { recurrent.reserve(time, batch); }, recurrent_);
  }

  /// @brief Runs the model: (outputs x batch) for many-to-one, (outputs x time*batch) for
  /// many-to-many (logits for classification, predictions for regression). No dropout.
  /// @throws std::invalid_argument if the input does not fit (wrong rows, columns not a multiple
  /// of batch, ...).
  const Matrix<Scalar>& forward(const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch) {
    return run_forward(input, batch, nullptr);
  }

  /// @brief A training forward pass: as forward(), with dropout (if configured) on the head's
  /// input drawn from `random`.
  const Matrix<Scalar>& forward(const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch,
                                hpt::Random& random) {
    return run_forward(input, batch, &random);
  }

  /// @brief The head's output of the last forward().
  /// @throws std::logic_error without a forward().
  [[nodiscard]] const Matrix<Scalar>& output() const { return head_output(); }

  /// @brief Mean softmax cross-entropy of the last forward() against class indices (one per
  /// prediction: batch of them for many-to-one, time*batch in input column order for
  /// many-to-many); keeps dL/doutput for backward().
  /// @throws std::logic_error for a regression model or without forward(); std::invalid_argument
  /// or std::out_of_range for targets that do not fit.
  Scalar loss(std::span<const int> targets) {
    require_task(Task::classification, "loss(class indices)");
    return softmax_cross_entropy<Scalar>(head_output(), targets, output_gradient_);
  }

  /// @brief Mean squared error of the last forward() against targets of the output's shape;
  /// keeps dL/doutput for backward().
  /// @throws std::logic_error for a classification model or without forward();
  /// std::invalid_argument for targets of another shape.
  Scalar loss(const Eigen::Ref<const Matrix<Scalar>>& targets) {
    require_task(Task::regression, "loss(target matrix)");
    return mean_squared_error<Scalar>(head_output(), targets, output_gradient_);
  }

  /// @brief Back-propagates the gradient kept by loss() through time: overwrites every parameter
  /// gradient and, if `input_gradient` is not null, writes dL/dinput (input x time*batch).
  void backward(Matrix<Scalar>* input_gradient = nullptr) {
    if (!has_loss_gradient_)
      throw std::logic_error("hpt::models::SequenceModel::backward: call loss() first");
    backward_from(output_gradient_, input_gradient);
  }

  /// @brief Back-propagates a caller's dL/doutput (the shape of forward()'s result), for losses
  /// computed outside the model.
  void backward(const Eigen::Ref<const Matrix<Scalar>>& output_gradient,
                Matrix<Scalar>* input_gradient) {
    if (!has_output_)
      throw std::logic_error("hpt::models::SequenceModel::backward: call forward() first");
    backward_from(output_gradient, input_gradient);
  }

  /// @brief One training step: forward (with dropout, if configured, drawn from the model's own
  /// random source), loss, backward, clipping (if max_gradient_norm > 0) and
  /// `optimizer.step(parameters())`. `targets`: class indices (std::span<const int> or a
  /// std::vector<int>) or a target matrix, as loss() takes them. Returns the loss before the
  /// update.
  template <class Targets, class Optimizer>
  Scalar train_step(const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch,
                    const Targets& targets, Optimizer& optimizer) {
    return update(train_loss_and_gradients_with(input, batch, targets, &random_), optimizer);
  }

  /// @brief train_step() without clipping and update: training forward (dropout from the model's
  /// own random source), loss and backward; returns the loss and leaves every gradient in
  /// parameters(), to check, accumulate or clip them otherwise.
  template <class Targets>
  Scalar train_loss_and_gradients(const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch,
                                  const Targets& targets) {
    return train_loss_and_gradients_with(input, batch, targets, &random_);
  }

  /// @brief train_loss_and_gradients() with dropout (if configured) drawn from `random`.
  template <class Targets>
  Scalar train_loss_and_gradients(const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch,
                                  const Targets& targets, hpt::Random& random) {
    return train_loss_and_gradients_with(input, batch, targets, &random);
  }

  /// @brief The model's own random source for dropout in train_step() (seed 0 until reseeded).
  [[nodiscard]] hpt::Random& dropout_random() noexcept { return random_; }

  /// @brief train_step() with dropout (if configured) drawn from `random`.
  template <class Targets, class Optimizer>
  Scalar train_step(const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch,
                    const Targets& targets, Optimizer& optimizer, hpt::Random& random) {
    return update(train_loss_and_gradients_with(input, batch, targets, &random), optimizer);
  }

 private:
  template <class Targets>
  Scalar train_loss_and_gradients_with(const Eigen::Ref<const Matrix<Scalar>>& input,
                                       Eigen::Index batch, const Targets& targets,
                                       hpt::Random* random) {
    run_forward(input, batch, random);
    const Scalar value = loss(targets);
    backward();
    return value;
  }

  template <class Optimizer>
  Scalar update(Scalar training_loss, Optimizer& optimizer) {
    clip_and_step<Scalar>(std::span<const ParameterView<Scalar>>(parameters_),
                          config_.max_gradient_norm, optimizer);
    return training_loss;
  }

  static const SequenceModelConfig& validated(const SequenceModelConfig& config) {
    config.validate();
    return config;
  }
  static std::variant<Lstm<Scalar>, Gru<Scalar>> make_recurrent(const SequenceModelConfig& config) {
    if (config.cell == Cell::lstm) return Lstm<Scalar>(config.input, config.hidden, config.layers);
    return Gru<Scalar>(config.input, config.hidden, config.layers);
  }

  void build_parameter_views() {
    parameters_.clear();
    std::visit([&](auto& recurrent) { recurrent.append_parameters(parameters_, "rnn."); },
               recurrent_);
    head_.append_parameters(parameters_, "head.");
  }

  SequenceShape recurrent_shape() const {
    return std::visit([](const auto& recurrent) { return recurrent.shape(); }, recurrent_);
  }

  const Matrix<Scalar>& head_output() const {
    if (!has_output_) throw std::logic_error("hpt::models::SequenceModel: call forward() first");
    return *head_output_;
  }

  void require_task(Task task, const char* what) {
    if (config_.task != task)
      throw std::logic_error(
          std::string("hpt::models::SequenceModel::") + what + ": the model's task is " +
          (config_.task == Task::classification ? "classification" : "regression"));
    head_output();
    has_loss_gradient_ = true;
  }

  const Matrix<Scalar>& run_forward(const Eigen::Ref<const Matrix<Scalar>>& input,
                                    Eigen::Index batch, hpt::Random* random) {
    has_output_ = false;
    has_loss_gradient_ = false;
    dropout_applied_ = random != nullptr && config_.dropout > 0;
    std::visit(
        [&](auto& recurrent) {
          const auto states = recurrent.forward(input, batch);
          const auto head_input = states.rightCols(
              config_.output_mode == OutputMode::many_to_one ? batch : states.cols());
          if (dropout_applied_) {
            const Scalar keep_scale = Scalar(1) / static_cast<Scalar>(1 - config_.dropout);
            dropout_mask_.resize(head_input.rows(), head_input.cols());
            for (Eigen::Index i = 0; i < dropout_mask_.size(); ++i)
              dropout_mask_(i) = random->uniform() < config_.dropout ? Scalar(0) : keep_scale;
            dropped_.resize(head_input.rows(), head_input.cols());
            dropped_.array() = head_input.array() * dropout_mask_.array();
            head_output_ = &head_.forward(dropped_);
          } else {
            head_output_ = &head_.forward(head_input);
          }
        },
        recurrent_);
    shape_ = recurrent_shape();
    has_output_ = true;
    return *head_output_;
  }

  void backward_from(const Eigen::Ref<const Matrix<Scalar>>& output_gradient,
                     Matrix<Scalar>* input_gradient) {
    const Eigen::Index batch = shape_.batch;
    head_.backward(output_gradient, &head_input_gradient_);
    if (dropout_applied_) head_input_gradient_.array() *= dropout_mask_.array();
    if (config_.output_mode == OutputMode::many_to_one) {
      // Only the top layer's last state feeds the head: dL/dh_n is zero for the other layers.
      final_hidden_gradient_.resize(config_.hidden, config_.layers * batch);
      final_hidden_gradient_.leftCols((config_.layers - 1) * batch).setZero();
      final_hidden_gradient_.rightCols(batch) = head_input_gradient_;
      std::visit(
          [&](auto& recurrent) {
            recurrent.backward(empty_, input_gradient, final_hidden_gradient_);
          },
          recurrent_);
    } else {
      std::visit([&](auto& recurrent) { recurrent.backward(head_input_gradient_, input_gradient); },
                 recurrent_);
    }
  }

  SequenceModelConfig config_;
  std::variant<Lstm<Scalar>, Gru<Scalar>> recurrent_;
  Linear<Scalar> head_;
  hpt::Random random_;  // dropout in train_step() without a caller's source
  std::vector<ParameterView<Scalar>> parameters_;
  SequenceShape shape_{};
  bool has_output_ = false;
  bool has_loss_gradient_ = false;
  const Matrix<Scalar>* head_output_ = nullptr;
  Matrix<Scalar> output_gradient_;        // dL/doutput kept by loss()
  Matrix<Scalar> head_input_gradient_;    // dL/d(head input)
  Matrix<Scalar> final_hidden_gradient_;  // (hidden x layers*batch), many-to-one only
  Matrix<Scalar> empty_;                  // "no gradient" for the recurrent output
  Matrix<Scalar> dropout_mask_;           // 0 or 1/(1-p) per head input, last training forward
  Matrix<Scalar> dropped_;                // the head's input after dropout
  bool dropout_applied_ = false;
};

}  // namespace hpt::models
