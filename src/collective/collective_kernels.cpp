// The collectives as kernels: on the CPU they meet in shared memory (every rank sums in rank
// order, so every rank gets the same bits); on CUDA they enqueue the NCCL call on the stream
// (graph builds capture it like any enqueue kernel).
#include <cstring>
#include <vector>

#include "collective/comm_group.hpp"
#include "stagefence/error.hpp"

namespace stagefence::detail {

namespace {

void check_rank(const CommGroup& g, int rank) {
  if (rank < 0 || rank >= g.size)
    raise(ErrorCode::Internal,
          "collective: rank " + std::to_string(rank) + " of a group of " + std::to_string(g.size));
}

void cpu_all_reduce_sum(const KernelArgs& a, const Launch&, uint64_t, uint64_t) {
  const std::shared_ptr<CommGroup> g = find_group(a.s[0]);
  const int rank = a.i32(1);
  const uint64_t n = a.s[2];
  check_rank(*g, rank);
  collective::Rendezvous& rv = *g->rendezvous;
  float* mine = a.p<float>(0);
  rv.post(rank, mine);
  rv.barrier(rank, "all_reduce_sum");
  std::vector<float> sum(n, 0.0f);
  for (int r = 0; r < g->size; ++r) {
    const float* src = static_cast<const float*>(rv.posted(r));
    for (uint64_t i = 0; i < n; ++i) sum[i] += src[i];
  }
  rv.barrier(rank, "all_reduce_sum");  // every rank has read every buffer
  std::memcpy(mine, sum.data(), n * sizeof(float));
}

void cpu_all_gather(const KernelArgs& a, const Launch&, uint64_t, uint64_t) {
  const std::shared_ptr<CommGroup> g = find_group(a.s[0]);
  const int rank = a.i32(1);
  const uint64_t n = a.s[2];
  check_rank(*g, rank);
  collective::Rendezvous& rv = *g->rendezvous;
  rv.post(rank, a.ptr[0]);
  rv.barrier(rank, "all_gather");
  float* recv = a.p<float>(1);
  for (int r = 0; r < g->size; ++r)
    std::memcpy(recv + uint64_t(r) * n, rv.posted(r), n * sizeof(float));
  rv.barrier(rank, "all_gather");  // no rank overwrites its send buffer while others read it
}

const CommGroup& nccl_group(const std::shared_ptr<CommGroup>& g, int rank) {
  check_rank(*g, rank);
  if (!g->nccl) raise(ErrorCode::Internal, "collective on CUDA without an NCCL communicator");
  return *g;
}

void cuda_all_reduce_sum(const KernelArgs& a, void* stream) {
  const std::shared_ptr<CommGroup> g = find_group(a.s[0]);
  const int rank = a.i32(1);
  const CommGroup& group = nccl_group(g, rank);
  const collective::NcclLibrary& n = *group.nccl;
  const int r = n.all_reduce(a.ptr[0], a.ptr[0], size_t(a.s[2]), n.kFloat32, n.kSum,
                             group.comms[size_t(rank)], stream);
  if (r != n.kSuccess) raise(ErrorCode::KernelFault, n.describe("ncclAllReduce", r));
}

void cuda_all_gather(const KernelArgs& a, void* stream) {
  const std::shared_ptr<CommGroup> g = find_group(a.s[0]);
  const int rank = a.i32(1);
  const CommGroup& group = nccl_group(g, rank);
  const collective::NcclLibrary& n = *group.nccl;
  const int r = n.all_gather(a.ptr[0], a.ptr[1], size_t(a.s[2]), n.kFloat32,
                             group.comms[size_t(rank)], stream);
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
