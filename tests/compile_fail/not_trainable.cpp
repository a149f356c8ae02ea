// Must not compile: a trainer without step(). The first error must be hpt's own message (see
// tests/check_compile_fail.cmake), not a list of rejected tune() overloads.
#include <hpt/engine/tune.hpp>
#include <hpt/scheduling/fixed_budget.hpp>

struct NoStep {
  explicit NoStep(const hpt::Config&) {}
  double train() { return 0; }
};

int main() {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  (void)hpt::tune<NoStep>(space, hpt::RandomSearch{});
}
