// Device-side loops (stagefence/loop.hpp): a buffer's dispatches run while its loop word is
// set, bounded by max_iterations; loop_control publishes to the channel and clears the word;
// a failing dispatch ends the loop and fails the buffer with its stage's name.
#include "stagefence/loop.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

using sftest::BackendTest;

class LoopTest : public BackendTest {
 protected:
  // One iteration: acc += 1, then loop_control on the fixed {token, flag 0} pair.
  sf::CommandEncoder record(const sf::Buffer& acc, const sf::Buffer& ones, const sf::Buffer& status,
                            const sf::Buffer& words, const sf::LoopControlParams& p,
                            uint32_t max_iterations, bool failing = false) {
    sf::CommandEncoder enc = dev().command_encoder();
    enc.set_label("looped");
    sftest::add(enc, acc, ones, acc);
    if (failing) {
      enc.dispatch("fail", {}, {3});
      enc.barrier();  // the control kernel runs after the failing one, as a head after its stage
    }
    const sf::Binding control[] = {sf::reads(status), sf::reads_writes(words)};
    enc.dispatch(dev().kernels().id("loop_control"), control, 2, std::nullopt, p);
    enc.set_stage_marks(std::make_shared<std::vector<sf::StageMark>>(
        std::vector<sf::StageMark>{{0, "count"}, {failing ? 2u : 1u, "control"}}));
    sf::set_loop(enc, words, max_iterations);
    return enc;
  }
};

TEST_P(LoopTest, RunsUntilTheControlKernelOrTheBoundStopsIt) {
  sf::LoopChannel ch = sf::make_loop_channel(dev(), 64);
  const sf::Buffer acc = sftest::make_f32(dev(), {0});
  const sf::Buffer ones = sftest::make_f32(dev(), {1});
  const sf::Buffer status = dev().alloc(sf::DType::I32, {2});
  status.upload(std::vector<int32_t>{42, 0});
  const sf::Buffer words = dev().alloc(sf::DType::U32, {2});
  struct Case {
    uint32_t max_tokens, max_iterations;
    std::vector<int32_t> stops;
    bool cancel;
    uint32_t runs;
    sf::LoopStop reason;
  };
  for (const Case& c : {Case{5, 100, {}, false, 5, sf::LoopStop::Count},
                        Case{50, 3, {}, false, 3, sf::LoopStop::Running},
                        Case{50, 100, {7, 42}, false, 1, sf::LoopStop::StopToken},
                        Case{50, 100, {}, true, 1, sf::LoopStop::Cancelled},
                        Case{500, 500, {}, false, 64, sf::LoopStop::Full}}) {
    SCOPED_TRACE(c.runs);
    acc.upload(std::vector<float>{0});
    words.upload(std::vector<uint32_t>{1, 99});
    ch.reset();
    if (c.cancel) ch.cancel();
    sf::LoopControlParams p;
    p.channel = ch.device_address();
    p.max_tokens = c.max_tokens;
    p.capacity = ch.capacity();
    p.stop_count = uint32_t(c.stops.size());
    std::copy(c.stops.begin(), c.stops.end(), p.stop_ids);
    sf::CommandEncoder enc = record(acc, ones, status, words, p, c.max_iterations);
    enc.commit_and_wait();
    EXPECT_EQ(sftest::read_f32(acc)[0], float(c.runs));
    EXPECT_EQ(words.to_vector<uint32_t>()[1], c.runs);
    EXPECT_EQ(ch.published(), c.runs);
    EXPECT_EQ(ch.stop_reason(), c.reason);
    for (uint64_t i = 0; i < ch.published(); ++i) EXPECT_EQ(ch.token(i), 42);
  }
  // A clear word runs nothing.
  acc.upload(std::vector<float>{0});
  words.upload(std::vector<uint32_t>{0, 0});
  ch.reset();
  sf::LoopControlParams p;
  p.channel = ch.device_address();
  p.max_tokens = 5;
  p.capacity = ch.capacity();
  record(acc, ones, status, words, p, 5).commit_and_wait();
  EXPECT_EQ(sftest::read_f32(acc)[0], 0.0f);
  EXPECT_EQ(ch.published(), 0u);
  sf::CommandEncoder enc = dev().command_encoder();
  EXPECT_THROW(sf::set_loop(enc, words, 0), sf::Error);
  EXPECT_THROW(sf::set_loop(enc, words.view(0, 4), 1), sf::Error);
}

TEST_P(LoopTest, AFailingDispatchEndsTheLoopWithItsStage) {
  // On CUDA the trap loses the context (ctest runs each test in its own process); the graph's
  // error names the buffer's stage range, as a replayed token's does (StageMarks).
  sf::LoopChannel ch = sf::make_loop_channel(dev(), 8);
  const sf::Buffer acc = sftest::make_f32(dev(), {0});
  const sf::Buffer ones = sftest::make_f32(dev(), {1});
  const sf::Buffer status = dev().alloc(sf::DType::I32, {2});
  const sf::Buffer words = dev().alloc(sf::DType::U32, {2});
  words.upload(std::vector<uint32_t>{1, 0});
  sf::LoopControlParams p;
  p.channel = ch.device_address();
  p.max_tokens = 8;
  p.capacity = ch.capacity();
  sf::CommandEncoder enc = record(acc, ones, status, words, p, 8, /*failing=*/true);
  enc.commit();
  try {
    enc.wait();
    FAIL() << "the loop must fail";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::KernelFault);
    const std::string what = e.what();
    EXPECT_NE(what.find("'looped'"), std::string::npos) << what;
    if (is_cpu()) {
      EXPECT_NE(what.find("stage 'count'"), std::string::npos) << what;
      EXPECT_NE(what.find("loop iteration 0"), std::string::npos) << what;
    } else {
      EXPECT_NE(what.find("(stages 'count' to 'control')"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(ch.published(), 0u);  // the ring stopped before its first token (host memory)
}

SF_INSTANTIATE_BACKENDS(LoopTest);

}  // namespace
