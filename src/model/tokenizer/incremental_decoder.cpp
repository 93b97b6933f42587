#include "model/tokenizer/incremental_decoder.hpp"

#include <cstdint>

#include "model/tokenizer/utf8.hpp"

namespace stagefence::tok {

std::string IncrementalDecoder::sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const CodePoint& cp : decode_utf8(bytes)) {
    if (cp.value == 0xFFFD && cp.length == 1) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(bytes.substr(cp.offset, cp.length));
    }
  }
  return out;
}

std::string IncrementalDecoder::push(int32_t id) {
  pending_ += tokenizer_->token_bytes(id, render_special_);
  if (at_start_ && !pending_.empty()) {
    if (tokenizer_->strips_leading_space() && pending_[0] == ' ') pending_.erase(0, 1);
    at_start_ = false;
  }
  const size_t ready = complete_utf8_prefix(pending_);
  std::string out = sanitize(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string IncrementalDecoder::finish() {
  std::string out = sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace stagefence::tok
