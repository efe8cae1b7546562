// Micro benchmarks of the hot paths: dense layers on oneDNN, embedding lookups and sparse gradients, exact AUC.
// Run: build/bench/mtrec_micro_bench [--benchmark_filter=Dense]
#include <benchmark/benchmark.h>

#include <vector>

#include "common/rng.h"
#include "eval/metrics.h"
#include "nn/dense.h"
#include "nn/embedding.h"

namespace mtrec {
namespace {

void FillRandom(float* data, size_t n, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>(rng.Uniform() - 0.5);
}

// One dense layer forward + backward (both matmuls of backward), batch × in -> out.
void BM_DenseForwardBackward(benchmark::State& state) {
  const int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  ParameterArena arena;
  Dense dense(arena, "bench", in, out);
  arena.Allocate();
  arena.Initialize(1);
  Matrix src(batch, in), dst(batch, out), diff_dst(batch, out), diff_src(batch, in);
  FillRandom(src.data(), batch * in, 2);
  FillRandom(diff_dst.data(), batch * out, 3);
  Tensor diff_src_view = diff_src.View();
  for (auto _ : state) {
    dense.Forward(src.View(), dst.View(), Mode::kTrain);
    dense.Backward(src.View(), dst.View(), diff_dst.View(), &diff_src_view);
    benchmark::DoNotOptimize(dst.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(6.0 * batch * in * out * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.counters["rows/s"] = benchmark::Counter(batch * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DenseForwardBackward)->Args({512, 192, 256})->Args({512, 256, 128})->Args({2048, 2176, 512});

void BM_EmbeddingLookupAndGrad(benchmark::State& state) {
  const int64_t batch = state.range(0), rows = state.range(1), dim = 16;
  EmbeddingTable table("bench", rows, dim);
  table.Initialize(1, 0.05f);
  std::vector<int32_t> ids(batch);
  Rng rng(4);
  for (auto& id : ids) id = static_cast<int32_t>(rng.Below(rows));
  Matrix dst(batch, dim), diff(batch, dim);
  FillRandom(diff.data(), batch * dim, 5);
  SparseGrad grad;
  for (auto _ : state) {
    table.Lookup(ids.data(), batch, dst.View());
    grad.Clear();
    table.AccumulateGrad(ids.data(), batch, diff.View(), &grad);
    benchmark::DoNotOptimize(grad.values.data());
  }
  state.counters["rows/s"] = benchmark::Counter(batch * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EmbeddingLookupAndGrad)->Args({512, 20000})->Args({2048, 10000});

void BM_Auc(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<float> scores(n), labels(n);
  Rng rng(6);
  for (size_t i = 0; i < n; ++i) {
    scores[i] = static_cast<float>(rng.Uniform());
    labels[i] = rng.Bernoulli(0.1 + 0.5 * scores[i]) ? 1.f : 0.f;
  }
  for (auto _ : state) benchmark::DoNotOptimize(Auc(scores, labels));
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(n) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Auc)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mtrec

BENCHMARK_MAIN();
