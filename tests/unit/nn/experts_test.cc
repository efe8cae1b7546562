// Known-value tests of the multi-task building blocks: grouped dense layers, gate softmax, mixtures of experts,
// cross-stitch units and AITM's attention transfer unit, each against loops written out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"
#include "nn/attention_transfer.h"
#include "nn/cross_stitch.h"
#include "nn/gate_softmax.h"
#include "nn/grouped_dense.h"
#include "nn/mixture.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

void Fill(const Tensor& t, Rng& rng, double lo = -1, double hi = 1) {
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t c = 0; c < t.cols; ++c) t.At(r, c) = static_cast<float>(lo + (hi - lo) * rng.Uniform());
  }
}

void Fill(float* data, int64_t n, Rng& rng, double lo = -1, double hi = 1) { Fill(Tensor{data, 1, n, n}, rng, lo, hi); }

// A rows × cols view with row stride ld over its own storage, with a sentinel in the padding.
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

double Tol(double expected) { return 1e-5 * (1 + std::abs(expected)); }

// ---------------------------------------------------------------------------------------------------------------
// GroupedDense

struct GroupedFixture {
  GroupedFixture(int64_t groups, int64_t in, int64_t out) : layer(arena, "g", groups, in, out) {
    arena.Allocate();
    arena.Initialize(3);
    Rng rng(17);
    // A different non-zero bias per group, so that a forgotten or misplaced bias shows.
    Fill(arena.Value(layer.bias_id()), groups * out, rng);
  }
  // W_g[k, j] and b_g[j].
  float W(int64_t g, int64_t k, int64_t j) {
    const int64_t in = layer.InputCols() / layer.groups(), out = layer.OutputCols() / layer.groups();
    return arena.Value(layer.weight_id())[(g * in + k) * out + j];
  }
  float b(int64_t g, int64_t j) { return arena.Value(layer.bias_id())[g * (layer.OutputCols() / layer.groups()) + j]; }
  ParameterArena arena;
  GroupedDense layer;
};

void CheckGroupedAgainstLoops(int64_t batch, int64_t groups, int64_t in, int64_t out, int64_t pad) {
  SCOPED_TRACE(testing::Message() << "batch " << batch << ", " << groups << " groups of " << in << " -> " << out
                                  << ", padding " << pad);
  GroupedFixture f(groups, in, out);
  Rng rng(5);
  Strided src(batch, groups * in, groups * in + pad), dst(batch, groups * out, groups * out + pad),
      diff_dst(batch, groups * out, groups * out + pad), diff_src(batch, groups * in, groups * in + pad);
  Fill(src.view, rng);
  Fill(diff_dst.view, rng);

  f.layer.Forward(src.view, dst.view, Mode::kTrain);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t r = 0; r < batch; ++r) {
      for (int64_t j = 0; j < out; ++j) {
        double expected = f.b(g, j);
        for (int64_t k = 0; k < in; ++k) expected += double(src.view.At(r, g * in + k)) * f.W(g, k, j);
        ASSERT_NEAR(dst.view.At(r, g * out + j), expected, Tol(expected)) << "dst group " << g << " " << r << "," << j;
      }
    }
  }
  EXPECT_TRUE(dst.PaddingIntact());

  // Start from non-zero gradients to see that Backward accumulates.
  float* diff_w = f.arena.Grad(f.layer.weight_id());
  float* diff_b = f.arena.Grad(f.layer.bias_id());
  std::fill_n(diff_w, groups * in * out, 0.25f);
  std::fill_n(diff_b, groups * out, -0.5f);
  f.layer.Backward(src.view, dst.view, diff_dst.view, &diff_src.view);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t k = 0; k < in; ++k) {
      for (int64_t j = 0; j < out; ++j) {
        double expected = 0.25;
        for (int64_t r = 0; r < batch; ++r)
          expected += double(src.view.At(r, g * in + k)) * diff_dst.view.At(r, g * out + j);
        ASSERT_NEAR(diff_w[(g * in + k) * out + j], expected, Tol(expected))
            << "diff_W group " << g << " " << k << "," << j;
      }
    }
    for (int64_t j = 0; j < out; ++j) {
      double expected = -0.5;
      for (int64_t r = 0; r < batch; ++r) expected += diff_dst.view.At(r, g * out + j);
      ASSERT_NEAR(diff_b[g * out + j], expected, Tol(expected)) << "diff_b group " << g << " " << j;
    }
    for (int64_t r = 0; r < batch; ++r) {
      for (int64_t k = 0; k < in; ++k) {
        double expected = 0;
        for (int64_t j = 0; j < out; ++j) expected += double(diff_dst.view.At(r, g * out + j)) * f.W(g, k, j);
        ASSERT_NEAR(diff_src.view.At(r, g * in + k), expected, Tol(expected))
            << "diff_src group " << g << " " << r << "," << k;
      }
    }
  }
  EXPECT_TRUE(diff_src.PaddingIntact());
}

TEST(GroupedDenseTest, EqualsSeparateProductsPerGroupOnOddShapes) {
  CheckGroupedAgainstLoops(5, 3, 7, 4, 0);
  CheckGroupedAgainstLoops(1, 1, 3, 2, 0);
  CheckGroupedAgainstLoops(129, 4, 33, 17, 0);
  CheckGroupedAgainstLoops(300, 8, 64, 32, 0);  // large enough for the parallel bias loops
}

TEST(GroupedDenseTest, EqualsSeparateProductsWithRowStrideLargerThanCols) {
  CheckGroupedAgainstLoops(5, 3, 7, 4, 5);
  CheckGroupedAgainstLoops(70, 2, 9, 13, 3);
}

TEST(GroupedDenseTest, WritesOnlyItsColumnBlockOfAWiderMatrix) {
  GroupedFixture f(2, 3, 2);
  Rng rng(9);
  std::vector<float> wide_src(4 * 10, 0.f), wide_dst(4 * 9, 100.f);
  const Tensor src_all{wide_src.data(), 4, 10, 10}, dst_all{wide_dst.data(), 4, 9, 9};
  Fill(src_all, rng);
  const Tensor src = src_all.Columns(3, 6), dst = dst_all.Columns(4, 4);
  f.layer.Forward(src, dst, Mode::kInfer);
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < 9; ++c) {
      if (c < 4 || c >= 8) {
        EXPECT_EQ(dst_all.At(r, c), 100.f) << "wrote outside its column block at " << r << "," << c;
        continue;
      }
      const int64_t g = (c - 4) / 2, j = (c - 4) % 2;
      double expected = f.b(g, j);
      for (int64_t k = 0; k < 3; ++k) expected += double(src.At(r, g * 3 + k)) * f.W(g, k, j);
      EXPECT_NEAR(dst_all.At(r, c), expected, Tol(expected));
    }
  }
}

// Inference fuses the ReLU that follows into the pass that adds the bias: max(0, ·) of Forward.
TEST(GroupedDenseTest, InferWithReluIsTheRectifiedForward) {
  GroupedFixture f(3, 7, 5);
  Rng rng(9);
  Strided src(4, 21, 21), plain(4, 15, 15), fused(4, 15, 17);
  Fill(src.view, rng);
  f.layer.Forward(src.view, plain.view, Mode::kInfer);
  f.layer.Infer(src.view, fused.view, /*relu=*/true);
  int64_t zeros = 0;
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t j = 0; j < 15; ++j) {
      EXPECT_EQ(fused.view.At(r, j), std::max(plain.view.At(r, j), 0.f)) << r << "," << j;
      zeros += fused.view.At(r, j) == 0.f;
    }
  }
  EXPECT_GT(zeros, 0);
  EXPECT_TRUE(fused.PaddingIntact());
}

TEST(GroupedDenseTest, BackwardWithoutDiffSrcStillAccumulates) {
  GroupedFixture f(2, 3, 2);
  Matrix src(4, 6), dst(4, 4), diff_dst(4, 4);
  Rng rng(1);
  Fill(src.View(), rng);
  Fill(diff_dst.View(), rng);
  f.arena.ZeroGrad();
  f.layer.Backward(src.View(), dst.View(), diff_dst.View(), nullptr);
  f.layer.Backward(src.View(), dst.View(), diff_dst.View(), nullptr);
  // Group 1's W[2, 1] and b[1].
  double expected_w = 0, expected_b = 0;
  for (int r = 0; r < 4; ++r) {
    expected_w += 2.0 * src.View().At(r, 3 + 2) * diff_dst.View().At(r, 2 + 1);
    expected_b += 2.0 * diff_dst.View().At(r, 2 + 1);
  }
  EXPECT_NEAR(f.arena.Grad(f.layer.weight_id())[(3 + 2) * 2 + 1], expected_w, 1e-5);
  EXPECT_NEAR(f.arena.Grad(f.layer.bias_id())[2 + 1], expected_b, 1e-5);
}

TEST(GroupedDenseTest, ReservesStackedWeightsAndOneBiasRowPerGroup) {
  ParameterArena arena;
  GroupedDense layer(arena, "experts.1", 8, 5, 3, Init::kGlorotUniform);
  const ParameterInfo& w = arena.Info(layer.weight_id());
  EXPECT_EQ(w.name, "experts.1.weight");
  EXPECT_EQ(w.rows, 8 * 5);
  EXPECT_EQ(w.cols, 3);
  EXPECT_EQ(w.groups, 8);
  EXPECT_TRUE(w.linear_weight);
  EXPECT_TRUE(w.decay);
  EXPECT_EQ(w.init, Init::kGlorotUniform);
  const ParameterInfo& b = arena.Info(layer.bias_id());
  EXPECT_EQ(b.name, "experts.1.bias");
  EXPECT_EQ(b.rows, 8);
  EXPECT_EQ(b.cols, 3);
  EXPECT_EQ(b.init, Init::kZero);
  EXPECT_FALSE(b.decay);
  EXPECT_EQ(layer.InputCols(), 40);
  EXPECT_EQ(layer.OutputCols(), 24);
}

TEST(GroupedDenseTest, ManyBatchSizesReuseAndRecycleCachedPrimitives) {
  GroupedFixture f(3, 4, 2);
  Rng rng(2);
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t batch = 1; batch <= 12; ++batch) {
      Matrix src(batch, 12), dst(batch, 6);
      Fill(src.View(), rng);
      f.layer.Forward(src.View(), dst.View(), Mode::kInfer);
      const int64_t r = batch - 1;
      double expected = f.b(2, 1);
      for (int64_t k = 0; k < 4; ++k) expected += double(src.View().At(r, 8 + k)) * f.W(2, k, 1);
      ASSERT_NEAR(dst.View().At(r, 5), expected, Tol(expected)) << "batch " << batch << " pass " << pass;
    }
  }
}

TEST(GroupedDenseTest, RepeatedRunsAreBitwiseIdentical) {
  SetThreads(2);
  GroupedFixture f(4, 48, 40);
  Matrix src(257, 192), dst(257, 160), diff_dst(257, 160), diff_src(257, 192);
  Rng rng(4);
  Fill(src.View(), rng);
  Fill(diff_dst.View(), rng);
  const Tensor diff_src_view = diff_src.View();
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    f.arena.ZeroGrad();
    f.layer.Forward(src.View(), dst.View(), Mode::kTrain);
    f.layer.Backward(src.View(), dst.View(), diff_dst.View(), &diff_src_view);
    std::vector<float> all(f.arena.grads(), f.arena.grads() + f.arena.size());
    all.insert(all.end(), dst.data(), dst.data() + 257 * 160);
    all.insert(all.end(), diff_src.data(), diff_src.data() + 257 * 192);
    if (run == 0) {
      first = all;
    } else {
      EXPECT_EQ(std::memcmp(all.data(), first.data(), all.size() * sizeof(float)), 0);
    }
  }
}

// Frozen weights (a served model) are packed once where oneDNN prefers another layout (for these shapes it may
// not, and reads them in place); either way the scores equal the unfrozen layer's, call after call.
TEST(GroupedDenseTest, FrozenWeightsScoreAsBefore) {
  GroupedFixture live(4, 48, 40), frozen(4, 48, 40);
  frozen.arena.FreezeValues();
  Matrix src(100, 192), a(100, 160), b(100, 160), c(100, 160);
  Rng rng(6);
  Fill(src.View(), rng);
  live.layer.Forward(src.View(), a.View(), Mode::kInfer);
  frozen.layer.Forward(src.View(), b.View(), Mode::kInfer);
  for (int64_t i = 0; i < 100 * 160; ++i) ASSERT_NEAR(b.data()[i], a.data()[i], 1e-5) << i;
  frozen.layer.Forward(src.View(), c.View(), Mode::kInfer);
  EXPECT_EQ(std::memcmp(b.data(), c.data(), 100 * 160 * sizeof(float)), 0);
}

#if defined(__x86_64__)
// oneDNN 2.6 runs a 3-D matmul with a per-group bias on its reference kernel, hundreds of times slower than the
// JIT ones; the layer adds the bias itself so that every direction gets a JIT (or brgemm) kernel.
TEST(GroupedDenseTest, NoDirectionRunsOnAReferenceKernel) {
  for (const int64_t pad : {0, 3}) {
    GroupedFixture f(8, 64, 32);
    Strided src(96, 512, 512 + pad), dst(96, 256, 256 + pad), diff_src(96, 512, 512 + pad);
    EXPECT_EQ(f.layer.ImplInfo(), "");
    f.layer.Forward(src.view, dst.view, Mode::kTrain);
    f.layer.Backward(src.view, dst.view, dst.view, &diff_src.view);
    const std::string impl = f.layer.ImplInfo();
    SCOPED_TRACE(impl);
    EXPECT_EQ(impl.find("ref"), std::string::npos);
    EXPECT_NE(impl.find("jit"), std::string::npos);  // "gemm:jit" or "brg:avx512_core" and the like
  }
}
#endif

TEST(GroupedDenseTest, RefusesWrongShapesAndUnallocatedArena) {
  ParameterArena arena;
  GroupedDense layer(arena, "g", 3, 4, 2);
  Matrix src(5, 12), dst(5, 6), wrong(5, 13);
  EXPECT_NE(ErrorOf([&] { layer.Forward(src.View(), dst.View(), Mode::kTrain); }).find("allocated"), std::string::npos);
  arena.Allocate();
  const std::string message = ErrorOf([&] { layer.Forward(wrong.View(), dst.View(), Mode::kTrain); });
  EXPECT_NE(message.find("grouped dense layer 'g'"), std::string::npos) << message;
  EXPECT_NE(message.find("src is 5x13, expected 5x12"), std::string::npos) << message;
  EXPECT_THROW(layer.Forward(src.View(), dst.View().TopRows(4), Mode::kTrain), Error);
  EXPECT_THROW(layer.Backward(src.View(), dst.View(), wrong.View(), nullptr), Error);
  EXPECT_THROW(GroupedDense(arena, "h", 0, 4, 2), Error);
}

// ---------------------------------------------------------------------------------------------------------------
// GateSoftmax

TEST(GateSoftmaxTest, EachBlockIsAHandSoftmaxSummingToOne) {
  const int64_t blocks = 3, experts = 4, batch = 6;
  GateSoftmax softmax(blocks, experts);
  Rng rng(3);
  Strided src(batch, blocks * experts, 15), dst(batch, blocks * experts, 13);
  Fill(src.view, rng, -4, 4);
  softmax.Forward(src.view, dst.view, Mode::kTrain);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t b = 0; b < blocks; ++b) {
      double denominator = 0, sum = 0;
      for (int64_t e = 0; e < experts; ++e) denominator += std::exp(double(src.view.At(r, b * experts + e)));
      for (int64_t e = 0; e < experts; ++e) {
        const double expected = std::exp(double(src.view.At(r, b * experts + e))) / denominator;
        EXPECT_NEAR(dst.view.At(r, b * experts + e), expected, 1e-6) << r << "," << b << "," << e;
        sum += dst.view.At(r, b * experts + e);
      }
      EXPECT_NEAR(sum, 1.0, 1e-6) << "row " << r << " block " << b;
    }
  }
  EXPECT_TRUE(dst.PaddingIntact());
}

TEST(GateSoftmaxTest, StableForHugeLogits) {
  GateSoftmax softmax(3, 2);
  std::vector<float> src = {1000.f, 1000.f, 1000.f, 999.f, -1000.f, 0.f};
  std::vector<float> dst(6, 9.f);
  softmax.Forward(Tensor{src.data(), 1, 6, 6}, Tensor{dst.data(), 1, 6, 6}, Mode::kInfer);
  for (float y : dst) EXPECT_TRUE(std::isfinite(y));
  EXPECT_FLOAT_EQ(dst[0], 0.5f);
  EXPECT_FLOAT_EQ(dst[1], 0.5f);
  EXPECT_NEAR(dst[2], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(dst[3], 1.0 / (1.0 + std::exp(1.0)), 1e-6);
  EXPECT_EQ(dst[4], 0.f);
  EXPECT_EQ(dst[5], 1.f);
}

TEST(GateSoftmaxTest, BackwardIsTheSoftmaxJacobianAndRunsInPlace) {
  const int64_t blocks = 2, experts = 3, batch = 4;
  GateSoftmax softmax(blocks, experts);
  Rng rng(8);
  Matrix src(batch, 6), dst(batch, 6), diff_dst(batch, 6), diff_src(batch, 6);
  Fill(src.View(), rng, -2, 2);
  Fill(diff_dst.View(), rng);
  softmax.Forward(src.View(), dst.View(), Mode::kTrain);
  const Tensor diff_src_view = diff_src.View();
  softmax.Backward(src.View(), dst.View(), diff_dst.View(), &diff_src_view);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t b = 0; b < blocks; ++b) {
      for (int64_t j = 0; j < experts; ++j) {
        // Σ_i G_i ∂y_i/∂s_j with ∂y_i/∂s_j = y_i (δ_ij − y_j).
        double expected = 0;
        const double y_j = dst.View().At(r, b * experts + j);
        for (int64_t i = 0; i < experts; ++i) {
          const double y_i = dst.View().At(r, b * experts + i);
          expected += diff_dst.View().At(r, b * experts + i) * y_i * ((i == j ? 1.0 : 0.0) - y_j);
        }
        EXPECT_NEAR(diff_src.View().At(r, b * experts + j), expected, 1e-6);
      }
    }
  }
  // In place: dst over src and diff_src over diff_dst give the same numbers.
  Matrix in_place(batch, 6), grad(batch, 6);
  std::memcpy(in_place.data(), src.data(), sizeof(float) * batch * 6);
  std::memcpy(grad.data(), diff_dst.data(), sizeof(float) * batch * 6);
  softmax.Forward(in_place.View(), in_place.View(), Mode::kTrain);
  const Tensor grad_view = grad.View();
  softmax.Backward(in_place.View(), in_place.View(), grad.View(), &grad_view);
  EXPECT_EQ(std::memcmp(in_place.data(), dst.data(), sizeof(float) * batch * 6), 0);
  EXPECT_EQ(std::memcmp(grad.data(), diff_src.data(), sizeof(float) * batch * 6), 0);
}

TEST(GateSoftmaxTest, RefusesWrongShapes) {
  GateSoftmax softmax(2, 3);
  Matrix src(4, 6), wrong(4, 5);
  EXPECT_NE(ErrorOf([&] { softmax.Forward(src.View(), wrong.View(), Mode::kTrain); }).find("gate softmax: dst is 4x5"),
            std::string::npos);
  EXPECT_THROW(GateSoftmax(0, 3), Error);
}

// ---------------------------------------------------------------------------------------------------------------
// Mixture

// Two blocks of experts of width 4: block 0 holds 2 experts (8 columns, ld 11), block 1 holds 3 (12 columns, a
// column view of a 15-column matrix).
struct MixtureFixture {
  static constexpr int64_t kBatch = 5, kWidth = 4;
  MixtureFixture() : block0(kBatch, 8, 11), wide1(kBatch, 15, 15), gates(kBatch, 5, 7), dst(kBatch, kWidth, 6) {
    Rng rng(21);
    Fill(block0.view, rng);
    Fill(wide1.view, rng);
    block1 = wide1.view.Columns(2, 12);
  }
  // Expert e of the concatenation, row r, column j.
  float Expert(int64_t e, int64_t r, int64_t j) const {
    return e < 2 ? block0.view.At(r, e * kWidth + j) : block1.At(r, (e - 2) * kWidth + j);
  }
  std::vector<Tensor> Blocks() const { return {block0.view, block1}; }
  Strided block0, wide1;
  Tensor block1;
  Strided gates, dst;
};

TEST(MixtureTest, OneHotGatesReturnTheChosenExpert) {
  MixtureFixture f;
  Mixture mixture(4);
  const int64_t chosen[] = {0, 3, 1, 4, 2};  // one row per expert, across both blocks
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t e = 0; e < 5; ++e) f.gates.view.At(r, e) = e == chosen[r] ? 1.f : 0.f;
  }
  mixture.Forward(f.Blocks(), f.gates.view, f.dst.view);
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(f.dst.view.At(r, j), f.Expert(chosen[r], r, j)) << r << "," << j;
  }
  EXPECT_TRUE(f.dst.PaddingIntact());
}

TEST(MixtureTest, ForwardIsTheGatedSumAndBackwardAccumulatesExpertsAndOverwritesGates) {
  MixtureFixture f;
  Mixture mixture(4);
  Rng rng(22);
  Fill(f.gates.view, rng, 0, 1);
  mixture.Forward(f.Blocks(), f.gates.view, f.dst.view);
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t j = 0; j < 4; ++j) {
      double expected = 0;
      for (int64_t e = 0; e < 5; ++e) expected += double(f.gates.view.At(r, e)) * f.Expert(e, r, j);
      EXPECT_NEAR(f.dst.view.At(r, j), expected, 1e-6);
    }
  }

  Strided diff_dst(5, 4, 4), diff_block0(5, 8, 9), diff_block1(5, 12, 12), diff_gates(5, 5, 6);
  Fill(diff_dst.view, rng);
  for (Strided* d : {&diff_block0, &diff_block1}) Fill(d->view, rng, 0.5, 0.5);  // to accumulate onto
  Fill(diff_gates.view, rng, 123, 123);                                          // to be overwritten
  mixture.Backward(f.Blocks(), f.gates.view, diff_dst.view, {diff_block0.view, diff_block1.view}, diff_gates.view);
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t e = 0; e < 5; ++e) {
      double dot = 0;
      for (int64_t j = 0; j < 4; ++j) {
        dot += double(f.Expert(e, r, j)) * diff_dst.view.At(r, j);
        const double expected = 0.5 + double(f.gates.view.At(r, e)) * diff_dst.view.At(r, j);
        const float got = e < 2 ? diff_block0.view.At(r, e * 4 + j) : diff_block1.view.At(r, (e - 2) * 4 + j);
        EXPECT_NEAR(got, expected, 1e-6) << "expert " << e << " row " << r << " col " << j;
      }
      EXPECT_NEAR(diff_gates.view.At(r, e), dot, 1e-6) << "gate " << e << " row " << r;
    }
  }
  EXPECT_TRUE(diff_block0.PaddingIntact());
  EXPECT_TRUE(diff_gates.PaddingIntact());
}

TEST(MixtureTest, RefusesMismatchedShapesWithClearMessages) {
  MixtureFixture f;
  Mixture mixture(4);
  Matrix gates4(5, 4), ragged(5, 6), short_block(4, 8), diff_gates(5, 5);
  std::string message = ErrorOf([&] { mixture.Forward(f.Blocks(), gates4.View(), f.dst.view); });
  EXPECT_NE(message.find("gates has 4 columns, expected one per expert: 5 in 2 blocks of width 4"), std::string::npos)
      << message;
  message = ErrorOf([&] { mixture.Forward({f.block0.view, ragged.View()}, f.gates.view, f.dst.view); });
  EXPECT_NE(message.find("expert block 1 has 6 columns"), std::string::npos) << message;
  message = ErrorOf([&] { mixture.Forward({short_block.View(), f.block1}, f.gates.view, f.dst.view); });
  EXPECT_NE(message.find("expert block 0 has 4 rows, the gates 5"), std::string::npos) << message;
  EXPECT_THROW(mixture.Forward({}, f.gates.view, f.dst.view), Error);
  EXPECT_THROW(mixture.Forward(f.Blocks(), f.gates.view, ragged.View()), Error);  // dst 6 wide, not 4
  message =
      ErrorOf([&] { mixture.Backward(f.Blocks(), f.gates.view, f.dst.view, {f.block0.view}, diff_gates.View()); });
  EXPECT_NE(message.find("1 gradient blocks for 2 expert blocks"), std::string::npos) << message;
  EXPECT_THROW(Mixture(0), Error);
}

// ---------------------------------------------------------------------------------------------------------------
// CrossStitch

TEST(CrossStitchTest, InitialisesNearIdentity) {
  for (const int64_t tasks : {1, 2, 3}) {
    ParameterArena arena;
    CrossStitch stitch(arena, "s", tasks, 4);
    arena.Allocate();
    arena.Initialize(1);
    const ParameterInfo& info = arena.Info(stitch.alpha_id());
    EXPECT_EQ(info.name, "s.alpha");
    EXPECT_EQ(info.rows, tasks);
    EXPECT_EQ(info.cols, tasks);
    EXPECT_FALSE(info.decay);
    const float* alpha = arena.Value(stitch.alpha_id());
    for (int64_t k = 0; k < tasks; ++k) {
      for (int64_t j = 0; j < tasks; ++j) {
        const float expected = tasks == 1 ? 1.f : k == j ? 0.9f : 0.1f / static_cast<float>(tasks - 1);
        EXPECT_FLOAT_EQ(alpha[k * tasks + j], expected) << tasks << " tasks, " << k << "," << j;
      }
    }
  }
}

TEST(CrossStitchTest, IdentityAlphaReturnsSrc) {
  ParameterArena arena;
  CrossStitch stitch(arena, "s", 3, 5);
  arena.Allocate();
  float* alpha = arena.Value(stitch.alpha_id());
  for (int64_t i = 0; i < 9; ++i) alpha[i] = i % 4 == 0 ? 1.f : 0.f;
  Rng rng(4);
  Strided src(7, 15, 17), dst(7, 15, 16);
  Fill(src.view, rng);
  stitch.Forward(src.view, dst.view, Mode::kTrain);
  for (int64_t r = 0; r < 7; ++r) {
    for (int64_t c = 0; c < 15; ++c) EXPECT_EQ(dst.view.At(r, c), src.view.At(r, c)) << r << "," << c;
  }
  EXPECT_TRUE(dst.PaddingIntact());
}

TEST(CrossStitchTest, MixesAndBackpropagatesLikeHandLoops) {
  const int64_t tasks = 3, width = 4, batch = 150;  // more than two chunks of rows for the α gradient
  ParameterArena arena;
  CrossStitch stitch(arena, "s", tasks, width);
  arena.Allocate();
  Rng rng(6);
  float* alpha = arena.Value(stitch.alpha_id());
  Fill(alpha, tasks * tasks, rng);
  Strided src(batch, 12, 13), dst(batch, 12, 12), diff_dst(batch, 12, 14), diff_src(batch, 12, 12);
  Fill(src.view, rng);
  Fill(diff_dst.view, rng);
  stitch.Forward(src.view, dst.view, Mode::kTrain);
  float* diff_alpha = arena.Grad(stitch.alpha_id());
  std::fill_n(diff_alpha, tasks * tasks, 1.f);
  stitch.Backward(src.view, dst.view, diff_dst.view, &diff_src.view);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t k = 0; k < tasks; ++k) {
      for (int64_t c = 0; c < width; ++c) {
        double mixed = 0, back = 0;
        for (int64_t j = 0; j < tasks; ++j) {
          mixed += double(alpha[k * tasks + j]) * src.view.At(r, j * width + c);
          back += double(alpha[j * tasks + k]) * diff_dst.view.At(r, j * width + c);  // Σ_j α_jk G_j for src_k
        }
        ASSERT_NEAR(dst.view.At(r, k * width + c), mixed, 1e-5);
        ASSERT_NEAR(diff_src.view.At(r, k * width + c), back, 1e-5);
      }
    }
  }
  for (int64_t k = 0; k < tasks; ++k) {
    for (int64_t j = 0; j < tasks; ++j) {
      double expected = 1;
      for (int64_t r = 0; r < batch; ++r) {
        for (int64_t c = 0; c < width; ++c) {
          expected += double(diff_dst.view.At(r, k * width + c)) * src.view.At(r, j * width + c);
        }
      }
      EXPECT_NEAR(diff_alpha[k * tasks + j], expected, 1e-4 * (1 + std::abs(expected))) << k << "," << j;
    }
  }
}

TEST(CrossStitchTest, AlphaGradientDoesNotDependOnTheThreadCount) {
  ParameterArena arena;
  CrossStitch stitch(arena, "s", 2, 64);
  arena.Allocate();
  arena.Initialize(2);
  Rng rng(7);
  Matrix src(1000, 128), dst(1000, 128), diff_dst(1000, 128);
  Fill(src.View(), rng);
  Fill(diff_dst.View(), rng);
  std::vector<float> first;
  for (const int threads : {1, 2}) {
    SetThreads(threads);
    arena.ZeroGrad();
    stitch.Backward(src.View(), dst.View(), diff_dst.View(), nullptr);
    std::vector<float> grad(arena.Grad(stitch.alpha_id()), arena.Grad(stitch.alpha_id()) + 4);
    if (first.empty()) {
      first = grad;
    } else {
      EXPECT_EQ(grad, first);
    }
  }
  SetThreads(2);
}

TEST(CrossStitchTest, RefusesWrongShapesAndInPlaceUse) {
  ParameterArena arena;
  CrossStitch stitch(arena, "s", 2, 3);
  arena.Allocate();
  Matrix src(4, 6), wrong(4, 5);
  const std::string message = ErrorOf([&] { stitch.Forward(src.View(), wrong.View(), Mode::kTrain); });
  EXPECT_NE(message.find("cross-stitch unit 's': dst is 4x5, expected 4x6"), std::string::npos) << message;
  EXPECT_THROW(stitch.Forward(src.View(), src.View(), Mode::kTrain), Error);
  EXPECT_THROW(CrossStitch(arena, "t", 0, 3), Error);
}

// ---------------------------------------------------------------------------------------------------------------
// AttentionTransfer

struct TransferFixture {
  static constexpr int64_t kWidth = 5;
  TransferFixture() : unit(arena, "ait", kWidth, 8) {
    arena.Allocate();
    arena.Initialize(5);
    Rng rng(9);
    for (const Dense* h : {&unit.h1(), &unit.h2(), &unit.h3()}) Fill(arena.Value(h->bias_id()), kWidth, rng);
  }
  // y = x·W + b of one of the unit's dense layers, for row x.
  std::vector<double> Apply(const Dense& h, const float* x) {
    std::vector<double> y(kWidth);
    for (int64_t j = 0; j < kWidth; ++j) {
      y[j] = arena.Value(h.bias_id())[j];
      for (int64_t k = 0; k < kWidth; ++k) y[j] += double(x[k]) * arena.Value(h.weight_id())[k * kWidth + j];
    }
    return y;
  }
  ParameterArena arena;
  AttentionTransfer unit;
};

TEST(AttentionTransferTest, EqualInputsGiveH1OfThemWithEvenWeights) {
  TransferFixture f;
  Rng rng(10);
  Strided p(6, 5, 7), z(6, 5, 5);
  Fill(p.view, rng);
  f.unit.Forward(p.view, p.view, z.view, Mode::kInfer);
  for (int64_t r = 0; r < 6; ++r) {
    const std::vector<double> expected = f.Apply(f.unit.h1(), p.view.Row(r));
    for (int64_t j = 0; j < 5; ++j) EXPECT_NEAR(z.view.At(r, j), expected[j], 1e-5) << r << "," << j;
    EXPECT_FLOAT_EQ(f.unit.weights()[2 * r], 0.5f);
    EXPECT_FLOAT_EQ(f.unit.weights()[2 * r + 1], 0.5f);
  }
}

TEST(AttentionTransferTest, MatchesTheDefinitionRowByRow) {
  TransferFixture f;
  Rng rng(11);
  Strided p(7, 5, 6), q(7, 5, 9), z(7, 5, 8);
  Fill(p.view, rng, -2, 2);
  Fill(q.view, rng, -2, 2);
  f.unit.Forward(p.view, q.view, z.view, Mode::kTrain);
  for (int64_t r = 0; r < 7; ++r) {
    double s[2];
    std::vector<double> a[2];
    for (int i = 0; i < 2; ++i) {
      const float* u = (i == 0 ? p : q).view.Row(r);
      a[i] = f.Apply(f.unit.h1(), u);
      const std::vector<double> b = f.Apply(f.unit.h2(), u), c = f.Apply(f.unit.h3(), u);
      s[i] = 0;
      for (int64_t j = 0; j < 5; ++j) s[i] += b[j] * c[j];
      s[i] /= std::sqrt(5.0);
    }
    const double w_p = std::exp(s[0]) / (std::exp(s[0]) + std::exp(s[1]));
    EXPECT_NEAR(f.unit.weights()[2 * r], w_p, 1e-6);
    EXPECT_NEAR(f.unit.weights()[2 * r] + f.unit.weights()[2 * r + 1], 1.0, 1e-7);
    for (int64_t j = 0; j < 5; ++j) {
      EXPECT_NEAR(z.view.At(r, j), w_p * a[0][j] + (1 - w_p) * a[1][j], 1e-5) << r << "," << j;
    }
  }
  EXPECT_TRUE(z.PaddingIntact());
}

TEST(AttentionTransferTest, ReservesThreeDenseLayersAndRefusesMisuse) {
  TransferFixture f;
  std::vector<std::string> names;
  for (const ParameterInfo& info : f.arena.Infos()) names.push_back(info.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ait.h1.weight", "ait.h1.bias", "ait.h2.weight", "ait.h2.bias",
                                             "ait.h3.weight", "ait.h3.bias"}));
  EXPECT_EQ(f.arena.Info(f.unit.h2().weight_id()).init, Init::kGlorotUniform);
  Matrix big(9, 5), p(4, 5), z(4, 5), narrow(4, 4);
  std::string message = ErrorOf([&] { f.unit.Forward(big.View(), big.View(), big.View(), Mode::kTrain); });
  EXPECT_NE(message.find("a batch of 9 rows exceeds max_batch 8"), std::string::npos) << message;
  EXPECT_THROW(f.unit.Forward(p.View(), narrow.View(), z.View(), Mode::kTrain), Error);
  f.unit.Forward(p.View(), p.View(), z.View(), Mode::kTrain);
  message = ErrorOf(
      [&] { f.unit.Backward(p.View().TopRows(3), p.View().TopRows(3), z.View().TopRows(3), nullptr, nullptr); });
  EXPECT_NE(message.find("Backward of 3 rows after a Forward of 4"), std::string::npos) << message;
}

}  // namespace
}  // namespace mtrec
