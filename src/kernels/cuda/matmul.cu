// "matmul.<wt>" (prefill): Y[t, r] = sum_c W[r, c]·X[t, c] (+ bias) (+ Y_old).
// f32/f16/bf16 go through cuBLAS as enqueue functions: f32 directly (SGEMM, full f32), f16/bf16
// as two GEMMs over a high/low split of X into the weight's 16-bit type (cuBLAS needs matching
// A/B types; the split keeps about f32 accuracy on the tensor cores), accumulating in f32.
// Block-quantised types use a tiled kernel that decodes weight tiles into shared memory.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "kernels/cuda/weight_types.cuh"
#include "kernels/params/matrix.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::cuda {
namespace {

// ---- tiled kernel for block-quantised weights ----
constexpr int kTileRows = 64, kTileTokens = 32, kTileK = 32;

template <typename W>
__global__ void __launch_bounds__(256) matmul_tiled_kernel(KernelArgs a) {
  const uint8_t* w = a.p<const uint8_t>(0);
  const float* x = a.p<const float>(1);
  float* y = a.p<float>(2);
  const float* bias = a.p<const float>(3);
  const MatmulParams p = a.params<MatmulParams>();
  const int64_t rows = p.rows, cols = p.cols, T = p.tokens;
  const uint32_t flags = uint32_t(p.flags);
  const int64_t row_bytes = cols / W::kBlockElems * W::kBlockBytes;
  const int64_t r0 = int64_t(blockIdx.x) * kTileRows, t0 = int64_t(blockIdx.y) * kTileTokens;
  __shared__ float ws[kTileK][kTileRows + 1];
  __shared__ float xs[kTileK][kTileTokens + 1];
  const int tid = threadIdx.x;
  const int my_row = tid % kTileRows, my_tok0 = (tid / kTileRows) * 8;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k0 = 0; k0 < cols; k0 += kTileK) {
    for (int i = tid; i < kTileRows * kTileK; i += 256) {
      const int rr = i / kTileK, kk = i % kTileK;
      const int64_t r = r0 + rr, c = k0 + kk;
      ws[kk][rr] = (r < rows && c < cols) ? W::element(w + r * row_bytes, int(c)) : 0.0f;
    }
    for (int i = tid; i < kTileTokens * kTileK; i += 256) {
      const int tt = i / kTileK, kk = i % kTileK;
      const int64_t t = t0 + tt, c = k0 + kk;
      xs[kk][tt] = (t < T && c < cols) ? x[t * cols + c] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kTileK; ++kk) {
      const float wv = ws[kk][my_row];
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[j] += wv * xs[kk][my_tok0 + j];
    }
    __syncthreads();
  }
  const int64_t r = r0 + my_row;
  if (r >= rows) return;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const int64_t t = t0 + my_tok0 + j;
    if (t >= T) continue;
    float v = acc[j];
    if (flags & kMatFlagBias) v += bias[r];
    if (flags & kMatFlagAccumulate) v += y[t * rows + r];
    y[t * rows + r] = v;
  }
}

Launch matmul_tiled_launch(const KernelArgs& a) {
  Launch l;
  const MatmulParams p = a.params<MatmulParams>();
  l.grid = {ceil_div_u32(p.rows, kTileRows), ceil_div_u32(p.tokens, kTileTokens), 1};
  l.block = {256, 1, 1};
  return l;
}

// ---- cuBLAS path ----
// Splits f32 X into a 16-bit high part and the 16-bit rounding of what it left out, so two
// tensor-core GEMMs (W·hi + W·lo) keep about f32 accuracy instead of 16-bit rounding of X.
__global__ void split_half_kernel(const float* x, uint16_t* hi, uint16_t* lo, int64_t n,
                                  bool bf16) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i];
    const uint16_t h = bf16 ? quant::float_to_bf16(v) : quant::float_to_half(v);
    const float rest = v - (bf16 ? quant::bf16_to_float(h) : quant::half_to_float(h));
    hi[i] = h;
    lo[i] = bf16 ? quant::float_to_bf16(rest) : quant::float_to_half(rest);
  }
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    y[i] += bias[i % rows];
  }
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    raise(ErrorCode::KernelFault, std::string("matmul: ") + what + ": " + cudaGetErrorString(e));
  }
}
void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    raise(ErrorCode::KernelFault,
          std::string("matmul: ") + what + ": cuBLAS status " + std::to_string(int(s)));
  }
}

// One cuBLAS handle per (thread, device). Its workspace is never its own: every call points it
// at the dispatch's scratch binding, so matmuls that may run at once (independent nodes of a
// CUDA graph) never share workspace or split buffers; those that share one are ordered.
class CublasContext {
 public:
  static CublasContext& current() {
    int dev = 0;
    check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
    thread_local std::unordered_map<int, CublasContext> per_device;
    CublasContext& c = per_device[dev];
    if (c.handle_ == nullptr) c.init();
    return c;
  }

  CublasContext() = default;
  CublasContext(const CublasContext&) = delete;
  CublasContext& operator=(const CublasContext&) = delete;
  ~CublasContext() {
    if (handle_ != nullptr) cublasDestroy(handle_);
  }

  cublasHandle_t handle(cudaStream_t stream, void* workspace, size_t workspace_bytes) {
    check_cublas(cublasSetStream(handle_, stream), "cublasSetStream");
    check_cublas(cublasSetWorkspace(handle_, workspace, workspace_bytes), "cublasSetWorkspace");
    return handle_;
  }

 private:
  void init() {
    // cublasCreate allocates; that is legal while the caller captures a graph only in relaxed
    // capture mode (the handle is not stream work and outlives the graph).
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    check_cuda(cudaThreadExchangeStreamCaptureMode(&mode), "capture mode");
    const cublasStatus_t s = cublasCreate(&handle_);
    check_cuda(cudaThreadExchangeStreamCaptureMode(&mode), "capture mode");
    check_cublas(s, "cublasCreate");
  }

  cublasHandle_t handle_ = nullptr;
};

// The dispatch's scratch binding (the last one, flags bit2), checked against its size.
uint8_t* scratch_binding(const KernelArgs& a, const std::string& name, int64_t T, int64_t cols) {
  const uint64_t need = matmul_scratch_bytes(T, cols);
  if (!(a.params<MatmulParams>().flags & kMatFlagScratch) || a.num_bindings < 4)
    raise(ErrorCode::InvalidArgument, name + " on CUDA needs a scratch binding (flags bit2) of " +
                                          std::to_string(need) +
                                          " bytes for its cuBLAS workspace; none was bound");
  const uint32_t i = a.num_bindings - 1;
  if (a.len[i] < need)
    raise(ErrorCode::InvalidArgument, name + ": scratch binding of " + std::to_string(a.len[i]) +
                                          " bytes, needs " + std::to_string(need));
  return a.p<uint8_t>(int(i));
}

template <typename W>
void matmul_cublas(const KernelArgs& a, void* stream_ptr) {
  cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
  const MatmulParams p = a.params<MatmulParams>();
  const int64_t rows = p.rows, cols = p.cols, T = p.tokens;
  const uint32_t flags = uint32_t(p.flags);
  float* y = a.p<float>(2);
  const float alpha = 1.0f, beta = (flags & kMatFlagAccumulate) ? 1.0f : 0.0f;
  uint8_t* scratch = scratch_binding(a, std::string("matmul.") + W::kName, T, cols);
  cublasHandle_t h = CublasContext::current().handle(stream, scratch, kMatScratchWorkspaceBytes);
  // Row-major Y[T, rows] is column-major [rows, T] = W^T(col-major [cols, rows])ᵀ · X.
  if constexpr (W::kBlockBytes == 4) {
    check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check_cublas(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(T), int(cols), &alpha,
                             a.p<const float>(0), int(cols), a.p<const float>(1), int(cols), &beta,
                             y, int(rows)),
                 "cublasSgemm");
  } else {
    constexpr bool kBf16 = W::kName[1] == 'f';
    const cudaDataType_t type = kBf16 ? CUDA_R_16BF : CUDA_R_16F;
    const int64_t n = T * cols;
    auto* xh = reinterpret_cast<uint16_t*>(scratch + kMatScratchWorkspaceBytes);
    uint16_t* xl = xh + n;
    const uint32_t convert_grid = std::min(ceil_div_u32(n, 256 * 4), 4096u);
    split_half_kernel<<<convert_grid, 256, 0, stream>>>(a.p<const float>(1), xh, xl, n, kBf16);
    check_cuda(cudaGetLastError(), "X conversion launch");
    const float one = 1.0f;
    for (int part = 0; part < 2; ++part) {
      check_cublas(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(T), int(cols), &alpha,
                                a.p<const void>(0), type, int(cols), part == 0 ? xh : xl, type,
                                int(cols), part == 0 ? &beta : &one, y, CUDA_R_32F, int(rows),
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx");
    }
  }
  if (flags & kMatFlagBias) {
    const int64_t n = T * rows;
    const uint32_t bias_grid = std::min(ceil_div_u32(n, 256 * 4), 4096u);
    add_bias_kernel<<<bias_grid, 256, 0, stream>>>(y, a.p<const float>(3), rows, n);
    check_cuda(cudaGetLastError(), "bias launch");
  }
}

}  // namespace

void append_matmul_kernels(std::vector<CudaKernelEntry>& t) {
  for_each_weight_type([&](auto tag) {
    using W = decltype(tag);
    static const std::string name = std::string("matmul.") + W::kName;
    if constexpr (W::kBlockElems == 1) {
      t.push_back({name.c_str(), nullptr, nullptr, &matmul_cublas<W>});
    } else {
      t.push_back({name.c_str(), reinterpret_cast<const void*>(&matmul_tiled_kernel<W>),
                   &matmul_tiled_launch});
    }
  });
}

}  // namespace stagefence::kernels::cuda
