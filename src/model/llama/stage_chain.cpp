#include "model/llama/stage_chain.hpp"

namespace stagefence::llama {

StageChain::StageChain(Device& device, bool prefer_session) {
  if (prefer_session) session_ = device.encoder_session();
  if (!session_) {
    encoder_.emplace(device.command_encoder());
    fence_.emplace(device.new_fence("stage-chain"));
  }
}

CommandEncoder& StageChain::begin(std::string_view label) {
  if (session_) {
    session_->reset_for_next_stage();
    session_->begin_stage(label);
    return session_->encoder();
  }
  if (committed_) {
    encoder_->reset();
    if (fence_pending_) encoder_->wait_for(*fence_, fence_value_);
    committed_ = false;
    fence_pending_ = false;
  }
  encoder_->set_label(label);
  return *encoder_;
}

void StageChain::fence() {
  if (session_) {
    session_->fence_stage();
    return;
  }
  encoder_->signal(*fence_, fence_value_ + 1);
  encoder_->commit();
  ++fence_value_;
  committed_ = true;
  fence_pending_ = true;
}

void StageChain::commit() {
  if (session_) {
    session_->commit_stage();
    return;
  }
  committed_ = true;
  fence_pending_ = false;
  encoder_->commit();
}

void StageChain::wait() {
  if (session_)
    session_->wait();
  else
    encoder_->wait();
}

}  // namespace stagefence::llama
