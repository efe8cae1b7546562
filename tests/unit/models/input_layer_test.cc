// The input layer with one set of embedding tables per task (single_task): each set is independent, writes its
// own block of columns and receives only the gradient of its own block.
#include "models/input_layer.h"

#include <gtest/gtest.h>

#include <vector>

namespace mtrec {
namespace {

InputLayout TwoSlotLayout() {
  InputLayout layout;
  layout.tables = {{"user", 4, 2}};
  layout.single_slots = {{"user", 0, Pooling::kSum}};
  layout.numeric_names = {"price"};
  return layout;
}

TEST(InputLayerTest, EmbeddingSetsAreIndependentBlocks) {
  InputLayer input(TwoSlotLayout(), {"embeddings.click", "embeddings.buy"});
  input.Initialize(3, 0.5f);
  ASSERT_EQ(input.tables().size(), 2u);
  EXPECT_EQ(input.tables()[0].name(), "embeddings.click.user");
  EXPECT_EQ(input.tables()[1].name(), "embeddings.buy.user");
  EXPECT_EQ(input.CopyCols(), 3);
  EXPECT_EQ(input.OutputCols(), 6);
  EXPECT_NE(input.tables()[0].Row(2)[0], input.tables()[1].Row(2)[0]);  // initialised from different streams

  Batch batch;
  batch.size = 2;
  batch.single_ids = {{2, 0}};
  batch.numeric = {1.5f, -2.f};
  Matrix x(2, 6);
  input.Forward(batch, x.View());
  for (int64_t r = 0; r < 2; ++r) {
    const int32_t id = batch.single_ids[0][r];
    for (int64_t set = 0; set < 2; ++set) {
      EXPECT_EQ(x.View().At(r, 3 * set), input.tables()[set].Row(id)[0]);
      EXPECT_EQ(x.View().At(r, 3 * set + 1), input.tables()[set].Row(id)[1]);
      EXPECT_EQ(x.View().At(r, 3 * set + 2), batch.numeric[r]);  // the numeric block in every set
    }
  }

  // Only set 1's block has a gradient: set 0's table gets zeros on the rows it touched.
  Matrix diff(2, 6);
  diff.View().At(0, 3) = 1.f;
  diff.View().At(1, 4) = 2.f;
  input.Backward(batch, diff.View());
  const auto& grads = input.grads();
  ASSERT_EQ(grads.size(), 2u);
  for (int64_t i = 0; i < grads[0].count(); ++i) {
    EXPECT_EQ(grads[0].Row(i)[0], 0.f);
    EXPECT_EQ(grads[0].Row(i)[1], 0.f);
  }
  ASSERT_EQ(grads[1].rows, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(grads[1].Row(1)[0], 1.f);  // id 2 (row 0), column 0 of set 1
  EXPECT_EQ(grads[1].Row(0)[1], 2.f);  // id 0 (row 1), column 1 of set 1
}

// The columns a batch's groups share: a slot shared by every non-empty group, in every set of tables, merged
// where neighbours; a slot one group gives per row is not; the numeric block never is.
TEST(InputLayerTest, SharedColumnsAreTheSlotsEveryGroupShares) {
  InputLayout layout;
  layout.tables = {{"user", 4, 2}, {"city", 3, 3}, {"item", 5, 2}};
  layout.single_slots = {{"user", 0, Pooling::kSum}, {"city", 1, Pooling::kSum}, {"item", 2, Pooling::kSum}};
  layout.numeric_names = {"price"};
  InputLayer input(layout, {"a", "b"});  // columns per set: user 0-1, city 2-4, item 5-6, price 7
  Batch batch;
  batch.size = 5;
  batch.group_starts = {0, 2, 2};  // the second group is empty
  batch.shared = {1, 1, 0, /*empty group*/ 0, 0, 0, 1, 0, 0};
  SharedColumns shared;
  input.SharedColumnsOf(batch, &shared);
  EXPECT_EQ(shared.group_starts, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(shared.columns, (std::vector<ColumnRange>{{0, 2}, {8, 10}}));  // city differs in the last group
  batch.shared = {1, 1, 0, 0, 0, 0, 1, 1, 0};
  input.SharedColumnsOf(batch, &shared);
  EXPECT_EQ(shared.columns, (std::vector<ColumnRange>{{0, 5}, {8, 13}}));  // user and city merged
  batch.group_starts.clear();
  batch.shared.clear();
  input.SharedColumnsOf(batch, &shared);
  EXPECT_TRUE(shared.empty());
}

}  // namespace
}  // namespace mtrec
