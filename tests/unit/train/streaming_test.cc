// Streams (train/streaming.h): rows follow their ids through admission and eviction, with their optimizer state;
// eviction keeps what the window used (TTL) and the most used beyond a cap (LFU); a learner's table sizes stay
// within the ids its window used; a resumed learner goes on exactly as one that was never stopped.
#include "train/streaming.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/column_table.h"
#include "features/pipeline.h"
#include "models/predict.h"
#include "nn/embedding.h"
#include "support/test_files.h"
#include "models/weights.h"
#include "train/sparse_optimizer.h"

namespace mtrec {
namespace {

TEST(EmbeddingRemapTest, RowsFollowTheirSourceAndNewRowsStartAsInitialize) {
  EmbeddingTable table("t", 4, 3);
  table.Initialize(7, 0.1f);
  EmbeddingTable fresh("t", 6, 3);
  fresh.Initialize(9, 0.1f);
  const std::vector<float> row2(table.Row(2), table.Row(2) + 3), row0(table.Row(0), table.Row(0) + 3);
  table.Remap({0, 2, -1, -1, -1, -1}, 9, 0.1f);
  ASSERT_EQ(table.rows(), 6);
  EXPECT_EQ(std::vector<float>(table.Row(0), table.Row(0) + 3), row0);
  EXPECT_EQ(std::vector<float>(table.Row(1), table.Row(1) + 3), row2);
  for (int64_t r = 2; r < 6; ++r) {  // as a table of 6 rows initialised with the same seed draws row r
    EXPECT_EQ(std::vector<float>(table.Row(r), table.Row(r) + 3), std::vector<float>(fresh.Row(r), fresh.Row(r) + 3));
  }
}

TEST(EmbeddingRemapTest, AdagradStateFollowsItsRow) {
  EmbeddingTable table("t", 3, 2);
  table.Initialize(1, 0.1f);
  SparseOptimizer optimizer(table, {.kind = SparseOptimizerKind::kAdagrad, .lr = 0.1f, .initial_accumulator = 0.5f});
  SparseGrad grad;
  grad.dim = 2;
  grad.rows = {2};
  grad.values = {1.f, 1.f};
  optimizer.Step(grad);  // row 2's accumulator grows
  // The same table remapped (row 2 now row 1, a new row 2) and a twin that never was: the next step on the row
  // that was 2 moves it the same in both.
  EmbeddingTable twin("t", 3, 2);
  twin.Initialize(1, 0.1f);
  SparseOptimizer twin_optimizer(twin, {.kind = SparseOptimizerKind::kAdagrad, .lr = 0.1f, .initial_accumulator = 0.5f});
  twin_optimizer.Step(grad);
  table.Remap({0, 2, -1}, 3, 0.1f);
  optimizer.Remap({0, 2, -1});
  const std::vector<float> before(table.Row(1), table.Row(1) + 2);
  grad.rows = {1};
  optimizer.Step(grad);
  const std::vector<float> twin_before(twin.Row(2), twin.Row(2) + 2);
  grad.rows = {2};
  twin_optimizer.Step(grad);
  for (int c = 0; c < 2; ++c) {
    EXPECT_FLOAT_EQ(table.Row(1)[c] - before[c], twin.Row(2)[c] - twin_before[c]);
  }
  // The new row starts with the initial accumulator: its first step is a fresh optimizer's first step.
  EmbeddingTable single("s", 1, 2);
  single.Initialize(3, 0.1f);
  SparseOptimizer fresh(single, {.kind = SparseOptimizerKind::kAdagrad, .lr = 0.1f, .initial_accumulator = 0.5f});
  const std::vector<float> new_row(table.Row(2), table.Row(2) + 2);
  grad.rows = {2};
  optimizer.Step(grad);
  const std::vector<float> single_before(single.Row(0), single.Row(0) + 2);
  grad.rows = {0};
  fresh.Step(grad);
  for (int c = 0; c < 2; ++c) {
    EXPECT_FLOAT_EQ(table.Row(2)[c] - new_row[c], single.Row(0)[c] - single_before[c]);
  }
}

// Usage by hand: ids 1..5 of one table, used in partitions 1..4.
class IdUsageTest : public testing::Test {
 protected:
  void SetUp() override {
    const Config config = ParseConfig("[[features]]\nname = \"item\"\n[[tasks]]\nname = \"click\"\n", "usage.toml");
    dir_ = TestDir("id_usage");
    const std::string path = WriteFile(dir_, "p.csv", "item,click\na,1\nb,0\nc,1\nd,0\ne,1\n");
    const ColumnTable table = LoadTable(path, config.data, FeaturePipeline::Requests(config, true));
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config, table));
    usage_.Reset(*pipeline_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Use(const std::vector<int32_t>& ids, int64_t partition) {
    EncodedData data;
    data.rows = static_cast<int64_t>(ids.size());
    data.single_ids = {ids};
    usage_.Record(*pipeline_, data, partition);
  }

  std::string dir_;
  std::unique_ptr<FeaturePipeline> pipeline_;
  IdUsage usage_;
};

TEST_F(IdUsageTest, TtlKeepsTheWindowAndLfuTheMostUsed) {
  ASSERT_EQ(usage_.tables().size(), 1u);
  ASSERT_EQ(usage_.tables()[0].uses.size(), 6u);  // 5 values and the out-of-vocabulary row
  Use({1, 1, 1, 2}, 1);
  Use({3, 3, 0}, 2);
  Use({4}, 3);
  Use({5, 3}, 4);
  EXPECT_EQ(usage_.Kept(0, 4, 0, 0), (std::vector<int32_t>{1, 2, 3, 4, 5}));  // no eviction
  EXPECT_EQ(usage_.Kept(0, 4, 2, 0), (std::vector<int32_t>{3, 4, 5}));        // used in partitions 3 or 4
  EXPECT_EQ(usage_.Kept(0, 4, 1, 0), (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(usage_.Kept(0, 4, 0, 2), (std::vector<int32_t>{1, 3}));  // 3 uses each; 1 and 3 beat the rest
  EXPECT_EQ(usage_.Kept(0, 4, 2, 2), (std::vector<int32_t>{3, 5}));  // 4 and 5 tie at 1 use: 5 more recent
  usage_.Remap(0, {0, 3, 5});
  EXPECT_EQ(usage_.tables()[0].uses, (std::vector<int64_t>{0, 3, 1}));
  EXPECT_EQ(usage_.tables()[0].last_seen, (std::vector<int64_t>{0, 4, 4}));
}

// Partition p holds ids "u<p>" .. "u<p+9>" (each twice): a window of 2 partitions uses 11 ids.
std::string Partition(int p) {
  std::string text = "user,price,click\n";
  for (int i = 0; i < 10; ++i) {
    for (int copy = 0; copy < 2; ++copy) {
      text += "u" + std::to_string(p + i) + "," + std::to_string(i) + "," + std::to_string((p + i + copy) % 2) + "\n";
    }
  }
  return text;
}

const char* kStreamConfig = R"(
[[features]]
name = "user"
min_count = 2

[[features]]
name = "price"
kind = "numeric"

[[tasks]]
name = "click"

[model]
arch = "shared_bottom"
embedding_dim = 2
bottom = [4]
tower = [2]

[train]
batch_size = 8

[stream]
evict_after = 2
)";

TEST(StreamLearnerTest, TablesHoldTheWindowsIdsAndAResumedLearnerGoesOnExactly) {
  const std::string dir = TestDir("stream_learner");
  const Config config = ParseConfig(kStreamConfig, "stream.toml");
  std::vector<ColumnTable> partitions;
  for (int p = 1; p <= 6; ++p) {
    const std::string path = WriteFile(dir, "p" + std::to_string(p) + ".csv", Partition(p));
    partitions.push_back(LoadTable(path, config.data, FeaturePipeline::Requests(config, true)));
  }
  StreamLearner learner(config);
  TrainerState after_three;
  std::string pipeline_bytes, weights_after_three;
  for (int p = 1; p <= 6; ++p) {
    const EpochRecord record = learner.Learn(partitions[p - 1], "p" + std::to_string(p));
    EXPECT_EQ(record.epoch, p);
    EXPECT_EQ(record.valid.empty(), p == 1);  // progressive validation from the second partition on
    // The table holds the ids used by the last two partitions (u<p-1> .. u<p+9>, 11 from p = 2) and the OOV row.
    EXPECT_EQ(learner.TableRows()[0].second, p == 1 ? 11 : 12) << "after partition " << p;
    if (p == 3) {
      after_three = learner.Checkpoint();
      BinaryWriter out;
      learner.pipeline().Serialize(out);
      pipeline_bytes = out.str();
      weights_after_three = SerializeWeights(learner.model());
    }
  }
  EXPECT_EQ(learner.pipeline().vocabulary(0).Lookup("u1"), Vocabulary::kOutOfVocabulary);  // evicted
  EXPECT_NE(learner.pipeline().vocabulary(0).Lookup("u15"), Vocabulary::kOutOfVocabulary);

  // A learner resumed from the state after partition 3 ends where the first one did.
  BinaryReader in(pipeline_bytes.data(), pipeline_bytes.size(), "pipeline");
  auto pipeline = std::make_unique<FeaturePipeline>(FeaturePipeline::Deserialize(config, in));
  std::unique_ptr<Model> model = CreateModel(config, pipeline->layout(), InferenceBatch(config));
  LoadWeights(*model, weights_after_three);
  StreamLearner resumed(config);
  resumed.ResumeFrom(std::move(pipeline), std::move(model), after_three);
  EXPECT_EQ(resumed.done(), (std::vector<std::string>{"p1", "p2", "p3"}));
  EXPECT_TRUE(resumed.Done("p2"));
  for (int p = 4; p <= 6; ++p) resumed.Learn(partitions[p - 1], "p" + std::to_string(p));
  EXPECT_EQ(SerializeWeights(resumed.model()), SerializeWeights(learner.model()));
  EXPECT_THROW(resumed.Learn(partitions[0], "p1"), Error);  // each partition once
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mtrec
