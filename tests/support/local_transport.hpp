#pragma once
// The remote executor's transport over threads of one process (one mailbox per rank), so that the
// protocol of hpt/executors/remote.hpp is tested in every configuration (ThreadSanitizer
// included) without mpirun; tests/mpi runs the same code over MPI. run_ranks() runs a study as
// N ranks, one thread each.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <hpt/executors/remote.hpp>
#include <hpt/study/study.hpp>

namespace test_support {

/// Mailboxes of `ranks` ranks; messages between two ranks keep their order, as with MPI.
class LocalNetwork {
 public:
  explicit LocalNetwork(int ranks) {
    for (int i = 0; i < ranks; ++i) boxes_.push_back(std::make_unique<Mailbox>());
  }
  [[nodiscard]] int ranks() const noexcept { return static_cast<int>(boxes_.size()); }

  void send(int from, int to, std::string_view bytes) {
    Mailbox& box = *boxes_.at(static_cast<std::size_t>(to));
    {
      const std::lock_guard lock(box.mutex);
      box.messages.emplace_back(from, std::string(bytes));
    }
    box.arrived.notify_one();
  }

  bool receive(int rank, int& from, std::string& bytes, std::chrono::microseconds timeout) {
    Mailbox& box = *boxes_.at(static_cast<std::size_t>(rank));
    std::unique_lock lock(box.mutex);
    const auto ready = [&] { return !box.messages.empty(); };
    if (timeout == hpt::executors::wait_forever)
      box.arrived.wait(lock, ready);
    else if (!box.arrived.wait_for(lock, timeout, ready))
      return false;
    from = box.messages.front().first;
    bytes = std::move(box.messages.front().second);
    box.messages.pop_front();
    return true;
  }

 private:
  struct Mailbox {
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<std::pair<int, std::string>> messages;
  };
  std::vector<std::unique_ptr<Mailbox>> boxes_;
};

/// One rank's view of a LocalNetwork: a hpt::executors::MessageTransport.
class LocalTransport {
 public:
  LocalTransport(LocalNetwork& network, int rank) : network_(&network), rank_(rank) {}
  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int ranks() const noexcept { return network_->ranks(); }
  void send(int to, std::string_view bytes) { network_->send(rank_, to, bytes); }
  bool receive(int& from, std::string& bytes, std::chrono::microseconds timeout) {
    return network_->receive(rank_, from, bytes, timeout);
  }

 private:
  LocalNetwork* network_;
  int rank_;
};

static_assert(hpt::executors::MessageTransport<LocalTransport>);

/// What each rank of a run returned or threw.
struct RankResults {
  std::optional<hpt::Study> study{};       ///< Rank 0's.
  std::vector<std::exception_ptr> errors;  ///< By rank.
  std::vector<bool> returned_study;        ///< By rank: tune() returned a study there.
};

/// Runs `rank_main(transport)` on `ranks` threads (one per rank) and gathers what they returned
/// (an std::optional<hpt::Study>) and threw.
template <class RankMain>
RankResults run_ranks(int ranks, RankMain rank_main) {
  LocalNetwork network(ranks);
  RankResults results;
  results.errors.resize(static_cast<std::size_t>(ranks));
  results.returned_study.resize(static_cast<std::size_t>(ranks));
  std::vector<std::optional<hpt::Study>> studies(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank)
    threads.emplace_back([&, rank] {
      LocalTransport transport(network, rank);
      try {
        studies[static_cast<std::size_t>(rank)] = rank_main(transport);
      } catch (...) {
        results.errors[static_cast<std::size_t>(rank)] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  for (std::size_t rank = 0; rank < studies.size(); ++rank)
    results.returned_study[rank] = studies[rank].has_value();
  results.study = std::move(studies[0]);
  return results;
}

}  // namespace test_support
