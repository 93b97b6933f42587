#include "model/staged/stage_plan.hpp"

#include <algorithm>

#include "stagefence/error.hpp"

namespace stagefence::model {

StagePlan StagePlan::make(int layers, int layers_per_stage) {
  if (layers < 1) raise(ErrorCode::InvalidArgument, "stage plan: a model needs at least one layer");
  if (layers_per_stage < 0)
    raise(ErrorCode::InvalidArgument,
          "layers_per_stage = " + std::to_string(layers_per_stage) + " is negative");
  const int per = layers_per_stage == 0 ? layers : std::min(layers_per_stage, layers);
  StagePlan plan;
  plan.layers_per_stage = per;
  plan.stages.push_back({StageKind::Embed, "embed"});
  for (int first = 0; first < layers; first += per) {
    const int last = std::min(layers, first + per) - 1;
    if (per == 1) {
      const std::string l = "layer." + std::to_string(first);
      plan.stages.push_back({StageKind::Attention, l + ".attn", first, first});
      plan.stages.push_back({StageKind::Ffn, l + ".ffn", first, first});
    } else {
      const std::string label =
          first == last ? "layers." + std::to_string(first)
                        : "layers." + std::to_string(first) + "-" + std::to_string(last);
      plan.stages.push_back({StageKind::Layers, label, first, last});
    }
  }
  plan.stages.push_back({StageKind::Head, "head"});
  return plan;
}

}  // namespace stagefence::model
