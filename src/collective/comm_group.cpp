#include "collective/comm_group.hpp"

#include <cstdint>
#include <map>
#include <mutex>

#include "stagefence/error.hpp"

namespace stagefence::detail {

namespace {

struct Registry {
  std::mutex mu;
  uint64_t next_id = 1;
  std::map<uint64_t, std::weak_ptr<CommGroup>> groups;
};

Registry& registry() {
  static Registry* r = new Registry;  // outlives groups destroyed during static teardown
  return *r;
}

}  // namespace

CommGroup::~CommGroup() {
  if (nccl)
    for (collective::NcclLibrary::Comm c : comms)
      if (c) nccl->comm_destroy(c);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.groups.erase(id);
}

std::shared_ptr<CommGroup> register_group(std::unique_ptr<CommGroup> group) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  group->id = r.next_id++;
  std::shared_ptr<CommGroup> shared(std::move(group));
  r.groups[shared->id] = shared;
  return shared;
}

std::shared_ptr<CommGroup> find_group(uint64_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  const auto it = r.groups.find(id);
  std::shared_ptr<CommGroup> g = it == r.groups.end() ? nullptr : it->second.lock();
  if (!g)
    raise(ErrorCode::State, "communicator group " + std::to_string(id) +
                                " no longer exists; keep its communicators alive while their "
                                "collectives run");
  return g;
}

}  // namespace stagefence::detail
