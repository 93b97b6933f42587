// The collectives as kernels: on the CPU they meet in shared memory (every rank sums in rank
// order, so every rank gets the same bits); on CUDA they enqueue the NCCL call on the stream
// (graph builds capture it like any enqueue kernel).
#include <cstdint>
#include <cstring>
#include <vector>

#include "collective/comm_group.hpp"
#include "stagefence/error.hpp"

namespace stagefence::detail {

namespace {

// The live group and the rank a collective dispatch names (s0, s1).
struct Call {
  std::shared_ptr<CommGroup> group;
  int rank;
};

Call call_of(const KernelArgs& a) {
  Call c{find_group(a.s[0]), a.i32(1)};
  if (c.rank < 0 || c.rank >= c.group->size)
    raise(ErrorCode::Internal, "collective: rank " + std::to_string(c.rank) + " of a group of " +
                                   std::to_string(c.group->size));
  return c;
}

void cpu_all_reduce_sum(const KernelArgs& a, const Launch&, uint64_t, uint64_t) {
  const Call c = call_of(a);
  const uint64_t n = a.s[2];
  collective::Rendezvous& rv = *c.group->rendezvous;
  float* mine = a.p<float>(0);
  rv.post(c.rank, mine);
  rv.barrier(c.rank, "all_reduce_sum");
  std::vector<float> sum(n, 0.0f);
  for (int r = 0; r < c.group->size; ++r) {
    const float* src = static_cast<const float*>(rv.posted(r));
    for (uint64_t i = 0; i < n; ++i) sum[i] += src[i];
  }
  rv.barrier(c.rank, "all_reduce_sum");  // every rank has read every buffer
  std::memcpy(mine, sum.data(), n * sizeof(float));
}

void cpu_all_gather(const KernelArgs& a, const Launch&, uint64_t, uint64_t) {
  const Call c = call_of(a);
  const uint64_t n = a.s[2];
  collective::Rendezvous& rv = *c.group->rendezvous;
  rv.post(c.rank, a.ptr[0]);
  rv.barrier(c.rank, "all_gather");
  float* recv = a.p<float>(1);
  for (int r = 0; r < c.group->size; ++r)
    std::memcpy(recv + uint64_t(r) * n, rv.posted(r), n * sizeof(float));
  rv.barrier(c.rank, "all_gather");  // no rank overwrites its send buffer while others read it
}

// The group's NCCL library (its communicators are group->comms[rank]).
const collective::NcclLibrary& nccl_of(const Call& c) {
  if (!c.group->nccl) raise(ErrorCode::Internal, "collective on CUDA without an NCCL communicator");
  return *c.group->nccl;
}

void cuda_all_reduce_sum(const KernelArgs& a, void* stream) {
  const Call c = call_of(a);
  const collective::NcclLibrary& n = nccl_of(c);
  const int r = n.all_reduce(a.ptr[0], a.ptr[0], size_t(a.s[2]), n.kFloat32, n.kSum,
                             c.group->comms[size_t(c.rank)], stream);
  if (r != n.kSuccess) raise(ErrorCode::KernelFault, n.describe("ncclAllReduce", r));
}

void cuda_all_gather(const KernelArgs& a, void* stream) {
  const Call c = call_of(a);
  const collective::NcclLibrary& n = nccl_of(c);
  const int r = n.all_gather(a.ptr[0], a.ptr[1], size_t(a.s[2]), n.kFloat32,
                             c.group->comms[size_t(c.rank)], stream);
  if (r != n.kSuccess) raise(ErrorCode::KernelFault, n.describe("ncclAllGather", r));
}

CollectiveKernels register_collectives() {
  KernelRegistry& reg = KernelRegistry::global();
  CollectiveKernels k{};
  k.all_reduce_sum = reg.add_cpu("collective.all_reduce_sum_f32", cpu_all_reduce_sum);
  reg.add_cuda_enqueue("collective.all_reduce_sum_f32", cuda_all_reduce_sum);
  k.all_gather = reg.add_cpu("collective.all_gather_f32", cpu_all_gather);
  reg.add_cuda_enqueue("collective.all_gather_f32", cuda_all_gather);
  return k;
}

}  // namespace

const CollectiveKernels& collective_kernels() {
  static const CollectiveKernels k = register_collectives();
  return k;
}

}  // namespace stagefence::detail
