// Fuzz target: safetensors_tensors, safetensors_metadata and load_model on any file, into an
// Mlp of HPT_FUZZ_SCALAR (float or double, one executable each). A refused load leaves every
// parameter as it was; an accepted one saves and loads back bit for bit. The listing's byte
// ranges lie inside the file.
#include <unistd.h>
#include <hpt/nn/mlp.hpp>
#include <hpt/nn/safetensors.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "fuzz_safetensors.hpp"
#include "fuzz_support.hpp"

namespace {

using Scalar = HPT_FUZZ_SCALAR;
using hpt::fuzz::accepted;
using hpt::fuzz::expect;

std::vector<Scalar> values_of(hpt::models::Mlp<Scalar>& model) {
  std::vector<Scalar> values;
  for (const auto& parameter : model.parameters())
    values.insert(values.end(), parameter.value, parameter.value + parameter.size());
  return values;
}

bool same_bits(const std::vector<Scalar>& a, const std::vector<Scalar>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Scalar)) == 0;
}

void check_load(const std::filesystem::path& path, const std::filesystem::path& copy,
                const hpt::models::SafetensorsOptions& options) {
  auto model = hpt::fuzz::safetensors_model<Scalar>();
  const auto before = values_of(model);
  if (!accepted([&] { hpt::models::load_model(path, model, options); })) {
    expect(same_bits(values_of(model), before), "a refused load changed a parameter");
    return;
  }
  const auto loaded = values_of(model);
  hpt::models::save_model(copy, model);
  auto again = hpt::fuzz::safetensors_model<Scalar>();
  expect(accepted([&] { hpt::models::load_model(copy, again); }),
         "load_model refused what save_model wrote");
  expect(same_bits(values_of(again), loaded), "parameters changed through save and load");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One pair of files per process (libFuzzer's -jobs and -fork run several at once), removed
  // at exit.
  struct Files {
    std::filesystem::path path, copy;
    Files() {
      const auto stem = std::filesystem::temp_directory_path() /
                        ("hpt_fuzz_safetensors_" + std::to_string(::getpid()));
      path = stem.string() + ".safetensors";
      copy = stem.string() + "_copy.safetensors";
    }
    ~Files() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      std::filesystem::remove(copy, ignored);
    }
  };
  static const Files files;
  const auto& path = files.path;
  const auto& copy = files.copy;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    expect(static_cast<bool>(out), "cannot write the fuzz input file");
  }
  std::vector<hpt::models::SafetensorsTensor> tensors;
  if (accepted([&] { tensors = hpt::models::safetensors_tensors(path); })) {
    for (const auto& tensor : tensors)
      expect(tensor.begin <= tensor.end && tensor.end <= size,
             "a listed tensor's bytes lie outside the file");
  }
  (void)accepted([&] { (void)hpt::models::safetensors_metadata(path); });
  check_load(path, copy, {});
  check_load(path, copy, {.convert = true, .allow_extra = true});
  return 0;
}
