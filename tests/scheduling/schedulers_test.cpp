// The schedulers driven directly, as a parallel or distributed engine will drive them: several
// jobs out at once, results in any order.
#include <algorithm>
#include <catch2/catch.hpp>
#include <deque>
#include <hpt/core/random.hpp>
#include <hpt/scheduling/asha.hpp>
#include <hpt/scheduling/successive_halving.hpp>
#include <set>
#include <vector>

namespace {
struct Issued {
  std::size_t trial;
  int rung;
  bool operator==(const Issued&) const = default;
};
}  // namespace

TEST_CASE("ASHA promotes as the paper says, traced by hand", "[asha]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  auto scheduler =
      hpt::Asha{.trials = 6, .min_resource = 1, .max_resource = 9}.make_scheduler(space, 0);
  // Loss of each trial at rung 0, and at rung 1 for the ones that get there.
  const double rung0[] = {0.5, 0.2, 0.9, 0.1, 0.8, 0.3};
  const double rung1[] = {0, 0.15, 0, 0.05, 0, 0};
  std::vector<Issued> issued;
  std::vector<hpt::Pruning> prunings;
  std::set<std::size_t> dead;
  while (auto job = scheduler.next()) {
    issued.push_back({job->trial, job->rung});
    CHECK(job->resource == (job->rung == 0 ? 1 : 3));
    const double loss = job->rung == 0 ? rung0[job->trial] : rung1[job->trial];
    scheduler.report(*job, {loss, true}, prunings);
    for (const auto& p : prunings) dead.insert(p.trial);
    prunings.clear();
  }
  // t0, t1 start; t2 fills rung 0 to 3, so its best (t1) is promoted; t3 beats t1 at rung 0 and
  // is promoted next; with 5 and 6 results the top third of rung 0 holds only promoted trials.
  const std::vector<Issued> expected{{0, 0}, {1, 0}, {2, 0}, {1, 1},
                                     {3, 0}, {3, 1}, {4, 0}, {5, 0}};
  CHECK(issued == expected);
  CHECK(scheduler.finished());
  // Rank only worsens and a rung never holds more than 6 results, so a rung-0 entry ranked below
  // the best floor(6/3) = 2 is pruned at once: t2 (third of 3), t0 (pushed to third by t3), t4
  // and t5. t1 and t3 wait at rung 1 (too few results to promote) until the study ends.
  CHECK(dead == std::set<std::size_t>{0, 2, 4, 5});
  std::set<std::size_t> unpromoted;
  for (const auto& p : scheduler.unpromoted()) unpromoted.insert(p.trial);
  CHECK(unpromoted == std::set<std::size_t>{1, 3});
}

TEST_CASE("ASHA with results out of order only promotes from the top third", "[asha]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const std::int64_t eta = 3;
  auto scheduler =
      hpt::Asha{.trials = 300, .min_resource = 1, .max_resource = 27, .reduction_factor = eta}
          .make_scheduler(space, 0);
  hpt::Random random(99);
  std::vector<double> loss(300);
  for (auto& l : loss) l = random.uniform();
  std::vector<std::vector<double>> rung_losses(4);  // what each rung has seen so far
  std::set<std::pair<std::size_t, int>> promotions;
  std::deque<hpt::Job> running;
  std::vector<hpt::Pruning> prunings;
  const std::size_t workers = 4;
  while (true) {
    while (running.size() < workers) {
      auto job = scheduler.next();
      if (!job) break;
      if (job->rung > 0) {
        // Promoted from rung-1: it must be among the top floor(n/eta) there right now.
        auto& seen = rung_losses[job->rung - 1];
        std::vector<double> sorted = seen;
        std::sort(sorted.begin(), sorted.end());
        const std::size_t top = seen.size() / eta;
        REQUIRE(top > 0);
        CHECK(loss[job->trial] <= sorted[top - 1]);
        CHECK(promotions.insert({job->trial, job->rung}).second);  // at most once
      }
      running.push_back(*job);
    }
    if (running.empty()) break;
    // Finish a random running job: results arrive out of order.
    const auto pick = random.below(running.size());
    const auto job = running[pick];
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(pick));
    rung_losses[job.rung].push_back(loss[job.trial]);
    scheduler.report(job, {loss[job.trial], !job.last_rung}, prunings);
  }
  CHECK(scheduler.finished());
  CHECK(rung_losses[0].size() == 300);
  CHECK(rung_losses[3].size() >= 1);
}

TEST_CASE("successive halving decides the same whatever order results arrive in", "[halving]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  const hpt::SuccessiveHalving halving{.configurations = 27, .min_resource = 1, .max_resource = 27};
  hpt::Random random(5);
  std::vector<double> loss(27);
  for (auto& l : loss) l = random.uniform();
  loss[4] = std::numeric_limits<double>::quiet_NaN();  // ranks last
  auto run = [&](std::uint64_t order_seed) {
    auto scheduler = halving.make_scheduler(space, 0);
    hpt::Random order(order_seed);
    std::vector<hpt::Job> pending;
    std::vector<hpt::Pruning> prunings;
    std::vector<std::pair<std::size_t, int>> reached;
    while (!scheduler.finished()) {
      while (auto job = scheduler.next()) pending.push_back(*job);
      REQUIRE_FALSE(pending.empty());
      order.shuffle(pending.begin(), pending.end());
      for (const auto& job : pending) {
        reached.push_back({job.trial, job.rung});
        scheduler.report(job, {loss[job.trial], !job.last_rung}, prunings);
      }
      pending.clear();
    }
    std::sort(reached.begin(), reached.end());
    std::vector<std::size_t> pruned;
    for (const auto& p : prunings) pruned.push_back(p.trial);
    std::sort(pruned.begin(), pruned.end());
    return std::pair{reached, pruned};
  };
  const auto first = run(1);
  CHECK(run(2) == first);
  CHECK(run(3) == first);
  // Truth: the 9 lowest losses reach rung 1, the 3 lowest rung 2, the lowest rung 3.
  std::vector<std::size_t> order(27);
  for (std::size_t i = 0; i < 27; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](auto a, auto b) { return hpt::detail::ranks_before(loss[a], a, loss[b], b); });
  CHECK(order.back() == 4);
  std::set<std::size_t> at_rung3;
  for (const auto& [trial, rung] : first.first)
    if (rung == 3) at_rung3.insert(trial);
  CHECK(at_rung3 == std::set<std::size_t>{order[0]});
  CHECK(first.second.size() == 26);  // everyone else is pruned exactly once
}

TEST_CASE("a NaN result is pruned at rung 0 and a finite one advances", "[halving]") {
  const hpt::SearchSpace space{hpt::uniform("x", 0.0, 1.0)};
  auto scheduler = hpt::SuccessiveHalving{.configurations = 3, .min_resource = 1, .max_resource = 3}
                       .make_scheduler(space, 0);
  std::vector<hpt::Pruning> prunings;
  const double loss[] = {std::numeric_limits<double>::quiet_NaN(), 0.7, 0.9};
  std::vector<hpt::Job> jobs;
  while (auto job = scheduler.next()) jobs.push_back(*job);
  REQUIRE(jobs.size() == 3);
  for (const auto& job : jobs) scheduler.report(job, {loss[job.trial], true}, prunings);
  const auto promoted = scheduler.next();
  REQUIRE(promoted);
  CHECK(promoted->trial == 1);
  CHECK(promoted->rung == 1);
  REQUIRE(prunings.size() == 2);
  CHECK(prunings[0].trial == 2);  // ranked 2nd of 3
  CHECK(prunings[1].trial == 0);  // NaN last
  CHECK_THAT(prunings[1].reason, Catch::Contains("ranked 3 of 3"));
}
