#pragma once
// The message of the exception an action throws, for tests that check several parts of it.

#include <exception>
#include <functional>
#include <string>

namespace test_support {

/// what() of the exception `action` throws, or "(no exception)".
inline std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}

/// what() of the exception in `error`, or "(no exception)".
inline std::string message_of(const std::exception_ptr& error) {
  if (!error) return "(no exception)";
  return message_of([&] { std::rethrow_exception(error); });
}

}  // namespace test_support
