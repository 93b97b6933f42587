// Chat prompts for the template families of the models we ship. The family is recognised from
// the template string; no general Jinja engine is involved.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace stagefence::tok {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatTemplateFamily {
  // <|im_start|>role\n...<|im_end|>\n (SmolLM2, Qwen); may insert a default system message.
  ChatMl,
  // <start_of_turn>user\n...<end_of_turn>\n, assistant spelled "model", system folded into the
  // first user turn (Gemma 2/3).
  Gemma,
};

class ChatTemplate {
 public:
  // Throws Error(Unsupported) when the template belongs to no known family (an empty template
  // included: the model file carries none).
  explicit ChatTemplate(std::string_view template_text);

  ChatTemplateFamily family() const { return family_; }
  // The system message a ChatML template inserts when the conversation starts without one;
  // empty when it inserts none.
  const std::string& default_system() const { return default_system_; }

  // The prompt text, with special-token markers written literally (encode it with
  // parse_special = true). A Gemma prompt leaves BOS to the tokenizer's add_bos.
  // `add_generation_prompt` opens an assistant turn. Throws Error(InvalidArgument) for an
  // unknown role, or for a Gemma conversation whose turns do not alternate.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

 private:
  std::string apply_chatml(const std::vector<ChatMessage>& messages,
                           bool add_generation_prompt) const;
  std::string apply_gemma(const std::vector<ChatMessage>& messages,
                          bool add_generation_prompt) const;

  ChatTemplateFamily family_;
  std::string default_system_;
};

}  // namespace stagefence::tok
