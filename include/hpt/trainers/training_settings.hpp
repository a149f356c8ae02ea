#pragma once
/// @file training_settings.hpp
/// @brief The training hyperparameters the reference trainers share (learning rate, minibatch
/// size, optimizer, L2, ...), how they are read from a configuration, and the optimizer they
/// select.

#include <hpt/core/config.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/optimizer.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <istream>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hpt::models {

/// @brief The optimizer a reference trainer uses.
enum class OptimizerKind {
  sgd,  ///< Sgd: plain, or with momentum (the `momentum` setting).
  adam  ///< Adam with PyTorch's default betas and epsilon.
};

/// @brief Labels for hpt::Value and configurations: "sgd", "adam".
constexpr auto enum_labels(OptimizerKind) {
  return std::array{std::pair{OptimizerKind::sgd, "sgd"}, std::pair{OptimizerKind::adam, "adam"}};
}

/// @brief Sgd or Adam, chosen at run time, with one interface: step, write, read.
template <class Scalar>
class TrainerOptimizer {
 public:
  /// @brief Sgd{learning_rate, momentum, weight_decay = l2} or Adam{learning_rate, weight_decay
  /// = l2}; momentum must be 0 for Adam. Throws std::invalid_argument naming a bad setting.
  TrainerOptimizer(OptimizerKind kind, double learning_rate, double momentum, double l2) {
    if (kind == OptimizerKind::sgd) {
      optimizer_ =
          Sgd<Scalar>{.learning_rate = learning_rate, .momentum = momentum, .weight_decay = l2};
    } else if (kind == OptimizerKind::adam) {
      if (momentum != 0)
        throw std::invalid_argument(
            "hpt::models::TrainerOptimizer: momentum = " + detail::format_setting(momentum) +
            " applies to optimizer sgd only, not adam");
      optimizer_ = Adam<Scalar>{.learning_rate = learning_rate, .weight_decay = l2};
    } else {
      throw std::invalid_argument("hpt::models: invalid OptimizerKind " +
                                  std::to_string(static_cast<int>(kind)));
    }
    std::visit([](const auto& optimizer) { optimizer.validate(); }, optimizer_);
  }

  /// @brief One update of every parameter from its gradient.
  void step(std::span<const ParameterView<Scalar>> parameters) {
    std::visit([&](auto& optimizer) { optimizer.step(parameters); }, optimizer_);
  }
  /// @brief The Sgd or Adam inside.
  [[nodiscard]] const std::variant<Sgd<Scalar>, Adam<Scalar>>& get() const noexcept {
    return optimizer_;
  }
  /// @brief Writes settings and state (binary, exact).
  void write(std::ostream& out) const {
    std::visit([&](const auto& optimizer) { optimizer.write(out); }, optimizer_);
  }
  /// @brief Reads what write() wrote for the same kind of optimizer; throws std::runtime_error
  /// (and changes nothing) otherwise.
  void read(std::istream& in) {
    std::visit([&](auto& optimizer) { optimizer.read(in); }, optimizer_);
  }
  /// @brief As read(in), for the optimizer of `parameters`: its state tensors must be none or one
  /// per parameter of its size, checked before anything is allocated for them (Sgd::read and
  /// Adam::read with parameters); throws std::runtime_error (and changes nothing) otherwise.
  void read(std::istream& in, std::span<const ParameterView<Scalar>> parameters) {
    std::visit([&](auto& optimizer) { optimizer.read(in, parameters); }, optimizer_);
  }

 private:
  std::variant<Sgd<Scalar>, Adam<Scalar>> optimizer_;
};

namespace detail {

[[noreturn]] inline void bad_trainer_setting(const char* owner, std::string_view field,
                                             const std::string& value, const char* requirement) {
  throw std::invalid_argument(std::string("hpt::models::") + owner + ": " + std::string(field) +
                              " = " + value + " " + requirement);
}

/// A real-valued setting from a configuration: integers are accepted too (e.g. dropout 0).
inline void read_real(const Config& config, std::string_view name, double& field) {
  if (const Value* value = config.find(name)) {
    if (!value->is_number())
      throw std::invalid_argument("hpt::models: parameter \"" + std::string(name) + "\" holds " +
                                  value->describe() + ", expected a number");
    field = value->number();
  }
}

template <class T>
void read_exact(const Config& config, std::string_view name, T& field) {
  if (config.contains(name)) field = config.get<T>(name);
}

/// The names of the training settings every reference trainer reads.
inline constexpr std::array<std::string_view, 8> training_setting_names{"learning_rate",
                                                                        "minibatch_size",
                                                                        "minibatches_per_step",
                                                                        "epochs",
                                                                        "optimizer",
                                                                        "momentum",
                                                                        "l2",
                                                                        "seed"};

/// Throws std::invalid_argument for a configuration entry that no setting reads: a typo
/// ("learning_rat") would otherwise leave the default in place silently.
inline void check_known_names(const Config& config, const char* owner,
                              std::span<const std::string_view> model_names) {
  auto known = [&](std::string_view name) {
    for (const auto candidate : model_names)
      if (candidate == name) return true;
    for (const auto candidate : training_setting_names)
      if (candidate == name) return true;
    return false;
  };
  for (const auto& [name, value] : config) {
    if (known(name)) continue;
    std::string list;
    for (const auto candidate : model_names) list += std::string(candidate) + ", ";
    for (const auto candidate : training_setting_names) list += std::string(candidate) + ", ";
    list.resize(list.size() - 2);
    throw std::invalid_argument(std::string("hpt::models::") + owner + ": unknown parameter \"" +
                                name + "\" = " + value.to_string() + " (known: " + list + ")");
  }
}

/// Reads the shared training settings of `settings` (any settings struct with these members).
template <class Settings>
void read_training_settings(const Config& config, Settings& settings) {
  read_real(config, "learning_rate", settings.learning_rate);
  read_exact(config, "minibatch_size", settings.minibatch_size);
  read_exact(config, "minibatches_per_step", settings.minibatches_per_step);
  read_exact(config, "epochs", settings.epochs);
  read_exact(config, "optimizer", settings.optimizer);
  read_real(config, "momentum", settings.momentum);
  read_real(config, "l2", settings.l2);
  read_exact(config, "seed", settings.seed);
}

/// Checks the shared training settings; the message names the owner, the field and the value.
template <class Settings>
void validate_training_settings(const Settings& settings, const char* owner) {
  auto real = [](double value) { return detail::format_setting(value); };
  if (!(settings.learning_rate > 0) || !std::isfinite(settings.learning_rate))
    bad_trainer_setting(owner, "learning_rate", real(settings.learning_rate),
                        "must be finite and > 0");
  if (settings.minibatch_size < 1)
    bad_trainer_setting(owner, "minibatch_size", std::to_string(settings.minibatch_size),
                        "must be >= 1");
  if (settings.minibatches_per_step < 0)
    bad_trainer_setting(owner, "minibatches_per_step",
                        std::to_string(settings.minibatches_per_step),
                        "must be >= 0 (0: one epoch per step)");
  if (settings.epochs < 0)
    bad_trainer_setting(owner, "epochs", std::to_string(settings.epochs),
                        "must be >= 0 (0: no limit of its own)");
  if (settings.optimizer != OptimizerKind::sgd && settings.optimizer != OptimizerKind::adam)
    bad_trainer_setting(owner, "optimizer", std::to_string(static_cast<int>(settings.optimizer)),
                        "must be sgd or adam");
  if (!(settings.momentum >= 0) || !std::isfinite(settings.momentum))
    bad_trainer_setting(owner, "momentum", real(settings.momentum), "must be finite and >= 0");
  if (!(settings.l2 >= 0) || !std::isfinite(settings.l2))
    bad_trainer_setting(owner, "l2", real(settings.l2), "must be finite and >= 0");
  if (settings.optimizer == OptimizerKind::adam && settings.momentum != 0)
    bad_trainer_setting(owner, "momentum", real(settings.momentum),
                        "applies to optimizer sgd only, not adam (make it conditional: "
                        ".when(hpt::equals(\"optimizer\", \"sgd\")))");
}

/// Appends "name=value;" for each training setting: with the model's settings, the text a
/// checkpoint keeps so that restore() refuses a trainer with other settings. Reals are written
/// with 17 digits, so any change shows.
template <class Settings>
void describe_training_settings(const Settings& settings, std::string& out) {
  out += "learning_rate=" + format_setting(settings.learning_rate) +
         ";minibatch_size=" + std::to_string(settings.minibatch_size) +
         ";minibatches_per_step=" + std::to_string(settings.minibatches_per_step) +
         ";epochs=" + std::to_string(settings.epochs) +
         ";optimizer=" + std::to_string(static_cast<int>(settings.optimizer)) +
         ";momentum=" + format_setting(settings.momentum) + ";l2=" + format_setting(settings.l2) +
         ";seed=" + std::to_string(settings.seed) + ";";
}

}  // namespace detail

}  // namespace hpt::models
