// The named shapes table (model/llama/shapes.hpp): every shape is a valid configuration with the
// numbers of the model it names, and an unknown name is an error listing the known ones.
#include "model/llama/shapes.hpp"

#include <gtest/gtest.h>

#include <string>

#include "model/builtin_model.hpp"
#include "model/llama/model.hpp"
#include "stagefence/error.hpp"

namespace stagefence::llama {
namespace {

TEST(Shapes, EveryNamedShapeIsAValidConfiguration) {
  const std::vector<std::string> names = shape_names();
  ASSERT_GE(names.size(), 5u);
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    const LlamaConfig c = shape_config(n);
    EXPECT_NO_THROW(c.validate());
    EXPECT_EQ(c.heads % c.kv_heads, 0);
    EXPECT_EQ(c.rope_dim, c.head_dim);
  }
}

TEST(Shapes, NumbersAreThoseOfTheModelsTheyName) {
  const LlamaConfig l8 = shape_config("llama3-8b");
  EXPECT_EQ(l8.layers, 32);
  EXPECT_EQ(l8.dim, 4096);
  EXPECT_EQ(l8.kv_heads, 8);
  EXPECT_EQ(l8.ffn_dim, 14336);
  EXPECT_EQ(l8.vocab, 128256);
  EXPECT_EQ(l8.rope_theta, 500000.0f);
  const LlamaConfig s = shape_config("smollm2-135m");
  EXPECT_EQ(s.layers, 30);
  EXPECT_EQ(s.dim, 576);
  EXPECT_EQ(s.heads, 9);
  EXPECT_EQ(s.kv_heads, 3);
  EXPECT_EQ(s.vocab, 49152);
  // The functions that name one shape give the table's.
  EXPECT_EQ(llama3_8b_config().dim, l8.dim);
  EXPECT_EQ(builtin_config().dim, shape_config("builtin").dim);
}

TEST(Shapes, UnknownNameIsAnErrorListingTheKnownOnes) {
  try {
    shape_config("llama9-1t");
    FAIL() << "an unknown shape was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    const std::string what = e.what();
    EXPECT_NE(what.find("llama9-1t"), std::string::npos) << what;
    EXPECT_NE(what.find("smollm2-135m"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace stagefence::llama
