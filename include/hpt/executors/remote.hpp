#pragma once
/// @file remote.hpp
/// @brief Running a study's trials in other processes, over any message transport: rank 0
/// coordinates (scheduler, sampler, stopping rules, storage, observers: the Coordinator of
/// engine/coordinator.hpp, unchanged) and ranks 1 .. N-1 run trials, one job at a time each.
/// hpt/executors/mpi.hpp runs it over MPI; the tests run it over threads.
///
/// The conversation, in hpt::wire messages:
/// - Rank 0 sends Hello to every worker; each answers HelloReply; both sides compare the wire
///   version, the hpt version and the study's fingerprint (a hash of its space, strategy, stopping
///   policy, direction, seed and result rule) and refuse a peer that differs, naming both.
/// - Rank 0 sends a free worker a RunBatch; the worker runs its jobs in order and answers with
///   packets (several messages in one transport message): StepsDone, JobFinished, then
///   WorkerFree at the end of the batch. A study rule (MedianStopping) is judged on rank 0: the
///   worker sends JudgeStep and waits for the Ruling. StopRequested ends running jobs at their
///   next step; Shutdown ends the worker.
/// - However the run ends (finished, stopped, an error on any rank), it ends with a closing
///   handshake: rank 0 sends Shutdown to every worker and reads until each answers with a
///   Shutdown of its own (a worker that failed waits for rank 0's first). Nothing is left in
///   flight, which MPI needs: a message still travelling when the communicator is freed can
///   wedge the next one made in its place.
/// - A Checkpointable trial moves: a paused trial is saved on its worker, the checkpoint travels
///   back with its JobFinished and out again with its next job, to whichever worker is free. Any
///   other trial stays on the worker that made it: its next job waits for that worker.
/// - A trial rule's state (Patience, Threshold, ...) is rebuilt on a worker that does not hold
///   the trial by replaying the trial's recorded steps through it, as a resumed study does.
/// Rank 0 applies every event in the order it arrives, as with the thread pool, so the studies
/// of order-independent strategies equal the thread pool's for the same seed.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hpt/core/metrics.hpp"
#include "hpt/core/trial_status.hpp"
#include "hpt/engine/coordinator.hpp"
#include "hpt/engine/trial_runner.hpp"
#include "hpt/engine/tune.hpp"
#include "hpt/executors/wire.hpp"
#include "hpt/scheduling/protocol.hpp"
#include "hpt/scheduling/strategy.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/study/study.hpp"
#include "hpt/trial/trainable.hpp"
#include "hpt/trial/trial.hpp"

namespace hpt {
namespace executors {

/// @brief A receive timeout that waits as long as it takes.
inline constexpr std::chrono::microseconds wait_forever = std::chrono::microseconds::max();

/// @brief Ordered, reliable byte messages between the ranks of one run (rank 0 coordinates).
/// `receive` waits up to `timeout` (0: only looks; wait_forever: no limit) for the next message
/// to this rank and says whether one came; messages between two ranks arrive in the order sent.
template <class T>
concept MessageTransport = requires(T& transport, const T& view, int rank, std::string_view bytes,
                                    int& from, std::string& received,
                                    std::chrono::microseconds timeout) {
  { view.rank() } -> std::convertible_to<int>;
  { view.ranks() } -> std::convertible_to<int>;
  transport.send(rank, bytes);
  { transport.receive(from, received, timeout) } -> std::same_as<bool>;
};

}  // namespace executors

namespace detail {

/// @brief Appends `message` to `packet` as one frame: its length as a varint, then its bytes.
template <class Message>
void append_frame(std::string& packet, const Message& message, std::string& scratch) {
  wire::encode(message, scratch);
  wire::Writer(packet).varint(scratch.size());
  packet += scratch;
}

/// @brief Decodes the frames of a packet from rank `from` in order, calling `apply` with each
/// message; a malformed packet is a WireError naming the rank and the frame's byte.
template <class Apply>
void for_each_frame(std::string_view packet, int from, Apply&& apply) {
  const auto refuse = [&](std::size_t at, const std::string& why) {
    throw wire::WireError("hpt::wire: the packet from rank " + std::to_string(from) + " (" +
                          std::to_string(packet.size()) + " bytes), frame at byte " +
                          std::to_string(at) + ": " + why);
  };
  if (packet.empty()) refuse(0, "an empty packet");
  std::size_t offset = 0;
  while (offset < packet.size()) {
    wire::Reader reader(packet.substr(offset), "packet");
    std::uint64_t length = 0;
    try {
      length = reader.varint("frame length");
    } catch (const wire::WireError& error) {
      refuse(offset, error.what());
    }
    const std::size_t start = offset + reader.offset();
    if (length > packet.size() - start)
      refuse(offset, "the frame claims " + std::to_string(length) + " bytes, " +
                         std::to_string(packet.size() - start) + " are left");
    wire::Message message;
    try {
      message = wire::decode(packet.substr(start, static_cast<std::size_t>(length)));
    } catch (const wire::WireError& error) {
      refuse(offset, error.what());
    }
    offset = start + static_cast<std::size_t>(length);
    apply(std::move(message));
  }
}

/// @brief A message of an unexpected kind, named with the rank it came from.
[[noreturn]] inline void unexpected_message(const wire::Message& message, int from,
                                            std::string_view while_doing) {
  throw wire::WireError("hpt::wire: rank " + std::to_string(from) + " sent a " +
                        std::string(wire::kind_name(wire::kind_of(message))) + " message " +
                        std::string(while_doing));
}

inline void hash_bytes(std::uint64_t& hash, std::string_view bytes) noexcept {
  for (const char c : bytes) {  // FNV-1a, 64 bits
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
}
inline void hash_field(std::uint64_t& hash, std::string_view field) noexcept {
  const std::string length = std::to_string(field.size()) + ":";  // unambiguous concatenation
  hash_bytes(hash, length);
  hash_bytes(hash, field);
}

/// @brief The study's fingerprint, which every rank computes from its own arguments: the same
/// for the same space, strategy, policy settings, direction, seed, result rule and study name.
template <SearchStrategy Strategy, StoppingPolicy Policy>
std::uint64_t study_fingerprint(const SearchSpace& space, const Strategy& strategy,
                                const Policy& policy, const StudyOptions& options) {
  const Study study(options, strategy.schedule(space));
  const StudyIdentity identity = identity_of(study, space, policy_settings(policy));
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  hash_field(hash, identity.name);
  hash_field(hash, std::to_string(static_cast<int>(identity.direction)));
  hash_field(hash, std::to_string(static_cast<int>(identity.result)));
  hash_field(hash, std::to_string(identity.seed));
  hash_field(hash, identity.space);
  hash_field(hash, identity.strategy);
  hash_field(hash, identity.policy);
  return hash;
}

/// @brief The closing handshake from rank 0: sends every worker Shutdown with `reason` (empty:
/// the study is over; else the error that ends the run, which the workers throw) and reads, and
/// drops, what they send until each has answered Shutdown. `busy(rank)` says whether a worker
/// may be running a job, which ends at its next step: it is waited for as long as it takes, as
/// the thread pool waits for its workers' steps; a worker that runs nothing and does not answer
/// (not an hpt worker) is given up after ten seconds without news. Never throws.
template <executors::MessageTransport Transport, class Busy>
void close_workers(Transport& transport, const std::string& reason, Busy&& busy,
                   std::string& packet) noexcept {
  constexpr auto idle_goodbye = std::chrono::seconds(10);
  std::vector<bool> waiting(static_cast<std::size_t>(std::max(transport.ranks(), 1)), false);
  int pending = 0;
  std::string message;
  try {
    wire::encode(wire::Shutdown{.reason = reason}, message);
  } catch (...) {
    return;  // out of memory: nothing can be told
  }
  for (int rank = 1; rank < transport.ranks(); ++rank) {
    try {
      transport.send(rank, message);
      waiting[static_cast<std::size_t>(rank)] = true;
      ++pending;
    } catch (...) {  // that rank cannot be told; the others still can
    }
  }
  try {
    auto news = std::chrono::steady_clock::now();
    while (pending > 0) {
      int from = 0;
      if (!transport.receive(from, packet, std::chrono::milliseconds(50))) {
        bool busy_pending = false;
        for (int rank = 1; rank < transport.ranks(); ++rank)
          busy_pending = busy_pending || (waiting[static_cast<std::size_t>(rank)] && busy(rank));
        if (!busy_pending && std::chrono::steady_clock::now() - news > idle_goodbye) return;
        continue;
      }
      news = std::chrono::steady_clock::now();
      if (from < 1 || from >= transport.ranks() || !waiting[static_cast<std::size_t>(from)])
        continue;
      bool goodbye = false;
      try {
        for_each_frame(packet, from, [&](wire::Message&& frame) {
          goodbye = goodbye || std::holds_alternative<wire::Shutdown>(frame);
        });
      } catch (...) {  // a malformed packet: the run is over, it is dropped
      }
      if (goodbye) {
        waiting[static_cast<std::size_t>(from)] = false;
        --pending;
      }
    }
  } catch (...) {  // the transport failed: nothing more can be heard
  }
}

/// @brief A worker that cannot take part (its own arguments are invalid): answers the greeting
/// with WorkerFailed, so that rank 0 ends the run naming it, and closes. Never throws.
template <executors::MessageTransport Transport>
void refuse_to_work(Transport& transport, const std::string& what) noexcept {
  try {
    std::string received, packet, scratch;
    bool shutdown = false;
    const auto start = std::chrono::steady_clock::now();
    bool told = false;
    // Bounded: a coordinator that is not hpt's may never close.
    while (!shutdown && std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
      int from = 0;
      if (!transport.receive(from, received, std::chrono::milliseconds(50)) || from != 0) continue;
      wire::Message message;
      try {
        message = wire::decode(received);
      } catch (...) {
        continue;
      }
      shutdown = std::holds_alternative<wire::Shutdown>(message);
      if (!shutdown && !told) {
        append_frame(packet, wire::WorkerFailed{.what = what}, scratch);
        transport.send(0, packet);
        packet.clear();
        told = true;
      }
    }
    append_frame(packet, wire::Shutdown{}, scratch);
    transport.send(0, packet);
  } catch (...) {
  }
}

/// @brief The runner on rank 0, which runs no trial: its slots keep what the coordinator needs
/// between a trial's jobs (a moving trial's checkpoint, the worker that holds one that stays),
/// and release() notes the held trials the coordinator ended, for their workers to free.
template <class T, class Policy>
class CoordinatorRunner {
 public:
  struct Slot {
    std::unique_ptr<T> object{};  ///< Always empty: the coordinator makes no trainable.
    std::unique_ptr<std::string> checkpoint{};  ///< A moving paused trial's latest save().
    std::int64_t steps = 0;
    int paused_rung = 0;
    [[no_unique_address]] typename StateOf<Policy>::type state{};
    int holder = 0;      ///< The worker holding the trial's trainable (a trial that stays), or 0.
    int running_on = 0;  ///< The worker running the trial's job now, or 0.
    std::int64_t job_resource = 0;  ///< The resource that job runs the trial to.
    std::size_t trial = 0;
  };

  explicit CoordinatorRunner(int ranks) : released_(static_cast<std::size_t>(ranks)) {}

  void release(Slot& slot, TrialStatus) {
    slot.checkpoint.reset();
    slot.state = {};
    if (slot.holder > 0) released_[static_cast<std::size_t>(slot.holder)].push_back(slot.trial);
    slot.holder = 0;
  }

  /// @brief Another session runs the trial now: the worker holding it may free it.
  void forget(Slot& slot, std::size_t trial) {
    slot.checkpoint.reset();
    if (slot.holder > 0) released_[static_cast<std::size_t>(slot.holder)].push_back(trial);
    slot.holder = 0;
  }

  /// @brief The trials worker `rank` may free, taken.
  std::vector<std::size_t> take_released(int rank) {
    return std::exchange(released_[static_cast<std::size_t>(rank)], {});
  }

 private:
  std::vector<std::vector<std::size_t>> released_;  // by rank
};

/// @brief Rank 0's executor loop: hands jobs to free workers, applies what they send back.
template <class Coordinator, class Runner, executors::MessageTransport Transport>
class RemoteCoordinatorLoop {
  using Slot = typename Runner::Slot;
  using Clock = std::chrono::steady_clock;

 public:
  /// @param trials_move The trainable is Checkpointable: a paused trial resumes on any worker.
  /// @param replay_rule_state The stopping policy is a trial rule with state, which a worker
  /// that does not hold the trial rebuilds from its recorded steps.
  RemoteCoordinatorLoop(Coordinator& coordinator, Runner& runner, Transport& transport,
                        bool trials_move, bool replay_rule_state)
      : coordinator_(coordinator),
        runner_(runner),
        transport_(transport),
        storage_(coordinator.study().options().storage.get()),
        trials_move_(trials_move),
        replay_rule_state_(replay_rule_state),
        workers_(static_cast<std::size_t>(transport.ranks())) {}
  RemoteCoordinatorLoop(const RemoteCoordinatorLoop&) = delete;
  RemoteCoordinatorLoop& operator=(const RemoteCoordinatorLoop&) = delete;

  /// @brief Greets every worker and checks its answer: throws WireError for a worker of another
  /// hpt, wire version or study.
  void handshake(std::uint64_t fingerprint) {
    for (int rank = 1; rank < transport_.ranks(); ++rank)
      send(rank, wire::Hello{.fingerprint = fingerprint});
    std::vector<bool> answered(workers_.size(), false);
    for (int waiting = transport_.ranks() - 1; waiting > 0; --waiting) {
      int from = 0;
      (void)transport_.receive(from, packet_, executors::wait_forever);
      check_rank(from);
      std::optional<std::string> failed;
      for_each_frame(packet_, from, [&](wire::Message&& message) {
        if (auto* reply = std::get_if<wire::HelloReply>(&message)) {
          if (answered[static_cast<std::size_t>(from)])
            throw wire::WireError("hpt::wire: rank " + std::to_string(from) + " greeted twice");
          answered[static_cast<std::size_t>(from)] = true;
          if (reply->rank != from)
            throw wire::WireError("hpt::wire: rank " + std::to_string(from) + " says it is rank " +
                                  std::to_string(reply->rank));
          wire::check_hello_reply(*reply, fingerprint);
        } else if (auto* failure = std::get_if<wire::WorkerFailed>(&message)) {
          worker(from).alive = false;
          failed = failure->what;
        } else {
          unexpected_message(message, from, "before answering the coordinator's greeting");
        }
      });
      if (failed) worker_failed(from, *failed);
    }
  }

  /// @brief The loop (Coordinator::run_with runs it); mirrors the thread pool's, with the
  /// storage's transactions in the same places.
  void run() {
    for (;;) {
      coordinator_.sync();
      dispatch();
      if (coordinator_.stop_requested()) {
        tell_stop();
        settle_queued();
      }
      if (in_flight_ == 0 && busy_ == 0) {
        // A stopping session leaves: the others finish the study without it.
        if (coordinator_.finished() || coordinator_.stop_requested() ||
            !coordinator_.others_running())
          break;  // finish() continues the transaction
        coordinator_.commit();
        (void)storage_->wait_for_news(storage_->poll_interval());
        continue;
      }
      int from = 0;
      if (storage_) {
        coordinator_.commit();
        if (!transport_.receive(from, packet_, storage_->poll_interval())) continue;
        coordinator_.sync();
      } else if (!transport_.receive(from, packet_, stop_check)) {
        continue;
      }
      apply_packet(from);
      // What else has arrived is applied in the same transaction.
      for (int more = 0; more < 64 && transport_.receive(from, packet_, {}); ++more)
        apply_packet(from);
    }
  }

  /// @brief The closing handshake (close_workers), with the reason the workers are told: empty
  /// when the study is over, else the error that ends the run. Never throws.
  void shutdown(const std::string& reason) noexcept {
    close_workers(
        transport_, reason,
        [this](int rank) { return workers_[static_cast<std::size_t>(rank)].busy; }, packet_);
  }

 private:
  struct Worker {
    bool alive = true;
    bool busy = false;
    bool told_stop = false;
    std::vector<Job> queued{};  ///< Jobs of trials this worker holds, waiting for it.
  };

  /// How often the loop looks at the stop token while waiting (without a storage).
  static constexpr std::chrono::microseconds stop_check{10'000};

  Worker& worker(int rank) { return workers_[static_cast<std::size_t>(rank)]; }

  void check_rank(int from) const {
    if (from < 1 || from >= transport_.ranks())
      throw wire::WireError("hpt::wire: a message from rank " + std::to_string(from) +
                            ", which is not a worker of this run (1.." +
                            std::to_string(transport_.ranks() - 1) + ")");
  }

  template <class Message>
  void send(int rank, const Message& message) {
    wire::encode(message, out_);
    transport_.send(rank, out_);
  }

  [[noreturn]] void worker_failed(int rank, const std::string& what) {
    Worker& failed = worker(rank);
    failed.alive = false;
    if (failed.busy) {
      failed.busy = false;
      --busy_;
    }
    throw std::runtime_error("hpt: worker rank " + std::to_string(rank) + " failed: " + what);
  }

  /// Fills every free worker with a batch, as the thread pool does; a job of a trial held by a
  /// busy worker waits in that worker's queue.
  void dispatch() {
    while (!coordinator_.finished() && !coordinator_.stop_requested()) {
      for (int rank = 1; rank < transport_.ranks(); ++rank) {
        Worker& held = worker(rank);
        if (held.alive && !held.busy && !held.queued.empty()) {
          std::vector<Job> jobs = std::move(held.queued);
          held.queued.clear();
          send_batch(rank, jobs);
        }
      }
      const int free = free_worker();
      if (free == 0) return;
      batch_.clear();
      bool queued = false;
      double expected = 0;
      while (batch_.size() < Coordinator::most_batch_jobs &&
             expected < Coordinator::batch_seconds) {
        const auto job = coordinator_.next_job();
        if (!job) break;
        Slot& slot = coordinator_.begin(*job);
        slot.trial = job->trial;
        slot.steps = coordinator_.study().trials()[job->trial].resource;  // for the batch size
        ++in_flight_;
        if (!trials_move_ && slot.holder > 0 && slot.holder != free) {
          worker(slot.holder).queued.push_back(*job);
          queued = true;
          continue;
        }
        batch_.push_back(*job);
        expected += coordinator_.expected_seconds(*job, slot);
      }
      if (batch_.empty() && !queued) return;  // nothing to hand out now
      if (!batch_.empty()) send_batch(free, batch_);
    }
  }

  /// A free live worker without queued jobs, taken round-robin; 0 when there is none.
  int free_worker() {
    const int workers = transport_.ranks() - 1;
    for (int i = 0; i < workers; ++i) {
      next_rank_ = next_rank_ % workers + 1;
      const Worker& candidate = worker(next_rank_);
      if (candidate.alive && !candidate.busy && candidate.queued.empty()) return next_rank_;
    }
    return 0;
  }

  void send_batch(int rank, const std::vector<Job>& jobs) {
    wire::RunBatch batch;
    batch.jobs.reserve(jobs.size());
    batch.release = runner_.take_released(rank);
    Study& study = coordinator_.study();
    for (const Job& job : jobs) {
      const Trial& trial = study.trials()[job.trial];
      Slot& slot = coordinator_.slot(job.trial);
      wire::RunJob& run = batch.jobs.emplace_back();
      run.job = job;
      run.config = trial.config;
      run.steps_done = trial.resource;
      if (slot.holder != rank) {  // the trial's state is not on that worker
        if (slot.checkpoint)
          run.checkpoint = *slot.checkpoint;
        else
          run.catch_up = trial.resource > 0;
        if (replay_rule_state_ && trial.resource > 0) run.replay = trial.curve;
      }
      if (!trials_move_) slot.holder = rank;
      slot.running_on = rank;
      slot.job_resource = job.resource;
    }
    send(rank, batch);
    worker(rank).busy = true;
    ++busy_;
  }

  /// Once the study is stopping: running jobs end at their next step.
  void tell_stop() {
    for (int rank = 1; rank < transport_.ranks(); ++rank) {
      Worker& running = worker(rank);
      if (running.alive && running.busy && !running.told_stop) {
        send(rank, wire::StopRequested{});
        running.told_stop = true;
      }
    }
  }

  /// Once the study is stopping: jobs still waiting for their worker end unstarted.
  void settle_queued() {
    for (Worker& waiting : workers_) {
      std::vector<Job> jobs = std::move(waiting.queued);
      waiting.queued.clear();
      for (const Job& job : jobs) {
        --in_flight_;
        coordinator_.apply_done(
            unstarted_job(job, coordinator_.study().trials()[job.trial].resource));
      }
    }
  }

  void apply_packet(int from) {
    check_rank(from);
    for_each_frame(packet_, from, [&](wire::Message&& message) { apply(from, message); });
  }

  Trial& running_trial(std::size_t trial, int from, const char* what) {
    auto& trials = coordinator_.study().trials();
    if (trial >= trials.size() || trials[trial].status != TrialStatus::running)
      throw wire::WireError("hpt::wire: rank " + std::to_string(from) + " sent " + what +
                            " of trial " + std::to_string(trial) + ", which is not running");
    if (const int runner = coordinator_.slot(trial).running_on; runner != from)
      throw wire::WireError(
          "hpt::wire: rank " + std::to_string(from) + " sent " + what + " of trial " +
          std::to_string(trial) + ", whose job " +
          (runner == 0 ? std::string("is not out") : "runs on rank " + std::to_string(runner)));
    return trials[trial];
  }

  void apply(int from, wire::Message& message) {
    if (auto* steps = std::get_if<wire::StepsDone>(&message)) {
      Trial& trial = running_trial(steps->trial, from, "steps");
      const std::int64_t last = coordinator_.slot(steps->trial).job_resource;
      for (Step& point : steps->points) {
        if (point.step <= trial.resource || point.step > last)
          throw wire::WireError("hpt::wire: rank " + std::to_string(from) + " sent step " +
                                std::to_string(point.step) + " of trial " +
                                std::to_string(steps->trial) + ", which is at step " +
                                std::to_string(trial.resource) + " of a job to step " +
                                std::to_string(last));
        coordinator_.apply_step(trial, std::move(point));
      }
    } else if (auto* judged = std::get_if<wire::JudgeStep>(&message)) {
      (void)running_trial(judged->trial, from, "a step to judge");
      auto ruling = coordinator_.rule(wire::step_report(*judged));
      send(from, wire::Ruling{.verdict = std::move(ruling.verdict),
                              .error = std::move(ruling.error),
                              .standard_exception = ruling.standard});
    } else if (auto* finished = std::get_if<wire::JobFinished>(&message)) {
      (void)running_trial(finished->job.trial, from, "the end of a job");
      if (finished->status == TrialStatus::running || finished->status == TrialStatus::pending)
        throw wire::WireError(
            "hpt::wire: rank " + std::to_string(from) + " sent the end of a job of trial " +
            std::to_string(finished->job.trial) + " with status " +
            std::string(to_string(finished->status)) + ", which is not how a job ends");
      --in_flight_;
      Slot& slot = coordinator_.slot(finished->job.trial);
      slot.running_on = 0;
      if (finished->checkpoint)
        slot.checkpoint = std::make_unique<std::string>(std::move(*finished->checkpoint));
      if (finished->status != TrialStatus::paused) slot.holder = 0;  // the worker let it go
      JobDone done = wire::job_done(*finished);
      coordinator_.note_job_time(done);
      coordinator_.apply_done(std::move(done));
    } else if (std::holds_alternative<wire::WorkerFree>(message)) {
      Worker& freed = worker(from);
      if (!freed.busy)
        throw wire::WireError("hpt::wire: rank " + std::to_string(from) +
                              " says it is free, but it had no jobs");
      freed.busy = false;
      freed.told_stop = false;
      --busy_;
    } else if (auto* failure = std::get_if<wire::WorkerFailed>(&message)) {
      worker_failed(from, failure->what);
    } else {
      unexpected_message(message, from, "(a message only the coordinator sends)");
    }
  }

  Coordinator& coordinator_;
  Runner& runner_;
  Transport& transport_;
  Storage* storage_;
  bool trials_move_;
  bool replay_rule_state_;
  std::vector<Worker> workers_;  // by rank; [0] is the coordinator and unused
  std::size_t in_flight_ = 0;    // jobs begun whose end has not been applied (queued included)
  std::size_t busy_ = 0;         // workers running a batch
  int next_rank_ = 0;
  std::vector<Job> batch_;
  std::string packet_;  // the last packet received
  std::string out_;     // the last message sent
};

/// @brief A worker rank: runs the jobs rank 0 sends, and is the trial runner's sink.
template <class Runner, class Policy, executors::MessageTransport Transport>
class RemoteWorker {
  using Slot = typename Runner::Slot;
  using T = typename Runner::T;
  using Clock = std::chrono::steady_clock;

 public:
  RemoteWorker(Runner& runner, const Policy& policy, const StudyOptions& options,
               Transport& transport, std::string host)
      : runner_(runner),
        policy_(policy),
        options_(options),
        transport_(transport),
        host_(std::move(host)) {}
  RemoteWorker(const RemoteWorker&) = delete;
  RemoteWorker& operator=(const RemoteWorker&) = delete;

  /// @brief Answers the coordinator's greeting and runs its jobs until it says Shutdown. A
  /// malformed or unexpected message, or a coordinator of another study, throws WireError here
  /// after telling the coordinator (WorkerFailed), which throws too.
  void serve(std::uint64_t fingerprint) {
    try {
      greet(fingerprint);
      while (!leaving_) {
        wire::Message message = receive();
        if (auto* batch = std::get_if<wire::RunBatch>(&message)) {
          run_batch(*batch);
        } else if (std::holds_alternative<wire::StopRequested>(message)) {
          stop_ = true;  // it crossed the end of the batch it was meant for
        } else if (auto* shutdown = std::get_if<wire::Shutdown>(&message)) {
          leaving_ = true;
          shutdown_reason_ = std::move(shutdown->reason);
        } else {
          unexpected_message(message, 0, "to a worker waiting for jobs");
        }
      }
    } catch (const std::exception& error) {
      try {
        packet_.clear();
        append_frame(packet_, wire::WorkerFailed{.what = error.what()}, scratch_);
        transport_.send(0, packet_);
      } catch (...) {  // the coordinator cannot be told: the exception says it all
      }
      wait_for_shutdown();
      say_goodbye();
      throw;
    }
    say_goodbye();
    if (!shutdown_reason_.empty())
      throw std::runtime_error("hpt: the coordinator (rank 0) ended the study: " +
                               shutdown_reason_);
  }

  // ---- The runner's sink ----

  /// Called before every step (and before a batch's job starts): also where what waits in the
  /// packet goes out once it is a millisecond old, so that a long job after a short one holds
  /// the short one's end back by at most a millisecond and one step.
  [[nodiscard]] bool stop_requested() {
    if (stop_) return true;
    const auto now = Clock::now();
    if (now - polled_ < std::chrono::milliseconds(1)) return false;
    polled_ = now;
    if (!packet_.empty() && now - flushed_ >= std::chrono::milliseconds(1)) flush();
    int from = 0;
    while (transport_.receive(from, received_, {}))
      take_stop(decode_from(from), "while a job runs");
    return stop_;
  }

  Verdict judge(const StepReport& report) {
    flush();
    wire::Ruling ruling;
    try {
      packet_.clear();
      append_frame(packet_,
                   wire::JudgeStep{.trial = report.trial,
                                   .step = report.step,
                                   .objective = report.objective,
                                   .metrics = report.metrics ? *report.metrics : Metrics{},
                                   .direction = report.direction,
                                   .epoch = report.epoch},
                   scratch_);
      transport_.send(0, packet_);
      packet_.clear();
      for (;;) {
        int from = 0;
        (void)transport_.receive(from, received_, executors::wait_forever);
        wire::Message message = decode_from(from);
        if (auto* answer = std::get_if<wire::Ruling>(&message)) {
          ruling = std::move(*answer);
          break;
        }
        take_stop(message, "to a worker waiting for a ruling");
        if (leaving_) break;  // no ruling will come: go on, the job ends at its next step
      }
    } catch (...) {
      // The runner would count this as the rule's failure: kept, and rethrown after the job.
      fatal_ = std::current_exception();
      throw;
    }
    if (ruling.error && ruling.standard_exception) throw std::runtime_error(*ruling.error);
    if (ruling.error) throw NonStandardRuleError{};
    return std::move(ruling.verdict);
  }

  void step(std::size_t trial, Step&& point) {
    if (!points_.empty() && trial != points_trial_) close_steps();
    points_trial_ = trial;
    points_.push_back(std::move(point));
    flush_if_due();
  }

  void done(JobDone&& done) {
    close_steps();
    std::optional<std::string> checkpoint;
    if (done.saved && current_ && current_->checkpoint) {
      checkpoint = std::move(*current_->checkpoint);
      current_->checkpoint.reset();
    }
    last_status_ = done.status;
    append_frame(packet_, wire::job_finished(done, std::move(checkpoint)), scratch_);
    flush_if_due();
  }

 private:
  void greet(std::uint64_t fingerprint) {
    wire::Message message = receive();
    if (auto* shutdown = std::get_if<wire::Shutdown>(&message)) {  // rank 0 failed first
      leaving_ = true;
      shutdown_reason_ = std::move(shutdown->reason);
      return;
    }
    const auto* hello = std::get_if<wire::Hello>(&message);
    if (!hello) unexpected_message(message, 0, "where its greeting (hello) was due");
    packet_.clear();
    append_frame(
        packet_,
        wire::HelloReply{.fingerprint = fingerprint, .rank = transport_.rank(), .host = host_},
        scratch_);
    transport_.send(0, packet_);
    packet_.clear();
    wire::check_hello(*hello, fingerprint);  // after replying: both sides say what differs
  }

  /// After a failure: reads (and drops) what comes until the coordinator's Shutdown, at most
  /// `failed_goodbye` (a coordinator that is not hpt's never sends one).
  void wait_for_shutdown() noexcept {
    try {
      const auto start = Clock::now();
      while (!leaving_ && Clock::now() - start < failed_goodbye) {
        int from = 0;
        if (!transport_.receive(from, received_, std::chrono::milliseconds(50))) continue;
        if (from != 0) continue;
        try {
          leaving_ = std::holds_alternative<wire::Shutdown>(wire::decode(received_));
        } catch (...) {  // more of whatever made it fail
        }
      }
    } catch (...) {
    }
  }

  /// The worker's half of the closing handshake: nothing more comes from this rank.
  void say_goodbye() noexcept {
    try {
      packet_.clear();
      append_frame(packet_, wire::Shutdown{}, scratch_);
      transport_.send(0, packet_);
      packet_.clear();
    } catch (...) {
    }
  }

  static constexpr std::chrono::seconds failed_goodbye{30};

  wire::Message receive() {
    int from = 0;
    (void)transport_.receive(from, received_, executors::wait_forever);
    return decode_from(from);
  }

  wire::Message decode_from(int from) {
    if (from != 0)
      throw wire::WireError("hpt::wire: a worker got a message from rank " + std::to_string(from) +
                            "; only the coordinator (rank 0) sends to workers");
    try {
      return wire::decode(received_);
    } catch (const wire::WireError& error) {
      throw wire::WireError(std::string("hpt::wire: from the coordinator: ") + error.what());
    }
  }

  /// A message that may come while a job runs: StopRequested, or Shutdown (the coordinator is
  /// unwinding from an error: the worker leaves after this job).
  void take_stop(const wire::Message& message, const char* while_doing) {
    if (const auto* shutdown = std::get_if<wire::Shutdown>(&message)) {
      leaving_ = true;
      shutdown_reason_ = shutdown->reason;
    } else if (!std::holds_alternative<wire::StopRequested>(message)) {
      unexpected_message(message, 0, while_doing);
    }
    stop_ = true;
  }

  void run_batch(wire::RunBatch& batch) {
    for (const std::size_t trial : batch.release) {
      const auto found = held_.find(trial);
      if (found == held_.end()) continue;  // it ended here already
      runner_.release(found->second, TrialStatus::pruned);
      held_.erase(found);
    }
    for (wire::RunJob& job : batch.jobs) {
      // Trivial jobs' ends travel together; stop_requested() sends them on during a long job.
      if (!packet_.empty() && Clock::now() - flushed_ >= std::chrono::milliseconds(1)) flush();
      const std::size_t trial = job.job.trial;
      auto [found, fresh] = held_.try_emplace(trial);
      Slot& slot = found->second;
      if (fresh) {
        slot.steps = job.steps_done;
        if (job.checkpoint)
          slot.checkpoint = std::make_unique<std::string>(std::move(*job.checkpoint));
        else if (job.steps_done > 0 && !job.catch_up)
          throw wire::WireError("hpt::wire: a job of trial " + std::to_string(trial) + " after " +
                                std::to_string(job.steps_done) +
                                " steps came with neither a checkpoint nor catch_up, and this "
                                "worker does not hold the trial");
        replay(slot, job);
      } else if (slot.steps != job.steps_done) {
        throw wire::WireError("hpt::wire: a job of trial " + std::to_string(trial) + " after " +
                              std::to_string(job.steps_done) +
                              " steps, but this worker holds it "
                              "after " +
                              std::to_string(slot.steps));
      }
      if (leaving_) return;  // the rest of the batch is dropped, unreported
      current_ = &slot;
      if (stop_requested())
        runner_.interrupt(slot, job.job, *this);
      else
        runner_.run(slot, job.job, job.config, *this);
      current_ = nullptr;
      if (fatal_) std::rethrow_exception(std::exchange(fatal_, nullptr));
      // A trial that stays here keeps its trainable while it is paused; any other slot goes.
      if (Checkpointable<T> || last_status_ != TrialStatus::paused) {
        runner_.release(slot, last_status_);
        held_.erase(trial);
      }
    }
    close_steps();
    append_frame(packet_, wire::WorkerFree{}, scratch_);
    flush();
  }

  /// Rebuilds the trial rule's state from the steps the trial recorded, as a resumed study does.
  void replay(Slot& slot, const wire::RunJob& job) {
    if constexpr (TrialRule<Policy>) {
      for (const Step& point : job.replay) {
        if (!std::isfinite(point.objective)) continue;
        const Metrics metrics{point.objective, point.values};
        const StepReport report{job.job.trial, point.step, point.objective, &metrics,
                                options_.direction};
        try {
          (void)policy_.check(slot.state, report);
        } catch (...) {  // it threw in the run too: the trial's end said so
        }
      }
    } else {
      (void)slot;
      (void)job;
    }
  }

  void close_steps() {
    if (points_.empty()) return;
    append_frame(packet_, wire::StepsDone{.trial = points_trial_, .points = std::move(points_)},
                 scratch_);
    points_.clear();
  }

  void flush_if_due() {
    if (Clock::now() - flushed_ >= std::chrono::milliseconds(1)) flush();
  }

  void flush() {
    flushed_ = Clock::now();
    close_steps();
    if (packet_.empty()) return;
    transport_.send(0, packet_);
    packet_.clear();
  }

  Runner& runner_;
  const Policy& policy_;
  const StudyOptions& options_;
  Transport& transport_;
  std::string host_;
  std::map<std::size_t, Slot> held_;  // trials whose state lives here: the running one, and
                                      // paused trials that stay
  Slot* current_ = nullptr;
  TrialStatus last_status_ = TrialStatus::running;
  bool stop_ = false;
  bool leaving_ = false;           // Shutdown came
  std::string shutdown_reason_{};  // its reason: the error that ended the run, if one did
  std::exception_ptr fatal_{};
  Clock::time_point polled_{};
  Clock::time_point flushed_ = Clock::now();
  std::size_t points_trial_ = 0;
  std::vector<Step> points_;
  std::string packet_;    // frames waiting to be sent
  std::string scratch_;   // one encoded message
  std::string received_;  // the last message received
};

/// @brief Rank 0's part of run_distributed_study; sets `closed` once its loop has closed the
/// workers.
template <class T, SearchStrategy Strategy, StoppingPolicy Policy,
          executors::MessageTransport Transport, class... Observers>
std::optional<Study> coordinate_ranks(Transport& transport, const SearchSpace& space,
                                      const Strategy& strategy, Policy& policy,
                                      const StudyOptions& options, bool& closed,
                                      Observers&... observers) {
  check_study_inputs(space, strategy, policy, options);
  const std::uint64_t fingerprint = study_fingerprint(space, strategy, policy, options);
  Study study = make_study(space, strategy, options);
  auto scheduler = strategy.make_scheduler(space, options.seed);
  Storage* storage = options.storage.get();
  const CloseSession close_session{storage};
  using Runner = CoordinatorRunner<T, Policy>;
  Runner runner(transport.ranks());
  Coordinator<Runner, decltype(scheduler), Policy, Observers...> coordinator(
      runner, scheduler, policy, study, observers...);
  using Loop = RemoteCoordinatorLoop<decltype(coordinator), Runner, Transport>;
  constexpr bool replay_rule_state =
      TrialRule<Policy> && !std::is_empty_v<typename StateOf<Policy>::type>;
  Loop loop(coordinator, runner, transport, Checkpointable<T>, replay_rule_state);
  // On an error the storage's transaction goes first (other sessions must not wait for this
  // one's workers), then the workers are closed with its message.
  const auto fail = [&](const std::string& reason) {
    coordinator.release();
    closed = true;
    loop.shutdown(reason);
  };
  try {
    loop.handshake(fingerprint);
    if (storage)
      coordinator.resume(
          storage->open(identity_of(study, space, policy_settings(policy)), options.open));
    const InterruptHandler interrupt_handler(options.stop_on_interrupt);
    coordinator.run_with([&] { loop.run(); });
  } catch (const std::exception& error) {
    fail(error.what());
    throw;
  } catch (...) {
    fail("an exception that is not a std::exception");
    throw;
  }
  closed = true;
  loop.shutdown({});
  return study;
}

/// @brief Runs a study over `transport`: on rank 0 it coordinates and returns the study, on the
/// other ranks it runs trials and returns nothing. With one rank it is run_study (the local
/// executors, StudyOptions::workers). Every rank must call it with the same arguments.
template <class Space, class Factory, SearchStrategy Strategy, StoppingPolicy Policy,
          executors::MessageTransport Transport, class... Observers>
std::optional<Study> run_distributed_study(Transport& transport, std::string host,
                                           const Space& space, Factory& factory,
                                           const Strategy& strategy, Policy policy,
                                           const StudyOptions& options, Observers&... observers) {
  if (transport.ranks() < 2)
    return run_study(space, factory, strategy, std::move(policy), options, observers...);
  const SearchSpace& untyped_space = untyped(space);
  using WorkerRunner = TrialRunner<Space, Factory, Policy>;
  using T = typename WorkerRunner::T;
  std::string packet;
  if (transport.rank() != 0) {
    std::uint64_t fingerprint = 0;
    std::optional<WorkerRunner> runner;
    try {
      check_study_inputs(untyped_space, strategy, policy, options);
      fingerprint = study_fingerprint(untyped_space, strategy, policy, options);
      // Every paused Checkpointable trial is saved: its checkpoint is how it moves.
      runner.emplace(space, factory, policy, options, 2, Checkpointable<T>);
    } catch (const std::exception& error) {  // rank 0 ends the run, naming this rank and why
      refuse_to_work(transport, error.what());
      throw;
    }
    RemoteWorker<WorkerRunner, Policy, Transport> worker(*runner, policy, options, transport,
                                                         std::move(host));
    worker.serve(fingerprint);
    return std::nullopt;
  }
  // Rank 0. However its run ends the workers are closed, told why when it is an error: by the
  // loop once there is one, before that (invalid options, a space the strategy refuses) here.
  bool closed = false;
  const auto close_early = [&](const std::string& reason) {
    if (!closed)
      close_workers(
          transport, reason, [](int) { return false; }, packet);
  };
  try {
    return coordinate_ranks<T>(transport, untyped_space, strategy, policy, options, closed,
                               observers...);
  } catch (const std::exception& error) {
    close_early(error.what());
    throw;
  } catch (...) {
    close_early("an exception that is not a std::exception");
    throw;
  }
}

}  // namespace detail
}  // namespace hpt
