// Streaming detokenizer: turns generated ids into text as they arrive, emitting only complete,
// valid UTF-8 (a code point split across tokens waits for its last byte).
#pragma once
#include <cstdint>
#include <string>

#include "model/tokenizer/tokenizer.hpp"

namespace stagefence::tok {

class IncrementalDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool render_special = false)
      : tokenizer_(&tokenizer), render_special_(render_special) {}

  // Text that became complete with this token; may be empty.
  std::string push(int32_t id);
  // Whatever is still held back, with each byte of an unfinished sequence as U+FFFD.
  std::string finish();

 private:
  // Valid UTF-8 of `bytes`, each invalid byte replaced by U+FFFD.
  static std::string sanitize(std::string_view bytes);

  const Tokenizer* tokenizer_;
  bool render_special_;
  bool at_start_ = true;
  std::string pending_;
};

}  // namespace stagefence::tok
