// Warm start and transfer (train/warm_start.h, FeaturePipeline::FitFrom, train/frozen_parts.h): a model built from
// a new config over a new file starts from a trained model's weights, vocabularies and numeric transforms; tasks
// can be added and removed; what cannot carry over is refused by name; frozen parts stay as they are.
#include "train/warm_start.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/names.h"
#include "data/column_table.h"
#include "features/pipeline.h"
#include "features/vocabulary.h"
#include "models/model.h"
#include "models/predict.h"
#include "support/test_files.h"
#include "train/frozen_parts.h"
#include "train/trainer.h"

namespace mtrec {
namespace {

// Three tasks (cart chained to click, for esmm and aitm), an id, a category with min_count 2 and a number.
std::string BaseConfigText(const std::string& tasks) {
  return R"(
[[features]]
name = "user"

[[features]]
name = "category"
min_count = 2

[[features]]
name = "price"
kind = "numeric"

[model]
embedding_dim = 3
bottom = [6]
tower = [4]
experts = 2
task_experts = 1
expert = [5]

[train]
batch_size = 4
)" + tasks;
}

const char* kThreeTasks = R"(
[[tasks]]
name = "click"

[[tasks]]
name = "cart"
parent = "click"

[[tasks]]
name = "gmv"
kind = "regression"
)";

const char* kTwoTasks = R"(
[[tasks]]
name = "click"

[[tasks]]
name = "cart"
parent = "click"
)";

// Day one knows users u1..u3 and categories a, b; day two brings u4 (twice) and u5 (once) and category c (twice).
const char* kDayOne =
    "user,category,price,click,cart,gmv\n"
    "u1,a,10,1,0,0\nu2,a,20,0,0,0\nu3,b,30,1,1,5\nu1,b,40,0,0,0\nu2,a,15,1,1,2\nu3,b,25,0,0,0\n";
const char* kDayTwo =
    "user,category,price,click,cart,gmv\n"
    "u4,c,100,1,0,0\nu4,c,200,0,0,0\nu5,a,300,1,1,9\nu1,b,400,0,0,0\n";

std::unique_ptr<Model> Built(const Config& config, const FeaturePipeline& pipeline, uint64_t seed) {
  std::unique_ptr<Model> model = CreateModel(config, pipeline.layout(), 16);
  model->Initialize(seed);
  return model;
}

// A base model trained for a few epochs on `table`, so that no weight is at its initial value (a cross-stitch unit
// starts as the identity, a bias at 0: an untrained base would hide a weight left fresh).
std::unique_ptr<Model> Trained(const Config& config, const FeaturePipeline& pipeline, const ColumnTable& table) {
  std::unique_ptr<Model> model = Built(config, pipeline, 1);
  Trainer trainer(config, *model);
  trainer.Fit(pipeline.Encode(table), nullptr, {});
  return model;
}

class WarmStartTest : public testing::Test {
 protected:
  void SetUp() override { dir_ = TestDir("warm_start"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Config Parse(const std::string& tasks, std::vector<std::string> overrides = {}) {
    // home has two levels of experts: one width each.
    if (std::find(overrides.begin(), overrides.end(), "model.arch=home") != overrides.end()) {
      overrides.push_back("model.expert=[5, 4]");
    }
    return ParseConfig(BaseConfigText(tasks), "warm_start_test.toml", overrides);
  }
  ColumnTable Table(const Config& config, const char* name, const char* text) {
    return LoadTable(WriteFile(dir_, name, text), config.data, FeaturePipeline::Requests(config, true));
  }

  // A base model of `base_config` fitted on day one (trained unless `trained` is false) and a warm model of
  // `config` built over FitFrom on day two, its weights not yet carried over.
  struct Pair {
    Config base_config, config;
    std::unique_ptr<FeaturePipeline> base_pipeline, pipeline;
    std::unique_ptr<Model> base, warm;
    WarmStartFeatures kept;
    WarmStartReport Carry() const { return CarryWeights(base_config, *base, "base.mtrec", config, kept, *warm); }
  };
  Pair MakePair(const Config& base_config, const Config& config, bool trained = true) {
    Pair pair;
    pair.base_config = base_config;
    pair.config = config;
    const ColumnTable day_one = Table(base_config, "one.csv", kDayOne);
    pair.base_pipeline = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(base_config, day_one));
    pair.base = trained ? Trained(base_config, *pair.base_pipeline, day_one) : Built(base_config, *pair.base_pipeline, 1);
    pair.pipeline = std::make_unique<FeaturePipeline>(FeaturePipeline::FitFrom(
        *pair.base_pipeline, config, Table(config, "two.csv", kDayTwo), true, false, &pair.kept));
    pair.warm = Built(config, *pair.pipeline, 2);
    return pair;
  }
  // Day one's predictions by the base model and by the warm one.
  std::vector<std::vector<float>> BasePredictions(const Pair& pair) {
    return Predict(*pair.base, pair.base_config, pair.base_pipeline->Encode(Table(pair.base_config, "b.csv", kDayOne)));
  }
  std::vector<std::vector<float>> WarmPredictions(const Pair& pair) {
    return Predict(*pair.warm, pair.config, pair.pipeline->Encode(Table(pair.config, "w.csv", kDayOne)));
  }

  std::string dir_;
};

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(VocabularyExtendedTest, KeepsEveryIdAndAppendsTheUnseenValuesThatReachMinCount) {
  const Vocabulary base = Vocabulary::Fit({{"a", 5}, {"b", 3}}, 1);
  const Vocabulary extended = base.Extended({{"b", 9}, {"c", 4}, {"d", 1}, {"e", 2}}, 2);
  EXPECT_EQ(extended.Lookup("a"), base.Lookup("a"));
  EXPECT_EQ(extended.Lookup("b"), base.Lookup("b"));
  EXPECT_EQ(extended.Lookup("c"), 3);  // after a (1) and b (2), most frequent first
  EXPECT_EQ(extended.Lookup("e"), 4);
  EXPECT_EQ(extended.Lookup("d"), Vocabulary::kOutOfVocabulary);  // below min_count
  EXPECT_EQ(extended.size(), 5);
}

TEST(VocabularyExtendedTest, ACopyLooksUpAfterTheOriginalIsGone) {
  auto original = std::make_unique<Vocabulary>(Vocabulary::Fit({{"alpha", 2}, {"beta", 1}}, 1));
  Vocabulary copy = *original;
  Vocabulary assigned;
  assigned = *original;
  original.reset();
  EXPECT_EQ(copy.Lookup("beta"), 2);
  EXPECT_EQ(assigned.Lookup("alpha"), 1);
}

TEST_F(WarmStartTest, FitFromKeepsIdsAdmitsNewOnesAndKeepsTheNumericTransform) {
  const Config config = Parse(kThreeTasks);
  const FeaturePipeline base = FeaturePipeline::Fit(config, Table(config, "one.csv", kDayOne));
  const ColumnTable two = Table(config, "two.csv", kDayTwo);
  WarmStartFeatures kept;
  const FeaturePipeline warm = FeaturePipeline::FitFrom(base, config, two, /*admit_new_ids=*/true,
                                                        /*refit_numeric=*/false, &kept);
  EXPECT_EQ(kept.kept, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(kept.admitted, (std::vector<int64_t>{2, 1, 0}));  // u4, u5 (user has min_count 1); c only
  const EncodedData old_rows = base.Encode(Table(config, "one_again.csv", kDayOne));
  const EncodedData warm_rows = warm.Encode(Table(config, "one_again.csv", kDayOne));
  EXPECT_EQ(warm_rows.single_ids, old_rows.single_ids);  // every old id means what it meant
  EXPECT_EQ(warm_rows.numeric, old_rows.numeric);        // the base's scaling, not day two's
  const EncodedData two_rows = warm.Encode(two);
  const auto& users = two_rows.single_ids[0];
  EXPECT_EQ(users[0], 4);  // u4: after u1..u3, the more frequent new user first
  EXPECT_EQ(users[2], 5);
  EXPECT_EQ(two_rows.single_ids[1][0], 3);  // category c: after a, b

  const FeaturePipeline closed = FeaturePipeline::FitFrom(base, config, two, /*admit_new_ids=*/false,
                                                          /*refit_numeric=*/true, &kept);
  EXPECT_EQ(kept.admitted, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(kept.kept, (std::vector<bool>{true, true, false}));  // price refitted
  const EncodedData closed_rows = closed.Encode(two);
  EXPECT_EQ(closed_rows.single_ids[0][0], Vocabulary::kOutOfVocabulary);
  EXPECT_NE(closed_rows.numeric, two_rows.numeric);
}

// The same config on new data: before any training the warm model predicts exactly what the base model does.
class EveryArchWarmStart : public WarmStartTest, public testing::WithParamInterface<std::string_view> {};

TEST_P(EveryArchWarmStart, TheSameConfigPredictsAsTheBaseModel) {
  const Config config = Parse(kThreeTasks, {"model.arch=" + std::string(GetParam())});
  const Pair pair = MakePair(config, config);
  const WarmStartReport report = pair.Carry();
  EXPECT_TRUE(report.fresh.empty()) << report.Describe("base.mtrec");
  EXPECT_TRUE(report.dropped.empty());
  EXPECT_EQ(report.tensors_partly, 0);
  EXPECT_EQ(report.embedding_rows_new % 3, 0);  // u4, u5, c (in each task's tables for single_task)
  EXPECT_GT(report.embedding_rows_new, 0);
  EXPECT_EQ(WarmPredictions(pair), BasePredictions(pair));
}

// A task added: the old tasks predict as before wherever the architecture keeps one tower (and gate) per task over
// a body the tasks share; where the body itself depends on the task count (ple, cross-stitch, adatt, stem and home,
// whose gates span every task's experts) the warm start is refused naming the tensor.
TEST_P(EveryArchWarmStart, ANewTaskLeavesTheOldTasksPredictionsAsTheyWere) {
  const std::string arch = "model.arch=" + std::string(GetParam());
  const Pair pair = MakePair(Parse(kTwoTasks, {arch}), Parse(kThreeTasks, {arch}));
  const std::string error = ErrorOf([&] { pair.Carry(); });
  if (GetParam() == "ple" || GetParam() == "cross_stitch" || GetParam() == "adatt" || GetParam() == "stem" ||
      GetParam() == "home") {  // the task count shapes them
    EXPECT_NE(error.find("--init-from base.mtrec: tensor '"), std::string::npos) << error;
    EXPECT_NE(error.find("the tasks changed (click, cart there, click, cart, gmv here)"), std::string::npos) << error;
    return;
  }
  ASSERT_EQ(error, "");
  const WarmStartReport report = pair.Carry();
  EXPECT_EQ(report.new_columns, std::vector<std::string>{"gmv"});
  EXPECT_EQ(report.carried_column, (std::vector<bool>{true, true, false}));
  const auto before = BasePredictions(pair);
  const auto after = WarmPredictions(pair);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
}

// A task removed: the ones left predict as before, for every architecture whose body does not depend on the count.
// (aitm's transfer from a removed task to a kept one would be lost: the last task of the chain is removed here.)
TEST_P(EveryArchWarmStart, ARemovedTaskLeavesTheOthersAsTheyWere) {
  const std::string arch = "model.arch=" + std::string(GetParam());
  const Pair pair = MakePair(Parse(kThreeTasks, {arch}), Parse(kTwoTasks, {arch}));
  const std::string error = ErrorOf([&] { pair.Carry(); });
  if (GetParam() == "ple" || GetParam() == "cross_stitch" || GetParam() == "adatt" || GetParam() == "stem" ||
      GetParam() == "home") {
    EXPECT_NE(error.find("the tasks changed (click, cart, gmv there, click, cart here)"), std::string::npos) << error;
    return;
  }
  ASSERT_EQ(error, "");
  EXPECT_EQ(pair.Carry().dropped_columns, std::vector<std::string>{"gmv"});
  const auto before = BasePredictions(pair);
  const auto after = WarmPredictions(pair);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
}

INSTANTIATE_TEST_SUITE_P(Models, EveryArchWarmStart, testing::ValuesIn(NameTable<Arch>::kNames),
                         [](const testing::TestParamInfo<std::string_view>& info) { return std::string(info.param); });

// A new task that starts from a related base task's tower (task.warm_start_from) predicts what that task did
// (both chained to click), for towers that are tensors of their own (shared-bottom) and blocks of one (mmoe).
TEST_F(WarmStartTest, ANewTaskStartsFromARelatedTasksTower) {
  const std::string with_purchase = std::string(kTwoTasks) + R"(
[[tasks]]
name = "purchase"
column = "cart"
parent = "click"
warm_start_from = "cart"
)";
  for (const std::string arch : {"shared_bottom", "mmoe"}) {
    const Pair pair = MakePair(Parse(kTwoTasks, {"model.arch=" + arch}), Parse(with_purchase, {"model.arch=" + arch}));
    const WarmStartReport report = pair.Carry();
    EXPECT_EQ(report.new_columns, std::vector<std::string>{"purchase (from cart)"}) << arch;
    EXPECT_EQ(report.carried_column, (std::vector<bool>{true, true, false})) << arch;  // its bias is its own
    const auto before = BasePredictions(pair);
    const auto after = WarmPredictions(pair);
    EXPECT_EQ(after[2], before[1]) << arch;
    EXPECT_EQ(after[1], before[1]) << arch;
  }
  const Pair pair = MakePair(Parse(kTwoTasks, {"model.arch=mmoe"}),
                             Parse(with_purchase, {"model.arch=mmoe", "tasks.purchase.warm_start_from=basket"}), false);
  const std::string error = ErrorOf([&] { pair.Carry(); });
  EXPECT_NE(error.find("task 'purchase' has warm_start_from = \"basket\", which is no task of that model (it has "
                       "click, cart)"),
            std::string::npos)
      << error;
}

TEST_F(WarmStartTest, AChangedExpertWidthIsRefusedNamingTheTensor) {
  const Pair pair = MakePair(Parse(kThreeTasks, {"model.arch=mmoe"}), Parse(kThreeTasks, {"model.arch=mmoe", "model.expert=[7]"}), false);
  const std::string error = ErrorOf([&] { pair.Carry(); });
  EXPECT_NE(error.find("--init-from base.mtrec: tensor 'experts."), std::string::npos) << error;
  EXPECT_NE(error.find("× 10 there and 7 × 14 in this config's model"), std::string::npos) << error;  // 2 experts
}

TEST_F(WarmStartTest, AChangedEmbeddingWidthIsRefusedNamingTheTable) {
  const Pair pair = MakePair(Parse(kThreeTasks, {"model.arch=shared_bottom"}), Parse(kThreeTasks, {"model.arch=shared_bottom", "model.embedding_dim=4"}), false);
  const std::string error = ErrorOf([&] { pair.Carry(); });
  EXPECT_NE(error.find("--init-from base.mtrec:"), std::string::npos) << error;
  EXPECT_NE(error.find("'"), std::string::npos) << error;
}

// A frozen part keeps its values through training steps; the rest moves.
TEST_F(WarmStartTest, FrozenPartsKeepTheirValuesWhileTheRestTrains) {
  const Config config = Parse(kThreeTasks, {"model.arch=mmoe", "train.freeze=[\"embeddings\", \"experts\", "
                                                                "\"towers.click\"]"});
  const ColumnTable one = Table(config, "one.csv", kDayOne);
  const FeaturePipeline pipeline = FeaturePipeline::Fit(config, one);
  std::unique_ptr<Model> model = Built(config, pipeline, 1);
  const EncodedData data = pipeline.Encode(one);
  const std::vector<float> values(model->arena().values(), model->arena().values() + model->arena().size());
  const auto& tables = model->input().tables();
  std::vector<std::vector<float>> rows;
  for (const auto& table : tables) rows.emplace_back(table.Row(0), table.Row(0) + table.rows() * table.dim());
  {
    Trainer trainer(config, *model);
    trainer.Fit(data, nullptr, {});
  }
  for (size_t t = 0; t < tables.size(); ++t) {
    EXPECT_EQ(std::vector<float>(tables[t].Row(0), tables[t].Row(0) + tables[t].rows() * tables[t].dim()), rows[t])
        << tables[t].name();
  }
  const ParameterArena& arena = model->arena();
  bool towers_moved = false;
  for (size_t id = 0; id < arena.Infos().size(); ++id) {
    const ParameterInfo& info = arena.Info(id);
    const std::vector<float> before(values.begin() + info.offset, values.begin() + info.offset + info.size());
    const std::vector<float> after(arena.values() + info.offset, arena.values() + info.offset + info.size());
    if (info.name.starts_with("experts")) {
      EXPECT_EQ(after, before) << info.name;
    }
    if (info.name.starts_with("towers") && after != before) towers_moved = true;
  }
  EXPECT_TRUE(towers_moved);
  // "towers.click": column 0's blocks of every per-column tower tensor stay (the other tasks' blocks train).
  for (size_t id = 0; id < arena.Infos().size(); ++id) {
    const ParameterInfo& info = arena.Info(id);
    if (!info.name.starts_with("towers") || info.column_axis < 0) continue;
    if (info.column_axis == 0) {
      const size_t block = static_cast<size_t>(info.rows / info.columns * info.cols);
      EXPECT_TRUE(std::equal(values.begin() + info.offset, values.begin() + info.offset + block,
                             arena.values() + info.offset))
          << info.name;
    } else {
      const auto block = static_cast<size_t>(info.cols / info.columns);
      for (int64_t r = 0; r < info.rows; ++r) {
        const size_t at = info.offset + static_cast<size_t>(r * info.cols);
        EXPECT_TRUE(std::equal(values.begin() + at, values.begin() + at + block, arena.values() + at)) << info.name;
      }
    }
  }
}

TEST_F(WarmStartTest, AFreezeNameThatMatchesNothingListsWhatCanBeFrozen) {
  const Config config = Parse(kThreeTasks, {"model.arch=mmoe", "train.freeze=[\"expert\"]"});
  const FeaturePipeline pipeline = FeaturePipeline::Fit(config, Table(config, "one.csv", kDayOne));
  std::unique_ptr<Model> model = Built(config, pipeline, 1);
  const std::string error = ErrorOf([&] { FrozenParts frozen(config, *model); });
  EXPECT_NE(error.find("train.freeze: 'expert' names no part"), std::string::npos) << error;
  EXPECT_NE(error.find("experts"), std::string::npos) << error;
  EXPECT_NE(error.find("gates"), std::string::npos) << error;
}

}  // namespace
}  // namespace mtrec
