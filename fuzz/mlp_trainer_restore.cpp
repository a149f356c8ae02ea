// Fuzz target: MlpTrainer::restore on any bytes, then two training steps (see check_restore).
#include "fuzz_trainers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hpt::fuzz::check_restore(data, size, [](std::size_t variant, auto&& visit) {
    hpt::fuzz::with_mlp_trainer(variant, visit);
  });
  return 0;
}
