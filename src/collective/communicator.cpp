#include "stagefence/communicator.hpp"

#include <cstdint>
#include <set>

#include "collective/comm_group.hpp"
#include "stagefence/device.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

namespace {

std::unique_ptr<detail::CommGroup> make_nccl_group(const std::vector<Device*>& devices) {
  std::string why_not;
  const collective::NcclLibrary* nccl = collective::NcclLibrary::get(&why_not);
  if (!nccl) raise(ErrorCode::Unsupported, "CUDA communicators need NCCL: " + why_not);
  std::vector<int> ordinals;
  for (Device* d : devices) ordinals.push_back(d->info().cuda_ordinal);
  auto g = std::make_unique<detail::CommGroup>();
  g->backend = BackendKind::Cuda;
  g->size = int(devices.size());
  g->comms.assign(devices.size(), nullptr);
  const int r = nccl->comm_init_all(g->comms.data(), g->size, ordinals.data());
  if (r != nccl->kSuccess) {
    g->comms.assign(devices.size(), nullptr);
    raise(ErrorCode::Unsupported, nccl->describe("ncclCommInitAll", r));
  }
  g->nccl = nccl;
  return g;
}

void check_range(const char* what, const char* name, const Buffer& b, uint64_t bytes) {
  if (!b.valid()) raise(ErrorCode::InvalidArgument, std::string(what) + ": " + name + " is empty");
  if (b.size() < bytes)
    raise(ErrorCode::OutOfRange, std::string(what) + ": " + name + " holds " +
                                     std::to_string(b.size()) + " bytes, needs " +
                                     std::to_string(bytes));
}

}  // namespace

std::vector<Communicator> Communicator::create_group(const std::vector<Device*>& devices,
                                                     CommunicatorOptions options) {
  if (devices.empty()) raise(ErrorCode::InvalidArgument, "create_group: the device list is empty");
  std::set<const Device*> seen;
  std::set<int> ordinals;
  for (size_t i = 0; i < devices.size(); ++i) {
    const Device* d = devices[i];
    const std::string where = "create_group: device " + std::to_string(i);
    if (!d) raise(ErrorCode::InvalidArgument, where + " is null");
    if (!seen.insert(d).second) raise(ErrorCode::InvalidArgument, where + " appears twice");
    if (d->backend() != devices[0]->backend())
      raise(ErrorCode::InvalidArgument, where + " is " + backend_name(d->backend()) +
                                            " but device 0 is " +
                                            backend_name(devices[0]->backend()));
    if (d->backend() == BackendKind::Cuda && !ordinals.insert(d->info().cuda_ordinal).second)
      raise(ErrorCode::InvalidArgument, where + " is GPU " +
                                            std::to_string(d->info().cuda_ordinal) +
                                            ", which an earlier device already uses");
  }
  if (options.timeout.count() <= 0)
    raise(ErrorCode::InvalidArgument, "create_group: the timeout must be positive");
  detail::collective_kernels();

  std::unique_ptr<detail::CommGroup> group;
  if (devices[0]->backend() == BackendKind::Cuda) {
    group = make_nccl_group(devices);
  } else {
    group = std::make_unique<detail::CommGroup>();
    group->size = int(devices.size());
    group->rendezvous = std::make_unique<collective::Rendezvous>(group->size, options.timeout);
  }
  for (Device* d : devices) group->order_tokens.push_back(d->alloc(4));
  const std::shared_ptr<detail::CommGroup> shared = detail::register_group(std::move(group));
  std::vector<Communicator> out;
  for (int r = 0; r < shared->size; ++r) out.emplace_back(shared, r);
  return out;
}

Communicator::Communicator(std::shared_ptr<detail::CommGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

int Communicator::size() const {
  return group_->size;
}
BackendKind Communicator::backend() const {
  return group_->backend;
}

std::string Communicator::describe() const {
  const std::string ranks = std::to_string(group_->size) + " rank(s)";
  if (group_->nccl) return "NCCL " + group_->nccl->version_text() + ", " + ranks;
  return "CPU shared memory, " + ranks;
}

void Communicator::all_reduce_sum(CommandEncoder& enc, const Buffer& buffer, uint64_t count) const {
  if (count == 0) raise(ErrorCode::InvalidArgument, "all_reduce_sum: count is 0");
  check_range("all_reduce_sum", "the buffer", buffer, count * sizeof(float));
  enc.dispatch(detail::collective_kernels().all_reduce_sum,
               {reads_writes(buffer, 0, count * sizeof(float)),
                reads_writes(group_->order_tokens[size_t(rank_)])},
               {Scalar(group_->id), Scalar(rank_), Scalar(count)});
}

void Communicator::all_gather(CommandEncoder& enc, const Buffer& send, const Buffer& recv,
                              uint64_t count) const {
  if (count == 0) raise(ErrorCode::InvalidArgument, "all_gather: count is 0");
  check_range("all_gather", "the send buffer", send, count * sizeof(float));
  check_range("all_gather", "the receive buffer", recv,
              count * sizeof(float) * uint64_t(group_->size));
  enc.dispatch(detail::collective_kernels().all_gather,
               {reads(send, 0, count * sizeof(float)),
                writes(recv, 0, count * sizeof(float) * uint64_t(group_->size)),
                reads_writes(group_->order_tokens[size_t(rank_)])},
               {Scalar(group_->id), Scalar(rank_), Scalar(count)});
}

}  // namespace stagefence
