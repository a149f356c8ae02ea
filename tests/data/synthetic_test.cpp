// The seeded synthetic tasks: their definitions, reproducibility and argument checks.
#include <hpt/data/synthetic.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using Catch::Matchers::Contains;

TEST_CASE("two_spirals: balanced, alternating, reproducible", "[data][synthetic]") {
  const auto spirals = hpt::data::two_spirals(100, 0.05, 3);
  REQUIRE(spirals.size() == 200);
  CHECK(spirals.feature_count() == 2);
  CHECK(spirals.class_count() == 2);
  CHECK(spirals.class_counts() == std::vector<std::size_t>{100, 100});
  for (std::size_t i = 0; i < spirals.size(); ++i) CHECK(spirals.labels()[i] == int(i % 2));
  CHECK(hpt::data::two_spirals(100, 0.05, 3).features() == spirals.features());
  CHECK(hpt::data::two_spirals(100, 0.05, 4).features() != spirals.features());

  // Without noise: class 1 is the point reflection of class 0 and the radius sets the angle.
  const auto clean = hpt::data::two_spirals<float>(50, 0.0, 9);
  const auto& points = clean.features();
  for (Eigen::Index i = 0; i < points.cols(); i += 2) {
    CHECK(points(0, i + 1) == -points(0, i));
    CHECK(points(1, i + 1) == -points(1, i));
    const double radius = std::hypot(points(0, i), points(1, i));
    CHECK(radius < 1.0);
    const double angle = 3.0 * 3.14159265358979323846 * radius;
    CHECK(points(0, i) == Approx(radius * std::cos(angle)).margin(1e-5));
    CHECK(points(1, i) == Approx(radius * std::sin(angle)).margin(1e-5));
  }

  CHECK_THROWS_WITH(hpt::data::two_spirals(0, 0.1, 1),
                    Contains("two_spirals: samples_per_class must be positive, got 0"));
  CHECK_THROWS_WITH(hpt::data::two_spirals(5, -0.1, 1),
                    Contains("noise must be finite and >= 0, got -0.1"));
}

TEST_CASE("adding_problem: two markers, one per half, target is their sum", "[data][synthetic]") {
  for (const std::size_t length : {std::size_t{2}, std::size_t{7}, std::size_t{50}}) {
    CAPTURE(length);
    const auto data = hpt::data::adding_problem(200, length, 17);
    REQUIRE(data.size() == 200);
    REQUIRE(data.time_steps() == static_cast<Eigen::Index>(length));
    CHECK(data.feature_count() == 2);
    CHECK(data.alignment() == hpt::data::SequenceTarget::many_to_one);
    REQUIRE(data.regression_targets().rows() == 1);
    const auto half = static_cast<Eigen::Index>(length / 2);
    std::vector<int> first_positions(length, 0);
    for (std::size_t n = 0; n < data.size(); ++n) {
      const auto sequence = data.sequence(n);
      int first_half = 0;
      int second_half = 0;
      double sum = 0;
      for (Eigen::Index t = 0; t < sequence.cols(); ++t) {
        CHECK(sequence(0, t) >= 0.0);
        CHECK(sequence(0, t) < 1.0);
        const double marker = sequence(1, t);
        REQUIRE((marker == 0.0 || marker == 1.0));
        if (marker == 1.0) {
          (t < half ? first_half : second_half) += 1;
          sum += sequence(0, t);
          if (t < half) ++first_positions[static_cast<std::size_t>(t)];
        }
      }
      CHECK(first_half == 1);
      CHECK(second_half == 1);
      CHECK(data.regression_targets()(0, static_cast<Eigen::Index>(n)) == sum);
    }
    if (length == 7)  // 200 draws over 3 positions: each appears
      for (Eigen::Index t = 0; t < half; ++t)
        CHECK(first_positions[static_cast<std::size_t>(t)] > 0);
  }
  CHECK(hpt::data::adding_problem(5, 10, 1).features() ==
        hpt::data::adding_problem(5, 10, 1).features());
  CHECK(hpt::data::adding_problem(5, 10, 1).features() !=
        hpt::data::adding_problem(5, 10, 2).features());
  CHECK_THROWS_WITH(hpt::data::adding_problem(5, 1, 1),
                    Contains("adding_problem: length must be at least 2, got 1"));
  CHECK_THROWS_WITH(hpt::data::adding_problem(0, 5, 1),
                    Contains("adding_problem: sequences must be positive, got 0"));
}

TEST_CASE("noisy_sine: next-step targets of sine waves", "[data][synthetic]") {
  const auto waves = hpt::data::noisy_sine(20, 30, 0.1, 5);
  REQUIRE(waves.size() == 20);
  CHECK(waves.time_steps() == 30);
  CHECK(waves.feature_count() == 1);
  CHECK(waves.alignment() == hpt::data::SequenceTarget::many_to_many);
  const auto& inputs = waves.features();
  const auto& targets = waves.regression_targets();
  REQUIRE(targets.cols() == 20 * 30);
  for (Eigen::Index n = 0; n < 20; ++n)
    for (Eigen::Index t = 0; t + 1 < 30; ++t)  // the target of step t is the input of step t + 1
      CHECK(targets(0, n * 30 + t) == inputs(0, n * 30 + t + 1));

  // Without noise each sequence is sin(w k + p) with w in [0.1, 0.5): recover w from 3 values
  // (sin(a - w) + sin(a + w) = 2 cos(w) sin(a)) where sin(a) is not small.
  const auto clean = hpt::data::noisy_sine(50, 12, 0.0, 8);
  for (std::size_t n = 0; n < clean.size(); ++n) {
    const auto sequence = clean.sequence(n);
    for (Eigen::Index t = 1; t + 1 < 12; ++t) {
      CHECK(std::abs(sequence(0, t)) <= 1.0);
      if (std::abs(sequence(0, t)) < 0.5) continue;
      const double cosine = (sequence(0, t - 1) + sequence(0, t + 1)) / (2.0 * sequence(0, t));
      const double frequency = std::acos(std::clamp(cosine, -1.0, 1.0));
      CHECK(frequency >= 0.1 - 1e-9);
      CHECK(frequency < 0.5 + 1e-9);
    }
  }
  CHECK(hpt::data::noisy_sine(3, 4, 0.1, 1).features() ==
        hpt::data::noisy_sine(3, 4, 0.1, 1).features());
  CHECK_THROWS_WITH(hpt::data::noisy_sine(3, 0, 0.1, 1),
                    Contains("noisy_sine: length must be positive, got 0"));
  CHECK_THROWS_WITH(hpt::data::noisy_sine(3, 4, std::nan(""), 1),
                    Contains("noisy_sine: noise must be finite"));
}
