#include "io/model_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/threads.h"
#include "io/model_file.h"
#include "models/predict.h"
#include "models/weights.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

fs::path TestDir() { return mtrec::TestDir("model_io_test"); }

const char* kConfig = R"(
[data]
cache = false

[[features]]
name = "user"

[[features]]
name = "item"
embedding_dim = 3

[[features]]
name = "price"
kind = "numeric"

[[features]]
name = "tags"
kind = "multi_categorical"

[[tasks]]
name = "click"

[[tasks]]
name = "gmv"
kind = "regression"
loss = "huber"

[model]
embedding_dim = 4
bottom = [8]
tower = [4]

[train]
batch_size = 4
)";

const char* kData =
    "user,item,price,tags,click,gmv\n"
    "u1,i1,10,a|b,1,2.5\n"
    "u2,i2,,b,0,0\n"
    "u1,i3,30,,0,1\n"
    "u3,i1,20,c|a,1,4\n"
    "u2,i2,15,a,NA,NA\n"
    "u4,i4,5,b|c|a,0,0.5\n"
    "u1,i2,25,c,1,3\n";

constexpr int64_t kMaxBatch = 16;

class ModelIoTest : public testing::Test {
 protected:
  void SetUp() override {
    SetThreads(1);
    config_ = ParseConfig(kConfig, "model_io.toml");
    std::string path = (TestDir() / "train.csv").string();
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << kData;
    }
    ColumnTable table = LoadTable(path, config_.data, FeaturePipeline::Requests(config_, true));
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config_, table));
    data_ = pipeline_->Encode(table);
    model_ = CreateModel(config_, pipeline_->layout(), kMaxBatch);
    model_->Initialize(7);
  }
  void TearDown() override {
    SetThreads(0);
    fs::remove_all(TestDir());
  }

  std::string PathOf(const std::string& name) const { return (TestDir() / name).string(); }

  Config config_;
  std::unique_ptr<FeaturePipeline> pipeline_;
  EncodedData data_;
  std::unique_ptr<Model> model_;
};

std::vector<EpochRecord> SampleHistory() {
  EpochRecord first;
  first.epoch = 1;
  first.train_loss = {0.69, 1.25};
  TaskReport click;
  click.name = "click";
  click.binary = true;
  click.metrics = {{"auc", 0.75}, {"logloss", 0.5}};
  TaskReport gmv;
  gmv.name = "gmv";
  gmv.binary = false;
  gmv.metrics = {{"rmse", 1.5}, {"mae", 1.0}};
  first.valid = {click, gmv};
  first.monitor = 0.75;
  EpochRecord second;
  second.epoch = 2;
  second.train_loss = {0.6, NAN};
  second.monitor = NAN;
  return {first, second};
}

void ExpectSameHistory(const std::vector<EpochRecord>& a, const std::vector<EpochRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t e = 0; e < a.size(); ++e) {
    SCOPED_TRACE(testing::Message() << "epoch record " << e);
    EXPECT_EQ(a[e].epoch, b[e].epoch);
    ASSERT_EQ(a[e].train_loss.size(), b[e].train_loss.size());
    for (size_t k = 0; k < a[e].train_loss.size(); ++k) {
      EXPECT_TRUE(a[e].train_loss[k] == b[e].train_loss[k] ||
                  (std::isnan(a[e].train_loss[k]) && std::isnan(b[e].train_loss[k])));
    }
    EXPECT_TRUE(a[e].monitor == b[e].monitor || (std::isnan(a[e].monitor) && std::isnan(b[e].monitor)));
    ASSERT_EQ(a[e].valid.size(), b[e].valid.size());
    for (size_t k = 0; k < a[e].valid.size(); ++k) {
      EXPECT_EQ(a[e].valid[k].name, b[e].valid[k].name);
      EXPECT_EQ(a[e].valid[k].binary, b[e].valid[k].binary);
      EXPECT_EQ(a[e].valid[k].metrics, b[e].valid[k].metrics);
    }
  }
}

// Bit-for-bit equality of two prediction sets.
void ExpectBitIdentical(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a[k].size(), b[k].size());
    EXPECT_EQ(std::memcmp(a[k].data(), b[k].data(), a[k].size() * sizeof(float)), 0) << "task " << k;
  }
}

TEST_F(ModelIoTest, SaveAndLoadPredictBitIdentically) {
  // The layout the config describes: 2 categorical, 1 multi-valued, price with its missing flag.
  const InputLayout& layout = pipeline_->layout();
  EXPECT_EQ(layout.single_slots.size(), 2u);
  EXPECT_EQ(layout.multi_slots.size(), 1u);
  EXPECT_EQ(layout.numeric_names, (std::vector<std::string>{"price", "price.missing"}));
  EXPECT_EQ(layout.InputWidth(), 4 + 3 + 4 + 2);

  std::vector<std::vector<float>> before = Predict(*model_, config_, data_);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(before[0].size(), 7u);
  for (float p : before[0]) {
    EXPECT_GT(p, 0.f);
    EXPECT_LT(p, 1.f);
  }
  EXPECT_NE(before[1][0], before[1][1]);  // the outputs depend on the row

  const std::string path = PathOf("model.mtrec");
  const std::vector<EpochRecord> history = SampleHistory();
  SaveModel(path, config_, *pipeline_, *model_, history);
  LoadedModel loaded = LoadModel(path, kMaxBatch);
  EXPECT_EQ(loaded.format_version, 1u);
  EXPECT_FALSE(loaded.trainer.has_value());
  EXPECT_EQ(loaded.config.source_path, path);
  EXPECT_EQ(ConfigToToml(loaded.config), ConfigToToml(config_));
  EXPECT_EQ(loaded.model->max_batch(), kMaxBatch);
  std::vector<std::string> sections;
  for (const auto& [name, size] : loaded.section_sizes) sections.push_back(name);
  EXPECT_EQ(sections, (std::vector<std::string>{"meta", "config", "features", "weights", "history"}));
  ExpectSameHistory(loaded.history, history);
  EXPECT_EQ(SerializeWeights(*loaded.model), SerializeWeights(*model_));

  // The loaded pipeline encodes identically, and the loaded model predicts identically.
  ColumnTable table =
      LoadTable((TestDir() / "train.csv").string(), loaded.config.data, FeaturePipeline::Requests(loaded.config, true));
  EncodedData encoded = loaded.pipeline->Encode(table);
  EXPECT_EQ(encoded.single_ids, data_.single_ids);
  EXPECT_EQ(encoded.multi_ids[0].ids, data_.multi_ids[0].ids);
  EXPECT_EQ(std::memcmp(encoded.numeric.data(), data_.numeric.data(), data_.numeric.size() * sizeof(float)), 0);
  ExpectBitIdentical(Predict(*loaded.model, loaded.config, encoded), before);
  ExpectBitIdentical(Predict(*loaded.model, loaded.config, data_), before);

  // By default the batch buffers hold kMinInferenceBatch rows when the training batch (4 here) is smaller.
  EXPECT_EQ(LoadModel(path).model->max_batch(), 4096);
}

TEST_F(ModelIoTest, AnotherSeedPredictsDifferently) {
  // Guards the test above: equal predictions must come from the saved weights, not from the seed alone.
  std::vector<std::vector<float>> before = Predict(*model_, config_, data_);
  auto other = CreateModel(config_, pipeline_->layout(), kMaxBatch);
  other->Initialize(8);
  std::vector<std::vector<float>> after = Predict(*other, config_, data_);
  EXPECT_NE(std::memcmp(before[0].data(), after[0].data(), before[0].size() * sizeof(float)), 0);
}

TEST_F(ModelIoTest, CheckpointRestoresTheTrainerState) {
  TrainerState state;
  state.epochs_done = 3;
  state.best_epoch = 2;
  state.best_score = 0.8125;
  state.stale_epochs = 1;
  state.history = SampleHistory();
  state.dense_optimizer = std::string("adam\0moments", 12);
  state.sparse_optimizers = {"table 0", "", std::string("\xff\x00\x01", 3)};
  state.best_weights = SerializeWeights(*model_);

  const std::string path = PathOf("run.ckpt");
  SaveCheckpoint(path, config_, *pipeline_, *model_, state);
  LoadedModel loaded = LoadModel(path, kMaxBatch);
  ASSERT_TRUE(loaded.trainer.has_value());
  const TrainerState& back = *loaded.trainer;
  EXPECT_EQ(back.epochs_done, 3);
  EXPECT_EQ(back.best_epoch, 2);
  EXPECT_EQ(back.best_score, 0.8125);
  EXPECT_EQ(back.stale_epochs, 1);
  EXPECT_EQ(back.dense_optimizer, state.dense_optimizer);
  EXPECT_EQ(back.sparse_optimizers, state.sparse_optimizers);
  EXPECT_EQ(back.best_weights, state.best_weights);
  ExpectSameHistory(back.history, state.history);
  ExpectSameHistory(loaded.history, state.history);
  EXPECT_EQ(loaded.section_sizes.back().first, "trainer");
  ExpectBitIdentical(Predict(*loaded.model, loaded.config, data_), Predict(*model_, config_, data_));
}

TEST_F(ModelIoTest, TrainingLabelCountsSurviveTheModelFile) {
  LabelCounts click;
  click.task = "click";
  click.rows = 7;
  click.positives = 3;
  LabelCounts rule;
  rule.task = "income";
  rule.rows = 199523;
  rule.positives = 12382;
  rule.values = {{"- 50000.", 187141}, {"50000+.", 12382}};
  rule.distinct = 2;
  rule.unmatched = {{"50000+", "50000+."}};  // about one file only: not kept
  const std::string path = PathOf("labels.mtrec");
  SaveModel(path, config_, *pipeline_, *model_, {}, {click, rule});
  LoadedModel loaded = LoadModel(path, kMaxBatch);
  EXPECT_EQ(loaded.section_sizes.back().first, "labels");
  ASSERT_EQ(loaded.train_labels.size(), 2u);
  EXPECT_EQ(loaded.train_labels[0].task, "click");
  EXPECT_EQ(loaded.train_labels[0].rows, 7);
  EXPECT_EQ(loaded.train_labels[0].positives, 3);
  EXPECT_TRUE(loaded.train_labels[0].values.empty());
  EXPECT_EQ(loaded.train_labels[1].task, "income");
  EXPECT_EQ(loaded.train_labels[1].rows, 199523);
  EXPECT_EQ(loaded.train_labels[1].positives, 12382);
  ASSERT_EQ(loaded.train_labels[1].values.size(), 2u);
  EXPECT_EQ(loaded.train_labels[1].values[1].value, "50000+.");
  EXPECT_EQ(loaded.train_labels[1].values[1].rows, 12382);
  EXPECT_EQ(loaded.train_labels[1].distinct, 2);
  EXPECT_TRUE(loaded.train_labels[1].unmatched.empty());
  // A file without the section (written before it existed) loads with no counts.
  SaveModel(path, config_, *pipeline_, *model_, {});
  EXPECT_TRUE(LoadModel(path, kMaxBatch).train_labels.empty());
}

TEST_F(ModelIoTest, DamagedModelFileIsRefused) {
  const std::string path = PathOf("damaged.mtrec");
  SaveModel(path, config_, *pipeline_, *model_, {});
  std::string bytes = ReadFileBytes(path);
  bytes[bytes.find("embedding_dim")] ^= 0x40;  // inside the config section
  WriteFileAtomic(path, bytes);
  std::string error = ErrorOf([&] { LoadModel(path); });
  EXPECT_NE(error.find("is damaged: section 'config' fails its checksum"), std::string::npos) << error;
}

TEST_F(ModelIoTest, WeightsOfAnotherStructureAreRefused) {
  Config wider = ParseConfig(kConfig, "model_io.toml", {"model.bottom=[9]"});
  auto other = CreateModel(wider, pipeline_->layout(), kMaxBatch);
  std::string error = ErrorOf([&] { LoadWeights(*other, SerializeWeights(*model_)); });
  EXPECT_NE(error.find("the weights hold 'bottom."), std::string::npos) << error;
}

// A model file whose sections are intact (checksums recomputed) but whose config or history is not what its
// weights were saved with: damaged or hostile files must be refused with a message, before any large allocation.
class RewrittenModelFile : public ModelIoTest {
 protected:
  std::string Rewrite(const std::string& section, const std::string& from, const std::string& to) {
    const std::string path = PathOf("rewritten.mtrec");
    SaveModel(path, config_, *pipeline_, *model_, {});
    SectionFile original = SectionFile::Read(path);
    SectionFile rewritten;
    for (const auto& [name, bytes] : original.sections()) {
      std::string text(bytes);
      if (name == section) {
        const size_t at = text.find(from);
        EXPECT_NE(at, std::string::npos) << from << " not in section " << section << ":\n" << text;
        if (at != std::string::npos) text.replace(at, from.size(), to);
      }
      rewritten.Add(name, text);
    }
    rewritten.Write(path);
    return ErrorOf([&] { LoadModel(path); });
  }
};

TEST_F(RewrittenModelFile, AbsurdLayerWidthsAreRefusedByTheConfig) {
  std::string error = Rewrite("config", "bottom = [8]", "bottom = [2000000000]");
  EXPECT_NE(error.find("model.bottom: a layer of width 2000000000 is over the limit of 65536"), std::string::npos)
      << error;
  error = Rewrite("config", "bottom = [8]", "bottom = [65536, 65536, 65536]");
  EXPECT_NE(error.find("dense parameters, over the limit of"), std::string::npos) << error;
}

TEST_F(RewrittenModelFile, LayersOrTablesLargerThanTheWeightsAreRefusedBeforeAllocation) {
  // Within every config bound, but 16 million parameters where the file holds a few hundred values.
  std::string error = Rewrite("config", "bottom = [8]", "bottom = [4096, 4096]");
  EXPECT_NE(error.find("the config builds tensor 0 as 'bottom.0.weight' (13 × 4096), the weights section holds "
                       "'bottom.0.weight' (13 × 8) there"),
            std::string::npos)
      << error;
  // A hashed table of 100 million rows.
  error = Rewrite("config", "hash_buckets = 0", "hash_buckets = 100000000");  // the first feature's
  EXPECT_NE(error.find("the config's embedding table 'user' is 100000000 × 4, the weights section holds "
                       "'embeddings.user' (5 × 4) in its place"),
            std::string::npos)
      << error;
}

// Each case must be refused in well under the time its allocations would take (5,000 tower layers each with
// buffers for 4,096 rows were gigabytes and ran for minutes); the bound only proves that nothing large was built.
TEST_F(RewrittenModelFile, DeepWideOrHugeConfigsAreRefusedFast) {
  const auto start = std::chrono::steady_clock::now();
  std::string tower = "tower = [4";
  for (int i = 1; i < 5000; ++i) tower += ", 4";
  tower += "]";
  std::string error = Rewrite("config", "tower = [4]", tower);
  EXPECT_NE(error.find("cannot load '"), std::string::npos) << error;
  EXPECT_NE(error.find("the config builds tensor 4 as 'towers.click.1.weight' (4 × 4), the weights section holds "
                       "'towers.click.1.weight' (4 × 1) there"),
            std::string::npos)
      << error;
  // A width at the config's limit.
  error = Rewrite("config", "tower = [4]", "tower = [65536]");
  EXPECT_NE(error.find("the config builds tensor 2 as 'towers.click.0.weight' (8 × 65536), the weights section "
                       "holds 'towers.click.0.weight' (8 × 4) there"),
            std::string::npos)
      << error;
  // Experts where the file holds a shared bottom.
  error = Rewrite("config", "arch = \"shared_bottom\"", "arch = \"mmoe\"");
  EXPECT_NE(error.find("the config builds tensor 0 as 'experts.0.weight'"), std::string::npos) << error;
  EXPECT_NE(error.find("the weights section holds 'bottom.0.weight' (13 × 8) there"), std::string::npos) << error;
  // A vocabulary count of 2^40 in the features section (the first feature's, "user", holds 4 values).
  const std::string name_and_count = std::string("\x04\0\0\0\0\0\0\0user", 12) + std::string("\x04\0\0\0\0\0\0\0", 8);
  const std::string huge = std::string("\x04\0\0\0\0\0\0\0user", 12) + std::string("\0\0\0\0\0\x01\0\0", 8);
  error = Rewrite("features", name_and_count, huge);
  EXPECT_NE(error.find("vocabulary size 1099511627776 exceeds the data that follows"), std::string::npos) << error;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
}

TEST_F(RewrittenModelFile, MalformedHistoryIsRefused) {
  std::string error = Rewrite("history", "[]", "[1]");
  EXPECT_NE(error.find("training history: epoch entry 0 is not a JSON object"), std::string::npos) << error;
  error = Rewrite("history", "[]", "[{}]");
  EXPECT_NE(error.find("training history: epoch entry 0: [json.exception.out_of_range.403] key 'train_loss' not found"),
            std::string::npos)
      << error;
  error = Rewrite("history", "[]", R"([{"train_loss": [1], "valid": 3, "monitor": 1}])");
  EXPECT_NE(error.find("is not an object of per-task metrics"), std::string::npos) << error;
}

}  // namespace
}  // namespace mtrec
