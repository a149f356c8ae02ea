// EpochCursor: the same visiting order as Minibatches, epoch counting by hand, and states that
// round-trip mid-epoch or are refused when damaged.
#include <hpt/data/dataset.hpp>
#include <hpt/data/epoch_cursor.hpp>

#include <catch2/catch.hpp>
#include <sstream>
#include <vector>

using hpt::data::EpochCursor;

TEST_CASE("EpochCursor visits samples in Minibatches' order, epoch by epoch", "[epoch_cursor]") {
  Eigen::MatrixXd features = Eigen::MatrixXd::Random(2, 10);
  std::vector<int> labels(10, 0);
  const hpt::data::Dataset<double> dataset(features, labels, 1);
  hpt::Random random(21);
  auto batches = dataset.minibatches(4, random);
  EpochCursor cursor(10, 21);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::size_t taken = 0;
    for (const auto& batch : batches) {
      const auto indices = cursor.next(4);
      CHECK(std::vector<std::size_t>(indices.begin(), indices.end()) == batch.indices);
      taken += indices.size();
    }
    CHECK(taken == 10);
    CHECK(cursor.completed_epochs() == epoch + 1);
    CHECK(cursor.epochs() == epoch + 1.0);
  }
}

TEST_CASE("EpochCursor counts epochs and never crosses an epoch's end", "[epoch_cursor]") {
  EpochCursor cursor(10, 1);
  CHECK(cursor.completed_epochs() == 0);
  CHECK(cursor.epochs() == 0.0);
  CHECK(cursor.minibatches_per_epoch(4) == 3);
  CHECK(cursor.next(4).size() == 4);
  CHECK(cursor.epochs() == 0.4);
  CHECK(cursor.next(4).size() == 4);
  CHECK(cursor.next(4).size() == 2);  // the rest of the epoch only
  CHECK(cursor.completed_epochs() == 1);
  CHECK(cursor.next(25).size() == 10);  // a minibatch larger than the data: one whole epoch
  CHECK(cursor.completed_epochs() == 2);
  CHECK_THROWS_AS(cursor.next(0), std::invalid_argument);
  CHECK_THROWS_AS(EpochCursor(0, 1), std::invalid_argument);
}

TEST_CASE("EpochCursor state round-trips mid-epoch; damaged states change nothing",
          "[epoch_cursor]") {
  EpochCursor cursor(7, 5);
  (void)cursor.next(3);
  std::stringstream state;
  cursor.write(state);
  EpochCursor restored(7, 99);
  restored.read(state);
  CHECK(restored == cursor);
  for (int k = 0; k < 6; ++k) {
    const auto a = cursor.next(3);
    const auto b = restored.next(3);
    CHECK(std::vector<std::size_t>(a.begin(), a.end()) ==
          std::vector<std::size_t>(b.begin(), b.end()));
  }

  std::stringstream text;
  cursor.write(text);
  const std::string good = text.str();
  EpochCursor other(8, 1);
  std::stringstream wrong_size(good);
  CHECK_THROWS_WITH(other.read(wrong_size), Catch::Contains("7 samples"));
  EpochCursor target(7, 1);
  const EpochCursor untouched = target;
  std::string repeated = good;
  // Make the order a non-permutation: the second line's first index repeated.
  const auto line = repeated.find('\n') + 1;
  const auto space = repeated.find(' ', line);
  const auto second = repeated.substr(space + 1, repeated.find(' ', space + 1) - space - 1);
  repeated.replace(line, space - line, second);
  std::stringstream not_permutation(repeated);
  CHECK_THROWS_WITH(target.read(not_permutation), Catch::Contains("permutation"));
  std::stringstream cut(good.substr(0, good.size() / 2));
  CHECK_THROWS_AS(target.read(cut), std::runtime_error);
  std::stringstream garbage("hello");
  CHECK_THROWS_AS(target.read(garbage), std::runtime_error);
  CHECK(target == untouched);
}
