// Micro benchmarks of the hot paths: dense layers on oneDNN, embedding lookups and sparse gradients, exact AUC.
// Run: build/bench/mtrec_micro_bench [--benchmark_filter=Dense]
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "eval/metrics.h"
#include "features/batcher.h"
#include "models/model.h"
#include "nn/dense.h"
#include "nn/embedding.h"
#include "nn/grouped_dense.h"
#include "train/task_gradients.h"

namespace mtrec {
namespace {

void FillRandom(float* data, size_t n, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>(rng.Uniform() - 0.5);
}

// A dense layer batch × in -> out with random inputs and upstream gradients, for the benchmarks below.
struct DenseBench {
  DenseBench(int64_t batch, int64_t in, int64_t out)
      : dense(arena, "bench", in, out), src(batch, in), dst(batch, out), diff_dst(batch, out), diff_src(batch, in) {
    arena.Allocate();
    arena.Initialize(1);
    FillRandom(src.data(), batch * in, 2);
    FillRandom(diff_dst.data(), batch * out, 3);
    diff_src_view = diff_src.View();
  }
  ParameterArena arena;
  Dense dense;
  Matrix src, dst, diff_dst, diff_src;
  Tensor diff_src_view;
};

// One dense layer forward + backward (both matmuls of backward), batch × in -> out.
void BM_DenseForwardBackward(benchmark::State& state) {
  const int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  DenseBench b(batch, in, out);
  for (auto _ : state) {
    b.dense.Forward(b.src.View(), b.dst.View(), Mode::kTrain);
    b.dense.Backward(b.src.View(), b.dst.View(), b.diff_dst.View(), &b.diff_src_view);
    benchmark::DoNotOptimize(b.dst.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(6.0 * batch * in * out * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.counters["rows/s"] = benchmark::Counter(batch * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DenseForwardBackward)->Args({512, 192, 256})->Args({512, 256, 128})->Args({2048, 2176, 512});

// Each matmul of a dense layer alone (arg 3): 0 forward (src·W + b), 1 the weight gradient (srcᵀ·G, accumulated),
// 2 the weight gradient and the input gradient (G·Wᵀ). The forward pass is the plain, untransposed product: its
// GFLOP/s is what the machine gives a matmul of this shape, the yardstick of the two backward ones.
void BM_DenseMatmul(benchmark::State& state) {
  const int64_t batch = state.range(0), in = state.range(1), out = state.range(2), pass = state.range(3);
  DenseBench b(batch, in, out);
  for (auto _ : state) {
    if (pass == 0) b.dense.Forward(b.src.View(), b.dst.View(), Mode::kTrain);
    if (pass > 0) {
      b.dense.Backward(b.src.View(), b.dst.View(), b.diff_dst.View(), pass == 2 ? &b.diff_src_view : nullptr);
    }
    benchmark::DoNotOptimize(b.dst.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * (pass == 2 ? 2 : 1) * batch * in * out * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_DenseMatmul)
    ->Args({2048, 2176, 4096, 0})
    ->Args({2048, 2176, 4096, 1})
    ->Args({2048, 2176, 4096, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();  // oneDNN's threads do the work: CPU time of the calling thread would overstate the rate

// The first layer of E experts over one input, forward + backward: as E separate dense layers (arg 3 = 0) or as
// one wide GEMM (arg 3 = 1), then their second layers as E separate layers or one grouped layer. Args: batch, in,
// experts, wide; widths 512 then 256 (the MMoE shape of the performance benchmark).
void BM_ExpertBank(benchmark::State& state) {
  const int64_t batch = state.range(0), in = state.range(1), experts = state.range(2);
  const bool wide = state.range(3) != 0;
  const int64_t h1 = 512, h2 = 256;
  ParameterArena arena;
  std::vector<std::unique_ptr<Dense>> first, second;
  std::unique_ptr<Dense> wide_first;
  std::unique_ptr<GroupedDense> grouped_second;
  if (wide) {
    wide_first = std::make_unique<Dense>(arena, "experts.0", in, experts * h1);
    grouped_second = std::make_unique<GroupedDense>(arena, "experts.1", experts, h1, h2);
  } else {
    for (int64_t e = 0; e < experts; ++e) {
      first.push_back(std::make_unique<Dense>(arena, "e" + std::to_string(e) + ".0", in, h1));
      second.push_back(std::make_unique<Dense>(arena, "e" + std::to_string(e) + ".1", h1, h2));
    }
  }
  arena.Allocate();
  arena.Initialize(1);
  Matrix src(batch, in), hidden(batch, experts * h1), out(batch, experts * h2);
  Matrix diff_out(batch, experts * h2), diff_hidden(batch, experts * h1), diff_src(batch, in);
  FillRandom(src.data(), batch * in, 2);
  FillRandom(diff_out.data(), batch * experts * h2, 3);
  for (auto _ : state) {
    Tensor diff_src_view = diff_src.View();
    if (wide) {
      Tensor diff_hidden_view = diff_hidden.View();
      wide_first->Forward(src.View(), hidden.View(), Mode::kTrain);
      grouped_second->Forward(hidden.View(), out.View(), Mode::kTrain);
      grouped_second->Backward(hidden.View(), out.View(), diff_out.View(), &diff_hidden_view);
      wide_first->Backward(src.View(), hidden.View(), diff_hidden.View(), &diff_src_view);
    } else {
      for (int64_t e = 0; e < experts; ++e) {
        Tensor h = hidden.View().Columns(e * h1, h1), o = out.View().Columns(e * h2, h2);
        Tensor dh = diff_hidden.View().Columns(e * h1, h1);
        first[e]->Forward(src.View(), h, Mode::kTrain);
        second[e]->Forward(h, o, Mode::kTrain);
        second[e]->Backward(h, o, diff_out.View().Columns(e * h2, h2), &dh);
        first[e]->Backward(src.View(), h, dh, &diff_src_view);  // (the sum over experts is left out in both)
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(6.0 * batch * experts * (in * h1 + h1 * h2) * state.iterations(),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["rows/s"] = benchmark::Counter(batch * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ExpertBank)->Args({2048, 2176, 8, 0})->Args({2048, 2176, 8, 1})->Args({512, 240, 4, 0})->Args({512, 240, 4, 1})
    ->Unit(benchmark::kMillisecond);

// One GroupedDense of G groups of in -> out (arg 4 = 1) against one Dense of G·in -> out (arg 4 = 0), forward +
// backward: the same FLOPs (batch · G·in · out per matmul) and the same src, so the ratio is the cost of the
// grouping (three batched matmuls over strided views, and the bias added outside the primitive).
// Args: batch, groups, in, out, grouped.
void BM_GroupedDenseVsDense(benchmark::State& state) {
  const int64_t batch = state.range(0), groups = state.range(1), in = state.range(2), out = state.range(3);
  const bool grouped = state.range(4) != 0;
  ParameterArena arena;
  std::unique_ptr<Layer> layer;
  if (grouped) {
    layer = std::make_unique<GroupedDense>(arena, "bench", groups, in, out);
  } else {
    layer = std::make_unique<Dense>(arena, "bench", groups * in, out);
  }
  arena.Allocate();
  arena.Initialize(1);
  Matrix src(batch, layer->InputCols()), dst(batch, layer->OutputCols()), diff_dst(batch, layer->OutputCols()),
      diff_src(batch, layer->InputCols());
  FillRandom(src.data(), batch * layer->InputCols(), 2);
  FillRandom(diff_dst.data(), batch * layer->OutputCols(), 3);
  const Tensor diff_src_view = diff_src.View();
  for (auto _ : state) {
    layer->Forward(src.View(), dst.View(), Mode::kTrain);
    layer->Backward(src.View(), dst.View(), diff_dst.View(), &diff_src_view);
    benchmark::DoNotOptimize(dst.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(6.0 * batch * groups * in * out * state.iterations(),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_GroupedDenseVsDense)
    ->Args({2048, 8, 512, 256, 0})
    ->Args({2048, 8, 512, 256, 1})
    ->Args({512, 8, 64, 32, 0})
    ->Args({512, 8, 64, 32, 1})
    ->UseRealTime()  // oneDNN works on every thread; the main thread's CPU time would overstate the rate
    ->Unit(benchmark::kMillisecond);

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
// The backward half of a training step of an MMoE (simulated example's shape: 13 categorical slots of width 16,
// 6 numeric inputs, 4 experts 256-128, towers 64, 4 tasks, batch 512) under task weighting: arg 0 is `static`'s
// one backward pass; 1 the gradient strategies in the `shared` space (K passes, Gram matrix, combination);
// 2 the `representation` space (K passes for the Gram matrix, then one weighted pass).
void BM_TaskWeightingBackward(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  constexpr int64_t kBatch = 512;
  const char* config_text = R"(
[[tasks]]
name = "click"
[[tasks]]
name = "cart"
parent = "click"
[[tasks]]
name = "purchase"
parent = "click"
[[tasks]]
name = "gmv"
kind = "regression"
[model]
arch = "mmoe"
)";
  const Config config = ParseConfig(config_text, "bench.toml");
  InputLayout layout;
  EncodedData data;
  data.rows = kBatch;
  Rng rng(3);
  for (int slot = 0; slot < 13; ++slot) {
    const std::string name = "f" + std::to_string(slot);
    layout.tables.push_back({name, 1000, 16});
    layout.single_slots.push_back({name, slot, Pooling::kSum});
    data.single_ids.emplace_back(kBatch);
    for (auto& id : data.single_ids.back()) id = static_cast<int32_t>(rng.Below(1000));
  }
  for (int n = 0; n < 6; ++n) layout.numeric_names.push_back("x" + std::to_string(n));
  data.numeric.resize(kBatch * 6);
  FillRandom(data.numeric.data(), data.numeric.size(), 5);
  std::unique_ptr<Model> model = CreateModel(config, layout, kBatch);
  model->Initialize(1);
  Batch batch;
  std::vector<int64_t> rows = SequentialOrder(kBatch);
  GatherBatch(data, rows.data(), kBatch, &batch);
  Matrix diff(kBatch, 4);
  FillRandom(diff.data(), kBatch * 4, 7);
  TaskGradients gradients(*model, kBatch, mode == 2);
  const TaskCoefficients c{{1.1, 0.9, 1.0, 0.8}, {1, 1, 1, 1}};
  Matrix work(kBatch, 4);  // Apply scales the loss gradient in place in the representation space
  model->Forward(batch, Mode::kTrain);
  for (auto _ : state) {
    CopyInto(work.View(), diff.View());
    if (mode == 0) {
      model->arena().ZeroGrad();
      model->Backward(batch, work.View());
    } else {
      TaskMatrix gram = gradients.Measure(kBatch, work.View());
      benchmark::DoNotOptimize(gram);
      gradients.Apply(batch, work.View(), c);
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_TaskWeightingBackward)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace mtrec

BENCHMARK_MAIN();
