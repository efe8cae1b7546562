// The record of a forward pass's matmuls, which `bench` turns into a bound.
#include "nn/matmul_bound.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace mtrec {
namespace {

// Scorers side by side note their products at once: every one is kept, none is torn.
TEST(MatmulRecordTest, ProductsNotedFromSeveralThreadsAtOnceAreAllKept) {
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  StartRecordingMatmuls();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kEach; ++i) NoteMatmul(MatmulShape{.groups = 1, .m = t + 1, .k = i, .n = 7});
    });
  }
  for (auto& thread : threads) thread.join();
  const std::vector<MatmulShape> shapes = StopRecordingMatmuls();
  ASSERT_EQ(shapes.size(), static_cast<size_t>(kThreads * kEach));
  std::vector<int> next(kThreads, 0);  // each thread's products in its own order
  for (const MatmulShape& shape : shapes) {
    ASSERT_GE(shape.m, 1);
    ASSERT_LE(shape.m, kThreads);
    EXPECT_EQ(shape.k, next[shape.m - 1]++);
    EXPECT_EQ(shape.n, 7);
  }
  NoteMatmul(MatmulShape{.m = 1, .k = 1, .n = 1});  // not recording: nothing kept
  EXPECT_TRUE(StopRecordingMatmuls().empty());
}

}  // namespace
}  // namespace mtrec
