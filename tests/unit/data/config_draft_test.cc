#include "data/config_draft.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_files.h"

namespace mtrec {
namespace {

// A sample of a small shop log, built from rows: user, price, tags, day, country, income, click, spend.
CsvSample ShopSample() {
  std::string text = "user,price,tags,day,country,income,click,spend\n";
  for (int i = 0; i < 400; ++i) {
    text += fmt::format("u{},{},{},2024-03-{:02d},FR,{},{},{}\n", i % 150,
                        i % 7 == 0 ? "?" : std::to_string(i % 37) + ".5", i % 2 ? "sport|kids" : "toys", 1 + i % 28,
                        i % 5 == 0 ? "50000+." : "- 50000.", i % 3 == 0 ? 1 : 0, i % 11 * 2.5);
  }
  const std::string path = WriteFile(TestDir("config_draft_test"), "shop.csv", text);
  return ReadCsvSample(path, SampleOptions{});
}

DraftOptions Files(const std::string& train, const std::string& test = "") {
  DraftOptions options;
  options.train = train;
  options.test = test;
  return options;
}

const ColumnDecision& Decision(const ConfigDraft& draft, const std::string& column) {
  for (const ColumnDecision& decision : draft.columns) {
    if (decision.schema.name == column) return decision;
  }
  throw Error("no column " + column);
}

TEST(ConfigDraftTest, ParseLabelSpec) {
  LabelSpec plain = ParseLabelSpec("click");
  EXPECT_EQ(plain.target, "click");
  EXPECT_TRUE(plain.positive.empty());
  LabelSpec rule = ParseLabelSpec("high_income:c41=50000+.");
  EXPECT_EQ(rule.target, "high_income:c41");
  EXPECT_EQ(rule.positive, std::vector<std::string>{"50000+."});
  EXPECT_EQ(ParseLabelSpec("marital stat= Never married , Widowed").positive,
            (std::vector<std::string>{"Never married", "Widowed"}));
  EXPECT_NE(ErrorOf([] { ParseLabelSpec("=1"); }).find("no column before '='"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseLabelSpec("income="); }).find("no value after '='"), std::string::npos);
}

TEST(ConfigDraftTest, EveryColumnGetsItsFeatureAndTheConfigParses) {
  ConfigDraft draft =
      DraftConfig(ShopSample(), {ParseLabelSpec("click"), ParseLabelSpec("rich:income=50000+.")}, Files("shop.csv"));
  EXPECT_EQ(Decision(draft, "user").schema.kind, ColumnKind::kCategorical);  // 150 users: a small vocabulary
  EXPECT_EQ(Decision(draft, "price").schema.kind, ColumnKind::kNumeric);
  EXPECT_EQ(Decision(draft, "tags").schema.kind, ColumnKind::kMultiValued);
  EXPECT_EQ(Decision(draft, "day").schema.kind, ColumnKind::kDate);
  EXPECT_EQ(Decision(draft, "country").schema.kind, ColumnKind::kConstant);
  EXPECT_EQ(Decision(draft, "click").task, "click");
  EXPECT_EQ(Decision(draft, "income").task, "rich");
  EXPECT_TRUE(Decision(draft, "income").features.empty());
  EXPECT_EQ(Decision(draft, "price").features, (std::vector<std::string>{"price", "price_bucket"}));

  const Config& config = draft.config;
  EXPECT_EQ(config.data.train, "shop.csv");
  EXPECT_TRUE(config.data.header);
  EXPECT_EQ(config.data.delimiter, ",");
  // '?' among the prices is a missing number.
  EXPECT_NE(std::find(config.data.na_values.begin(), config.data.na_values.end(), "?"), config.data.na_values.end());
  std::vector<std::string> features;
  for (const FeatureConfig& feature : config.features) {
    features.push_back(feature.name + ":" + std::string(NameOf(feature.kind)));
  }
  EXPECT_EQ(features, (std::vector<std::string>{"user:categorical", "price:numeric", "price_bucket:numeric",
                                                "tags:multi_categorical", "spend:numeric", "spend_bucket:numeric"}));
  EXPECT_EQ(config.FindFeature("price_bucket")->buckets, 20);
  EXPECT_EQ(config.FindFeature("price_bucket")->column, "price");
  EXPECT_EQ(config.FindFeature("tags")->separator, "|");
  ASSERT_EQ(config.tasks.size(), 2u);
  EXPECT_EQ(config.tasks[0].name, "click");
  EXPECT_EQ(config.tasks[0].kind, TaskKind::kBinary);
  EXPECT_TRUE(config.tasks[0].positive.empty());
  EXPECT_EQ(config.tasks[1].name, "rich");
  EXPECT_EQ(config.tasks[1].column, "income");
  EXPECT_EQ(config.tasks[1].positive, std::vector<std::string>{"50000+."});
  EXPECT_EQ(config.model.arch, Arch::kMmoe);
  EXPECT_EQ(config.train.lr_schedule, LrScheduleKind::kCosine);
  EXPECT_EQ(config.train.batch_size, 128);  // 400 rows
  EXPECT_TRUE(config.data.valid.empty());
  // The comments say why.
  EXPECT_NE(draft.toml.find("# 'day': date: dates or times"), std::string::npos) << draft.toml;
  EXPECT_NE(draft.toml.find("# 'price': numeric: numbers from 0.5 to 36.5, missing spelled '?' on 58 rows"),
            std::string::npos)
      << draft.toml;
  // No held-out file: validation and test rows come from the training file.
  EXPECT_NE(draft.notes[1].find("validation: 10% of the training file"), std::string::npos) << draft.notes[1];
  EXPECT_DOUBLE_EQ(config.data.valid_fraction, 0.1);
  EXPECT_DOUBLE_EQ(config.data.test_fraction, 0.1);
}

TEST(ConfigDraftTest, OneRegressionTask) {
  ConfigDraft draft = DraftConfig(ShopSample(), {ParseLabelSpec("spend")}, Files("shop.csv", "test.csv"));
  ASSERT_EQ(draft.config.tasks.size(), 1u);
  EXPECT_EQ(draft.config.tasks[0].kind, TaskKind::kRegression);
  EXPECT_EQ(draft.config.model.arch, Arch::kSharedBottom);
  EXPECT_EQ(draft.config.train.early_stop_metric, "loss");
  EXPECT_EQ(draft.config.data.test, "test.csv");
  EXPECT_EQ(draft.config.data.valid_from_test, 0.5);
  // The label column and the columns left out make no feature; click is a feature now.
  EXPECT_EQ(draft.config.FindFeature("spend"), nullptr);
  ASSERT_NE(draft.config.FindFeature("click"), nullptr);
  EXPECT_EQ(draft.config.FindFeature("click")->kind, FeatureKind::kNumeric);
}

TEST(ConfigDraftTest, MixedTasksNormaliseTheirLosses) {
  ConfigDraft draft = DraftConfig(ShopSample(), {ParseLabelSpec("click"), ParseLabelSpec("spend")}, DraftOptions{});
  EXPECT_TRUE(draft.config.train.normalize_losses);
  EXPECT_EQ(draft.config.train.early_stop_metric, "auc");
}

TEST(ConfigDraftTest, ValuesWithLineBreaksCannotBreakTheComments) {
  std::string text = "note,click\n";
  for (int i = 0; i < 30; ++i) text += i % 2 ? "\"two\nlines\",1\n" : "plain,0\n";
  const CsvSample sample = ReadCsvSample(WriteFile(TestDir("config_draft_test"), "notes.csv", text), SampleOptions{});
  ConfigDraft draft = DraftConfig(sample, {ParseLabelSpec("click")}, Files("notes.csv"));
  EXPECT_NE(draft.toml.find("# 'note': categorical: text, 2 values, most frequent 'plain', 'two lines'"),
            std::string::npos)
      << draft.toml;
  ASSERT_EQ(draft.config.features.size(), 1u);
  EXPECT_EQ(draft.config.features[0].name, "note");
}

TEST(ConfigDraftTest, BadLabelsSayWhatTheyFound) {
  const CsvSample sample = ShopSample();
  EXPECT_NE(ErrorOf([&] {
              DraftConfig(sample, {ParseLabelSpec("clik")}, DraftOptions{});
            }).find("--label 'clik': '" + sample.path + "' has no column 'clik' (did you mean 'click'?)"),
            std::string::npos);
  EXPECT_EQ(ErrorOf([&] { DraftConfig(sample, {ParseLabelSpec("income=>50K")}, DraftOptions{}); }),
            "--label 'income=>50K': no sampled row of '" + sample.path +
                "' has 'income' = '>50K'; its most frequent values: '- 50000.' (80.0%), '50000+.' (20.0%)");
  EXPECT_NE(ErrorOf([&] { DraftConfig(sample, {ParseLabelSpec("income")}, DraftOptions{}); })
                .find("'income' holds text ('- 50000.'), not numbers: give the values that count as positive, e.g. "
                      "--label 'income=50000+.'"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { DraftConfig(sample, {ParseLabelSpec("country")}, DraftOptions{}); }).find("holds text"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              DraftConfig(sample, {ParseLabelSpec("country=FR")}, DraftOptions{});
            }).find("the task would have no negatives"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              DraftConfig(sample, {ParseLabelSpec("click"), ParseLabelSpec("click=1")}, DraftOptions{});
            }).find("a task named 'click' is already defined"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { DraftConfig(sample, {}, DraftOptions{}); }).find("no label"), std::string::npos);
}

}  // namespace
}  // namespace mtrec
