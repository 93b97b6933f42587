#include "stagefence/encoder_session.hpp"

#include "core/command_buffer.hpp"
#include "core/device_core.hpp"
#include "stagefence/device.hpp"

namespace stagefence {

const char* session_state_name(SessionState s) {
  switch (s) {
    case SessionState::Empty:
      return "Empty";
    case SessionState::Encoding:
      return "Encoding";
    case SessionState::Drained:
      return "Drained";
    case SessionState::Fenced:
      return "Fenced";
  }
  return "?";
}

EncoderSession::EncoderSession(CommandEncoder encoder, std::shared_ptr<DeviceCore> device)
    : enc_(std::move(encoder)), dev_(std::move(device)) {}

CommandEncoder& EncoderSession::encoder() {
  return enc_;
}

void EncoderSession::dispatch(KernelId kernel, std::initializer_list<Binding> bindings,
                              std::initializer_list<Scalar> scalars, std::optional<Launch> launch) {
  enc_.dispatch(kernel, bindings, scalars, launch);
}

void EncoderSession::dispatch(std::string_view kernel, std::initializer_list<Binding> bindings,
                              std::initializer_list<Scalar> scalars, std::optional<Launch> launch) {
  enc_.dispatch(kernel, bindings, scalars, launch);
}

void EncoderSession::barrier() {
  enc_.barrier();
}

void EncoderSession::begin_stage(std::string_view label) {
  label_ = std::string(label);
}

void EncoderSession::apply_label() {
  if (!label_.empty()) enc_.set_label(label_);
}

void EncoderSession::commit_stage() {
  if (drained_) return;
  apply_label();
  enc_.commit();
  drained_ = true;
  fence_pending_ = false;
}

void EncoderSession::commit_and_wait(WaitTimeout timeout) {
  if (drained_) return;
  apply_label();
  enc_.commit();
  drained_ = true;
  fence_pending_ = false;
  enc_.wait(timeout);
}

void EncoderSession::fence_stage(std::optional<std::string_view> label) {
  if (drained_) return;
  if (label) label_ = std::string(*label);
  apply_label();
  if (!fence_.valid()) fence_ = Fence(dev_->make_fence("session"));
  enc_.signal(fence_, fence_value_ + 1);
  try {
    enc_.commit();
  } catch (...) {
    enc_.current()->signals.pop_back();  // the buffer stays uncommitted and unchanged
    throw;
  }
  ++fence_value_;
  drained_ = true;
  fence_pending_ = true;
}

void EncoderSession::reset_for_next_stage() {
  if (!drained_) return;
  enc_.reset();
  if (fence_pending_) {
    enc_.wait_for(fence_, fence_value_);
    ++wait_count_;
    wait_value_ = fence_value_;
  }
  drained_ = false;
  fence_pending_ = false;
  label_.clear();
}

void EncoderSession::wait(WaitTimeout timeout) {
  enc_.wait(timeout);
}

bool EncoderSession::add_to_residency_set(const Buffer& buffer) const {
  return ResidencySet(dev_->residency).add(buffer);
}

bool EncoderSession::remove_from_residency_set(const Buffer& buffer) const {
  return ResidencySet(dev_->residency).remove(buffer);
}

SessionState EncoderSession::state() const {
  if (drained_) return fence_pending_ ? SessionState::Fenced : SessionState::Drained;
  return enc_.has_dispatches() ? SessionState::Encoding : SessionState::Empty;
}

}  // namespace stagefence
