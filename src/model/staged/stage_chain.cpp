#include "model/staged/stage_chain.hpp"

namespace stagefence::model {

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
  stages_.next(*encoder_, *fence_);
  encoder_->set_label(label);
  return *encoder_;
}

void StageChain::fence() {
  if (session_)
    session_->fence_stage();
  else
    stages_.fence_and_commit(*encoder_, *fence_);
}

void StageChain::commit() {
  if (session_)
    session_->commit_stage();
  else
    stages_.commit(*encoder_);
}

void StageChain::wait() {
  if (session_)
    session_->wait();
  else
    encoder_->wait();
}

}  // namespace stagefence::model
