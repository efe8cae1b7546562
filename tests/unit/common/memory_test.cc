#include "common/memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace mtrec {
namespace {

// Pages written count as resident at once, and come off when freed.
TEST(MemoryTest, ResidentBytesFollowPagesWritten) {
  const int64_t size = int64_t{64} << 20;
  const int64_t before = ResidentBytes();
  ASSERT_GT(before, 0);
  auto block = std::make_unique<char[]>(static_cast<size_t>(size));  // large enough for its own mapping
  std::memset(block.get(), 1, static_cast<size_t>(size));
  const int64_t written = ResidentBytes();
  EXPECT_GE(written - before, size * 9 / 10);
  EXPECT_LE(written - before, size * 11 / 10);
  block.reset();
  EXPECT_LT(ResidentBytes() - before, size / 10);
}

}  // namespace
}  // namespace mtrec
