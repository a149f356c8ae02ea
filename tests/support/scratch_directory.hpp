#pragma once
// Test helpers for files: a scratch directory removed at the end of the test case, and the path
// of a committed golden file.

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace test_support {

/// A fresh directory under the system's temporary directory, removed (with its files) on exit.
struct ScratchDirectory {
  std::filesystem::path path;
  explicit ScratchDirectory(const std::string& prefix = "hpt_test_") {
    path =
        std::filesystem::temp_directory_path() / (prefix + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
};

#ifdef HPT_TEST_DATA_DIR
/// A file of tests/golden.
inline std::string golden_path(const std::string& name) {
  return std::string(HPT_TEST_DATA_DIR) + "/" + name;
}
#endif

}  // namespace test_support
