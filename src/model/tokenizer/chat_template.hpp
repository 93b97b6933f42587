// Chat prompts for the template families people run. The family is recognised from the GGUF's
// tokenizer.chat_template text; no general Jinja engine is involved. Each family writes what its
// reference template writes for plain system/user/assistant conversations.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/marked_text.hpp"
#include "model/tokenizer/tokenizer_data.hpp"

namespace stagefence::tok {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatTemplateFamily {
  // <|im_start|>role\n...<|im_end|>\n (SmolLM2); may insert a default system message.
  ChatMl,
  // ChatML as Qwen writes it; earlier assistant turns lose their <think>...</think> reasoning
  // when the template strips it (Qwen3).
  Qwen,
  // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> (Llama 3, 3.1, 3.2).
  Llama3,
  // [INST] <<SYS>>\n...\n<</SYS>>\n\nuser [/INST] assistant </s><s>[INST] ... (Llama 2 chat).
  Llama2,
  // [INST] user [/INST]assistant</s>[INST] ... (Mistral instruct); system folded into the
  // first user turn.
  Mistral,
  // <start_of_turn>user\n...<end_of_turn>\n, assistant spelled "model", system folded into the
  // first user turn (Gemma 2/3).
  Gemma,
};
const char* family_name(ChatTemplateFamily family);

class ChatTemplate {
 public:
  // Throws Error(Unsupported) when the template belongs to no known family (an empty template
  // included: the model file carries none), naming its first line and a hash of the whole.
  // `bos_text` and `eos_text` are written where the family repeats them between turns.
  explicit ChatTemplate(std::string_view template_text, std::string bos_text = "<s>",
                        std::string eos_text = "</s>");
  // The tokenizer's template, with its BOS and EOS token texts.
  explicit ChatTemplate(const TokenizerData& tokenizer);

  ChatTemplateFamily family() const { return family_; }
  // The system message a ChatML template inserts when the conversation starts without one;
  // empty when it inserts none.
  const std::string& default_system() const { return default_system_; }

  // The prompt: markup with its special-token markers, and every message's content as a literal
  // span (encode it with Tokenizer::encode(MarkedText)). The first BOS is left to the
  // tokenizer's add_bos. `add_generation_prompt` opens an assistant turn. Throws
  // Error(InvalidArgument) for an unknown role, or for a family whose turns must alternate
  // user/assistant when they do not.
  MarkedText render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // render()'s text alone.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

 private:
  void render_chatml(const std::vector<ChatMessage>& messages, MarkedText& out) const;
  void render_llama3(const std::vector<ChatMessage>& messages, MarkedText& out) const;
  void render_inst(const std::vector<ChatMessage>& messages, MarkedText& out) const;
  void render_gemma(const std::vector<ChatMessage>& messages, MarkedText& out) const;

  ChatTemplateFamily family_;
  std::string default_system_;
  std::string bos_text_, eos_text_;
  bool strips_reasoning_ = false;  // Qwen3: drop <think>...</think> from earlier answers
  bool knowledge_date_ = false;    // Llama 3.1: the system turn starts with the dates
};

}  // namespace stagefence::tok
