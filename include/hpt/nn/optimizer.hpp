#pragma once
/// @file optimizer.hpp
/// @brief SGD and Adam exactly as torch.optim.SGD / torch.optim.Adam, learning-rate schedules as
/// torch.optim.lr_scheduler.StepLR / CosineAnnealingLR (closed form), and gradient clipping by
/// global norm as torch.nn.utils.clip_grad_norm_.
///
/// Optimizers are aggregates of settings, e.g. `Sgd<float>{.learning_rate = 0.1, .momentum = 0.9}`;
/// their state (the trailing public members) is sized by the first step() and can be written and
/// read back bit for bit, so that a paused trial resumes exactly where it stopped. Settings are
/// doubles, like PyTorch's Python floats; they are rounded to Scalar where they multiply tensors.

#include <hpt/linalg/tensor_view.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <numbers>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace hpt::models {

namespace detail {

inline std::string format_setting(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

[[noreturn]] inline void bad_setting(const char* optimizer, const char* field, double value,
                                     const char* requirement) {
  throw std::invalid_argument(std::string("hpt::models::") + optimizer + ": " + field + " = " +
                              format_setting(value) + " is invalid (" + requirement + ")");
}

/// Checks that the parameters match the state sized at the first step.
template <class Scalar>
void check_state_shape(const char* optimizer, std::span<const ParameterView<Scalar>> parameters,
                       const std::vector<Vector<Scalar>>& state) {
  if (parameters.size() != state.size())
    throw std::invalid_argument(std::string("hpt::models::") + optimizer +
                                "::step: " + std::to_string(parameters.size()) +
                                " parameters, but the state has " + std::to_string(state.size()));
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (parameters[i].size() != state[i].size())
      throw std::invalid_argument(std::string("hpt::models::") + optimizer + "::step: parameter " +
                                  parameters[i].name + " has " +
                                  std::to_string(parameters[i].size()) +
                                  " values, but its state has " + std::to_string(state[i].size()));
}

// Binary state files: a tag, a byte-order check, the size of Scalar, then fixed-size fields in
// the machine's byte order (little-endian on every platform hpt supports).
constexpr std::uint32_t byte_order_mark = 0x01020304U;

template <class T>
void write_raw(std::ostream& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
T read_raw(std::istream& in, const char* what) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value{};
  if (!in.read(reinterpret_cast<char*>(&value), sizeof(T)))
    throw std::runtime_error(std::string("hpt::models: truncated optimizer state while reading ") +
                             what);
  return value;
}

template <class Scalar>
void write_header(std::ostream& out, const char (&tag)[9]) {
  out.write(tag, 8);
  write_raw(out, byte_order_mark);
  write_raw(out, static_cast<std::uint32_t>(sizeof(Scalar)));
}

template <class Scalar>
void read_header(std::istream& in, const char (&tag)[9]) {
  char found[8] = {};
  if (!in.read(found, 8) || std::memcmp(found, tag, 8) != 0)
    throw std::runtime_error(std::string("hpt::models: not an optimizer state of type ") + tag);
  if (read_raw<std::uint32_t>(in, "byte order") != byte_order_mark)
    throw std::runtime_error("hpt::models: optimizer state written with another byte order");
  const auto size = read_raw<std::uint32_t>(in, "scalar size");
  if (size != sizeof(Scalar))
    throw std::runtime_error("hpt::models: optimizer state has " + std::to_string(size) +
                             "-byte scalars, expected " + std::to_string(sizeof(Scalar)));
}

template <class Scalar>
void write_tensors(std::ostream& out, const std::vector<Vector<Scalar>>& tensors) {
  write_raw(out, static_cast<std::uint64_t>(tensors.size()));
  for (const auto& tensor : tensors) {
    write_raw(out, static_cast<std::uint64_t>(tensor.size()));
    out.write(reinterpret_cast<const char*>(tensor.data()),
              static_cast<std::streamsize>(tensor.size() * sizeof(Scalar)));
  }
}

// The largest tensor a state may hold: its byte count must fit a std::streamsize.
constexpr std::uint64_t max_tensor_size = std::uint64_t{1} << 40;

/// Reads `size` values that the stream claims to hold. The tensor grows (doubling) as the bytes
/// arrive, so a claimed size beyond the stream's end fails there, after allocating no more than
/// about twice what the stream held rather than what it claimed.
template <class Scalar>
Vector<Scalar> read_values(std::istream& in, std::uint64_t size, const std::string& truncated) {
  constexpr std::uint64_t first_chunk = std::uint64_t{1} << 16;
  Vector<Scalar> tensor;
  std::uint64_t have = 0;
  while (have < size) {
    const std::uint64_t want = std::min(size, std::max(first_chunk, 2 * have));
    tensor.conservativeResize(static_cast<Eigen::Index>(want));
    if (!in.read(reinterpret_cast<char*>(tensor.data() + have),
                 static_cast<std::streamsize>((want - have) * sizeof(Scalar))))
      throw std::runtime_error(truncated);
    have = want;
  }
  return tensor;
}

/// Reads tensors of any count and sizes (bounded by the bytes in the stream, see read_values).
template <class Scalar>
std::vector<Vector<Scalar>> read_tensors(std::istream& in) {
  const auto count = read_raw<std::uint64_t>(in, "tensor count");
  if (count > (1U << 20)) throw std::runtime_error("hpt::models: implausible optimizer state");
  std::vector<Vector<Scalar>> tensors;  // not reserved: the count is a claim
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto size = read_raw<std::uint64_t>(in, "tensor size");
    if (size > max_tensor_size)
      throw std::runtime_error("hpt::models: implausible optimizer state tensor size");
    tensors.push_back(
        read_values<Scalar>(in, size, "hpt::models: truncated optimizer state tensor"));
  }
  return tensors;
}

/// Reads tensors written by write_tensors that must have the sizes of `parameters` (or be none,
/// if `may_be_empty`), checking each count and size before allocating for it. Messages start
/// with `where` and call the tensors `state` ("the checkpoint", "the first moments", ...).
template <class Scalar>
std::vector<Vector<Scalar>> read_tensors(std::istream& in,
                                         std::span<const ParameterView<Scalar>> parameters,
                                         const std::string& where, const std::string& state,
                                         bool may_be_empty) {
  std::uint64_t count = 0;
  if (!in.read(reinterpret_cast<char*>(&count), sizeof count))
    throw std::runtime_error(where + state + " is truncated (tensor count)");
  if (count != parameters.size() && !(may_be_empty && count == 0))
    throw std::runtime_error(where + state + " has " + std::to_string(count) +
                             " tensors, the model " + std::to_string(parameters.size()));
  std::vector<Vector<Scalar>> tensors;
  tensors.reserve(static_cast<std::size_t>(count));  // checked: at most the model's count
  for (std::size_t i = 0; i < count; ++i) {
    const auto& parameter = parameters[i];
    std::uint64_t size = 0;
    if (!in.read(reinterpret_cast<char*>(&size), sizeof size))
      throw std::runtime_error(where + state + " is truncated (size of " + parameter.name + ")");
    if (size != static_cast<std::uint64_t>(parameter.size()))
      throw std::runtime_error(where + parameter.name + " has " + std::to_string(size) +
                               " values in " + state + ", the model " +
                               std::to_string(parameter.size()));
    Vector<Scalar> tensor(parameter.size());
    if (!in.read(reinterpret_cast<char*>(tensor.data()),
                 static_cast<std::streamsize>(size * sizeof(Scalar))))
      throw std::runtime_error(where + state + " is truncated (values of " + parameter.name + ")");
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

/// Reads tensors checked against `parameters` when given, of any size otherwise.
template <class Scalar>
std::vector<Vector<Scalar>> read_state_tensors(
    std::istream& in, const std::span<const ParameterView<Scalar>>* parameters,
    const std::string& where, const std::string& state) {
  if (parameters == nullptr) return read_tensors<Scalar>(in);
  return read_tensors<Scalar>(in, *parameters, where, state, true);
}

/// Throws std::runtime_error unless the tensors have pairwise equal sizes.
template <class Scalar>
void check_same_sizes(const std::vector<Vector<Scalar>>& a, const std::vector<Vector<Scalar>>& b,
                      const std::string& what) {
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i].size() == b[i].size();
  if (!same) throw std::runtime_error(what);
}

template <class Scalar>
auto flat(const ParameterView<Scalar>& parameter) {
  return Eigen::Map<Vector<Scalar>>(parameter.value, parameter.size());
}
template <class Scalar>
auto flat_gradient(const ParameterView<Scalar>& parameter) {
  return Eigen::Map<Vector<Scalar>>(parameter.gradient, parameter.size());
}

}  // namespace detail

/// @brief Stochastic gradient descent with momentum, exactly torch.optim.SGD:
/// d = g + weight_decay * p; with momentum, buffer = d at the first step, afterwards
/// buffer = momentum * buffer + (1 - dampening) * d, and d = d + momentum * buffer (nesterov) or
/// d = buffer; finally p = p - learning_rate * d.
template <class Scalar>
struct Sgd {
  double learning_rate = 0.01;  ///< > 0; a schedule may change it between steps.
  double momentum = 0.0;        ///< >= 0; 0 disables the momentum buffer.
  double dampening = 0.0;       ///< in [0, 1]; must be 0 with nesterov (as PyTorch).
  bool nesterov = false;        ///< Nesterov momentum; needs momentum > 0.
  double weight_decay = 0.0;    ///< >= 0; L2 penalty added to the gradient.

  /// @brief State: one momentum buffer per parameter (flat, column-major), empty before the first
  /// step with momentum. Managed by step(); exposed so that the type stays an aggregate.
  std::vector<Vector<Scalar>> momentum_buffers{};

  /// @brief Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    if (!(learning_rate > 0))
      detail::bad_setting("Sgd", "learning_rate", learning_rate, "must be > 0");
    if (!(momentum >= 0)) detail::bad_setting("Sgd", "momentum", momentum, "must be >= 0");
    if (!(dampening >= 0 && dampening <= 1))
      detail::bad_setting("Sgd", "dampening", dampening, "must be in [0, 1]");
    if (!(weight_decay >= 0))
      detail::bad_setting("Sgd", "weight_decay", weight_decay, "must be >= 0");
    if (nesterov && !(momentum > 0))
      detail::bad_setting("Sgd", "nesterov", 1, "needs momentum > 0");
    if (nesterov && dampening != 0)
      detail::bad_setting("Sgd", "dampening", dampening, "must be 0 with nesterov");
  }

  /// @brief One update of every parameter from its gradient.
  void step(std::span<const ParameterView<Scalar>> parameters) {
    validate();
    const bool first = momentum != 0 && momentum_buffers.empty();
    if (first) {
      momentum_buffers.resize(parameters.size());
      for (std::size_t i = 0; i < parameters.size(); ++i)
        momentum_buffers[i].resize(parameters[i].size());
    } else if (momentum != 0) {
      detail::check_state_shape<Scalar>("Sgd", parameters, momentum_buffers);
    }
    const auto decay = static_cast<Scalar>(weight_decay);
    const auto rate = static_cast<Scalar>(-learning_rate);
    const auto beta = static_cast<Scalar>(momentum);
    const auto keep = static_cast<Scalar>(1 - dampening);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      auto value_map = detail::flat(parameters[i]);
      const auto gradient_map = detail::flat_gradient(parameters[i]);
      auto value = value_map.array();
      const auto gradient = gradient_map.array();
      if (momentum == 0) {
        value += rate * (gradient + decay * value);
        continue;
      }
      auto buffer = momentum_buffers[i].array();
      if (first)
        buffer = gradient + decay * value;
      else
        buffer = beta * buffer + keep * (gradient + decay * value);
      if (nesterov)
        value += rate * ((gradient + decay * value) + beta * buffer);
      else
        value += rate * buffer;
    }
  }

  /// @brief Forgets the momentum buffers (the next step is a first step again).
  void reset() { momentum_buffers.clear(); }

  /// @brief Writes settings and state (binary, exact).
  void write(std::ostream& out) const {
    detail::write_header<Scalar>(out, tag);
    detail::write_raw(out, learning_rate);
    detail::write_raw(out, momentum);
    detail::write_raw(out, dampening);
    detail::write_raw(out, static_cast<std::uint8_t>(nesterov));
    detail::write_raw(out, weight_decay);
    detail::write_tensors(out, momentum_buffers);
    if (!out) throw std::runtime_error("hpt::models::Sgd::write: stream error");
  }

  /// @brief Reads what write() wrote, replacing settings and state; throws std::runtime_error
  /// for invalid settings or a malformed state, and then nothing changes.
  void read(std::istream& in) { read_checked(in, nullptr); }

  /// @brief As read(in), for the optimizer of `parameters`: the momentum buffers must be none or
  /// one per parameter of its size, checked before anything is allocated for them.
  void read(std::istream& in, std::span<const ParameterView<Scalar>> parameters) {
    read_checked(in, &parameters);
  }

 private:
  static constexpr char tag[9] = "hpt.sgd1";

  void read_checked(std::istream& in, const std::span<const ParameterView<Scalar>>* parameters) {
    detail::read_header<Scalar>(in, tag);
    Sgd restored;
    restored.learning_rate = detail::read_raw<double>(in, "learning_rate");
    restored.momentum = detail::read_raw<double>(in, "momentum");
    restored.dampening = detail::read_raw<double>(in, "dampening");
    const auto nesterov_byte = detail::read_raw<std::uint8_t>(in, "nesterov");
    if (nesterov_byte > 1)
      throw std::runtime_error("hpt::models::Sgd::read: nesterov flag " +
                               std::to_string(nesterov_byte) + " is neither 0 nor 1");
    restored.nesterov = nesterov_byte == 1;
    restored.weight_decay = detail::read_raw<double>(in, "weight_decay");
    try {
      restored.validate();
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error(std::string("hpt::models::Sgd::read: ") + error.what());
    }
    restored.momentum_buffers = detail::read_state_tensors<Scalar>(
        in, parameters, "hpt::models::Sgd::read: ", "the momentum buffers");
    *this = std::move(restored);
  }
};

/// @brief Adam, exactly torch.optim.Adam (amsgrad off): at step t (from 1),
/// g = gradient + weight_decay * p (L2 in the gradient, not AdamW), m = beta1 m + (1 - beta1) g,
/// v = beta2 v + (1 - beta2) g^2, and
/// p = p - (learning_rate / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon),
/// the bias corrections being computed in double like PyTorch's Python floats.
template <class Scalar>
struct Adam {
  double learning_rate = 1e-3;  ///< > 0.
  double beta1 = 0.9;           ///< in [0, 1).
  double beta2 = 0.999;         ///< in [0, 1).
  double epsilon = 1e-8;        ///< >= 0.
  double weight_decay = 0.0;    ///< >= 0; L2 penalty added to the gradient.

  /// @brief State: the number of steps taken, and the first and second moments per parameter
  /// (flat, column-major); sized by the first step().
  std::int64_t steps = 0;
  std::vector<Vector<Scalar>> first_moments{};   ///< PyTorch's exp_avg.
  std::vector<Vector<Scalar>> second_moments{};  ///< PyTorch's exp_avg_sq.

  /// @brief Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    if (!(learning_rate > 0))
      detail::bad_setting("Adam", "learning_rate", learning_rate, "must be > 0");
    if (!(beta1 >= 0 && beta1 < 1))
      detail::bad_setting("Adam", "beta1", beta1, "must be in [0, 1)");
    if (!(beta2 >= 0 && beta2 < 1))
      detail::bad_setting("Adam", "beta2", beta2, "must be in [0, 1)");
    if (!(epsilon >= 0)) detail::bad_setting("Adam", "epsilon", epsilon, "must be >= 0");
    if (!(weight_decay >= 0))
      detail::bad_setting("Adam", "weight_decay", weight_decay, "must be >= 0");
  }

  /// @brief One update of every parameter from its gradient.
  void step(std::span<const ParameterView<Scalar>> parameters) {
    validate();
    if (steps == 0 && first_moments.empty()) {
      first_moments.resize(parameters.size());
      second_moments.resize(parameters.size());
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        first_moments[i] = Vector<Scalar>::Zero(parameters[i].size());
        second_moments[i] = Vector<Scalar>::Zero(parameters[i].size());
      }
    } else {
      detail::check_state_shape<Scalar>("Adam", parameters, first_moments);
      detail::check_state_shape<Scalar>("Adam", parameters, second_moments);
    }
    if (steps < 0 || steps == std::numeric_limits<std::int64_t>::max())
      throw std::invalid_argument("hpt::models::Adam::step: step count " + std::to_string(steps) +
                                  " is out of range");
    ++steps;
    const double step_count = static_cast<double>(steps);
    const double correction1 = 1 - std::pow(beta1, step_count);
    const double correction2 = 1 - std::pow(beta2, step_count);
    const auto step_size = static_cast<Scalar>(-(learning_rate / correction1));
    const auto root_correction2 = static_cast<Scalar>(std::sqrt(correction2));
    const auto decay = static_cast<Scalar>(weight_decay);
    const auto b1 = static_cast<Scalar>(beta1);
    const auto b2 = static_cast<Scalar>(beta2);
    const auto one_minus_b1 = static_cast<Scalar>(1 - beta1);
    const auto one_minus_b2 = static_cast<Scalar>(1 - beta2);
    const auto eps = static_cast<Scalar>(epsilon);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      auto value_map = detail::flat(parameters[i]);
      const auto gradient_map = detail::flat_gradient(parameters[i]);
      auto value = value_map.array();
      const auto gradient = gradient_map.array();
      auto m = first_moments[i].array();
      auto v = second_moments[i].array();
      if (weight_decay != 0) {
        m = b1 * m + one_minus_b1 * (gradient + decay * value);
        v = b2 * v + one_minus_b2 * (gradient + decay * value).square();
      } else {
        m = b1 * m + one_minus_b1 * gradient;
        v = b2 * v + one_minus_b2 * gradient.square();
      }
      value += step_size * (m / (v.sqrt() / root_correction2 + eps));
    }
  }

  /// @brief Forgets the moments and the step count.
  void reset() {
    steps = 0;
    first_moments.clear();
    second_moments.clear();
  }

  /// @brief Writes settings and state (binary, exact).
  void write(std::ostream& out) const {
    detail::write_header<Scalar>(out, tag);
    detail::write_raw(out, learning_rate);
    detail::write_raw(out, beta1);
    detail::write_raw(out, beta2);
    detail::write_raw(out, epsilon);
    detail::write_raw(out, weight_decay);
    detail::write_raw(out, steps);
    detail::write_tensors(out, first_moments);
    detail::write_tensors(out, second_moments);
    if (!out) throw std::runtime_error("hpt::models::Adam::write: stream error");
  }

  /// @brief Reads what write() wrote, replacing settings and state; throws std::runtime_error
  /// for invalid settings, a step count outside [0, INT64_MAX), moments whose sizes differ from
  /// each other or a malformed state, and then nothing changes.
  void read(std::istream& in) { read_checked(in, nullptr); }

  /// @brief As read(in), for the optimizer of `parameters`: both moments must be none (before the
  /// first step) or one per parameter of its size, checked before anything is allocated.
  void read(std::istream& in, std::span<const ParameterView<Scalar>> parameters) {
    read_checked(in, &parameters);
  }

 private:
  static constexpr char tag[9] = "hpt.adm1";

  void read_checked(std::istream& in, const std::span<const ParameterView<Scalar>>* parameters) {
    constexpr const char* where = "hpt::models::Adam::read: ";
    detail::read_header<Scalar>(in, tag);
    Adam restored;
    restored.learning_rate = detail::read_raw<double>(in, "learning_rate");
    restored.beta1 = detail::read_raw<double>(in, "beta1");
    restored.beta2 = detail::read_raw<double>(in, "beta2");
    restored.epsilon = detail::read_raw<double>(in, "epsilon");
    restored.weight_decay = detail::read_raw<double>(in, "weight_decay");
    try {
      restored.validate();
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error(where + std::string(error.what()));
    }
    restored.steps = detail::read_raw<std::int64_t>(in, "steps");
    // The next step adds one: INT64_MAX would overflow.
    if (restored.steps < 0 || restored.steps == std::numeric_limits<std::int64_t>::max())
      throw std::runtime_error(where + std::string("step count ") + std::to_string(restored.steps) +
                               " is out of range");
    restored.first_moments =
        detail::read_state_tensors<Scalar>(in, parameters, where, "the first moments");
    restored.second_moments =
        detail::read_state_tensors<Scalar>(in, parameters, where, "the second moments");
    // step() reads both moments at the sizes of the parameters: they must agree.
    detail::check_same_sizes<Scalar>(restored.first_moments, restored.second_moments,
                                     where + std::string("the first and second moments differ in "
                                                         "count or size"));
    if (parameters != nullptr && !parameters->empty() && restored.first_moments.empty() &&
        restored.steps != 0)
      throw std::runtime_error(where + std::string("step count ") + std::to_string(restored.steps) +
                               " but no moments");
    *this = std::move(restored);
  }
};

/// @brief torch.optim.lr_scheduler.StepLR in closed form:
/// rate(base, epoch) = base * gamma^floor(epoch / step_size).
struct StepDecay {
  std::int64_t step_size = 1;  ///< Epochs between decays, >= 1.
  double gamma = 0.1;          ///< Factor per decay, > 0.

  /// @brief Throws std::invalid_argument naming an invalid field.
  void validate() const {
    if (step_size < 1)
      detail::bad_setting("StepDecay", "step_size", static_cast<double>(step_size), "must be >= 1");
    if (!(gamma > 0)) detail::bad_setting("StepDecay", "gamma", gamma, "must be > 0");
  }
  /// @brief The learning rate for epoch `epoch` (0 is the first) given the initial rate.
  [[nodiscard]] double rate(double base_rate, std::int64_t epoch) const {
    validate();
    if (epoch < 0) throw std::invalid_argument("hpt::models::StepDecay: negative epoch");
    return base_rate * std::pow(gamma, static_cast<double>(epoch / step_size));
  }
};

/// @brief torch.optim.lr_scheduler.CosineAnnealingLR in closed form (no restarts):
/// rate(base, epoch) = minimum + (base - minimum) (1 + cos(pi epoch / period)) / 2.
/// Past `period` the cosine climbs back up, as PyTorch's closed form does.
struct CosineAnnealing {
  std::int64_t period = 1;  ///< T_max in epochs, >= 1.
  double minimum = 0.0;     ///< eta_min, >= 0.

  /// @brief Throws std::invalid_argument naming an invalid field.
  void validate() const {
    if (period < 1)
      detail::bad_setting("CosineAnnealing", "period", static_cast<double>(period), "must be >= 1");
    if (!(minimum >= 0)) detail::bad_setting("CosineAnnealing", "minimum", minimum, "must be >= 0");
  }
  /// @brief The learning rate for epoch `epoch` (0 is the first) given the initial rate.
  [[nodiscard]] double rate(double base_rate, std::int64_t epoch) const {
    validate();
    if (epoch < 0) throw std::invalid_argument("hpt::models::CosineAnnealing: negative epoch");
    return minimum + (base_rate - minimum) *
                         (1 + std::cos(std::numbers::pi * static_cast<double>(epoch) /
                                       static_cast<double>(period))) /
                         2;
  }
};

/// @brief Scales all gradients together so that their global L2 norm is at most `max_norm`, as
/// torch.nn.utils.clip_grad_norm_: norm = sqrt(sum of squared per-tensor norms); the gradients are
/// multiplied by max_norm / (norm + 1e-6) whenever that factor is below 1. Returns the norm
/// before clipping. A non-finite norm is returned and propagates (PyTorch's default).
template <class Scalar>
Scalar clip_gradient_norm(std::span<const ParameterView<Scalar>> parameters,
                          std::type_identity_t<Scalar> max_norm) {
  if (!(max_norm > 0))
    throw std::invalid_argument("hpt::models::clip_gradient_norm: max_norm = " +
                                detail::format_setting(static_cast<double>(max_norm)) +
                                " must be > 0");
  Scalar sum_of_squares = 0;
  for (const auto& parameter : parameters) {
    const Scalar norm = detail::flat_gradient(parameter).norm();
    sum_of_squares += norm * norm;
  }
  const Scalar norm = std::sqrt(sum_of_squares);
  const Scalar factor = max_norm / (norm + static_cast<Scalar>(1e-6));
  if (factor < Scalar(1))
    for (const auto& parameter : parameters) detail::flat_gradient(parameter) *= factor;
  return norm;
}

/// @brief The end of a model's train_step(): clip the gradients to `max_gradient_norm` when it is
/// positive, then let the optimizer update the parameters. One place for every model.
template <class Scalar, class Optimizer>
void clip_and_step(std::span<const ParameterView<Scalar>> parameters, double max_gradient_norm,
                   Optimizer& optimizer) {
  if (max_gradient_norm > 0)
    clip_gradient_norm<Scalar>(parameters, static_cast<Scalar>(max_gradient_norm));
  optimizer.step(parameters);
}

/// @brief clip_gradient_norm() for the vector that models' parameters() return.
template <class Scalar>
Scalar clip_gradient_norm(const std::vector<ParameterView<Scalar>>& parameters,
                          std::type_identity_t<Scalar> max_norm) {
  return clip_gradient_norm<Scalar>(std::span<const ParameterView<Scalar>>(parameters), max_norm);
}

}  // namespace hpt::models
