#pragma once
/// @file mlp.hpp
/// @brief A multilayer perceptron equal to PyTorch's
/// `nn.Sequential(Linear, act, Dropout, Linear, act, Dropout, ..., Linear)` trained with
/// nn.CrossEntropyLoss (classification) or nn.MSELoss (regression).
///
/// Parameter names (PyTorch state_dict of a module whose Sequential is the attribute `layers`):
/// hidden layer k (0-based) is `layers.{3k}.weight` / `layers.{3k}.bias`; the output layer is
/// `layers.{3H}.weight` / `layers.{3H}.bias` with H = number of hidden layers. Positions 3k+1 and
/// 3k+2 are the activation and the Dropout module, which has no parameters. The Dropout module is
/// always present (nn.Dropout(0) for dropout 0) so that names do not depend on the dropout rate.

#include <hpt/models/activation.hpp>
#include <hpt/models/linear.hpp>
#include <hpt/models/loss.hpp>
#include <hpt/models/parameter.hpp>
#include <hpt/models/task.hpp>
#include <hpt/random.hpp>

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt::models {

/// @brief The architecture of an Mlp, e.g.
/// `MlpShape{.inputs = 784, .hidden = {128, 64}, .outputs = 10, .dropout = 0.2}`.
struct MlpShape {
  Eigen::Index inputs = 0;                   ///< Input features, >= 1.
  std::vector<Eigen::Index> hidden{};        ///< Units per hidden layer (any number), each >= 1.
  Eigen::Index outputs = 0;                  ///< Classes or regression targets, >= 1.
  Activation activation = Activation::relu;  ///< After every hidden layer.
  double dropout = 0.0;                      ///< Drop probability after every activation, [0, 1).
  Task task = Task::classification;          ///< Selects the loss.

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
  }
};

/// @brief A multilayer perceptron on column minibatches (features x batch).
///
/// Training: `train_loss_and_gradients` runs the forward pass with inverted dropout (kept values
/// are scaled by 1/(1-p), as PyTorch) and the backward pass, leaving dL/dparameter in the
/// gradients that `parameters()` exposes; then call an optimizer's step(). Workspaces are kept
/// between calls: with a fixed batch size, a training step allocates nothing.
/// Copying an Mlp copies the model; views from parameters() keep pointing at the original.
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
  }

  /// @brief The architecture.
  [[nodiscard]] const MlpShape& shape() const noexcept { return shape_; }

  /// @brief The Linear layers, hidden ones first, the output layer last.
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

  /// @brief Classification: mean cross-entropy of a training step and all gradients, with
  /// dropout drawn from the model's random source.
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

  /// @brief Views of every weight and bias with PyTorch's names (see the file comment), in
  /// state_dict order.
  [[nodiscard]] std::vector<ParameterView<Scalar>> parameters() {
    std::vector<ParameterView<Scalar>> views;
    views.reserve(2 * layers_.size());
    for (std::size_t k = 0; k < layers_.size(); ++k)
      layers_[k].append_parameters(views, "layers." + std::to_string(3 * k) + ".");
    return views;
  }

  /// @brief parameters() of a const model, e.g. to save it; the views must only be read.
  [[nodiscard]] std::vector<ParameterView<Scalar>> parameters() const {
    return const_cast<Mlp&>(*this).parameters();
  }

 private:
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
};

}  // namespace hpt::models
