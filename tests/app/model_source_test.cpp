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

}  // namespace
}  // namespace stagefence::cli
