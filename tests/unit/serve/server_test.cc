#include "serve/server.h"

#include <gtest/gtest.h>

namespace mtrec {
namespace {

TEST(ResolveScorersTest, OnePerThreadAsFarAsTheCopiesFit) {
  const int64_t mib = int64_t{1} << 20;
  EXPECT_EQ(ResolveScorers(0, 2, 212 * mib), 2);
  EXPECT_EQ(ResolveScorers(0, 16, 212 * mib), 5);  // 4 more copies: 848 MiB; a 5th would pass 1 GiB
  EXPECT_EQ(ResolveScorers(0, 16, 60 * mib), 16);  // 17 more would fit: one per thread
  EXPECT_EQ(ResolveScorers(0, 16, kMaxAutoCopyBytes), 2);
  EXPECT_EQ(ResolveScorers(0, 16, kMaxAutoCopyBytes + 1), 1);
  EXPECT_EQ(ResolveScorers(0, 1, mib), 1);
  EXPECT_EQ(ResolveScorers(0, 4, 0), 4);  // the memory unknown (no /proc): one per thread
  // A count given is kept, whatever a copy takes.
  EXPECT_EQ(ResolveScorers(3, 4, 10 * kMaxAutoCopyBytes), 3);
  EXPECT_EQ(ResolveScorers(1, 8, mib), 1);
}

}  // namespace
}  // namespace mtrec
