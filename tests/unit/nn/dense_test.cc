#include "nn/dense.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"

namespace mtrec {
namespace {

void Fill(const Tensor& t, Rng& rng) {
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t c = 0; c < t.cols; ++c) t.At(r, c) = static_cast<float>(2 * rng.Uniform() - 1);
  }
}

// A layer with randomised weights and bias, and the shapes of one test case.
struct Fixture {
  Fixture(int64_t in, int64_t out) : dense(arena, "d", in, out) {
    arena.Allocate();
    arena.Initialize(3);
    Rng rng(11);
    // A non-zero bias, so that a forgotten bias shows.
    for (int64_t c = 0; c < out; ++c) arena.Value(dense.bias_id())[c] = static_cast<float>(rng.Uniform());
  }
  const float* W() { return arena.Value(dense.weight_id()); }
  const float* b() { return arena.Value(dense.bias_id()); }
  ParameterArena arena;
  Dense dense;
};

// A tensor view of `rows × cols` inside storage with row stride `ld`, and a sentinel in the padding.
struct Strided {
  Strided(int64_t rows, int64_t cols, int64_t ld)
      : storage(rows * ld, kSentinel), view{storage.data(), rows, cols, ld} {}
  bool PaddingIntact() const {
    for (int64_t r = 0; r < view.rows; ++r) {
      for (int64_t c = view.cols; c < view.ld; ++c) {
        if (storage[r * view.ld + c] != kSentinel) return false;
      }
    }
    return true;
  }
  static constexpr float kSentinel = -777.f;
  std::vector<float> storage;
  Tensor view;
};

void CheckForwardBackward(int64_t batch, int64_t in, int64_t out, int64_t pad) {
  SCOPED_TRACE(testing::Message() << batch << "x" << in << " -> " << out << ", padding " << pad);
  Fixture f(in, out);
  Rng rng(5);
  Strided src(batch, in, in + pad), dst(batch, out, out + pad), diff_dst(batch, out, out + pad),
      diff_src(batch, in, in + pad);
  Fill(src.view, rng);
  Fill(diff_dst.view, rng);

  f.dense.Forward(src.view, dst.view, Mode::kTrain);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      double expected = f.b()[j];
      for (int64_t k = 0; k < in; ++k) expected += double(src.view.At(r, k)) * f.W()[k * out + j];
      ASSERT_NEAR(dst.view.At(r, j), expected, 1e-5 * (1 + std::abs(expected))) << "dst " << r << "," << j;
    }
  }
  EXPECT_TRUE(dst.PaddingIntact());

  // Start from non-zero gradients to see that Backward accumulates.
  float* diff_w = f.arena.Grad(f.dense.weight_id());
  float* diff_b = f.arena.Grad(f.dense.bias_id());
  for (int64_t i = 0; i < in * out; ++i) diff_w[i] = 0.25f;
  for (int64_t j = 0; j < out; ++j) diff_b[j] = -0.5f;
  f.dense.Backward(src.view, dst.view, diff_dst.view, &diff_src.view);

  for (int64_t k = 0; k < in; ++k) {
    for (int64_t j = 0; j < out; ++j) {
      double expected = 0.25;
      for (int64_t r = 0; r < batch; ++r) expected += double(src.view.At(r, k)) * diff_dst.view.At(r, j);
      ASSERT_NEAR(diff_w[k * out + j], expected, 1e-5 * (1 + std::abs(expected))) << "diff_W " << k << "," << j;
    }
  }
  for (int64_t j = 0; j < out; ++j) {
    double expected = -0.5;
    for (int64_t r = 0; r < batch; ++r) expected += diff_dst.view.At(r, j);
    ASSERT_NEAR(diff_b[j], expected, 1e-5 * (1 + std::abs(expected))) << "diff_b " << j;
  }
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t k = 0; k < in; ++k) {
      double expected = 0;
      for (int64_t j = 0; j < out; ++j) expected += double(diff_dst.view.At(r, j)) * f.W()[k * out + j];
      ASSERT_NEAR(diff_src.view.At(r, k), expected, 1e-5 * (1 + std::abs(expected))) << "diff_src " << r << "," << k;
    }
  }
  EXPECT_TRUE(diff_src.PaddingIntact());
}

TEST(DenseTest, MatchesNaiveLoopsOnOddShapes) {
  CheckForwardBackward(7, 13, 5, 0);
  CheckForwardBackward(1, 3, 1, 0);
  CheckForwardBackward(33, 17, 29, 0);
  CheckForwardBackward(130, 64, 48, 0);
}

// 256 rows and a 1024 × 1024 weight take the blocked-weights path (a copy of W in oneDNN's layout made before
// each multiplication, forward and backward-data); it must compute the same, with padding, and follow W when it
// changes between calls (an optimizer step).
TEST(DenseTest, LargeLayersMatchNaiveLoopsAndFollowWeightUpdates) {
  CheckForwardBackward(256, 1024, 1024, 3);
  Fixture f(1024, 1024);
  Rng rng(9);
  Strided src(256, 1024, 1024), dst(256, 1024, 1024);
  Fill(src.view, rng);
  f.dense.Forward(src.view, dst.view, Mode::kTrain);
  float* w = f.arena.Value(f.dense.weight_id());
  for (int64_t i = 0; i < 1024 * 1024; ++i) w[i] *= -2.f;
  f.dense.Forward(src.view, dst.view, Mode::kTrain);
  for (int64_t r = 0; r < 256; r += 51) {
    for (int64_t j = 0; j < 1024; j += 97) {
      double expected = f.b()[j];
      for (int64_t k = 0; k < 1024; ++k) expected += double(src.view.At(r, k)) * f.W()[k * 1024 + j];
      ASSERT_NEAR(dst.view.At(r, j), expected, 1e-5 * (1 + std::abs(expected))) << r << "," << j;
    }
  }
}

TEST(DenseTest, MatchesNaiveLoopsWithRowStrideLargerThanCols) {
  CheckForwardBackward(7, 13, 5, 3);
  CheckForwardBackward(9, 6, 11, 17);
}

TEST(DenseTest, ReadsAndWritesColumnBlocksOfWiderMatrices) {
  Fixture f(4, 3);
  Rng rng(9);
  std::vector<float> wide_src(6 * 10, 0.f);
  std::vector<float> wide_dst(6 * 8, 100.f);
  Tensor src_all{wide_src.data(), 6, 10, 10};
  Tensor dst_all{wide_dst.data(), 6, 8, 8};
  Fill(src_all, rng);
  const Tensor src = src_all.Columns(5, 4);
  const Tensor dst = dst_all.Columns(2, 3);
  f.dense.Forward(src, dst, Mode::kInfer);
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t c = 0; c < 8; ++c) {
      if (c >= 2 && c < 5) {
        double expected = f.b()[c - 2];
        for (int64_t k = 0; k < 4; ++k) expected += double(src.At(r, k)) * f.W()[k * 3 + (c - 2)];
        EXPECT_NEAR(dst_all.At(r, c), expected, 1e-5);
      } else {
        EXPECT_EQ(dst_all.At(r, c), 100.f) << "wrote outside its column block at " << r << "," << c;
      }
    }
  }
}

TEST(DenseTest, BackwardWithoutDiffSrcStillAccumulatesParameterGradients) {
  Fixture f(5, 2);
  Matrix src(3, 5), dst(3, 2), diff_dst(3, 2);
  Rng rng(1);
  Fill(src.View(), rng);
  Fill(diff_dst.View(), rng);
  f.arena.ZeroGrad();
  f.dense.Backward(src.View(), dst.View(), diff_dst.View(), nullptr);
  f.dense.Backward(src.View(), dst.View(), diff_dst.View(), nullptr);
  double expected = 0;
  for (int r = 0; r < 3; ++r) expected += 2.0 * src.View().At(r, 1) * diff_dst.View().At(r, 0);
  EXPECT_NEAR(f.arena.Grad(f.dense.weight_id())[1 * 2 + 0], expected, 1e-5);
}

TEST(DenseTest, ManyBatchSizesReuseAndRecycleCachedPrimitives) {
  Fixture f(6, 4);
  Rng rng(2);
  // More shapes than the cache holds, then the first ones again: every answer must stay right.
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t batch = 1; batch <= 12; ++batch) {
      Matrix src(batch, 6), dst(batch, 4);
      Fill(src.View(), rng);
      f.dense.Forward(src.View(), dst.View(), Mode::kInfer);
      const int64_t r = batch - 1;
      double expected = f.b()[3];
      for (int64_t k = 0; k < 6; ++k) expected += double(src.View().At(r, k)) * f.W()[k * 4 + 3];
      ASSERT_NEAR(dst.View().At(r, 3), expected, 1e-5) << "batch " << batch << " pass " << pass;
    }
  }
}

TEST(DenseTest, RepeatedRunsAreBitwiseIdentical) {
  SetThreads(2);
  Fixture f(96, 80);
  Matrix src(257, 96), dst(257, 80), diff_dst(257, 80), diff_src(257, 96);
  Rng rng(4);
  Fill(src.View(), rng);
  Fill(diff_dst.View(), rng);
  std::vector<float> first_grads;
  std::vector<float> first_diff_src;
  std::vector<float> first_dst;
  const Tensor diff_src_view = diff_src.View();
  for (int run = 0; run < 2; ++run) {
    f.arena.ZeroGrad();
    f.dense.Forward(src.View(), dst.View(), Mode::kTrain);
    f.dense.Backward(src.View(), dst.View(), diff_dst.View(), &diff_src_view);
    std::vector<float> grads(f.arena.grads(), f.arena.grads() + f.arena.size());
    std::vector<float> ds(diff_src.data(), diff_src.data() + 257 * 96);
    std::vector<float> y(dst.data(), dst.data() + 257 * 80);
    if (run == 0) {
      first_grads = grads;
      first_diff_src = ds;
      first_dst = y;
    } else {
      EXPECT_EQ(std::memcmp(grads.data(), first_grads.data(), grads.size() * 4), 0);
      EXPECT_EQ(std::memcmp(ds.data(), first_diff_src.data(), ds.size() * 4), 0);
      EXPECT_EQ(std::memcmp(y.data(), first_dst.data(), y.size() * 4), 0);
    }
  }
}

TEST(DenseTest, EmptyBatchIsANoOp) {
  Fixture f(3, 2);
  Matrix src(1, 3), dst(1, 2);
  f.arena.ZeroGrad();
  f.dense.Forward(src.View().TopRows(0), dst.View().TopRows(0), Mode::kTrain);
  f.dense.Backward(src.View().TopRows(0), dst.View().TopRows(0), dst.View().TopRows(0), nullptr);
  EXPECT_EQ(f.arena.Grad(f.dense.bias_id())[0], 0.f);
}

TEST(DenseTest, ReservesNamedParameters) {
  ParameterArena arena;
  Dense dense(arena, "tower.ctr.0", 8, 3, Init::kGlorotUniform);
  EXPECT_EQ(arena.Info(dense.weight_id()).name, "tower.ctr.0.weight");
  EXPECT_EQ(arena.Info(dense.weight_id()).rows, 8);
  EXPECT_EQ(arena.Info(dense.weight_id()).cols, 3);
  EXPECT_EQ(arena.Info(dense.weight_id()).init, Init::kGlorotUniform);
  EXPECT_TRUE(arena.Info(dense.weight_id()).decay);
  EXPECT_EQ(arena.Info(dense.bias_id()).name, "tower.ctr.0.bias");
  EXPECT_EQ(arena.Info(dense.bias_id()).rows, 1);
  EXPECT_EQ(arena.Info(dense.bias_id()).init, Init::kZero);
  EXPECT_FALSE(arena.Info(dense.bias_id()).decay);
  EXPECT_EQ(dense.InputCols(), 8);
  EXPECT_EQ(dense.OutputCols(), 3);
}

TEST(DenseTest, RefusesWrongShapesAndUnallocatedArena) {
  ParameterArena arena;
  Dense dense(arena, "d", 4, 2);
  Matrix src(3, 4), dst(3, 2), wrong(3, 5);
  EXPECT_THROW(dense.Forward(src.View(), dst.View(), Mode::kTrain), Error);  // arena not allocated
  arena.Allocate();
  EXPECT_THROW(dense.Forward(wrong.View(), dst.View(), Mode::kTrain), Error);
  EXPECT_THROW(dense.Forward(src.View(), wrong.View(), Mode::kTrain), Error);
  EXPECT_THROW(dense.Forward(src.View(), dst.View().TopRows(2), Mode::kTrain), Error);
  EXPECT_THROW(Dense(arena, "e", 0, 2), Error);
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// A frozen arena (a served model) packs each layer's weights once: the scores equal the unfrozen layer's, and the
// packed copy is what later calls use — a weight written after the promise is not seen, which is the point.
TEST(DenseTest, FrozenWeightsArePackedOnceAndScoreAsBefore) {
  Fixture live(300, 70), frozen(300, 70);
  frozen.arena.FreezeValues();
  ASSERT_TRUE(frozen.arena.values_frozen());
  Rng rng(8);
  Strided src(100, 300, 300), a(100, 70, 70), b(100, 70, 70), c(100, 70, 70);
  Fill(src.view, rng);
  live.dense.Forward(src.view, a.view, Mode::kInfer);
  frozen.dense.Forward(src.view, b.view, Mode::kInfer);
  for (int64_t r = 0; r < 100; ++r) {
    for (int64_t j = 0; j < 70; ++j) ASSERT_NEAR(b.view.At(r, j), a.view.At(r, j), 1e-5) << r << "," << j;
  }
  frozen.arena.Value(frozen.dense.weight_id())[0] += 1.0f;
  frozen.dense.Forward(src.view, c.view, Mode::kInfer);
  EXPECT_EQ(b.storage, c.storage) << "the frozen layer packed its weights again";
}

// Rows in groups that agree on some columns: the shared columns' product once per group, the rest per row, the
// same as the plain product. Groups of 1, 3 and 6 rows; two shared ranges with a per-row one between them; dst
// with a row stride wider than its columns.
TEST(DenseTest, SharedColumnsOncePerGroupGiveThePlainProduct) {
  const int64_t in = 40, out = 24, rows = 10;
  const SharedColumns shared{.group_starts = {0, 1, 4}, .columns = {{0, 12}, {20, 36}}};
  Fixture live(in, out), frozen(in, out);
  frozen.arena.FreezeValues();
  Rng rng(21);
  Strided src(rows, in, in), expected(rows, out, out), got(rows, out, out + 5);
  Fill(src.view, rng);
  for (size_t g = 0; g < shared.group_starts.size(); ++g) {
    const int64_t begin = shared.group_starts[g];
    const int64_t end = g + 1 < shared.group_starts.size() ? shared.group_starts[g + 1] : rows;
    for (int64_t r = begin + 1; r < end; ++r) {
      for (const ColumnRange& range : shared.columns) {
        std::copy(src.view.Row(begin) + range.begin, src.view.Row(begin) + range.end, src.view.Row(r) + range.begin);
      }
    }
  }
  live.dense.Forward(src.view, expected.view, Mode::kInfer);
  frozen.dense.Infer(src.view, got.view, &shared, /*relu=*/false);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < out; ++j) ASSERT_NEAR(got.view.At(r, j), expected.view.At(r, j), 1e-5) << r << "," << j;
  }
  EXPECT_TRUE(got.PaddingIntact());
  // Another split of the same layer cuts its weights again: everything shared but the last column, one group.
  const SharedColumns all_but_last{.group_starts = {0}, .columns = {{0, in - 1}}};
  for (int64_t r = 1; r < rows; ++r) std::copy(src.view.Row(0), src.view.Row(0) + in - 1, src.view.Row(r));
  live.dense.Forward(src.view, expected.view, Mode::kInfer);
  frozen.dense.Infer(src.view, got.view, &all_but_last, /*relu=*/false);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < out; ++j) ASSERT_NEAR(got.view.At(r, j), expected.view.At(r, j), 1e-5) << r << "," << j;
  }
  // Back to the first split: its cut is kept, and still right (the rows now agree on those columns too).
  frozen.dense.Infer(src.view, got.view, &shared, /*relu=*/false);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < out; ++j) ASSERT_NEAR(got.view.At(r, j), expected.view.At(r, j), 1e-5) << r << "," << j;
  }
  // Weights that can still change (a training arena) take the plain path, whatever the rows hold: with shared
  // columns that differ within a group, the result is still each row's own product.
  Fill(src.view, rng);
  Strided plain(rows, out, out);
  live.dense.Forward(src.view, expected.view, Mode::kInfer);
  live.dense.Infer(src.view, plain.view, &shared, /*relu=*/false);
  EXPECT_EQ(plain.storage, expected.storage);
  // Columns beyond the input are refused.
  const SharedColumns too_wide{.group_starts = {0}, .columns = {{30, in + 1}}};
  EXPECT_THROW(frozen.dense.Infer(src.view, got.view, &too_wide, /*relu=*/false), Error);
}

// Inference fuses the ReLU that follows into the product: max(0, ·) of the plain Forward, on the plain path and
// on the split one, including a split with every column shared.
TEST(DenseTest, InferWithReluIsTheRectifiedForward) {
  const int64_t in = 30, out = 20, rows = 6;
  Fixture live(in, out), frozen(in, out);
  frozen.arena.FreezeValues();
  Rng rng(4);
  Strided src(rows, in, in), plain(rows, out, out), fused(rows, out, out + 3);
  Fill(src.view, rng);
  for (int64_t r = 1; r < rows; ++r) std::copy(src.view.Row(0), src.view.Row(0) + in, src.view.Row(r));
  live.dense.Forward(src.view, plain.view, Mode::kInfer);
  auto expect_rectified = [&](const char* what) {
    int64_t zeros = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < out; ++j) {
        ASSERT_NEAR(fused.view.At(r, j), std::max(plain.view.At(r, j), 0.f), 1e-5) << what << " " << r << "," << j;
        zeros += fused.view.At(r, j) == 0.f;
      }
    }
    EXPECT_GT(zeros, 0) << what;  // some outputs were negative
    EXPECT_TRUE(fused.PaddingIntact()) << what;
  };
  live.dense.Infer(src.view, fused.view, nullptr, /*relu=*/true);
  expect_rectified("plain");
  const SharedColumns some{.group_starts = {0, 3}, .columns = {{5, 25}}};
  frozen.dense.Infer(src.view, fused.view, &some, /*relu=*/true);
  expect_rectified("split");
  const SharedColumns all{.group_starts = {0, 3}, .columns = {{0, in}}};
  frozen.dense.Infer(src.view, fused.view, &all, /*relu=*/true);
  expect_rectified("all shared");
}

}  // namespace
}  // namespace mtrec
