// The study targets' promise, for a reader and its writer: an accepted study can be ranked and
// printed, and writing it then reading that back gives the same text again (a fixed point), so the
// reader produced nothing its own writer cannot represent and nothing changed on the way.
#pragma once

#include <hpt/study/study.hpp>

#include <optional>
#include <sstream>
#include <string>

#include "fuzz_support.hpp"

namespace hpt::fuzz {

template <class Read, class Write>
void check_study(const std::uint8_t* data, std::size_t size, Read read, Write write) {
  std::optional<Study> study;
  if (!accepted([&] {
        std::istringstream in(text_of(data, size));
        study.emplace(read(in));
      }))
    return;
  if (study->has_best()) (void)study->best();
  (void)study->leaderboard();
  (void)study->status_summary();
  std::ostringstream table;
  study->print_leaderboard(table);

  std::ostringstream first;
  write(*study, first);
  std::optional<Study> again;
  if (!accepted([&] {
        std::istringstream in(first.str());
        again.emplace(read(in));
      }))
    broken("the reader refused what its writer wrote from an accepted study");
  std::ostringstream second;
  write(*again, second);
  expect(first.str() == second.str(), "write(read(write(read(x)))) differs from write(read(x))");
  expect(again->trials().size() == study->trials().size(), "the trial count changed");
  expect(again->has_best() == study->has_best(), "has_best() changed");
  if (study->has_best()) expect(again->best().id == study->best().id, "best() changed");
}

}  // namespace hpt::fuzz
