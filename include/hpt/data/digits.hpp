#pragma once
/// @file digits.hpp
/// @brief The 8x8 handwritten digits shipped in data/digits.csv (1,797 samples, 10 classes).
///
/// The file is the UCI "Optical Recognition of Handwritten Digits" test set as redistributed by
/// scikit-learn (see data/README.md): one sample per line, 64 pixel values 0..16 (the image row
/// by row, row r column c at index 8 r + c), then the digit 0..9. No header.

#include <hpt/data/csv.hpp>
#include <hpt/data/dataset.hpp>
#include <hpt/data/sequence_dataset.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace hpt::data {

/// @brief Whether load_digits keeps the pixel counts or scales them.
enum class PixelScale {
  raw,  ///< Integers 0..16, as in the file.
  unit  ///< Divided by 16: [0, 1].
};

/// @brief The default location of digits.csv.
///
/// HPT_DATA_DIR "/digits.csv" if the macro HPT_DATA_DIR is defined (a string literal, e.g.
/// -DHPT_DATA_DIR="\"/usr/share/hpt\""); otherwise $HPT_DATA_DIR/digits.csv if that environment
/// variable is set; otherwise "data/digits.csv", relative to the working directory (the source
/// tree's root).
inline std::filesystem::path default_digits_path() {
#ifdef HPT_DATA_DIR
  return std::filesystem::path(HPT_DATA_DIR) / "digits.csv";
#else
  if (const char* directory = std::getenv("HPT_DATA_DIR"); directory && *directory)
    return std::filesystem::path(directory) / "digits.csv";
  return std::filesystem::path("data") / "digits.csv";
#endif
}

/// @brief Loads the digits: 64 features x N samples, 10 classes.
///
/// Throws what load_csv throws, and std::runtime_error naming the file if it does not have 64
/// pixel columns, a pixel is not an integer in 0..16, or a label is not in 0..9.
template <class Scalar = double>
Dataset<Scalar> load_digits(const std::filesystem::path& path = default_digits_path(),
                            PixelScale scale = PixelScale::raw) {
  CsvOptions options;
  options.header = CsvHeader::no;
  options.class_count = 10;
  const std::string where = "hpt::data::load_digits: '" + path.string() + "'";
  Dataset<Scalar> digits = load_csv<Scalar>(path, options);
  if (digits.feature_count() != 64)
    throw std::runtime_error(where + ": " + std::to_string(digits.feature_count() + 1) +
                             " columns, expected 65 (64 pixels and the digit)");
  const auto& pixels = digits.features();
  for (Eigen::Index sample = 0; sample < pixels.cols(); ++sample)
    for (Eigen::Index pixel = 0; pixel < pixels.rows(); ++pixel) {
      const Scalar value = pixels(pixel, sample);
      if (!(value >= 0 && value <= 16 && value == std::floor(value)))
        throw std::runtime_error(
            where + ": sample " + std::to_string(sample) + " pixel " + std::to_string(pixel) +
            " is " + detail::number_text(static_cast<double>(value)) + ", not an integer in 0..16");
    }
  if (scale == PixelScale::raw) return digits;
  std::vector<int> labels = digits.labels();
  return Dataset<Scalar>(digits.features() / Scalar(16), ClassLabels{std::move(labels), 10});
}

/// @brief The digits as sequences for recurrent models: 8 time steps (image rows, top to
/// bottom) of 8 features (the row's pixels, left to right), one label per sequence.
///
/// Step t of sample n is pixels 8 t .. 8 t + 7 of that sample, so the sample-major storage is
/// the 64 x N feature matrix read as 8 x (8 N).
template <class Scalar>
SequenceDataset<Scalar> digits_as_sequences(const Dataset<Scalar>& digits) {
  if (digits.feature_count() != 64 || !digits.is_classification())
    throw std::invalid_argument(
        "hpt::data::digits_as_sequences: needs 64 pixel features and class labels, got " +
        std::to_string(digits.feature_count()) + " features");
  const auto count = static_cast<Eigen::Index>(digits.size());
  // Column-major 64 x N and 8 x 8N hold the same values in the same memory order.
  Matrix<Scalar> rows = digits.features().reshaped(8, 8 * count);
  return SequenceDataset<Scalar>(std::move(rows), 8,
                                 ClassLabels{digits.labels(), digits.class_count()},
                                 SequenceTarget::many_to_one);
}

/// @brief load_digits followed by digits_as_sequences.
template <class Scalar = double>
SequenceDataset<Scalar> load_digit_sequences(
    const std::filesystem::path& path = default_digits_path(), PixelScale scale = PixelScale::raw) {
  return digits_as_sequences(load_digits<Scalar>(path, scale));
}

}  // namespace hpt::data
