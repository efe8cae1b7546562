// One place that decides how many threads mtrec uses; oneDNN and our OpenMP loops share the same runtime
// (libgomp), so one setting governs both. Work is split in fixed contiguous blocks so that a run with a fixed
// thread count is reproducible bit for bit.
//
//   SetThreads(config.train.threads);           // 0 = all cores
//   ParallelFor(rows, [&](size_t begin, size_t end, int thread) { ... });
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

namespace mtrec {

// 0 means every core of the machine.
void SetThreads(int threads);
// The calling thread's count: its own (SetThreadsOfThisThread) where set, else the process's.
int Threads();
// This thread alone runs its parallel regions, and creates its oneDNN primitives, with `threads` threads (>= 1);
// the others keep the process's count. A server's scorers each score their own requests this way.
void SetThreadsOfThisThread(int threads);

// Calls fn(begin, end, thread) on Threads() fixed blocks covering [0, n); rethrows the first exception thrown by
// a worker after all have finished.
void ParallelFor(size_t n, const std::function<void(size_t, size_t, int)>& fn);

// Same, but with `blocks` blocks (possibly more than threads), each handed to a thread in a fixed round-robin.
void ParallelForBlocks(size_t blocks, const std::function<void(size_t block, int thread)>& fn);

// Below this many elements of work a parallel region costs more than the loop it would split.
inline constexpr int64_t kMinParallelWork = 1 << 15;

// Runs fn(begin, end) over [0, n) in Threads() fixed contiguous blocks, or in one call when `work` (elements
// touched) is below kMinParallelWork. The lambda handed to ParallelForBlocks captures one pointer, which
// std::function stores inline: a warmed-up training step allocates nothing here.
template <typename Fn>
void ParallelRows(int64_t n, int64_t work, const Fn& fn) {
  if (work < kMinParallelWork || n < 2 || Threads() == 1) {
    fn(int64_t{0}, n);
    return;
  }
  struct Split {
    const Fn* fn;
    int64_t n;
    int64_t blocks;
  };
  const Split split{&fn, n, std::min<int64_t>(Threads(), n)};
  ParallelForBlocks(static_cast<size_t>(split.blocks), [&split](size_t block, int) {
    const int64_t b = static_cast<int64_t>(block);
    const int64_t begin = split.n * b / split.blocks;
    const int64_t end = split.n * (b + 1) / split.blocks;
    if (begin < end) (*split.fn)(begin, end);
  });
}

}  // namespace mtrec
