// `mtrec init` as a new user runs it: a census-like CSV in, a config out that `mtrec train` trains as it is, with
// the kinds a person would choose; bad input gets one clear message.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli_runner.h"
#include "common/config.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

// Census-like rows: income depends on age, capital gains and the kind of work; never married on age.
std::string CensusLike(int rows, uint32_t seed, bool header) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const char* work[] = {"Private", "Self-employed", "Government", "Never worked"};
  const char* tags[] = {"sport|music", "music", "travel|sport", "books", "books|travel|music"};
  std::string text = header ? "age,workclass,industry_code,capital_gain,weight,tags,signup,country,respondent,"
                              "income,marital\n"
                            : "";
  for (int i = 0; i < rows; ++i) {
    const int age = 18 + static_cast<int>(u(rng) * 62);
    const int w = static_cast<int>(u(rng) * 4);
    const int gain = u(rng) < 0.85 ? 0 : 1000 + static_cast<int>(u(rng) * 98000);
    const double score = (age - 18) / 62.0 + (gain > 0 ? 1.0 : 0.0) + (w == 1 ? 0.5 : 0.0) + u(rng) * 0.8;
    const bool never_married = u(rng) < (age < 30 ? 0.8 : 0.15);
    text += fmt::format("{},{},{},{},{},{},2023-{:02d}-{:02d},US,r{}-{},{},{}\n", age, work[w],
                        static_cast<int>(u(rng) * 21), gain,
                        u(rng) < 0.1 ? "?" : fmt::format("{:.2f}", 500 + u(rng) * 3000), tags[i % 5],
                        1 + static_cast<int>(u(rng) * 12), 1 + static_cast<int>(u(rng) * 28), seed, i,
                        score > 1.3 ? "50000+." : "- 50000.", never_married ? "Never married" : "Married");
  }
  return text;
}

// The kind `mtrec init` printed for a column: the word after its name on the line "  NAME  KIND  reason".
std::string KindOf(const std::string& output, const std::string& column) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    std::string kind;
    if (line.rfind("  ", 0) == 0 && words >> name >> kind && name == column) return kind;
  }
  return "";
}

class InitTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("init");
    WriteText(dir_ / "train.csv", CensusLike(1500, 1, true));
    WriteText(dir_ / "test.csv", CensusLike(800, 2, true));
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(InitTest, InitThenTrainLearnsWithTheKindsAPersonWouldChoose) {
  const std::string config_path = Path("config.toml");
  RunResult init =
      RunMtrec("init --data " + Path("train.csv") + " --test " + Path("test.csv") +
               " --label 'income=50000+.' --label 'never_married:marital=Never married' --out " + config_path);
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_EQ(KindOf(init.output, "age"), "numeric") << init.output;
  EXPECT_EQ(KindOf(init.output, "workclass"), "categorical") << init.output;
  EXPECT_EQ(KindOf(init.output, "industry_code"), "categorical") << init.output;  // integer codes, named so
  EXPECT_EQ(KindOf(init.output, "capital_gain"), "numeric") << init.output;
  EXPECT_EQ(KindOf(init.output, "weight"), "numeric") << init.output;  // numbers with '?' for missing
  EXPECT_EQ(KindOf(init.output, "tags"), "multi_valued") << init.output;
  EXPECT_EQ(KindOf(init.output, "signup"), "date") << init.output;
  EXPECT_EQ(KindOf(init.output, "country"), "constant") << init.output;
  EXPECT_EQ(KindOf(init.output, "respondent"), "unique") << init.output;
  EXPECT_EQ(KindOf(init.output, "income"), "label") << init.output;
  EXPECT_EQ(KindOf(init.output, "marital"), "label") << init.output;
  EXPECT_NE(init.output.find("header: the first row names the columns"), std::string::npos) << init.output;
  EXPECT_NE(init.output.find("model: mmoe"), std::string::npos) << init.output;
  EXPECT_NE(init.output.find("validation: half of"), std::string::npos) << init.output;

  const Config config = LoadConfig(config_path);
  EXPECT_EQ(config.data.train, Path("train.csv"));  // an absolute path stays as given
  EXPECT_EQ(config.data.valid_from_test, 0.5);
  EXPECT_NE(std::find(config.data.na_values.begin(), config.data.na_values.end(), "?"), config.data.na_values.end());
  ASSERT_NE(config.FindFeature("capital_gain"), nullptr);
  EXPECT_TRUE(config.FindFeature("capital_gain")->log1p);
  ASSERT_NE(config.FindFeature("capital_gain_bucket"), nullptr);
  EXPECT_EQ(config.FindFeature("capital_gain_bucket")->buckets, 20);
  ASSERT_NE(config.FindFeature("age_value"), nullptr);  // 62 ages: an embedding each
  EXPECT_EQ(config.FindFeature("age_value")->kind, FeatureKind::kCategorical);
  EXPECT_EQ(config.FindFeature("tags")->kind, FeatureKind::kMultiCategorical);
  EXPECT_EQ(config.FindFeature("signup"), nullptr);
  EXPECT_EQ(config.FindFeature("income"), nullptr);
  ASSERT_EQ(config.tasks.size(), 2u);
  EXPECT_EQ(config.tasks[1].name, "never_married");
  EXPECT_EQ(config.tasks[1].column, "marital");
  EXPECT_EQ(config.tasks[1].positive, std::vector<std::string>{"Never married"});
  EXPECT_EQ(config.model.arch, Arch::kMmoe);

  RunResult train = RunMtrec("-q train --config " + config_path + " --out " + Path("m.mtrec"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string json_path = Path("metrics.json");
  RunResult eval = RunMtrec("-q eval --model " + Path("m.mtrec") + " --data " + Path("test.csv") +
                            " --part test --json " + json_path);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json_path));
  EXPECT_EQ(metrics["rows"].get<int64_t>(), 400);
  EXPECT_GT(metrics["tasks"]["income"]["auc"].get<double>(), 0.8);
  EXPECT_GT(metrics["tasks"]["never_married"]["auc"].get<double>(), 0.7);
}

TEST_F(InitTest, WithoutOutTheConfigGoesToStdoutAndAnExistingFileIsKept) {
  // The shell separates the two streams here: the config alone on stdout, the report on stderr.
  const std::string printed = Path("printed.toml");
  const std::string report = Path("report.txt");
  ASSERT_EQ(std::system((std::string(MTREC_BINARY) + " init --data " + Path("train.csv") +
                         " --label 'income=50000+.' > " + printed + " 2> " + report)
                            .c_str()),
            0)
      << ReadFileBytes(report);
  EXPECT_EQ(ReadFileBytes(printed).rfind("# Written by `mtrec init`", 0), 0u) << ReadFileBytes(printed);
  EXPECT_EQ(KindOf(ReadFileBytes(report), "income"), "label") << ReadFileBytes(report);
  const Config config = LoadConfig(printed);
  EXPECT_EQ(config.data.train, Path("train.csv"));  // an absolute path stays as given
  EXPECT_EQ(config.model.arch, Arch::kSharedBottom);
  EXPECT_TRUE(config.data.valid.empty());
  EXPECT_NE(ReadFileBytes(printed).find("No held-out file: 10% of the training file's rows"), std::string::npos);
  EXPECT_DOUBLE_EQ(config.data.valid_fraction, 0.1);

  WriteText(Path("taken.toml"), "keep me");
  const std::string command =
      "init --data " + Path("train.csv") + " --label 'income=50000+.' --out " + Path("taken.toml");
  RunResult refused = RunMtrec(command);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("exists: mtrec init does not overwrite it (add --force"), std::string::npos)
      << refused.output;
  EXPECT_EQ(ReadFileBytes(Path("taken.toml")), "keep me");
  RunResult forced = RunMtrec(command + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(ReadFileBytes(Path("taken.toml")).find("[[tasks]]"), std::string::npos);
}

TEST_F(InitTest, FileWithoutHeaderGetsColumnNamesAndSaysHowToGiveThem) {
  WriteText(dir_ / "plain.data", CensusLike(300, 3, false));
  RunResult init =
      RunMtrec("init --data " + Path("plain.data") + " --label 'income:c9=50000+.' --out " + Path("plain.toml"));
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_NE(init.output.find("no header: the first row is data"), std::string::npos) << init.output;
  EXPECT_NE(init.output.find("columns named c0..c10; give them names with --columns a,b,c"), std::string::npos)
      << init.output;
  EXPECT_EQ(KindOf(init.output, "c0"), "numeric") << init.output;
  EXPECT_EQ(KindOf(init.output, "c9"), "label") << init.output;
  const Config config = LoadConfig(Path("plain.toml"));
  EXPECT_FALSE(config.data.header);
  EXPECT_EQ(config.data.columns.size(), 11u);
  EXPECT_EQ(config.tasks[0].name, "income");
  EXPECT_EQ(config.tasks[0].column, "c9");

  RunResult named = RunMtrec("init --data " + Path("plain.data") +
                             " --columns age,work,code,gain,weight,tags,day,country,who,income,marital"
                             " --label 'income=50000+.' --out " +
                             Path("named.toml"));
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_EQ(KindOf(named.output, "gain"), "numeric") << named.output;
  EXPECT_EQ(LoadConfig(Path("named.toml")).data.columns[3], "gain");
}

TEST_F(InitTest, BadInputGetsOneClearMessage) {
  RunResult missing = RunMtrec("init --data " + Path("nothere.csv") + " --label income");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("cannot open '" + Path("nothere.csv") + "': No such file or directory"),
            std::string::npos)
      << missing.output;

  RunResult unknown = RunMtrec("init --data " + Path("train.csv") + " --label incme=1");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("has no column 'incme' (did you mean 'income'?)"), std::string::npos) << unknown.output;

  RunResult nothing = RunMtrec("init --data " + Path("train.csv") + " --label 'income=>50K'");
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.output.find("no sampled row of '" + Path("train.csv") +
                                "' has 'income' = '>50K'; its most "
                                "frequent values: '- 50000.' ("),
            std::string::npos)
      << nothing.output;

  RunResult text = RunMtrec("init --data " + Path("train.csv") + " --label marital");
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.output.find("'marital' holds text"), std::string::npos) << text.output;

  RunResult no_label = RunMtrec("init --data " + Path("train.csv"));
  EXPECT_NE(no_label.exit_code, 0);
  EXPECT_NE(no_label.output.find("--label is required"), std::string::npos) << no_label.output;
}

}  // namespace
}  // namespace mtrec::e2e
