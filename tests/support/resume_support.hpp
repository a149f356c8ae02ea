#pragma once
// What the resume tests share (tests/engine/resume_test.cpp, ask_tell_storage_test.cpp,
// tests/study/stored_study_test.cpp): a learning curve that is a pure function of the
// configuration and the step, so that a job cut short, resumed or continued by another session
// gives the same numbers; the trainables on it, with and without checkpoints; their search spaces;
// and an observer that asks for a stop at a given step of the study.

#include <atomic>
#include <cmath>
#include <cstdint>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <stop_token>

#include <hpt/core/config.hpp>
#include <hpt/core/metrics.hpp>
#include <hpt/space/search_space.hpp>
#include <hpt/trial/trial.hpp>

#include "parallel_support.hpp"

namespace test_support {

/// A deterministic learning curve: its objective at step t is a function of the configuration and
/// t. One configuration in 16 cannot be trained at some step (its trainer throws), one gives NaN
/// there, one finishes early, so failed, diverged and completed-early trials go through resumes.
struct Curve {
  explicit Curve(const hpt::Config& config) : key(key_of(config)), x(config.get<double>("x")) {}
  [[nodiscard]] std::int64_t special_step() const {
    return static_cast<std::int64_t>(1 + (key >> 24) % 6);
  }
  [[nodiscard]] bool throws_at(std::int64_t step) const {
    return key % 16 == 0 && step == special_step();
  }
  [[nodiscard]] hpt::Metrics at(std::int64_t step) const {
    const double noise = unit(mix(key ^ static_cast<std::uint64_t>(step))) - 0.5;
    hpt::Metrics metrics{0.2 + x + 0.6 / static_cast<double>(step) + 0.05 * noise,
                         {{"noise", noise}}};
    if (key % 16 == 1 && step == special_step()) metrics.objective = std::nan("");
    if (key % 16 == 2 && step == special_step()) metrics.done = true;
    return metrics;
  }
  std::uint64_t key;
  double x;
};

/// The curve as a trainable for hpt::tune. Counts its constructions, so that a test can tell
/// whether a resume trained anything.
class Learner {
 public:
  explicit Learner(const hpt::Config& config) : curve_(config) { ++constructions; }
  hpt::Metrics step() {
    ++steps_;
    if (curve_.throws_at(steps_)) throw std::runtime_error("bad batch");
    return curve_.at(steps_);
  }
  static inline std::atomic<int> constructions{0};

 protected:
  Curve curve_;
  std::int64_t steps_ = 0;
};

/// The same learner with save() and restore(): a resumed paused trial continues from its stored
/// checkpoint (a fresh object would start at step 0 and give other numbers).
class CheckpointedLearner : public Learner {
 public:
  using Learner::Learner;
  void save(std::ostream& out) const { out << steps_; }
  void restore(std::istream& in) {
    if (!(in >> steps_)) throw std::runtime_error("bad checkpoint");
  }
};

/// One continuous parameter x in [0, 1], the curve's offset.
inline hpt::SearchSpace unit_space() {
  return hpt::SearchSpace{hpt::uniform("x", 0.0, 1.0)};
}

/// Five grid points of x.
inline hpt::SearchSpace grid_space() {
  return hpt::SearchSpace{hpt::uniform("x", 0.1, 0.9).grid(5)};
}

/// An observer that asks for a stop at the n-th step of the study.
struct StopAtStep {
  std::stop_source* stop;
  int at;
  int steps = 0;
  void on_step(const hpt::Trial&, const hpt::Step&) {
    if (++steps == at) stop->request_stop();
  }
};

}  // namespace test_support
