#include "common/config.h"

#include <gtest/gtest.h>

#include "support/test_files.h"
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"

namespace mtrec {
namespace {

std::string ParseError(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return ErrorOf([&] { ParseConfig(text, "cfg.toml", overrides); });
}

const char* kMinimal = R"(
[data]
train = "train.csv"

[[features]]
name = "city"

[[tasks]]
name = "click"
)";

// Every section, every feature and task kind, and keys away from their defaults.
const char* kFull = R"(
[data]
train = "train.csv"
valid = "valid.csv"
test = "test.csv"
valid_from_test = 0.25
split_seed = 7
delimiter = ", "
header = false
columns = ["city", "tags", "price", "clicked", "spend", "p_click"]
trim = false
na_values = ["?", "-"]
on_error = "skip"
max_reported_errors = 3
cache = false
cache_dir = "cache"

[time_series]
date = "day"
series = ["city"]

[[time_series.columns]]
name = "spend_mean7"
column = "spend"
op = "mean"
lag = 2
window = 7
by = ["country"]

[[features]]
name = "city"
column = "city"
min_count = 2
hash_buckets = 0
embedding_dim = 4

[[features]]
name = "tags"
kind = "multi_categorical"
separator = ";"
pooling = "sum"
share_with = "city"

[[features]]
name = "price"
kind = "numeric"
log1p = true
standardize = false
clip = [0.0, 100.0]
fill = 1.5
missing_flag = "always"
buckets = 4

[[tasks]]
name = "click"
column = "clicked"
positive = ["yes", "y"]
weight = 2.0
oracle = "p_click"

[[tasks]]
name = "spend"
kind = "regression"
loss = "huber"
huber_delta = 0.5
auxiliary = true

[model]
arch = "shared_bottom"
embedding_dim = 8
bottom = [32, 16]
tower = [8, 4]
dropout = 0.1
embedding_init_std = 0.01

[train]
epochs = 3
batch_size = 64
optimizer = "adamw"
lr = 0.01
beta1 = 0.8
beta2 = 0.99
eps = 1e-6
weight_decay = 0.001
momentum = 0.5
embedding_optimizer = "lazy_adam"
embedding_lr = 0.1
seed = 9
threads = 2
early_stop_metric = "logloss"
early_stop_task = "click"
patience = 4
checkpoint = "run.ckpt"

[eval]
threshold = 0.3
calibration_bins = 20
group_by = "user"
ranking_k = [3, 20]
relevance = ["click"]
value_task = "spend"
sample_spaces = ["spend|click"]
slice_by = "country"
max_slices = 5

[serve]
blend = { click = 1.0, spend = 0.25 }
blend_mode = "product"
blend_feature = "price"
)";

TEST(ConfigTest, MinimalConfigHasTheDefaults) {
  Config c = ParseConfig(kMinimal, "cfg.toml");
  EXPECT_EQ(c.data.train, "train.csv");
  EXPECT_EQ(c.data.valid, "");
  EXPECT_EQ(c.data.valid_from_test, 0.0);
  EXPECT_EQ(c.data.split_seed, 1u);
  EXPECT_EQ(c.data.delimiter, ",");
  EXPECT_TRUE(c.data.header);
  EXPECT_TRUE(c.data.columns.empty());
  EXPECT_TRUE(c.data.trim);
  EXPECT_EQ(c.data.na_values, (std::vector<std::string>{"", "NA", "NaN", "nan", "null", "NULL"}));
  EXPECT_EQ(c.data.on_error, OnError::kFail);
  EXPECT_EQ(c.data.max_reported_errors, 10);
  EXPECT_TRUE(c.data.cache);
  EXPECT_EQ(c.data.cache_dir, "");

  ASSERT_EQ(c.features.size(), 1u);
  const FeatureConfig& f = c.features[0];
  EXPECT_EQ(f.name, "city");
  EXPECT_EQ(f.column, "city");
  EXPECT_EQ(f.kind, FeatureKind::kCategorical);
  EXPECT_EQ(f.min_count, 1);
  EXPECT_EQ(f.hash_buckets, 0);
  EXPECT_EQ(f.embedding_dim, 0);
  EXPECT_EQ(f.separator, "|");
  EXPECT_EQ(f.pooling, Pooling::kMean);
  EXPECT_EQ(f.share_with, "");

  ASSERT_EQ(c.tasks.size(), 1u);
  const TaskConfig& t = c.tasks[0];
  EXPECT_EQ(t.name, "click");
  EXPECT_EQ(t.column, "click");
  EXPECT_EQ(t.kind, TaskKind::kBinary);
  EXPECT_EQ(t.loss, LossKind::kLogloss);
  EXPECT_EQ(t.weight, 1.0);
  EXPECT_TRUE(t.positive.empty());
  EXPECT_EQ(t.equals, "");
  EXPECT_EQ(t.huber_delta, 1.0);

  EXPECT_EQ(c.model.arch, Arch::kSharedBottom);
  EXPECT_EQ(c.model.embedding_dim, 16);
  EXPECT_EQ(c.model.bottom, (std::vector<int64_t>{256, 128}));
  EXPECT_EQ(c.model.tower, (std::vector<int64_t>{64}));
  EXPECT_EQ(c.model.dropout, 0.0);
  EXPECT_EQ(c.model.embedding_init_std, 0.05);

  EXPECT_EQ(c.train.epochs, 5);
  EXPECT_EQ(c.train.batch_size, 512);
  EXPECT_EQ(c.train.optimizer, DenseOptimizerKind::kAdam);
  EXPECT_EQ(c.train.lr, 0.001);
  EXPECT_EQ(c.train.beta1, 0.9);
  EXPECT_EQ(c.train.beta2, 0.999);
  EXPECT_EQ(c.train.eps, 1e-8);
  EXPECT_EQ(c.train.embedding_optimizer, SparseOptimizerKind::kAdagrad);
  EXPECT_EQ(c.train.embedding_lr, 0.05);
  EXPECT_EQ(c.train.seed, 42u);
  EXPECT_EQ(c.train.threads, 0);
  EXPECT_EQ(c.train.early_stop_metric, "auc");
  EXPECT_EQ(c.train.early_stop_task, "");
  EXPECT_EQ(c.train.patience, 2);
  EXPECT_EQ(c.train.checkpoint, "");
  EXPECT_EQ(c.eval.threshold, 0.5);
  EXPECT_EQ(c.source_path, "");
}

TEST(ConfigTest, ParsesEverySection) {
  Config c = ParseConfig(kFull, "cfg.toml");
  EXPECT_EQ(c.data.valid, "valid.csv");
  EXPECT_EQ(c.data.test, "test.csv");
  EXPECT_EQ(c.data.valid_from_test, 0.25);
  EXPECT_EQ(c.data.split_seed, 7u);
  EXPECT_EQ(c.data.delimiter, ", ");
  EXPECT_FALSE(c.data.header);
  EXPECT_EQ(c.data.columns.size(), 6u);
  EXPECT_EQ(c.data.columns[5], "p_click");
  EXPECT_FALSE(c.data.trim);
  EXPECT_EQ(c.data.na_values, (std::vector<std::string>{"?", "-"}));
  EXPECT_EQ(c.data.on_error, OnError::kSkip);
  EXPECT_EQ(c.data.max_reported_errors, 3);
  EXPECT_FALSE(c.data.cache);
  EXPECT_EQ(c.data.cache_dir, "cache");

  ASSERT_EQ(c.features.size(), 3u);
  EXPECT_EQ(c.features[0].min_count, 2);
  EXPECT_EQ(c.features[0].embedding_dim, 4);
  EXPECT_EQ(c.features[1].kind, FeatureKind::kMultiCategorical);
  EXPECT_EQ(c.features[1].separator, ";");
  EXPECT_EQ(c.features[1].pooling, Pooling::kSum);
  EXPECT_EQ(c.features[1].share_with, "city");
  const FeatureConfig& price = c.features[2];
  EXPECT_EQ(price.kind, FeatureKind::kNumeric);
  EXPECT_TRUE(price.log1p);
  EXPECT_FALSE(price.standardize);
  EXPECT_EQ(price.clip, (std::vector<double>{0.0, 100.0}));
  EXPECT_EQ(price.fill, 1.5);
  EXPECT_EQ(price.missing_flag, MissingFlag::kAlways);
  EXPECT_EQ(price.buckets, 4);
  EXPECT_EQ(c.FindFeature("price"), &c.features[2]);
  EXPECT_EQ(c.FindFeature("nope"), nullptr);

  ASSERT_EQ(c.tasks.size(), 2u);
  EXPECT_EQ(c.tasks[0].column, "clicked");
  EXPECT_EQ(c.tasks[0].positive, (std::vector<std::string>{"yes", "y"}));
  EXPECT_EQ(c.tasks[0].weight, 2.0);
  EXPECT_EQ(c.tasks[0].oracle, "p_click");
  EXPECT_EQ(c.tasks[1].kind, TaskKind::kRegression);
  EXPECT_EQ(c.tasks[1].loss, LossKind::kHuber);
  EXPECT_EQ(c.tasks[1].huber_delta, 0.5);
  EXPECT_EQ(c.FindTask("spend"), &c.tasks[1]);
  EXPECT_EQ(c.FindTask("nope"), nullptr);

  EXPECT_EQ(c.model.embedding_dim, 8);
  EXPECT_EQ(c.model.bottom, (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(c.model.tower, (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(c.model.dropout, 0.1);
  EXPECT_EQ(c.model.embedding_init_std, 0.01);

  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.train.batch_size, 64);
  EXPECT_EQ(c.train.optimizer, DenseOptimizerKind::kAdamW);
  EXPECT_EQ(c.train.lr, 0.01);
  EXPECT_EQ(c.train.beta1, 0.8);
  EXPECT_EQ(c.train.beta2, 0.99);
  EXPECT_EQ(c.train.eps, 1e-6);
  EXPECT_EQ(c.train.weight_decay, 0.001);
  EXPECT_EQ(c.train.momentum, 0.5);
  EXPECT_EQ(c.train.embedding_optimizer, SparseOptimizerKind::kLazyAdam);
  EXPECT_EQ(c.train.embedding_lr, 0.1);
  EXPECT_EQ(c.train.seed, 9u);
  EXPECT_EQ(c.train.threads, 2);
  EXPECT_EQ(c.train.early_stop_metric, "logloss");
  EXPECT_EQ(c.train.early_stop_task, "click");
  EXPECT_EQ(c.train.patience, 4);
  EXPECT_EQ(c.train.checkpoint, "run.ckpt");
  EXPECT_EQ(c.eval.threshold, 0.3);
}

TEST(ConfigTest, ColumnDefaultsToNameAndLossToTheKind) {
  Config c = ParseConfig(R"(
[[features]]
name = "city"
[[features]]
name = "town"
column = "town_id"
[[tasks]]
name = "click"
[[tasks]]
name = "gmv"
kind = "regression"
[[tasks]]
name = "dwell"
column = "dwell_s"
kind = "regression"
loss = "huber"
)",
                         "cfg.toml");
  EXPECT_EQ(c.features[0].column, "city");
  EXPECT_EQ(c.features[1].column, "town_id");
  EXPECT_EQ(c.tasks[0].column, "click");
  EXPECT_EQ(c.tasks[0].loss, LossKind::kLogloss);
  EXPECT_EQ(c.tasks[1].column, "gmv");
  EXPECT_EQ(c.tasks[1].loss, LossKind::kMse);
  EXPECT_EQ(c.tasks[2].column, "dwell_s");
  EXPECT_EQ(c.tasks[2].loss, LossKind::kHuber);
}

TEST(ConfigTest, OverridesReplaceFileValues) {
  Config c = ParseConfig(kFull, "cfg.toml",
                         {"train.lr=0.5", "features.city.embedding_dim=12", "tasks.spend.weight=2",
                          "model.arch=shared_bottom", "data.on_error = fail", "model.bottom=[5, 3]"});
  EXPECT_EQ(c.train.lr, 0.5);
  EXPECT_EQ(c.features[0].embedding_dim, 12);
  EXPECT_EQ(c.tasks[1].weight, 2.0);         // an integer where a number is expected
  EXPECT_EQ(c.model.arch, Arch::kSharedBottom);  // a bare word is a string
  EXPECT_EQ(c.data.on_error, OnError::kFail);
  EXPECT_EQ(c.model.bottom, (std::vector<int64_t>{5, 3}));
  // Untouched keys keep the file's values.
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.features[0].min_count, 2);
}

TEST(ConfigTest, OverridesAddSectionsTheFileLacks) {
  Config c = ParseConfig(kMinimal, "cfg.toml", {"train.lr=0.01", "eval.threshold=0.25"});
  EXPECT_EQ(c.train.lr, 0.01);
  EXPECT_EQ(c.eval.threshold, 0.25);
}

TEST(ConfigTest, OverridesGetTheSameChecksAsTheFile) {
  EXPECT_NE(ParseError(kMinimal, {"train.epochs=three"}).find("'epochs' expects an integer"), std::string::npos);
  EXPECT_NE(ParseError(kMinimal, {"features.city.log1p=true"}).find("applies only to kind 'numeric'"),
            std::string::npos);
  EXPECT_NE(ParseError(kMinimal, {"train.optimiser=sgd"}).find("(did you mean 'optimizer'?)"), std::string::npos);
}

TEST(ConfigTest, BadOverridesAreRefused) {
  std::string error = ParseError(kMinimal, {"trian.lr=0.1"});
  EXPECT_NE(error.find("unknown section 'trian'"), std::string::npos) << error;
  EXPECT_NE(error.find("(did you mean 'train'?)"), std::string::npos) << error;

  error = ParseError(kMinimal, {"features.cty.min_count=2"});
  EXPECT_NE(error.find("no features entry named 'cty'"), std::string::npos) << error;
  EXPECT_NE(error.find("(did you mean 'city'?)"), std::string::npos) << error;

  error = ParseError(kMinimal, {"tasks.buy.weight=1"});
  EXPECT_NE(error.find("no tasks entry named 'buy'"), std::string::npos) << error;

  error = ParseError(kMinimal, {"train.lr"});
  EXPECT_NE(error.find("must look like section.key=value"), std::string::npos) << error;
  EXPECT_NE(ParseError(kMinimal, {"=3"}).find("must look like section.key=value"), std::string::npos);

  error = ParseError(kMinimal, {"features.min_count=2"});
  EXPECT_NE(error.find("must look like features.NAME.key=value"), std::string::npos) << error;
  error = ParseError(kMinimal, {"train.a.b=2"});
  EXPECT_NE(error.find("must look like train.key=value"), std::string::npos) << error;
}

TEST(ConfigTest, UnknownKeyInTrainSaysWhereAndSuggests) {
  const std::string text = "[train]\nepochs = 2\nlearning_rat = 0.1\n";
  std::string error = ParseError(text);
  EXPECT_NE(error.find("cfg.toml:3:1: unknown key 'learning_rat' in [train]"), std::string::npos) << error;
  // Too far from every key for a suggestion.
  error = ParseError("[train]\nlearning_rat = 0.1\n");
  EXPECT_EQ(error.find("did you mean"), std::string::npos) << error;
  error = ParseError("[train]\n  epoch = 2\n");
  EXPECT_NE(error.find("cfg.toml:2:3: unknown key 'epoch' in [train] (did you mean 'epochs'?)"), std::string::npos)
      << error;
}

TEST(ConfigTest, UnknownKeyInFeatureEntrySaysWhereAndSuggests) {
  std::string error = ParseError("[[features]]\nname = \"city\"\nmin_cont = 3\n");
  EXPECT_NE(error.find("cfg.toml:3:1: unknown key 'min_cont' in [[features]] (did you mean 'min_count'?)"),
            std::string::npos)
      << error;
  error = ParseError("[[tasks]]\nname = \"click\"\nwieght = 3\n");
  EXPECT_NE(error.find("cfg.toml:3:1: unknown key 'wieght' in [[tasks]] (did you mean 'weight'?)"), std::string::npos)
      << error;
}

TEST(ConfigTest, UnknownSectionSuggests) {
  std::string error = ParseError("[modle]\narch = \"shared_bottom\"\n");
  EXPECT_NE(error.find("cfg.toml:1:2: unknown section 'modle' (did you mean 'model'?)"), std::string::npos) << error;
}

TEST(ConfigTest, SyntaxErrorSaysWhere) {
  std::string error = ParseError("[train]\nepochs = = 2\n");
  EXPECT_EQ(error.rfind("cfg.toml:2:", 0), 0u) << error;
}

TEST(ConfigTest, KeyOfAnotherKindIsRefused) {
  std::string error = ParseError("[[features]]\nname = \"city\"\nlog1p = true\n");
  EXPECT_NE(error.find("cfg.toml:3:9: key 'log1p' of feature 'city' applies only to kind 'numeric', not 'categorical'"),
            std::string::npos)
      << error;
  error = ParseError("[[features]]\nname = \"price\"\nkind = \"numeric\"\nseparator = \";\"\n");
  EXPECT_NE(error.find("key 'separator' of feature 'price' applies only to kind 'multi_categorical'"),
            std::string::npos)
      << error;
  error = ParseError("[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\nequals = \"1\"\n");
  EXPECT_NE(error.find("key 'equals' of task 'gmv' applies only to kind 'binary', not 'regression'"), std::string::npos)
      << error;
  // min_count applies to both categorical kinds.
  EXPECT_EQ(ParseError("[[features]]\nname = \"tags\"\nkind = \"multi_categorical\"\nmin_count = 2\n"), "");
}

TEST(ConfigTest, WrongTypeIsRefusedNamingTheKey) {
  std::string error = ParseError("[train]\nepochs = \"3\"\n");
  EXPECT_NE(error.find("cfg.toml:2:10: 'epochs' expects an integer"), std::string::npos) << error;
  error = ParseError("[train]\nlr = \"fast\"\n");
  EXPECT_NE(error.find("'lr' expects a number"), std::string::npos) << error;
  error = ParseError("[data]\nheader = 1\n");
  EXPECT_NE(error.find("'header' expects true or false"), std::string::npos) << error;
  error = ParseError("[model]\nbottom = 8\n");
  EXPECT_NE(error.find("'bottom' expects a list"), std::string::npos) << error;
  error = ParseError("[model]\nbottom = [8, \"4\"]\n");
  EXPECT_NE(error.find("'bottom' expects an integer"), std::string::npos) << error;
  error = ParseError("[train]\nseed = -1\n");
  EXPECT_NE(error.find("'seed' expects a non-negative integer"), std::string::npos) << error;
  error = ParseError("[data]\ntrain = 3\n");
  EXPECT_NE(error.find("'train' expects a string"), std::string::npos) << error;
  error = ParseError("train = 3\n");
  EXPECT_NE(error.find("'train' must be a table"), std::string::npos) << error;
}

TEST(ConfigTest, ChoiceOutOfItsListSuggests) {
  std::string error = ParseError("[train]\noptimizer = \"adamm\"\n");
  EXPECT_NE(error.find("cfg.toml:2:13: 'optimizer' is 'adamm', expected one of 'adam', 'adamw', 'sgd' (did you mean "
                       "'adam'?)"),
            std::string::npos)
      << error;
  error = ParseError("[[features]]\nname = \"x\"\nkind = \"numerical\"\n");
  EXPECT_NE(error.find("(did you mean 'numeric'?)"), std::string::npos) << error;
  error = ParseError("[train]\nprecision = \"fp16\"\n");
  EXPECT_NE(error.find("cfg.toml:2:13: 'precision' is 'fp16', expected one of 'f32', 'bf16'"), std::string::npos)
      << error;
}

TEST(ConfigTest, ValidationErrors) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"click\"\n", "cfg.toml: task 'click' is declared twice"},
      {"[[features]]\nname = \"a\"\n[[features]]\nname = \"a\"\n", "feature 'a' is declared twice"},
      {"[[features]]\nname = \"clicked\"\n[[tasks]]\nname = \"click\"\ncolumn = \"clicked\"\n",
       "feature 'clicked' reads column 'clicked', which is the label of task click: a label must not be an input"},
      {"[[features]]\nname = \"p\"\n[[tasks]]\nname = \"click\"\noracle = \"p\"\n",
       "which is the label of task click (oracle)"},
      {"[[features]]\nname = \"x\"\nkind = \"numeric\"\nclip = [5.0, 1.0]\n",
       "feature 'x': clip must be [lo, hi] with lo < hi"},
      {"[[features]]\nname = \"x\"\nkind = \"numeric\"\nclip = [1.0]\n", "clip must be [lo, hi]"},
      {"[[features]]\nname = \"x\"\nshare_with = \"y\"\n", "feature 'x': share_with names no feature 'y'"},
      {"[[features]]\nname = \"x\"\nshare_with = \"x\"\n", "feature 'x' cannot share with itself"},
      {"[[features]]\nname = \"n\"\nkind = \"numeric\"\n[[features]]\nname = \"x\"\nshare_with = \"n\"\n",
       "share_with must name a categorical or multi_categorical feature that owns its table"},
      {"[[tasks]]\nname = \"click\"\n[train]\nearly_stop_task = \"clik\"\n",
       "train.early_stop_task names no task 'clik' (did you mean 'click'?)"},
      {"[[tasks]]\nname = \"click\"\nauxiliary = true\n",
       "every task is auxiliary; at least one task must be a main task (auxiliary = false)"},
      {"[[tasks]]\nname = \"click\"\nloss = \"mse\"\n",
       "task 'click' is binary: its loss must be 'logloss', not 'mse'"},
      {"[[tasks]]\nname = \"y\"\nkind = \"regression\"\nloss = \"logloss\"\n",
       "task 'y' is a regression: its loss must be 'mse', 'huber', 'poisson', 'tweedie', 'negbin', 'pinball' or 'ziln'"},
      {"[[tasks]]\nname = \"click\"\npositive = [\"1\"]\nequals = \"1\"\n", "give either 'positive' or 'equals'"},
      {"[[tasks]]\nname = \"click\"\nweight = -1\n", "task 'click': weight must be >= 0, got -1"},
      {"[data]\nheader = false\n", "data.header = false needs data.columns"},
      {"[data]\ndelimiter = \"\"\n", "data.delimiter must not be empty"},
      {"[data]\nvalid_from_test = 1.0\n", "data.valid_from_test must be in [0, 1), got 1"},
      {"[data]\nvalid_fraction = -0.1\n", "data.valid_fraction must be in [0, 1), got -0.1"},
      {"[data]\ntest_fraction = 1\n", "data.test_fraction must be in [0, 1), got 1"},
      {"[data]\nvalid_fraction = 0.6\ntest_fraction = 0.4\n",
       "data.valid_fraction + data.test_fraction is 0.6 + 0.4; it must stay below 1 to leave rows to train on"},
      {"[data]\nvalid = \"v.csv\"\nvalid_fraction = 0.1\n",
       "data.valid_fraction holds out validation rows of the training file, and data.valid names a validation file "
       "('v.csv'): set one of them"},
      {"[data]\ntest = \"t.csv\"\ntest_fraction = 0.1\n", "and data.test names a test file ('t.csv')"},
      {"[data]\ntest = \"t.csv\"\nvalid_from_test = 0.5\nvalid_fraction = 0.1\n",
       "data.valid_from_test cuts the validation set from the test file"},
      {"[data]\nvalid_fraction = 0.1\nsplit_group = \"user\"\nsplit_time = \"day\"\n",
       "data.split_group ('user') and data.split_time ('day') are both set; a split is by group or by time"},
      {"[data]\nsplit_time = \"day\"\n",
       "data.split_time is set but nothing is split: set data.valid_fraction or data.test_fraction"},
      {"[[tasks]]\nname = \"click\"\npos_weight = 0\n", "task 'click': pos_weight must be > 0, got 0"},
      {"[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\npos_weight = 2\n",
       "key 'pos_weight' of task 'gmv' applies only to kind 'binary', not 'regression'"},
      {"[[features]]\nname = \"x\"\nmin_count = 0\n", "feature 'x': min_count must be >= 1"},
      {"[[features]]\nname = \"x\"\nkind = \"numeric\"\nbuckets = 1\n", "buckets must be 0 or >= 2"},
      {"[model]\nbottom = []\n", "model.bottom needs at least one layer width"},
      {"[model]\ntower = [4, 0]\n", "model.tower widths must be > 0"},
      {"[model]\ndropout = 1.0\n", "model.dropout must be in [0, 1), got 1"},
      {"[train]\nepochs = 0\n", "train.epochs must be >= 1"},
      {"[train]\nlr = 0.0\n", "train.lr and train.embedding_lr must be > 0"},
      {"[train]\nbeta2 = 1.0\n", "train.beta1 and train.beta2 must be in [0, 1)"},
      {"[[features]]\nname = \"x\"\nembedding_l2 = -0.5\n",
       "feature 'x': embedding_l2 must be >= 0, or -1 for train.embedding_l2, got -0.5"},
      {"[[features]]\nname = \"x\"\nkind = \"numeric\"\nembedding_l2 = 0.5\n",
       "feature 'x' is numeric without buckets, so it has no embedding: embedding_dim and embedding_l2 do not apply"},
      {"[[features]]\nname = \"x\"\nkind = \"numeric\"\nembedding_dim = 4\n",
       "feature 'x' is numeric without buckets, so it has no embedding"},
      {"[[features]]\nname = \"a\"\n[[features]]\nname = \"b\"\nshare_with = \"a\"\nembedding_l2 = 0.5\n",
       "feature 'b' uses the table of 'a': set embedding_l2 on 'a', the table's owner"},
      {"[train]\nembedding_l2 = -0.5\n", "train.embedding_l2 must be >= 0, got -0.5"},
      {"[train]\nwarmup_steps = -1\n", "train.warmup_steps must be >= 0, got -1"},
      {"[train]\nfinal_lr_ratio = -0.5\n", "train.final_lr_ratio must be in [0, 1], got -0.5"},
      {"[train]\nema_decay = -0.1\n", "train.ema_decay must be in [0, 1) (0 = off), got -0.1"},
      {"[train]\nlr_schedule = \"step\"\n", "lr_schedule"},
      {"[eval]\nthreshold = 1.0\n", "eval.threshold must be in (0, 1)"},
      {"[[tasks]]\nname = \"buy\"\nparent = \"clik\"\n[[tasks]]\nname = \"click\"\n",
       "task 'buy': parent names no task 'clik' (did you mean 'click'?)"},
      {"[[tasks]]\nname = \"buy\"\nparent = \"buy\"\n", "task 'buy' cannot be its own parent"},
      {"[[tasks]]\nname = \"a\"\nparent = \"b\"\n[[tasks]]\nname = \"b\"\nparent = \"c\"\n"
       "[[tasks]]\nname = \"c\"\nparent = \"a\"\n",
       "the task graph has a cycle: a -> b -> c -> a"},
      {"[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\n[[tasks]]\nname = \"buy\"\nparent = \"gmv\"\n",
       "task 'buy': parent 'gmv' is a regression task; a parent must be binary"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\nparent = \"click\"\n",
       "task 'gmv' is a regression: mode = \"chain\" multiplies probabilities"},
      {"[[tasks]]\nname = \"click\"\noracle_given_parent = \"p\"\n", "task 'click': oracle_given_parent needs a parent"},
      {"[[tasks]]\nname = \"click\"\ncounterfactual = \"ips\"\n",
       "task 'click': counterfactual = \"ips\" regularises p(task | parent) of a chain: it needs a parent"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\nparent = \"click\"\nmode = \"masked\"\n"
       "counterfactual = \"dr\"\n",
       "task 'buy': counterfactual = \"dr\" regularises p(task | parent) of a chain: it needs a parent and mode = "
       "\"chain\""},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\nparent = \"click\"\ncounterfactual = \"dr\"\n"
       "counterfactual_clip = 1.5\n",
       "task 'buy': counterfactual_clip must be in (0, 1), got 1.5"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\nparent = \"click\"\ncounterfactual = \"ips\"\n"
       "counterfactual_weight = 0\n",
       "task 'buy': counterfactual_weight must be > 0, got 0"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\nparent = \"click\"\ncounterfactual_weight = 0.5\n",
       "task 'buy': counterfactual_weight and counterfactual_clip apply with counterfactual = \"ips\" or \"dr\" only"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\nparent = \"click\"\ncounterfactual = \"ipw\"\n",
       "expected one of 'none', 'ips', 'dr' (did you mean 'ips'?)"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\nparent = \"click\"\nmode = \"chained\"\n",
       "expected one of 'chain', 'masked', 'direct' (did you mean 'chain'?)"},
      {"[model]\nexperts = 0\n", "model.experts must be >= 1"},
      {"[model]\nscenario_features = [\"site\"]\n",
       "model.scenario_features applies to model.arch = \"pepnet\" only, not \"shared_bottom\""},
      {"[model]\narch = \"pepnet\"\ntower = [16, 1]\n",
       "pepnet: model.tower widths must be >= 2 (PPNet gates each layer's input), got 1"},
      {"[model]\narch = \"pepnet\"\ngate_scale = 0\n", "model.gate_scale must be > 0, got 0"},
      {"[model]\nexpert = []\n", "model.expert needs at least one layer width"},
      {"[model]\narch = \"home\"\nexpert = [64]\n",
       "home: model.expert needs two widths, the meta level's and the task level's experts, got 1"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"cart\"\n[model]\narch = \"home\"\n"
       "task_groups = [[\"click\"], [\"cart\", \"clik\"]]\n",
       "model.task_groups: group 2 names no task 'clik' (did you mean 'click'?)"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"cart\"\n[model]\narch = \"home\"\n"
       "task_groups = [[\"click\", \"cart\"], [\"cart\"]]\n",
       "model.task_groups: task 'cart' is in more than one group"},
      {"[[tasks]]\nname = \"click\"\n[model]\narch = \"home\"\ntask_groups = [[]]\n",
       "model.task_groups: group 1 is empty"},
      {"[model]\ntask_groups = [\"click\"]\n", "expects a list of lists"},
      {"[model]\narch = \"ple\"\nfeature_gate_rank = 4\n",
       "model.feature_gate_rank applies to model.arch = \"home\" only, not \"ple\""},
      {"[model]\narch = \"mmoe\"\nprior_features = [\"user_id\"]\n",
       "model.prior_features applies to model.arch = \"pepnet\" only, not \"mmoe\""},
      {"[model]\narch = \"home\"\ngate_scale = 3\n",
       "model.gate_scale applies to model.arch = \"pepnet\" only, not \"home\""},
      {"[[tasks]]\nname = \"click\"\n[model]\narch = \"pepnet\"\ntask_groups = [[\"click\"]]\n",
       "model.task_groups applies to model.arch = \"home\" only, not \"pepnet\""},
      {"[model]\narch = \"stem\"\ngroup_experts = 2\n",
       "model.group_experts applies to model.arch = \"home\" only, not \"stem\""},
      {"[model]\narch = \"home\"\ngroup_experts = 0\n", "model.group_experts must be >= 1, got 0"},
      {"[model]\narch = \"home\"\nfeature_gate_rank = -1\n",
       "model.feature_gate_rank must be >= 0 (0: no feature gates), got -1"},
      {"[model]\narch = \"mmeo\"\n", "(did you mean 'mmoe'?)"},
      {"[eval]\ncalibration_bins = 0\n", "eval.calibration_bins is 0; expected 1 to 1000"},
      {"[eval]\nranking_k = [10, 0]\n", "eval.ranking_k holds 0; expected every k >= 1"},
      {"[eval]\nmax_slices = 0\n", "eval.max_slices is 0; expected at least 1"},
      {"[[tasks]]\nname = \"click\"\n[eval]\nrelevance = [\"clik\"]\n",
       "eval.relevance names no task 'clik' (did you mean 'click'?)"},
      {"[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\n[eval]\nrelevance = [\"gmv\"]\n",
       "eval.relevance: task 'gmv' is regression; expected a binary task"},
      {"[[tasks]]\nname = \"click\"\n[eval]\nvalue_task = \"click\"\n",
       "eval.value_task: task 'click' is binary; expected a regression task"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\n[eval]\nsample_spaces = [\"buy click\"]\n",
       "eval.sample_spaces entry 'buy click' must look like \"TASK|CONDITION\""},
      {"[[tasks]]\nname = \"click\"\n[eval]\nsample_spaces = [\"click|click\"]\n", "conditions a task on itself"},
      {"[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\n"
       "[eval]\nsample_spaces = [\"click|gmv\"]\n",
       "eval.sample_spaces: task 'gmv' is regression; expected a binary task"},
      {"[[tasks]]\nname = \"click\"\n[serve]\nblend = { clik = 1 }\n",
       "serve.blend names no task 'clik' (did you mean 'click'?); the tasks are 'click'"},
      {"[[tasks]]\nname = \"click\"\n[serve]\nblend = { click = \"high\" }\n", "'blend' expects a number"},
      {"[serve]\nblend = [1, 2]\n", "'blend' expects a table of task weights"},
      {"[[tasks]]\nname = \"click\"\n[serve]\nblend_mode = \"product\"\nblend = { click = -1 }\n",
       "a product blend needs weights >= 0"},
      {"[[features]]\nname = \"city\"\n[serve]\nblend_feature = \"city\"\n",
       "serve.blend_feature 'city' is not a numeric feature"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"tweedie\"\ntweedie_power = 2.0\n",
       "task 'sales': tweedie_power must be in (1, 2), got 2"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"poisson\"\ntweedie_power = 1.2\n",
       "task 'sales': tweedie_power applies to loss 'tweedie' only, not 'poisson'"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"negbin\"\nnegbin_alpha = 0\n",
       "task 'sales': negbin_alpha must be > 0, got 0"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nnegbin_alpha = 2.0\n",
       "task 'sales': negbin_alpha applies to loss 'negbin' only, not 'mse'"},
      {"[[tasks]]\nname = \"p\"\nkind = \"regression\"\nloss = \"pinball\"\nquantile = 1.0\n",
       "task 'p': quantile must be in (0, 1), got 1"},
      {"[[tasks]]\nname = \"p\"\nkind = \"regression\"\nloss = \"huber\"\nquantile = 0.9\n",
       "task 'p': quantile applies to loss 'pinball' only, not 'huber'"},
      {"[[tasks]]\nname = \"click\"\nquantile = 0.9\n", "key 'quantile' of task 'click' applies only to kind"},
      {"[[tasks]]\nname = \"v\"\nkind = \"regression\"\nloss = \"mse\"\nquantiles = [0.9]\n",
       "task 'v': quantiles applies to loss 'ziln' only, not 'mse'"},
      {"[[tasks]]\nname = \"v\"\nkind = \"regression\"\nloss = \"ziln\"\nquantiles = [0.5, 1.0]\n",
       "task 'v': quantiles must each be in (0, 1), got 1"},
      {"[[tasks]]\nname = \"c\"\npropensity = \"t\"\n",
       "task 'c': propensity weights the arms of a treatment; set treatment too"},
      {"[[tasks]]\nname = \"c\"\noracle_uplift = \"tau\"\n", "task 'c': oracle_uplift needs a treatment"},
      {"[[tasks]]\nname = \"c\"\ntreatment = \"c\"\n", "task 'c': treatment names the label column 'c' itself"},
      {"[[tasks]]\nname = \"c\"\ntreatment = \"t\"\npropensity = \"nope\"\n",
       "task 'c': propensity names no task 'nope'"},
      {"[[tasks]]\nname = \"c\"\ntreatment = \"t\"\npropensity = \"d\"\n[[tasks]]\nname = \"d\"\n",
       "task 'c': propensity task 'd' must be a binary task on the treatment column 't' (column = \"t\")"},
      {"[[tasks]]\nname = \"c\"\ntreatment = \"t\"\npropensity_clip = 0.5\n",
       "task 'c': propensity_clip must be in (0, 0.5), got 0.5"},
      {"[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"c\"\ntreatment = \"t\"\nparent = \"a\"\n",
       "task 'c': a task with a treatment can neither have a parent nor be a pinball rung"},
      {"[[tasks]]\nname = \"c\"\ntreatment = \"t\"\n[[tasks]]\nname = \"d\"\nparent = \"c\"\n",
       "task 'c' has a treatment, so it cannot be the parent of task 'd'"},
      {"[eval]\ntop_percent = [10, 0]\n[[tasks]]\nname = \"c\"\n",
       "eval.top_percent holds 0; expected every k in 1..100"},
      {"[[tasks]]\nname = \"c\"\ntreatment = \"t\"\n[[features]]\nname = \"t\"\nkind = \"numeric\"\n",
       "feature 't' reads column 't', which is the label of task c (treatment)"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"tweedie\"\ncensored = \"stockout\"\n",
       "task 'sales': censored = \"stockout\" needs loss 'poisson' or 'negbin' (their survival function gives the "
       "likelihood of a lower bound); loss 'tweedie' has none"},
      {"[[tasks]]\nname = \"q\"\ncolumn = \"sales\"\nkind = \"regression\"\nloss = \"pinball\"\n"
       "censored = \"stockout\"\n",
       "loss 'pinball' has none"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"poisson\"\ncensored = \"sales\"\n",
       "task 'sales': censored names the label column 'sales' itself"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nhorizon = -1\n",
       "task 'sales': horizon must be >= 0 days, got -1"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nnaive = \"sales\"\n",
       "task 'sales': naive names the label column 'sales' itself"},
      {"[[tasks]]\nname = \"click\"\nnaive = \"click_lag7\"\n", "key 'naive' of task 'click' applies only to kind"},
      {"[[features]]\nname = \"stockout\"\n[[tasks]]\nname = \"sales\"\nkind = \"regression\"\n"
       "loss = \"poisson\"\ncensored = \"stockout\"\n",
       "feature 'stockout' reads column 'stockout', which is the label of task sales (censored)"},
      {"[[tasks]]\nname = \"a\"\ncolumn = \"sales\"\nkind = \"regression\"\nloss = \"pinball\"\nquantile = 0.9\n"
       "[[tasks]]\nname = \"b\"\ncolumn = \"sales\"\nkind = \"regression\"\nloss = \"pinball\"\nquantile = 0.9\n",
       "tasks 'a' and 'b' are both the 0.9 quantile of column 'sales': give each a different quantile"},
      {"[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"logloss\"\n",
       "its loss must be 'mse', 'huber', 'poisson', 'tweedie', 'negbin', 'pinball' or 'ziln', not 'logloss'"},
      {"[[tasks]]\nname = \"click\"\nloss = \"poisson\"\n",
       "task 'click' is binary: its loss must be 'logloss', not 'poisson'"},
  };
  for (const auto& c : cases) {
    std::string error = ParseError(c.text);
    EXPECT_NE(error.find(c.expected), std::string::npos) << "config:\n" << c.text << "\nerror: " << error;
  }
}

TEST(ConfigTest, ValidationAcceptsATaskWithoutFeatures) {
  EXPECT_EQ(ParseError("[[tasks]]\nname = \"click\"\n[train]\nearly_stop_task = \"click\"\n"), "");
}

TEST(ConfigTest, RoundTripThroughToml) {
  for (const char* text : {kMinimal, kFull}) {
    Config c = ParseConfig(text, "cfg.toml");
    for (bool comments : {false, true}) {
      std::string toml = ConfigToToml(c, comments);
      Config again = ParseConfig(toml, "resolved.toml");
      EXPECT_EQ(ConfigToToml(again, comments), toml);
      EXPECT_EQ(ConfigToToml(again, false), ConfigToToml(c, false));
    }
  }
  // Spot checks that the values themselves survive, not only the text.
  Config again = ParseConfig(ConfigToToml(ParseConfig(kFull, "cfg.toml"), true), "resolved.toml");
  EXPECT_EQ(again.data.delimiter, ", ");
  EXPECT_EQ(again.features[2].clip, (std::vector<double>{0.0, 100.0}));
  EXPECT_EQ(again.tasks[0].positive, (std::vector<std::string>{"yes", "y"}));
  EXPECT_EQ(again.train.eps, 1e-6);
  EXPECT_EQ(again.train.seed, 9u);
  EXPECT_EQ(again.model.embedding_init_std, 0.01);
  EXPECT_EQ(again.eval.ranking_k, (std::vector<int64_t>{3, 20}));
  EXPECT_EQ(again.eval.sample_spaces, (std::vector<std::string>{"spend|click"}));
  EXPECT_EQ(again.eval.slice_by, "country");
  EXPECT_FALSE(again.tasks[0].auxiliary);
  EXPECT_TRUE(again.tasks[1].auxiliary);
  EXPECT_EQ(again.eval.max_slices, 5);
  EXPECT_EQ(again.serve.blend, (NamedWeights{{"click", 1.0}, {"spend", 0.25}}));
  EXPECT_EQ(again.serve.blend_mode, BlendMode::kProduct);
  EXPECT_EQ(again.serve.blend_feature, "price");
}

TEST(ConfigTest, BlendOverrideFromTheCommandLine) {
  Config c = ParseConfig(kFull, "cfg.toml", {"serve.blend={spend=2,click=0.5}"});
  // TOML tables have no order: the weights come back sorted by task name.
  EXPECT_EQ(c.serve.blend, (NamedWeights{{"click", 0.5}, {"spend", 2.0}}));
}

TEST(ConfigTest, RoundTripKeepsQuotesAndBackslashes) {
  Config c = ParseConfig(kMinimal, "cfg.toml", {"data.delimiter=\"\\t\"", R"(tasks.click.equals="a \"b\" \\ c")"});
  EXPECT_EQ(c.data.delimiter, "\t");
  EXPECT_EQ(c.tasks[0].equals, "a \"b\" \\ c");
  Config again = ParseConfig(ConfigToToml(c), "resolved.toml");
  EXPECT_EQ(again.data.delimiter, "\t");
  EXPECT_EQ(again.tasks[0].equals, "a \"b\" \\ c");
}

TEST(ConfigTest, TomlWritesOnlyTheKeysOfEachKind) {
  std::string toml = ConfigToToml(ParseConfig(kFull, "cfg.toml"));
  // Three features: 'separator' only for the multi_categorical one, 'log1p' only for the numeric one.
  size_t separators = 0;
  size_t logs = 0;
  std::istringstream in(toml);
  for (std::string line; std::getline(in, line);) {
    separators += line.rfind("separator = ", 0) == 0;
    logs += line.rfind("log1p = ", 0) == 0;
  }
  EXPECT_EQ(separators, 1u);
  EXPECT_EQ(logs, 1u);
  EXPECT_NE(toml.find("delimiter = \", \"\n"), std::string::npos);
  EXPECT_NE(toml.find("eps = 1e-06\n"), std::string::npos) << toml;
  EXPECT_NE(toml.find("weight = 2.0\n"), std::string::npos) << toml;
  EXPECT_EQ(toml.find("# Rows per step."), std::string::npos) << "comments are off";
  EXPECT_NE(ConfigToToml(ParseConfig(kFull, "cfg.toml"), true).find("# Rows per step.\nbatch_size = 64\n"),
            std::string::npos);
}

// Every field of every config struct, by section, as the reference must list it.
const std::map<std::string, std::vector<std::string>>& AllKeys() {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"[data]",
       {"train", "valid", "test", "valid_from_test", "valid_fraction", "test_fraction", "split_group", "split_time",
        "split_by", "valid_dates", "test_dates", "split_seed", "delimiter", "header", "columns", "trim",
        "na_values", "on_error", "max_reported_errors", "cache", "cache_dir"}},
      {"[time_series]", {"date", "series"}},
      {"[[time_series.columns]]", {"name", "column", "op", "lag", "window", "by"}},
      {"[[features]]",
       {"name", "column", "kind", "min_count", "hash_buckets", "embedding_dim", "log1p", "standardize", "clip", "fill",
        "missing_flag", "buckets", "separator", "pooling", "share_with", "embedding_l2"}},
      {"[[tasks]]",
       {"name", "column", "kind", "loss", "weight", "positive", "equals", "huber_delta", "tweedie_power",
        "negbin_alpha", "quantile", "censored", "quantiles", "treatment", "propensity", "propensity_clip",
        "oracle_uplift", "pos_weight", "oracle", "horizon", "naive", "parent", "mode", "oracle_given_parent",
        "counterfactual", "counterfactual_weight", "counterfactual_clip", "warm_start_from", "auxiliary"}},
      {"[model]",
       {"arch", "embedding_dim", "bottom", "tower", "experts", "task_experts", "expert", "calibrator", "dropout",
        "batch_norm", "numeric_projection", "embedding_init_std", "scenario_features", "prior_features", "gate_scale",
        "task_groups", "group_experts", "feature_gate_rank"}},
      {"[train]",
       {"epochs", "stop_after_epochs", "batch_size", "optimizer", "lr", "beta1", "beta2", "eps", "weight_decay",
        "momentum", "embedding_optimizer", "embedding_lr", "embedding_l2", "lr_schedule", "warmup_steps", "final_lr_ratio",
        "ema_decay", "seed", "shuffle", "threads", "shard_rows",
        "early_stop_metric", "early_stop_task", "patience",
        "checkpoint", "normalize_losses", "weighting", "weighting_lr", "gradnorm_alpha", "dwa_temperature", "cagrad_c",
        "gradient_space", "conflict_every", "baseline", "freeze", "admit_new_ids", "refit_numeric", "precision"}},
      {"[eval]",
       {"threshold", "calibration_bins", "group_by", "ranking_k", "relevance", "value_task", "sample_spaces",
        "slice_by", "max_slices", "top_percent", "importance"}},
      {"[serve]", {"blend", "blend_mode", "blend_feature"}},
      {"[stream]",
       {"passes", "publish_every", "publish_minutes", "evict_after", "max_rows", "wait_seconds", "poll_seconds"}},
  };
  return keys;
}

// The text of one "## <title>" section of the reference.
std::string ReferenceSection(const std::string& markdown, const std::string& title) {
  size_t begin = markdown.find("\n## " + title + "\n");
  if (begin == std::string::npos) return "";
  size_t end = markdown.find("\n## ", begin + 1);
  return markdown.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

TEST(ConfigTest, ReferenceMentionsEveryKeyOfEverySection) {
  const std::string markdown = ConfigReferenceMarkdown();
  for (const auto& [title, keys] : AllKeys()) {
    std::string section = ReferenceSection(markdown, title);
    ASSERT_FALSE(section.empty()) << "no section " << title;
    size_t rows = 0;
    std::istringstream in(section);
    for (std::string line; std::getline(in, line);) rows += line.rfind("| `", 0) == 0;
    EXPECT_EQ(rows, keys.size()) << title;
    for (const auto& key : keys) {
      EXPECT_NE(section.find("| `" + key + "` |"), std::string::npos) << title << " lacks " << key;
    }
  }
  // Defaults and kinds are shown.
  EXPECT_NE(ReferenceSection(markdown, "[train]").find("| `optimizer` | `\"adam\"` |"), std::string::npos);
  EXPECT_NE(ReferenceSection(markdown, "[[features]]").find("| `log1p` | `false` | 'numeric' |"), std::string::npos);
}

// The keys the resolved TOML writes are exactly the keys of the struct lists above.
TEST(ConfigTest, TomlWritesEveryKeyOfEverySection) {
  std::string toml = ConfigToToml(ParseConfig(kFull, "cfg.toml"));
  std::map<std::string, std::set<std::string>> written;
  std::string section;
  std::istringstream in(toml);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line[0] == '[') {
      section = line;
      continue;
    }
    written[section].insert(line.substr(0, line.find(" = ")));
  }
  for (const auto& [title, keys] : AllKeys()) {
    EXPECT_EQ(written[title], std::set<std::string>(keys.begin(), keys.end())) << title;
  }
}

TEST(ConfigTest, StreamKeysAreReadAndCheckedWithTheirNames) {
  const Config config = ParseConfig(kMinimal, "cfg.toml", {"stream.evict_after=7", "stream.wait_seconds=-1"});
  EXPECT_EQ(config.stream.evict_after, 7);
  EXPECT_EQ(config.stream.wait_seconds, -1);
  EXPECT_EQ(config.stream.passes, 1);
  EXPECT_EQ(ParseError(kMinimal, {"stream.passes=0"}), "cfg.toml: stream.passes must be >= 1, got 0");
  EXPECT_EQ(ParseError(kMinimal, {"stream.max_rows=-5"}), "cfg.toml: stream.max_rows must be >= 0, got -5");
  EXPECT_EQ(ParseError(kMinimal, {"stream.poll_seconds=0"}), "cfg.toml: stream.poll_seconds must be > 0, got 0");
  EXPECT_NE(ParseError(kMinimal, {"stream.evict=3"}).find("unknown key 'evict' in [stream]"), std::string::npos);
}

TEST(ConfigTest, DocsConfigMdMatchesTheConfigDeclarations) {
  const std::string path = std::string(MTREC_SOURCE_DIR) + "/docs/config.md";
  ASSERT_TRUE(FileExists(path)) << path
                                << " is missing; regenerate it with `mtrec train --print-reference > docs/config.md`";
  EXPECT_EQ(ReadFileBytes(path), ConfigReferenceMarkdown())
      << "docs/config.md is out of date; regenerate it with `mtrec train --print-reference > docs/config.md`";
}

TEST(ConfigTest, LoadConfigRecordsItsPathAndResolvesDataPaths) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()).lexically_normal();
  const std::string path = (dir / ("config_test_load." + std::to_string(::getpid()) + ".toml")).string();
  {
    std::ofstream out(path);
    out << kMinimal;
  }
  Config c = LoadConfig(path, {"train.epochs=1"});
  EXPECT_EQ(c.source_path, path);
  EXPECT_EQ(c.train.epochs, 1);
  EXPECT_EQ(DataPath(c, "train.csv"), (dir / "train.csv").string());
  EXPECT_EQ(DataPath(c, "/abs/train.csv"), "/abs/train.csv");
  std::filesystem::remove(path);
  std::string error = ErrorOf([&] { LoadConfig(path); });
  EXPECT_NE(error.find("cannot read the config"), std::string::npos) << error;
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

TEST(ConfigTest, SplitOfTheTrainingFileAndPosWeightRoundTrip) {
  const Config c = ParseConfig(
      "[data]\ntrain = \"t.csv\"\nvalid_fraction = 0.2\ntest_fraction = 0.1\nsplit_group = \"user_id\"\n"
      "split_seed = 9\n[[tasks]]\nname = \"buy\"\npos_weight = 10\n",
      "cfg.toml");
  EXPECT_EQ(c.data.valid_fraction, 0.2);
  EXPECT_EQ(c.data.test_fraction, 0.1);
  EXPECT_EQ(c.data.split_group, "user_id");
  EXPECT_EQ(c.data.split_time, "");
  EXPECT_EQ(c.tasks[0].pos_weight, 10.0);
  const Config again = ParseConfig(ConfigToToml(c), "again.toml");
  EXPECT_EQ(ConfigToToml(again), ConfigToToml(c));
  EXPECT_EQ(again.tasks[0].pos_weight, 10.0);
  // A config built in code skips the TOML kind check; validation still refuses pos_weight on a regression.
  Config regression = c;
  regression.tasks[0].kind = TaskKind::kRegression;
  regression.tasks[0].loss = LossKind::kMse;
  EXPECT_EQ(ErrorOf([&] { ValidateConfig(regression); }),
            "task 'buy' is a regression: pos_weight applies to binary tasks only");
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

const char* kTimeSeries = R"(
[data]
train = "t.csv"
[time_series]
date = "date"
series = ["store", "item"]
[[time_series.columns]]
name = "sales_lag7"
column = "sales"
op = "lag"
lag = 7
[[time_series.columns]]
name = "item_mean28"
column = "sales"
op = "mean"
window = 28
by = ["item"]
[[time_series.columns]]
name = "since_promo"
column = "promo"
op = "days_since"
[[features]]
name = "sales_lag7"
kind = "numeric"
[[tasks]]
name = "sales"
kind = "regression"
)";

TEST(ConfigTest, TimeSeriesColumnsParseAndRoundTrip) {
  const Config c = ParseConfig(kTimeSeries, "cfg.toml");
  EXPECT_EQ(c.time_series.date, "date");
  EXPECT_EQ(c.time_series.series, (std::vector<std::string>{"store", "item"}));
  ASSERT_EQ(c.time_series.columns.size(), 3u);
  EXPECT_EQ(c.time_series.columns[0].op, TimeSeriesOp::kLag);
  EXPECT_EQ(c.time_series.columns[0].lag, 7);
  EXPECT_EQ(c.time_series.columns[1].op, TimeSeriesOp::kMean);
  EXPECT_EQ(c.time_series.columns[1].lag, 1);  // the default: the newest day read is yesterday
  EXPECT_EQ(c.time_series.columns[1].window, 28);
  EXPECT_EQ(c.time_series.EntityOf(c.time_series.columns[1]), (std::vector<std::string>{"item"}));
  EXPECT_EQ(c.time_series.EntityOf(c.time_series.columns[2]), (std::vector<std::string>{"store", "item"}));
  const std::string toml = ConfigToToml(c);
  EXPECT_EQ(ConfigToToml(ParseConfig(toml, "again.toml")), toml);
  // Only the keys of each op are written: days_since takes neither lag nor window.
  const size_t since = toml.find("name = \"since_promo\"");
  ASSERT_NE(since, std::string::npos);
  EXPECT_EQ(toml.find("\nlag = ", since), std::string::npos) << toml;
  EXPECT_EQ(toml.find("\nwindow = ", since), std::string::npos) << toml;
}

TEST(ConfigTest, TimeSeriesAndDateSplitErrorsNameTheKey) {
  const std::string base = kTimeSeries;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = base;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  const std::string date_split = "[data]\ntrain = \"t.csv\"\nsplit_by = \"date\"\n";
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {with("op = \"lag\"", "op = \"lagg\""), "cfg.toml:10:6: 'op' is 'lagg', expected one of 'lag', 'mean'"},
      {with("lag = 7", "lag = 0"), "time_series column 'sales_lag7': lag must be from 1"},
      {with("window = 28", "window = 0"), "time_series column 'item_mean28': op 'mean' needs window from 1"},
      {with("window = 28\n", ""), "op 'mean' needs window from 1 to 36600 days (the days read), got 0"},
      {with("column = \"promo\"\n", ""), "time_series column 'since_promo' has no 'column'"},
      {with("op = \"days_since\"", "op = \"days_since\"\nlag = 3"),
       "key 'lag' of time-series column 'since_promo' applies only to kind 'lag', 'mean'"},
      {with("op = \"lag\"\nlag = 7", "op = \"ratio_to_mean\"\nwindow = 7"),
       "op 'ratio_to_mean' reads its source on the row's own day, and 'sales' is the label of task sales"},
      {with("date = \"date\"\n", ""), "time_series.columns is set but time_series.date is not"},
      {with("name = \"sales_lag7\"\ncolumn", "name = \"sales_lag7\"\nunknown = 1\ncolumn"),
       "unknown key 'unknown' in [[time_series.columns]]"},
      {with("name = \"item_mean28\"", "name = \"sales_lag7\""), "time_series column 'sales_lag7' is declared twice"},
      {with("name = \"since_promo\"", "name = \"item\""), "the name is a column the time series reads"},
      {with("column = \"sales\"\nop = \"lag\"", "column = \"item_mean28\"\nop = \"lag\""),
       "time_series column 'sales_lag7' reads the derived column 'item_mean28'"},
      {with("kind = \"numeric\"", "kind = \"categorical\""),
       "feature 'sales_lag7' reads the derived column 'sales_lag7', a number: its kind must be 'numeric'"},
      {with("[data]\ntrain = \"t.csv\"\n", date_split + "valid_dates = \"2023-01-01..2023-02-30\"\n"),
       "cfg.toml:5:15: 'valid_dates' is '2023-01-01..2023-02-30': '2023-02-30' is not a date yyyy-mm-dd"},
      {with("[data]\ntrain = \"t.csv\"\n", date_split + "test_dates = \"2023-01-01\"\n"),
       "'test_dates' is '2023-01-01': expected an inclusive range \"yyyy-mm-dd..yyyy-mm-dd\""},
      {with("[data]\ntrain = \"t.csv\"\n", date_split + "test_dates = \"2023-02-01..2023-01-01\"\n"),
       "it ends (2023-01-01) before it starts (2023-02-01)"},
      {with("[data]\ntrain = \"t.csv\"\n",
            date_split + "valid_dates = \"2023-01-01..2023-01-31\"\ntest_dates = \"2023-01-31..2023-02-28\"\n"),
       "data.valid_dates (2023-01-01..2023-01-31) and data.test_dates (2023-01-31..2023-02-28) overlap"},
      {with("[data]\ntrain = \"t.csv\"\n", date_split), "data.split_by = \"date\" needs data.valid_dates or"},
      {with("[data]\ntrain = \"t.csv\"\n", "[data]\ntrain = \"t.csv\"\nvalid_dates = \"2023-01-01..2023-01-31\"\n"),
       "data.valid_dates is set, but data.split_by is 'fraction'"},
      {with("[data]\ntrain = \"t.csv\"\n",
            date_split + "valid_dates = \"2023-01-01..2023-01-31\"\nvalid_fraction = 0.1\n"),
       "valid_fraction, test_fraction, split_group, split_time and valid_from_test belong to the other splits"},
      {"[data]\nsplit_by = \"date\"\ntest_dates = \"2023-01-01..2023-01-31\"\n",
       "data.split_by = \"date\" needs time_series.date"},
  };
  for (const auto& c : cases) {
    const std::string error = ErrorOf([&] { ParseConfig(c.text, "cfg.toml"); });
    EXPECT_NE(error.find(c.expected), std::string::npos) << "config:\n" << c.text << "\nerror: " << error;
  }
  const Config split = ParseConfig(
      with("[data]\ntrain = \"t.csv\"\n",
           date_split + "valid_dates = \"2023-01-01..2023-01-31\"\ntest_dates = \"2023-02-01..2023-02-28\"\n"),
      "cfg.toml");
  EXPECT_EQ(split.data.split_by, SplitBy::kDate);
  EXPECT_EQ(split.data.test_dates, "2023-02-01..2023-02-28");
}

}  // namespace
}  // namespace mtrec
