// A model loaded onto its devices (one per tensor-parallel rank) and the generators over it.
#pragma once
#include <memory>
#include <vector>

#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model_source.hpp"
#include "run_options.hpp"
#include "stagefence/communicator.hpp"

namespace stagefence::cli {

class RunningModel {
 public:
  // Opens the devices and uploads the weights; the source must outlive this object.
  RunningModel(const ModelArgs& args, const ModelSource& source);

  Device& device() const { return *devices_.front(); }
  const std::vector<Device*>& devices() const { return device_list_; }
  const llama::LlamaModel& model() const { return shards_.front(); }
  int ranks() const { return int(devices_.size()); }
  double load_ms() const { return load_ms_; }
  std::string tensor_parallel_description() const;

  // A generator with its own KV cache over the shared weights.
  llama::Generator make_generator(const llama::ForwardOptions& options) const;
  void synchronize() const;

 private:
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<Device*> device_list_;
  std::vector<Communicator> comms_;
  std::vector<llama::LlamaModel> shards_;
  double load_ms_ = 0;
};

}  // namespace stagefence::cli
