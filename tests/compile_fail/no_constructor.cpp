// Must not compile: the trainer cannot be made from a configuration.
#include <hpt/strategies/fixed_budget.hpp>
#include <hpt/tune.hpp>

struct NoConstructor {
  double step() { return 0; }
};

int main() {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  (void)hpt::tune<NoConstructor>(space, hpt::RandomSearch{});
}
