#include "common/threads.h"

#include <omp.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace mtrec {
namespace {
int g_threads = 0;
thread_local int t_threads = 0;  // 0: the process's count
}  // namespace

void SetThreads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_threads = threads;
  omp_set_num_threads(threads);
}

int Threads() {
  if (t_threads > 0) return t_threads;
  if (g_threads == 0) SetThreads(0);
  return g_threads;
}

void SetThreadsOfThisThread(int threads) {
  t_threads = std::max(1, threads);
  // OpenMP keeps the count per thread once a thread sets it; oneDNN reads it when it builds a primitive.
  omp_set_num_threads(t_threads);
}

void ParallelForBlocks(size_t blocks, const std::function<void(size_t, int)>& fn) {
  std::exception_ptr first_error;
  std::mutex mutex;
  const int threads = static_cast<int>(std::min<size_t>(Threads(), std::max<size_t>(blocks, 1)));
#pragma omp parallel num_threads(threads)
  {
    // The team may be smaller than asked: a nested region (a parallel layer inside a parallel loop over slots)
    // runs with one thread, which must then take every block.
    const int thread = omp_get_thread_num();
    const int team = omp_get_num_threads();
    for (size_t block = thread; block < blocks; block += team) {
      try {
        fn(block, thread);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!first_error) first_error = std::current_exception();
      }
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

void ParallelFor(size_t n, const std::function<void(size_t, size_t, int)>& fn) {
  // One pointer captured, so std::function keeps the lambda inline and the call allocates nothing.
  struct Split {
    const std::function<void(size_t, size_t, int)>* fn;
    size_t n;
    size_t threads;
  };
  const Split split{&fn, n, std::max<size_t>(1, std::min<size_t>(Threads(), n))};
  ParallelForBlocks(split.threads, [&split](size_t block, int thread) {
    const size_t begin = split.n * block / split.threads;
    const size_t end = split.n * (block + 1) / split.threads;
    if (begin < end) (*split.fn)(begin, end, thread);
  });
}

}  // namespace mtrec
