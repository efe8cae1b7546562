// Once warmed up, a training step's own code (dropout, sparse gradients, optimizers) allocates nothing. The
// allocations are counted by replacing the global operator new in this test program.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/parameters.h"
#include "train/dense_optimizer.h"
#include "train/sparse_optimizer.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Not inlined: GCC would otherwise see free() or operator delete applied to malloc's result at inlined call sites
// and warn about a mismatched pair.
__attribute__((noinline)) void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace mtrec {
namespace {

TEST(StepAllocationTest, WarmedStepsAllocateNothing) {
  ParameterArena arena;
  arena.Reserve("w", 300, 300, Init::kHeUniform, true);  // large enough for the parallel update path
  arena.Reserve("b", 1, 300, Init::kZero, false);
  arena.Allocate();
  arena.Initialize(1);
  DenseOptimizer adam(arena, {.kind = DenseOptimizerKind::kAdamW, .weight_decay = 0.01f});

  EmbeddingTable table("t", 5000, 16);
  table.Initialize(2, 0.1f);
  SparseOptimizer lazy_adam(table, {.kind = SparseOptimizerKind::kLazyAdam});
  SparseGrad grad;

  Dropout dropout(300, 0.1f);
  const int64_t batch = 512;
  Matrix activations(batch, 300);
  Matrix embedded(batch, 16);
  std::vector<int32_t> ids(batch);
  std::vector<int64_t> offsets(batch + 1);
  std::vector<int32_t> bag_ids(batch * 3);
  for (int64_t r = 0; r <= batch; ++r) offsets[r] = 3 * r;

  for (int step = 0; step < 4; ++step) {
    // Different ids each step, so that the sparse gradient's size changes.
    for (int64_t r = 0; r < batch; ++r) ids[r] = static_cast<int32_t>((r * 7919 + step * 104729) % 5000);
    for (int64_t k = 0; k < batch * 3; ++k) bag_ids[k] = static_cast<int32_t>((k * 31 + step) % 5000);
    const long before = g_allocations.load();
    const Tensor x = activations.View();
    dropout.SetStepSeed(step);
    dropout.Forward(x, x, Mode::kTrain);
    dropout.Backward(x, x, x, &x);
    table.Lookup(ids.data(), batch, embedded.View());
    grad.Clear();
    table.AccumulateGrad(ids.data(), batch, embedded.View(), &grad);
    table.AccumulateGradPooled(bag_ids.data(), offsets.data(), batch, Pooling::kMean, embedded.View(), &grad);
    lazy_adam.Step(grad);
    adam.Step();
    const long allocations = g_allocations.load() - before;
    // The first step sizes the buffers; a later step may still grow them if it touches more rows than any before.
    if (step >= 2) {
      EXPECT_EQ(allocations, 0) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace mtrec
