// Where the CPU ranks of a communicator group meet: a reusable barrier with a timeout that
// fails the whole group (naming the ranks that never arrived) instead of hanging, and one
// posted pointer per rank for the collective in progress.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace stagefence::collective {

class Rendezvous {
 public:
  Rendezvous(int size, std::chrono::milliseconds timeout);

  // Publishes this rank's pointer for the collective in progress.
  void post(int rank, const void* ptr);
  const void* posted(int rank) const;
  // Returns once every rank has arrived at the same barrier. Throws Timeout when some rank
  // does not arrive in time (and from then on at every call: the group has failed).
  void barrier(int rank, const char* collective);

 private:
  const int size_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  int waiting_ = 0;
  std::vector<uint64_t> arrivals_;  // barriers each rank has entered
  std::vector<const void*> posted_;
  std::string failure_;  // non-empty once the group failed
};

}  // namespace stagefence::collective
