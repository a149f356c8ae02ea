// What every fuzz target checks besides the sanitizers: a reader either accepts an input or
// refuses it with one of its documented exceptions and a bounded message. Anything else that
// escapes (std::bad_alloc, std::length_error, std::out_of_range, a dependency's own exception)
// and every broken invariant aborts, which libFuzzer reports as a crash with the input saved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hpt::fuzz {

/// @brief The longest refusal message accepted: readers quote at most 80 characters of any piece
/// of input (hpt::detail::quoted_input_limit), so a longer message means input was echoed whole.
inline constexpr std::size_t longest_message = 2048;

/// @brief Reports a broken promise and aborts (a libFuzzer crash, the input saved).
[[noreturn]] inline void broken(std::string_view what) {
  std::fprintf(stderr, "hpt fuzz: broken promise: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

/// @brief broken(what) unless `condition`.
inline void expect(bool condition, std::string_view what) {
  if (!condition) broken(what);
}

inline void check_refusal_message(std::string_view kind, const char* message) {
  const std::string_view text(message);
  if (text.empty()) broken(std::string(kind) + " with an empty message");
  if (text.size() > longest_message)
    broken(std::string(kind) + " with a message of " + std::to_string(text.size()) +
           " characters: " + std::string(text.substr(0, 200)) + "...");
}

/// @brief Runs `read()`: true if it returned, false if it refused the input with
/// std::runtime_error or std::invalid_argument (subclasses included) and a bounded message.
/// Any other exception is a finding.
template <class Read>
bool accepted(Read&& read) {
  try {
    read();
    return true;
  } catch (const std::bad_alloc&) {
    broken("std::bad_alloc: an allocation sized by the input");
  } catch (const std::runtime_error& error) {
    check_refusal_message("std::runtime_error", error.what());
  } catch (const std::invalid_argument& error) {
    check_refusal_message("std::invalid_argument", error.what());
  } catch (const std::exception& error) {
    broken(std::string("undocumented exception: ") + error.what());
  } catch (...) {
    broken("an exception not derived from std::exception");
  }
  return false;
}

/// @brief The input as text.
inline std::string text_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace hpt::fuzz
