// Reads the tokenizer.* metadata of a GGUF file into TokenizerData.
#pragma once
#include "model/gguf/gguf_file.hpp"
#include "model/tokenizer/tokenizer_data.hpp"

namespace stagefence::tok {

// Throws Error(Format) naming the key when a required key (tokenizer.ggml.model, .tokens) is
// missing or any tokenizer key has an unexpected type.
TokenizerData tokenizer_data_from_gguf(const gguf::GgufFile& file);

}  // namespace stagefence::tok
