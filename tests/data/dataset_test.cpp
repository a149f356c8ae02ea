// Dataset: shape checks, subsets, seeded splits and shuffled minibatches.
#include <hpt/data/dataset.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <numeric>
#include <ranges>
#include <set>
#include <vector>

using Catch::Matchers::Contains;
using hpt::data::ClassLabels;
using hpt::data::Dataset;
using hpt::data::Matrix;
using hpt::data::RegressionTargets;
using hpt::data::Stratify;

namespace {

// Sample j has features (j, 1000 + j), so every column tells which sample it came from.
Dataset<double> numbered_dataset(int count, int class_count = 3) {
  Matrix<double> features(2, count);
  std::vector<int> labels(static_cast<std::size_t>(count));
  for (int j = 0; j < count; ++j) {
    features(0, j) = j;
    features(1, j) = 1000 + j;
    labels[static_cast<std::size_t>(j)] = j % class_count;
  }
  return {std::move(features), std::move(labels), class_count};
}

std::vector<std::size_t> sample_ids(const Dataset<double>& dataset) {
  std::vector<std::size_t> ids;
  for (Eigen::Index j = 0; j < dataset.features().cols(); ++j)
    ids.push_back(static_cast<std::size_t>(dataset.features()(0, j)));
  return ids;
}

}  // namespace

static_assert(std::input_iterator<hpt::data::Minibatches<double>::iterator>);
static_assert(std::ranges::input_range<hpt::data::Minibatches<float>>);

TEST_CASE("Dataset holds class labels or regression targets", "[data][dataset]") {
  const auto classes = numbered_dataset(5);
  CHECK(classes.size() == 5);
  CHECK(classes.feature_count() == 2);
  CHECK(classes.is_classification());
  CHECK(classes.class_count() == 3);
  CHECK(classes.output_count() == 3);
  CHECK(classes.labels() == std::vector<int>{0, 1, 2, 0, 1});
  CHECK(classes.class_counts() == std::vector<std::size_t>{2, 2, 1});
  CHECK_THROWS_AS(classes.regression_targets(), std::logic_error);

  Matrix<float> features = Matrix<float>::Ones(3, 4);
  Matrix<float> targets = Matrix<float>::Zero(2, 4);
  const Dataset<float> regression(features, RegressionTargets<float>{targets});
  CHECK_FALSE(regression.is_classification());
  CHECK(regression.output_count() == 2);
  CHECK(regression.regression_targets().cols() == 4);
  CHECK_THROWS_AS(regression.labels(), std::logic_error);
  CHECK_THROWS_AS(regression.class_count(), std::logic_error);
}

TEST_CASE("Dataset rejects inconsistent shapes with clear messages", "[data][dataset]") {
  const Matrix<double> features = Matrix<double>::Zero(2, 3);
  CHECK_THROWS_MATCHES(
      Dataset<double>(features, std::vector<int>{0, 1}, 2), std::invalid_argument,
      Catch::Message("hpt::data::Dataset: labels has 2 entries, expected 3 (one per sample)"));
  CHECK_THROWS_WITH(Dataset<double>(features, std::vector<int>{0, 1, 2}, 2),
                    Contains("labels[2] = 2 is outside [0, class_count = 2)"));
  CHECK_THROWS_WITH(Dataset<double>(features, std::vector<int>{0, -1, 0}, 2),
                    Contains("labels[1] = -1"));
  CHECK_THROWS_WITH(Dataset<double>(features, std::vector<int>{0, 0, 0}, 0),
                    Contains("class_count must be positive, got 0"));
  CHECK_THROWS_WITH(
      Dataset<double>(features, RegressionTargets<double>{Matrix<double>::Zero(1, 2)}),
      Contains("regression targets have 2 columns, expected 3"));
  CHECK_THROWS_WITH(Dataset<double>(Matrix<double>(2, 0), std::vector<int>{}, 2),
                    Contains("features has 0 columns"));
  CHECK_THROWS_WITH(Dataset<double>(Matrix<double>(0, 3), std::vector<int>{0, 0, 0}, 1),
                    Contains("features has 0 rows"));
  Matrix<double> with_nan = features;
  with_nan(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(Dataset<double>(with_nan, std::vector<int>{0, 0, 0}, 1),
                    Contains("non-finite value at (1, 2)"));
}

TEST_CASE("Dataset::subset copies the chosen samples in order", "[data][dataset]") {
  const auto dataset = numbered_dataset(6);
  const std::vector<std::size_t> picked{4, 1, 4};
  const auto subset = dataset.subset(picked);
  CHECK(sample_ids(subset) == picked);
  CHECK(subset.labels() == std::vector<int>{1, 1, 1});
  CHECK(subset.class_count() == 3);
  CHECK_THROWS_AS(dataset.subset(std::vector<std::size_t>{}), std::invalid_argument);
  CHECK_THROWS_MATCHES(dataset.subset(std::vector<std::size_t>{0, 6}), std::out_of_range,
                       Catch::Message("hpt::data::Dataset::subset: indices[1] = 6 is out of "
                                      "range for 6 samples"));
}

TEST_CASE("Dataset::split is disjoint, complete and reproducible", "[data][dataset][split]") {
  const auto dataset = numbered_dataset(100);
  const auto [train, validation] = dataset.split(0.2, 7);
  CHECK(train.size() == 80);
  CHECK(validation.size() == 20);
  const auto train_ids = sample_ids(train);
  const auto validation_ids = sample_ids(validation);
  CHECK(std::is_sorted(train_ids.begin(), train_ids.end()));
  CHECK(std::is_sorted(validation_ids.begin(), validation_ids.end()));
  std::set<std::size_t> all(train_ids.begin(), train_ids.end());
  all.insert(validation_ids.begin(), validation_ids.end());
  CHECK(all.size() == 100);  // disjoint and covering: 80 + 20 distinct ids of 0..99
  CHECK(*all.rbegin() == 99);
  for (std::size_t i = 0; i < train.size(); ++i)  // labels travel with their samples
    CHECK(train.labels()[i] == static_cast<int>(train_ids[i] % 3));

  const auto again = dataset.split(0.2, 7);
  CHECK(sample_ids(again.validation) == validation_ids);
  CHECK(sample_ids(again.train) == train_ids);
  const auto other = dataset.split(0.2, 8);
  CHECK(sample_ids(other.validation) != validation_ids);
}

TEST_CASE("Dataset::split rounds and keeps both parts non-empty", "[data][dataset][split]") {
  const auto dataset = numbered_dataset(10);
  CHECK(dataset.split(0.25, 1).validation.size() == 3);  // round(2.5) = 3 (away from zero)
  CHECK(dataset.split(0.01, 1).validation.size() == 1);
  CHECK(dataset.split(0.99, 1).train.size() == 1);
  CHECK(numbered_dataset(2).split(0.5, 3).validation.size() == 1);
}

TEST_CASE("Dataset::split rejects invalid arguments", "[data][dataset][split]") {
  const auto dataset = numbered_dataset(10);
  for (const double fraction : {0.0, 1.0, -0.5, 1.5}) {
    CAPTURE(fraction);
    CHECK_THROWS_AS(dataset.split(fraction, 1), std::invalid_argument);
  }
  CHECK_THROWS_MATCHES(dataset.split(1.5, 1), std::invalid_argument,
                       Catch::Message("hpt::data::Dataset::split: validation_fraction must be in "
                                      "(0, 1), got 1.5"));
  CHECK_THROWS_WITH(dataset.split(std::nan(""), 1), Contains("validation_fraction"));
  CHECK_THROWS_WITH(numbered_dataset(1).split(0.5, 1), Contains("needs at least 2"));
  const Dataset<double> regression(Matrix<double>::Zero(1, 4),
                                   RegressionTargets<double>{Matrix<double>::Zero(1, 4)});
  CHECK_THROWS_WITH(regression.split(0.5, 1, Stratify::yes), Contains("stratify"));
}

TEST_CASE("A stratified split keeps each class's share", "[data][dataset][split]") {
  // 60 samples of class 0, 30 of class 1, 10 of class 2.
  Matrix<double> features(1, 100);
  std::vector<int> labels;
  for (int j = 0; j < 100; ++j) {
    features(0, j) = j;
    labels.push_back(j < 60 ? 0 : j < 90 ? 1 : 2);
  }
  const Dataset<double> dataset(features, labels, 3);
  const auto [train, validation] = dataset.split(0.2, 11, Stratify::yes);
  CHECK(validation.class_counts() == std::vector<std::size_t>{12, 6, 2});
  CHECK(train.class_counts() == std::vector<std::size_t>{48, 24, 8});
  const auto again = dataset.split(0.2, 11, Stratify::yes);
  CHECK(again.validation.features() == validation.features());
  CHECK(dataset.split(0.2, 12, Stratify::yes).validation.features() != validation.features());

  // Shares that do not divide evenly still add up to round(0.25 * 7) = 2.
  const Dataset<double> small(Matrix<double>::Zero(1, 7), std::vector<int>{0, 0, 0, 0, 1, 1, 1}, 2);
  const auto parts = small.split(0.25, 5, Stratify::yes);
  CHECK(parts.validation.class_counts() == std::vector<std::size_t>{1, 1});
}

TEST_CASE("Minibatches visit every sample once per epoch and reshuffle", "[data][minibatch]") {
  const auto dataset = numbered_dataset(10);
  hpt::Random random(42);
  auto batches = dataset.minibatches(4, random);
  CHECK(batches.minibatch_count() == 3);
  CHECK(batches.minibatch_size() == 4);
  CHECK(batches.sample_count() == 10);

  std::vector<std::vector<std::size_t>> epochs;
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<std::size_t> order;
    std::vector<std::size_t> sizes;
    for (const auto& batch : batches) {
      sizes.push_back(batch.size());
      REQUIRE(batch.features.cols() == static_cast<Eigen::Index>(batch.size()));
      REQUIRE(batch.labels.size() == batch.size());
      CHECK(batch.targets.size() == 0);
      for (std::size_t b = 0; b < batch.size(); ++b) {
        const auto id = batch.indices[b];
        CHECK(batch.features(0, static_cast<Eigen::Index>(b)) == static_cast<double>(id));
        CHECK(batch.features(1, static_cast<Eigen::Index>(b)) == 1000.0 + static_cast<double>(id));
        CHECK(batch.labels[b] == static_cast<int>(id % 3));
        order.push_back(id);
      }
    }
    CHECK(sizes == std::vector<std::size_t>{4, 4, 2});  // the last partial batch is kept
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::size_t> expected(10);
    std::iota(expected.begin(), expected.end(), std::size_t{0});
    CHECK(sorted == expected);
    epochs.push_back(order);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);

  // The same seed gives the same epochs.
  hpt::Random same(42);
  auto replay = dataset.minibatches(4, same);
  std::vector<std::size_t> first;
  for (const auto& batch : replay)
    first.insert(first.end(), batch.indices.begin(), batch.indices.end());
  CHECK(first == epochs[0]);
}

TEST_CASE("Minibatches reuse their buffers", "[data][minibatch]") {
  const auto dataset = numbered_dataset(10);
  hpt::Random random(1);
  auto batches = dataset.minibatches(3, random);
  std::set<const double*> feature_buffers;
  std::set<const int*> label_buffers;
  std::set<const std::size_t*> index_buffers;
  for (int epoch = 0; epoch < 4; ++epoch)
    for (auto it = batches.begin(); it != batches.end(); ++it) {
      feature_buffers.insert(it->features.data());
      label_buffers.insert(it->labels.data());
      index_buffers.insert(it->indices.data());
    }
  // One full-size buffer and one for the last (single-sample) batch, for all four epochs.
  CHECK(feature_buffers.size() == 2);
  CHECK(label_buffers.size() == 2);
  CHECK(index_buffers.size() == 2);
}

TEST_CASE("Minibatches handle sizes at and beyond the dataset", "[data][minibatch]") {
  const auto dataset = numbered_dataset(5);
  hpt::Random random(3);
  for (const std::size_t size : {std::size_t{5}, std::size_t{64}}) {
    auto batches = dataset.minibatches(size, random);
    CHECK(batches.minibatch_count() == 1);
    std::size_t seen = 0;
    for (const auto& batch : batches) seen += batch.size();
    CHECK(seen == 5);
  }
  auto ones = dataset.minibatches(1, random);
  CHECK(std::ranges::distance(ones) == 5);
  CHECK_THROWS_MATCHES(dataset.minibatches(0, random), std::invalid_argument,
                       Catch::Message("hpt::data::Dataset::minibatches: minibatch_size must be "
                                      "positive, got 0"));
}

TEST_CASE("Regression minibatches gather target columns", "[data][minibatch]") {
  Matrix<float> features(1, 6);
  Matrix<float> targets(2, 6);
  for (int j = 0; j < 6; ++j) {
    features(0, j) = static_cast<float>(j);
    targets(0, j) = static_cast<float>(10 * j);
    targets(1, j) = static_cast<float>(-j);
  }
  const Dataset<float> dataset(features, RegressionTargets<float>{targets});
  hpt::Random random(9);
  std::size_t seen = 0;
  for (const auto& batch : dataset.minibatches(4, random)) {
    CHECK(batch.labels.empty());
    REQUIRE(batch.targets.rows() == 2);
    REQUIRE(batch.targets.cols() == static_cast<Eigen::Index>(batch.size()));
    for (Eigen::Index b = 0; b < batch.targets.cols(); ++b) {
      CHECK(batch.targets(0, b) == 10 * batch.features(0, b));
      CHECK(batch.targets(1, b) == -batch.features(0, b));
    }
    seen += batch.size();
  }
  CHECK(seen == 6);

  const auto all = dataset.as_minibatch();
  CHECK(all.features == features);
  CHECK(all.targets == targets);
}
