// Must not compile: the trainer cannot be made from a configuration.
#include <hpt/engine/tune.hpp>
#include <hpt/scheduling/fixed_budget.hpp>

struct NoConstructor {
  double step() { return 0; }
};

int main() {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  (void)hpt::tune<NoConstructor>(space, hpt::RandomSearch{});
}
