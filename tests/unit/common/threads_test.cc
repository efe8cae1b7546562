#include "common/threads.h"

#include <gtest/gtest.h>

#include <omp.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
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

// A thread with its own count runs its regions, and tells oneDNN (through OpenMP), with that count; the process's
// count stays for every other thread.
TEST(ThreadsTest, AThreadsOwnCountLeavesTheOthersAlone) {
  SetThreads(3);
  int own = 0, own_omp = 0, own_team = 0;
  std::thread scorer([&] {
    SetThreadsOfThisThread(1);
    own = Threads();
    own_omp = omp_get_max_threads();
    std::set<int> seen;
    ParallelForBlocks(8, [&](size_t, int thread) { seen.insert(thread); });  // one thread: no lock needed
    own_team = static_cast<int>(seen.size());
  });
  scorer.join();
  EXPECT_EQ(own, 1);
  EXPECT_EQ(own_omp, 1);
  EXPECT_EQ(own_team, 1);
  EXPECT_EQ(Threads(), 3);
  int other = 0;
  std::thread([&] { other = Threads(); }).join();
  EXPECT_EQ(other, 3);
  SetThreads(0);
}

}  // namespace
}  // namespace mtrec
