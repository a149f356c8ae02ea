// Fuzz target: hpt::config_from_json on any text. An accepted configuration is written by
// config_to_json and read back equal, and that text is a fixed point.
#include <hpt/io/json.hpp>

#include <optional>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using hpt::fuzz::expect;
  std::optional<hpt::Config> config;
  if (!hpt::fuzz::accepted(
          [&] { config.emplace(hpt::config_from_json(hpt::fuzz::text_of(data, size))); }))
    return 0;
  (void)config->to_string();
  const std::string text = hpt::config_to_json(*config);
  std::optional<hpt::Config> again;
  expect(hpt::fuzz::accepted([&] { again.emplace(hpt::config_from_json(text)); }),
         "config_from_json refused what config_to_json wrote");
  expect(*again == *config, "a configuration changed through config_to_json");
  expect(hpt::config_to_json(*again) == text, "config_to_json(config_from_json(t)) != t");
  return 0;
}
