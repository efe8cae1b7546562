#include "common/profiler.h"

#include <gtest/gtest.h>

#include <string>

namespace mtrec {
namespace {

// Scopes of one name add up in one entry, whichever string holds the name: copies of a model (a server's scorers)
// each name their layers from their own strings.
TEST(ProfilerTest, ScopesOfOneNameAddUpWhateverStringHoldsIt) {
  Profiler::Reset();
  const std::string first = "experts.0 linear forward";
  const std::string copy = first;  // another buffer, the same name
  ASSERT_NE(first.c_str(), copy.c_str());
  Profiler::Add(first.c_str(), 1.0);
  Profiler::Add(copy.c_str(), 2.0);
  Profiler::Add("gates forward", 0.5);
  Profiler::Add(first.c_str(), 4.0);
  const std::vector<ProfileEntry> entries = Profiler::Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, first);
  EXPECT_DOUBLE_EQ(entries[0].seconds, 7.0);
  EXPECT_EQ(entries[0].calls, 3);
  EXPECT_EQ(entries[1].name, "gates forward");
  EXPECT_DOUBLE_EQ(entries[1].seconds, 0.5);
  EXPECT_EQ(entries[1].calls, 1);
  Profiler::Reset();
  EXPECT_TRUE(Profiler::Entries().empty());
}

}  // namespace
}  // namespace mtrec
