// Fuzz target: hpt::wire::decode, the MPI executor's message decoder, on arbitrary bytes. A refused
// input gets a WireError (nothing else) with a bounded message starting "hpt::wire: "; an accepted
// one is the only encoding of its message: encode(decode(bytes)) == bytes, into a fresh buffer
// and into a reused one, and decoding that again gives an equal message (doubles bit for bit).
#include <hpt/executors/wire.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using hpt::fuzz::broken;
using hpt::fuzz::expect;

std::optional<hpt::wire::Message> decode(std::string_view bytes) {
  try {
    return hpt::wire::decode(bytes);
  } catch (const hpt::wire::WireError& error) {
    hpt::fuzz::check_refusal_message("hpt::wire::WireError", error.what());
    expect(std::string_view(error.what()).starts_with("hpt::wire: "),
           "a refusal that does not start \"hpt::wire: \"");
  } catch (const std::exception& error) {
    broken(std::string("decode threw something else than WireError: ") + error.what());
  } catch (...) {
    broken("decode threw an exception not derived from std::exception");
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input = hpt::fuzz::text_of(data, size);
  const auto message = decode(input);
  if (!message) return 0;
  expect(hpt::wire::kind_name(hpt::wire::kind_of(*message)) != "unknown", "an unknown kind");
  const std::string encoded = hpt::wire::encode(*message);
  expect(encoded == input, "encode(decode(bytes)) differs from bytes: two encodings of a message");
  std::string reused(size % 64, 'x');  // a buffer that held something else
  hpt::wire::encode(*message, reused);
  expect(reused == encoded, "encoding into a reused buffer differs");
  const auto again = decode(encoded);
  if (!again) broken("decode refused what encode wrote");
  expect(*again == *message, "decode(encode(m)) differs from m");
  return 0;
}
