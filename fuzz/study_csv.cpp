// Fuzz target: hpt::read_csv (the study CSV) on any bytes; accepted studies round-trip through
// write_csv (see check_study).
#include <hpt/io/csv.hpp>

#include "fuzz_study.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hpt::fuzz::check_study(
      data, size, [](std::istream& in) { return hpt::read_csv(in); },
      [](const hpt::Study& study, std::ostream& out) { hpt::write_csv(study, out); });
  return 0;
}
