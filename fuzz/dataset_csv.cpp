// Fuzz target: hpt::data::parse_csv (the dataset CSV) on any text, with options picked by the
// first byte. An accepted dataset has finite features and labels below its class count, and
// printing it back as CSV (17 significant digits, the label last) reads back bit for bit.
#include <hpt/data/csv.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "fuzz_support.hpp"

namespace {

using hpt::data::CsvHeader;
using hpt::data::CsvOptions;
using hpt::data::CsvTask;
using hpt::fuzz::expect;

// Bits of the first byte: 0-1 header (automatic, yes, no), 2 regression, 3 label column first,
// 4-5 separator, 6 an explicit class count of 3, 7 float instead of double.
CsvOptions options_of(std::uint8_t bits) {
  static constexpr CsvHeader headers[] = {CsvHeader::automatic, CsvHeader::yes, CsvHeader::no,
                                          CsvHeader::automatic};
  static constexpr char separators[] = {',', ';', '\t', ' '};
  return {.label_column = (bits & 8) != 0 ? 0 : -1,
          .header = headers[bits & 3],
          .separator = separators[(bits >> 4) & 3],
          .task = (bits & 4) != 0 ? CsvTask::regression : CsvTask::classification,
          .class_count = (bits & 64) != 0 ? 3 : 0};
}

template <class Scalar>
std::string printed(Scalar value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", static_cast<double>(value));
  return text;
}

template <class Scalar>
void check(const std::string& text, const CsvOptions& options) {
  std::optional<hpt::data::Dataset<Scalar>> dataset;
  if (!hpt::fuzz::accepted([&] {
        std::istringstream in(text);
        dataset.emplace(hpt::data::parse_csv<Scalar>(in, "fuzz", options));
      }))
    return;
  const auto& features = dataset->features();
  const auto samples = static_cast<Eigen::Index>(dataset->size());
  expect(samples >= 1, "an accepted dataset without samples");
  expect(features.cols() == samples, "features and samples disagree");
  expect(features.allFinite(), "a feature that is not finite");
  const bool classification = options.task == CsvTask::classification;
  expect(dataset->is_classification() == classification, "the task changed");
  if (classification) {
    const int classes = dataset->class_count();
    expect(classes >= 1 &&
               classes <= std::max(options.class_count, hpt::data::csv_max_derived_class_count),
           "a class count beyond the bound");
    for (const int label : dataset->labels())
      expect(label >= 0 && label < classes, "a label outside the class count");
  } else {
    expect(dataset->regression_targets().allFinite(), "a target that is not finite");
  }

  std::string table;
  for (Eigen::Index n = 0; n < samples; ++n) {
    for (Eigen::Index f = 0; f < features.rows(); ++f) table += printed(features(f, n)) + ",";
    table += classification ? std::to_string(dataset->labels()[static_cast<std::size_t>(n)])
                            : printed(dataset->regression_targets()(0, n));
    table += "\n";
  }
  CsvOptions plain{.header = CsvHeader::no, .task = options.task};
  if (classification) plain.class_count = dataset->class_count();
  std::istringstream in(table);
  const auto again = hpt::data::parse_csv<Scalar>(in, "fuzz (printed back)", plain);
  expect(again.features() == features, "features changed when printed and read back");
  if (classification)
    expect(again.labels() == dataset->labels(), "labels changed when printed and read back");
  else
    expect(again.regression_targets() == dataset->regression_targets(),
           "targets changed when printed and read back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const CsvOptions options = options_of(data[0]);
  const std::string text = hpt::fuzz::text_of(data + 1, size - 1);
  if ((data[0] & 128) != 0)
    check<float>(text, options);
  else
    check<double>(text, options);
  return 0;
}
