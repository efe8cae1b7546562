// Bad input at the command line: each case must fail (or skip, when asked) with a message that says what and
// where, never crash.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

const char* kConfig = R"(
[data]
train = "train.csv"
delimiter = ","

[[features]]
name = "city"
kind = "categorical"

[[features]]
name = "price"
kind = "numeric"
log1p = true

[[tasks]]
name = "click"
kind = "binary"

[model]
bottom = [8]
tower = [4]

[train]
epochs = 1
batch_size = 4
threads = 1
)";

std::string GoodRows(int n) {
  std::string rows;
  for (int i = 0; i < n; ++i) {
    rows += (i % 3 ? "paris," : "lyon,") + std::to_string(10 + i) + "," + std::to_string(i % 2) + "\n";
  }
  return rows;
}

class BadInputTest : public testing::Test {
 protected:
  // Writes the config and train.csv (header + rows) in a fresh folder and trains; returns the run's result.
  RunResult TrainOn(const std::string& name, const std::string& rows, const std::string& extra = "",
                    const std::string& config = kConfig) {
    dir_ = FreshDir(name);
    WriteText(dir_ / "config.toml", config);
    WriteText(dir_ / "train.csv", "city,price,click\n" + rows);
    return RunMtrec("train --config " + (dir_ / "config.toml").string() + " --out " + (dir_ / "m.mtrec").string() +
                    " data.cache=false " + extra);
  }
  fs::path dir_;
};

TEST_F(BadInputTest, GoodFileTrains) {
  RunResult result = TrainOn("good", GoodRows(20));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(BadInputTest, MissingFileNamesTheSettingAndWhereItLooked) {
  dir_ = FreshDir("missing");
  WriteText(dir_ / "config.toml", kConfig);
  RunResult result = RunMtrec("train --config " + (dir_ / "config.toml").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("data.train = \"train.csv\" in " + (dir_ / "config.toml").string() +
                               ": file not found at " + (dir_ / "train.csv").string()),
            std::string::npos)
      << result.output;
  // A path relative to the config's folder, set on the command line.
  WriteText(dir_ / "train.csv", "city,price,click\n" + GoodRows(4));
  result = RunMtrec("train --config " + (dir_ / "config.toml").string() + " data.valid=../valid.csv");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("data.valid = \"../valid.csv\" in " + (dir_ / "config.toml").string() +
                               ": file not found at " + (dir_.parent_path() / "valid.csv").string()),
            std::string::npos)
      << result.output;
}

TEST_F(BadInputTest, TextInNumericColumnGivesFileLineAndColumn) {
  RunResult result = TrainOn("text", GoodRows(5) + "paris,cheap,1\n" + GoodRows(5));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv:7:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("'price'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("'cheap'"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, UnknownSpelledAsAQuestionMarkSuggestsNaValues) {
  RunResult result = TrainOn("question_mark", GoodRows(5) + "paris,?,1\n" + GoodRows(5));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv:7: column 'price' (feature 'price'): expected a number, found '?'; if it "
                               "marks a missing value, add \"?\" to data.na_values"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(
      TrainOn("question_mark_na", GoodRows(5) + "paris,?,1\n" + GoodRows(5), "'data.na_values=[\"?\"]'").exit_code, 0);
}

TEST_F(BadInputTest, TextLabelsWithoutARuleSuggestOneWithTheValues) {
  std::string rows;
  for (int i = 0; i < 12; ++i) rows += "paris," + std::to_string(10 + i) + (i % 4 ? ",no\n" : ",yes\n");
  RunResult result = TrainOn("text_label", rows);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv:2: column 'click' (label of task 'click'): expected a number, found 'yes'; "
                               "a binary label is 0 or 1: to read text, give the task a rule, positive = [\"yes\"] "
                               "or equals = \"yes\" (the values that mean 1); the column's most frequent values: "
                               "\"no\" (9), \"yes\" (3)"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(TrainOn("text_label_rule", rows, "'tasks.click.positive=[\"yes\"]'").exit_code, 0);
}

TEST_F(BadInputTest, HeaderOfDataSuggestsHeaderFalse) {
  dir_ = FreshDir("no_header");
  WriteText(dir_ / "config.toml", kConfig);
  WriteText(dir_ / "train.csv", GoodRows(10));
  RunResult result = RunMtrec("train --config " + (dir_ / "config.toml").string() + " data.cache=false");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("has no column 'city' (needed as feature 'city'), nor any other configured column: "
                               "its first line looks like data, not column names (2 of its 3 fields are numbers: "
                               "'lyon', '10', '0'); if the file has no header, set data.header = false and name its "
                               "3 columns in data.columns"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("did you mean"), std::string::npos) << result.output;
  result = RunMtrec("train --config " + (dir_ / "config.toml").string() + " --out " + (dir_ / "m.mtrec").string() +
                    " data.cache=false data.header=false 'data.columns=[\"city\", \"price\", \"click\"]'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(BadInputTest, UnknownBlendTaskListsTheTasks) {
  RunResult result = TrainOn("blend", GoodRows(5), "'serve.blend={ clik = 1 }'");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("serve.blend names no task 'clik' (did you mean 'click'?); the tasks are 'click'"),
            std::string::npos)
      << result.output;
}

// Labels made by a rule on a text column: a rule that matches nothing in the training file, and files whose labels
// are spelt otherwise than the training file's.
const char* kRuleConfig = R"(
[data]
train = "train.csv"

[[features]]
name = "price"
kind = "numeric"

[[tasks]]
name = "never_married"
column = "marital stat"
equals = "Never married"

[[tasks]]
name = "click"

[model]
bottom = [8]
tower = [4]

[train]
epochs = 1
batch_size = 4
threads = 1
)";

std::string MaritalRows(int n, const std::string& never_married) {
  std::string rows = "price,marital stat,click\n";
  for (int i = 0; i < n; ++i) {
    const char* status =
        i % 3 == 0 ? never_married.c_str() : (i % 3 == 1 ? "Married-civilian spouse present" : "Divorced");
    rows += std::to_string(10 + i) + "," + status + "," + std::to_string(i % 2) + "\n";
  }
  return rows;
}

TEST_F(BadInputTest, ALabelRuleMatchingNoTrainingRowIsAnError) {
  dir_ = FreshDir("rule_no_match");
  WriteText(dir_ / "config.toml", kRuleConfig);
  WriteText(dir_ / "train.csv", MaritalRows(12, "Never-married"));
  RunResult result = RunMtrec("train --config " + (dir_ / "config.toml").string() + " --out " +
                              (dir_ / "m.mtrec").string() + " data.cache=false");
  EXPECT_EQ(result.exit_code, 1);
  const std::string expected =
      "task 'never_married': equals = \"Never married\" matches no row of column 'marital stat' in " +
      (dir_ / "train.csv").string() +
      " (did you mean \"Never-married\"?); its most frequent values: \"Never-married\" (4), \"Married-civilian "
      "spouse present\" (4), \"Divorced\" (4)";
  EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
}

TEST_F(BadInputTest, AFileOfOneLabelClassWarnsInTrainAndEval) {
  dir_ = FreshDir("label_shift");
  WriteText(dir_ / "config.toml", kRuleConfig);
  WriteText(dir_ / "train.csv", MaritalRows(24, "Never married"));
  WriteText(dir_ / "valid.csv", MaritalRows(9, "never married"));  // another spelling: no positive
  const std::string model = (dir_ / "m.mtrec").string();
  RunResult train = RunMtrec("train --config " + (dir_ / "config.toml").string() + " --out " + model +
                             " data.cache=false data.valid=valid.csv");
  EXPECT_EQ(train.exit_code, 0) << train.output;
  const std::string warning =
      "warning: task 'never_married': every label in " + (dir_ / "valid.csv").string() +
      " is 0 (9 rows; rule equals = \"Never married\" on column 'marital stat'), where the training file had both: "
      "8 positives in 24 rows (33.33%); \"Never married\" matches no row here (did you mean \"never married\"?); "
      "the column's most frequent values here: \"never married\" (3), \"Married-civilian spouse present\" (3), "
      "\"Divorced\" (3); in training: \"Never married\" (8), \"Married-civilian spouse present\" (8), "
      "\"Divorced\" (8). Its AUC on this file is undefined";
  EXPECT_NE(train.output.find(warning), std::string::npos) << train.output;
  // eval compares with the training counts the model file keeps, even when quiet.
  RunResult eval = RunMtrec("-q eval --model " + model + " --data " + (dir_ / "valid.csv").string());
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find(warning), std::string::npos) << eval.output;
  RunResult same = RunMtrec("eval --model " + model + " --data " + (dir_ / "train.csv").string());
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(same.output.find("warning:"), std::string::npos) << same.output;
}

TEST_F(BadInputTest, ABinaryLabelOfOneClassInTrainingWarns) {
  std::string rows;
  for (int i = 0; i < 12; ++i) rows += "paris," + std::to_string(10 + i) + ",0\n";
  RunResult result = TrainOn("one_class", rows);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("warning: task 'click': every label in " + (dir_ / "train.csv").string() +
                               " is 0 (12 rows; column 'click'): the task cannot learn to tell rows apart, and its "
                               "AUC is undefined"),
            std::string::npos)
      << result.output;
}

TEST_F(BadInputTest, RaggedRowGivesFileLine) {
  RunResult result = TrainOn("ragged", GoodRows(3) + "paris,12\n" + GoodRows(3));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv:5: expected 3 fields, found 2"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, BinaryLabelOutsideItsKind) {
  RunResult result = TrainOn("label", GoodRows(3) + "paris,12,2\n");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv:5:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("must be 0 or 1"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, SkipModeCountsAndReportsBadRows) {
  RunResult result =
      TrainOn("skip", GoodRows(10) + "paris,cheap,1\nlyon,3\n" + GoodRows(10), "data.on_error=skip");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("skipped 2 bad rows"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("train.csv:12:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("20 rows"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, EmptyFile) {
  dir_ = FreshDir("empty");
  WriteText(dir_ / "config.toml", kConfig);
  WriteText(dir_ / "train.csv", "");
  RunResult result = RunMtrec("train --config " + (dir_ / "config.toml").string() + " data.cache=false");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("empty"), std::string::npos) << result.output;
  RunResult header_only = TrainOn("header_only", "");
  EXPECT_EQ(header_only.exit_code, 1);
  EXPECT_NE(header_only.output.find("no data rows"), std::string::npos) << header_only.output;
}

TEST_F(BadInputTest, UnknownColumnSuggestsTheClosestName) {
  std::string config = kConfig;
  config.replace(config.find("name = \"city\""), 13, "name = \"cty\"");
  RunResult result = TrainOn("column", GoodRows(5), "", config);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("no column 'cty'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("did you mean 'city'"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, UnknownConfigKeyGivesFileLineAndSuggestion) {
  std::string config = kConfig;
  config.replace(config.find("batch_size"), 10, "batch_sise");
  RunResult result = TrainOn("key", GoodRows(5), "", config);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("config.toml:25:1: unknown key 'batch_sise' in [train] (did you mean 'batch_size'?)"),
            std::string::npos)
      << result.output;
  RunResult override_result = TrainOn("override", GoodRows(5), "train.epoch=2");
  EXPECT_EQ(override_result.exit_code, 1);
  EXPECT_NE(override_result.output.find("did you mean 'epochs'"), std::string::npos) << override_result.output;
}

TEST_F(BadInputTest, NegativeValueUnderLog1pNamesTheRow) {
  RunResult result = TrainOn("log1p", GoodRows(4) + "paris,-5,1\n");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("log1p"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("'price'"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, DamagedTruncatedAndNewerModelFilesAreRefused) {
  ASSERT_EQ(TrainOn("model_files", GoodRows(20)).exit_code, 0);
  const std::string good = ReadFileBytes(dir_ / "m.mtrec");
  auto inspect = [&](const std::string& bytes) {
    WriteText(dir_ / "bad.mtrec", bytes);
    return RunMtrec("inspect " + (dir_ / "bad.mtrec").string());
  };
  std::string flipped = good;
  flipped[flipped.size() - 20] ^= 0x40;
  RunResult damaged = inspect(flipped);
  EXPECT_EQ(damaged.exit_code, 1);
  EXPECT_NE(damaged.output.find("damaged"), std::string::npos) << damaged.output;

  RunResult truncated = inspect(good.substr(0, good.size() / 2));
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_NE(truncated.output.find("truncated"), std::string::npos) << truncated.output;

  std::string newer = good;
  newer[8] = 99;  // format version field
  RunResult future = inspect(newer);
  EXPECT_EQ(future.exit_code, 1);
  EXPECT_NE(future.output.find("newer mtrec"), std::string::npos) << future.output;

  RunResult not_model = inspect("city,price,click\n");
  EXPECT_EQ(not_model.exit_code, 1);
  EXPECT_NE(not_model.output.find("not an mtrec model file"), std::string::npos) << not_model.output;
}

}  // namespace
}  // namespace mtrec::e2e
