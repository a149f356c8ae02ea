// SequenceDataset: sample-major storage, time-major minibatches (column t * B + b).
#include <hpt/data/sequence_dataset.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

using Catch::Matchers::Contains;
using hpt::data::ClassLabels;
using hpt::data::Matrix;
using hpt::data::Minibatch;
using hpt::data::RegressionTargets;
using hpt::data::SequenceDataset;
using hpt::data::SequenceTarget;
using hpt::data::Stratify;

namespace {

// 3 sequences of 2 steps of 2 features; feature f of step t of sequence n is 100 n + 10 t + f.
Matrix<double> coded_features() {
  Matrix<double> features(2, 6);
  for (int n = 0; n < 3; ++n)
    for (int t = 0; t < 2; ++t)
      for (int f = 0; f < 2; ++f) features(f, n * 2 + t) = 100 * n + 10 * t + f;
  return features;
}

}  // namespace

TEST_CASE("SequenceDataset stores sequences as blocks of time_steps columns", "[data][sequence]") {
  const SequenceDataset<double> dataset(coded_features(), 2, ClassLabels{{0, 1, 0}, 2});
  CHECK(dataset.size() == 3);
  CHECK(dataset.time_steps() == 2);
  CHECK(dataset.feature_count() == 2);
  CHECK(dataset.alignment() == SequenceTarget::many_to_one);
  const Matrix<double> second = dataset.sequence(1);
  CHECK(second(0, 0) == 100);
  CHECK(second(1, 0) == 101);
  CHECK(second(0, 1) == 110);
  CHECK(second(1, 1) == 111);
}

TEST_CASE("A sequence minibatch is time-major: column t * B + b", "[data][sequence]") {
  const SequenceDataset<double> dataset(coded_features(), 2, ClassLabels{{0, 1, 1}, 2});
  Minibatch<double> batch;
  const std::vector<std::size_t> picked{2, 0};  // b = 0 is sequence 2, b = 1 is sequence 0
  dataset.gather(picked, batch);
  REQUIRE(batch.features.rows() == 2);
  REQUIRE(batch.features.cols() == 4);
  CHECK(batch.time_steps == 2);
  CHECK(batch.target_steps == 1);
  // Written out by hand: column 0 = (t 0, b 0), 1 = (t 0, b 1), 2 = (t 1, b 0), 3 = (t 1, b 1).
  Matrix<double> expected(2, 4);
  expected << 200, 0, 210, 10,  //
      201, 1, 211, 11;
  CHECK(batch.features == expected);
  CHECK(batch.column(1, 0) == 2);
  CHECK(batch.labels == std::vector<int>{1, 0});
  // The same bytes as a PyTorch (seq = 2, batch = 2, feature = 2) tensor, row-major.
  const std::vector<double> torch_order(batch.features.data(), batch.features.data() + 8);
  CHECK(torch_order == std::vector<double>{200, 201, 0, 1, 210, 211, 10, 11});
}

TEST_CASE("Many-to-many targets follow the time-major layout", "[data][sequence]") {
  // Label of step t of sequence n is n + t (stored at n * T + t); regression target 1000 n + t.
  const std::vector<int> labels{0, 1, 1, 2, 2, 3};
  const SequenceDataset<double> classes(coded_features(), 2, ClassLabels{labels, 4},
                                        SequenceTarget::many_to_many);
  Matrix<double> values(1, 6);
  values << 0, 1, 1000, 1001, 2000, 2001;
  const SequenceDataset<double> regression(coded_features(), 2, RegressionTargets<double>{values},
                                           SequenceTarget::many_to_many);
  Minibatch<double> batch;
  const std::vector<std::size_t> picked{1, 2, 0};
  classes.gather(picked, batch);
  CHECK(batch.target_steps == 2);
  // index t * 3 + b: step 0 of sequences 1, 2, 0, then step 1 of the same.
  CHECK(batch.labels == std::vector<int>{1, 2, 0, 2, 3, 1});
  regression.gather(picked, batch);  // the same buffer, now with regression targets
  CHECK(batch.labels.empty());
  Matrix<double> expected(1, 6);
  expected << 1000, 2000, 0, 1001, 2001, 1;
  CHECK(batch.targets == expected);
  CHECK(regression.as_minibatch().targets.cols() == 6);
}

TEST_CASE("SequenceDataset rejects inconsistent shapes", "[data][sequence]") {
  CHECK_THROWS_WITH(SequenceDataset<double>(coded_features(), 4, ClassLabels{{0}, 2}),
                    Contains("6 columns, which is not a multiple of time_steps 4"));
  CHECK_THROWS_WITH(SequenceDataset<double>(coded_features(), 0, ClassLabels{{0}, 2}),
                    Contains("time_steps must be positive, got 0"));
  CHECK_THROWS_MATCHES(
      SequenceDataset<double>(coded_features(), 2, ClassLabels{{0, 1, 0}, 2},
                              SequenceTarget::many_to_many),
      std::invalid_argument,
      Catch::Message("hpt::data::SequenceDataset: labels has 3 entries, expected 6 (one per "
                     "step)"));
  CHECK_THROWS_WITH(SequenceDataset<double>(coded_features(), 2,
                                            RegressionTargets<double>{Matrix<double>::Zero(1, 6)}),
                    Contains("regression targets have 6 columns, expected 3 (one per sample)"));
}

TEST_CASE("Sequence minibatches, subsets and splits keep whole sequences", "[data][sequence]") {
  // 7 sequences of 3 steps, 1 feature: value 10 n + t; many-to-one label n % 2.
  Matrix<float> features(1, 21);
  std::vector<int> labels;
  for (int n = 0; n < 7; ++n) {
    for (int t = 0; t < 3; ++t) features(0, n * 3 + t) = static_cast<float>(10 * n + t);
    labels.push_back(n % 2);
  }
  const SequenceDataset<float> dataset(features, 3, ClassLabels{labels, 2});
  hpt::Random random(5);
  auto batches = dataset.minibatches(3, random);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::size_t> seen;
    for (const auto& batch : batches) {
      const auto size = static_cast<Eigen::Index>(batch.size());
      REQUIRE(batch.features.cols() == 3 * size);
      for (Eigen::Index b = 0; b < size; ++b) {
        const auto n = static_cast<float>(batch.indices[static_cast<std::size_t>(b)]);
        for (Eigen::Index t = 0; t < 3; ++t)
          CHECK(batch.features(0, t * size + b) == 10 * n + static_cast<float>(t));
      }
      seen.insert(seen.end(), batch.indices.begin(), batch.indices.end());
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6});
  }

  const auto [train, validation] = dataset.split(0.3, 2, Stratify::yes);
  CHECK(train.size() + validation.size() == 7);
  CHECK(validation.time_steps() == 3);
  for (std::size_t i = 0; i < validation.size(); ++i) {
    const auto first = validation.sequence(i)(0, 0);
    CHECK(validation.sequence(i)(0, 2) == first + 2);
    CHECK(validation.labels()[i] == static_cast<int>(first / 10) % 2);
  }
  const SequenceDataset<float> per_step(features, 3, ClassLabels{std::vector<int>(21, 0), 1},
                                        SequenceTarget::many_to_many);
  CHECK_THROWS_WITH(per_step.split(0.3, 2, Stratify::yes), Contains("one label per sample"));
  CHECK(per_step.split(0.3, 2).validation.labels().size() == 6);  // 2 sequences x 3 steps
}
