// read_stored_study rebuilds a study from its log alone. The truth it is checked against is the
// engine: a finished study reads back equal to the Study its tune() call returned (every field
// study_difference compares, plus each trial's wall time and result index, which the log holds
// to the bit), and a log cut after any transaction reads back equal to the study a resumed run
// holds before it runs anything (a tune() call on that prefix that is asked to stop at once).
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <hpt/hpt.hpp>
#include <istream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "exception_message.hpp"
#include "resume_support.hpp"
#include "study_difference.hpp"

namespace {

/// Its objective at step t depends only on x and t. x in [0.40, 0.42) throws at step 2, in
/// [0.60, 0.62) gives NaN at step 3, in [0.80, 0.83) says it is done at step 2.
class Walker {
 public:
  explicit Walker(const hpt::Config& config) : x_(config.get<double>("x")) {}
  hpt::Metrics step() {
    ++t_;
    if (x_ >= 0.40 && x_ < 0.42 && t_ == 2) throw std::runtime_error("walker fell");
    hpt::Metrics metrics{std::abs(x_ - 0.3) + 1.0 / static_cast<double>(t_ + 1),
                         {{"t_squared", static_cast<double>(t_ * t_)}}};
    if (x_ >= 0.60 && x_ < 0.62 && t_ == 3) metrics.objective = std::nan("");
    if (x_ >= 0.80 && x_ < 0.83 && t_ == 2) metrics.done = true;
    return metrics;
  }
  void save(std::ostream& out) const { out << t_; }
  void restore(std::istream& in) { in >> t_; }

 private:
  double x_;
  std::int64_t t_ = 0;
};

/// A Walker whose steps take 300 us: on several workers a stop lands while the others' jobs run
/// (a fast one's batches of steps arrive with their job's end).
class SlowWalker : public Walker {
 public:
  using Walker::Walker;
  hpt::Metrics step() {
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    return Walker::step();
  }
};

const hpt::SearchSpace& space() {
  static const hpt::SearchSpace searched{hpt::uniform("x", 0.0, 1.0)};
  return searched;
}

std::string trial_extras_difference(const hpt::Study& a, const hpt::Study& b) {
  for (std::size_t i = 0; i < std::min(a.trials().size(), b.trials().size()); ++i) {
    const hpt::Trial& x = a.trial(i);
    const hpt::Trial& y = b.trial(i);
    if (x.wall_seconds != y.wall_seconds)
      return "trial " + std::to_string(i) + " wall_seconds " + std::to_string(x.wall_seconds) +
             " | " + std::to_string(y.wall_seconds);
    if (x.result_index != y.result_index) return "trial " + std::to_string(i) + " result_index";
  }
  return "";
}

/// What a log cut short may say, against the study that ran to its end: the same trials so far;
/// a trial that had ended is the one that ended; any other has run a prefix of its curve.
std::string prefix_difference(const hpt::Study& whole, const hpt::Study& part) {
  if (part.trials().size() > whole.trials().size()) return "more trials than the whole study";
  for (const hpt::Trial& trial : part.trials()) {
    const hpt::Trial& final = whole.trial(trial.id);
    const std::string at = "trial " + std::to_string(trial.id) + ": ";
    if (!(trial.config == final.config)) return at + "another configuration";
    if (trial.bracket != final.bracket) return at + "another bracket";
    if (trial.finished()) {
      hpt::Trial first = trial, second = final;
      first.id = second.id = 0;
      hpt::Study one, other;
      one.add_trial(std::move(first));
      other.add_trial(std::move(second));
      if (const auto difference = test_support::study_difference(one, other); !difference.empty())
        return at + difference;
      continue;
    }
    if (trial.curve.size() > final.curve.size()) return at + "a longer curve";
    for (std::size_t s = 0; s < trial.curve.size(); ++s)
      if (trial.curve[s].step != final.curve[s].step ||
          !(trial.curve[s].objective == final.curve[s].objective ||
            (std::isnan(trial.curve[s].objective) && std::isnan(final.curve[s].objective))))
        return at + "step " + std::to_string(s) + " differs";
    if (trial.rung > final.rung) return at + "a higher rung";
  }
  return "";
}

hpt::StoredStudy read_back(const hpt::MemoryStorage& storage, const std::string& name) {
  const auto identity = storage.identity(name);
  REQUIRE(identity.has_value());
  const auto events = storage.events(name);
  return hpt::read_stored_study(*identity, events);
}

/// Runs the study to its end, checks that its log reads back as it, then reads back every prefix
/// of the log against a resumed run that stops before running anything.
/// With reproducible_lag a resumed run re-derives the prunings logged after its last hand-out
/// when it next asks for a job: one stopped at once holds those trials paused where the log (and
/// the reader) already has them pruned, so `exact_when_stopped` is false there.
template <class Strategy, class Policy>
void check_reads_back(const Strategy& strategy, const Policy& policy, hpt::StudyOptions options,
                      bool exact_when_stopped = true) {
  auto storage = std::make_shared<hpt::MemoryStorage>(/*durable=*/true);
  options.storage = storage;
  options.name = "read";
  const hpt::Study whole = hpt::tune<Walker>(space(), strategy, policy, options);
  REQUIRE_FALSE(whole.interrupted());

  const hpt::StoredStudy stored = read_back(*storage, "read");
  CHECK(stored.finished);
  CHECK(stored.running_jobs == 0);
  CHECK(stored.events == storage->events("read").size());
  CHECK(test_support::study_difference(whole, stored.study) == "");
  CHECK(trial_extras_difference(whole, stored.study) == "");
  CHECK(stored.study.schedule().strategy == whole.schedule().strategy);
  CHECK(stored.study.schedule().brackets.size() == whole.schedule().brackets.size());
  if (whole.has_best()) CHECK(stored.study.best().id == whole.best().id);

  const std::size_t transactions = storage->transactions("read");
  REQUIRE(transactions > 2);
  for (std::size_t cut = 0; cut <= transactions; ++cut) {
    INFO("log cut after transaction " << cut << " of " << transactions);
    auto prefix = storage->prefix("read", cut);
    CHECK(prefix_difference(whole, read_back(*prefix, "read").study) == "");
    std::stop_source stop;
    stop.request_stop();
    hpt::StudyOptions resumed_options = options;
    resumed_options.storage = prefix;
    resumed_options.stop = stop.get_token();
    const hpt::Study resumed = hpt::tune<Walker>(space(), strategy, policy, resumed_options);
    // The stopped resume appended what it found (jobs of a dead session abandoned): the log now
    // says what the resumed run holds.
    const hpt::StoredStudy partial = read_back(*prefix, "read");
    CHECK(partial.finished == !resumed.interrupted());
    CHECK(partial.running_jobs == 0);
    CHECK(prefix_difference(whole, partial.study) == "");
    if (exact_when_stopped) {
      CHECK(test_support::study_difference(resumed, partial.study) == "");
      CHECK(trial_extras_difference(resumed, partial.study) == "");
    }
  }
}

}  // namespace

TEST_CASE("a stored log reads back as the study that wrote it, after any transaction",
          "[stored_study]") {
  SECTION("grid search") {
    const hpt::SearchSpace grid{hpt::uniform("x", 0.05, 0.95).grid(7)};
    auto storage = std::make_shared<hpt::MemoryStorage>(true);
    const hpt::Study whole =
        hpt::tune<Walker>(grid, hpt::GridSearch{.max_resource = 4}, hpt::NoStopping{},
                          {.name = "g", .storage = storage});
    const hpt::StoredStudy stored = read_back(*storage, "g");
    CHECK(test_support::study_difference(whole, stored.study) == "");
    CHECK(stored.study.trials().size() == 7);
  }
  SECTION("random search, failures, NaN and early ends") {
    check_reads_back(hpt::RandomSearch{.trials = 40, .max_resource = 5}, hpt::NoStopping{},
                     {.seed = 3});
  }
  SECTION("successive halving, best step as the result") {
    check_reads_back(
        hpt::SuccessiveHalving{.configurations = 27, .min_resource = 1, .max_resource = 9},
        hpt::NoStopping{}, {.seed = 4, .result = hpt::TrialResult::best_step});
  }
  SECTION("Hyperband with Patience, maximised, paused trials checkpointed") {
    check_reads_back(hpt::Hyperband{.max_resource = 9},
                     hpt::Patience{.patience = 2, .min_delta = 0.0},
                     {.direction = hpt::Direction::maximize, .seed = 5, .checkpoint_paused = true});
  }
  SECTION("ASHA with MedianStopping on 3 workers, reproducible") {
    check_reads_back(hpt::Asha{.trials = 30, .min_resource = 1, .max_resource = 9},
                     hpt::MedianStopping{.startup_trials = 3, .warmup_steps = 1},
                     {.seed = 6, .workers = 3, .reproducible_lag = 2},
                     /*exact_when_stopped=*/false);
  }
}

using test_support::StopAtStep;

TEST_CASE("a study stopped mid-job and resumed reads back as the resumed study", "[stored_study]") {
  // The stop cuts jobs short (interrupted ends, or jobs never begun): their steps are void in
  // the log, and the resumed run reports them again.
  // Every random-search job runs 9 slow steps: a stop at a step that is not a multiple of 9
  // cuts the running job (and, on 3 workers, the others' jobs) short. Hyperband at step 17 cuts its
  // rung-2 job (steps 16 to 21) on one worker.
  const auto run = []<class Trainable>(const auto& strategy, int at, std::size_t workers) {
    INFO("stopped at step " << at << " on " << workers << " workers");
    auto storage = std::make_shared<hpt::MemoryStorage>(true);
    std::stop_source stop;
    StopAtStep stopper{&stop, at};
    const hpt::Study stopped = hpt::tune<Trainable>(
        space(), strategy, hpt::NoStopping{},
        {.seed = 8, .name = "s", .workers = workers, .stop = stop.get_token(), .storage = storage},
        stopper);
    REQUIRE(stopped.interrupted());
    const hpt::Study resumed = hpt::tune<Trainable>(space(), strategy, hpt::NoStopping{},
                                                    {.seed = 8, .name = "s", .storage = storage});
    REQUIRE_FALSE(resumed.interrupted());
    const hpt::StoredStudy stored = read_back(*storage, "s");
    CHECK(stored.restarted_jobs > 0);
    CHECK(test_support::study_difference(resumed, stored.study) == "");
    CHECK(trial_extras_difference(resumed, stored.study) == "");
  };
  for (const int at : {5, 17, 40})
    for (const std::size_t workers : {std::size_t{1}, std::size_t{3}})
      run.operator()<SlowWalker>(hpt::RandomSearch{.trials = 12, .max_resource = 9}, at, workers);
  run.operator()<Walker>(hpt::Hyperband{.max_resource = 9}, 17, 1);
}

TEST_CASE("a stored log that contradicts itself is refused, naming the study and the event",
          "[stored_study]") {
  const hpt::StudyIdentity identity{.name = "odd", .strategy = "RandomSearch\n"};
  hpt::Job job;
  job.trial = 0;
  job.resource = 1;
  const std::vector<hpt::StudyEvent> step_without_job{hpt::TrialCreated{0, 0, hpt::Config{}},
                                                      hpt::StepRecorded{0, hpt::Step{1, 0.5, {}}}};
  CHECK(test_support::message_of([&] {
          (void)hpt::read_stored_study(identity, step_without_job);
        }) == "hpt: study \"odd\": stored event 2: a step of trial 0, which has no job out");
  const std::vector<hpt::StudyEvent> out_of_order{hpt::TrialCreated{1, 0, hpt::Config{}}};
  CHECK(test_support::message_of([&] { (void)hpt::read_stored_study(identity, out_of_order); }) ==
        "hpt: study \"odd\": stored event 1: creates trial 1 where trial 0 comes next");
  const std::vector<hpt::StudyEvent> uncreated{hpt::JobStarted{job, false, 1}};
  CHECK(test_support::message_of([&] { (void)hpt::read_stored_study(identity, uncreated); }) ==
        "hpt: study \"odd\": stored event 1: a job of trial 0, which was never created");
  const std::vector<hpt::StudyEvent> twice{hpt::TrialCreated{0, 0, hpt::Config{}},
                                           hpt::JobStarted{job, false, 1},
                                           hpt::JobStarted{job, false, 1}};
  CHECK(test_support::message_of([&] { (void)hpt::read_stored_study(identity, twice); }) ==
        "hpt: study \"odd\": stored event 3: a second job of trial 0");
  hpt::JobEnded running_end;
  running_end.trial = 0;
  running_end.status = hpt::TrialStatus::running;
  const std::vector<hpt::StudyEvent> not_an_end{hpt::TrialCreated{0, 0, hpt::Config{}},
                                                hpt::JobStarted{job, false, 1}, running_end};
  CHECK(test_support::message_of([&] { (void)hpt::read_stored_study(identity, not_an_end); }) ==
        "hpt: study \"odd\": stored event 3: a job of trial 0 ended running, which is not an end");
  const std::vector<hpt::StudyEvent> pruned_running{hpt::TrialCreated{0, 0, hpt::Config{}},
                                                    hpt::JobStarted{job, false, 1},
                                                    hpt::TrialPruned{0, 0, "why"}};
  CHECK(test_support::message_of([&] { (void)hpt::read_stored_study(identity, pruned_running); }) ==
        "hpt: study \"odd\": stored event 3: prunes trial 0 while its job runs");
}

TEST_CASE("an abandoned job's steps are left out and the trial is as before the job",
          "[stored_study]") {
  const hpt::StudyIdentity identity{.name = "cut", .strategy = "RandomSearch\n"};
  hpt::Job first;
  first.trial = 0;
  first.resource = 2;
  hpt::JobEnded paused;
  paused.trial = 0;
  paused.status = hpt::TrialStatus::paused;
  paused.wall_seconds = 0.25;
  hpt::Job second = first;
  second.rung = 1;
  second.resource = 4;
  const std::vector<hpt::StudyEvent> events{
      hpt::TrialCreated{0, 0, hpt::Config{}},
      hpt::JobStarted{first, false, 1},
      hpt::StepRecorded{0, hpt::Step{1, 0.9, {}}},
      hpt::StepRecorded{0, hpt::Step{2, 0.8, {}}},
      paused,
      hpt::JobStarted{second, false, 1},
      hpt::StepRecorded{0, hpt::Step{3, 0.7, {}}},
      hpt::JobAbandoned{0, 1, "session 1 is no longer running"}};
  const hpt::StoredStudy stored = hpt::read_stored_study(identity, events);
  const hpt::Trial& trial = stored.study.trial(0);
  CHECK(trial.status == hpt::TrialStatus::paused);
  CHECK(trial.rung == 0);
  CHECK(trial.curve.size() == 2);
  CHECK(trial.resource == 2);
  CHECK(trial.wall_seconds == 0.25);
  CHECK(stored.running_jobs == 0);
  CHECK_FALSE(stored.finished);
  CHECK(stored.study.interrupted());
  CHECK(stored.sessions == 1);
}

TEST_CASE("parse_schedule reads what Schedule's operator<< prints", "[stored_study]") {
  for (const hpt::Schedule& plan :
       {hpt::Hyperband{.max_resource = 81}.schedule(space()),
        hpt::Asha{.trials = 30, .min_resource = 1, .max_resource = 9}.schedule(space()),
        hpt::RandomSearch{.trials = 5, .max_resource = 3}.schedule(space())}) {
    std::ostringstream text;
    text << plan;
    const hpt::Schedule parsed = hpt::parse_schedule(text.str());
    std::ostringstream again;
    again << parsed;
    CHECK(again.str() == text.str());
    REQUIRE(parsed.brackets.size() == plan.brackets.size());
    for (std::size_t b = 0; b < plan.brackets.size(); ++b) {
      CHECK(parsed.brackets[b].index == plan.brackets[b].index);
      REQUIRE(parsed.brackets[b].rungs.size() == plan.brackets[b].rungs.size());
      for (std::size_t r = 0; r < plan.brackets[b].rungs.size(); ++r) {
        CHECK(parsed.brackets[b].rungs[r].configurations ==
              plan.brackets[b].rungs[r].configurations);
        CHECK(parsed.brackets[b].rungs[r].resource == plan.brackets[b].rungs[r].resource);
      }
    }
  }
  CHECK(test_support::message_of([] { (void)hpt::parse_schedule(""); }) ==
        "hpt::parse_schedule: the text is empty");
  CHECK(test_support::message_of([] { (void)hpt::parse_schedule("S\n  bracket x:\n"); }) ==
        "hpt::parse_schedule: line 2 (\"  bracket x:\"): expected a bracket index at \"x:\"");
  CHECK(test_support::message_of([] { (void)hpt::parse_schedule("S\n  bracket 0:  3 y 4\n"); }) ==
        "hpt::parse_schedule: line 2 (\"  bracket 0:  3 y 4\"): expected \" x <resource>\" in a "
        "rung");
  CHECK(test_support::message_of([] { (void)hpt::parse_schedule("S\nrubbish\n"); }) ==
        "hpt::parse_schedule: line 2 (\"rubbish\"): expected \"  bracket <index>:\"");
}
