// One place that decides how many threads mtrec uses; oneDNN and our OpenMP loops share the same runtime
// (libgomp), so one setting governs both. Work is split in fixed contiguous blocks so that a run with a fixed
// thread count is reproducible bit for bit.
//
//   SetThreads(config.train.threads);           // 0 = all cores
//   ParallelFor(rows, [&](size_t begin, size_t end, int thread) { ... });
#pragma once

#include <cstddef>
#include <exception>
#include <functional>

namespace mtrec {

// 0 means every core of the machine.
void SetThreads(int threads);
int Threads();

// Calls fn(begin, end, thread) on Threads() fixed blocks covering [0, n); rethrows the first exception thrown by
// a worker after all have finished.
void ParallelFor(size_t n, const std::function<void(size_t, size_t, int)>& fn);

// Same, but with `blocks` blocks (possibly more than threads), each handed to a thread in a fixed round-robin.
void ParallelForBlocks(size_t blocks, const std::function<void(size_t block, int thread)>& fn);

}  // namespace mtrec
