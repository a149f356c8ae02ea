#pragma once
// Comparing two studies field by field, for tests that expect the same study from two runs (on
// other worker counts, through AskTell, after a reuse or a checkpoint).

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include <hpt/study/study.hpp>

namespace test_support {

namespace detail {

/// Equal to the bit, or both NaN.
inline bool same_number(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

/// All 17 significant digits.
inline std::string text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace detail

/// Where two studies differ (wall times aside), one line per difference, at most 12; empty when
/// they are the same: every trial's id, configuration, status, reason, stopped_by, failure,
/// bracket, rung, resource, result and curve (numbers to the bit, NaN equal to NaN), and the
/// study's interruption, observer errors, best trial and leaderboard.
inline std::string study_difference(const hpt::Study& a, const hpt::Study& b) {
  std::ostringstream out;
  int lines = 0;
  auto differ = [&](const std::string& where, const std::string& x, const std::string& y) {
    if (++lines <= 12) out << where << ": " << x << " | " << y << '\n';
  };
  if (a.trials().size() != b.trials().size())
    differ("trial count", std::to_string(a.trials().size()), std::to_string(b.trials().size()));
  if (a.interrupted() != b.interrupted()) differ("interrupted", "", "");
  if (a.observer_errors().size() != b.observer_errors().size()) differ("observer errors", "", "");
  const std::size_t n = std::min(a.trials().size(), b.trials().size());
  for (std::size_t i = 0; i < n; ++i) {
    const hpt::Trial& x = a.trial(i);
    const hpt::Trial& y = b.trial(i);
    const std::string at = "trial " + std::to_string(i);
    if (x.id != y.id) differ(at + " id", std::to_string(x.id), std::to_string(y.id));
    if (!(x.config == y.config)) differ(at + " config", x.config.to_string(), y.config.to_string());
    if (x.status != y.status)
      differ(at + " status", std::string(hpt::to_string(x.status)),
             std::string(hpt::to_string(y.status)));
    if (x.reason != y.reason) differ(at + " reason", x.reason, y.reason);
    if (x.stopped_by != y.stopped_by) differ(at + " stopped_by", x.stopped_by, y.stopped_by);
    if (x.failure != y.failure)
      differ(at + " failure", std::string(hpt::to_string(x.failure)),
             std::string(hpt::to_string(y.failure)));
    if (x.bracket != y.bracket)
      differ(at + " bracket", std::to_string(x.bracket), std::to_string(y.bracket));
    if (x.rung != y.rung) differ(at + " rung", std::to_string(x.rung), std::to_string(y.rung));
    if (x.resource != y.resource)
      differ(at + " resource", std::to_string(x.resource), std::to_string(y.resource));
    if (!detail::same_number(x.result(), y.result()))
      differ(at + " result", detail::text(x.result()), detail::text(y.result()));
    if (x.result_step() != y.result_step())
      differ(at + " result_step", std::to_string(x.result_step()), std::to_string(y.result_step()));
    if (x.curve.size() != y.curve.size()) {
      differ(at + " curve length", std::to_string(x.curve.size()), std::to_string(y.curve.size()));
      continue;
    }
    for (std::size_t s = 0; s < x.curve.size(); ++s) {
      const hpt::Step& p = x.curve[s];
      const hpt::Step& q = y.curve[s];
      const std::string point = at + " curve[" + std::to_string(s) + "]";
      if (p.step != q.step) differ(point + " step", std::to_string(p.step), std::to_string(q.step));
      if (!detail::same_number(p.objective, q.objective))
        differ(point + " objective", detail::text(p.objective), detail::text(q.objective));
      if (p.values.size() != q.values.size()) {
        differ(point + " values", std::to_string(p.values.size()), std::to_string(q.values.size()));
        continue;
      }
      for (std::size_t v = 0; v < p.values.size(); ++v) {
        if (p.values[v].first != q.values[v].first)
          differ(point + " value name", p.values[v].first, q.values[v].first);
        if (!detail::same_number(p.values[v].second, q.values[v].second))
          differ(point + " value " + p.values[v].first, detail::text(p.values[v].second),
                 detail::text(q.values[v].second));
      }
    }
  }
  if (a.has_best() != b.has_best()) {
    differ("has_best", a.has_best() ? "yes" : "no", b.has_best() ? "yes" : "no");
  } else if (a.has_best() && a.best().id != b.best().id) {
    differ("best().id", std::to_string(a.best().id), std::to_string(b.best().id));
  }
  if (a.leaderboard() != b.leaderboard()) differ("leaderboard order", "", "");
  if (lines > 12) out << "... " << lines - 12 << " more differences\n";
  return out.str();
}

}  // namespace test_support
