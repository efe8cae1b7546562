// bf16 matmuls (nn/precision.h): the conversion is round-to-nearest-even (checked on every CPU, through the same
// oneDNN reorder the plans use), and on a CPU with bf16 dot products a Dense or GroupedDense layer under bf16
// computes exactly the products of the bf16-rounded operands, accumulated in f32, in all three directions. int8
// (scoring, frozen weights): on a CPU with int8 dot products a layer computes exactly the scaled integer product
// of its quantised operands, within the quantisation's worst-case bound of the f32 product; over weights that
// may change it stays f32.
#include "nn/precision.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <dnnl.hpp>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"
#include "nn/dense.h"
#include "nn/dnnl_context.h"
#include "nn/grouped_dense.h"
#include "nn/matmul.h"
#include "nn/shared_columns.h"

namespace mtrec {
namespace {

// The reference: f32 → bf16 by round-to-nearest, ties to even, on the bits; NaN stays a (quiet) NaN.
float RoundToBf16(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x)) {
    bits = (bits | 0x00400000u) & 0xffff0000u;
  } else {
    bits += 0x7fffu + ((bits >> 16) & 1u);
    bits &= 0xffff0000u;
  }
  float y = 0;
  std::memcpy(&y, &bits, 4);
  return y;
}

float FromBits(uint32_t bits) {
  float x = 0;
  std::memcpy(&x, &bits, 4);
  return x;
}

TEST(PrecisionTest, TheReferenceRoundsToNearestEven) {
  EXPECT_EQ(RoundToBf16(1.0f), 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa, 1.
  EXPECT_EQ(RoundToBf16(1.0f + 0x1p-8f), 1.0f);
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
  EXPECT_EQ(RoundToBf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);
  EXPECT_EQ(RoundToBf16(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f);
}

// The plans convert with oneDNN's f32 → bf16 reorder; it needs no bf16 instructions, so this runs everywhere.
TEST(PrecisionTest, TheOperandConversionIsRoundToNearestEven) {
  std::vector<float> values = {0.f,
                               -0.f,
                               1.f,
                               -2.5f,
                               1.f + 0x1p-8f,
                               1.f + 3 * 0x1p-8f,
                               3.14159265f,
                               1e-40f,
                               -1e-39f,
                               3.0e38f,
                               65504.f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               FromBits(0x3f80ffffu),
                               FromBits(0x7f7fffffu)};
  Rng rng(3);
  for (int i = 0; i < 4096; ++i) values.push_back(FromBits(static_cast<uint32_t>(rng.Below(0x7f800000u))));
  const int64_t n = static_cast<int64_t>(values.size());
  using dnnl::memory;
  memory from({{n}, memory::data_type::f32, memory::format_tag::a}, DnnlEngine(), values.data());
  memory to({{n}, memory::data_type::bf16, memory::format_tag::a}, DnnlEngine());
  dnnl::reorder(from, to).execute(DnnlStream(), from, to);
  DnnlStream().wait();
  const auto* converted = static_cast<const uint16_t*>(to.get_data_handle());
  for (int64_t i = 0; i < n; ++i) {
    const float got = FromBits(static_cast<uint32_t>(converted[i]) << 16);
    const float want = RoundToBf16(values[i]);
    // Denormals may be flushed to zero by a conversion instruction; everything else must match bit for bit.
    if (std::fpclassify(values[i]) == FP_SUBNORMAL && got == 0.f) continue;
    EXPECT_EQ(std::memcmp(&got, &want, 4), 0)
        << "value " << values[i] << " converted to " << got << ", expected " << want;
  }
}

TEST(PrecisionTest, EachPrecisionIsRefusedWhereTheCpuLacksItAndAcceptedWhereItHasIt) {
  for (const auto& [precision, supported] :
       {std::pair{Precision::kBf16, Bf16MatmulSupported()}, std::pair{Precision::kInt8, Int8MatmulSupported()}}) {
    const std::string name(Names<Precision>()[static_cast<size_t>(precision)]);
    SCOPED_TRACE(name);
    if (supported) {
      ScopedMatmulPrecision scope(precision);
      EXPECT_EQ(MatmulPrecision(), precision);
    } else {
      try {
        SetMatmulPrecision(precision);
        FAIL() << name << " accepted on a CPU without its dot products";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(name + ": not supported by this CPU"), std::string::npos) << e.what();
      }
    }
    EXPECT_EQ(MatmulPrecision(), Precision::kF32);
  }
}

#define SKIP_WITHOUT_BF16() \
  if (!Bf16MatmulSupported()) GTEST_SKIP() << "bf16: not supported by this CPU (" << DetectCpu().Describe() << ")"

std::vector<float> Random(int64_t n, Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(2 * rng.Uniform() - 1);
  return v;
}

// Σ_k a[k]·b[k] over bf16-rounded operands in double: the f32 accumulation oneDNN does is within ~1e-6 of it.
double Bf16Dot(const float* a, int64_t a_step, const float* b, int64_t b_step, int64_t n) {
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += double(RoundToBf16(a[k * a_step])) * RoundToBf16(b[k * b_step]);
  return sum;
}

double Tol(double expected) { return 2e-5 * (1 + std::abs(expected)); }

// One grouped layer (groups = 1 is a Dense) forward and backward under bf16, against the bf16-rounded reference,
// and far enough from the f32 result to show the bf16 path was taken.
template <typename Layer>
void CheckBf16Layer(Layer& layer, ParameterArena& arena, int64_t groups, int64_t batch, int64_t in, int64_t out) {
  ScopedMatmulPrecision bf16(Precision::kBf16);
  Rng rng(9);
  const int64_t cols_in = groups * in, cols_out = groups * out;
  std::vector<float> src = Random(batch * cols_in, rng), diff_dst = Random(batch * cols_out, rng);
  std::vector<float> dst(batch * cols_out), diff_src(batch * cols_in);
  const Tensor src_t{src.data(), batch, cols_in, cols_in}, dst_t{dst.data(), batch, cols_out, cols_out};
  const Tensor diff_dst_t{diff_dst.data(), batch, cols_out, cols_out};
  const Tensor diff_src_t{diff_src.data(), batch, cols_in, cols_in};
  layer.Forward(src_t, dst_t, Mode::kTrain);
  const float* w = arena.Value(layer.weight_id());
  const float* bias = arena.Value(layer.bias_id());
  double largest_bf16_effect = 0;
  for (int64_t g = 0; g < groups; ++g) {
    const float* wg = w + g * in * out;
    for (int64_t r = 0; r < batch; ++r) {
      for (int64_t j = 0; j < out; ++j) {
        const double want = bias[g * out + j] + Bf16Dot(&src[r * cols_in + g * in], 1, wg + j, out, in);
        double f32 = bias[g * out + j];
        for (int64_t k = 0; k < in; ++k) f32 += double(src[r * cols_in + g * in + k]) * wg[k * out + j];
        ASSERT_NEAR(dst[r * cols_out + g * out + j], want, Tol(want)) << "dst " << g << "," << r << "," << j;
        largest_bf16_effect = std::max(largest_bf16_effect, std::abs(f32 - want));
      }
    }
  }
  EXPECT_GT(largest_bf16_effect, 1e-3) << "the forward pass looks like f32, not bf16";

  std::vector<float> diff_w_before(arena.Grad(layer.weight_id()), arena.Grad(layer.weight_id()) + groups * in * out);
  layer.Backward(src_t, dst_t, diff_dst_t, &diff_src_t);
  const float* diff_w = arena.Grad(layer.weight_id());
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t k = 0; k < in; ++k) {
      for (int64_t j = 0; j < out; ++j) {
        // diff_W_g[k, j] += Σ_r src[r, g·in + k] · G[r, g·out + j]
        const double want = diff_w_before[(g * in + k) * out + j] +
                            Bf16Dot(&src[g * in + k], cols_in, &diff_dst[g * out + j], cols_out, batch);
        ASSERT_NEAR(diff_w[(g * in + k) * out + j], want, Tol(want)) << "diff_W " << g << "," << k << "," << j;
      }
    }
    for (int64_t r = 0; r < batch; ++r) {
      for (int64_t k = 0; k < in; ++k) {
        // diff_src[r, g·in + k] = Σ_j G[r, g·out + j] · W_g[k, j]
        const double want = Bf16Dot(&diff_dst[r * cols_out + g * out], 1, w + g * in * out + k * out, 1, out);
        ASSERT_NEAR(diff_src[r * cols_in + g * in + k], want, Tol(want)) << "diff_src " << g << "," << r << "," << k;
      }
    }
  }
}

// check(dense, arena, batch, in, out) on a small and a large Dense layer, with biases of their own; `frozen`: its
// weights frozen, as a served model's.
template <typename Check>
void ForEachDenseShape(bool frozen, Check check) {
  for (const auto& [batch, in, out] : {std::array<int64_t, 3>{37, 29, 13}, std::array<int64_t, 3>{130, 520, 300}}) {
    SCOPED_TRACE(testing::Message() << batch << "x" << in << " -> " << out);
    ParameterArena arena;
    Dense dense(arena, "d", in, out);
    arena.Allocate();
    arena.Initialize(3);
    for (int64_t j = 0; j < out; ++j) arena.Value(dense.bias_id())[j] = 0.01f * static_cast<float>(j % 7);
    if (frozen) arena.FreezeValues();
    check(dense, arena, batch, in, out);
  }
}

TEST(PrecisionTest, Bf16DenseComputesTheProductsOfRoundedOperands) {
  SKIP_WITHOUT_BF16();
  ForEachDenseShape(false, [](Dense& dense, ParameterArena& arena, int64_t batch, int64_t in, int64_t out) {
    CheckBf16Layer(dense, arena, 1, batch, in, out);
  });
}

TEST(PrecisionTest, Bf16GroupedDenseComputesTheProductsOfRoundedOperands) {
  SKIP_WITHOUT_BF16();
  ParameterArena arena;
  GroupedDense layer(arena, "g", 3, 21, 17);
  arena.Allocate();
  arena.Initialize(4);
  CheckBf16Layer(layer, arena, 3, 45, 21, 17);
}

TEST(PrecisionTest, SwitchingPrecisionSwitchesTheCachedPlans) {
  SKIP_WITHOUT_BF16();
  ParameterArena arena;
  Dense dense(arena, "d", 64, 8);
  arena.Allocate();
  arena.Initialize(5);
  Rng rng(2);
  std::vector<float> src = Random(16 * 64, rng), f32(16 * 8), bf16(16 * 8), again(16 * 8);
  const Tensor src_t{src.data(), 16, 64, 64};
  dense.Forward(src_t, Tensor{f32.data(), 16, 8, 8}, Mode::kInfer);
  {
    ScopedMatmulPrecision scope(Precision::kBf16);
    dense.Forward(src_t, Tensor{bf16.data(), 16, 8, 8}, Mode::kInfer);
  }
  dense.Forward(src_t, Tensor{again.data(), 16, 8, 8}, Mode::kInfer);
  EXPECT_EQ(f32, again) << "back in f32 the layer must use its f32 plan again";
  EXPECT_NE(f32, bf16) << "under bf16 the layer reused its f32 plan";
}

#define SKIP_WITHOUT_INT8() \
  if (!Int8MatmulSupported()) GTEST_SKIP() << "int8: not supported by this CPU (" << DetectCpu().Describe() << ")"

// The reference of nn/matmul.cc's int8 product, written out: per row of A (per group) a scale of its largest
// |value| / 127, per column of W one of its own; values rounded to the nearest integer (ties to even).
int QuantisedRow(float x, float scale) {
  return static_cast<int>(std::nearbyint(std::min(std::max(x * (1.f / scale), -127.f), 127.f)));
}

// One grouped layer (groups = 1 is a Dense) scored under int8 over frozen weights, with and without the fused
// ReLU: (a) equal, to f32 rounding, to the scaled integer product of the quantised operands, and (b) within the
// quantisation's worst case of the f32 product: |Σ a·w − Σ â·ŵ| ≤ Σ_k (|a_k| δ_w + |w_k| δ_a + δ_a δ_w), with
// δ = scale / 2 each operand's largest rounding error.
template <typename Layer, typename Infer>
void CheckInt8Layer(Layer& layer, ParameterArena& arena, int64_t groups, int64_t batch, int64_t in, int64_t out,
                    Infer infer) {
  Rng rng(11);
  const int64_t cols_in = groups * in, cols_out = groups * out;
  std::vector<float> src = Random(batch * cols_in, rng);
  for (int64_t r = 0; r < batch; ++r) src[r * cols_in] *= 4;  // an outlier in every row's first group
  const float* w = arena.Value(layer.weight_id());
  const float* bias = arena.Value(layer.bias_id());
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "no relu");
    std::vector<float> dst(batch * cols_out, -7.f);
    {
      ScopedMatmulPrecision int8(Precision::kInt8);
      infer(Tensor{src.data(), batch, cols_in, cols_in}, Tensor{dst.data(), batch, cols_out, cols_out}, relu);
    }
    double largest_int8_effect = 0;
    for (int64_t g = 0; g < groups; ++g) {
      const float* wg = w + g * in * out;
      std::vector<float> w_scales(out);
      for (int64_t j = 0; j < out; ++j) {
        float largest = 0;
        for (int64_t k = 0; k < in; ++k) largest = std::max(largest, std::fabs(wg[k * out + j]));
        w_scales[j] = largest / 127.f;
      }
      for (int64_t r = 0; r < batch; ++r) {
        const float* a = &src[r * cols_in + g * in];
        float largest = 0;
        for (int64_t k = 0; k < in; ++k) largest = std::max(largest, std::fabs(a[k]));
        const float a_scale = largest / 127.f;
        for (int64_t j = 0; j < out; ++j) {
          int64_t integer = 0;
          double f32 = 0, bound = 0;
          for (int64_t k = 0; k < in; ++k) {
            const float wk = wg[k * out + j];
            integer += QuantisedRow(a[k], a_scale) * static_cast<int64_t>(std::nearbyint(wk / w_scales[j]));
            f32 += double(a[k]) * wk;
            bound += std::abs(a[k]) * w_scales[j] / 2 + std::abs(wk) * a_scale / 2 + a_scale * w_scales[j] / 4;
          }
          const double b = bias[g * out + j];
          const double want = double(a_scale) * w_scales[j] * static_cast<double>(integer) + b;
          const double got = dst[r * cols_out + g * out + j];
          ASSERT_NEAR(got, relu ? std::max(want, 0.0) : want, 1e-5 * (1 + std::abs(want)))
              << "dst " << g << "," << r << "," << j;
          ASSERT_LE(std::abs(got - (relu ? std::max(f32 + b, 0.0) : f32 + b)), bound + 1e-5 * (1 + std::abs(want)))
              << "dst " << g << "," << r << "," << j;
          largest_int8_effect = std::max(largest_int8_effect, std::abs(want - (f32 + b)));
        }
      }
    }
    EXPECT_GT(largest_int8_effect, 1e-4) << "the product looks like f32, not int8";
  }
}

TEST(PrecisionTest, Int8DenseComputesTheScaledProductOfQuantisedOperands) {
  SKIP_WITHOUT_INT8();
  ForEachDenseShape(/*frozen=*/true, [](Dense& dense, ParameterArena& arena, int64_t batch, int64_t in, int64_t out) {
    CheckInt8Layer(dense, arena, 1, batch, in, out, [&](const Tensor& src, const Tensor& dst, bool relu) {
      dense.Infer(src, dst, nullptr, relu);
    });
  });
}

TEST(PrecisionTest, Int8GroupedDenseComputesTheScaledProductOfQuantisedOperands) {
  SKIP_WITHOUT_INT8();
  ParameterArena arena;
  GroupedDense layer(arena, "g", 3, 21, 17);
  arena.Allocate();
  arena.Initialize(4);
  for (int64_t j = 0; j < 3 * 17; ++j) arena.Value(layer.bias_id())[j] = 0.02f * static_cast<float>(j % 5) - 0.03f;
  arena.FreezeValues();
  CheckInt8Layer(layer, arena, 3, 45, 21, 17,
                 [&](const Tensor& src, const Tensor& dst, bool relu) { layer.Infer(src, dst, relu); });
}

TEST(PrecisionTest, Int8LeavesProductsOverChangingWeightsInF32) {
  SKIP_WITHOUT_INT8();
  // The same layer twice, its weights changing (training) in one arena and frozen (served) in the other.
  ParameterArena changing, served;
  Dense dense(changing, "d", 64, 8), frozen_dense(served, "d", 64, 8);
  for (ParameterArena* arena : {&changing, &served}) {
    arena->Allocate();
    arena->Initialize(5);
  }
  served.FreezeValues();
  Rng rng(2);
  std::vector<float> src = Random(16 * 64, rng), f32(16 * 8), int8(16 * 8), frozen(16 * 8);
  const Tensor src_t{src.data(), 16, 64, 64};
  dense.Forward(src_t, Tensor{f32.data(), 16, 8, 8}, Mode::kInfer);
  ScopedMatmulPrecision scope(Precision::kInt8);
  dense.Forward(src_t, Tensor{int8.data(), 16, 8, 8}, Mode::kInfer);
  frozen_dense.Forward(src_t, Tensor{frozen.data(), 16, 8, 8}, Mode::kInfer);
  EXPECT_EQ(f32, int8) << "weights that may change were quantised";
  EXPECT_NE(f32, frozen) << "frozen weights were not scored in int8";
}

TEST(PrecisionTest, Int8ScoresARowHoldingNaNAsNaNAndLeavesTheOthers) {
  SKIP_WITHOUT_INT8();
  ParameterArena arena;
  Dense dense(arena, "d", 40, 6);
  arena.Allocate();
  arena.Initialize(7);
  arena.FreezeValues();
  Rng rng(3);
  const int64_t rows = 5;
  std::vector<float> src = Random(rows * 40, rng), clean(rows * 6), poisoned(rows * 6);
  ScopedMatmulPrecision int8(Precision::kInt8);
  dense.Infer(Tensor{src.data(), rows, 40, 40}, Tensor{clean.data(), rows, 6, 6}, nullptr, /*relu=*/false);
  src[1 * 40 + 17] = std::numeric_limits<float>::quiet_NaN();  // in the rows' vector part
  src[3 * 40 + 37] = std::numeric_limits<float>::quiet_NaN();  // in their scalar tail
  dense.Infer(Tensor{src.data(), rows, 40, 40}, Tensor{poisoned.data(), rows, 6, 6}, nullptr, /*relu=*/false);
  for (int64_t j = 0; j < 6; ++j) {
    EXPECT_TRUE(std::isnan(poisoned[1 * 6 + j])) << j;
    EXPECT_TRUE(std::isnan(poisoned[3 * 6 + j])) << j;
    for (int64_t r : {0, 2, 4}) EXPECT_EQ(poisoned[r * 6 + j], clean[r * 6 + j]) << r << "," << j;  // own scales
  }
}

// A served request's first layer under int8: the columns a group shares are multiplied once per group and each
// row's own columns added to them (Dense::ForwardSplit, the accumulating product), each part quantised with its
// own scales. Every output equals the sum of the two scaled integer products and stays within the sum of their
// worst-case bounds of the f32 product.
TEST(PrecisionTest, Int8SplitProductIsTheSumOfItsPartsEachWithinItsBound) {
  SKIP_WITHOUT_INT8();
  const int64_t in = 40, out = 24, rows = 10;
  const SharedColumns shared{.group_starts = {0, 1, 4}, .columns = {{0, 12}, {20, 36}}};
  ParameterArena arena;
  Dense dense(arena, "d", in, out);
  arena.Allocate();
  arena.Initialize(6);
  for (int64_t j = 0; j < out; ++j) arena.Value(dense.bias_id())[j] = 0.02f * static_cast<float>(j % 5);
  arena.FreezeValues();
  Rng rng(21);
  std::vector<float> src = Random(rows * in, rng);
  auto group_of = [&](int64_t r) {
    int64_t g = 0;
    while (g + 1 < static_cast<int64_t>(shared.group_starts.size()) && shared.group_starts[g + 1] <= r) ++g;
    return shared.group_starts[g];
  };
  auto is_shared = [&](int64_t k) {
    for (const ColumnRange& range : shared.columns) {
      if (k >= range.begin && k < range.end) return true;
    }
    return false;
  };
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < in; ++k) {
      if (is_shared(k)) src[r * in + k] = src[group_of(r) * in + k];
    }
  }
  const float* w = arena.Value(dense.weight_id());
  const float* bias = arena.Value(dense.bias_id());
  // One part's scaled integer product of row `r` and column `j` over the columns `in_part` picks, and its bound.
  auto part = [&](int64_t r, int64_t j, bool in_part_shared, double* bound) {
    float a_largest = 0, w_largest = 0;
    for (int64_t k = 0; k < in; ++k) {
      if (is_shared(k) != in_part_shared) continue;
      a_largest = std::max(a_largest, std::fabs(src[r * in + k]));
      w_largest = std::max(w_largest, std::fabs(w[k * out + j]));
    }
    const float a_scale = a_largest / 127.f, w_scale = w_largest / 127.f;
    int64_t integer = 0;
    for (int64_t k = 0; k < in; ++k) {
      if (is_shared(k) != in_part_shared) continue;
      integer += QuantisedRow(src[r * in + k], a_scale) * static_cast<int64_t>(std::nearbyint(w[k * out + j] / w_scale));
      *bound += std::abs(src[r * in + k]) * w_scale / 2 + std::abs(w[k * out + j]) * a_scale / 2 + a_scale * w_scale / 4;
    }
    return double(a_scale) * w_scale * static_cast<double>(integer);
  };
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "no relu");
    std::vector<float> got(rows * out);
    {
      ScopedMatmulPrecision int8(Precision::kInt8);
      dense.Infer(Tensor{src.data(), rows, in, in}, Tensor{got.data(), rows, out, out}, &shared, relu);
    }
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < out; ++j) {
        double bound = 0, f32 = bias[j];
        const double want = part(group_of(r), j, true, &bound) + bias[j] + part(r, j, false, &bound);
        for (int64_t k = 0; k < in; ++k) f32 += double(src[r * in + k]) * w[k * out + j];
        const double value = got[r * out + j];
        ASSERT_NEAR(value, relu ? std::max(want, 0.0) : want, 1e-5 * (1 + std::abs(want))) << r << "," << j;
        ASSERT_LE(std::abs(value - (relu ? std::max(f32, 0.0) : f32)), bound + 1e-5) << r << "," << j;
      }
    }
  }
}

// Frozen layers reading one set of weights (the served copies of a model, ParameterArena::ShareValuesOf) pack
// them once between them, in every precision, even when both make their first product at the same moment on two
// threads; the packed copy goes with the last plan that reads it.
TEST(PrecisionTest, FrozenCopiesOfALayerShareOnePackedCopyOfItsWeights) {
  constexpr int64_t kIn = 512, kOut = 256;
  struct Layer {
    Layer() : dense(arena, "d", kIn, kOut) { arena.Allocate(); }
    ParameterArena arena;
    Dense dense;
  };
  SetThreads(1);
  Rng rng(2);
  std::vector<float> src(100 * kIn);
  for (float& x : src) x = static_cast<float>(rng.Uniform() - 0.5);
  const auto run = [&](Layer& layer, int64_t rows) {
    std::vector<float> dst(rows * kOut);
    layer.dense.Infer(Tensor{src.data(), rows, kIn, kIn}, Tensor{dst.data(), rows, kOut, kOut}, nullptr, true);
    return dst;
  };
  std::vector<Precision> precisions = {Precision::kF32};
  if (Bf16MatmulSupported()) precisions.push_back(Precision::kBf16);
  if (Int8MatmulSupported()) precisions.push_back(Precision::kInt8);
  for (Precision precision : precisions) {
    SCOPED_TRACE(Names<Precision>()[static_cast<size_t>(precision)]);
    ScopedMatmulPrecision scope(precision);
    const int64_t before = PackedWeightCopies();
    {
      auto first = std::make_unique<Layer>();
      first->arena.Initialize(6);
      first->arena.FreezeValues();
      auto second = std::make_unique<Layer>();
      second->arena.ShareValuesOf(first->arena);
      // The first products of both at once, released together.
      std::atomic<int> ready{0};
      std::vector<float> a, b;
      std::thread other([&] {
        SetThreadsOfThisThread(1);
        ++ready;
        while (ready < 2) {
        }
        b = run(*second, 100);
      });
      ++ready;
      while (ready < 2) {
      }
      a = run(*first, 100);
      other.join();
      const int64_t packed = PackedWeightCopies() - before;
      if (precision == Precision::kF32 && packed == 0) {
        SUCCEED() << "oneDNN reads these f32 weights in their own layout on this CPU: nothing to pack";
        continue;
      }
      EXPECT_EQ(packed, 1) << "the two copies packed the weights twice";
      EXPECT_EQ(a, b);
      // A layer of the same shape over other weights packs its own, and scores with them.
      Layer third;
      third.arena.Initialize(7);
      third.arena.FreezeValues();
      EXPECT_NE(run(third, 100), a);
      EXPECT_EQ(PackedWeightCopies() - before, 2);
      first.reset();  // the values live on with the second copy, and the packed weights with its plans
      EXPECT_EQ(run(*second, 100), a);
      EXPECT_EQ(PackedWeightCopies() - before, 2);
    }
    EXPECT_EQ(PackedWeightCopies(), before) << "a packed copy outlived every plan that reads it";
  }
  SetThreads(0);
}

}  // namespace
}  // namespace mtrec
