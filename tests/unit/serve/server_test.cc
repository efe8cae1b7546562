#include "serve/server.h"

#include <gtest/gtest.h>

namespace mtrec {
namespace {

TEST(ResolveScorersTest, OnePerThreadWhileTheCopiesFit) {
  const int64_t mib = int64_t{1} << 20;
  EXPECT_EQ(ResolveScorers(0, 2, 5 * mib), 2);
  EXPECT_EQ(ResolveScorers(0, 16, 60 * mib), 16);  // 15 more copies: 900 MiB
  EXPECT_EQ(ResolveScorers(0, 16, 70 * mib), 1);   // 1,050 MiB
  EXPECT_EQ(ResolveScorers(0, 2, kMaxAutoCopyBytes), 2);
  EXPECT_EQ(ResolveScorers(0, 2, kMaxAutoCopyBytes + 1), 1);
  EXPECT_EQ(ResolveScorers(0, 1, 5 * mib), 1);
  // A count given is kept, whatever the model's size.
  EXPECT_EQ(ResolveScorers(3, 4, 10 * kMaxAutoCopyBytes), 3);
  EXPECT_EQ(ResolveScorers(1, 8, mib), 1);
}

}  // namespace
}  // namespace mtrec
