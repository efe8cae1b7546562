#include "features/batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace mtrec {
namespace {

// Five rows, two single slots, one multi slot, a numeric block of width 2 and two tasks; every value is derived
// from its row so that a gathered batch can be checked row by row.
EncodedData MakeData(int64_t rows) {
  EncodedData data;
  data.rows = rows;
  data.single_ids.assign(2, std::vector<int32_t>(rows));
  EncodedData::MultiIds multi;
  multi.offsets.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    data.single_ids[0][r] = static_cast<int32_t>(10 + r);
    data.single_ids[1][r] = static_cast<int32_t>(100 + r);
    for (int64_t k = 0; k < r % 3; ++k) multi.ids.push_back(static_cast<int32_t>(1000 + 10 * r + k));  // r % 3 ids
    multi.offsets.push_back(static_cast<int64_t>(multi.ids.size()));
    data.numeric.push_back(static_cast<float>(r) + 0.5f);
    data.numeric.push_back(-static_cast<float>(r));
  }
  data.multi_ids.push_back(multi);
  data.labels.assign(2, std::vector<float>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    data.labels[0][r] = static_cast<float>(r % 2);
    data.labels[1][r] = r == 2 ? NAN : static_cast<float>(r) * 2;
  }
  return data;
}

// Checks that position b of the batch holds row `row` of MakeData.
void ExpectRow(const Batch& batch, int64_t b, int64_t row) {
  SCOPED_TRACE(testing::Message() << "batch position " << b << ", row " << row);
  EXPECT_EQ(batch.rows[b], row);
  EXPECT_EQ(batch.single_ids[0][b], 10 + row);
  EXPECT_EQ(batch.single_ids[1][b], 100 + row);
  const auto& offsets = batch.multi_offsets[0];
  ASSERT_EQ(offsets[b + 1] - offsets[b], row % 3);
  for (int64_t k = 0; k < row % 3; ++k) EXPECT_EQ(batch.multi_ids[0][offsets[b] + k], 1000 + 10 * row + k);
  EXPECT_EQ(batch.numeric[2 * b], static_cast<float>(row) + 0.5f);
  EXPECT_EQ(batch.numeric[2 * b + 1], -static_cast<float>(row));
  EXPECT_EQ(batch.labels[0][b], static_cast<float>(row % 2));
  if (row == 2) {
    EXPECT_TRUE(std::isnan(batch.labels[1][b]));
  } else {
    EXPECT_EQ(batch.labels[1][b], static_cast<float>(row) * 2);
  }
}

TEST(GatherBatchTest, CopiesTheListedRows) {
  EncodedData data = MakeData(5);
  const std::vector<int64_t> rows = {4, 2, 0, 4};
  Batch batch;
  GatherBatch(data, rows.data(), static_cast<int64_t>(rows.size()), &batch);
  EXPECT_EQ(batch.size, 4);
  EXPECT_EQ(batch.single_ids[0], (std::vector<int32_t>{14, 12, 10, 14}));
  // Row 4 has 1 id, row 2 has 2, row 0 none.
  EXPECT_EQ(batch.multi_offsets[0], (std::vector<int64_t>{0, 1, 3, 3, 4}));
  EXPECT_EQ(batch.multi_ids[0], (std::vector<int32_t>{1040, 1020, 1021, 1040}));
  EXPECT_EQ(batch.numeric, (std::vector<float>{4.5f, -4, 2.5f, -2, 0.5f, 0, 4.5f, -4}));
  for (int64_t b = 0; b < 4; ++b) ExpectRow(batch, b, rows[b]);
}

TEST(GatherBatchTest, ReusesABatchOfAnotherSize) {
  EncodedData data = MakeData(5);
  Batch batch;
  const std::vector<int64_t> big = {0, 1, 2, 3, 4};
  GatherBatch(data, big.data(), 5, &batch);
  const std::vector<int64_t> small = {2};
  GatherBatch(data, small.data(), 1, &batch);
  EXPECT_EQ(batch.size, 1);
  EXPECT_EQ(batch.rows, (std::vector<int64_t>{2}));
  EXPECT_EQ(batch.single_ids[1].size(), 1u);
  EXPECT_EQ(batch.multi_offsets[0], (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(batch.multi_ids[0], (std::vector<int32_t>{1020, 1021}));
  EXPECT_EQ(batch.numeric.size(), 2u);
  EXPECT_EQ(batch.labels[0].size(), 1u);
  ExpectRow(batch, 0, 2);
}

TEST(GatherBatchTest, NoNumericBlock) {
  EncodedData data = MakeData(3);
  data.numeric.clear();
  Batch batch;
  const std::vector<int64_t> rows = {1, 2};
  GatherBatch(data, rows.data(), 2, &batch);
  EXPECT_TRUE(batch.numeric.empty());
  EXPECT_EQ(batch.single_ids[0], (std::vector<int32_t>{11, 12}));
}

TEST(OrderTest, ShuffledOrderIsADeterministicPermutation) {
  std::vector<int64_t> a = ShuffledOrder(1000, 7);
  std::vector<int64_t> b = ShuffledOrder(1000, 7);
  std::vector<int64_t> c = ShuffledOrder(1000, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, SequentialOrder(1000));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, SequentialOrder(1000));
  EXPECT_TRUE(ShuffledOrder(0, 1).empty());
  EXPECT_EQ(ShuffledOrder(1, 1), (std::vector<int64_t>{0}));
  EXPECT_EQ(SequentialOrder(4), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(BatchStreamTest, YieldsEveryRowOnceInOrderWithAPartialLastBatch) {
  EncodedData data = MakeData(10);
  const std::vector<int64_t> order = ShuffledOrder(10, 3);
  BatchStream stream(data, 4, order);
  EXPECT_EQ(stream.batches(), 3);
  std::vector<int64_t> seen;
  std::vector<int64_t> sizes;
  while (const Batch* batch = stream.Next()) {
    sizes.push_back(batch->size);
    for (int64_t b = 0; b < batch->size; ++b) {
      ExpectRow(*batch, b, order[seen.size()]);
      seen.push_back(batch->rows[b]);
    }
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(seen, order);
  EXPECT_EQ(stream.Next(), nullptr);  // stays at the end
}

TEST(BatchStreamTest, BatchSizesAroundTheRowCount) {
  EncodedData data = MakeData(6);
  for (int64_t batch_size : {1, 5, 6, 7, 100}) {
    BatchStream stream(data, batch_size, SequentialOrder(6));
    EXPECT_EQ(stream.batches(), (6 + batch_size - 1) / batch_size);
    int64_t rows = 0;
    while (const Batch* batch = stream.Next()) {
      for (int64_t b = 0; b < batch->size; ++b) EXPECT_EQ(batch->rows[b], rows + b);
      rows += batch->size;
    }
    EXPECT_EQ(rows, 6) << "batch size " << batch_size;
  }
  EncodedData empty = MakeData(0);
  BatchStream none(empty, 4, SequentialOrder(0));
  EXPECT_EQ(none.batches(), 0);
  EXPECT_EQ(none.Next(), nullptr);
}

TEST(BatchStreamTest, DestroyedEarlyStopsCleanly) {
  EncodedData data = MakeData(10);
  for (int consumed = 0; consumed <= 2; ++consumed) {
    BatchStream stream(data, 2, SequentialOrder(10));
    ASSERT_EQ(stream.batches(), 5);
    for (int i = 0; i < consumed; ++i) {
      const Batch* batch = stream.Next();
      ASSERT_NE(batch, nullptr);
      EXPECT_EQ(batch->rows[0], 2 * i);
    }
    // The destructor stops the producer, which may be waiting for a free buffer.
  }
  // The previous batch stays valid until the following Next().
  BatchStream stream(data, 2, SequentialOrder(10));
  const Batch* first = stream.Next();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->rows, (std::vector<int64_t>{0, 1}));
}

}  // namespace
}  // namespace mtrec
