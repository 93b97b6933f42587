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
  if (stages_.drained()) return;
  apply_label();
  stages_.commit(enc_);
}

void EncoderSession::commit_and_wait(WaitTimeout timeout) {
  if (stages_.drained()) return;
  apply_label();
  stages_.commit(enc_);
  enc_.wait(timeout);
}

void EncoderSession::fence_stage(std::optional<std::string_view> label) {
  if (stages_.drained()) return;
  if (label) label_ = std::string(*label);
  apply_label();
  if (!fence_.valid()) fence_ = Fence(dev_->make_fence("session"));
  stages_.fence_and_commit(enc_, fence_);
}

void EncoderSession::reset_for_next_stage() {
  if (!stages_.drained()) return;
  if (stages_.next(enc_, fence_)) {
    ++wait_count_;
    wait_value_ = stages_.value();
  }
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
  if (stages_.drained())
    return stages_.fence_pending() ? SessionState::Fenced : SessionState::Drained;
  return enc_.has_dispatches() ? SessionState::Encoding : SessionState::Empty;
}

}  // namespace stagefence
