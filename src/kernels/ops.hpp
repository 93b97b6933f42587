// Op encoders of the forward pass: each records the dispatch(es) of one kernel from
// kernel_spec.hpp with its bindings (exact byte ranges and access modes) and scalars. The launch
// is left to each backend's launch rule. Kernel ids are resolved once per process (registering
// the forward kernels on first use). Sizes are element counts; a negative size, a weight row that
// is not whole blocks, or a buffer too small for its range throws before anything is recorded.
#pragma once
#include <cstdint>

#include "stagefence/buffer.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::kernels::ops {

enum class RopeMode : int {
  Adjacent = 0,  // pairs (2i, 2i+1): GGUF "llama"
  Neox = 1,      // pairs (i, i + rot_dim/2): qwen2, gemma, most newer architectures
};

enum class Activation : int { Silu = 0, GeluTanh = 1 };

struct RopeParams {
  int head_dim = 0;
  int rot_dim = 0;  // the first rot_dim dims of each head rotate
  float theta_base = 10000.0f;
  RopeMode mode = RopeMode::Adjacent;
  float freq_scale = 1.0f;
};

struct AttentionParams {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int cap = 0;           // KV cache capacity (positions)
  float scale = 0.0f;    // usually 1/sqrt(head_dim)
  int window = 0;        // sliding window in keys; 0: none
  float softcap = 0.0f;  // 0: none
};

struct SamplerParams {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // 0: no limit (candidates are capped at 1024 either way)
  float top_p = 1.0f;        // >= 1: off
};

// out[t, :] = scale · table[ids[t], :]; ids outside [0, vocab) give NaN rows.
void embed(CommandEncoder& enc, const Buffer& table, DType wt, int vocab, int dim,
           const Buffer& ids, int tokens, const Buffer& out, float scale = 1.0f);

// y = x / rms(x) · w (add_one: · (1 + w)) for `rows` rows of n; y may be x. With accumulate,
// y += that instead (y must not overlap x).
void rmsnorm(CommandEncoder& enc, const Buffer& x, const Buffer& w, const Buffer& y, int rows,
             int n, float eps, bool add_one = false, bool accumulate = false);

// y[rows] = W[rows, cols] · x (+ bias) (+ y when accumulate).
void matvec(CommandEncoder& enc, const Buffer& w, DType wt, int rows, int cols, const Buffer& x,
            const Buffer& y, const Buffer* bias = nullptr, bool accumulate = false);

// Y[tokens, rows] = X[tokens, cols] · Wᵀ (+ bias) (+ Y when accumulate). `scratch` (at least
// matmul_scratch_bytes(tokens, cols), kernel_spec.hpp) is required for float weights on CUDA.
void matmul(CommandEncoder& enc, const Buffer& w, DType wt, int rows, int cols, const Buffer& x,
            const Buffer& y, int tokens, const Buffer* bias = nullptr, bool accumulate = false,
            const Buffer* scratch = nullptr);

// Rotates x [tokens, heads, head_dim] in place at positions[tokens].
void rope(CommandEncoder& enc, const Buffer& x, const Buffer& positions, int tokens, int heads,
          const RopeParams& params);

// cache[kv_heads, cap, head_dim] (f16) at positions[t] = src[t] for t < tokens.
void kv_store(CommandEncoder& enc, const Buffer& src, const Buffer& cache, const Buffer& positions,
              int tokens, int kv_heads, int head_dim, int cap);

// Bytes of the scratch buffer attention() needs for its per-split partial results.
uint64_t attention_partial_bytes(int tokens, int heads, int head_dim, int splits);

// Causal attention of q [tokens, heads, head_dim] over the f16 caches into out: records
// attn.split (the keys of each query cut into `splits` slices, results in `partial`) then
// attn.merge.
void attention(CommandEncoder& enc, const Buffer& q, const Buffer& k_cache, const Buffer& v_cache,
               const Buffer& positions, const Buffer& partial, const Buffer& out, int tokens,
               int splits, const AttentionParams& params);

// out = act(gate) · up over n elements; out may be gate or up.
void swiglu(CommandEncoder& enc, const Buffer& gate, const Buffer& up, const Buffer& out, int n,
            Activation act = Activation::Silu);

// out = a + b over n elements; out may be a.
void add(CommandEncoder& enc, const Buffer& a, const Buffer& b, const Buffer& out, int n);

// out[0, n) = value (f32).
void fill(CommandEncoder& enc, const Buffer& out, uint64_t n, float value);

// token[0] = the sampled id of logits[vocab]; state is u64 {seed, step}; the token is also
// stored at history[step] when step < max_steps.
void sample(CommandEncoder& enc, const Buffer& logits, int vocab, const Buffer& token,
            const Buffer& state, const Buffer& history, int max_steps, const SamplerParams& params);

// positions[0] += 1 and state.step += 1, on the device.
void step_advance(CommandEncoder& enc, const Buffer& positions, const Buffer& state);

}  // namespace stagefence::kernels::ops
