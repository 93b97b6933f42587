#include "model/tokenizer/chat_template.hpp"

#include <string>

#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

void check_role(const ChatMessage& m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    raise(ErrorCode::InvalidArgument,
          "chat message role '" + m.role + "' is not system, user or assistant");
  }
}

// The literal system text a ChatML template writes when messages[0] is not a system message:
// the text between "<|im_start|>system\n" and "<|im_end|>" in the template source.
std::string find_default_system(std::string_view text) {
  if (text.find("messages[0]['role'] != 'system'") == std::string_view::npos) return {};
  constexpr std::string_view open = "<|im_start|>system\n";
  const size_t start = text.find(open);
  if (start == std::string_view::npos) return {};
  const size_t end = text.find("<|im_end|>", start + open.size());
  if (end == std::string_view::npos) return {};
  return std::string(text.substr(start + open.size(), end - start - open.size()));
}

// Gemma's template trims each message, as Jinja's |trim does.
std::string_view trim_whitespace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) + 1 - begin);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view template_text) {
  if (template_text.find("<|im_start|>") != std::string_view::npos) {
    family_ = ChatTemplateFamily::ChatMl;
    default_system_ = find_default_system(template_text);
  } else if (template_text.find("<start_of_turn>") != std::string_view::npos) {
    family_ = ChatTemplateFamily::Gemma;
  } else {
    raise(ErrorCode::Unsupported,
          template_text.empty()
              ? std::string("the model has no chat template")
              : "chat template family not recognised (known: ChatML <|im_start|>, Gemma "
                "<start_of_turn>); template starts with '" +
                    std::string(template_text.substr(0, 60)) + "'");
  }
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) const {
  for (const ChatMessage& m : messages) check_role(m);
  return family_ == ChatTemplateFamily::ChatMl ? apply_chatml(messages, add_generation_prompt)
                                               : apply_gemma(messages, add_generation_prompt);
}

std::string ChatTemplate::apply_chatml(const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt) const {
  std::string out;
  if (!messages.empty() && messages[0].role != "system" && !default_system_.empty()) {
    out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
  }
  for (const ChatMessage& m : messages) {
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string ChatTemplate::apply_gemma(const std::vector<ChatMessage>& messages,
                                      bool add_generation_prompt) const {
  std::string out;
  size_t first = 0;
  std::string system_prefix;
  if (!messages.empty() && messages[0].role == "system") {
    system_prefix = messages[0].content + "\n\n";
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool expect_user = (i - first) % 2 == 0;
    if (m.role == "system" || (m.role == "user") != expect_user) {
      raise(ErrorCode::InvalidArgument,
            "Gemma chat turns must alternate user/assistant after an optional leading system "
            "message; message " +
                std::to_string(i) + " has role '" + m.role + "'");
    }
    out += "<start_of_turn>";
    out += m.role == "assistant" ? "model" : "user";
    out += "\n";
    if (i == first) out += system_prefix;
    out += std::string(trim_whitespace(m.content)) + "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace stagefence::tok
