#pragma once
/// @file gru.hpp
/// @brief A stacked GRU equal to PyTorch's nn.GRU (batch_first=False, unidirectional).
///
/// For each layer, with x_t the layer's input and gates stacked in PyTorch's order r, z, n:
///   r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
///   z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
///   n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
///   h_t = (1 - z) * n + z * h_{t-1}
/// See docs/models/gru.md for the PyTorch mapping of every tensor and the memory layout.

#include <hpt/core/random.hpp>
#include <hpt/linalg/product.hpp>
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/recurrent.hpp>
#include <hpt/nn/sequence_layout.hpp>

#include <Eigen/Core>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt::models {

/// @brief A stacked GRU on sequence matrices (features x time*batch, see sequence_layout.hpp).
///
/// Same structure as Lstm: one input projection product per chunk of time steps, one
/// W_hh * h_{t-1} product per step, one W_hh^T product per step backwards, and per chunk one
/// product per weight gradient. The n-gate part W_hn h + b_hn is kept apart (the reset gate
/// multiplies it) and stored for backward. Workspaces only grow: no allocation in a steady state
/// (with the same exceptions as Lstm).
template <class Scalar>
class Gru {
 public:
  /// @brief Number of gates stacked in the fused matrices (r, z, n).
  static constexpr Eigen::Index gate_count = 3;

  /// @brief A GRU with zero parameters; call initialize() or assign the layer tensors.
  /// @throws std::invalid_argument if a size is not positive.
  Gru(Eigen::Index input, Eigen::Index hidden, Eigen::Index layers = 1)
      : input_(input), hidden_(hidden) {
    check_recurrent_sizes("hpt::models::Gru", input, hidden, layers);
    layers_.reserve(static_cast<std::size_t>(layers));
    for (Eigen::Index k = 0; k < layers; ++k) layers_.emplace_back(k == 0 ? input : hidden, hidden);
  }

  /// @brief Number of input features.
  [[nodiscard]] Eigen::Index input() const noexcept { return input_; }
  /// @brief Number of hidden units per layer.
  [[nodiscard]] Eigen::Index hidden() const noexcept { return hidden_; }
  /// @brief Number of stacked layers.
  [[nodiscard]] Eigen::Index layers() const noexcept {
    return static_cast<Eigen::Index>(layers_.size());
  }
  /// @brief The tensors of layer k (PyTorch's *_l{k}).
  [[nodiscard]] RecurrentWeights<Scalar>& layer(Eigen::Index k) { return at(k).weights; }
  /// @brief The tensors of layer k (PyTorch's *_l{k}).
  [[nodiscard]] const RecurrentWeights<Scalar>& layer(Eigen::Index k) const {
    return layers_.at(static_cast<std::size_t>(k)).weights;
  }

  /// @brief PyTorch's default initialisation U(-1/sqrt(hidden), 1/sqrt(hidden)), layer by layer in
  /// state_dict order.
  void initialize(hpt::Random& random) {
    for (auto& layer : layers_) layer.weights.initialize(random);
  }

  /// @brief Appends views named prefix + PyTorch's names: weight_ih_l0, weight_hh_l0, bias_ih_l0,
  /// bias_hh_l0, weight_ih_l1, ...
  void append_parameters(std::vector<ParameterView<Scalar>>& out, const std::string& prefix = "") {
    for (Eigen::Index k = 0; k < layers(); ++k) at(k).weights.append_parameters(out, prefix, k);
  }

  /// @brief Sizes every workspace for sequences of up to `time` steps and `batch` sequences.
  void reserve(Eigen::Index time, Eigen::Index batch) {
    const Eigen::Index columns = time * batch;
    const Eigen::Index H = hidden_;
    reserve_columns(input_copy_, input_, columns);
    for (auto& layer : layers_) {
      reserve_columns(layer.gates, gate_count * H, columns);
      reserve_columns(layer.gate_gradient, gate_count * H, columns);
      reserve_columns(layer.candidate_hidden, H, columns);
      reserve_columns(layer.candidate_hidden_gradient, H, columns);
      reserve_columns(layer.hidden, H, columns + batch);
    }
    for (auto& buffer : layer_gradient_) reserve_columns(buffer, H, columns);
    reserve_columns(final_hidden_, H, layers() * batch);
    reserve_columns(initial_hidden_gradient_, H, layers() * batch);
    reserve_columns(hidden_gradient_, H, batch);
    reserve_columns(step_gradient_, H, batch);
    reserve_columns(recurrent_step_, gate_count * H, batch);
  }

  /// @brief Columns (time steps x batch) per chunk of the sequence. The input projection of a
  /// layer (forward) and its weight and input gradients (backward) are computed one chunk of
  /// consecutive time steps at a time, right before (forward) or after (backward) the time loop
  /// visits those steps, so that the gate matrices are still in cache. A chunk is at least one
  /// step; with few columns per step the whole sequence is one chunk (one large product).
  /// Changes the order of floating-point sums, not the result beyond rounding.
  [[nodiscard]] Eigen::Index chunk_columns() const noexcept { return chunk_columns_; }
  /// @brief Sets chunk_columns().
  /// @throws std::invalid_argument unless `columns` is positive.
  void set_chunk_columns(Eigen::Index columns) {
    check_chunk_columns("hpt::models::Gru", columns);
    chunk_columns_ = columns;
  }

  /// @brief Runs the GRU over a minibatch of sequences.
  /// @param input (input x time*batch), column t*batch + b = step t of sequence b.
  /// @param batch number of sequences.
  /// @param initial_hidden PyTorch's h_0 as (hidden x layers*batch), column k*batch + b; empty
  /// for zeros. Its bytes are those of PyTorch's (layers, batch, hidden) tensor.
  /// @return output(): the top layer's h_t for every step, (hidden x time*batch).
  /// @throws std::invalid_argument on shapes that do not fit.
  Eigen::Block<const Matrix<Scalar>> forward(
      const Eigen::Ref<const Matrix<Scalar>>& input, Eigen::Index batch,
      const Eigen::Ref<const Matrix<Scalar>>& initial_hidden = Matrix<Scalar>()) {
    static const std::string where = "hpt::models::Gru::forward";
    const SequenceShape shape = sequence_shape(where, input.rows(), input.cols(), input_, batch);
    check_state_shape(where, "initial_hidden", initial_hidden.rows(), initial_hidden.cols(),
                      hidden_, layers(), batch);
    reserve(shape.time, batch);
    shape_ = shape;
    const Eigen::Index H = hidden_;
    const Eigen::Index columns = shape.columns();
    input_copy_.leftCols(columns) = input;  // backward() needs it for dW_ih

    for (Eigen::Index k = 0; k < layers(); ++k) {
      Layer& layer = at(k);
      const RecurrentWeights<Scalar>& weights = layer.weights;
      // r and z take both biases here; b_hn must stay inside the reset gate's product.
      bias_sum_ = weights.bias_ih;
      bias_sum_.head(2 * H) += weights.bias_hh.head(2 * H);
      const Eigen::Index chunk = steps_per_chunk(chunk_columns_, batch, shape.time);
      recurrent_product_.prepare(weights.weight_hh, batch);

      if (initial_hidden.size() != 0)
        layer.hidden.leftCols(batch) = initial_hidden.middleCols(k * batch, batch);
      else
        layer.hidden.leftCols(batch).setZero();

      auto recurrent = recurrent_step_.leftCols(batch);
      for (Eigen::Index t = 0; t < shape.time; ++t) {
        if (t % chunk == 0) {
          const Eigen::Index count = std::min(chunk, shape.time - t) * batch;
          project_onto_bias(products_, layer.gates.middleCols(t * batch, count), bias_sum_,
                            weights.weight_ih, layer_input(k, t * batch, count));
        }
        const auto previous = layer.hidden.middleCols(t * batch, batch);
        recurrent_product_.template multiply<false>(recurrent, weights.weight_hh, previous);
        auto step = layer.gates.middleCols(t * batch, batch);
        step.topRows(2 * H).array() =
            (step.topRows(2 * H) + recurrent.topRows(2 * H)).array().logistic();
        auto candidate_hidden = layer.candidate_hidden.middleCols(t * batch, batch);
        candidate_hidden = recurrent.bottomRows(H).colwise() + weights.bias_hh.tail(H);
        step.bottomRows(H).array() =
            (step.bottomRows(H).array() + step.topRows(H).array() * candidate_hidden.array())
                .tanh();
        const auto update = step.middleRows(H, H).array();
        const auto candidate = step.bottomRows(H).array();
        // h_t = (1 - z) n + z h_{t-1} = n + z (h_{t-1} - n)
        layer.hidden.middleCols((t + 1) * batch, batch).array() =
            candidate + update * (previous.array() - candidate);
      }
      final_hidden_.middleCols(k * batch, batch) = layer.hidden.middleCols(columns, batch);
    }
    ready_for_backward_ = true;
    return output();
  }

  /// @brief The top layer's h_t for every step of the last forward(): (hidden x time*batch),
  /// PyTorch's `output`.
  [[nodiscard]] Eigen::Block<const Matrix<Scalar>> output() const {
    const Layer& top = layers_.back();
    return Eigen::Block<const Matrix<Scalar>>(top.hidden, 0, shape_.batch, hidden_,
                                              shape_.columns());
  }
  /// @brief PyTorch's h_n: the last hidden state of every layer, (hidden x layers*batch).
  [[nodiscard]] Eigen::Block<const Matrix<Scalar>> final_hidden() const {
    return Eigen::Block<const Matrix<Scalar>>(final_hidden_, 0, 0, hidden_,
                                              layers() * shape_.batch);
  }
  /// @brief Time steps and batch of the last forward().
  [[nodiscard]] SequenceShape shape() const noexcept { return shape_; }

  /// @brief Back-propagates through the last forward(): overwrites every parameter gradient.
  /// @param output_gradient dL/doutput (hidden x time*batch), or empty if the loss does not use
  /// output() (many-to-one models pass the last step through final_hidden_gradient instead).
  /// @param input_gradient if not null, receives dL/dinput (input x time*batch).
  /// @param final_hidden_gradient dL/dh_n (hidden x layers*batch), or empty for zero.
  /// @throws std::logic_error without a preceding forward(); std::invalid_argument on shapes.
  void backward(const Eigen::Ref<const Matrix<Scalar>>& output_gradient,
                Matrix<Scalar>* input_gradient,
                const Eigen::Ref<const Matrix<Scalar>>& final_hidden_gradient = Matrix<Scalar>()) {
    static const std::string where = "hpt::models::Gru::backward";
    if (!ready_for_backward_) throw std::logic_error(where + ": call forward() first");
    const Eigen::Index batch = shape_.batch;
    const Eigen::Index columns = shape_.columns();
    check_output_gradient_shape(where, output_gradient.rows(), output_gradient.cols(), hidden_,
                                columns);
    check_state_shape(where, "final_hidden_gradient", final_hidden_gradient.rows(),
                      final_hidden_gradient.cols(), hidden_, layers(), batch);

    for (Eigen::Index k = layers() - 1; k >= 0; --k) {
      const bool top = k == layers() - 1;
      const Matrix<Scalar>& from_above = layer_gradient_[static_cast<std::size_t>((k + 1) % 2)];
      const bool has_output_gradient = !top || output_gradient.size() != 0;
      if (final_hidden_gradient.size() != 0)
        hidden_gradient_.leftCols(batch) = final_hidden_gradient.middleCols(k * batch, batch);
      else
        hidden_gradient_.leftCols(batch).setZero();
      // Where dL/d(input of layer k) goes: layer k-1's output gradient, the caller's, or nowhere.
      Matrix<Scalar>* below = nullptr;
      if (k > 0) {
        below = &layer_gradient_[static_cast<std::size_t>(k % 2)];
      } else if (input_gradient != nullptr) {
        input_gradient->resize(input_, columns);
        below = input_gradient;
      }
      if (top)
        backward_layer(k, output_gradient, has_output_gradient, below);
      else
        backward_layer(k, from_above.leftCols(columns), has_output_gradient, below);
      initial_hidden_gradient_.middleCols(k * batch, batch) = hidden_gradient_.leftCols(batch);
    }
  }

  /// @brief dL/dh_0 from the last backward(), (hidden x layers*batch).
  [[nodiscard]] Eigen::Block<const Matrix<Scalar>> initial_hidden_gradient() const {
    return Eigen::Block<const Matrix<Scalar>>(initial_hidden_gradient_, 0, 0, hidden_,
                                              layers() * shape_.batch);
  }

 private:
  struct Layer {
    Layer(Eigen::Index inputs, Eigen::Index hidden) : weights(gate_count, inputs, hidden) {}
    RecurrentWeights<Scalar> weights;
    Matrix<Scalar> gates;                      // (3H x time*batch): activations r, z, n
    Matrix<Scalar> gate_gradient;              // (3H x time*batch): dL/d(input-side pre-act.)
    Matrix<Scalar> candidate_hidden;           // (H x time*batch): W_hn h_{t-1} + b_hn
    Matrix<Scalar> candidate_hidden_gradient;  // (H x time*batch): its gradient, r * dn
    Matrix<Scalar> hidden;                     // (H x (time+1)*batch): h_{-1}, h_0, ..., h_{T-1}
  };

  Layer& at(Eigen::Index k) { return layers_.at(static_cast<std::size_t>(k)); }

  // Columns [first, first + count) of layer k's input: the model's input for layer 0, else the
  // hidden states h_0 ... of layer k-1 (its column block 0 holds the initial state).
  Eigen::Block<Matrix<Scalar>, Eigen::Dynamic, Eigen::Dynamic, true> layer_input(
      Eigen::Index k, Eigen::Index first, Eigen::Index count) {
    if (k == 0) return input_copy_.middleCols(first, count);
    return at(k - 1).hidden.middleCols(shape_.batch + first, count);
  }

  // Runs the time loop of layer k backwards. On entry hidden_gradient_ holds dL/dh_{T-1} from the
  // final state; on exit dL/dh_{-1}.
  void backward_layer(Eigen::Index k, const Eigen::Ref<const Matrix<Scalar>>& output_gradient,
                      bool has_output_gradient, Matrix<Scalar>* below) {
    Layer& layer = at(k);
    const Eigen::Index H = hidden_;
    const Eigen::Index batch = shape_.batch;
    auto hidden_gradient = hidden_gradient_.leftCols(batch);
    auto step_gradient = step_gradient_.leftCols(batch);
    auto recurrent_gradient = recurrent_step_.leftCols(batch);
    const Eigen::Index chunk = steps_per_chunk(chunk_columns_, batch, shape_.time);
    recurrent_product_.prepare(layer.weights.weight_hh.transpose(), batch);
    for (Eigen::Index t = shape_.time - 1; t >= 0; --t) {
      const auto gates = layer.gates.middleCols(t * batch, batch);
      const auto reset = gates.topRows(H).array();
      const auto update = gates.middleRows(H, H).array();
      const auto candidate = gates.bottomRows(H).array();
      const auto candidate_hidden = layer.candidate_hidden.middleCols(t * batch, batch).array();
      const auto previous = layer.hidden.middleCols(t * batch, batch).array();
      if (has_output_gradient)
        step_gradient = output_gradient.middleCols(t * batch, batch) + hidden_gradient;
      else
        step_gradient = hidden_gradient;
      const auto dh = step_gradient.array();
      auto gate_gradient = layer.gate_gradient.middleCols(t * batch, batch);
      // dL/d(n pre-activation), then the reset gate through W_hn h + b_hn, then the update gate.
      gate_gradient.bottomRows(H).array() =
          dh * (Scalar(1) - update) * (Scalar(1) - candidate.square());
      const auto candidate_gradient = gate_gradient.bottomRows(H).array();
      gate_gradient.topRows(H).array() =
          candidate_gradient * candidate_hidden * reset * (Scalar(1) - reset);
      gate_gradient.middleRows(H, H).array() =
          dh * (previous - candidate) * update * (Scalar(1) - update);
      layer.candidate_hidden_gradient.middleCols(t * batch, batch).array() =
          candidate_gradient * reset;
      // The hidden-side pre-activation gradients [dr; dz; r * dn] feed one W_hh^T product.
      recurrent_gradient.topRows(2 * H) = gate_gradient.topRows(2 * H);
      recurrent_gradient.bottomRows(H) =
          layer.candidate_hidden_gradient.middleCols(t * batch, batch);
      recurrent_product_.template multiply<false>(
          hidden_gradient, layer.weights.weight_hh.transpose(), recurrent_gradient);
      hidden_gradient.array() += dh * update;
      if (t % chunk == 0) {
        const Eigen::Index count = std::min(chunk, shape_.time - t) * batch;
        chunk_gradients(k, t * batch, count, t + chunk >= shape_.time, below);
      }
    }
    RecurrentWeights<Scalar>& weights = layer.weights;
    weights.bias_hh_gradient.head(2 * H) = weights.bias_ih_gradient.head(2 * H);
  }

  // The weight, bias and input gradients of one chunk of steps of layer k, columns
  // [first, first + count): assigned for the chunk that ends the sequence (the first one
  // backwards), accumulated for the others. Previous hidden states h_{t-1} are the same columns
  // of `hidden` (its first block holds h_{-1}).
  void chunk_gradients(Eigen::Index k, Eigen::Index first, Eigen::Index count, bool assign,
                       Matrix<Scalar>* below) {
    Layer& layer = at(k);
    RecurrentWeights<Scalar>& weights = layer.weights;
    const Eigen::Index H = hidden_;
    const auto gate_gradient = layer.gate_gradient.middleCols(first, count);
    const auto candidate_hidden_gradient = layer.candidate_hidden_gradient.middleCols(first, count);
    const auto input = layer_input(k, first, count);
    const auto previous_hidden = layer.hidden.middleCols(first, count);
    if (assign) {
      detail::assign_product(products_, weights.weight_ih_gradient, gate_gradient,
                             input.transpose());
      detail::assign_product(products_, weights.weight_hh_gradient.topRows(2 * H),
                             gate_gradient.topRows(2 * H), previous_hidden.transpose());
      detail::assign_product(products_, weights.weight_hh_gradient.bottomRows(H),
                             candidate_hidden_gradient, previous_hidden.transpose());
      weights.bias_ih_gradient.noalias() = gate_gradient.rowwise().sum();
      weights.bias_hh_gradient.tail(H).noalias() = candidate_hidden_gradient.rowwise().sum();
    } else {
      detail::add_product(products_, weights.weight_ih_gradient, gate_gradient, input.transpose());
      detail::add_product(products_, weights.weight_hh_gradient.topRows(2 * H),
                          gate_gradient.topRows(2 * H), previous_hidden.transpose());
      detail::add_product(products_, weights.weight_hh_gradient.bottomRows(H),
                          candidate_hidden_gradient, previous_hidden.transpose());
      weights.bias_ih_gradient.noalias() += gate_gradient.rowwise().sum();
      weights.bias_hh_gradient.tail(H).noalias() += candidate_hidden_gradient.rowwise().sum();
    }
    if (below != nullptr)
      detail::assign_product(products_, below->middleCols(first, count),
                             weights.weight_ih.transpose(), gate_gradient);
  }

  Eigen::Index input_;
  Eigen::Index hidden_;
  std::vector<Layer> layers_;
  SequenceShape shape_{};
  bool ready_for_backward_ = false;
  Matrix<Scalar> input_copy_;               // (input x time*batch)
  Matrix<Scalar> final_hidden_;             // (H x layers*batch)
  Matrix<Scalar> initial_hidden_gradient_;  // (H x layers*batch)
  Matrix<Scalar> layer_gradient_[2];        // dL/d(output of a layer), alternating by layer
  Matrix<Scalar> hidden_gradient_;          // (H x batch): dL/dh_t through the recurrence
  Matrix<Scalar> step_gradient_;            // (H x batch): total dL/dh_t of one step
  Matrix<Scalar> recurrent_step_;           // (3H x batch): W_hh h_{t-1}; backwards its gradient
  Vector<Scalar> bias_sum_;                 // (3H): [b_ir + b_hr; b_iz + b_hz; b_in]
  detail::ProductWorkspace<Scalar> products_;
  detail::PackedProduct<Scalar> recurrent_product_;  // W_hh or W_hh^T, packed once per layer
  Eigen::Index chunk_columns_ = default_chunk_columns;
};

}  // namespace hpt::models
