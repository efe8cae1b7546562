// The running average of the weights against the average written out over every step's full copy of the
// weights, with embedding rows that change on a few steps only (the lazy catch-up must be exact).
#include "train/weight_average.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "common/config.h"
#include "common/error.h"
#include "data/column_table.h"
#include "features/pipeline.h"
#include "models/weights.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

const char* kConfig = R"(
[[features]]
name = "user"

[[features]]
name = "age"
kind = "numeric"

[[tasks]]
name = "click"

[model]
arch = "shared_bottom"
embedding_dim = 3
bottom = [4]
tower = [2]
batch_norm = true
)";

// Every value of the model (dense parameters and buffers, then tables), in one vector.
std::vector<float> AllWeights(const Model& model) {
  std::vector<float> all;
  for (const WeightView& w : ListWeights(model)) all.insert(all.end(), w.data, w.data + w.rows * w.cols);
  return all;
}

class WeightAverageTest : public testing::Test {
 protected:
  void SetUp() override {
    config_ = ParseConfig(kConfig, "weight_average_test.toml");
    std::string csv = "user,age,click\n";
    for (int i = 0; i < 12; ++i) {
      csv += "u" + std::to_string(i) + "," + std::to_string(20 + i) + "," + (i % 2 ? "1" : "0") + "\n";
    }
    const std::string path = WriteFile(TestDir("weight_average"), "train.csv", csv);
    const ColumnTable table = LoadTable(path, config_.data, FeaturePipeline::Requests(config_, true));
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config_, table));
    model_ = CreateModel(config_, pipeline_->layout(), 8);
    model_->arena().Initialize(1);
  }
  void TearDown() override { std::filesystem::remove_all(TestDir("weight_average")); }

  // One step as the trainer takes it: every dense value moves, and a random few rows of each table.
  void Step(WeightAverage& average, std::mt19937& rng) {
    std::normal_distribution<float> noise(0.f, 0.5f);
    average.BeginStep();
    ParameterArena& arena = model_->arena();
    for (size_t p = 0; p < arena.Infos().size(); ++p) {
      for (size_t i = 0; i < arena.Info(p).size(); ++i) arena.Value(p)[i] += noise(rng);
    }
    average.UpdateDense();
    auto& tables = model_->input().tables();
    for (size_t t = 0; t < tables.size(); ++t) {
      std::vector<int32_t> rows;
      for (int32_t r = 0; r < tables[t].rows(); ++r) {
        if (rng() % 4 == 0) rows.push_back(r);
      }
      average.BeforeRowsChange(t, rows);
      for (int32_t r : rows) {
        for (int64_t j = 0; j < tables[t].dim(); ++j) tables[t].Row(r)[j] += noise(rng);
      }
      average.AfterRowsChange(t, rows);
    }
  }

  Config config_;
  std::unique_ptr<FeaturePipeline> pipeline_;
  std::unique_ptr<Model> model_;
};

TEST_F(WeightAverageTest, EqualsTheBiasCorrectedAverageOfEveryStepsWeights) {
  const double decay = 0.9;
  WeightAverage average(*model_, decay);
  std::mt19937 rng(7);
  std::vector<std::vector<float>> history;  // the weights after each step
  for (int step = 0; step < 40; ++step) {
    Step(average, rng);
    history.push_back(AllWeights(*model_));
  }
  ASSERT_GT(model_->input().tables().size(), 0u);
  const std::vector<float> raw = AllWeights(*model_);
  average.Apply();
  const std::vector<float> averaged = AllWeights(*model_);
  const auto t = static_cast<int>(history.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    double sum = 0;
    for (int s = 1; s <= t; ++s) sum += (1 - decay) * std::pow(decay, t - s) * history[s - 1][i];
    const double expected = sum / (1 - std::pow(decay, t));
    ASSERT_NEAR(averaged[i], expected, 1e-4 * (1 + std::abs(expected))) << "value " << i;
  }
  average.Restore();
  EXPECT_EQ(AllWeights(*model_), raw);  // the model's own weights come back bit for bit
}

TEST_F(WeightAverageTest, ASavedAverageContinuesLikeTheOriginal) {
  WeightAverage original(*model_, 0.8);
  std::mt19937 rng(3);
  for (int step = 0; step < 15; ++step) Step(original, rng);
  // Saved mid-run, the way a checkpoint holds it: rows last touched long ago are still behind in `original`.
  std::string blob;
  original.Serialize(&blob);
  const std::string weights = SerializeWeights(*model_);
  const std::mt19937 rng_at_save = rng;
  for (int step = 0; step < 10; ++step) Step(original, rng);
  original.Apply();
  const std::vector<float> expected = AllWeights(*model_);
  original.Restore();

  LoadWeights(*model_, weights);
  WeightAverage resumed(*model_, 0.8);
  resumed.Deserialize(blob);
  EXPECT_EQ(resumed.steps(), 15);
  rng = rng_at_save;
  for (int step = 0; step < 10; ++step) Step(resumed, rng);
  resumed.Apply();
  const std::vector<float> got = AllWeights(*model_);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-5 * (1 + std::abs(expected[i]))) << i;
}

TEST_F(WeightAverageTest, RefusesAnotherDecayOrAnotherModel) {
  WeightAverage average(*model_, 0.9);
  std::mt19937 rng(1);
  Step(average, rng);
  std::string blob;
  average.Serialize(&blob);
  WeightAverage other(*model_, 0.99);
  try {
    other.Deserialize(blob);
    FAIL() << "a blob of another decay was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("decay 0.9, the config with 0.99"), std::string::npos) << error.what();
  }
  EXPECT_THROW(other.Deserialize(blob.substr(0, blob.size() / 2)), Error);
  EXPECT_THROW(WeightAverage(*model_, 1.0), Error);
  EXPECT_THROW(WeightAverage(*model_, 0.0), Error);
}

TEST_F(WeightAverageTest, AnUnsteppedAverageLeavesTheModelAlone) {
  WeightAverage average(*model_, 0.9);
  const std::vector<float> before = AllWeights(*model_);
  average.Apply();
  EXPECT_EQ(AllWeights(*model_), before);
  average.Restore();
  EXPECT_EQ(AllWeights(*model_), before);
}

}  // namespace
}  // namespace mtrec
