// Stop strings over streamed text: partial matches are held back, a match cuts the answer.
#include "server/stop_matcher.hpp"

#include <gtest/gtest.h>

namespace stagefence::server {
namespace {

TEST(StopMatcher, HoldsBackAPossibleStartAndCutsAtTheMatch) {
  StopMatcher m({"STOP", "\n\n"});
  EXPECT_EQ(m.push("Hello S"), "Hello ");
  EXPECT_EQ(m.push("T"), "");
  EXPECT_EQ(m.push("x"), "STx");  // not a stop after all
  EXPECT_EQ(m.push(" and ST"), " and ");
  EXPECT_EQ(m.push("OP tail"), "");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, ReleasesHeldTextAtTheEnd) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("the E"), "the ");
  EXPECT_FALSE(m.matched());
  EXPECT_EQ(m.finish(), "E");
  StopMatcher none({});
  EXPECT_EQ(none.push("abc"), "abc");
}

}  // namespace
}  // namespace stagefence::server
