#pragma once
/// @file study.hpp
/// @brief The outcome of a tuning run: every trial, the best one, a leaderboard, CSV export.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <istream>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "hpt/core/config.hpp"
#include "hpt/core/direction.hpp"
#include "hpt/core/trial_result.hpp"
#include "hpt/scheduling/schedule.hpp"
#include "hpt/study/storage.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {

/// @brief Settings of a study.
struct StudyOptions {
  Direction direction = Direction::minimize;
  std::uint64_t seed = 0;  ///< Same seed, same trials, same schedule, same best configuration.
  /// Which step of a curve is the trial's result, for ranking rungs, best() and the leaderboard
  /// alike (see trial_result.hpp): the last step (the papers' rule) or the best one so far.
  TrialResult result = TrialResult::last_step;
  std::string name = "study";
  /// Catch exceptions from trainables and record the trial as failed (the study goes on). When
  /// false, the first exception ends the study and propagates, for debugging a trainer.
  bool catch_exceptions = true;
  /// For Checkpointable trainables: write a trial out (save()) when a halving strategy pauses it
  /// and free the object; rebuild it from its configuration and restore() it when promoted. Bounds
  /// memory to the running trials at the cost of a save and a restore per promotion.
  bool checkpoint_paused = false;

  // How this run goes (docs/parallel.md).
  /// Trials run at once: 1 runs them on the calling thread; N > 1 on a pool of N threads, with
  /// the scheduling, the stopping rules across trials, the records and the observers on the
  /// calling thread. At most max_workers.
  std::size_t workers = 1;
  /// Call the factory (or the trainable's constructor, or reset()) under one lock, for factories
  /// that are not thread-safe. Trainables' step(), save() and restore() still run in parallel.
  bool serialize_factory = false;
  /// With workers > 1, the OpenMP threads each worker may use (when hpt is built with OpenMP,
  /// e.g. Eigen's products): 1 by default, so N workers never run N x cores threads.
  int threads_per_worker = 1;
  /// A stop request ends the study cleanly: no new job starts, running trials end after their
  /// current step as TrialStatus::interrupted, paused ones stay paused, and the study is returned
  /// with Study::interrupted() true.
  std::stop_token stop{};
  /// Also stop on Ctrl-C (SIGINT) while tune() runs; the previous handler comes back after it.
  bool stop_on_interrupt = false;
  /// Make the scheduler's decisions the same for any number of workers (ASHA's promotions depend
  /// on the order results arrive): the k-th job handed out is decided from exactly the results of
  /// jobs 0 .. k-1-lag, told in the order the jobs were handed out. Up to lag + 1 jobs run at
  /// once without waiting on each other; 0 is the sequential order. Empty: results are used as
  /// they arrive (the papers' asynchronous ASHA). Grid, random, successive halving and Hyperband
  /// are the same for any number of workers either way.
  std::optional<std::size_t> reproducible_lag{};
  /// Known configurations to try first (Optuna's enqueue_trial): trial k gets enqueue[k] instead
  /// of the sampler's. Each must be a complete configuration of the space.
  std::vector<Config> enqueue{};
  /// Where the study is written as it runs (docs/storage.md): none keeps it in memory only. With
  /// a storage, the study named `name` is created or resumed there as `open` says; resuming
  /// continues it as if it had never stopped.
  std::shared_ptr<Storage> storage{};
  OpenMode open = OpenMode::create_or_resume;

  /// The most workers a study accepts.
  static constexpr std::size_t max_workers = 4096;

  /// @brief Throws std::invalid_argument naming the first bad run setting and its value.
  void validate() const {
    if (workers < 1 || workers > max_workers)
      throw std::invalid_argument("hpt::StudyOptions: workers = " + std::to_string(workers) +
                                  " must be between 1 and " + std::to_string(max_workers));
    if (reproducible_lag && *reproducible_lag > max_workers * 1024)
      throw std::invalid_argument(
          "hpt::StudyOptions: reproducible_lag = " + std::to_string(*reproducible_lag) +
          " must be at most " + std::to_string(max_workers * 1024));
    if (threads_per_worker < 1)
      throw std::invalid_argument("hpt::StudyOptions: threads_per_worker = " +
                                  std::to_string(threads_per_worker) + " must be at least 1");
    if (open != OpenMode::create && open != OpenMode::resume &&
        open != OpenMode::create_or_resume && open != OpenMode::resume_changed)
      throw std::invalid_argument(
          "hpt::StudyOptions: open = " + std::to_string(static_cast<int>(open)) +
          " is not an OpenMode (create, resume, create_or_resume or "
          "resume_changed)");
  }
};

/// @brief An exception an observer threw: the study records it, stops calling that observer, and
/// goes on (a reporter that fails must not lose a study's finished trials).
struct ObserverError {
  std::size_t observer = 0;  ///< The observer's position among those passed to tune(), from 0.
  std::string hook{};        ///< e.g. "on_trial_end".
  std::optional<std::size_t> trial{};  ///< The trial the hook was told about, if any.
  std::string message{};               ///< The exception's what().
};

/// @brief Every trial of a tuning run, and what they mean together.
class Study {
 public:
  Study() = default;
  explicit Study(StudyOptions options, Schedule schedule = {})
      : options_(std::move(options)), schedule_(std::move(schedule)) {}

  [[nodiscard]] const StudyOptions& options() const noexcept { return options_; }
  [[nodiscard]] Direction direction() const noexcept { return options_.direction; }
  [[nodiscard]] const Schedule& schedule() const noexcept { return schedule_; }
  [[nodiscard]] const std::vector<Trial>& trials() const noexcept { return trials_; }
  [[nodiscard]] std::vector<Trial>& trials() noexcept { return trials_; }
  [[nodiscard]] const Trial& trial(std::size_t id) const { return trials_.at(id); }
  [[nodiscard]] double wall_seconds() const noexcept { return wall_seconds_; }
  void set_wall_seconds(double seconds) noexcept { wall_seconds_ = seconds; }
  /// @brief True when a stop request ended the study before its schedule did.
  [[nodiscard]] bool interrupted() const noexcept { return interrupted_; }
  void set_interrupted(bool interrupted) noexcept { interrupted_ = interrupted; }
  /// @brief Exceptions observers threw during the run, in order (empty when none did).
  [[nodiscard]] const std::vector<ObserverError>& observer_errors() const noexcept {
    return observer_errors_;
  }
  /// @brief Records an observer's exception (used by the engine).
  void add_observer_error(ObserverError error) { observer_errors_.push_back(std::move(error)); }

  /// @brief How many trials have the given status.
  [[nodiscard]] std::size_t count(TrialStatus status) const {
    return static_cast<std::size_t>(std::count_if(
        trials_.begin(), trials_.end(), [&](const Trial& t) { return t.status == status; }));
  }

  /// @brief True when some trial completed or was stopped early with a finite result.
  [[nodiscard]] bool has_best() const noexcept { return best_index() < trials_.size(); }

  /// @brief The best trial among those that completed or were stopped by a policy: a pruned
  /// trial's result is at a smaller budget, so it does not compete with them. When none completed
  /// (ASHA with few trials may never fill its top rung), the best of the pruned trials that got
  /// the most resource. Failed and diverged trials never qualify. Ties go to the lower id. Throws
  /// std::logic_error when no trial qualifies.
  [[nodiscard]] const Trial& best() const {
    const std::size_t index = best_index();
    if (index == trials_.size())
      throw std::logic_error("hpt::Study::best: no trial completed (" +
                             std::to_string(trials_.size()) + " trials: " + status_summary() + ")");
    return trials_[index];
  }

  /// @brief Trial ids in leaderboard order: completed and stopped trials by result, then pruned
  /// and paused ones by resource reached (more first) and result, then diverged, then failed.
  [[nodiscard]] std::vector<std::size_t> leaderboard() const {
    std::vector<std::size_t> order(trials_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Trial& x = trials_[a];
      const Trial& y = trials_[b];
      if (group(x) != group(y)) return group(x) < group(y);
      if (group(x) == 1 && x.resource != y.resource) return x.resource > y.resource;
      return is_better(direction(), x.result(), y.result());
    });
    return order;
  }

  /// @brief The leaderboard as a table: rank, trial, status, result, steps, configuration.
  void print_leaderboard(std::ostream& out, std::size_t rows = 10) const {
    const auto order = leaderboard();
    out << std::left << std::setw(5) << "rank" << std::setw(7) << "trial" << std::setw(11)
        << "status" << std::setw(14) << "result" << std::setw(7) << "steps"
        << "configuration\n";
    for (std::size_t rank = 0; rank < order.size() && rank < rows; ++rank) {
      const Trial& t = trials_[order[rank]];
      std::ostringstream result;
      result << std::setprecision(6) << t.result();
      out << std::left << std::setw(5) << rank + 1 << std::setw(7) << t.id << std::setw(11)
          << to_string(t.status) << std::setw(14) << result.str() << std::setw(7) << t.resource
          << t.config << '\n';
    }
    if (order.size() > rows) out << "... " << order.size() - rows << " more trials\n";
  }

  /// @brief "12 completed, 70 pruned, 1 failed", for messages.
  [[nodiscard]] std::string status_summary() const {
    std::string text;
    for (auto status : {TrialStatus::completed, TrialStatus::stopped, TrialStatus::pruned,
                        TrialStatus::paused, TrialStatus::failed, TrialStatus::diverged,
                        TrialStatus::interrupted, TrialStatus::running, TrialStatus::pending}) {
      if (const auto n = count(status))
        text +=
            (text.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(to_string(status));
    }
    return text.empty() ? "none" : text;
  }

  /// @brief Adds a trial record (used by the engine and by loaders); its id must be the next one.
  Trial& add_trial(Trial trial) {
    if (trial.id != trials_.size())
      throw std::invalid_argument("hpt::Study: trial id " + std::to_string(trial.id) + " where " +
                                  std::to_string(trials_.size()) + " was expected");
    trials_.push_back(std::move(trial));
    return trials_.back();
  }

 private:
  static int group(const Trial& t) {
    switch (t.status) {
      case TrialStatus::completed:
      case TrialStatus::stopped:
        return std::isnan(t.result()) ? 2 : 0;
      case TrialStatus::pruned:
      case TrialStatus::paused:
      case TrialStatus::interrupted:
      case TrialStatus::running:
      case TrialStatus::pending:
        return 1;
      case TrialStatus::diverged:
        return 2;
      case TrialStatus::failed:
        return 3;
    }
    return 3;
  }

  [[nodiscard]] std::size_t best_index() const noexcept {
    std::size_t best = trials_.size();
    for (int wanted : {0, 1}) {
      for (std::size_t i = 0; i < trials_.size(); ++i) {
        const Trial& t = trials_[i];
        if (group(t) != wanted || std::isnan(t.result())) continue;
        if (best == trials_.size() || (wanted == 1 && t.resource > trials_[best].resource) ||
            ((wanted == 0 || t.resource == trials_[best].resource) &&
             is_better(direction(), t.result(), trials_[best].result())))
          best = i;
      }
      if (best != trials_.size()) return best;
    }
    return best;
  }

  StudyOptions options_{};
  Schedule schedule_{};
  std::vector<Trial> trials_{};
  std::vector<ObserverError> observer_errors_{};
  double wall_seconds_ = 0;
  bool interrupted_ = false;
};

}  // namespace hpt
