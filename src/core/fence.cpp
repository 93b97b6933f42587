#include "stagefence/fence.hpp"

#include <cstdint>

#include "core/fence_state.hpp"

namespace stagefence {

Fence::Fence(std::shared_ptr<FenceState> state) : state_(std::move(state)) {}

static FenceState& require(const std::shared_ptr<FenceState>& s) {
  if (!s) raise(ErrorCode::InvalidArgument, "use of an empty Fence");
  return *s;
}

uint64_t Fence::id() const {
  return require(state_).id;
}
const std::string& Fence::name() const {
  return require(state_).name;
}
uint64_t Fence::completed_value() const {
  return require(state_).value();
}
void Fence::wait(uint64_t value, WaitTimeout timeout) const {
  FenceState& s = require(state_);
  s.wait_or_throw(value, timeout ? *timeout : s.default_timeout);
}
void Fence::signal(uint64_t value) const {
  require(state_).signal(value);
}
bool Fence::poisoned() const {
  return require(state_).poisoned();
}
std::string Fence::poison_message() const {
  return require(state_).poison_message();
}

}  // namespace stagefence
