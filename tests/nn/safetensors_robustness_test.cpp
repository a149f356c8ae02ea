// safetensors headers from untrusted files (issue 10, defect 8): an element count whose byte
// size wraps around, a tensor name given twice, a "__metadata__" that is not an object of
// strings, a header nested deeper than the format's, and a directory as the path are refused by
// loading and by listing, with a message naming the file and the problem and quoting at most a
// bounded, printable excerpt of the file's names. Many tensors list in O(n log n).
#include <hpt/linalg/tensor_view.hpp>
#include <hpt/nn/safetensors.hpp>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>
#include "exception_message.hpp"
#include "scratch_directory.hpp"

using hpt::models::load_safetensors;
using hpt::models::ParameterView;
using hpt::models::safetensors_metadata;
using hpt::models::safetensors_tensors;

namespace {

using Scratch = test_support::ScratchDirectory;

void write_file(const std::filesystem::path& path, const std::string& header,
                const std::string& data) {
  std::string bytes;
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<char>((std::uint64_t{header.size()} >> (8 * i)) & 0xFF));
  bytes += header + data;
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

using test_support::message_of;

// One F32 parameter "w" of one value, for load_safetensors.
struct OneValue {
  Eigen::VectorXf value = Eigen::VectorXf::Constant(1, 7.0F);
  Eigen::VectorXf gradient = Eigen::VectorXf::Zero(1);
  std::vector<ParameterView<float>> parameters{{"w", value.data(), gradient.data(), 1, 1, true}};
};

}  // namespace

TEST_CASE("safetensors refuses a shape whose byte count wraps around", "[safetensors]") {
  Scratch scratch;
  const auto path = scratch.path / "wrap.safetensors";
  // 2^62 F32 values are 2^64 bytes: 0 after wrapping, as the empty offsets claim.
  write_file(path, R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})",
             "");
  const std::string listed = message_of([&] { (void)safetensors_tensors(path); });
  CHECK_THAT(listed, Catch::Contains(path.string()) && Catch::Contains("tensor \"w\"") &&
                         Catch::Contains("[4611686018427387904]") &&
                         Catch::Contains("64-bit size"));
  // Two dimensions of F64 whose byte count (2^65) wraps to 0 too.
  write_file(path, R"({"w":{"dtype":"F64","shape":[2147483648,2147483648],"data_offsets":[0,0]}})",
             "");
  CHECK_THAT(message_of([&] { (void)safetensors_tensors(path); }), Catch::Contains("64-bit size"));
  OneValue model;
  CHECK_THAT(message_of([&] { load_safetensors<float>(path, model.parameters); }),
             Catch::Contains(path.string()) && Catch::Contains("64-bit size"));
  CHECK(model.value[0] == 7.0F);
}

TEST_CASE("safetensors refuses a tensor name or field given twice", "[safetensors]") {
  Scratch scratch;
  const auto path = scratch.path / "twice.safetensors";
  const std::string one = R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string other = R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]})";
  write_file(path, "{" + one + "," + other + "}", "abcdefgh");
  CHECK_THAT(message_of([&] { (void)safetensors_tensors(path); }),
             Catch::Contains(path.string()) && Catch::Contains("\"w\" twice") &&
                 Catch::Contains("two tensors"));
  OneValue model;
  CHECK_THAT(message_of([&] { load_safetensors<float>(path, model.parameters); }),
             Catch::Contains("\"w\" twice"));
  CHECK(model.value[0] == 7.0F);
  // A field twice inside a tensor, and metadata keys twice.
  write_file(path, R"({"w":{"dtype":"F64","dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
             "abcd");
  CHECK_THAT(message_of([&] { (void)safetensors_tensors(path); }),
             Catch::Contains("\"dtype\" twice"));
  write_file(path, R"({"__metadata__":{"a":"1","a":"2"}})", "");
  CHECK_THAT(message_of([&] { (void)safetensors_metadata(path); }), Catch::Contains("\"a\" twice"));
  // The same names in different objects are fine.
  write_file(path, R"({"__metadata__":{"w":"x"},)" + one + "}", "abcd");
  CHECK(safetensors_tensors(path).size() == 1);
}

TEST_CASE("safetensors refuses a __metadata__ that is not an object of strings", "[safetensors]") {
  Scratch scratch;
  const auto path = scratch.path / "meta.safetensors";
  const std::string tensor = R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  for (const std::string metadata : {"[]", "\"text\"", "3", "null"}) {
    INFO("__metadata__ = " << metadata);
    write_file(path, R"({"__metadata__":)" + metadata + "," + tensor + "}", "abcd");
    CHECK_THAT(message_of([&] { (void)safetensors_tensors(path); }),
               Catch::Contains(path.string()) && Catch::Contains("not an object"));
    OneValue model;
    CHECK_THAT(message_of([&] { load_safetensors<float>(path, model.parameters); }),
               Catch::Contains("\"__metadata__\" is not an object"));
    CHECK(model.value[0] == 7.0F);
  }
  write_file(path, R"({"__metadata__":{"n":1},)" + tensor + "}", "abcd");
  OneValue model;
  CHECK_THAT(message_of([&] { load_safetensors<float>(path, model.parameters); }),
             Catch::Contains("entry \"n\" is not a string"));
}

TEST_CASE("safetensors names the path when it is a directory", "[safetensors]") {
  Scratch scratch;
  OneValue model;
  CHECK_THAT(message_of([&] { load_safetensors<float>(scratch.path, model.parameters); }),
             Catch::Contains(scratch.path.string()) && Catch::Contains("is a directory"));
  CHECK_THAT(message_of([&] { (void)safetensors_tensors(scratch.path); }),
             Catch::Contains(scratch.path.string()) && Catch::Contains("is a directory"));
  CHECK_THAT(message_of([&] { (void)safetensors_metadata(scratch.path); }),
             Catch::Contains(scratch.path.string()) && Catch::Contains("is a directory"));
}

TEST_CASE("safetensors messages quote a bounded, printable excerpt of the file's names",
          "[safetensors]") {
  Scratch scratch;
  const auto path = scratch.path / "names.safetensors";
  const std::string long_name(100000, 'n');
  write_file(path, R"({")" + long_name + R"(":{"dtype":"F32","shape":[1]}})", "");
  const std::string listed = message_of([&] { (void)safetensors_tensors(path); });
  CHECK_THAT(listed, Catch::Contains("(100000 characters)") && Catch::Contains("needs"));
  CHECK(listed.size() < 400);
  // An unknown dtype with a newline and an escape in it, and a long metadata key.
  write_file(path, R"({"w":{"dtype":"F\n\u001b[2J","shape":[1],"data_offsets":[0,4]}})", "abcd");
  const std::string dtype = message_of([&] { (void)safetensors_tensors(path); });
  CHECK_THAT(dtype, Catch::Contains("\"F\\x0a\\x1b[2J\"") && Catch::Contains("unsupported dtype"));
  CHECK(dtype.find('\n') == std::string::npos);
  write_file(path, R"({"__metadata__":{")" + long_name + R"(":1}})", "");
  const std::string metadata = message_of([&] { (void)safetensors_metadata(path); });
  CHECK_THAT(metadata, Catch::Contains("(100000 characters) is not a string"));
  CHECK(metadata.size() < 400);
  // A tensor no parameter asks for, with a long name.
  write_file(path,
             R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},")" + long_name +
                 R"(":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             "abcdefgh");
  OneValue model;
  const std::string extra = message_of([&] { load_safetensors<float>(path, model.parameters); });
  CHECK_THAT(extra, Catch::Contains("matches no parameter"));
  CHECK(extra.size() < 400);
  CHECK(model.value[0] == 7.0F);
  // nlohmann's own message quotes the token it stopped at: a 100000-character number.
  write_file(path, R"({"w":)" + std::string(100000, '1') + "x}", "");
  const std::string malformed = message_of([&] { (void)safetensors_tensors(path); });
  CHECK_THAT(malformed, Catch::Contains("malformed JSON header"));
  CHECK(malformed.size() < 400);
}

TEST_CASE("safetensors refuses a header nested deeper than the format's three levels",
          "[safetensors]") {
  Scratch scratch;
  const auto path = scratch.path / "deep.safetensors";
  write_file(path, R"({"w":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", "abcd");
  CHECK_THAT(message_of([&] { (void)safetensors_tensors(path); }),
             Catch::Contains(path.string()) && Catch::Contains("nests deeper than 3 levels"));
  write_file(path, std::string(50000, '[') + std::string(50000, ']'), "");
  CHECK_THAT(message_of([&] { (void)safetensors_tensors(path); }),
             Catch::Contains("nests deeper than 3 levels"));
  // The deepest a valid header goes: the header, a tensor, its shape.
  write_file(path, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcd");
  CHECK(safetensors_tensors(path).size() == 1);
}

TEST_CASE("safetensors lists many tensors in the order of their bytes", "[safetensors]") {
  Scratch scratch;
  const auto path = scratch.path / "many.safetensors";
  // 20000 tensors, named against their byte order: the listing follows the bytes. (An ordered
  // JSON object found keys by linear search, so 80000 took 17 s to parse.)
  constexpr int count = 20000;
  std::string header = "{";
  for (int i = 0; i < count; ++i) {
    const int slot = count - 1 - i;
    header += (i ? ",\"t" : "\"t") + std::to_string(i) +
              R"(":{"dtype":"U8","shape":[1],"data_offsets":[)" + std::to_string(slot) + "," +
              std::to_string(slot + 1) + "]}";
  }
  write_file(path, header + "}", std::string(count, 'x'));
  const auto tensors = safetensors_tensors(path);
  REQUIRE(tensors.size() == count);
  CHECK(tensors.front().name == "t" + std::to_string(count - 1));
  CHECK(tensors.back().name == "t0");
}
