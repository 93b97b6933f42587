// The built-in model: a small Llama-architecture model that stagefence makes itself from a
// seed (no download), written as GGUF in memory and read back through the regular loader.
// Sized to decode quickly on two CPU cores; its weights mix Q8_0, Q4_0, Q4_K, Q6_K and F32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/llama/model.hpp"
#include "model/llama/random_init.hpp"

namespace stagefence::llama {

inline constexpr uint64_t kBuiltinSeed = 20240611;

LlamaConfig builtin_config();
WeightTypes builtin_weight_types();
// A SentencePiece-style vocabulary of builtin_config().vocab made-up syllable tokens, with the
// usual <unk>, <s>, </s> and 256 <0xNN> byte tokens first.
std::vector<std::string> builtin_vocabulary();
// The GGUF file of the built-in model.
std::vector<std::byte> builtin_model_gguf(uint64_t seed = kBuiltinSeed);
// Makes the file and loads it onto `device`.
LlamaModel load_builtin_model(Device& device, uint64_t seed = kBuiltinSeed);
// A short fixed prompt of valid ids.
std::vector<int32_t> builtin_prompt();

}  // namespace stagefence::llama
