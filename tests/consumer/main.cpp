// A program outside hpt that uses it the way a user would: through the installed package
// (find_package), hpt's source tree (add_subdirectory) or FetchContent. See CMakeLists.txt.
#include <cstdio>
#include <string>
#include <vector>

#include <hpt/core/random.hpp>
#include <hpt/stopping/policy.hpp>

namespace {

// A user-defined policy: stops every trial after a fixed number of steps.
struct StopAfter {
  std::int64_t steps = 0;
  [[nodiscard]] hpt::Verdict check(const hpt::StepReport& report) const {
    if (report.step < steps) return hpt::Verdict::proceed();
    return hpt::Verdict::stop("StopAfter", "reached " + std::to_string(steps) + " steps");
  }
};
static_assert(hpt::StoppingPolicy<StopAfter>);

int failures = 0;

void expect(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  // The same seed gives the same draws.
  hpt::Random first(hpt::derive_seed(42, 7));
  hpt::Random second(hpt::derive_seed(42, 7));
  for (int i = 0; i < 100; ++i) expect(first.uniform() == second.uniform(), "seeded uniform()");
  const std::int64_t die = first.between(1, 6);
  expect(die >= 1 && die <= 6, "between(1, 6) in range");
  std::vector<int> order{1, 2, 3, 4, 5};
  first.shuffle(order.begin(), order.end());
  second.shuffle(order.begin(), order.end());
  expect(order.size() == 5, "shuffle keeps the elements");

  // Policies compose; the first one that stops gives the verdict.
  auto policy = hpt::NoStopping{} | StopAfter{3};
  hpt::StepReport report;
  report.trial = 0;
  report.objective = 1.0;
  std::int64_t stopped_at = 0;
  for (std::int64_t step = 1; step <= 10 && stopped_at == 0; ++step) {
    report.step = step;
    const hpt::Verdict verdict = policy.check(report);
    if (verdict.stops()) {
      stopped_at = step;
      expect(verdict.policy == "StopAfter", "verdict names the policy that stopped");
    }
  }
  expect(stopped_at == 3, "StopAfter{3} stops at step 3");
  hpt::notify_trial_ended(policy, hpt::TrialEnded{0, hpt::TrialStatus::stopped, stopped_at});

  if (failures != 0) return 1;
  std::printf("hpt consumer: ok (stopped at step %lld)\n", static_cast<long long>(stopped_at));
  return 0;
}
