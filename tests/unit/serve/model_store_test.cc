#include "serve/model_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/memory.h"
#include "common/threads.h"
#include "data/column_table.h"
#include "io/model_io.h"
#include "support/tensor_values.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

// A model whose embedding table (2^20 hashed rows of 16: 64 MiB) is far larger than its dense layers and buffers,
// as a recommender's are.
const char* kConfig = R"(
[data]
cache = false

[[features]]
name = "user"
hash_buckets = 1048576

[[features]]
name = "price"
kind = "numeric"

[[tasks]]
name = "click"

[model]
arch = "mmoe"
embedding_dim = 16
experts = 2
expert = [8]
tower = [4]
)";

const char* kData =
    "user,price,click\n"
    "u1,10,1\n"
    "u2,20,0\n"
    "u3,5,1\n"
    "u4,,0\n";

constexpr int64_t kTableBytes = int64_t{1} << 20 << 4 << 2;  // rows × dim × sizeof(float)

class ModelStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    SetThreads(1);
    const Config config = ParseConfig(kConfig, "model_store_test.toml");
    const std::string data = WriteFile(TestDir("model_store_test"), "train.csv", kData);
    const ColumnTable table = LoadTable(data, config.data, FeaturePipeline::Requests(config, true));
    const FeaturePipeline pipeline = FeaturePipeline::Fit(config, table);
    std::unique_ptr<Model> model = CreateModel(config, pipeline.layout(), 64);
    model->Initialize(7);
    path_ = (fs::path(TestDir("model_store_test")) / "model.mtrec").string();
    SaveModel(path_, config, pipeline, *model, {});
    checkpoint_ = (fs::path(TestDir("model_store_test")) / "model.mtrec.ckpt").string();
    SaveCheckpoint(checkpoint_, config, pipeline, *model, TrainerState{});
    batch_.size = 3;
    batch_.single_ids = {{3, 70000, 1048575}};
    batch_.numeric.assign(3 * pipeline.layout().numeric_names.size(), 0.5f);
    batch_.numeric[0] = -1.f;
  }
  void TearDown() override {
    SetThreads(0);
    fs::remove_all(TestDir("model_store_test"));
  }

  // Every copy of `serving` reads the first copy's weights and tables, and scores batch_ as the model loaded to
  // train (nothing frozen, packed or shared) does, all copies at once as scorers do.
  void ExpectCopiesShareTheWeights(ServingModel& serving) {
    Model& first = serving.ForScorer(0);
    ASSERT_EQ(first.input().tables().size(), 1u);
    ASSERT_EQ(first.input().tables()[0].rows(), int64_t{1} << 20);
    for (size_t k = 1; k < serving.Copies(); ++k) {
      Model& copy = serving.ForScorer(k);
      EXPECT_EQ(copy.arena().values(), first.arena().values()) << k;
      EXPECT_EQ(copy.input().tables()[0].data(), first.input().tables()[0].data()) << k;
    }
    const std::vector<float> expected = TensorValues(LoadModel(path_, 64).model->Forward(batch_, Mode::kInfer));
    ASSERT_EQ(expected.size(), 3u);
    std::vector<std::vector<float>> got(serving.Copies());
    std::vector<std::thread> scorers;
    for (size_t k = 0; k < serving.Copies(); ++k) {
      scorers.emplace_back([&, k] {
        SetThreadsOfThisThread(1);
        got[k] = TensorValues(serving.ForScorer(k).Forward(batch_, Mode::kInfer));
      });
    }
    for (std::thread& scorer : scorers) scorer.join();
    for (size_t k = 0; k < serving.Copies(); ++k) {
      ASSERT_EQ(got[k].size(), expected.size()) << k;
      for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[k][i], expected[i], 1e-5) << k << ", " << i;
      EXPECT_EQ(got[k], got[0]) << k;
    }
  }


  std::string path_;
  std::string checkpoint_;
  Batch batch_;
};

// Copies for more scorers hold the model's weights and tables once: what one more copy takes is its buffers and
// packed weights, a small part of the table, and the copies score as the first.
TEST_F(ModelStoreTest, CopiesForMoreScorersShareTheWeightsAndTables) {
  ModelStore store(path_, 64);
  EXPECT_EQ(store.Current()->Copies(), 1u);
  const int64_t copy = store.ReplicaBytes();
  EXPECT_GT(copy, 0);
  EXPECT_LT(copy, kTableBytes / 8);
  EXPECT_EQ(store.ReplicaBytes(), copy);  // measured once
  EXPECT_EQ(store.Current()->Copies(), 2u);  // the copy measured is kept...
  store.SetCopies(4);
  ASSERT_EQ(store.Current()->Copies(), 4u);
  ExpectCopiesShareTheWeights(*store.Current());
  store.SetCopies(1);  // ... or let go
  EXPECT_EQ(store.Current()->Copies(), 1u);
}

// A model loaded for several scorers at once (a server's start with --scorers, and every reload) shares them too.
TEST_F(ModelStoreTest, AModelLoadedWithCopiesSharesItsWeights) {
  std::shared_ptr<ServingModel> serving = LoadServingModel(path_, 64, {}, 3);
  ASSERT_EQ(serving->Copies(), 3u);
  ExpectCopiesShareTheWeights(*serving);
  EXPECT_TRUE(serving->loaded.model->arena().values_frozen());
  EXPECT_THROW(serving->loaded.model->arena().grads(), Error);
}

// The peak of this process's resident memory (the kernel's VmHWM), in bytes; -1 where it cannot be read.
int64_t PeakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// A served model's tables read their rows where they lie in the file's bytes, which it keeps: no copy of them.
TEST_F(ModelStoreTest, AServedModelReadsItsTablesInTheFileBytes) {
  std::string bytes = ReadFileBytes(path_);
  const char* begin = bytes.data();
  const size_t size = bytes.size();
  LoadedModel served = LoadModelFromBytes(std::move(bytes), path_, 64, /*tables_in_place=*/true);
  const float* rows = served.model->input().tables()[0].data();
  EXPECT_TRUE(reinterpret_cast<const char*>(rows) >= begin && reinterpret_cast<const char*>(rows) < begin + size);
  LoadedModel copied = LoadModel(path_, 64);
  EXPECT_NE(copied.model->input().tables()[0].data(), nullptr);
  EXPECT_EQ(TensorValues(served.model->Forward(batch_, Mode::kInfer)),
            TensorValues(copied.model->Forward(batch_, Mode::kInfer)));

  // A checkpoint served as it is copies its tables: its bytes are mostly trainer state, not to be kept for them.
  std::string checkpoint_bytes = ReadFileBytes(checkpoint_);
  const char* checkpoint_begin = checkpoint_bytes.data();
  const size_t checkpoint_size = checkpoint_bytes.size();
  LoadedModel from_checkpoint = LoadModelFromBytes(std::move(checkpoint_bytes), checkpoint_, 64, true);
  const char* table = reinterpret_cast<const char*>(from_checkpoint.model->input().tables()[0].data());
  EXPECT_FALSE(table >= checkpoint_begin && table < checkpoint_begin + checkpoint_size);
  EXPECT_EQ(TensorValues(from_checkpoint.model->Forward(batch_, Mode::kInfer)),
            TensorValues(copied.model->Forward(batch_, Mode::kInfer)));
}

// So loading a model to serve takes about the file's size at its peak, not twice it (the bytes, then copies).
TEST_F(ModelStoreTest, LoadingToServeTakesTheFileOnceAtItsPeak) {
  std::ofstream reset("/proc/self/clear_refs");
  reset << "5";  // the peak (VmHWM) starts again from what is resident now
  reset.close();
  const int64_t before = ResidentBytes();
  if (before <= 0 || PeakResidentBytes() > before + (int64_t{8} << 20)) {
    GTEST_SKIP() << "this kernel does not let a process reset its peak resident memory";
  }
  const int64_t file = static_cast<int64_t>(fs::file_size(path_));
  std::shared_ptr<ServingModel> serving = LoadServingModel(path_, 64, {}, 2);
  const int64_t peak = PeakResidentBytes() - before;
  EXPECT_GT(peak, file / 2);  // the bytes are read
  EXPECT_LT(peak, file * 3 / 2) << "peak " << peak << " bytes for a file of " << file;
}

}  // namespace
}  // namespace mtrec
