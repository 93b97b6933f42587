// How the forward pass splits into stages (one command buffer each in the staged modes):
// embed, then the layers, then head. With one layer per stage each layer is two stages,
// layer.L.attn and layer.L.ffn; with N > 1 layers per stage, N whole layers share one stage
// "layers.A-B"; 0 (or N >= layers) puts every layer in one stage.
#pragma once
#include <string>
#include <vector>

namespace stagefence::model {

enum class StageKind { Embed, Attention, Ffn, Layers, Head };

struct Stage {
  StageKind kind;
  std::string label;
  int first_layer = 0;  // Attention, Ffn, Layers: the layers [first_layer, last_layer]
  int last_layer = -1;
};

struct StagePlan {
  int layers_per_stage = 1;
  std::vector<Stage> stages;

  // Throws InvalidArgument for layers < 1 or layers_per_stage < 0.
  static StagePlan make(int layers, int layers_per_stage);
  size_t size() const { return stages.size(); }
};

}  // namespace stagefence::model
