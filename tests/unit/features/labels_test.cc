#include "features/labels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "features/pipeline.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

// A census-like file: a text column read through rules, and a 0/1 column read as numbers.
const char* kConfig = R"(
[data]
cache = false

[[features]]
name = "age"
kind = "numeric"

[[tasks]]
name = "never_married"
column = "marital stat"
equals = "Never-married"

[[tasks]]
name = "income"
positive = [">50K"]

[[tasks]]
name = "click"

[[tasks]]
name = "spend"
kind = "regression"
)";

const char* kTrain =
    "age,marital stat,income,click,spend\n"
    "30,Never-married,>50K,1,2\n"
    "41,Married-civ-spouse,<=50K,0,0\n"
    "52,Married-civ-spouse,<=50K,0,1\n"
    "23,Never-married,<=50K,1,0\n"
    "60,Divorced,>50K,0,3\n"
    "35,NA,<=50K,0,0\n";

class LabelsTest : public testing::Test {
 protected:
  Config ConfigWith(const std::vector<std::string>& overrides = {}) {
    return ParseConfig(kConfig, "labels.toml", overrides);
  }
  ColumnTable Table(const Config& config, const std::string& name, const std::string& text) {
    const std::string path = WriteFile(TestDir("labels_test"), name, text);
    return LoadTable(path, config.data, FeaturePipeline::Requests(config, /*labels_required=*/true));
  }
};

TEST_F(LabelsTest, CountsRowsPositivesAndTheColumnsValues) {
  const Config config = ConfigWith();
  const std::vector<LabelCounts> counts = CountLabels(config, Table(config, "train.csv", kTrain));
  ASSERT_EQ(counts.size(), 3u);  // the binary tasks only
  EXPECT_EQ(counts[0].task, "never_married");
  EXPECT_EQ(counts[0].rows, 5);  // "NA" is missing
  EXPECT_EQ(counts[0].positives, 2);
  EXPECT_EQ(counts[0].distinct, 4);
  ASSERT_EQ(counts[0].values.size(), 4u);
  EXPECT_EQ(counts[0].values[0].value, "Never-married");
  EXPECT_EQ(counts[0].values[0].rows, 2);
  EXPECT_EQ(counts[0].values[1].value, "Married-civ-spouse");
  EXPECT_EQ(counts[0].values[3].value, "NA");
  EXPECT_TRUE(counts[0].unmatched.empty());
  EXPECT_EQ(counts[1].rows, 6);
  EXPECT_EQ(counts[1].positives, 2);
  EXPECT_EQ(counts[2].task, "click");
  EXPECT_EQ(counts[2].rows, 6);
  EXPECT_EQ(counts[2].positives, 2);
  EXPECT_TRUE(counts[2].values.empty());
  EXPECT_TRUE(CheckTrainingLabels(config, counts, "train.csv").empty());
}

TEST_F(LabelsTest, ARuleMatchingNoTrainingRowIsAnErrorNamingTheValues) {
  const Config config = ConfigWith({"tasks.never_married.equals=Never married"});
  const std::vector<LabelCounts> counts = CountLabels(config, Table(config, "train.csv", kTrain));
  EXPECT_EQ(ErrorOf([&] { CheckTrainingLabels(config, counts, "train.csv"); }),
            "task 'never_married': equals = \"Never married\" matches no row of column 'marital stat' in train.csv "
            "(did you mean \"Never-married\"?); its most frequent values: \"Never-married\" (2), "
            "\"Married-civ-spouse\" (2), \"Divorced\" (1), \"NA\" (1)");
  // Several rule values: each suggestion says which value it stands for; a short value needs a close match ("1"
  // does not suggest "0").
  const Config several = ConfigWith({"tasks.income.positive=[\">50k\", \"rich\", \"1\"]"});
  const std::string error =
      ErrorOf([&] { CheckTrainingLabels(several, CountLabels(several, Table(several, "t.csv", kTrain)), "t.csv"); });
  EXPECT_EQ(error,
            "task 'income': positive = [\">50k\", \"rich\", \"1\"] matches no row of column 'income' in t.csv (did "
            "you mean \">50K\" for \">50k\"?); its most frequent values: \"<=50K\" (4), \">50K\" (2)");
}

TEST_F(LabelsTest, RuleValuesMatchingNothingAndOneClassTasksWarn) {
  const Config config = ConfigWith({"tasks.income.positive=[\">50K\", \">50K.\"]"});
  const std::string one_class =
      "age,marital stat,income,click,spend\n30,Never-married,>50K,0,1\n40,Divorced,<=50K,0,0\n50,Divorced,<=50K,NA,0\n";
  const std::vector<std::string> warnings =
      CheckTrainingLabels(config, CountLabels(config, Table(config, "one.csv", one_class)), "one.csv");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "task 'income': positive value \">50K.\" matches no row of column 'income' in one.csv (did "
            "you mean \">50K\"?)");
  EXPECT_EQ(warnings[1],
            "task 'click': every label in one.csv is 0 (2 rows; column 'click'): the task cannot learn "
            "to tell rows apart, and its AUC is undefined");
  // A rule that matches every row.
  const Config every =
      ConfigWith({"tasks.never_married.positive=[\"Never-married\", \"Divorced\"]", "tasks.never_married.equals="});
  const std::vector<std::string> all =
      CheckTrainingLabels(every, CountLabels(every, Table(every, "all.csv", one_class)), "all.csv");
  ASSERT_GE(all.size(), 1u);
  EXPECT_EQ(all[0],
            "task 'never_married': every label in all.csv is 1 (3 rows; rule positive = [\"Never-married\", "
            "\"Divorced\"] on column 'marital stat'): the task cannot learn to tell rows apart, and its AUC is "
            "undefined; the column's most frequent values: \"Divorced\" (2), \"Never-married\" (1)");
}

TEST_F(LabelsTest, AFileOfOneClassWhereTrainingHadBothWarns) {
  const Config config = ConfigWith();
  const std::vector<LabelCounts> train = CountLabels(config, Table(config, "train.csv", kTrain));
  // The test file of the UCI Adult data set ends each income with a period.
  const std::string test =
      "age,marital stat,income,click,spend\n30,Never-married,>50K.,1,2\n41,Divorced,<=50K.,0,0\n"
      "52,Divorced,<=50K.,0,1\n";
  const std::vector<LabelCounts> counts = CountLabels(config, Table(config, "test.csv", test));
  const std::vector<std::string> warnings = LabelShiftWarnings(config, train, counts, "test.csv");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "task 'income': every label in test.csv is 0 (3 rows; rule positive = [\">50K\"] on column 'income'), "
            "where the training file had both: 2 positives in 6 rows (33.33%); \">50K\" matches no row here (did you "
            "mean \">50K.\"?); the column's most frequent values here: \"<=50K.\" (2), \">50K.\" (1); in training: "
            "\"<=50K\" (4), \">50K\" (2). Its AUC on this file is undefined");
  // Without the training counts (a model file written before they were kept) the file's own facts still come.
  const std::vector<std::string> unknown = LabelShiftWarnings(config, {}, counts, "test.csv");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].find("where the training file"), std::string::npos);
  EXPECT_NE(unknown[0].find("\"<=50K.\" (2), \">50K.\" (1). Its AUC"), std::string::npos) << unknown[0];
  // A task that was one class in training was warned about then, not again.
  std::vector<LabelCounts> constant = train;
  constant[1].positives = 0;
  EXPECT_TRUE(LabelShiftWarnings(config, constant, counts, "test.csv").empty());
  // Both classes: nothing to say.
  EXPECT_TRUE(LabelShiftWarnings(config, train, train, "train.csv").empty());
}

TEST_F(LabelsTest, RuleLabelsByValue) {
  const Config config = ConfigWith();
  const ColumnTable table = Table(config, "train.csv", kTrain);
  const Column& column = table.Get("marital stat", ColumnType::kCategorical);
  const std::vector<float> labels = RuleLabels(config.tasks[0], config.data.na_values, column);
  ASSERT_EQ(labels.size(), 4u);  // first appearance: Never-married, Married-civ-spouse, Divorced, NA
  EXPECT_EQ(labels[0], 1.f);
  EXPECT_EQ(labels[1], 0.f);
  EXPECT_EQ(labels[2], 0.f);
  EXPECT_TRUE(std::isnan(labels[3]));
  EXPECT_EQ(LabelRuleText(config.tasks[0]), "equals = \"Never-married\"");
  EXPECT_EQ(LabelRuleText(config.tasks[1]), "positive = [\">50K\"]");
}

}  // namespace
}  // namespace mtrec
