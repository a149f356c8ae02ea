#pragma once
/// @file mlp.hpp
/// @brief A multilayer perceptron equal to PyTorch's
/// `nn.Sequential(Linear, act, Dropout, Linear, act, Dropout, ..., Linear)` trained with
/// nn.CrossEntropyLoss (classification) or nn.MSELoss (regression).
///
/// Parameter names are those of the PyTorch state_dict, for the layout that MlpShape::naming
/// describes. By default (MlpNaming{}): a module whose Sequential is the attribute `layers`, with a
/// Dropout module after every activation, so hidden layer k (0-based) is `layers.{3k}.weight` /
/// `layers.{3k}.bias` and the output layer `layers.{3H}.*` with H = number of hidden layers.
/// Positions 3k+1 and 3k+2 are the activation and the Dropout module, which have no parameters.
/// The Dropout module is present even for dropout 0 (nn.Dropout(0)), so that names do not depend
/// on the dropout rate. `MlpNaming{.layout = MlpLayout::without_dropout, .prefix = ""}` names a
/// bare `nn.Sequential(Linear, act, Linear, ...)`: `0.*`, `2.*`, ..., `{2H}.*`.

#include <hpt/core/random.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/activation.hpp>
#include <hpt/nn/linear.hpp>
#include <hpt/nn/loss.hpp>
#include <hpt/nn/optimizer.hpp>
#include <hpt/nn/task.hpp>

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hpt::models {

/// @brief Which nn.Sequential an Mlp's parameter names follow: the modules per hidden layer.
enum class MlpLayout {
  with_dropout,    ///< Linear, activation, Dropout: Linear layer k is module 3k.
  without_dropout  ///< Linear, activation: Linear layer k is module 2k.
};

/// @brief How an Mlp names its parameters: PyTorch's state_dict names of an nn.Sequential laid
/// out as `layout`, reached through `prefix`. Hidden layer k and the output layer (k = H) are
/// `prefix + "{stride * k}.weight"` and `".bias"`, stride 3 with dropout modules, 2 without.
///
/// - `MlpNaming{}`: `layers.0.*`, `layers.3.*`, ... (a module with `self.layers =
///   nn.Sequential(Linear, act, Dropout, ...)`; hpt's default, see docs/models/mlp.md);
/// - `{.layout = MlpLayout::with_dropout, .prefix = ""}`: `0.*`, `3.*`, ... (the bare Sequential);
/// - `{.layout = MlpLayout::without_dropout, .prefix = ""}`: `0.*`, `2.*`, ...;
/// - `{.layout = MlpLayout::without_dropout, .prefix = "net."}`: `net.0.*`, `net.2.*`, ...
///
/// The layout only names tensors: an Mlp named without dropout modules still applies its own
/// dropout in training (the PyTorch module without Dropout computes the same in inference).
struct MlpNaming {
  MlpLayout layout = MlpLayout::with_dropout;  ///< The modules of each hidden layer.
  std::string prefix = "layers.";              ///< The Sequential's path and a dot, or "".

  /// @brief The name prefix of Linear layer `layer` (0-based, the output layer last), e.g.
  /// "layers.3.".
  [[nodiscard]] std::string layer_prefix(std::size_t layer) const {
    const std::size_t stride = layout == MlpLayout::with_dropout ? 3 : 2;
    return prefix + std::to_string(stride * layer) + ".";
  }
};

/// @brief The architecture of an Mlp, e.g.
/// `MlpShape{.inputs = 784, .hidden = {128, 64}, .outputs = 10, .dropout = 0.2}`.
struct MlpShape {
  Eigen::Index inputs = 0;                   ///< Input features, >= 1.
  std::vector<Eigen::Index> hidden{};        ///< Units per hidden layer (any number), each >= 1.
  Eigen::Index outputs = 0;                  ///< Classes or regression targets, >= 1.
  Activation activation = Activation::relu;  ///< After every hidden layer.
  double dropout = 0.0;                      ///< Drop probability after every activation, [0, 1).
  Task task = Task::classification;          ///< Selects the loss.
  double max_gradient_norm = 0;  ///< > 0: train_step() clips the global gradient norm; 0: off.
  MlpNaming naming{};            ///< The parameters' names (PyTorch layout), see MlpNaming.

  /// @brief Throws std::invalid_argument naming the first invalid field.
  void validate() const {
    if (inputs < 1)
      throw std::invalid_argument("hpt::models::MlpShape: inputs = " + std::to_string(inputs) +
                                  " must be >= 1");
    for (std::size_t k = 0; k < hidden.size(); ++k)
      if (hidden[k] < 1)
        throw std::invalid_argument("hpt::models::MlpShape: hidden[" + std::to_string(k) +
                                    "] = " + std::to_string(hidden[k]) + " must be >= 1");
    if (outputs < 1)
      throw std::invalid_argument("hpt::models::MlpShape: outputs = " + std::to_string(outputs) +
                                  " must be >= 1");
    if (!(dropout >= 0 && dropout < 1))
      throw std::invalid_argument("hpt::models::MlpShape: dropout = " + std::to_string(dropout) +
                                  " must be in [0, 1)");
    (void)to_string(activation);  // throws on a value outside the enumeration
    if (task != Task::classification && task != Task::regression)
      throw std::invalid_argument("hpt::models::MlpShape: invalid task");
    if (!(max_gradient_norm >= 0) || !std::isfinite(max_gradient_norm))
      throw std::invalid_argument("hpt::models::MlpShape: max_gradient_norm = " +
                                  detail::format_setting(max_gradient_norm) +
                                  " must be finite and >= 0");
    if (naming.layout != MlpLayout::with_dropout && naming.layout != MlpLayout::without_dropout)
      throw std::invalid_argument("hpt::models::MlpShape: naming.layout = " +
                                  std::to_string(static_cast<int>(naming.layout)) +
                                  " must be MlpLayout::with_dropout or without_dropout");
  }
};

/// @brief A multilayer perceptron on column minibatches (features x batch).
///
/// Training, as SequenceModel: `train_step(x, targets, optimizer)` runs the forward pass with
/// inverted dropout (kept values are scaled by 1/(1-p), as PyTorch), the loss, the backward pass,
/// clipping (if max_gradient_norm > 0) and `optimizer.step(parameters())`.
/// `train_loss_and_gradients(x, targets)` stops after the backward pass, leaving dL/dparameter
/// in the gradients that `parameters()` exposes (to check, accumulate or clip them otherwise).
/// Workspaces are kept between calls: with a fixed batch size, a training step allocates
/// nothing. Copying an Mlp copies the model; views taken from the original's parameters() keep
/// pointing at the original.
template <class Scalar>
class Mlp {
 public:
  /// @brief A model with zero parameters (call initialize() or load weights); `dropout_seed`
  /// seeds the model's own dropout random source.
  explicit Mlp(MlpShape shape, std::uint64_t dropout_seed = 0)
      : shape_(std::move(shape)), random_(dropout_seed) {
    shape_.validate();
    Eigen::Index width = shape_.inputs;
    for (const auto units : shape_.hidden) {
      layers_.emplace_back(width, units);
      width = units;
    }
    layers_.emplace_back(width, shape_.outputs);
    const auto hidden_count = shape_.hidden.size();
    hidden_.resize(hidden_count);
    masks_.resize(hidden_count);
    dropped_.resize(hidden_count);
    gradients_.resize(hidden_count);
    parameters_ = parameters(shape_.naming);
  }
  Mlp(const Mlp& other)
      : shape_(other.shape_),
        random_(other.random_),
        layers_(other.layers_),
        hidden_(other.hidden_),
        masks_(other.masks_),
        dropped_(other.dropped_),
        gradients_(other.gradients_),
        output_(other.output_),
        output_gradient_(other.output_gradient_),
        parameters_(parameters(shape_.naming)) {}
  // Moving a std::vector hands over its elements' storage, so the moved views stay valid.
  Mlp(Mlp&&) noexcept = default;
  Mlp& operator=(const Mlp& other) {
    if (this != &other) *this = Mlp(other);
    return *this;
  }
  Mlp& operator=(Mlp&&) noexcept = default;
  ~Mlp() = default;

  /// @brief The architecture.
  [[nodiscard]] const MlpShape& shape() const noexcept { return shape_; }

  /// @brief The Linear layers, hidden ones first, the output layer last. Change their values,
  /// not their shapes: parameters() points into them.
  [[nodiscard]] std::vector<Linear<Scalar>>& layers() noexcept { return layers_; }
  [[nodiscard]] const std::vector<Linear<Scalar>>& layers() const noexcept { return layers_; }

  /// @brief The model's own random source for dropout (seeded by the constructor).
  [[nodiscard]] hpt::Random& dropout_random() noexcept { return random_; }

  /// @brief PyTorch's default initialisation of every Linear layer, in order.
  void initialize(hpt::Random& random) {
    for (auto& layer : layers_) layer.initialize(random);
  }

  /// @brief Inference: outputs (logits or predictions, outputs x batch), without dropout.
  const Matrix<Scalar>& forward(const Eigen::Ref<const Matrix<Scalar>>& input) {
    run_forward(input, nullptr);
    return output_;
  }

  /// @brief One classification training step: forward with dropout from the model's random
  /// source, mean cross-entropy, backward, clipping (if shape().max_gradient_norm > 0) and
  /// `optimizer.step(parameters())` (any optimizer with step(std::span<const
  /// ParameterView<Scalar>>): Sgd, Adam, ...). Returns the loss before the update.
  template <class Optimizer>
  Scalar train_step(const Eigen::Ref<const Matrix<Scalar>>& input, std::span<const int> targets,
                    Optimizer& optimizer) {
    return update(train_loss_and_gradients(input, targets, random_), optimizer);
  }

  /// @brief train_step() for classification with dropout drawn from `random`.
  template <class Optimizer>
  Scalar train_step(const Eigen::Ref<const Matrix<Scalar>>& input, std::span<const int> targets,
                    Optimizer& optimizer, hpt::Random& random) {
    return update(train_loss_and_gradients(input, targets, random), optimizer);
  }

  /// @brief One regression training step (mean squared error, `targets` outputs x batch), as the
  /// classification train_step().
  template <class Optimizer>
  Scalar train_step(const Eigen::Ref<const Matrix<Scalar>>& input,
                    const Eigen::Ref<const Matrix<Scalar>>& targets, Optimizer& optimizer) {
    return update(train_loss_and_gradients(input, targets, random_), optimizer);
  }

  /// @brief train_step() for regression with dropout drawn from `random`.
  template <class Optimizer>
  Scalar train_step(const Eigen::Ref<const Matrix<Scalar>>& input,
                    const Eigen::Ref<const Matrix<Scalar>>& targets, Optimizer& optimizer,
                    hpt::Random& random) {
    return update(train_loss_and_gradients(input, targets, random), optimizer);
  }

  /// @brief Classification: mean cross-entropy of a training step and all gradients, with
  /// dropout drawn from the model's random source; no clipping, no update (train_step() without
  /// the optimizer).
  Scalar train_loss_and_gradients(const Eigen::Ref<const Matrix<Scalar>>& input,
                                  std::span<const int> targets) {
    return train_loss_and_gradients(input, targets, random_);
  }

  /// @brief Classification with dropout drawn from `random`.
  Scalar train_loss_and_gradients(const Eigen::Ref<const Matrix<Scalar>>& input,
                                  std::span<const int> targets, hpt::Random& random) {
    require_task(Task::classification);
    run_forward(input, &random);
    const Scalar loss = softmax_cross_entropy<Scalar>(output_, targets, output_gradient_);
    run_backward(input, true);
    return loss;
  }

  /// @brief Regression: mean squared error of a training step and all gradients, with dropout
  /// drawn from the model's random source. `targets` is outputs x batch.
  Scalar train_loss_and_gradients(const Eigen::Ref<const Matrix<Scalar>>& input,
                                  const Eigen::Ref<const Matrix<Scalar>>& targets) {
    return train_loss_and_gradients(input, targets, random_);
  }

  /// @brief Regression with dropout drawn from `random`.
  Scalar train_loss_and_gradients(const Eigen::Ref<const Matrix<Scalar>>& input,
                                  const Eigen::Ref<const Matrix<Scalar>>& targets,
                                  hpt::Random& random) {
    require_task(Task::regression);
    run_forward(input, &random);
    const Scalar loss = mean_squared_error<Scalar>(output_, targets, output_gradient_);
    run_backward(input, true);
    return loss;
  }

  /// @brief Classification loss without dropout and without touching the gradients.
  Scalar evaluate_loss(const Eigen::Ref<const Matrix<Scalar>>& input,
                       std::span<const int> targets) {
    require_task(Task::classification);
    run_forward(input, nullptr);
    return softmax_cross_entropy<Scalar>(output_, targets, output_gradient_);
  }

  /// @brief Regression loss without dropout and without touching the gradients.
  Scalar evaluate_loss(const Eigen::Ref<const Matrix<Scalar>>& input,
                       const Eigen::Ref<const Matrix<Scalar>>& targets) {
    require_task(Task::regression);
    run_forward(input, nullptr);
    return mean_squared_error<Scalar>(output_, targets, output_gradient_);
  }

  /// @brief The output of the last forward pass (inference or training).
  [[nodiscard]] const Matrix<Scalar>& output() const noexcept { return output_; }

  /// @brief The dropout multipliers (0 or 1/(1-p)) of hidden layer k in the last training step;
  /// empty if dropout is 0.
  [[nodiscard]] const Matrix<Scalar>& dropout_mask(std::size_t hidden_layer) const {
    return masks_.at(hidden_layer);
  }

  /// @brief Views of every weight and bias, named as shape().naming says (PyTorch's state_dict
  /// names, see the file comment), in state_dict order. Made once by the constructor; the views
  /// of a const model must only be read.
  [[nodiscard]] const std::vector<ParameterView<Scalar>>& parameters() const noexcept {
    return parameters_;
  }

  /// @brief The same views named as `naming` says instead, e.g. to save a trained model for a
  /// PyTorch module of another layout: `save_safetensors(path, model.parameters(naming))`.
  [[nodiscard]] std::vector<ParameterView<Scalar>> parameters(const MlpNaming& naming) const {
    std::vector<ParameterView<Scalar>> views;
    views.reserve(2 * layers_.size());
    auto& layers = const_cast<std::vector<Linear<Scalar>>&>(layers_);
    for (std::size_t k = 0; k < layers.size(); ++k)
      layers[k].append_parameters(views, naming.layer_prefix(k));
    return views;
  }

 private:
  // The part of train_step() after the gradients: clipping and the optimizer's update.
  template <class Optimizer>
  Scalar update(Scalar training_loss, Optimizer& optimizer) {
    clip_and_step<Scalar>(std::span<const ParameterView<Scalar>>(parameters_),
                          shape_.max_gradient_norm, optimizer);
    return training_loss;
  }

  void require_task(Task task) const {
    if (shape_.task != task)
      throw std::invalid_argument(
          std::string("hpt::models::Mlp: targets for ") +
          (task == Task::classification ? "classification" : "regression") + " given to a " +
          (shape_.task == Task::classification ? "classification" : "regression") + " model");
  }

  [[nodiscard]] bool dropping(bool training) const { return training && shape_.dropout > 0; }

  // The input that layer k saw in the last forward pass (k >= 1).
  const Matrix<Scalar>& layer_input(std::size_t k, bool training) const {
    return dropping(training) ? dropped_[k - 1] : hidden_[k - 1];
  }

  void run_forward(const Eigen::Ref<const Matrix<Scalar>>& input, hpt::Random* random) {
    const bool training = random != nullptr;
    const Scalar keep_scale = Scalar(1) / static_cast<Scalar>(1 - shape_.dropout);
    for (std::size_t k = 0; k < hidden_.size(); ++k) {
      if (k == 0)
        layers_[k].forward_into(input, hidden_[k]);
      else
        layers_[k].forward_into(layer_input(k, training), hidden_[k]);
      activate_in_place(shape_.activation, hidden_[k]);
      if (dropping(training)) {
        auto& mask = masks_[k];
        mask.resize(hidden_[k].rows(), hidden_[k].cols());
        for (Eigen::Index i = 0; i < mask.size(); ++i)
          mask(i) = random->uniform() < shape_.dropout ? Scalar(0) : keep_scale;
        dropped_[k].resize(mask.rows(), mask.cols());
        dropped_[k].array() = hidden_[k].array() * mask.array();
      }
    }
    if (hidden_.empty())
      layers_.back().forward_into(input, output_);
    else
      layers_.back().forward_into(layer_input(layers_.size() - 1, training), output_);
  }

  // Back-propagates output_gradient_ through the layers of the last forward pass.
  void run_backward(const Eigen::Ref<const Matrix<Scalar>>& input, bool training) {
    for (std::size_t k = layers_.size(); k-- > 0;) {
      const Matrix<Scalar>& gradient = k + 1 == layers_.size() ? output_gradient_ : gradients_[k];
      if (k == 0) {
        layers_[0].backward_with_input(input, gradient, nullptr);
        break;
      }
      layers_[k].backward_with_input(layer_input(k, training), gradient, &gradients_[k - 1]);
      auto& previous = gradients_[k - 1];  // dL/d(input of layer k) -> dL/d(pre-activation)
      if (dropping(training)) previous.array() *= masks_[k - 1].array();
      multiply_by_derivative(shape_.activation, hidden_[k - 1], previous);
    }
  }

  MlpShape shape_;
  hpt::Random random_;
  std::vector<Linear<Scalar>> layers_;
  std::vector<Matrix<Scalar>> hidden_;     // activation outputs per hidden layer
  std::vector<Matrix<Scalar>> masks_;      // dropout multipliers per hidden layer
  std::vector<Matrix<Scalar>> dropped_;    // hidden_ * masks_, the next layer's input
  std::vector<Matrix<Scalar>> gradients_;  // dL/d(pre-activation) of each hidden layer
  Matrix<Scalar> output_;
  Matrix<Scalar> output_gradient_;
  std::vector<ParameterView<Scalar>> parameters_;  // into layers_, rebuilt by copies
};

}  // namespace hpt::models
