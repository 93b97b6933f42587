#include "kernels/register.hpp"

#include <mutex>
#include <string>
#include <string_view>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/params/attention.hpp"
#include "kernels/params/attention_decode.hpp"
#include "kernels/params/elementwise.hpp"
#include "kernels/params/embed.hpp"
#include "kernels/params/finite_check.hpp"
#include "kernels/params/fused_decode.hpp"
#include "kernels/params/kv_store.hpp"
#include "kernels/params/matrix.hpp"
#include "kernels/params/rmsnorm.hpp"
#include "kernels/params/rope.hpp"
#include "kernels/params/sample.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels {
namespace {

// Each forward kernel's shape contract, by name ("embed." matches every weight type's kernel).
struct NamedCheck {
  std::string_view name;
  bool prefix;
  KernelCheckFn check;
};

constexpr NamedCheck kShapeChecks[] = {
    {"embed.", true, &check_params<EmbedParams>},
    {"rmsnorm", false, &check_params<RmsnormParams>},
    {"matvec.", true, &check_params<MatvecParams>},
    {"matmul.", true, &check_params<MatmulParams>},
    {"rope", false, &check_params<RopeKernelParams>},
    {"kv_store", false, &check_params<KvStoreParams>},
    {"attn.split", false, &check_params<AttnSplitParams>},
    {"attn.merge", false, &check_params<AttnMergeParams>},
    {"swiglu", false, &check_params<SwigluParams>},
    {"add", false, &check_params<AddParams>},
    {"sample", false, &check_params<SampleParams>},
    {"mv.", true, &check_params<MvParams>},
    {"qkv.", true, &check_params<QkvParams>},
    {"glu.", true, &check_params<GluParams>},
    {"attn.decode.", true, &check_params<AttnDecodeParams>},
    {"finite_check", false, &check_params<FiniteCheckParams>},
};

}  // namespace

void register_forward_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    KernelRegistry& registry = KernelRegistry::global();
    // The families' checks first: they attach to every backend's kernels, later ones included.
    for (const NamedCheck& c : kShapeChecks) registry.set_check_rule(c.name, c.prefix, c.check);
    for (const cpu::CpuKernel& k : cpu::forward_kernels()) registry.add_cpu(k.name, k.fn, k.launch);
#if defined(STAGEFENCE_WITH_CUDA)
    register_cuda_forward_kernels();
#endif
  });
}

}  // namespace stagefence::kernels
