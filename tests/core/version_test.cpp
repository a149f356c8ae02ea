// hpt::version is the version CMake's project() declares (the storages record it with studies).
#include <catch2/catch.hpp>
#include <hpt/core/version.hpp>
#include <string>

TEST_CASE("hpt::version is the CMake project's version", "[version]") {
  CHECK(std::string(hpt::version) == HPT_PROJECT_VERSION);
}
