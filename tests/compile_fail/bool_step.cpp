// Must not compile: step() returns bool, which is neither Metrics nor an objective.
#include <hpt/engine/tune.hpp>
#include <hpt/scheduling/fixed_budget.hpp>

struct BoolStep {
  explicit BoolStep(const hpt::Config&) {}
  bool step() { return true; }
};

int main() {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  (void)hpt::tune<BoolStep>(space, hpt::RandomSearch{});
}
