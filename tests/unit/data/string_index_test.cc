#include "data/string_index.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace mtrec {
namespace {

TEST(StringIndexTest, CodesFollowFirstAppearance) {
  StringIndex index;
  EXPECT_EQ(index.Find("berlin"), StringIndex::kAbsent);  // an empty index finds nothing
  EXPECT_EQ(index.Intern("berlin"), 0u);
  EXPECT_EQ(index.Intern("paris"), 1u);
  EXPECT_EQ(index.Intern("berlin"), 0u);
  EXPECT_EQ(index.Intern(""), 2u);  // the empty string is a value like any other
  EXPECT_EQ(index.Find("paris"), 1u);
  EXPECT_EQ(index.Find("rome"), StringIndex::kAbsent);
  EXPECT_EQ(index.values(), (std::vector<std::string_view>{"berlin", "paris", ""}));
}

// Many values through several growths, against std::unordered_map as the reference; prefixes and equal lengths
// make sure a lookup compares the whole value, not a hash or a length.
TEST(StringIndexTest, AgreesWithAHashMapThroughGrowth) {
  std::vector<std::string> text;
  for (int i = 0; i < 20000; ++i) text.push_back("u" + std::to_string(i % 7919) + (i % 3 == 0 ? "x" : ""));
  StringIndex index;
  std::unordered_map<std::string, uint32_t> reference;
  for (const std::string& value : text) {
    const auto [it, inserted] = reference.emplace(value, static_cast<uint32_t>(reference.size()));
    ASSERT_EQ(index.Intern(value), it->second) << value;
  }
  EXPECT_EQ(index.size(), reference.size());
  for (const auto& [value, code] : reference) {
    EXPECT_EQ(index.Find(value), code);
    EXPECT_EQ(index.values()[code], value);
  }
}

// Values around the 16 bytes kept in a slot: equal first 16 bytes with different tails, lengths 15 to 17, and
// zero bytes that the slot's zero padding must not confuse with a shorter value.
TEST(StringIndexTest, TellsApartValuesThatShareTheirFirstSixteenBytes) {
  const std::string base = "0123456789abcdef";
  const std::vector<std::string> values = {base,
                                           base + "X",
                                           base + "Y",
                                           base + "XY",
                                           base.substr(0, 15),
                                           base.substr(0, 15) + std::string(1, '\0'),
                                           std::string("a"),
                                           std::string("a\0", 2),
                                           std::string("a\0\0", 3),
                                           std::string(16, '\0'),
                                           std::string(17, '\0'),
                                           std::string(40, 'z'),
                                           std::string(39, 'z') + "y"};
  StringIndex index;
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(index.Intern(values[i]), i) << i;
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(index.Intern(values[i]), i) << i;
    EXPECT_EQ(index.Find(values[i]), i) << i;
  }
  EXPECT_EQ(index.Find(base + "Z"), StringIndex::kAbsent);
  EXPECT_EQ(index.Find(std::string(18, '\0')), StringIndex::kAbsent);
}

}  // namespace
}  // namespace mtrec
