// Fuzz target: the SQLite storage's row decoder (hpt::detail::decode_event_row) and its JSON
// readers, without a database; the input format is in fuzz_sqlite_rows.hpp. A refused row gets a
// StorageError with a bounded message; an accepted row encodes again (encode_event_row does not
// refuse it), and decoding that gives an event that encodes to the same cells, bit for bit. An
// accepted configuration or metrics text is a fixed point of encode(decode(.)).
#include <hpt/study/detail/sqlite_rows.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "fuzz_sqlite_rows.hpp"
#include "fuzz_support.hpp"

namespace {

using hpt::fuzz::broken;
using hpt::fuzz::expect;

constexpr std::string_view context = "hpt::SqliteStorage: \"fuzz.db\": study \"fuzz\"";

// Decodes a row: the event, or nullopt when it was refused as the decoder promises.
std::optional<hpt::StudyEvent> decode(const hpt::detail::EventRow& row) {
  try {
    return hpt::detail::decode_event_row(row, 1, context);
  } catch (const hpt::StorageError& error) {
    hpt::fuzz::check_refusal_message("hpt::StorageError", error.what());
    expect(std::string_view(error.what()).starts_with(context),
           "a refusal that does not name the study");
  } catch (const std::exception& error) {
    broken(std::string("decode_event_row threw something else than StorageError: ") + error.what());
  }
  return std::nullopt;
}

hpt::detail::EventRow encode(const hpt::StudyEvent& event) {
  hpt::detail::EventRow row;
  try {
    hpt::detail::encode_event_row(event, 1, row, context);
  } catch (const std::exception& error) {
    broken(std::string("encode_event_row refused a decoded event: ") + error.what());
  }
  return row;
}

void check_row(std::string_view input) {
  const auto event = decode(hpt::fuzz::parse_sqlite_row(input));
  if (!event) return;
  const auto row = encode(*event);
  const auto again = decode(row);
  if (!again) broken("decode_event_row refused what encode_event_row wrote");
  expect(again->index() == event->index(), "the event's kind changed");
  expect(encode(*again) == row, "encode(decode(encode(e))) differs from encode(e)");
}

template <class Decode, class Encode>
void check_json(const std::string& text, Decode decode_json, Encode encode_json) {
  std::optional<decltype(decode_json(text))> value;
  if (!hpt::fuzz::accepted([&] { value.emplace(decode_json(text)); })) return;
  std::string first;
  encode_json(*value, first);
  decltype(value) again;
  expect(hpt::fuzz::accepted([&] { again.emplace(decode_json(first)); }),
         "the JSON reader refused what its writer wrote");
  std::string second;
  encode_json(*again, second);
  expect(first == second, "encode(decode(encode(x))) differs from encode(x)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string input = hpt::fuzz::text_of(data + 1, size - 1);
  switch (data[0]) {
    case 'c':
      check_json(
          input, [](const std::string& text) { return hpt::detail::decode_config_json(text); },
          [](const hpt::Config& config, std::string& out) {
            (void)config.to_string();
            hpt::detail::encode_config_json(config, out);
          });
      break;
    case 'm':
      check_json(
          input, [](const std::string& text) { return hpt::detail::decode_metrics_json(text); },
          [](const auto& metrics, std::string& out) {
            hpt::detail::encode_metrics_json(metrics, out);
          });
      break;
    default:
      check_row(input);
  }
  return 0;
}
