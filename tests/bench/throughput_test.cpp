// measure_throughput against a fake clock that only the timed calls advance: every median, minimum
// and count below is worked out by hand from the documented procedure, never read off a real clock.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <exception>
#include <hpt/hpt.hpp>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

double fake_now = 0;  // the fake clock's time in seconds; only the timed subjects advance it

hpt::ThroughputOptions fake_clock(int warmup_calls, int repeats, double min_seconds) {
  fake_now = 0;
  return {.warmup_calls = warmup_calls,
          .repeats = repeats,
          .min_seconds_per_repeat = min_seconds,
          .clock = [] { return fake_now; }};
}

// Each call costs the next scripted number of seconds (the last one repeats).
struct Script {
  std::vector<double> costs{};
  std::size_t calls = 0;
};
struct ScriptedCall {
  Script* script;
  void operator()() const {
    const auto& costs = script->costs;
    fake_now += costs[std::min(script->calls, costs.size() - 1)];
    ++script->calls;
  }
};

// One second per call and one call per repeat: the median is the samples of one call.
template <class Subject>
double samples_per_call(const Subject& subject, std::size_t minibatch_size = 8) {
  const auto table = hpt::measure_throughput([&](std::size_t) { return subject; }, {minibatch_size},
                                             fake_clock(0, 1, 1.0));
  return table.rows.at(0).median_samples_per_second;
}

std::string message_of(const std::exception& error) {
  return error.what();
}

}  // namespace

TEST_CASE("median, minimum and maximum are taken over the repeats", "[throughput]") {
  // min_seconds 1: calibration keeps a batch of 1 (2 s >= 1/16 s) and every repeat is one call.
  Script script{.costs = {100, 2, 2, 4, 1, 8, 2}};  // warm-up, calibration, five repeats
  const auto table = hpt::measure_throughput([&](std::size_t) { return ScriptedCall{&script}; },
                                             {8}, fake_clock(1, 5, 1.0));
  REQUIRE(table.rows.size() == 1);
  const auto& row = table.rows[0];
  // Rates 8/2, 8/4, 8/1, 8/8, 8/2 = 4, 2, 8, 1, 4: sorted 1 2 4 4 8.
  CHECK(row.minibatch_size == 8);
  CHECK(row.median_samples_per_second == 4.0);
  CHECK(row.min_samples_per_second == 1.0);
  CHECK(row.max_samples_per_second == 8.0);
  CHECK(row.seconds_per_call == 2.0);  // seconds 2 4 1 8 2: median 2
  CHECK(row.calls == 5);
  CHECK(row.spread() == 1.75);  // (8 - 1) / 4
  CHECK(script.calls == 7);
}

TEST_CASE("an even number of repeats takes the mean of the middle two", "[throughput]") {
  Script script{.costs = {1, 1, 2, 4, 8}};  // calibration, four repeats
  const auto table = hpt::measure_throughput([&](std::size_t) { return ScriptedCall{&script}; },
                                             {8}, fake_clock(0, 4, 1.0));
  const auto& row = table.rows.at(0);
  CHECK(row.median_samples_per_second == 3.0);  // rates 8 4 2 1: (2 + 4) / 2
  CHECK(row.seconds_per_call == 3.0);           // (2 + 4) / 2
  CHECK(row.min_samples_per_second == 1.0);
  CHECK(row.max_samples_per_second == 8.0);
}

TEST_CASE("calibration doubles a batch until it lasts 1/16 of a repeat; only repeats count",
          "[throughput]") {
  // 1/64 s per call, min 1 s: batches of 1 and 2 are too short, 4 calls last 1/16 s. Each
  // repeat then runs 16 batches of 4 (exactly 1 s): 64 calls and 64 * 8 samples per second.
  Script script{.costs = {1.0 / 64}};
  const auto table = hpt::measure_throughput([&](std::size_t) { return ScriptedCall{&script}; },
                                             {8}, fake_clock(2, 3, 1.0));
  const auto& row = table.rows.at(0);
  CHECK(row.calls == 3 * 64);
  CHECK(row.median_samples_per_second == 512.0);
  CHECK(row.min_samples_per_second == 512.0);
  CHECK(row.max_samples_per_second == 512.0);
  CHECK(row.seconds_per_call == 1.0 / 64);
  CHECK(row.spread() == 0.0);
  CHECK(script.calls == 2 + (1 + 2 + 4) + 3 * 64);  // warm-up, calibration, repeats
}

TEST_CASE("a repeat runs whole batches until min_seconds_per_repeat has passed", "[throughput]") {
  // 3 s per call against a 4 s minimum: the batch stays 1, a repeat needs 2 calls (6 s).
  Script script{.costs = {3}};
  const auto table = hpt::measure_throughput([&](std::size_t) { return ScriptedCall{&script}; },
                                             {6}, fake_clock(0, 2, 4.0));
  const auto& row = table.rows.at(0);
  CHECK(row.calls == 4);
  CHECK(row.median_samples_per_second == 2.0);  // 12 samples in 6 s
  CHECK(row.seconds_per_call == 3.0);
}

namespace {
struct StepWithSamples {
  hpt::Metrics step() {
    fake_now += 1;
    return {.objective = 0.5, .values = {{"loss", 0.5}, {"samples", 5}}};
  }
};
struct StepWithoutSamples {
  hpt::Metrics step() {
    fake_now += 1;
    return {.objective = 0.5, .values = {{"loss", 0.5}}};
  }
};
struct StepReturningNaN {
  double step() {
    fake_now += 1;
    return std::numeric_limits<double>::quiet_NaN();
  }
};
struct StepReturningInteger {  // an objective, not a count
  int step() {
    fake_now += 1;
    return 3;
  }
};
struct StepAndCall {  // both a Trainable and a callable: timed through step()
  double step() {
    fake_now += 1;
    return 0;
  }
  int operator()() const { throw std::logic_error("operator() must not be called"); }
};
struct ReportsBadSamples {
  double reported = -1;
  hpt::Metrics step() {
    fake_now += 1;
    return {.objective = 0, .values = {{"samples", reported}}};
  }
};
}  // namespace

TEST_CASE("samples per call: a callable's integer result, else the minibatch size",
          "[throughput]") {
  CHECK(samples_per_call([] { fake_now += 1; }) == 8.0);
  CHECK(samples_per_call([] {
          fake_now += 1;
          return 3;
        }) == 3.0);
  CHECK(samples_per_call([] {
          fake_now += 1;
          return std::size_t{5};
        }) == 5.0);
  CHECK(samples_per_call([] {
          fake_now += 1;
          return 0.25;  // a loss, not a count
        }) == 8.0);
  CHECK(samples_per_call([] {
          fake_now += 1;
          return true;
        }) == 8.0);
  CHECK(samples_per_call([] {
          fake_now += 1;
          return hpt::Metrics{.objective = 1, .values = {{"samples", 6}}};
        }) == 6.0);
  CHECK(samples_per_call([] {
          fake_now += 1;
          return hpt::Metrics{.objective = 1};
        }) == 8.0);
  CHECK(samples_per_call([] { fake_now += 1; }, 32) == 32.0);
}

TEST_CASE("samples per step: a Trainable's \"samples\" metric, else the minibatch size",
          "[throughput]") {
  CHECK(samples_per_call(StepWithSamples{}) == 5.0);
  CHECK(samples_per_call(StepWithoutSamples{}) == 8.0);
  CHECK(samples_per_call(StepReturningNaN{}) == 8.0);  // a NaN objective is still timed
  CHECK(samples_per_call(StepReturningInteger{}) == 8.0);
  CHECK(samples_per_call(StepAndCall{}) == 8.0);
}

TEST_CASE("a negative or non-finite sample count is refused, naming the size", "[throughput]") {
  const auto negative = [] {
    fake_now += 1;
    return -2;
  };
  CHECK_THROWS_WITH(samples_per_call(negative),
                    "hpt::measure_throughput: minibatch_size 8: a call reported -2 samples "
                    "(must be finite and >= 0)");
  CHECK_THROWS_WITH(samples_per_call(ReportsBadSamples{.reported = std::nan("")}),
                    Catch::Contains("minibatch_size 8") && Catch::Contains("reported nan samples"));
}

TEST_CASE("rows follow the order of the sizes; make is called once per size, in that order",
          "[throughput]") {
  std::vector<std::size_t> made;
  const std::vector<std::size_t> sizes{64, 1, 16};
  const auto table = hpt::measure_throughput(
      [&](std::size_t size) {
        made.push_back(size);
        return [] { fake_now += 1; };
      },
      sizes, fake_clock(0, 3, 1.0));
  CHECK(made == sizes);
  REQUIRE(table.rows.size() == 3);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(table.rows[i].minibatch_size == sizes[i]);
    CHECK(table.rows[i].median_samples_per_second == static_cast<double>(sizes[i]));
  }
}

namespace {
struct Immovable {  // e.g. a trainer holding views into its own model
  Immovable() = default;
  Immovable(const Immovable&) = delete;
  Immovable& operator=(const Immovable&) = delete;
  double step() {
    fake_now += 1;
    return 0;
  }
};
struct Counted {
  int calls = 0;
  void operator()() {
    fake_now += 1;
    ++calls;
  }
};
}  // namespace

TEST_CASE("what make returns is timed in place: immovable types and references work",
          "[throughput]") {
  const auto immovable =
      hpt::measure_throughput([](std::size_t) { return Immovable{}; }, {4}, fake_clock(0, 1, 1.0));
  CHECK(immovable.rows.at(0).median_samples_per_second == 4.0);

  Counted counted;
  const auto referenced = hpt::measure_throughput([&](std::size_t) -> Counted& { return counted; },
                                                  {4}, fake_clock(2, 3, 1.0));
  CHECK(referenced.rows.at(0).calls == 3);
  CHECK(counted.calls == 2 + 1 + 3);  // the referenced object itself was called
}

TEST_CASE("bad sizes and options are refused before anything is made", "[throughput]") {
  int made = 0;
  const auto make = [&](std::size_t) {
    ++made;
    return [] { fake_now += 1; };
  };
  const auto options = fake_clock(0, 1, 1.0);
  CHECK_THROWS_AS(hpt::measure_throughput(make, std::vector<std::size_t>{}, options),
                  std::invalid_argument);
  CHECK_THROWS_WITH(hpt::measure_throughput(make, std::vector<std::size_t>{}, options),
                    Catch::Contains("minibatch_sizes is empty"));
  CHECK_THROWS_WITH(hpt::measure_throughput(make, {8, 0}, options),
                    "hpt::measure_throughput: minibatch_sizes[1] = 0 must be >= 1");
  CHECK_THROWS_WITH(hpt::measure_throughput(make, {8, 16, 8}, options),
                    "hpt::measure_throughput: minibatch_sizes[2] = 8 repeats minibatch_sizes[0]");

  auto bad = options;
  bad.warmup_calls = -1;
  CHECK_THROWS_WITH(hpt::measure_throughput(make, {8}, bad),
                    "hpt::ThroughputOptions: warmup_calls = -1 must be >= 0");
  bad = options;
  bad.repeats = 0;
  CHECK_THROWS_WITH(hpt::measure_throughput(make, {8}, bad),
                    "hpt::ThroughputOptions: repeats = 0 must be >= 1");
  for (const double seconds : {0.0, -0.5, std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity()}) {
    bad = options;
    bad.min_seconds_per_repeat = seconds;
    CHECK_THROWS_AS(hpt::measure_throughput(make, {8}, bad), std::invalid_argument);
    CHECK_THROWS_WITH(hpt::measure_throughput(make, {8}, bad),
                      Catch::StartsWith("hpt::ThroughputOptions: min_seconds_per_repeat = " +
                                        hpt::format_short(seconds) + " must be"));
  }
  CHECK(made == 0);
}

TEST_CASE("an exception from a call or from make names the size and keeps the original",
          "[throughput]") {
  std::vector<std::size_t> made;
  const auto make = [&](std::size_t size) {
    made.push_back(size);
    return [size] {
      fake_now += 1;
      if (size == 16) throw std::logic_error("activations do not fit");
    };
  };
  try {
    (void)hpt::measure_throughput(make, {8, 16, 32}, fake_clock(0, 1, 1.0));
    FAIL("no exception");
  } catch (const std::runtime_error& error) {
    CHECK(message_of(error) ==
          "hpt::measure_throughput: minibatch_size 16: activations do not fit");
    CHECK_THROWS_AS(std::rethrow_if_nested(error), std::logic_error);
  }
  CHECK(made == std::vector<std::size_t>{8, 16});  // nothing after the failure

  const auto failing_make = [](std::size_t size) {
    if (size == 4) throw std::invalid_argument("no such shape");
    return [] { fake_now += 1; };
  };
  CHECK_THROWS_WITH(hpt::measure_throughput(failing_make, {2, 4}, fake_clock(0, 1, 1.0)),
                    "hpt::measure_throughput: minibatch_size 4: no such shape");

  const auto throws_int = [](std::size_t) { return [] { throw 42; }; };
  try {
    (void)hpt::measure_throughput(throws_int, {3}, fake_clock(0, 1, 1.0));
    FAIL("no exception");
  } catch (const std::runtime_error& error) {
    CHECK(message_of(error) ==
          "hpt::measure_throughput: minibatch_size 3: an exception not derived from "
          "std::exception");
    CHECK_THROWS_AS(std::rethrow_if_nested(error), int);
  }
}

TEST_CASE("calls that take no measurable time are reported instead of looping forever",
          "[throughput]") {
  int calls = 0;
  CHECK_THROWS_WITH(hpt::measure_throughput([&](std::size_t) { return [&] { ++calls; }; }, {8},
                                            fake_clock(0, 1, 1.0)),
                    "hpt::measure_throughput: minibatch_size 8: 1048576 calls took no "
                    "measurable time (is the work optimised away?)");
  CHECK(calls == (1 << 21) - 1);  // batches 1, 2, ..., 2^20
}

namespace {
hpt::ThroughputTable example_table() {
  return {.rows = {{.minibatch_size = 8,
                    .median_samples_per_second = 4000,
                    .min_samples_per_second = 3900,
                    .max_samples_per_second = 4100,
                    .seconds_per_call = 0.002,
                    .calls = 250},
                   {.minibatch_size = 256,
                    .median_samples_per_second = 21000,
                    .min_samples_per_second = 20500,
                    .max_samples_per_second = 21500,
                    .seconds_per_call = 0.0121,
                    .calls = 8},
                   {.minibatch_size = 64,
                    .median_samples_per_second = 20000,
                    .min_samples_per_second = 19500,
                    .max_samples_per_second = 20500,
                    .seconds_per_call = 0.0032,
                    .calls = 31}}};
}
}  // namespace

TEST_CASE("best and knee: the smallest size within the tolerance of the best", "[throughput]") {
  const auto table = example_table();
  CHECK(table.best().minibatch_size == 256);
  CHECK(table.knee().minibatch_size == 64);       // 20000 >= 0.9 * 21000 = 18900
  CHECK(table.knee(0.01).minibatch_size == 256);  // 20000 < 0.99 * 21000 = 20790
  CHECK(table.knee(0.0).minibatch_size == 256);
  CHECK(table.knee(0.85).minibatch_size == 8);  // 4000 >= 0.15 * 21000 = 3150
  CHECK_THROWS_WITH(table.knee(1.0), "hpt::ThroughputTable::knee: tolerance = 1 must be in [0, 1)");
  CHECK_THROWS_AS(table.knee(-0.1), std::invalid_argument);
  CHECK_THROWS_AS(hpt::ThroughputTable{}.best(), std::logic_error);
  CHECK_THROWS_AS(hpt::ThroughputTable{}.knee(), std::logic_error);

  auto tie = table;
  tie.rows[2].median_samples_per_second = 21000;
  CHECK(tie.best().minibatch_size == 256);    // the first of equals
  CHECK(tie.knee(0.0).minibatch_size == 64);  // the smaller of equals

  const hpt::ThroughputTable not_a_number{
      .rows = {{.minibatch_size = 4, .median_samples_per_second = std::nan("")}}};
  CHECK(not_a_number.knee().minibatch_size == 4);  // falls back to the best row
}

TEST_CASE("print: a header, one line per size in order, then best and knee", "[throughput]") {
  std::ostringstream out;
  example_table().print(out);
  CHECK(out.str() ==
        "minibatch  samples/s   of best  spread   min         max         s/call      calls\n"
        "8          4000        19.0%    5.0%     3900        4100        0.002       250\n"
        "256        21000       100.0%   4.8%     20500       21500       0.0121      8\n"
        "64         20000       95.2%    5.0%     19500       20500       0.0032      31\n"
        "best: minibatch 256 at 21000 samples/s; knee: minibatch 64, the smallest within 10% "
        "of the best\n");

  std::ostringstream strict;
  example_table().print(strict, 0.01);
  CHECK_THAT(strict.str(),
             Catch::EndsWith("best: minibatch 256 at 21000 samples/s; knee: minibatch 256, the "
                             "smallest within 1% of the best\n"
                             "note: the spread at minibatch 256 exceeds the tolerance; raise "
                             "repeats or min_seconds_per_repeat\n"));

  std::ostringstream empty;
  hpt::ThroughputTable{}.print(empty);
  CHECK(empty.str() ==
        "minibatch  samples/s   of best  spread   min         max         s/call      calls\n");

  std::ostringstream flags;
  flags << std::right;
  example_table().print(flags);
  CHECK((flags.flags() & std::ios::adjustfield) == std::ios::right);  // the stream is restored
}

TEST_CASE("with the real clock: one row per size, positive rates, no timing asserted",
          "[throughput]") {
  std::vector<double> sink(64, 1.0);
  const auto table = hpt::measure_throughput(
      [&](std::size_t size) {
        return [&sink, size] {
          for (std::size_t i = 0; i < size; ++i) sink[i % sink.size()] *= 1.0000001;
        };
      },
      {1, 32}, {.warmup_calls = 1, .repeats = 2, .min_seconds_per_repeat = 1e-4});
  REQUIRE(table.rows.size() == 2);
  for (const auto& row : table.rows) {
    CHECK(row.calls >= 2);
    CHECK(std::isfinite(row.median_samples_per_second));
    CHECK(row.median_samples_per_second > 0);
    CHECK(row.min_samples_per_second <= row.median_samples_per_second);
    CHECK(row.median_samples_per_second <= row.max_samples_per_second);
    CHECK(row.seconds_per_call > 0);
  }
}

TEST_CASE("the fake-clock example of docs/throughput.md", "[throughput]") {
  double now = 0;
  const auto table = hpt::measure_throughput(
      [&](std::size_t) { return [&] { now += 0.25; }; },  // each call "takes" 0.25 s
      {8}, {.repeats = 3, .min_seconds_per_repeat = 1.0, .clock = [&] { return now; }});
  CHECK(table.rows.at(0).median_samples_per_second == 32.0);  // 4 calls of 8 samples per second
  CHECK(table.rows.at(0).calls == 12);
}
