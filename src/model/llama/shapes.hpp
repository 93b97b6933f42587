// The model shapes the runtime, its benchmarks and the peer scripts name (--shape): one table,
// so a shape's numbers are written once. A shape is a LlamaConfig without weights.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "model/llama/config.hpp"

namespace stagefence::llama {

// The configuration of a named shape:
//   llama3-8b      Llama-3-8B (32 layers, dim 4096, GQA 32/8, ffn 14336, vocab 128256)
//   llama3-70b     Llama-3-70B (80 layers, dim 8192, GQA 64/8, ffn 28672)
//   llama3.2-1b    Llama-3.2-1B (16 layers, dim 2048, GQA 32/8, ffn 8192)
//   smollm2-135m   SmolLM2-135M, the shipped model (30 layers, dim 576, GQA 9/3, ffn 1536)
//   builtin        the CLI's built-in random model (4 layers, dim 512, GQA 8/2)
//   tiny           2 layers, dim 128, GQA 4/2: whole q8_0/q4_0 blocks, seconds on the CPU
//   tiny-tp        2 layers, dim 256, GQA 8/4: splits across up to 4 tensor-parallel ranks
// Throws InvalidArgument naming the shape and the known names.
LlamaConfig shape_config(std::string_view name);
// The names above, in that order.
std::vector<std::string> shape_names();

}  // namespace stagefence::llama
