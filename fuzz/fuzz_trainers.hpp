// The trainers the checkpoint targets restore into and the seed generator saves from: the same
// variants on both sides, so that seeds are checkpoints the targets accept. An input's first byte
// picks the variant (modulo the count); the rest is the checkpoint.
#pragma once

#include <hpt/data/dataset.hpp>
#include <hpt/data/sequence_dataset.hpp>
#include <hpt/data/synthetic.hpp>
#include <hpt/trainers/mlp_trainer.hpp>
#include <hpt/trainers/sequence_trainer.hpp>

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>

#include "fuzz_support.hpp"

namespace hpt::fuzz {

template <class Scalar>
std::shared_ptr<const data::DatasetSplit<data::Dataset<Scalar>>> spirals() {
  static const auto split = std::make_shared<const data::DatasetSplit<data::Dataset<Scalar>>>(
      data::two_spirals<Scalar>(8, 0.05, 11).split(0.25, 3));
  return split;
}

template <class Scalar>
std::shared_ptr<const data::DatasetSplit<data::SequenceDataset<Scalar>>> sums() {
  static const auto split =
      std::make_shared<const data::DatasetSplit<data::SequenceDataset<Scalar>>>(
          data::adding_problem<Scalar>(8, 4, 5).split(0.25, 3));
  return split;
}

template <class Scalar>
std::shared_ptr<const data::DatasetSplit<data::SequenceDataset<Scalar>>> sines() {
  static const auto split =
      std::make_shared<const data::DatasetSplit<data::SequenceDataset<Scalar>>>(
          data::noisy_sine<Scalar>(8, 4, 0.1, 7).split(0.25, 3));
  return split;
}

/// @brief How many MlpTrainer variants with_mlp_trainer() makes.
inline constexpr std::size_t mlp_variants = 4;

/// @brief Calls visit(trainer) with a fresh MlpTrainer of variant `variant % mlp_variants`: plain
/// SGD; SGD with momentum, weight decay and two minibatches per step; Adam with two tanh layers
/// and dropout; Adam in float.
template <class Visit>
void with_mlp_trainer(std::size_t variant, Visit&& visit) {
  using models::MlpTrainer;
  using models::OptimizerKind;
  switch (variant % mlp_variants) {
    case 0: {
      MlpTrainer<double> trainer({.hidden_units = 3, .minibatch_size = 4, .seed = 1},
                                 spirals<double>());
      visit(trainer);
      return;
    }
    case 1: {
      MlpTrainer<double> trainer({.hidden_units = 2,
                                  .minibatch_size = 3,
                                  .minibatches_per_step = 2,
                                  .momentum = 0.9,
                                  .l2 = 0.01,
                                  .seed = 2},
                                 spirals<double>());
      visit(trainer);
      return;
    }
    case 2: {
      MlpTrainer<double> trainer({.hidden_units = 3,
                                  .layers = 2,
                                  .activation = models::Activation::tanh,
                                  .dropout = 0.25,
                                  .minibatch_size = 5,
                                  .optimizer = OptimizerKind::adam,
                                  .seed = 3},
                                 spirals<double>());
      visit(trainer);
      return;
    }
    default: {
      MlpTrainer<float> trainer(
          {.hidden_units = 2, .minibatch_size = 4, .optimizer = OptimizerKind::adam, .seed = 4},
          spirals<float>());
      visit(trainer);
      return;
    }
  }
}

/// @brief How many SequenceTrainer variants with_sequence_trainer() makes.
inline constexpr std::size_t sequence_variants = 4;

/// @brief Calls visit(trainer) with a fresh SequenceTrainer of variant
/// `variant % sequence_variants`: an LSTM with SGD on the adding problem; a GRU with Adam on
/// next-step sines; two LSTM layers with momentum and clipping; a GRU in float.
template <class Visit>
void with_sequence_trainer(std::size_t variant, Visit&& visit) {
  using models::Cell;
  using models::OptimizerKind;
  using models::SequenceTrainer;
  switch (variant % sequence_variants) {
    case 0: {
      SequenceTrainer<double> trainer(
          {.cell = Cell::lstm, .hidden_units = 2, .minibatch_size = 3, .seed = 1}, sums<double>());
      visit(trainer);
      return;
    }
    case 1: {
      SequenceTrainer<double> trainer({.cell = Cell::gru,
                                       .hidden_units = 2,
                                       .minibatch_size = 4,
                                       .optimizer = OptimizerKind::adam,
                                       .seed = 2},
                                      sines<double>());
      visit(trainer);
      return;
    }
    case 2: {
      SequenceTrainer<double> trainer({.cell = Cell::lstm,
                                       .hidden_units = 2,
                                       .layers = 2,
                                       .max_gradient_norm = 1.0,
                                       .minibatch_size = 2,
                                       .minibatches_per_step = 2,
                                       .momentum = 0.5,
                                       .seed = 3},
                                      sums<double>());
      visit(trainer);
      return;
    }
    default: {
      SequenceTrainer<float> trainer(
          {.cell = Cell::gru, .hidden_units = 2, .minibatch_size = 3, .seed = 4}, sums<float>());
      visit(trainer);
      return;
    }
  }
}

/// @brief What trainer.save() writes.
template <class Trainer>
std::string saved(const Trainer& trainer) {
  std::ostringstream out;
  trainer.save(out);
  return out.str();
}

/// @brief The checkpoint targets' promises for one input: a refused restore changes nothing; an
/// accepted one gives a trainer whose own checkpoint restores to the same state in a fresh
/// trainer, and which then takes steps without throwing.
template <class WithTrainer>
void check_restore(const std::uint8_t* data, std::size_t size, WithTrainer with_trainer) {
  if (size == 0) return;
  const std::size_t variant = data[0];
  const std::string checkpoint = text_of(data + 1, size - 1);
  with_trainer(variant, [&](auto& trainer) {
    const std::string before = saved(trainer);
    std::istringstream in(checkpoint);
    if (!accepted([&] { trainer.restore(in); })) {
      expect(saved(trainer) == before, "a refused restore changed the trainer");
      return;
    }
    const std::string restored = saved(trainer);
    with_trainer(variant, [&](auto& fresh) {
      std::istringstream again(restored);
      expect(accepted([&] { fresh.restore(again); }),
             "a trainer refused the checkpoint of a trainer it accepted");
      expect(saved(fresh) == restored, "restoring an accepted state gave another state");
    });
    try {
      for (int step = 0; step < 2; ++step) (void)trainer.step();
    } catch (const std::exception& error) {
      broken(std::string("step() after an accepted restore threw: ") + error.what());
    }
  });
}

}  // namespace hpt::fuzz
