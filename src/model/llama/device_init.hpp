// Weights and KV-cache contents made on the device by a hash-based initialiser, so a
// Llama-3-8B shape (16 GB of bf16) fills in milliseconds instead of minutes of host work. Every
// value is f(seed, tensor name, element index) (device_init_hash.hpp) and the CPU and CUDA
// kernels give identical bits. random_model stays the host-made path for small models.
//
// Kernels (registered by register_device_init_kernels):
// "init.hash"    b0 out (write): `units` units of `format`
//                s0 units (elements, or 32-weight blocks for q8_0/q4_0)  s1 format (HashFormat)
//                s2 key_a  s3 key_b  s4 scale (f32)  s5 offset (int)  s6 block_d (f16 bits)
// "init.hash_kv" b0 cache f16 [kv_heads, capacity, head_dim] (write); positions [0, n) filled
//                s0 kv_heads  s1 capacity  s2 head_dim  s3 n  s4 key_a  s5 key_b  s6 scale (f32)
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "model/llama/forward.hpp"
#include "model/llama/model.hpp"
#include "model/llama/random_init.hpp"
#include "model/llama/tensor_layout.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/device.hpp"

namespace stagefence::llama {

struct HashKey {
  uint32_t a = 0;
  uint32_t b = 0;
};

// splitmix64(seed ^ fnv1a64(name)): the low word is `a`, the high word `b`.
HashKey hash_key(uint64_t seed, std::string_view name);

// How a tensor is made: plain elements are (draw16 + offset) * scale rounded to the dtype;
// q8_0/q4_0 blocks get hashed quants and the block scale `block_d`.
struct HashFill {
  HashKey key;
  DType dtype = DType::BF16;  // F32, F16, BF16, Q8_0 or Q4_0
  float scale = 0;            // per draw16 step
  int32_t offset = 0;         // added to draw16 (plain dtypes)
  uint16_t block_d = 0;       // f16 bits of d (q8_0/q4_0)
};

// The fill of the weight `spec` stored as `dtype`. Amplitudes follow random_values: matrices
// uniform with variance 1/cols, the output projection with gain 3, an untied embedding with
// unit variance (tied: like a matrix), norm gains in [0.8, 1.2], biases in [-0.1, 0.1].
// Throws Unsupported for a dtype the kernels do not write.
HashFill weight_fill(const TensorSpec& spec, DType dtype, uint64_t seed);

// The f16 fill of layer `layer`'s K (or V) cache, tensor "blk.L.cache_k" ("cache_v"): uniform
// in [-1, 1).
HashFill kv_fill(uint64_t seed, int layer, bool values);

// Records the fill of `out`, which holds `elements` elements of fill.dtype (whole blocks for
// quantised types). Throws InvalidArgument when the buffer is too small or there are 2^32
// elements or more (indices are 32-bit).
void record_hash_fill(CommandEncoder& enc, const Buffer& out, uint64_t elements,
                      const HashFill& fill);

// Records the fill of positions [0, positions) of the f16 cache [kv_heads, capacity, head_dim];
// element (pos, h, d) takes hash index (pos * kv_heads + h) * head_dim + d.
void record_hash_kv_fill(CommandEncoder& enc, const Buffer& cache, int kv_heads, int capacity,
                         int head_dim, int positions, const HashFill& fill);

// A model of `config` whose weights are allocated and filled on the device (one command buffer,
// waited on). Norms and biases are f32; the rest takes `types`. With tp.ranks > 1 only rank
// tp.rank's shard is made (tensor_parallel.hpp), with the whole tensors' amplitudes.
LlamaModel hashed_model(Device& device, const LlamaConfig& config, const WeightTypes& types,
                        uint64_t seed, TensorParallel tp = {});

// Each layer's K and V cache buffers.
std::vector<std::pair<Buffer, Buffer>> kv_cache_buffers(Device& device,
                                                        const LlamaForward& forward);

// Fills positions [0, positions) of every layer's K and V cache with hashed values and waits.
// Throws InvalidArgument when positions exceed the forward's capacity.
void fill_kv_cache(Device& device, const LlamaForward& forward, int positions, uint64_t seed);

// Adds "init.hash" and "init.hash_kv" (CPU, and CUDA in CUDA builds). Idempotent; the record
// functions call it.
void register_device_init_kernels();

// The backends' halves of register_device_init_kernels (device_init_cpu.cpp,
// device_init_cuda.cu); not idempotent on their own.
void register_cpu_device_init_kernels();
#if defined(STAGEFENCE_WITH_CUDA)
void register_cuda_device_init_kernels();
#endif

}  // namespace stagefence::llama
