// The contract between the forward pass and the kernels of every backend: for each kernel name,
// which bindings it takes (KernelArgs::ptr[i], in order) and which scalars (KernelArgs::s[i]).
// Activations are f32; the KV cache is f16; token ids and positions are int32.
// A weight matrix has `rows` output rows, each row `cols` contiguous input elements stored in
// the weight's dtype (GGUF layout: dims [cols, rows], ne[0] = cols). Quantised rows are whole
// blocks (cols % block_elems == 0). Names carry the weight type: "matvec.q4_0", "embed.bf16".
// Both backends must produce the same function: greedy sampling breaks ties toward the lowest
// token id; the sampler's random number for step t is sf_uniform(seed, t) below.
#pragma once
#include <cstdint>

#include "stagefence/kernel_args.hpp"

namespace stagefence::kernels {

// Weight-type suffixes used in kernel names: f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k (q5_0 q5_k
// where a shipped model needs them).

// "embed.<wt>"   b0 table [vocab, dim] (wt, read)   b1 ids int32 [T] (read)
//                b2 out f32 [T, dim] (write)
//                s0 dim  s1 T  s2 vocab  s3 scale (f32; 1.0 = none; Gemma multiplies by sqrt(dim))
//                An id outside [0, vocab) writes NaN rows (loud, not a crash).
//
// "rmsnorm"      b0 x f32 [rows, n] (read)  b1 w f32 [n] (read)  b2 y f32 [rows, n] (write;
//                may alias b0)   s0 rows  s1 n  s2 eps (f32)  s3 add_one (1: y = x̂·(1+w), Gemma)
//                s4 accumulate (1: y += x̂·w, y read-write and not aliasing b0: a post-norm
//                added into the residual; the product is rounded before the add, as a
//                separate "add" would)
//
// "matvec.<wt>"  y[r] = sum_c W[r,c]·x[c]  (+ bias[r]) (+ y_old[r] when accumulate)
//                b0 W (read)  b1 x f32 [cols] (read)  b2 y f32 [rows] (write, or read-write when
//                accumulating)  b3 bias f32 [rows] (read; only when flags bit0)
//                s0 rows  s1 cols  s2 flags (bit0: bias, bit1: accumulate into y)
//                Partial sums in f32; the dot product of one row must not depend on the launch.
//
// "matmul.<wt>"  Y[t,r] = sum_c W[r,c]·X[t,c] (+ bias[r]) (+ Y_old[t,r] when accumulate)
//                b0 W  b1 X f32 [T, cols]  b2 Y f32 [T, rows]  b3 bias (flags bit0)
//                s0 rows  s1 cols  s2 flags  s3 T          (prefill; cuBLAS on CUDA)
//                flags bit2: the last binding is scratch (read-write, matmul_scratch_bytes):
//                the cuBLAS workspace and the 16-bit split of X, bound so the hazard tracker
//                orders matmuls that share it. CUDA float weights require it; others ignore it.
//
// "finite_check" b0 x f32 [n] (read)  b1 flag u32 [1] (read-write)  s0 n  s1 code (u32)
//                when any x[i] is NaN or ±Inf: flag = min(flag, code) (the earliest check wins)
//
// "rope"         rotates in place: b0 x f32 [T, heads, head_dim] (read-write)
//                b1 positions int32 [T] (read)
//                s0 T  s1 heads  s2 head_dim  s3 rot_dim (first rot_dim dims rotate)
//                s4 theta_base (f32)  s5 mode (0: pairs (2i, 2i+1), llama; 1: pairs (i, i+rot/2),
//                neox/qwen2/gemma)  s6 freq_scale (f32; 1.0 = none)
//                angle = pos · freq_scale · theta_base^(-2i/rot_dim), i in [0, rot_dim/2)
//
// "kv_store"     b0 src f32 [T, kv_heads, head_dim] (read)  b1 cache f16 [kv_heads, cap,
//                head_dim] (write, whole cache range)  b2 positions int32 [T] (read)
//                s0 T  s1 kv_heads  s2 head_dim  s3 cap   (positions >= cap are skipped)
//
// "attn.split"   causal attention, partial over a slice of the keys, for T queries:
//                b0 q f32 [T, heads, head_dim] (read)  b1 k cache f16  b2 v cache f16 (read)
//                b3 partial f32 [T, heads, splits, head_dim + 2] (write): per split the
//                unnormalised output, then the running max m and the sum l of exp(s - m)
//                b4 positions int32 [T] (read): query t sees keys [lo, pos_t] where
//                lo = window ? max(0, pos_t - window + 1) : 0
//                s0 T  s1 heads  s2 kv_heads  s3 head_dim  s4 cap  s5 scale (f32)  s6 splits
//                s7 window (0: none)  s8 softcap (f32; 0: none)
//                Keys [lo, pos_t] are divided into `splits` contiguous equal slices (the last
//                may be short or empty; an empty slice writes m = -inf, l = 0, zeros).
//                Query head h reads kv head h / (heads / kv_heads).
// "attn.merge"   b0 partial (read)  b1 out f32 [T, heads, head_dim] (write)
//                s0 T  s1 heads  s2 head_dim  s3 splits
//
// "swiglu"       b0 gate f32 [n] (read)  b1 up f32 [n] (read)  b2 out f32 [n] (write; may alias)
//                s0 n  s1 act (0: silu(gate)·up, 1: gelu_tanh(gate)·up)
//
// "add"          b0 a f32  b1 b f32  b2 out f32 (may alias a)  s0 n
//
// "sample"       b0 logits f32 [vocab] (read)  b1 token int32 [1] (write)
//                b2 state u64 [2] = {seed, step} (read)  b3 history int32 [max_steps] (write;
//                token also stored at history[step] when step < max_steps)
//                s0 vocab  s1 temperature (f32; <= 0: greedy)  s2 top_k (0: no limit); the
//                candidates are the min(top_k or vocab, 1024) highest logits
//                s3 top_p (f32; >= 1: off)  s4 max_steps
//                Greedy: argmax, ties to the lowest id. Otherwise: candidates sorted by logit
//                (ties by id), p_i = softmax(logit_i / temperature) over them, keep the shortest
//                prefix whose mass >= top_p, renormalise, pick the first i whose cumulative
//                mass exceeds u = sf_uniform(seed, step) · total.
//
// "step_advance" b0 positions int32 [1] (read-write): += 1   b1 state u64 [2] (read-write):
//                step += 1                                     (no scalars)

// Splitmix64-based uniform double in [0, 1) for (seed, step); identical on host and device.
SF_HD double sf_uniform(uint64_t seed, uint64_t step) {
  uint64_t z = seed + (step + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z = z ^ (z >> 31);
  return double(z >> 11) * (1.0 / 9007199254740992.0);
}

inline constexpr uint32_t kMatFlagBias = 1u;
inline constexpr uint32_t kMatFlagAccumulate = 2u;
inline constexpr uint32_t kMatFlagScratch = 4u;
// matmul's scratch: a cuBLAS workspace, then X as two 16-bit halves (4 bytes per element).
inline constexpr uint64_t kMatScratchWorkspaceBytes = uint64_t(32) << 20;
constexpr uint64_t matmul_scratch_bytes(int64_t tokens, int64_t cols) {
  return kMatScratchWorkspaceBytes + uint64_t(tokens) * uint64_t(cols) * 4;
}
inline constexpr int kMaxSampleCandidates = 1024;

}  // namespace stagefence::kernels
