// Fuzz target: hpt::read_jsonl (JSON Lines studies) on any bytes; accepted studies round-trip
// through write_jsonl (see check_study).
#include <hpt/io/json.hpp>

#include "fuzz_study.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hpt::fuzz::check_study(
      data, size, [](std::istream& in) { return hpt::read_jsonl(in); },
      [](const hpt::Study& study, std::ostream& out) { hpt::write_jsonl(study, out); });
  return 0;
}
