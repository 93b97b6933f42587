// A GGUF whose tokenizer metadata is broken fails with the reason before any device opens,
// also when the prompt is given as token ids (it used to run the ids and exit 0).
#include "model_source.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "model/builtin_model.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "model/llama/model_writer.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace {

namespace fs = std::filesystem;

fs::path write_model_with_tokenizer(const std::string& tokenizer_model, uint32_t eos) {
  gguf::GgufWriter w;
  llama::add_vocabulary(w, tokenizer_model, llama::builtin_vocabulary());
  w.add_u32("tokenizer.ggml.eos_token_id", eos);
  llama::add_random_model(w, llama::builtin_config(), llama::builtin_weight_types(), 1);
  const fs::path path = fs::temp_directory_path() /
                        ("sf_tok_" + std::to_string(::getpid()) + "_" + tokenizer_model + ".gguf");
  w.write(path);
  return path;
}

TEST(ModelSource, BrokenTokenizerMetadataIsAnErrorNamingIt) {
  const fs::path bad_model = write_model_with_tokenizer("xxxx", 2);
  const fs::path bad_eos = write_model_with_tokenizer("llama", 999999);
  for (const fs::path& path : {bad_model, bad_eos}) {
    try {
      open_model_source(path.string());
      ADD_FAILURE() << path << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("tokenizer"), std::string::npos) << what;
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    }
    const std::string cmd = std::string(STAGEFENCE_CLI_PATH) + " --backend cpu --model " +
                            path.string() + " --prompt-ids 1,2 -n 2 </dev/null >/dev/null 2>&1";
    const int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_NE(WEXITSTATUS(status), 0) << cmd;
  }
  // The same file with a sound tokenizer runs.
  const fs::path good = write_model_with_tokenizer("llama", 2);
  EXPECT_TRUE(open_model_source(good.string()).tokenizer.has_value());
  for (const fs::path& p : {bad_model, bad_eos, good}) fs::remove(p);
}

// llama.cpp's "no_vocab" (tokenizer model only, as bench/peers/make_gguf.py writes): the model
// runs on token ids, and asking for text names the reason.
TEST(ModelSource, NoVocabularyModelRunsOnTokenIds) {
  gguf::GgufWriter w;
  w.add_string("tokenizer.ggml.model", "no_vocab");
  llama::add_random_model(w, llama::builtin_config(), llama::builtin_weight_types(), 1);
  const fs::path path =
      fs::temp_directory_path() / ("sf_novocab_" + std::to_string(::getpid()) + ".gguf");
  w.write(path);
  const ModelSource source = open_model_source(path.string());
  EXPECT_FALSE(source.tokenizer.has_value());
  EXPECT_NE(source.tokenizer_missing.find("no_vocab"), std::string::npos)
      << source.tokenizer_missing;
  const std::string cli =
      std::string(STAGEFENCE_CLI_PATH) + " --backend cpu --model " + path.string();
  const int ids =
      std::system((cli + " --prompt-ids 1,2 -n 2 --ignore-eos </dev/null >/dev/null 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(ids));
  EXPECT_EQ(WEXITSTATUS(ids), 0);
  const int text = std::system((cli + " --prompt hello -n 2 </dev/null >/dev/null 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(text));
  EXPECT_NE(WEXITSTATUS(text), 0);
  fs::remove(path);
}

}  // namespace
}  // namespace stagefence::cli
