// The Llama family's generator: the shared staged generator (model/staged/generator.hpp, its
// submission modes and options) over LlamaForward, for one device or tensor-parallel shards.
#pragma once
#include <vector>

#include "model/llama/forward.hpp"
#include "model/llama/model.hpp"
#include "model/staged/generator.hpp"

namespace stagefence::llama {

using model::DecodeFigures;
using model::device_stop_ids;
using model::GenerateOptions;
using model::GenerationResult;
using model::kAllModes;
using model::mode_name;
using model::parse_mode;
using model::SamplingOptions;
using model::StageChain;
using model::SubmissionMode;

class Generator : public model::Generator {
 public:
  // The model must outlive the generator.
  Generator(Device& device, const LlamaModel& model, ForwardOptions options = {});
  // Tensor parallel: rank r runs shards[r] on devices[r] with comms[r]; everything must outlive
  // the generator. Throws InvalidArgument when the lists disagree in length or order.
  Generator(const std::vector<Device*>& devices, const std::vector<const LlamaModel*>& shards,
            const std::vector<Communicator>& comms, ForwardOptions options = {});

  // The ranks' forward passes as what they are (the shared generator sees StagedForward).
  LlamaForward& forward() { return static_cast<LlamaForward&>(model::Generator::forward()); }
  const LlamaForward& forward() const {
    return static_cast<const LlamaForward&>(model::Generator::forward());
  }
  const LlamaForward& forward(int rank) const {
    return static_cast<const LlamaForward&>(model::Generator::forward(rank));
  }
};

}  // namespace stagefence::llama
