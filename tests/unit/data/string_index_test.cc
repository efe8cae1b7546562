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

}  // namespace
}  // namespace mtrec
