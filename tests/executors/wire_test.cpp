// hpt::wire, the messages between an MPI run's ranks: the format pinned by hand-written bytes,
// round trips of every kind with edge values (compared bit for bit), and refusals: every prefix
// and every one-byte change of valid messages is either decoded or refused with a WireError that
// names the message kind, the field, the byte and the value; hostile lengths allocate nothing.
#include <catch2/catch.hpp>
#include <hpt/executors/wire.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "exception_message.hpp"

using test_support::message_of;

namespace {

namespace wire = hpt::wire;

constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();
const double inf = std::numeric_limits<double>::infinity();
// A signalling NaN and a negative quiet NaN, both with payloads: they must arrive bit for bit.
const double nan_a = std::bit_cast<double>(std::uint64_t{0x7ff0000000000123});
const double nan_b = std::bit_cast<double>(std::uint64_t{0xfff8deadbeef0001});

std::uint64_t bits(double value) {
  return std::bit_cast<std::uint64_t>(value);
}

// Bytes written as a list of numbers and characters.
std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int value : values) out += static_cast<char>(value);
  return out;
}

std::string with_byte(std::string message, std::size_t at, int value) {
  message.at(at) = static_cast<char>(value);
  return message;
}

// The WireError decode() throws, or a failed check when it throws something else or nothing.
std::string refusal(std::string_view message) {
  try {
    (void)wire::decode(message);
  } catch (const wire::WireError& error) {
    return error.what();
  } catch (const std::exception& error) {
    FAIL("not a WireError: " << error.what());
  } catch (...) {
    FAIL("not a std::exception");
  }
  FAIL("accepted");
  return {};
}

template <class M>
M round_trip(const M& message) {
  const wire::Message decoded = wire::decode(wire::encode(message));
  REQUIRE(std::holds_alternative<M>(decoded));
  return std::get<M>(decoded);
}

const std::string megabyte_with_nuls = [] {
  std::string text(1 << 20, 'x');
  for (std::size_t i = 0; i < text.size(); i += 1000) text[i] = '\0';
  return text;
}();

// One message of every kind, full of edge values.
std::vector<wire::Message> edge_messages() {
  const hpt::Config config{{"lr", 1e-3},       {"n", int64_min}, {"max", int64_max},
                           {"on", true},       {"off", false},   {"nan", nan_a},
                           {"zero", -0.0},     {"inf", -inf},    {"opt", std::string("s\0d", 3)},
                           {"", std::string()}};
  const std::vector<hpt::Step> steps{
      {.step = 1, .objective = nan_b, .values = {{"loss", -0.0}, {"loss", inf}, {"", nan_a}}},
      {.step = int64_max, .objective = -inf},
      {.step = int64_min, .objective = 0.25, .values = {}}};
  return {
      wire::Hello{.wire_version = 1, .hpt_version = "0.1.0", .fingerprint = ~std::uint64_t{0}},
      wire::RunBatch{.jobs = {{.job = {.trial = size_max,
                                       .resource = int64_max,
                                       .bracket = std::numeric_limits<int>::min(),
                                       .rung = std::numeric_limits<int>::max(),
                                       .last_rung = true},
                               .config = config,
                               .steps_done = int64_min,
                               .checkpoint = std::string("\0ck\0pt", 6),
                               .replay = steps,
                               .catch_up = true},
                              {.checkpoint = std::string()},  // present but empty
                              {}},
                     .release = {0, size_max}},
      wire::Ruling{.verdict = hpt::Verdict::stop("Patience", "no progress in 5 steps"),
                   .error = "threw",
                   .standard_exception = true},
      wire::StopRequested{},
      wire::Shutdown{.reason = "hpt: worker rank 3 failed: out of memory"},
      wire::HelloReply{.fingerprint = 0x8000000000000001,
                       .rank = std::numeric_limits<int>::min(),
                       .host = "node-17.cluster"},
      wire::StepsDone{.trial = 7, .points = steps},
      wire::JudgeStep{.trial = size_max,
                      .step = -1,
                      .objective = -0.0,
                      .metrics = {.objective = nan_a, .values = {{"acc", 0.5}}, .done = true},
                      .direction = hpt::Direction::maximize,
                      .epoch = size_max},
      wire::JobFinished{.job = {.trial = 3, .resource = 27, .bracket = 2, .rung = 1},
                        .status = hpt::TrialStatus::interrupted,
                        .reason = "step 3 threw: \"bad\"\n",
                        .stopped_by = "Median",
                        .failure = hpt::FailureStage::policy,
                        .wall_seconds = nan_b,
                        .steps_run = int64_max,
                        .started = false,
                        .saved = true,
                        .error_message = std::string(),
                        .checkpoint = std::string("\0", 1)},
      wire::WorkerFree{},
      wire::WorkerFailed{.what = std::string("bad_alloc\0!", 11)},
  };
}

}  // namespace

TEST_CASE("wire primitives: varints, zigzag, doubles and strings have the documented bytes",
          "[wire]") {
  const auto written = [](auto write) {
    std::string out;
    wire::Writer writer(out);
    write(writer);
    return out;
  };
  CHECK(written([](wire::Writer& w) { w.varint(0); }) == bytes({0x00}));
  CHECK(written([](wire::Writer& w) { w.varint(127); }) == bytes({0x7f}));
  CHECK(written([](wire::Writer& w) { w.varint(128); }) == bytes({0x80, 0x01}));
  CHECK(written([](wire::Writer& w) { w.varint(300); }) == bytes({0xac, 0x02}));
  CHECK(written([](wire::Writer& w) { w.varint(~std::uint64_t{0}); }) ==
        bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  CHECK(written([](wire::Writer& w) { w.zigzag(0); }) == bytes({0x00}));
  CHECK(written([](wire::Writer& w) { w.zigzag(-1); }) == bytes({0x01}));
  CHECK(written([](wire::Writer& w) { w.zigzag(1); }) == bytes({0x02}));
  CHECK(written([](wire::Writer& w) { w.zigzag(-2); }) == bytes({0x03}));
  CHECK(written([](wire::Writer& w) { w.zigzag(2147483647); }) ==
        bytes({0xfe, 0xff, 0xff, 0xff, 0x0f}));
  CHECK(written([](wire::Writer& w) { w.zigzag(int64_max); }) ==
        bytes({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  CHECK(written([](wire::Writer& w) { w.zigzag(int64_min); }) ==
        bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  CHECK(written([](wire::Writer& w) { w.real(1.0); }) ==
        bytes({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f}));
  CHECK(written([](wire::Writer& w) { w.real(-0.0); }) ==
        bytes({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80}));
  CHECK(written([](wire::Writer& w) { w.text(std::string("a\0b", 3)); }) ==
        bytes({0x03, 'a', 0x00, 'b'}));
  CHECK(written([](wire::Writer& w) { w.optional_text(std::nullopt); }) == bytes({0x00}));
  CHECK(written([](wire::Writer& w) { w.optional_text(""); }) == bytes({0x01, 0x00}));

  const std::string input =
      bytes({0xac, 0x02, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x02, 'h',  'i',  0x01});
  wire::Reader reader(input, "test");
  CHECK(reader.varint("a") == 300);
  CHECK(reader.signed_integer<int>("b") == -2);
  CHECK(reader.signed_integer<std::int64_t>("c") == int64_min);
  CHECK(reader.real("d") == 1.0);
  CHECK(reader.text("e") == "hi");
  CHECK(reader.boolean("f"));
  CHECK(reader.left() == 0);
  reader.finish();
}

TEST_CASE("wire messages have the documented bytes", "[wire]") {
  SECTION("hello") {
    CHECK(wire::encode(wire::Hello{
              .wire_version = 1, .hpt_version = "0.1.0", .fingerprint = 0x0123456789abcdef}) ==
          bytes({'h',  'p',  'w',  0x01, 0x01,                     // magic, version, kind
                 0x01,                                             // wire_version
                 0x05, '0',  '.',  '1',  '.',  '0',                // hpt_version
                 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01})  // fingerprint
    );
  }
  SECTION("steps_done") {
    CHECK(wire::encode(wire::StepsDone{
              .trial = 300, .points = {{.step = -1, .objective = 1.0, .values = {{"a", -0.0}}}}}) ==
          bytes({'h',  'p',  'w',  0x01, 0x07, 0xac, 0x02,           // trial 300
                 0x01,                                               // one point
                 0x01,                                               // step -1
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,     // 1.0
                 0x01, 0x01, 'a',                                    // one value, "a"
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80}));  // -0.0
  }
  SECTION("run_batch with a configuration of every value kind") {
    const wire::RunBatch batch{
        .jobs = {{.job = {.trial = 5, .resource = 9, .bracket = 0, .rung = 1, .last_rung = true},
                  .config = {{"lr", 0.5}, {"n", -3}, {"on", true}, {"opt", "sgd"}},
                  .steps_done = 4,
                  .checkpoint = std::string("a\0b", 3),
                  .catch_up = true}},
        .release = {7, 300}};
    const std::string expected =
        bytes({'h',  'p',  'w',  0x01, 0x02, 0x01,                                // one job
               0x05, 0x12, 0x00, 0x02, 0x01,                                      // the Job
               0x04,                                                              // four parameters
               0x02, 'l',  'r',  0x02, 0,    0,    0,   0,   0,   0, 0xe0, 0x3f,  // lr: real 0.5
               0x01, 'n',  0x01, 0x05,                                            // n: integer -3
               0x02, 'o',  'n',  0x00, 0x01,                       // on: boolean true
               0x03, 'o',  'p',  't',  0x03, 0x03, 's', 'g', 'd',  // opt: string "sgd"
               0x08,                                               // steps_done 4
               0x01, 0x03, 'a',  0x00, 'b',                        // checkpoint
               0x00,                                               // no replay
               0x01,                                               // catch_up
               0x02, 0x07, 0xac, 0x02});                           // release trials 7, 300
    CHECK(wire::encode(batch) == expected);
    CHECK(std::get<wire::RunBatch>(wire::decode(expected)) == batch);
  }
  SECTION("a default job_finished") {
    CHECK(wire::encode(wire::JobFinished{}) ==
          bytes({'h',  'p',  'w',  0x01, 0x09, 0, 0, 0, 0, 0,  // the Job
                 0x01, 0x00, 0x00, 0x00,                       // running, "", "", none
                 0,    0,    0,    0,    0,    0, 0, 0,        // wall_seconds 0.0
                 0x00, 0x01, 0x00, 0x00, 0x00}));  // steps_run, started, saved, no error, no ckpt
  }
  SECTION("messages without fields") {
    CHECK(wire::encode(wire::StopRequested{}) == bytes({'h', 'p', 'w', 1, 4}));
    CHECK(wire::encode(wire::Shutdown{}) == bytes({'h', 'p', 'w', 1, 5, 0}));  // no reason
    CHECK(wire::encode(wire::WorkerFree{}) == bytes({'h', 'p', 'w', 1, 10}));
  }
}

TEST_CASE("every wire message kind round-trips bit for bit", "[wire]") {
  for (const wire::Message& message : edge_messages()) {
    INFO(wire::kind_name(wire::kind_of(message)));
    const std::string encoded = wire::encode(message);
    const wire::Message decoded = wire::decode(encoded);
    CHECK(decoded.index() == message.index());
    CHECK(decoded == message);
    CHECK(wire::encode(decoded) == encoded);
  }
  // Field by field, against the values written above rather than operator== alone.
  const auto messages = edge_messages();
  const auto batch = std::get<wire::RunBatch>(wire::decode(wire::encode(messages[1])));
  REQUIRE(batch.jobs.size() == 3);
  const wire::RunJob& job = batch.jobs[0];
  CHECK(job.job.trial == size_max);
  CHECK(job.job.resource == int64_max);
  CHECK(job.job.bracket == std::numeric_limits<int>::min());
  CHECK(job.job.rung == std::numeric_limits<int>::max());
  CHECK(job.job.last_rung);
  CHECK(job.steps_done == int64_min);
  CHECK(job.checkpoint == std::string("\0ck\0pt", 6));
  CHECK(job.catch_up);
  REQUIRE(job.config.size() == 10);
  CHECK(job.config.entries()[0].first == "lr");
  CHECK(job.config.get<double>("lr") == 1e-3);
  CHECK(job.config.get<std::int64_t>("n") == int64_min);
  CHECK(job.config.get<std::int64_t>("max") == int64_max);
  CHECK(job.config.get<bool>("on"));
  CHECK_FALSE(job.config.get<bool>("off"));
  CHECK(bits(job.config.get<double>("nan")) == bits(nan_a));
  CHECK(bits(job.config.get<double>("zero")) == bits(-0.0));
  CHECK(job.config.get<double>("inf") == -inf);
  CHECK(job.config.get<std::string>("opt") == std::string("s\0d", 3));
  CHECK(job.config.get<std::string>("").empty());
  CHECK(job.config.entries()[9].first.empty());
  REQUIRE(job.replay.size() == 3);
  CHECK(job.replay[0].step == 1);
  CHECK(bits(job.replay[0].objective) == bits(nan_b));
  REQUIRE(job.replay[0].values.size() == 3);
  CHECK(job.replay[0].values[1].first == "loss");  // a repeated name is kept
  CHECK(bits(job.replay[0].values[0].second) == bits(-0.0));
  CHECK(bits(job.replay[0].values[2].second) == bits(nan_a));
  CHECK(job.replay[1].step == int64_max);
  CHECK(job.replay[2].step == int64_min);
  CHECK(batch.jobs[1].checkpoint.has_value());
  CHECK(batch.jobs[1].checkpoint->empty());
  CHECK_FALSE(batch.jobs[2].checkpoint.has_value());
  CHECK(batch.jobs[2].replay.empty());
  CHECK(batch.jobs[2].config.empty());

  const auto judge = std::get<wire::JudgeStep>(wire::decode(wire::encode(messages[7])));
  CHECK(judge.trial == size_max);
  CHECK(judge.epoch == size_max);
  CHECK(judge.step == -1);
  CHECK(bits(judge.objective) == bits(-0.0));
  CHECK(bits(judge.metrics.objective) == bits(nan_a));
  CHECK(judge.metrics.done);
  CHECK(judge.direction == hpt::Direction::maximize);
  const auto finished = std::get<wire::JobFinished>(wire::decode(wire::encode(messages[8])));
  CHECK(finished.status == hpt::TrialStatus::interrupted);
  CHECK(finished.failure == hpt::FailureStage::policy);
  CHECK(bits(finished.wall_seconds) == bits(nan_b));
  CHECK(finished.error_message == std::string());
  CHECK(finished.checkpoint == std::string("\0", 1));
  CHECK_FALSE(finished.started);
  const auto reply = std::get<wire::HelloReply>(wire::decode(wire::encode(messages[5])));
  CHECK(reply.fingerprint == 0x8000000000000001);
  CHECK(reply.rank == std::numeric_limits<int>::min());
  CHECK(reply.host == "node-17.cluster");
  CHECK(reply.hpt_version == hpt::version);
}

TEST_CASE("wire messages carry megabyte strings with NULs and empty vectors", "[wire]") {
  const wire::RunBatch batch{.jobs = {{.checkpoint = megabyte_with_nuls}}};
  CHECK(round_trip(batch).jobs.at(0).checkpoint == megabyte_with_nuls);
  CHECK(round_trip(wire::WorkerFailed{.what = megabyte_with_nuls}).what == megabyte_with_nuls);
  CHECK(round_trip(wire::JobFinished{.checkpoint = megabyte_with_nuls}).checkpoint ==
        megabyte_with_nuls);
  CHECK(round_trip(wire::RunBatch{}).jobs.empty());
  CHECK(round_trip(wire::StepsDone{}).points.empty());

  // One reused buffer: cleared and refilled, its capacity kept.
  std::string buffer;
  wire::encode(batch, buffer);
  const std::size_t capacity = buffer.capacity();
  wire::encode(wire::Message(wire::Shutdown{}), buffer);
  CHECK(buffer == bytes({'h', 'p', 'w', 1, 5, 0}));
  CHECK(buffer.capacity() == capacity);
}

TEST_CASE("the smallest element of every vector fits the decoder's count bound", "[wire]") {
  // Each bound is the encoded size of the smallest element, and a vector of smallest elements
  // that ends the message decodes: the bound refuses nothing valid.
  const auto body = [](const auto& message) { return wire::encode(message).size(); };
  CHECK(body(wire::StepsDone{.points = {hpt::Step{}}}) - body(wire::StepsDone{}) ==
        wire::min_step_bytes);
  CHECK(body(wire::RunBatch{.jobs = {{}}}) - body(wire::RunBatch{}) == wire::min_run_job_bytes);
  CHECK(body(wire::RunBatch{.jobs = {{.config = {{"", false}}}}}) -
            body(wire::RunBatch{.jobs = {{}}}) ==
        wire::min_config_entry_bytes);
  CHECK(body(wire::StepsDone{.points = {{.values = {{"", 0.0}}}}}) -
            body(wire::StepsDone{.points = {hpt::Step{}}}) ==
        wire::min_metric_bytes);

  const wire::StepsDone steps{.points = std::vector<hpt::Step>(50)};
  CHECK(round_trip(steps) == steps);
  const wire::RunBatch jobs{.jobs = std::vector<wire::RunJob>(50)};
  CHECK(round_trip(jobs) == jobs);
  hpt::Config config;
  for (int i = 0; i < 40; ++i) config.set(std::string(1, static_cast<char>('A' + i)), false);
  const wire::RunBatch one{.jobs = {{.config = config, .catch_up = true}}};
  CHECK(round_trip(one) == one);
  const wire::JudgeStep judge{
      .metrics = {.values = std::vector<std::pair<std::string, double>>(30, {"", 0.0})}};
  CHECK(round_trip(judge) == judge);
}

TEST_CASE("every strict prefix of a wire message is refused with a WireError", "[wire]") {
  for (const wire::Message& message : edge_messages()) {
    const std::string encoded = wire::encode(message);
    INFO(wire::kind_name(wire::kind_of(message)) << ", " << encoded.size() << " bytes");
    for (std::size_t size = 0; size < encoded.size(); ++size) {
      INFO("prefix of " << size << " bytes");
      const std::string message_text = refusal(encoded.substr(0, size));
      CHECK_THAT(message_text, Catch::StartsWith("hpt::wire: "));
      CHECK(message_text.size() < 400);
    }
  }
  const std::string cut = refusal(wire::encode(wire::WorkerFailed{.what = "abcdef"}).substr(0, 9));
  CHECK(cut ==
        "hpt::wire: worker_failed message: field \"what\" at byte 5: a string of 6 bytes, but 3 "
        "bytes are left");
}

TEST_CASE("every one-byte change of a wire message decodes or is refused with a WireError",
          "[wire]") {
  for (const wire::Message& message : edge_messages()) {
    const std::string encoded = wire::encode(message);
    INFO(wire::kind_name(wire::kind_of(message)));
    std::size_t accepted = 0;
    for (std::size_t at = 0; at < encoded.size(); ++at) {
      for (int value = 0; value < 256; ++value) {
        if (static_cast<unsigned char>(encoded[at]) == value) continue;
        const std::string changed = with_byte(encoded, at, value);
        try {
          const wire::Message decoded = wire::decode(changed);
          ++accepted;
          // What is accepted has one encoding: the changed bytes themselves.
          if (wire::encode(decoded) != changed) FAIL("byte " << at << " = " << value);
        } catch (const wire::WireError& error) {
          const std::string_view text = error.what();
          if (!text.starts_with("hpt::wire: ") || text.size() > 400)
            FAIL("byte " << at << " = " << value << ": " << text);
        } catch (const std::exception& error) {
          FAIL("byte " << at << " = " << value << ": not a WireError: " << error.what());
        }
      }
    }
    if (encoded.size() > 5) CHECK(accepted > 0);  // string bytes and doubles may change freely
  }
}

TEST_CASE("a hostile length or count is refused before anything is allocated", "[wire]") {
  // 2^40 as a varint: five bytes 0x80, then 0x20. The message has 20 bytes in all.
  const std::string huge_string =
      bytes({'h', 'p', 'w', 1, 11, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20}) + std::string(9, 'x');
  REQUIRE(huge_string.size() == 20);
  CHECK(refusal(huge_string) ==
        "hpt::wire: worker_failed message: field \"what\" at byte 5: a string of 1099511627776 "
        "bytes, but 9 bytes are left");
  const std::string huge_count =
      bytes({'h', 'p', 'w', 1, 7, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20}) + std::string(8, 0);
  CHECK(refusal(huge_count) ==
        "hpt::wire: steps_done message: field \"points\" at byte 6: a count of 1099511627776 "
        "elements of at least 10 bytes each, but 8 bytes are left");
  // 3 steps claimed, room for 2 at most (2 x 10 bytes): refused at the count.
  const std::string three = bytes({'h', 'p', 'w', 1, 7, 0x00, 0x03}) + std::string(20, 0);
  CHECK_THAT(refusal(three), Catch::Contains("a count of 3 elements of at least 10 bytes each, "
                                             "but 20 bytes are left"));
  // A huge configuration count inside a job, and a huge metrics count inside a step.
  std::string nested = wire::encode(wire::RunBatch{.jobs = {{}}});
  nested[11] = static_cast<char>(0x7f);  // the configuration's count
  CHECK_THAT(refusal(nested),
             Catch::StartsWith("hpt::wire: run_batch message: field \"jobs[0].config\" at byte 11: "
                               "a count of 127 elements of at least 3 bytes each"));
}

TEST_CASE("wire envelope refusals name what is wrong", "[wire]") {
  CHECK_THAT(refusal("GET / HTTP/1.1\r\n"),
             Catch::StartsWith("hpt::wire: not an hpt wire message: 16 bytes, starting \"GET\""));
  CHECK_THAT(refusal(""), Catch::Contains("not an hpt wire message: 0 bytes"));
  CHECK_THAT(refusal(bytes({0x00, 0x01, 0x1b})),
             Catch::Contains("not an hpt wire message") && Catch::Contains("\\x00\\x01\\x1b"));
  CHECK(refusal(bytes({'h', 'p', 'w', 2, 1})) ==
        "hpt::wire: wire version 2; this hpt speaks 1: run the same hpt on every rank");
  CHECK(refusal(bytes({'h', 'p', 'w', 0x80, 0x01, 1})) ==
        "hpt::wire: wire version 128; this hpt speaks 1: run the same hpt on every rank");
  CHECK(refusal(bytes({'h', 'p', 'w', 1, 12})) ==
        "hpt::wire: message envelope: field \"kind\" at byte 4: 12 is not a message kind (1..11)");
  CHECK_THAT(refusal(bytes({'h', 'p', 'w', 1, 0})),
             Catch::Contains("field \"kind\" at byte 4: 0 is not a message kind"));
  CHECK(refusal(bytes({'h', 'p', 'w', 1, 10, 'x'})) ==
        "hpt::wire: worker_free message: 1 byte after the end of the message at byte 5, starting "
        "0x78");
  CHECK_THAT(refusal(wire::encode(wire::Hello{}) + std::string(20, '\0')),
             Catch::Contains("hello message: 20 bytes after the end of the message") &&
                 Catch::EndsWith("0x00 ..."));
}

TEST_CASE("wire field refusals name the kind, the field, the byte and the value", "[wire]") {
  const std::string finished = wire::encode(wire::JobFinished{});
  CHECK(refusal(with_byte(finished, 10, 9)) ==
        "hpt::wire: job_finished message: field \"status\" at byte 10: 9 is not a trial status "
        "(0..8)");
  CHECK(refusal(with_byte(finished, 13, 6)) ==
        "hpt::wire: job_finished message: field \"failure\" at byte 13: 6 is not a failure stage "
        "(0..5)");
  CHECK(refusal(with_byte(finished, 23, 2)) ==
        "hpt::wire: job_finished message: field \"started\" at byte 23: 2 is not a boolean (0 or "
        "1)");
  CHECK(refusal(with_byte(finished, 9, 0xff)) ==
        "hpt::wire: job_finished message: field \"job.last_rung\" at byte 9: 255 is not a boolean "
        "(0 or 1)");
  CHECK(refusal(with_byte(finished, 26, 7)) ==
        "hpt::wire: job_finished message: field \"checkpoint\" at byte 26: 7 is not a boolean (0 "
        "or 1)");

  // Varints: overlong, longer than 10 bytes, beyond 64 bits, beyond the field's type.
  const std::string header = bytes({'h', 'p', 'w', 1, 7});
  CHECK(refusal(header + bytes({0x80, 0x00, 0x00})) ==
        "hpt::wire: steps_done message: field \"trial\" at byte 5: the varint 0x80 0x00 is "
        "overlong (its last byte is 0: not the shortest encoding of 0)");
  CHECK_THAT(refusal(header + bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81,
                                     0x00, 0x00})),
             Catch::Contains("field \"trial\" at byte 5: 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff "
                             "0xff 0x81 is a varint of more than 10 bytes"));
  CHECK_THAT(
      refusal(header + bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00})),
      Catch::Contains("field \"trial\" at byte 5: the varint") &&
          Catch::Contains("0x02 overflows 64 bits"));
  std::string reply = wire::encode(wire::HelloReply{.hpt_version = "v", .rank = 5, .host = "h"});
  // rank is after magic, version, kind (5), wire_version (1), "v" (2) and the fingerprint (8).
  REQUIRE(reply[16] == 10);                                     // zigzag 5
  reply.replace(16, 1, bytes({0x80, 0x80, 0x80, 0x80, 0x10}));  // zigzag 2^31: 2147483648
  CHECK(refusal(reply) ==
        "hpt::wire: hello_reply message: field \"rank\" at byte 16: 2147483648 is out of range "
        "(-2147483648..2147483647)");

  // Enums inside nested fields: a value kind, a verdict, a direction.
  std::string batch = wire::encode(wire::RunBatch{.jobs = {{.config = {{"a", 1}}}}});
  REQUIRE(batch[14] == 1);  // the kind of "a": integer
  CHECK(refusal(with_byte(batch, 14, 4)) ==
        "hpt::wire: run_batch message: field \"jobs[0].config[0].kind\" at byte 14: 4 is not a "
        "value kind (boolean, integer, real, string) (0..3)");
  CHECK(refusal(with_byte(wire::encode(wire::Ruling{}), 5, 4)) ==
        "hpt::wire: ruling message: field \"verdict.action\" at byte 5: 4 is not a verdict "
        "(proceed, stop, prune, diverge) (0..3)");
  std::string judge = wire::encode(wire::JudgeStep{.epoch = 0});
  // direction: after trial (1), step (1), objective (8), metrics (8 + 1 + 1).
  CHECK(refusal(with_byte(judge, 5 + 1 + 1 + 8 + 10, 2)) ==
        "hpt::wire: judge_step message: field \"direction\" at byte 25: 2 is not a direction "
        "(minimize, maximize) (0..1)");
  std::string step =
      wire::encode(wire::StepsDone{.points = {hpt::Step{}, {.values = {{"x", 1.0}, {"y", 2.0}}}}});
  step.resize(step.size() - 1);  // cut inside the last metric's value
  CHECK(refusal(step) ==
        "hpt::wire: steps_done message: field \"points[1].values[1].value\" at byte 39: the "
        "message ends here: 8 bytes needed, 7 left");
}

TEST_CASE("a wire configuration that names a parameter twice is refused", "[wire]") {
  std::string batch = wire::encode(wire::RunBatch{.jobs = {{.config = {{"a", 1}, {"b", 2}}}}});
  REQUIRE(batch[17] == 'b');
  batch[17] = 'a';
  CHECK(refusal(batch) ==
        "hpt::wire: run_batch message: field \"jobs[0].config[1].name\" at byte 16: \"a\" appears "
        "twice");
  // A long name is quoted as an excerpt: the message stays short.
  const std::string name(100000, 'n');
  hpt::Config config{{name, 1}, {std::string(100000, 'm'), 2}};
  batch = wire::encode(wire::RunBatch{.jobs = {{.config = config}}});
  batch.replace(batch.find('m'), 100000, name);
  const std::string text = refusal(batch);
  CHECK_THAT(text, Catch::Contains("appears twice") && Catch::Contains("(100000 characters)"));
  CHECK(text.size() < 250);
}

TEST_CASE("wire equality is bit for bit", "[wire]") {
  CHECK(wire::JudgeStep{.objective = nan_a} == wire::JudgeStep{.objective = nan_a});
  CHECK_FALSE(wire::JudgeStep{.objective = nan_a} == wire::JudgeStep{.objective = nan_b});
  CHECK_FALSE(wire::JudgeStep{.objective = 0.0} == wire::JudgeStep{.objective = -0.0});
  CHECK_FALSE(wire::RunBatch{.jobs = {{.checkpoint = ""}}} == wire::RunBatch{.jobs = {{}}});
  CHECK_FALSE(wire::RunBatch{.jobs = {{.config = {{"x", 1}}}}} ==
              wire::RunBatch{.jobs = {{.config = {{"x", 1.0}}}}});
  CHECK_FALSE(wire::StepsDone{.points = {{.values = {{"a", 1.0}}}}} ==
              wire::StepsDone{.points = {{.values = {{"b", 1.0}}}}});
  CHECK_FALSE(wire::JobFinished{.saved = true} == wire::JobFinished{});
  CHECK_FALSE(wire::Message(wire::Shutdown{}) == wire::Message(wire::StopRequested{}));
}

TEST_CASE("wire conversions carry StepReport and JobDone, and exceptions by message", "[wire]") {
  const hpt::Metrics metrics{.objective = 0.5, .values = {{"acc", 0.75}}};
  const hpt::StepReport report{.trial = 4,
                               .step = 2,
                               .objective = 0.5,
                               .metrics = &metrics,
                               .direction = hpt::Direction::maximize,
                               .epoch = 9};
  const auto judge = round_trip(wire::judge_step(report));
  const hpt::StepReport back = wire::step_report(judge);
  CHECK(back.trial == 4);
  CHECK(back.step == 2);
  CHECK(back.epoch == 9);
  CHECK(back.direction == hpt::Direction::maximize);
  CHECK(back.metrics == &judge.metrics);
  CHECK(back.value("acc") == 0.75);
  CHECK(wire::judge_step({.objective = 3.0}).metrics.objective == 3.0);

  hpt::detail::JobDone done{.job = {.trial = 2, .resource = 3},
                            .status = hpt::TrialStatus::failed,
                            .reason = "step 1 threw: boom",
                            .failure = hpt::FailureStage::step,
                            .steps_run = 1,
                            .error = std::make_exception_ptr(std::invalid_argument("boom"))};
  const auto finished = round_trip(wire::job_finished(done, "ckpt"));
  CHECK(finished.error_message == "boom");
  CHECK(finished.checkpoint == "ckpt");
  const hpt::detail::JobDone again = wire::job_done(finished);
  CHECK(again.status == hpt::TrialStatus::failed);
  CHECK(again.reason == "step 1 threw: boom");
  CHECK(again.failure == hpt::FailureStage::step);
  CHECK(again.job.trial == 2);
  CHECK(again.steps_run == 1);
  CHECK_THROWS_WITH(std::rethrow_exception(again.error), "boom");
  done.error = std::make_exception_ptr(42);
  CHECK(wire::job_finished(done).error_message == "a non-standard exception");
  done.error = nullptr;
  CHECK_FALSE(wire::job_finished(done).error_message.has_value());
  CHECK_FALSE(wire::job_done(wire::job_finished(done)).error);
}

TEST_CASE("a worker of another study or hpt is refused, naming both sides", "[wire]") {
  const wire::Hello hello{.fingerprint = 0x00000000000000ab};
  CHECK_NOTHROW(wire::check_hello(hello, 0xab));
  const std::string other = message_of([&] { wire::check_hello(hello, 0xcd); });
  const std::string ours = '"' + std::string(hpt::version) + '"';
  CHECK_THAT(other, Catch::StartsWith("hpt::wire: the coordinator runs hpt " + ours) &&
                        Catch::Contains("fingerprint 0x00000000000000ab") &&
                        Catch::Contains("this worker hpt " + ours) &&
                        Catch::Contains("0x00000000000000cd") &&
                        Catch::Contains("start every rank from the same program"));
  CHECK_THROWS_AS(wire::check_hello(hello, 0xcd), wire::WireError);
  CHECK_THROWS_AS(wire::check_hello({.hpt_version = "9.9.9", .fingerprint = 0xab}, 0xab),
                  wire::WireError);
  const wire::HelloReply reply{
      .hpt_version = std::string(1000, 'v'), .fingerprint = 1, .rank = 3, .host = "n\n1"};
  const std::string text = message_of([&] { wire::check_hello_reply(reply, 1); });
  CHECK_THAT(text, Catch::StartsWith("hpt::wire: rank 3 on \"n\\x0a1\" runs hpt \"vvvv") &&
                       Catch::Contains("(1000 characters)"));
  CHECK(text.size() < 400);
  CHECK_NOTHROW(wire::check_hello_reply({.fingerprint = 1, .rank = 3}, 1));
}
