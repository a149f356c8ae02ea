#pragma once
/// @file synthetic.hpp
/// @brief Seeded synthetic tasks: two spirals, the adding problem, noisy sine waves.
///
/// Every generator draws from one hpt::Random(seed) in the documented order, so a seed gives the
/// same data with every compiler and standard library.

#include <hpt/core/random.hpp>
#include <hpt/data/dataset.hpp>
#include <hpt/data/sample_store.hpp>
#include <hpt/data/sequence_dataset.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt::data {

namespace detail {
inline void require_positive(std::size_t value, const char* function, const char* parameter) {
  if (value == 0)
    throw std::invalid_argument(std::string("hpt::data::") + function + ": " + parameter +
                                " must be positive, got 0");
}
inline void require_noise(double noise, const char* function) {
  if (!(noise >= 0.0 && std::isfinite(noise)))
    throw std::invalid_argument(std::string("hpt::data::") + function +
                                ": noise must be finite and >= 0, got " + number_text(noise));
}
}  // namespace detail

/// @brief Two interleaved spirals: 2 features (x, y), 2 classes, 2 * samples_per_class samples.
///
/// For i = 0 .. samples_per_class - 1: u = uniform [0, 1) draw, radius r = u, angle a = 3 pi u
/// (the spirals make 1.5 turns and reach radius 1). Sample 2i (class 0) is
/// (r cos a, r sin a) and sample 2i + 1 (class 1) its point reflection (-r cos a, -r sin a); each
/// coordinate then gets noise * N(0, 1) added. Draw order per i: u, then the noise of sample 2i
/// (x, y), then that of sample 2i + 1 (x, y). Classes alternate, so any prefix is balanced.
/// Throws std::invalid_argument if samples_per_class is 0 or noise is negative or not finite.
template <class Scalar = double>
Dataset<Scalar> two_spirals(std::size_t samples_per_class, double noise, std::uint64_t seed) {
  detail::require_positive(samples_per_class, "two_spirals", "samples_per_class");
  detail::require_noise(noise, "two_spirals");
  Random random(seed);
  const auto count = static_cast<Eigen::Index>(2 * samples_per_class);
  Matrix<Scalar> features(2, count);
  std::vector<int> labels(static_cast<std::size_t>(count));
  for (Eigen::Index i = 0; i < count; i += 2) {
    const double radius = random.uniform();
    const double angle = 3.0 * std::numbers::pi * radius;
    const double x = radius * std::cos(angle);
    const double y = radius * std::sin(angle);
    for (int side = 0; side < 2; ++side) {
      const double sign = side == 0 ? 1.0 : -1.0;
      const double noise_x = noise * random.normal();
      const double noise_y = noise * random.normal();
      features(0, i + side) = static_cast<Scalar>(sign * x + noise_x);
      features(1, i + side) = static_cast<Scalar>(sign * y + noise_y);
      labels[static_cast<std::size_t>(i + side)] = side;
    }
  }
  return Dataset<Scalar>(std::move(features), ClassLabels{std::move(labels), 2});
}

/// @brief The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015):
/// many-to-one regression over sequences of `length` steps with 2 features per step.
///
/// Step t of a sequence is (value_t, marker_t): value_t is a uniform [0, 1) draw, marker_t is 1
/// at exactly two steps, 0 elsewhere. The first marked step is uniform in [0, H), the second in
/// [H, length), with H = length / 2 (integer division). The target (1 x 1 per sequence) is the
/// sum of the two marked values, in [0, 2). Draw order per sequence: the `length` values, then
/// the first marked step (Random::below(H)), then the second (H + Random::below(length - H)).
/// Throws std::invalid_argument if sequences is 0 or length < 2.
template <class Scalar = double>
SequenceDataset<Scalar> adding_problem(std::size_t sequences, std::size_t length,
                                       std::uint64_t seed) {
  detail::require_positive(sequences, "adding_problem", "sequences");
  if (length < 2)
    throw std::invalid_argument("hpt::data::adding_problem: length must be at least 2, got " +
                                std::to_string(length));
  Random random(seed);
  const auto steps = static_cast<Eigen::Index>(length);
  const auto count = static_cast<Eigen::Index>(sequences);
  Matrix<Scalar> features = Matrix<Scalar>::Zero(2, steps * count);
  Matrix<Scalar> targets(1, count);
  const std::uint64_t half = length / 2;
  for (Eigen::Index n = 0; n < count; ++n) {
    const Eigen::Index first_column = n * steps;
    for (Eigen::Index t = 0; t < steps; ++t)
      features(0, first_column + t) = static_cast<Scalar>(random.uniform());
    const auto first = static_cast<Eigen::Index>(random.below(half));
    const auto second = static_cast<Eigen::Index>(half + random.below(length - half));
    features(1, first_column + first) = Scalar(1);
    features(1, first_column + second) = Scalar(1);
    targets(0, n) = features(0, first_column + first) + features(0, first_column + second);
  }
  return SequenceDataset<Scalar>(std::move(features), steps,
                                 RegressionTargets<Scalar>{std::move(targets)},
                                 SequenceTarget::many_to_one);
}

/// @brief Noisy sine waves for next-step prediction: many-to-many regression, 1 feature and
/// 1 output per step.
///
/// Sequence n has an angular frequency w uniform in [0.1, 0.5) radians per step (a period of
/// 12.6 to 63 steps) and a phase p uniform in [0, 2 pi); its series is
/// x_k = sin(w k + p) + noise * N(0, 1) for k = 0 .. length. The input at step t is x_t and the
/// target x_{t+1} (t = 0 .. length - 1); the target's own noise makes a mean squared error of
/// noise^2 the best any predictor can expect. Draw order per sequence: w, p,
/// then the length + 1 noise draws in k order. Throws std::invalid_argument if sequences or
/// length is 0 or noise is negative or not finite.
template <class Scalar = double>
SequenceDataset<Scalar> noisy_sine(std::size_t sequences, std::size_t length, double noise,
                                   std::uint64_t seed) {
  detail::require_positive(sequences, "noisy_sine", "sequences");
  detail::require_positive(length, "noisy_sine", "length");
  detail::require_noise(noise, "noisy_sine");
  Random random(seed);
  const auto steps = static_cast<Eigen::Index>(length);
  const auto count = static_cast<Eigen::Index>(sequences);
  Matrix<Scalar> features(1, steps * count);
  Matrix<Scalar> targets(1, steps * count);
  for (Eigen::Index n = 0; n < count; ++n) {
    const double frequency = random.uniform(0.1, 0.5);
    const double phase = random.uniform(0.0, 2.0 * std::numbers::pi);
    for (Eigen::Index k = 0; k <= steps; ++k) {
      const double value =
          std::sin(frequency * static_cast<double>(k) + phase) + noise * random.normal();
      if (k < steps) features(0, n * steps + k) = static_cast<Scalar>(value);
      if (k > 0) targets(0, n * steps + k - 1) = static_cast<Scalar>(value);
    }
  }
  return SequenceDataset<Scalar>(std::move(features), steps,
                                 RegressionTargets<Scalar>{std::move(targets)},
                                 SequenceTarget::many_to_many);
}

}  // namespace hpt::data
