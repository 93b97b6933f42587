#include "model/llama/generator.hpp"

#include <memory>
#include <string>

#include "stagefence/error.hpp"

namespace stagefence::llama {
namespace {

std::vector<model::GeneratorRank> one_rank(Device& device, const LlamaModel& model,
                                           const ForwardOptions& options) {
  std::vector<model::GeneratorRank> ranks;
  ranks.push_back({&device, std::make_unique<LlamaForward>(device, model, options)});
  return ranks;
}

std::vector<model::GeneratorRank> shard_ranks(const std::vector<Device*>& devices,
                                              const std::vector<const LlamaModel*>& shards,
                                              const std::vector<Communicator>& comms,
                                              const ForwardOptions& options) {
  if (devices.empty() || devices.size() != shards.size() || devices.size() != comms.size())
    raise(ErrorCode::InvalidArgument,
          "tensor-parallel generator: " + std::to_string(devices.size()) + " devices, " +
              std::to_string(shards.size()) + " shards and " + std::to_string(comms.size()) +
              " communicators; they must be equal and non-zero");
  std::vector<model::GeneratorRank> ranks;
  for (size_t r = 0; r < devices.size(); ++r) {
    if (!devices[r] || !shards[r])
      raise(ErrorCode::InvalidArgument,
            "tensor-parallel generator: rank " + std::to_string(r) + " has no device or shard");
    if (comms[r].rank() != int(r) || shards[r]->shard.tp.rank != int(r))
      raise(ErrorCode::InvalidArgument, "tensor-parallel generator: position " + std::to_string(r) +
                                            " holds communicator rank " +
                                            std::to_string(comms[r].rank()) + " and shard rank " +
                                            std::to_string(shards[r]->shard.tp.rank));
    ranks.push_back(
        {devices[r], std::make_unique<LlamaForward>(*devices[r], *shards[r], options, &comms[r])});
  }
  return ranks;
}

}  // namespace

Generator::Generator(Device& device, const LlamaModel& model, ForwardOptions options)
    : model::Generator(one_rank(device, model, options)) {}

Generator::Generator(const std::vector<Device*>& devices,
                     const std::vector<const LlamaModel*>& shards,
                     const std::vector<Communicator>& comms, ForwardOptions options)
    : model::Generator(shard_ranks(devices, shards, comms, options)) {}

}  // namespace stagefence::llama
