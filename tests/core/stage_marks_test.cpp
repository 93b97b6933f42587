// Stage marks: a buffer holding several stages (a whole decode token in one launch) names them.
// A failing kernel's error names its stage where the backend knows the dispatch (CPU) and the
// buffer's stage range where it only knows the buffer (a CUDA graph); malformed marks are
// rejected naming the stage.
#include <cstdint>
#include <memory>

#include "test_support.hpp"

using namespace sftest;

namespace {

class StageMarks : public BackendTest {};
SF_INSTANTIATE_BACKENDS(StageMarks);

sf::StageMarks three_stages(uint32_t second, uint32_t third) {
  return std::make_shared<std::vector<sf::StageMark>>(
      std::vector<sf::StageMark>{{0, "embed"}, {second, "layer.0.attn"}, {third, "head"}});
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_P(StageMarks, FailingKernelNamesItsStage) {
  auto out = make_f32(dev(), std::vector<float>(256, 1.0f));
  auto enc = dev().command_encoder();
  enc.set_label("token");
  fill(enc, out, 2.0f);
  enc.barrier();
  enc.dispatch("fail", {}, {uint64_t(5)});
  enc.barrier();
  fill(enc, out, 3.0f);
  enc.set_stage_marks(three_stages(1, 2));
  try {
    enc.commit_and_wait();
    FAIL() << "the failing kernel passed";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::KernelFault) << e.what();
    EXPECT_TRUE(mentions(e.what(), "'token'")) << e.what();
    if (is_cpu())
      EXPECT_TRUE(mentions(e.what(), "'token' in stage 'layer.0.attn'")) << e.what();
    else
      EXPECT_TRUE(mentions(e.what(), "(stages 'embed' to 'head')")) << e.what();
  }
}

TEST_P(StageMarks, MarksThatGoBackOrPastTheBufferAreRejected) {
  auto out = make_f32(dev(), std::vector<float>(64, 1.0f));
  auto enc = dev().command_encoder();
  enc.set_label("token");
  fill(enc, out, 2.0f);
  fill(enc, out, 4.0f);
  try {
    enc.set_stage_marks(three_stages(1, 0));
    FAIL() << "marks going back were accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_TRUE(mentions(e.what(), "stage 'head' starts at dispatch 0")) << e.what();
  }
  enc.set_stage_marks(three_stages(1, 2));  // "head" would start at dispatch 2 of 2
  try {
    enc.commit();
    FAIL() << "a mark past the buffer's dispatches was accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_TRUE(mentions(e.what(), "stage 'head' starts at dispatch 2")) << e.what();
    EXPECT_TRUE(mentions(e.what(), "holds 2 dispatches")) << e.what();
  }
  EXPECT_FALSE(enc.is_committed());
  fill(enc, out, 6.0f);  // now "head" has its dispatch
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(out)[63], 6.0f);
}
