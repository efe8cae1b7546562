#include "common/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace mtrec {
namespace {

TEST(ThreadsTest, ParallelForCoversEveryIndexOnce) {
  SetThreads(2);
  for (size_t n : {0, 1, 2, 3, 17, 1000}) {
    std::vector<int> hits(n, 0);
    ParallelFor(n, [&](size_t begin, size_t end, int) {
      for (size_t i = begin; i < end; ++i) ++hits[i];
    });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i], 1) << "n=" << n << " i=" << i;
  }
}

// A parallel loop inside a parallel loop runs its inner team with one thread; every inner block must still run.
TEST(ThreadsTest, NestedParallelForBlocksRunsEveryBlock) {
  SetThreads(2);
  std::vector<std::atomic<int>> hits(4 * 7);
  ParallelForBlocks(4, [&](size_t outer, int) {
    ParallelForBlocks(7, [&](size_t inner, int) { ++hits[outer * 7 + inner]; });
  });
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].load(), 1) << "block " << i;
}

TEST(ThreadsTest, FirstWorkerExceptionIsRethrown) {
  SetThreads(2);
  EXPECT_THROW(ParallelForBlocks(5, [](size_t block, int) {
                 if (block == 3) throw std::runtime_error("block 3 failed");
               }),
               std::runtime_error);
}

}  // namespace
}  // namespace mtrec
