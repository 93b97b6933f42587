#include "model_source.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "model/builtin_model.hpp"
#include "model/model_locator.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace {

// A progress bar on stderr for loads large enough to notice, only on a terminal.
llama::LoadProgress progress_bar() {
  if (!isatty(STDERR_FILENO)) return {};
  return [last = -1](uint64_t done, uint64_t total) mutable {
    if (total < (256ull << 20)) return;
    const int pct = int(100 * done / total);
    if (pct == last) return;
    last = pct;
    const int width = 40, filled = pct * width / 100;
    std::fprintf(
        stderr, "\rloading [%s%s] %3d%% of %.2f GiB", std::string(size_t(filled), '#').c_str(),
        std::string(size_t(width - filled), ' ').c_str(), pct, double(total) / double(1ull << 30));
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

}  // namespace

std::string ModelSource::name() const {
  return path ? path->filename().string() : "builtin-tiny";
}

const tok::ChatTemplate& ModelSource::chat() const {
  if (!chat_template) raise(ErrorCode::Unsupported, chat_template_error);
  return *chat_template;
}

const tok::Tokenizer& ModelSource::tokenizer_for(const std::string& command) const {
  if (!tokenizer)
    raise(ErrorCode::InvalidArgument,
          command + " needs a model with a tokenizer: " + tokenizer_missing);
  return *tokenizer;
}

ModelSource open_model_source(const ModelArgs& args) {
  return open_model_source(args.model_given ? std::optional(args.model) : std::nullopt);
}

ModelSource open_model_source(const std::optional<std::string>& model_arg) {
  const model::ModelLocation where =
      model::locate_model(model::LocatorInputs::from_environment(model_arg));
  ModelSource out;
  if (!where.path) {
    std::fprintf(stderr,
                 "stagefence: %s; run scripts/install_model.sh: using the built-in random model\n",
                 where.why_none.c_str());
    out.file.emplace(gguf::GgufFile::from_bytes(llama::builtin_model_gguf()));
    out.source = "built-in";
    out.tokenizer_missing = "the built-in model has no tokenizer";
  } else {
    out.file.emplace(gguf::GgufFile::open(*where.path));
    out.path = where.path;
    out.source = where.source;
  }
  out.config = llama::config_from_gguf(*out.file);
  out.config.validate();
  if (!where.path) {
    out.chat_template_error = out.tokenizer_missing;
    return out;
  }
  if (!out.file->find("tokenizer.ggml.model")) {
    out.tokenizer_missing = where.path->string() + " has no tokenizer (tokenizer.ggml.model)";
    out.chat_template_error = out.tokenizer_missing;
    return out;
  }
  // llama.cpp's "no_vocab": a model that takes and gives token ids only (no tokens to read).
  if (out.file->try_get_string("tokenizer.ggml.model") == "no_vocab") {
    out.tokenizer_missing = where.path->string() +
                            " has no vocabulary (tokenizer.ggml.model = no_vocab): it takes "
                            "--prompt-ids and gives token ids";
    out.chat_template_error = out.tokenizer_missing;
    return out;
  }
  try {
    out.tokenizer.emplace(tok::tokenizer_data_from_gguf(*out.file));
  } catch (const Error& e) {
    raise(e.code(), where.path->string() + ": its tokenizer metadata is unusable: " + e.what());
  }
  try {
    out.chat_template.emplace(out.tokenizer->data());
  } catch (const Error& e) {
    out.chat_template_error = where.path->string() + ": " + e.what();
  }
  return out;
}

std::vector<llama::LlamaModel> load_shards(const std::vector<Device*>& devices,
                                           const ModelSource& source) {
  std::vector<llama::LlamaModel> shards;
  const int ranks = int(devices.size());
  for (int r = 0; r < ranks; ++r) {
    shards.push_back(
        llama::load_model_shard(*devices[size_t(r)], *source.file, {r, ranks}, progress_bar()));
    if (source.path && shards.back().name == shards.back().config.architecture)
      shards.back().name = source.path->filename().string();
  }
  return shards;
}

std::vector<std::unique_ptr<Device>> open_devices(DeviceOptions options, int ranks) {
  std::vector<std::unique_ptr<Device>> devices;
  for (int r = 0; r < ranks; ++r) {
    options.cuda_ordinal = r;
    devices.push_back(std::make_unique<Device>(Device::open(options)));
    if (r > 0 && devices.back()->backend() != devices.front()->backend())
      raise(ErrorCode::Unsupported, "--ranks " + std::to_string(ranks) + ": device " +
                                        std::to_string(r) + " opened on another backend");
  }
  return devices;
}

}  // namespace stagefence::cli
