// A test suite over one real GGUF file, opened once per suite with its tokenizer; every test
// skips with the install hint when the file is not there. Derived suites name the file:
//   class SmolLmTest : public ModelFileTest<SmolLmTest> {
//     static std::optional<std::filesystem::path> path();
//     static const char* install_hint();
//   };
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "model/gguf/gguf_file.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sftest {

template <typename Suite>
class ModelFileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::optional<std::filesystem::path> where = Suite::path();
    if (!where || !std::filesystem::is_regular_file(*where)) return;
    file_ = std::make_unique<stagefence::gguf::GgufFile>(stagefence::gguf::GgufFile::open(*where));
    tokenizer_ = std::make_unique<stagefence::tok::Tokenizer>(
        stagefence::tok::tokenizer_data_from_gguf(*file_));
  }
  static void TearDownTestSuite() {
    tokenizer_.reset();
    file_.reset();
  }
  void SetUp() override {
    if (!file_) GTEST_SKIP() << Suite::install_hint();
  }

  static inline std::unique_ptr<stagefence::gguf::GgufFile> file_;
  static inline std::unique_ptr<stagefence::tok::Tokenizer> tokenizer_;
};

}  // namespace sftest
