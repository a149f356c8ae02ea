/// @file temporary_directory.hpp
/// @brief A scratch directory for the benchmarks that write SQLite files.
#pragma once

#include <stdlib.h>  // mkdtemp (POSIX)

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace hpt_bench {

/// @brief A directory of its own under the temporary directory, removed (with what is in it) on
/// destruction.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hpt_bench_XXXXXX");
    if (!mkdtemp(pattern.data()))
      throw std::runtime_error("hpt benchmarks: cannot create a directory from " + pattern);
    path_ = pattern;
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  /// @brief Removes the SQLite file `name` with its WAL and shared-memory files.
  void remove(const std::string& name) const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::filesystem::remove(path_ / (name + suffix));
  }

 private:
  std::filesystem::path path_;
};

}  // namespace hpt_bench
