#include "common/memory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/aligned.h"

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

// A large aligned array reads as zeros and is counted at its full size at once, but takes memory only where it is
// written; a small one is allocated and zeroed as it is. Both leave the count when freed.
TEST(MemoryTest, LargeArraysTakeMemoryOnlyWhereWritten) {
  const size_t floats = size_t{32} << 20;  // 128 MiB
  const int64_t resident = ResidentBytes(), arrays = AlignedBytes();
  {
    AlignedBuffer<float> large(floats);
    EXPECT_EQ(AlignedBytes() - arrays, static_cast<int64_t>(floats * sizeof(float)));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % AlignedBuffer<float>::kAlignment, 0u);
    EXPECT_LT(ResidentBytes() - resident, int64_t{8} << 20);
    EXPECT_TRUE(std::all_of(large.begin(), large.begin() + (1 << 20), [](float x) { return x == 0.f; }));
    std::fill(large.begin() + floats / 2, large.end(), 1.f);  // the second half written
    const int64_t grown = ResidentBytes() - resident;
    EXPECT_GE(grown, static_cast<int64_t>(floats * sizeof(float) / 2 * 9 / 10));
    EXPECT_LE(grown, static_cast<int64_t>(floats * sizeof(float) / 2 * 11 / 10) + (int64_t{8} << 20));
    EXPECT_FLOAT_EQ(large[floats - 1], 1.f);
    EXPECT_FLOAT_EQ(large[0], 0.f);

    AlignedBuffer<float> small(100);
    EXPECT_EQ(AlignedBytes() - arrays, static_cast<int64_t>(floats * sizeof(float) + 448));  // 400 bytes, 64-aligned
    EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](float x) { return x == 0.f; }));
    large.Resize(10);  // the mapping goes back; a small array in its place
    EXPECT_EQ(AlignedBytes() - arrays, 448 + 64);
    EXPECT_LT(ResidentBytes() - resident, int64_t{8} << 20);
  }
  EXPECT_EQ(AlignedBytes(), arrays);
}

// Share() makes a second owner of the same array, not a copy: it is counted once, both see every write, and it is
// freed with its last owner.
TEST(MemoryTest, ASharedArrayIsCountedOnceAndFreedWithItsLastOwner) {
  const size_t floats = size_t{1} << 20;  // 4 MiB, mapped
  const int64_t arrays = AlignedBytes();
  auto first = std::make_unique<AlignedBuffer<float>>(floats);
  AlignedBuffer<float> second = first->Share();
  EXPECT_EQ(second.data(), first->data());
  EXPECT_EQ(second.size(), floats);
  EXPECT_TRUE(first->shared() && second.shared());
  EXPECT_EQ(AlignedBytes() - arrays, static_cast<int64_t>(floats * sizeof(float)));
  (*first)[7] = 3.f;
  EXPECT_FLOAT_EQ(second[7], 3.f);
  first.reset();
  EXPECT_FALSE(second.shared());
  EXPECT_FLOAT_EQ(second[7], 3.f);
  EXPECT_EQ(AlignedBytes() - arrays, static_cast<int64_t>(floats * sizeof(float)));
  AlignedBuffer<float> moved = std::move(second);
  EXPECT_EQ(second.data(), nullptr);  // NOLINT(bugprone-use-after-move): a moved-from buffer is empty
  EXPECT_EQ(second.size(), 0u);
  EXPECT_FLOAT_EQ(moved[7], 3.f);
  moved = AlignedBuffer<float>();
  EXPECT_EQ(AlignedBytes(), arrays);
}

}  // namespace
}  // namespace mtrec
