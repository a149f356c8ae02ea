#pragma once
/// @file mpi.hpp
/// @brief Studies across the ranks of an MPI run (`mpirun -np N`, Slurm's `srun`): rank 0
/// coordinates, ranks 1 .. N-1 run trials. Needs MPI (CMake target hpt::mpi; Debian's
/// libopenmpi-dev); the rest of hpt does not.
///
/// ```
/// int main(int argc, char** argv) {
///   hpt::mpi::Session mpi(argc, argv);  // MPI_Init_thread ... MPI_Finalize
///   auto study = hpt::mpi::tune<MyTrainer>(space, hpt::Hyperband{.max_resource = 81},
///                                          hpt::Patience{.patience = 5}, {.seed = 42});
///   if (study) hpt::print_leaderboard(std::cout, *study);  // rank 0 only
/// }
/// ```
/// Every rank calls tune() with the same arguments (ranks that disagree are refused at the
/// start, naming both). On rank 0 it returns the study, on the other ranks nothing, once the
/// study is over. Run as one process (no mpirun, or -np 1) it is hpt::tune() with
/// StudyOptions::workers threads. The protocol is hpt/executors/remote.hpp's; docs/distributed.md
/// says what survives what.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "hpt/engine/tune.hpp"
#include "hpt/executors/remote.hpp"
#include "hpt/study/study.hpp"

namespace hpt::mpi {

/// @brief Thrown when an MPI call fails; says which call and MPI's own message.
class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw MpiError(std::string("hpt::mpi: ") + call + " failed: " +
                 (length > 0 ? std::string(text, static_cast<std::size_t>(length))
                             : "error " + std::to_string(code)));
}

}  // namespace detail

/// @brief MPI for the life of the program: MPI_Init_thread (MPI_THREAD_FUNNELED: trainers may
/// use threads, hpt calls MPI from the thread that calls tune()) and MPI_Finalize. Where MPI is
/// initialized already, it neither initializes nor finalizes.
class Session {
 public:
  Session() : Session(nullptr, nullptr) {}
  Session(int& argc, char**& argv) : Session(&argc, &argv) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    int finalized = 0;
    if (owner_ && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
  }

  /// @brief This process's rank in MPI_COMM_WORLD: 0 coordinates.
  [[nodiscard]] int rank() const {
    int rank = 0;
    detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    return rank;
  }
  /// @brief The number of processes in MPI_COMM_WORLD.
  [[nodiscard]] int ranks() const {
    int ranks = 0;
    detail::check(MPI_Comm_size(MPI_COMM_WORLD, &ranks), "MPI_Comm_size");
    return ranks;
  }
  /// @brief True on rank 0, where tune() returns the study.
  [[nodiscard]] bool coordinator() const { return rank() == 0; }

 private:
  Session(int* argc, char*** argv) {
    int initialized = 0;
    detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (initialized) return;
    int provided = 0;
    detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owner_ = true;
  }
  bool owner_ = false;
};

/// @brief hpt's messages on a communicator of their own (a duplicate of the one given), so they
/// never meet the program's own MPI traffic. Errors on it are returned, and thrown as MpiError.
///
/// A waiting receive probes, yields, then sleeps from 20 to 250 microseconds between probes:
/// MPI's own blocking receive spins, which on an oversubscribed machine (more ranks than cores)
/// takes the core a rank with work needs.
class Transport {
 public:
  explicit Transport(MPI_Comm communicator = MPI_COMM_WORLD) {
    int initialized = 0;
    detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized)
      throw std::logic_error(
          "hpt::mpi: MPI is not initialized: create an hpt::mpi::Session (or call MPI_Init) "
          "before tune()");
    detail::check(MPI_Comm_dup(communicator, &communicator_), "MPI_Comm_dup");
    detail::check(MPI_Comm_set_errhandler(communicator_, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler");
    detail::check(MPI_Comm_rank(communicator_, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(communicator_, &ranks_), "MPI_Comm_size");
  }
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  ~Transport() { MPI_Comm_free(&communicator_); }

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int ranks() const noexcept { return ranks_; }

  void send(int to, std::string_view bytes) {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
      throw std::length_error("hpt::mpi: a message of " + std::to_string(bytes.size()) +
                              " bytes to rank " + std::to_string(to) + " is over MPI's limit of " +
                              std::to_string(INT_MAX) + " (a checkpoint that large?)");
    // MPI_Send does not write through its buffer; the MPI 3 binding still takes void*.
    detail::check(MPI_Send(const_cast<char*>(bytes.data()), static_cast<int>(bytes.size()),
                           MPI_BYTE, to, tag, communicator_),
                  "MPI_Send");
  }

  bool receive(int& from, std::string& bytes, std::chrono::microseconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    std::chrono::microseconds pause{20};
    for (int probes = 0;; ++probes) {
      int found = 0;
      MPI_Message message{};
      MPI_Status status{};
      detail::check(MPI_Improbe(MPI_ANY_SOURCE, tag, communicator_, &found, &message, &status),
                    "MPI_Improbe");
      if (found) {
        int count = 0;
        detail::check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
        bytes.resize(static_cast<std::size_t>(count));
        detail::check(MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE),
                      "MPI_Mrecv");
        from = status.MPI_SOURCE;
        return true;
      }
      if (timeout <= std::chrono::microseconds::zero()) return false;
      const auto waited =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      if (timeout != executors::wait_forever && waited >= timeout) return false;
      if (probes < 64) {
        std::this_thread::yield();
        continue;
      }
      auto sleep = pause;
      if (timeout != executors::wait_forever) sleep = std::min(sleep, timeout - waited);
      std::this_thread::sleep_for(sleep);
      pause = std::min(pause * 2, std::chrono::microseconds{250});
    }
  }

 private:
  static constexpr int tag = 0x6870;  // any tag: the communicator is hpt's alone
  MPI_Comm communicator_ = MPI_COMM_NULL;
  int rank_ = 0;
  int ranks_ = 1;
};

/// @brief This node's name, as MPI knows it (for messages naming a rank).
inline std::string processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  detail::check(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
  return std::string(name, static_cast<std::size_t>(std::max(length, 0)));
}

/// @brief Tunes T (made from each configuration, as hpt::tune<T>) across the ranks of
/// MPI_COMM_WORLD; the study on rank 0, nothing on the others.
template <class T, Space S, SearchStrategy Strategy, StoppingPolicy Policy = NoStopping,
          Observer... Observers>
std::optional<Study> tune(const S& space, const Strategy& strategy, Policy policy = {},
                          const StudyOptions& options = {}, Observers&&... observers) {
  static_assert(hpt::detail::HasStep<T>,
                "hpt::mpi::tune<T>: T has no step() that can be called: a trainer needs a member "
                "`hpt::Metrics step()` (or one returning the objective as a number)");
  static_assert(Trainable<T>,
                "hpt::mpi::tune<T>: T::step() must return hpt::Metrics or a number (not bool)");
  static_assert(ConstructibleFromConfiguration<T, S>,
                "hpt::mpi::tune<T>: T needs a constructor from `const hpt::Config&` (or, for a "
                "TypedSpace<Struct>, from `const Struct&`)");
  auto factory = [](const hpt::detail::ParametersOf<S>& parameters) {
    return std::make_unique<T>(parameters);
  };
  Transport transport;
  return hpt::detail::run_distributed_study(transport, processor_name(), space, factory, strategy,
                                            std::move(policy), options, observers...);
}

/// @brief Tunes the trainables `factory` makes, across the ranks of MPI_COMM_WORLD.
template <Space S, ConfigurationFactory<S> Factory, SearchStrategy Strategy,
          StoppingPolicy Policy = NoStopping, Observer... Observers>
std::optional<Study> tune(const S& space, Factory&& factory, const Strategy& strategy,
                          Policy policy = {}, const StudyOptions& options = {},
                          Observers&&... observers) {
  Transport transport;
  return hpt::detail::run_distributed_study(transport, processor_name(), space, factory, strategy,
                                            std::move(policy), options, observers...);
}

}  // namespace hpt::mpi
