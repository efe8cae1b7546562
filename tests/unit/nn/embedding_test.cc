#include "nn/embedding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// A table whose row i holds i*10 + c, so results can be checked by eye.
EmbeddingTable CountingTable(int64_t rows, int64_t dim) {
  EmbeddingTable table("t", rows, dim);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c = 0; c < dim; ++c) table.Row(i)[c] = static_cast<float>(i * 10 + c);
  }
  return table;
}

TEST(EmbeddingTest, LookupCopiesRowsIntoAColumnBlock) {
  const EmbeddingTable table = CountingTable(6, 3);
  const int32_t ids[] = {4, 0, 4};
  std::vector<float> out(3 * 5, -1.f);
  const Tensor dst = Tensor{out.data(), 3, 5, 5}.Columns(1, 3);
  table.Lookup(ids, 3, dst);
  EXPECT_EQ(out, (std::vector<float>{-1, 40, 41, 42, -1, -1, 0, 1, 2, -1, -1, 40, 41, 42, -1}));
}

TEST(EmbeddingTest, PooledLookupSumsOrAveragesAndGivesZerosForEmptyBags) {
  const EmbeddingTable table = CountingTable(5, 2);
  const int32_t ids[] = {1, 3, 3, 2};
  const int64_t offsets[] = {0, 3, 3, 4};  // bags {1, 3, 3}, {}, {2}
  std::vector<float> out(6, -1.f);
  const Tensor dst{out.data(), 3, 2, 2};
  table.LookupPooled(ids, offsets, 3, Pooling::kSum, dst);
  EXPECT_EQ(out, (std::vector<float>{70, 73, 0, 0, 20, 21}));
  table.LookupPooled(ids, offsets, 3, Pooling::kMean, dst);
  EXPECT_FLOAT_EQ(out[0], 70.f / 3);
  EXPECT_FLOAT_EQ(out[1], 73.f / 3);
  EXPECT_EQ(out[2], 0.f);
  EXPECT_EQ(out[3], 0.f);
  EXPECT_EQ(out[4], 20.f);
  EXPECT_EQ(out[5], 21.f);
}

TEST(EmbeddingTest, OutOfRangeIdsAndBadOffsetsAreRefused) {
  const EmbeddingTable table = CountingTable(5, 2);
  std::vector<float> out(4);
  const int32_t too_big[] = {1, 5};
  const int32_t negative[] = {-1, 0};
  EXPECT_THROW(table.Lookup(too_big, 2, Tensor{out.data(), 2, 2, 2}), Error);
  EXPECT_THROW(table.Lookup(negative, 2, Tensor{out.data(), 2, 2, 2}), Error);
  const int64_t offsets[] = {0, 1, 2};
  EXPECT_THROW(table.LookupPooled(too_big, offsets, 2, Pooling::kSum, Tensor{out.data(), 2, 2, 2}), Error);
  const int64_t decreasing[] = {0, 2, 1};
  EXPECT_THROW(table.LookupPooled(negative, decreasing, 2, Pooling::kSum, Tensor{out.data(), 2, 2, 2}), Error);
  SparseGrad grad;
  EXPECT_THROW(table.AccumulateGrad(too_big, 2, Tensor{out.data(), 2, 2, 2}, &grad), Error);
  EXPECT_THROW(table.Lookup(too_big, 2, Tensor{out.data(), 2, 1, 1}), Error);  // wrong width
}

TEST(EmbeddingTest, SparseGradSumsRepeatedIdsInSortedRows) {
  const EmbeddingTable table = CountingTable(10, 2);
  const int32_t ids[] = {7, 2, 7, 5};
  const std::vector<float> diff = {1, 2, 3, 4, 5, 6, 7, 8};
  SparseGrad grad;
  table.AccumulateGrad(ids, 4, Tensor{const_cast<float*>(diff.data()), 4, 2, 2}, &grad);
  EXPECT_EQ(grad.dim, 2);
  EXPECT_EQ(grad.rows, (std::vector<int32_t>{2, 5, 7}));
  EXPECT_EQ(grad.values, (std::vector<float>{3, 4, 7, 8, 6, 8}));

  // A second feature sharing the table merges into the same gradient.
  const int32_t more[] = {9, 5, 0};
  const std::vector<float> diff2 = {1, 1, 10, 10, 100, 100};
  table.AccumulateGrad(more, 3, Tensor{const_cast<float*>(diff2.data()), 3, 2, 2}, &grad);
  EXPECT_EQ(grad.rows, (std::vector<int32_t>{0, 2, 5, 7, 9}));
  EXPECT_EQ(grad.values, (std::vector<float>{100, 100, 3, 4, 17, 18, 6, 8, 1, 1}));

  grad.Clear();
  EXPECT_EQ(grad.count(), 0);
  const int32_t one[] = {3};
  table.AccumulateGrad(one, 1, Tensor{const_cast<float*>(diff.data()), 1, 2, 2}, &grad);
  EXPECT_EQ(grad.rows, (std::vector<int32_t>{3}));
  EXPECT_EQ(grad.values, (std::vector<float>{1, 2}));
}

TEST(EmbeddingTest, PooledSparseGradScalesByBagSizeForMean) {
  const EmbeddingTable table = CountingTable(6, 1);
  const int32_t ids[] = {1, 4, 4, 1, 2};
  const int64_t offsets[] = {0, 3, 3, 5};  // bags {1, 4, 4}, {}, {1, 2}
  const std::vector<float> diff = {3, 100, 8};
  const Tensor diff_dst{const_cast<float*>(diff.data()), 3, 1, 1};
  SparseGrad sum;
  table.AccumulateGradPooled(ids, offsets, 3, Pooling::kSum, diff_dst, &sum);
  EXPECT_EQ(sum.rows, (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(sum.values, (std::vector<float>{11, 8, 6}));
  SparseGrad mean;
  table.AccumulateGradPooled(ids, offsets, 3, Pooling::kMean, diff_dst, &mean);
  EXPECT_EQ(mean.rows, (std::vector<int32_t>{1, 2, 4}));
  EXPECT_FLOAT_EQ(mean.values[0], 3.f / 3 + 8.f / 2);
  EXPECT_FLOAT_EQ(mean.values[1], 8.f / 2);
  EXPECT_FLOAT_EQ(mean.values[2], 2 * 3.f / 3);
}

TEST(EmbeddingTest, SparseGradRefusesAnotherTablesDim) {
  const EmbeddingTable a = CountingTable(4, 2);
  const EmbeddingTable b = CountingTable(4, 3);
  const int32_t ids[] = {1};
  std::vector<float> diff(3, 1.f);
  SparseGrad grad;
  a.AccumulateGrad(ids, 1, Tensor{diff.data(), 1, 2, 2}, &grad);
  EXPECT_THROW(b.AccumulateGrad(ids, 1, Tensor{diff.data(), 1, 3, 3}, &grad), Error);
}

TEST(EmbeddingTest, InitializeIsDeterministicPerRowWithTheRequestedSpread) {
  EmbeddingTable a("a", 3000, 8);
  EmbeddingTable b("b", 50, 8);
  SetThreads(2);
  a.Initialize(21, 0.1f);
  SetThreads(1);
  b.Initialize(21, 0.1f);
  SetThreads(0);
  // Row r depends on (seed, r) only: not on the table size or thread count.
  for (int64_t r = 0; r < 50; ++r) {
    for (int64_t c = 0; c < 8; ++c) ASSERT_EQ(a.Row(r)[c], b.Row(r)[c]);
  }
  double sum_sq = 0;
  float largest = 0;
  for (int64_t i = 0; i < 3000 * 8; ++i) {
    sum_sq += double(a.data()[i]) * a.data()[i];
    largest = std::max(largest, std::abs(a.data()[i]));
  }
  EXPECT_NEAR(std::sqrt(sum_sq / (3000 * 8)), 0.1, 0.005);
  EXPECT_LE(largest, 0.1f * std::sqrt(3.f) + 1e-6f);
  EmbeddingTable c("c", 50, 8);
  c.Initialize(22, 0.1f);
  EXPECT_NE(c.Row(0)[0], b.Row(0)[0]);
}

}  // namespace
}  // namespace mtrec
