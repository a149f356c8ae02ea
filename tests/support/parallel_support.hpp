#pragma once
// What the parallel-engine tests share: seeded hashes that make "random" waits and faults the
// same in every run, short waits that shuffle the order in which workers' results arrive, and a
// deadline around a study, so that a deadlock fails its test instead of hanging the program.

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include <hpt/core/config.hpp>
#include <hpt/core/random.hpp>

namespace test_support {

/// A well-mixed 64-bit hash of z (the library's own seed mixer).
constexpr std::uint64_t mix(std::uint64_t z) noexcept {
  return hpt::mix_seed(z);
}

/// A hash of a configuration's printed form: the same configuration, the same key, in every run.
inline std::uint64_t key_of(const hpt::Config& config) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char c : config.to_string()) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return mix(hash);
}

/// A number in [0, 1) from a hash.
inline double unit(std::uint64_t hash) noexcept {
  return static_cast<double>(hash >> 11) * 0x1p-53;
}

/// Waits hash % (most + 1) microseconds, asleep or spinning (by another bit of the hash): both,
/// because a sleeping worker and a busy one reorder results differently.
inline void jitter(std::uint64_t hash, std::uint64_t most_microseconds) {
  const auto wait =
      std::chrono::microseconds(static_cast<std::int64_t>(hash % (most_microseconds + 1)));
  if ((hash >> 40) & 1) {
    std::this_thread::sleep_for(wait);
    return;
  }
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
  }
}

/// How long a study may take before a test calls it a deadlock: generous under sanitizers and
/// in debug builds, which run many times slower.
inline std::chrono::seconds study_deadline(std::chrono::seconds release) {
#if defined(HPT_TEST_SANITIZED) || !defined(NDEBUG)
  return release * 5;
#else
  return release;
#endif
}

/// Runs `body` on a thread of its own and waits for it at most `limit`: a study that hangs fails
/// the test instead of hanging the test program. A hung run is left behind (its thread detached;
/// `body` must own everything it touches, so nothing it uses goes out of scope). Whatever `body`
/// throws is rethrown here.
template <class F>
auto in_time(F body, std::chrono::seconds limit) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  struct Pending {
    std::mutex mutex;
    std::condition_variable ended;
    bool done = false;
    std::optional<R> result{};
    std::exception_ptr error{};
  };
  auto pending = std::make_shared<Pending>();
  std::thread([pending, body = std::move(body)]() mutable {
    std::optional<R> result;
    std::exception_ptr error;
    try {
      result.emplace(body());
    } catch (...) {
      error = std::current_exception();
    }
    const std::lock_guard lock(pending->mutex);
    pending->result = std::move(result);
    pending->error = error;
    pending->done = true;
    pending->ended.notify_all();
  }).detach();
  std::unique_lock lock(pending->mutex);
  if (!pending->ended.wait_for(lock, limit, [&] { return pending->done; }))
    FAIL("the study did not end within " << limit.count() << " s: a deadlock");
  if (pending->error) std::rethrow_exception(pending->error);
  return std::move(*pending->result);
}

}  // namespace test_support
