#include "model/tokenizer/chat_template.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
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

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Jinja's |trim: whitespace off both ends.
std::string_view trim_whitespace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) + 1 - begin);
}

// A string literal of the template with its "\n" escapes decoded (templates are stored with
// either real newlines or the two characters '\' 'n').
std::string unescape_newlines(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The literal system text a ChatML template writes when the conversation has no system message:
// the first "<|im_start|>system\n...<|im_end|>" whose middle is plain text (no quote, so no
// expression spliced in).
std::string find_default_system(std::string_view text) {
  for (std::string_view open : {"<|im_start|>system\n", "<|im_start|>system\\n"}) {
    for (size_t at = text.find(open); at != std::string_view::npos; at = text.find(open, at + 1)) {
      const size_t start = at + open.size();
      const size_t end = text.find("<|im_end|>", start);
      if (end == std::string_view::npos) break;
      const std::string_view middle = text.substr(start, end - start);
      if (!middle.empty() && middle.find_first_of("'\"{}") == std::string_view::npos)
        return unescape_newlines(middle);
    }
  }
  return {};
}

// Llama 3.1's system header dates: the template's default date_string, else today (3.2 asks
// for strftime_now).
std::string knowledge_dates(std::string_view text) {
  std::string today = "26 Jul 2024";
  constexpr std::string_view key = "date_string = \"";
  if (const size_t at = text.find(key); at != std::string_view::npos) {
    const size_t end = text.find('"', at + key.size());
    if (end != std::string_view::npos)
      today = std::string(text.substr(at + key.size(), end - at - key.size()));
  } else if (contains(text, "strftime_now")) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%d %b %Y", &tm);
    today = buf;
  }
  return "Cutting Knowledge Date: December 2023\nToday Date: " + today + "\n\n";
}

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

[[noreturn]] void unknown_template(std::string_view text) {
  if (text.empty()) raise(ErrorCode::Unsupported, "the model has no chat template");
  std::string first_line(text.substr(0, std::min(text.find('\n'), size_t(80))));
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a64(text)));
  raise(ErrorCode::Unsupported,
        "chat template not recognised (known families: ChatML and Qwen <|im_start|>, Llama 3 "
        "<|start_header_id|>, Mistral and Llama 2 [INST], Gemma <start_of_turn>); it begins '" +
            first_line + "' (" + std::to_string(text.size()) + " bytes, fnv1a64 " + hash + ")");
}

// Splits off a leading system message; the rest must alternate user, assistant, user, ...
std::string_view split_system(const std::vector<ChatMessage>& messages, size_t& first,
                              const char* family) {
  std::string_view system;
  first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const bool expect_user = (i - first) % 2 == 0;
    if (messages[i].role == "system" || (messages[i].role == "user") != expect_user)
      raise(ErrorCode::InvalidArgument,
            std::string(family) +
                " chat turns must alternate user/assistant after an optional leading system "
                "message; message " +
                std::to_string(i) + " has role '" + messages[i].role + "'");
  }
  return system;
}

}  // namespace

const char* family_name(ChatTemplateFamily family) {
  switch (family) {
    case ChatTemplateFamily::ChatMl:
      return "ChatML";
    case ChatTemplateFamily::Qwen:
      return "Qwen";
    case ChatTemplateFamily::Llama3:
      return "Llama 3";
    case ChatTemplateFamily::Llama2:
      return "Llama 2";
    case ChatTemplateFamily::Mistral:
      return "Mistral";
    case ChatTemplateFamily::Gemma:
      return "Gemma";
  }
  return "?";
}

ChatTemplate::ChatTemplate(std::string_view text, std::string bos_text, std::string eos_text)
    : bos_text_(std::move(bos_text)), eos_text_(std::move(eos_text)) {
  if (contains(text, "<|im_start|>")) {
    family_ = contains(text, "Qwen") || contains(text, "</think>") ? ChatTemplateFamily::Qwen
                                                                   : ChatTemplateFamily::ChatMl;
    default_system_ = find_default_system(text);
    strips_reasoning_ = contains(text, "</think>");
  } else if (contains(text, "<|start_header_id|>")) {
    family_ = ChatTemplateFamily::Llama3;
    knowledge_date_ = contains(text, "Cutting Knowledge Date");
    if (knowledge_date_) default_system_ = knowledge_dates(text);
  } else if (contains(text, "<start_of_turn>")) {
    family_ = ChatTemplateFamily::Gemma;
  } else if (contains(text, "[INST]")) {
    family_ = contains(text, "<<SYS>>") ? ChatTemplateFamily::Llama2 : ChatTemplateFamily::Mistral;
  } else {
    unknown_template(text);
  }
}

namespace {
// A file without a template whose vocabulary has Gemma's turn markers (Gemma 3 GGUF files that
// ship none) renders Gemma turns; any other file without one is refused.
std::string_view template_or_turn_markers(const TokenizerData& t) {
  if (!t.chat_template.empty()) return t.chat_template;
  const auto has = [&](std::string_view token) {
    return std::find(t.tokens.begin(), t.tokens.end(), token) != t.tokens.end();
  };
  return has("<start_of_turn>") && has("<end_of_turn>") ? "<start_of_turn>" : "";
}
}  // namespace

ChatTemplate::ChatTemplate(const TokenizerData& t)
    : ChatTemplate(
          template_or_turn_markers(t),
          t.bos >= 0 && size_t(t.bos) < t.tokens.size() ? t.tokens[size_t(t.bos)] : "<s>",
          t.eos >= 0 && size_t(t.eos) < t.tokens.size() ? t.tokens[size_t(t.eos)] : "</s>") {}

MarkedText ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) const {
  for (const ChatMessage& m : messages) check_role(m);
  MarkedText out;
  switch (family_) {
    case ChatTemplateFamily::ChatMl:
    case ChatTemplateFamily::Qwen:
      render_chatml(messages, out);
      if (add_generation_prompt) out.markup("<|im_start|>assistant\n");
      break;
    case ChatTemplateFamily::Llama3:
      render_llama3(messages, out);
      if (add_generation_prompt) out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
      break;
    case ChatTemplateFamily::Llama2:
    case ChatTemplateFamily::Mistral:
      render_inst(messages, out);  // the last [/INST] already opens the answer
      break;
    case ChatTemplateFamily::Gemma:
      render_gemma(messages, out);
      if (add_generation_prompt) out.markup("<start_of_turn>model\n");
      break;
  }
  return out;
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) const {
  return render(messages, add_generation_prompt).text;
}

void ChatTemplate::render_chatml(const std::vector<ChatMessage>& messages, MarkedText& out) const {
  if (!messages.empty() && messages[0].role != "system" && !default_system_.empty())
    out.markup("<|im_start|>system\n" + default_system_ + "<|im_end|>\n");
  size_t last_user = 0;
  for (size_t i = 0; i < messages.size(); ++i)
    if (messages[i].role == "user") last_user = i;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    std::string_view content = m.content;
    if (strips_reasoning_ && m.role == "assistant" && i < last_user) {
      if (const size_t end = content.rfind("</think>"); end != std::string_view::npos) {
        content.remove_prefix(end + 8);
        content.remove_prefix(std::min(content.find_first_not_of('\n'), content.size()));
      }
    }
    out.markup("<|im_start|>" + m.role + "\n");
    out.content(content);
    out.markup("<|im_end|>\n");
  }
}

void ChatTemplate::render_llama3(const std::vector<ChatMessage>& messages, MarkedText& out) const {
  size_t first = 0;
  if (knowledge_date_) {
    // Llama 3.1 always writes a system turn: the dates, then the system message if any.
    out.markup("<|start_header_id|>system<|end_header_id|>\n\n" + default_system_);
    if (!messages.empty() && messages[0].role == "system") {
      out.content(trim_whitespace(messages[0].content));
      first = 1;
    }
    out.markup("<|eot_id|>");
  }
  for (size_t i = first; i < messages.size(); ++i) {
    out.markup("<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n");
    out.content(trim_whitespace(messages[i].content));
    out.markup("<|eot_id|>");
  }
}

void ChatTemplate::render_inst(const std::vector<ChatMessage>& messages, MarkedText& out) const {
  const bool llama2 = family_ == ChatTemplateFamily::Llama2;
  size_t first = 0;
  const std::string_view system = split_system(messages, first, family_name(family_));
  for (size_t i = first; i < messages.size(); ++i) {
    const std::string_view content =
        llama2 ? trim_whitespace(messages[i].content) : std::string_view(messages[i].content);
    if (messages[i].role == "user") {
      if (i > first && llama2) out.markup(bos_text_);
      out.markup("[INST] ");
      if (i == first && first == 1) {
        if (llama2) {
          out.markup("<<SYS>>\n");
          out.content(system);
          out.markup("\n<</SYS>>\n\n");
        } else {
          out.content(system);
          out.markup("\n\n");
        }
      }
      out.content(content);
      out.markup(" [/INST]");
    } else {
      if (llama2) out.markup(" ");
      out.content(content);
      out.markup(llama2 ? " " + eos_text_ : eos_text_);
    }
  }
}

void ChatTemplate::render_gemma(const std::vector<ChatMessage>& messages, MarkedText& out) const {
  size_t first = 0;
  const std::string_view system = split_system(messages, first, "Gemma");
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    out.markup(m.role == "assistant" ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
    if (i == first && first == 1) {
      out.content(system);
      out.markup("\n\n");
    }
    out.content(trim_whitespace(m.content));
    out.markup("<end_of_turn>\n");
  }
}

}  // namespace stagefence::tok
