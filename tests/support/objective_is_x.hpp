#pragma once
// A trainable whose objective is its configuration's "x" at every step: a study's best trial is
// the one with the least x (minimize) or the largest (maximize), which tests can compute alone.

#include <hpt/core/config.hpp>

namespace test_support {

struct ObjectiveIsX {
  explicit ObjectiveIsX(const hpt::Config& config) : x(config.get<double>("x")) {}
  double step() const { return x; }
  double x;
};

}  // namespace test_support
