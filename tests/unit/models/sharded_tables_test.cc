// Row-sharded tables: which rows a rank owns, the merge of gradient pieces against a slow reference, and the input
// layer's fetch-and-renumber path, which must give the lookups and gradients of whole tables (in a world of one,
// where every row's owner is this process; tests/e2e/distributed_test.cc runs two ranks).
#include "models/sharded_tables.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "common/error.h"
#include "models/input_layer.h"
#include "support/thread_world.h"

namespace mtrec {
namespace {

// Rank `rank` of `ranks`, for the parts of ShardedTables that exchange nothing.
class FakeWorld : public Communicator {
 public:
  FakeWorld(int rank, int ranks) : rank_(rank), ranks_(ranks) {}
  int rank() const override { return rank_; }
  int size() const override { return ranks_; }

 private:
  int rank_, ranks_;
};

TEST(ShardedTablesTest, EachRankOwnsEveryNthRow) {
  EXPECT_EQ(PartRows(10, 0, 3), 4);  // rows 0 3 6 9
  EXPECT_EQ(PartRows(10, 1, 3), 3);  // 1 4 7
  EXPECT_EQ(PartRows(10, 2, 3), 3);  // 2 5 8
  EXPECT_EQ(PartRows(1, 1, 2), 0);
  EXPECT_EQ(PartRows(0, 0, 2), 0);
  FakeWorld world(1, 3);
  ShardedTables shards(world, {true});
  std::vector<float> whole(20);  // 10 rows × 2
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<float>(i);
  AlignedBuffer<float> part = shards.Split(whole.data(), 10, 2);
  EXPECT_EQ(std::vector<float>(part.begin(), part.end()), (std::vector<float>{2, 3, 8, 9, 14, 15}));
}

TEST(ShardedTablesTest, MergedPiecesAreTheSumsInPieceOrder) {
  const std::vector<int32_t> rows_a = {1, 4, 9}, rows_b = {0, 4}, rows_c = {4, 9, 12};
  const std::vector<float> values_a = {0.1f, 0.2f, 1e8f, 1.f, 3.f, 4.f}, values_b = {5.f, 6.f, -1e8f, 0.5f},
                           values_c = {0.25f, 7.f, 8.f, 9.f, 10.f, 11.f};
  const std::vector<SparsePiece> pieces = {
      {rows_a.data(), rows_a.size(), values_a.data()},
      {rows_b.data(), rows_b.size(), values_b.data()},
      {rows_c.data(), rows_c.size(), values_c.data()},
  };
  // The reference: every row from zero, the pieces added in order, float by float.
  std::map<int32_t, std::vector<float>> expected;
  for (const SparsePiece& piece : pieces) {
    for (size_t i = 0; i < piece.count; ++i) {
      auto& row = expected.try_emplace(piece.rows[i], std::vector<float>(2, 0.f)).first->second;
      for (size_t j = 0; j < 2; ++j) row[j] += piece.values[i * 2 + j];
    }
  }
  SparseGrad merged;
  MergeSparsePieces(pieces, 2, &merged);
  ASSERT_EQ(merged.rows, (std::vector<int32_t>{0, 1, 4, 9, 12}));
  for (int64_t i = 0; i < merged.count(); ++i) {
    const std::vector<float>& row = expected.at(merged.rows[i]);
    EXPECT_EQ(merged.Row(i)[0], row[0]) << merged.rows[i];
    EXPECT_EQ(merged.Row(i)[1], row[1]) << merged.rows[i];
  }
  // Row 4: (1e8 + -1e8) + 0.25 in that order is 0.25; another order would lose it.
  EXPECT_EQ(merged.Row(2)[0], 0.25f);
}

// A single slot and a pooled multi slot over one table, a second table, two embedding sets: through the fetched
// rows the layer writes the same columns and gets the same gradients as over the whole tables.
TEST(ShardedTablesTest, TheInputLayerThroughFetchedRowsEqualsTheWholeTables) {
  InputLayout layout;
  layout.tables = {{"item", 7, 3}, {"city", 4, 2}};
  layout.single_slots = {{"item", 0, Pooling::kSum}, {"city", 1, Pooling::kSum}};
  layout.multi_slots = {{"recent_items", 0, Pooling::kMean}};
  layout.numeric_names = {"price"};
  InputLayer whole(layout, {"a", "b"});
  InputLayer sharded(layout, {"a", "b"});
  whole.Initialize(11, 0.5f);
  sharded.Initialize(11, 0.5f);
  Batch batch;
  batch.size = 3;
  batch.single_ids = {{6, 2, 6}, {3, 0, 3}};
  batch.multi_ids = {{2, 5, 5, 1}};
  batch.multi_offsets = {{0, 2, 2, 4}};  // the second row has no recent items
  batch.numeric = {1.f, 2.f, 3.f};
  Communicator one;
  ShardedTables shards(one, {true, false, true, false});  // "item" through its owners, "city" whole
  sharded.UseShards(&shards);

  const int64_t cols = whole.OutputCols();
  Matrix x_whole(3, cols), x_sharded(3, cols);
  whole.Forward(batch, x_whole.View());
  sharded.Forward(batch, x_sharded.View());
  Matrix diff(3, cols);
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      EXPECT_EQ(x_sharded.View().At(r, j), x_whole.View().At(r, j)) << r << "," << j;
      diff.View().At(r, j) = 0.1f * static_cast<float>(r + 1) - 0.01f * static_cast<float>(j);
    }
  }
  whole.Backward(batch, diff.View());
  sharded.Backward(batch, diff.View());
  for (size_t t = 0; t < whole.tables().size(); ++t) {
    EXPECT_EQ(sharded.grads()[t].rows, whole.grads()[t].rows) << t;
    EXPECT_EQ(sharded.grads()[t].values, whole.grads()[t].values) << t;
  }
  EXPECT_EQ(sharded.grads()[0].rows, (std::vector<int32_t>{1, 2, 5, 6}));
  ShardedTables unlike(one, {true, false, false, false});
  EXPECT_THROW(sharded.UseShards(&unlike), Error);

  // An id outside its table is reported with the table's name, not looked up.
  batch.single_ids[0][1] = 7;
  EXPECT_THROW(
      {
        try {
          sharded.Forward(batch, x_sharded.View());
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("embedding 'a.item': id 7 is outside [0, 7)"), std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
}

// Rank 0 gathers the parts in rounds of a few rows (as it does in rounds of 64 MB for a large table): the whole
// table comes back in place, whatever the rounds and however unevenly the rows divide.
TEST(ShardedTablesTest, PartsGatheredInRoundsMakeTheWholeTableOnRankZero) {
  for (int64_t rows : {0, 1, 10, 11}) {
    std::vector<float> whole(static_cast<size_t>(rows * 3));
    for (size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<float>(i) * 0.5f;
    std::vector<float> gathered;
    RunRanks(3, [&](Communicator& world) {
      ShardedTables shards(world, {true});
      const AlignedBuffer<float> part = shards.Split(whole.data(), rows, 3);
      const AlignedBuffer<float> back = shards.GatherToRoot(part.data(), rows, 3, /*round_bytes=*/2 * 3 * 4);
      if (world.is_root()) {
        gathered.assign(back.begin(), back.end());
      } else {
        EXPECT_EQ(back.size(), 0u);
      }
    });
    EXPECT_EQ(gathered, whole) << rows << " rows";
  }
}

// A model built from a partitioned layout holds only this rank's rows of the sharded tables, initialised as the
// whole table's rows: part row i is whole row rank + i × ranks, bit for bit, in every set of tables.
TEST(ShardedTablesTest, ALayoutPartitionedForARankBuildsOnlyItsRows) {
  InputLayout layout;
  layout.tables = {{"item", 11, 3}, {"city", 3, 2}};
  layout.single_slots = {{"item", 0, Pooling::kSum}, {"city", 1, Pooling::kSum}};
  InputLayout parted = layout;
  PartitionLayout(parted, 5, FakeWorld(1, 3));  // "item" (11 rows) is sharded, "city" (3) is not
  EXPECT_EQ(parted.tables[0].part_rank, 1);
  EXPECT_EQ(parted.tables[0].part_ranks, 3);
  EXPECT_EQ(parted.tables[1].part_ranks, 1);
  InputLayout alone = layout;
  PartitionLayout(alone, 5, Communicator());  // a world of one shards nothing
  EXPECT_EQ(alone.tables[0].part_ranks, 1);

  InputLayer whole(layout, {"a", "b"});
  InputLayer part(parted, {"a", "b"});
  whole.Initialize(7, 0.3f);
  part.Initialize(7, 0.3f);
  ASSERT_EQ(part.tables().size(), 4u);
  for (size_t t = 0; t < 4; ++t) {
    const bool sharded = t % 2 == 0;
    EXPECT_EQ(part.tables()[t].rows(), sharded ? 4 : 3) << t;  // rows 1, 4, 7, 10 of 11
    for (int64_t i = 0; i < part.tables()[t].rows(); ++i) {
      const int64_t row = sharded ? 1 + 3 * i : i;
      for (int64_t c = 0; c < part.tables()[t].dim(); ++c) {
        EXPECT_EQ(part.tables()[t].Row(i)[c], whole.tables()[t].Row(row)[c]) << t << " " << i << " " << c;
      }
    }
  }
}

}  // namespace
}  // namespace mtrec
