// "matvec.q8_0" and "matvec.q6_k": block-type rows against f32 activations on the streaming
// engine (decode_stream.cuh). These are the logits heads of quantised files (the head keeps f32
// activations, forward.cpp), where the staged matvec.cu kernel reached 33% (Q6_K) and 55% (Q8_0)
// of copy bandwidth on the H200. A weight byte becomes a float with one byte permute into the
// mantissa of 2^23 and one exact subtraction; the f32 sums follow matvec's definition
// (y = W·x (+ bias) (+ y_old)), not the 8-bit activation path.
#include <cstdint>
#include <string>

#include "kernels/cuda/decode_stream.cuh"
#include "kernels/cuda/kernel_table.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/params/matrix.hpp"

namespace stagefence::kernels::cuda {
// The f32-activation block types (a named namespace: every member is used by one of the two
// instantiations only).
namespace stream {

// Eight activations of one item, in two quads: lane groups that would hit the same shared-memory
// banks read the quads in opposite orders (s), and the weight words are paired to match.
struct Oct {
  float4 first, second;
};
template <bool kShared>
__device__ __forceinline__ float4 act4(const float* p, bool aligned) {
  if constexpr (kShared) {
    return *reinterpret_cast<const float4*>(p);
  } else {
    if (aligned) return __ldg(reinterpret_cast<const float4*>(p));
    return make_float4(__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3));
  }
}
template <bool kShared>
__device__ __forceinline__ Oct act8(const Acts& a, int64_t e, int s) {
  return {act4<kShared>(a.f + e + 4 * s, a.aligned), act4<kShared>(a.f + e + 4 - 4 * s, a.aligned)};
}

// acc + Σ_k (byte k of w − bias)·x_k: the byte goes into the mantissa of 2^23 (one permute),
// and subtracting 2^23 + bias is exact.
template <int kBias>
__device__ __forceinline__ float bytes_dot(uint32_t w, float4 x, float acc) {
  constexpr float kMagic = 8388608.0f + float(kBias);
  acc = fmaf(__uint_as_float(__byte_perm(w, 0x4B000000u, 0x7440u)) - kMagic, x.x, acc);
  acc = fmaf(__uint_as_float(__byte_perm(w, 0x4B000000u, 0x7441u)) - kMagic, x.y, acc);
  acc = fmaf(__uint_as_float(__byte_perm(w, 0x4B000000u, 0x7442u)) - kMagic, x.z, acc);
  return fmaf(__uint_as_float(__byte_perm(w, 0x4B000000u, 0x7443u)) - kMagic, x.w, acc);
}

// Q8_0: an item is 8 of a block's 32 values (kItems 4); s is the block's parity.
template <bool kShared>
struct FQ8_0 {
  static constexpr const char* kName = "q8_0";
  static constexpr bool kQuant = false;
  static constexpr int kUnitBytes = 34, kUnitElems = 32, kItems = 4;
  // Two rows per task: four (each activation read serving four rows) measured slower on the
  // H200 (128256x4096 231 -> 264 us, 1024x4096 7.5 -> 16.3 us).
  static constexpr int kTaskRows = 2;
  struct Act {
    Oct x;
    int s;
  };
  __device__ static Act act(const Acts& a, int64_t item) {
    const int s = int(item >> 2) & 1;
    return {act8<kShared>(a, item * 8, s), s};
  }
  __device__ static float dot(const uint8_t* b, int j, const Act& x) {
    const Words<3> w = lds_words<3>(b + 2 + 8 * j);
    const uint32_t w0 = w.at<0>(), w1 = w.at<4>();
    // Signed bytes as offset-128 bytes.
    const uint32_t first = (x.s ? w1 : w0) ^ 0x80808080u, second = (x.s ? w0 : w1) ^ 0x80808080u;
    const float acc = bytes_dot<128>(second, x.x.second, bytes_dot<128>(first, x.x.first, 0.0f));
    return lds_half(b) * acc;
  }
};

// Q6_K: item j of a block is positions l0..l0+7 (l0 = 8(j % 4)) of half h = j / 4 in each of its
// four quarters t (value 128h + 32t + l), so 16 bytes of ql and 8 of qh give 32 values; s = h.
template <bool kShared>
struct FQ6_K {
  static constexpr const char* kName = "q6_k";
  static constexpr bool kQuant = false;
  static constexpr int kUnitBytes = 210, kUnitElems = 256, kItems = 8;
  static constexpr int kTaskRows = 2;  // four rows of 8-block pieces leave a one-slot ring
  struct Act {
    Oct x[4];  // quarter t
  };
  __device__ static Act act(const Acts& a, int64_t item) {
    const int j = int(item & 7), h = j >> 2;
    const int64_t e = (item >> 3) * 256 + 128 * h + 8 * (j & 3);
    Act r;
#pragma unroll
    for (int t = 0; t < 4; ++t) r.x[t] = act8<kShared>(a, e + 32 * t, h);
    return r;
  }
  // Quarter sums of one quad: ql words a (quarters 0, 2) and b (1, 3), qh word q (bits 2t).
  __device__ static void quad(uint32_t a, uint32_t b, uint32_t q, const Act& x, bool second,
                              float (&acc)[4]) {
    const uint32_t v0 = (a & 0x0f0f0f0fu) | ((q << 4) & 0x30303030u);
    const uint32_t v1 = (b & 0x0f0f0f0fu) | ((q << 2) & 0x30303030u);
    const uint32_t v2 = ((a >> 4) & 0x0f0f0f0fu) | (q & 0x30303030u);
    const uint32_t v3 = ((b >> 4) & 0x0f0f0f0fu) | ((q >> 2) & 0x30303030u);
    acc[0] = bytes_dot<32>(v0, second ? x.x[0].second : x.x[0].first, acc[0]);
    acc[1] = bytes_dot<32>(v1, second ? x.x[1].second : x.x[1].first, acc[1]);
    acc[2] = bytes_dot<32>(v2, second ? x.x[2].second : x.x[2].first, acc[2]);
    acc[3] = bytes_dot<32>(v3, second ? x.x[3].second : x.x[3].first, acc[3]);
  }
  __device__ static float dot(const uint8_t* b, int j, const Act& x) {
    const int h = j >> 2, l0 = 8 * (j & 3);
    const Words<3> a = lds_words<3>(b + 64 * h + l0);
    const Words<3> c = lds_words<3>(b + 64 * h + 32 + l0);
    const Words<3> q = lds_words<3>(b + 128 + 32 * h + l0);
    // Quad k of the item pairs with activation quad k ^ h.
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    quad(a.at<0>(), c.at<0>(), q.at<0>(), x, h != 0, acc);
    quad(a.at<4>(), c.at<4>(), q.at<4>(), x, h == 0, acc);
    const uint8_t* sc = b + 192 + 8 * h + (l0 >= 16 ? 1 : 0);
    float s = float(int8_t(sc[0])) * acc[0];
    s = fmaf(float(int8_t(sc[2])), acc[1], s);
    s = fmaf(float(int8_t(sc[4])), acc[2], s);
    s = fmaf(float(int8_t(sc[6])), acc[3], s);
    return lds_half(b + 208) * s;
  }
};

}  // namespace stream

namespace {

using namespace stream;

// Task t is rows kRows·t .. kRows·t + kRows - 1; a short last task reads its last row again and
// writes each row once.
template <int kRows>
struct Epi {
  const uint8_t* w;
  int64_t row_bytes;
  int64_t rows;
  float* y;
  const float* bias;
  uint32_t flags;
  __device__ const uint8_t* row(int64_t task, int r) const {
    const int64_t i = kRows * task + r;
    return w + (i < rows ? i : rows - 1) * row_bytes;
  }
  __device__ void finish(int64_t task, const float (&s)[kRows], int lane) const {
    const int64_t i = kRows * task + lane;
    if (lane >= kRows || i >= rows) return;
    float v = s[0];
#pragma unroll
    for (int r = 1; r < kRows; ++r)
      if (lane == r) v = s[r];
    if (flags & kMatFlagBias) v += bias[i];
    if (flags & kMatFlagAccumulate) v += y[i];
    y[i] = v;
  }
};

// Shared memory with the activations staged (else only the warps' rings).
template <typename T>
__host__ __device__ inline int64_t ring_only_bytes() {
  return int64_t(kWarps) * ring_bytes<T, T::kTaskRows>();
}
template <typename T>
__host__ __device__ inline int64_t staged_bytes(int64_t cols) {
  return (act_bytes<T>(cols) + 15) / 16 * 16 + ring_only_bytes<T>();
}

__device__ __forceinline__ uint32_t dynamic_smem_bytes() {
  uint32_t v;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(v));
  return v;
}

template <template <bool> class F>
__global__ void __launch_bounds__(kThreads) matvec_stream_kernel(KernelArgs a) {
  allow_dependents();
  extern __shared__ __align__(16) uint8_t smem[];
  using TS = F<true>;
  using TG = F<false>;
  constexpr int kRows = TS::kTaskRows;
  const MatvecParams p = a.params<MatvecParams>();
  const int64_t units = p.cols / TS::kUnitElems;
  const Epi<kRows> epi{a.p<const uint8_t>(0), units * TS::kUnitBytes, p.rows,
                       a.p<float>(2),         a.p<const float>(3),    uint32_t(p.flags)};
  const float* x = a.p<const float>(1);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int vec = copy_width(reinterpret_cast<uintptr_t>(epi.w), epi.row_bytes);
  const int64_t tasks = (p.rows + kRows - 1) / kRows, first = int64_t(blockIdx.x) * kWarps + warp;
  const int64_t stride = int64_t(gridDim.x) * kWarps;
  // The launch staged the activations when they fit beside the rings.
  if (dynamic_smem_bytes() >= staged_bytes<TS>(p.cols)) {
    const int64_t acts = (act_bytes<TS>(p.cols) + 15) / 16 * 16;
    uint8_t* slots = smem + acts + int64_t(warp) * ring_bytes<TS, kRows>();
    run_tasks<TS, kRows>(epi, tasks, units, slots, first, stride, vec, lane, [&] {
      return load_acts<TS>(smem, x, nullptr, p.cols, false, false, 0.0f,
                           [] { grid_dependency_wait(); });
    });
  } else {
    uint8_t* slots = smem + int64_t(warp) * ring_bytes<TG, kRows>();
    run_tasks<TG, kRows>(epi, tasks, units, slots, first, stride, vec, lane, [&] {
      grid_dependency_wait();
      Acts acts;
      acts.f = x;
      acts.aligned = (reinterpret_cast<uintptr_t>(x) & 15) == 0;
      return acts;
    });
  }
}

template <template <bool> class F>
Launch matvec_stream_launch(const KernelArgs& a) {
  using TS = F<true>;
  const MatvecParams p = a.params<MatvecParams>();
  const void* kernel = reinterpret_cast<const void*>(&matvec_stream_kernel<F>);
  int device = 0, most = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
          cudaSuccess) {
    (void)cudaGetLastError();
    most = 0;
  }
  const int64_t staged = staged_bytes<TS>(p.cols);
  const int64_t smem = staged <= most ? staged : ring_only_bytes<TS>();
  return stream_launch(kernel, (p.rows + TS::kTaskRows - 1) / TS::kTaskRows, smem);
}

template <template <bool> class F>
void append(std::vector<CudaKernelEntry>& t) {
  static const std::string name = std::string("matvec.") + F<true>::kName;
  t.push_back({name.c_str(), reinterpret_cast<const void*>(&matvec_stream_kernel<F>),
               &matvec_stream_launch<F>, nullptr, true});
}

}  // namespace

void append_matvec_stream_kernels(std::vector<CudaKernelEntry>& t) {
  append<FQ8_0>(t);
  append<FQ6_K>(t);
  static_assert(matvec_streams(FQ8_0<true>::kName) && matvec_streams(FQ6_K<true>::kName));
}

}  // namespace stagefence::kernels::cuda
