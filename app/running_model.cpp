#include "running_model.hpp"

#include <chrono>

namespace stagefence::cli {

RunningModel::RunningModel(const ModelArgs& args, const ModelSource& source)
    : devices_(open_devices(args.device_options(), args.ranks)) {
  for (const auto& d : devices_) device_list_.push_back(d.get());
  if (devices_.size() > 1) comms_ = Communicator::create_group(device_list_);
  const auto start = std::chrono::steady_clock::now();
  shards_ = load_shards(device_list_, source);
  load_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string RunningModel::tensor_parallel_description() const {
  return comms_.empty() ? std::string() : comms_.front().describe();
}

llama::Generator RunningModel::make_generator(const llama::ForwardOptions& options) const {
  if (shards_.size() == 1) return llama::Generator(device(), model(), options);
  std::vector<const llama::LlamaModel*> shard_list;
  for (const llama::LlamaModel& m : shards_) shard_list.push_back(&m);
  return llama::Generator(device_list_, shard_list, comms_, options);
}

void RunningModel::synchronize() const {
  for (Device* d : device_list_) d->synchronize();
}

}  // namespace stagefence::cli
