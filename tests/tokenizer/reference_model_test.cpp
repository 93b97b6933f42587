// The tokenizer of a real GGUF model against ids from a reference tokenizer of the same
// vocabulary (scripts/tokenizer_reference.py). Runs when STAGEFENCE_MODEL_GGUF and
// STAGEFENCE_TOKENIZER_REFERENCE are set; skipped otherwise.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/tokenizer/chat_template.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace stagefence::tok {
namespace {

using Json = nlohmann::json;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<int32_t> ids_of(const Json& array) {
  std::vector<int32_t> ids;
  for (const Json& v : array) ids.push_back(v.get<int32_t>());
  return ids;
}

class ReferenceModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* model = std::getenv("STAGEFENCE_MODEL_GGUF");
    const char* reference = std::getenv("STAGEFENCE_TOKENIZER_REFERENCE");
    if (model == nullptr || reference == nullptr) {
      GTEST_SKIP() << "set STAGEFENCE_MODEL_GGUF=model.gguf and STAGEFENCE_TOKENIZER_REFERENCE="
                      "ids.json (scripts/tokenizer_reference.py) to compare with a reference";
    }
    file_ = std::make_unique<gguf::GgufFile>(gguf::GgufFile::open(model));
    tokenizer_ = std::make_unique<Tokenizer>(tokenizer_data_from_gguf(*file_));
    reference_ = nlohmann::json::parse(read_file(reference));
  }

  std::unique_ptr<gguf::GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Json reference_;
};

TEST_F(ReferenceModel, PlainTextEncodesLikeReferenceAndRoundTrips) {
  const Json& plain = reference_.at("plain");
  ASSERT_GT(plain.size(), 0u);
  for (const auto& [text, ids] : plain.items()) {
    const std::vector<int32_t> got = tokenizer_->encode(text, /*add_special=*/false);
    EXPECT_EQ(got, ids_of(ids)) << "text: " << text;
    EXPECT_EQ(tokenizer_->decode(got), text);
    IncrementalDecoder stream(*tokenizer_);
    std::string streamed;
    for (int32_t id : got) streamed += stream.push(id);
    streamed += stream.finish();
    EXPECT_EQ(streamed, text);
  }
}

TEST_F(ReferenceModel, SpecialTokensParseLikeReference) {
  for (const auto& [text, ids] : reference_.at("special").items()) {
    const std::vector<int32_t> got = tokenizer_->encode(text, false, /*parse_special=*/true);
    EXPECT_EQ(got, ids_of(ids)) << "text: " << text;
    EXPECT_EQ(tokenizer_->decode(got, /*render_special=*/true), text);
  }
}

TEST_F(ReferenceModel, ReferenceCoversTheWholeCorpus) {
  const auto corpus_path = std::filesystem::path(__FILE__).parent_path() / "tokenizer_corpus.json";
  if (!std::filesystem::exists(corpus_path)) GTEST_SKIP() << "no corpus at " << corpus_path;
  const Json corpus = nlohmann::json::parse(read_file(corpus_path));
  for (const char* section : {"plain", "special"}) {
    const Json& ref = reference_.at(section);
    for (const Json& text : corpus.at(section)) {
      EXPECT_NO_THROW(ref.at(text.get<std::string>()))
          << "reference lacks: " << text.get<std::string>();
    }
  }
}

TEST_F(ReferenceModel, BosFollowsTheFileFlag) {
  const std::vector<int32_t> with = tokenizer_->encode("Hello", true);
  const std::vector<int32_t> without = tokenizer_->encode("Hello", false);
  const bool adds_bos = tokenizer_->data().add_bos && tokenizer_->bos() >= 0;
  ASSERT_EQ(with.size(), without.size() + (adds_bos ? 1 : 0));
  if (adds_bos) {
    EXPECT_EQ(with.front(), tokenizer_->bos());
  }
}

TEST_F(ReferenceModel, ChatTemplateOfTheFileFormatsAConversation) {
  if (tokenizer_->data().chat_template.empty()) GTEST_SKIP() << "the file has no chat template";
  const ChatTemplate chat(tokenizer_->data().chat_template);
  const std::string prompt = chat.apply({{"user", "What is 2+2?"}}, true);
  const std::vector<int32_t> ids = tokenizer_->encode(prompt, true, true);
  EXPECT_EQ(tokenizer_->decode(ids, true), prompt);
  // The prompt ends by opening the assistant turn, so the last token is not end-of-generation
  // and the turn markers became single special tokens.
  EXPECT_FALSE(tokenizer_->is_end_of_generation(ids.back()));
  size_t specials = 0;
  for (int32_t id : ids) specials += tokenizer_->vocabulary().type(id) == TokenType::Control;
  EXPECT_GE(specials, 3u);
}

}  // namespace
}  // namespace stagefence::tok
