// The digits shipped in data/digits.csv, flat and as row-by-row sequences.
#include <hpt/data/digits.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using Catch::Matchers::Contains;

namespace {

const std::string digits_path = HPT_TEST_DATA_DIR "/../../data/digits.csv";

// The first sample (a 0), row by row.
const std::vector<int> first_pixels{0, 0, 5,  13, 9,  1,  0, 0, 0, 0, 13, 15, 10, 15, 5, 0,
                                    0, 3, 15, 2,  0,  11, 8, 0, 0, 4, 12, 0,  0,  8,  8, 0,
                                    0, 5, 8,  0,  0,  9,  8, 0, 0, 4, 11, 0,  1,  12, 7, 0,
                                    0, 2, 14, 5,  10, 12, 0, 0, 0, 0, 6,  13, 10, 0,  0, 0};

}  // namespace

TEST_CASE("load_digits: 1,797 samples of 64 pixels in 10 classes", "[data][digits]") {
  const auto digits = hpt::data::load_digits(digits_path);
  REQUIRE(digits.size() == 1797);
  CHECK(digits.feature_count() == 64);
  CHECK(digits.class_count() == 10);
  // From Debian's scikit-learn 1.2.1: /usr/bin/python3 -c "from sklearn.datasets import
  // load_digits; import numpy as np; print(np.bincount(load_digits().target).tolist())"
  CHECK(digits.class_counts() ==
        std::vector<std::size_t>{178, 182, 177, 183, 181, 182, 181, 179, 174, 180});
  for (int pixel = 0; pixel < 64; ++pixel)
    CHECK(digits.features()(pixel, 0) == first_pixels[static_cast<std::size_t>(pixel)]);
  CHECK(digits.labels()[0] == 0);
  CHECK(digits.labels()[1] == 1);
  CHECK(digits.labels()[1796] == 8);
  CHECK(digits.features().minCoeff() == 0.0);
  CHECK(digits.features().maxCoeff() == 16.0);

  const auto unit = hpt::data::load_digits<float>(digits_path, hpt::data::PixelScale::unit);
  CHECK(unit.features().maxCoeff() == 1.0f);
  CHECK(unit.features()(2, 0) == 5.0f / 16.0f);
  CHECK(unit.labels() == digits.labels());
}

TEST_CASE("Digits as sequences: 8 steps of 8 pixels, row by row", "[data][digits]") {
  const auto sequences = hpt::data::load_digit_sequences(digits_path);
  REQUIRE(sequences.size() == 1797);
  CHECK(sequences.time_steps() == 8);
  CHECK(sequences.feature_count() == 8);
  CHECK(sequences.alignment() == hpt::data::SequenceTarget::many_to_one);
  const auto first = sequences.sequence(0);
  for (int row = 0; row < 8; ++row)
    for (int column = 0; column < 8; ++column)
      CHECK(first(column, row) == first_pixels[static_cast<std::size_t>(8 * row + column)]);

  hpt::data::Minibatch<double> batch;
  const std::vector<std::size_t> picked{5, 0};
  sequences.gather(picked, batch);
  REQUIRE(batch.features.cols() == 16);
  for (int row = 0; row < 8; ++row)  // step t = row t; sample 0 of the file is column 2 t + 1
    CHECK(batch.features(3, 2 * row + 1) == first_pixels[static_cast<std::size_t>(8 * row + 3)]);
  CHECK(batch.labels == std::vector<int>{5, 0});
}

TEST_CASE("load_digits checks its file", "[data][digits][errors]") {
  CHECK(hpt::data::default_digits_path().filename() == "digits.csv");
  CHECK_THROWS_WITH(hpt::data::load_digits(HPT_TEST_DATA_DIR "/no_such_digits.csv"),
                    Contains("cannot open"));

  std::random_device device;
  const auto directory =
      std::filesystem::temp_directory_path() /
      ("hpt_digits_tests_" + std::to_string(device()) + std::to_string(device()));
  std::filesystem::create_directories(directory);
  const auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(directory / name) << content;
    return directory / name;
  };
  std::string row;  // 64 pixels of 1, then the label
  for (int pixel = 0; pixel < 64; ++pixel) row += "1,";
  CHECK_THROWS_WITH(hpt::data::load_digits(write("narrow.csv", "1,2,3\n")),
                    Contains("3 columns, expected 65"));
  CHECK_THROWS_WITH(hpt::data::load_digits(write("label.csv", row + "10\n")),
                    Contains("line 1, column 65: label 10 is not below class_count 10"));
  CHECK_THROWS_WITH(
      hpt::data::load_digits(write("pixel.csv", row + "3\n17" + row.substr(1) + "3\n")),
      Contains("sample 1 pixel 0 is 17, not an integer in 0..16"));
  CHECK(hpt::data::load_digits(write("good.csv", row + "3\n")).size() == 1);
  std::filesystem::remove_all(directory);
}
