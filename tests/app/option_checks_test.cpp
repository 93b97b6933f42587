// The CLI's validators: each error names the value and what is allowed.
#include "option_checks.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace stagefence::cli {
namespace {

std::string check(const CLI::Validator& v, std::string value) {
  return v(value);
}

TEST(OptionChecks, RangesNameTheValueAndTheRange) {
  EXPECT_EQ(check(integer_in(1, 10), "5"), "");
  EXPECT_EQ(check(integer_in(1, 10), "0"),
            "value '0' is not allowed: expected an integer from 1 to 10");
  EXPECT_NE(check(integer_in(1, 10), "5x"), "");
  EXPECT_NE(check(integer_in(1, 10), " 5"), "");
  EXPECT_EQ(check(number_in(0, 1, true), "1"), "");
  EXPECT_EQ(check(number_in(0, 1, true), "0"),
            "value '0' is not allowed: expected a number in (0, 1]");
  EXPECT_NE(check(number_in(0, 1), "nan"), "");
  EXPECT_NE(check(number_in(0, 1), "inf"), "");
  EXPECT_EQ(check(one_of({"a", "b", "c"}), "d"), "value 'd' is not allowed: expected a, b or c");
  EXPECT_NE(check(non_empty("a path"), ""), "");
}

TEST(OptionChecks, TokenIdListsHaveNoEmptyItems) {
  for (const char* good : {"1", "1,2,3", "0,2147483647"})
    EXPECT_EQ(check(token_id_list(), good), "") << good;
  for (const char* bad : {"", "1,2,", ",1,2", "1,,2", "1,-2", "1,x", "2147483648"})
    EXPECT_NE(check(token_id_list(), bad), "") << bad;
  EXPECT_NE(check(token_id_list(), "1,2,").find("item 3 is empty"), std::string::npos);
  EXPECT_EQ(parse_token_ids("4,5,6"), (std::vector<int32_t>{4, 5, 6}));
}

}  // namespace
}  // namespace stagefence::cli
