// End-to-end runs of `predict` on files without label columns: with a header, and without one (data.header =
// false), where the model's data.columns name the label columns that a file to score does not have; and
// `predict --precision` bf16 and int8 against f32, each within its stated bound.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

// Rows of x (numeric), y (the label, in the middle), c (categorical); y follows x and c.
std::string Rows(bool with_label, bool header) {
  std::string csv = header ? (with_label ? "x,y,c\n" : "x,c\n") : "";
  for (int i = 0; i < 400; ++i) {
    const int x = i % 10;
    const char* c = i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue");
    const int y = (x + (i % 3 == 0 ? 3 : 0)) > 6 ? 1 : 0;
    csv += std::to_string(x) + (with_label ? "," + std::to_string(y) : "") + "," + c + "\n";
  }
  return csv;
}

std::string Config(bool header) {
  return std::string("[data]\ntrain = \"train.csv\"\n") +
         (header ? "" : "header = false\ncolumns = [\"x\", \"y\", \"c\"]\n") +
         "[[features]]\nname = \"x\"\nkind = \"numeric\"\n[[features]]\nname = \"c\"\n"
         "[[tasks]]\nname = \"y\"\n[train]\nepochs = 2\nthreads = 1\n";
}

class PredictWithoutLabelsTest : public testing::TestWithParam<bool> {};

TEST_P(PredictWithoutLabelsTest, GivesTheSamePredictionsAsTheFileWithLabels) {
  const bool header = GetParam();
  const fs::path dir = FreshDir(header ? "predict_header" : "predict_headerless");
  WriteText(dir / "train.csv", Rows(true, header));
  WriteText(dir / "unlabelled.csv", Rows(false, header));
  WriteText(dir / "config.toml", Config(header));
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model);
  ASSERT_EQ(train.exit_code, 0) << train.output;

  RunResult labelled = RunMtrec("predict --model " + model + " --data " + (dir / "train.csv").string() + " --out " +
                                (dir / "labelled.pred").string());
  ASSERT_EQ(labelled.exit_code, 0) << labelled.output;
  RunResult unlabelled = RunMtrec("predict --model " + model + " --data " + (dir / "unlabelled.csv").string() +
                                  " --out " + (dir / "unlabelled.pred").string());
  ASSERT_EQ(unlabelled.exit_code, 0) << unlabelled.output;
  const std::string expected = ReadFileBytes(dir / "labelled.pred");
  EXPECT_EQ(std::count(expected.begin(), expected.end(), '\n'), 401);
  EXPECT_EQ(ReadFileBytes(dir / "unlabelled.pred"), expected);
  if (!header) {
    EXPECT_NE(unlabelled.output.find("read without 'y'"), std::string::npos) << unlabelled.output;
  }
}

INSTANTIATE_TEST_SUITE_P(HeaderOrNot, PredictWithoutLabelsTest, testing::Bool());

TEST(PredictWithoutLabelsTest, HeaderlessFileOfAnotherWidthIsRefusedWithBothCounts) {
  const fs::path dir = FreshDir("predict_width");
  WriteText(dir / "train.csv", Rows(true, false));
  WriteText(dir / "config.toml", Config(false));
  WriteText(dir / "short.csv", "3\n4\n");
  const std::string model = (dir / "model.mtrec").string();
  ASSERT_EQ(RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model).exit_code, 0);
  RunResult predict = RunMtrec("predict --model " + model + " --data " + (dir / "short.csv").string() + " --out " +
                               (dir / "p.csv").string());
  EXPECT_NE(predict.exit_code, 0);
  EXPECT_NE(predict.output.find("short.csv':1: expected 3 fields (data.columns) or 2 (without the columns 'y'), "
                                "found 1"),
            std::string::npos)
      << predict.output;
}

// The one prediction column of a predict CSV.
std::vector<double> Predictions(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  std::vector<double> values;
  while (std::getline(in, line)) values.push_back(std::stod(line));
  return values;
}

TEST(PredictPrecisionTest, Bf16AndInt8StayWithinTheirBoundsOfF32OrAreRefusedSayingWhy) {
  const fs::path dir = FreshDir("predict_precision");
  WriteText(dir / "train.csv", Rows(true, true));
  WriteText(dir / "config.toml", Config(true));
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto predict = [&](const std::string& precision, RunResult* run) {
    const fs::path out = dir / (precision + ".pred");
    *run = RunMtrec("predict --model " + model + " --data " + (dir / "train.csv").string() + " --out " +
                    out.string() + " --precision " + precision);
    return run->exit_code == 0 ? Predictions(ReadFileBytes(out)) : std::vector<double>{};
  };
  RunResult run;
  const std::vector<double> f32 = predict("f32", &run);
  ASSERT_EQ(f32.size(), 400u) << run.output;
  // docs/serving.md's bounds on a probability: bf16 0.01, int8 0.02.
  for (const auto& [precision, bound] : {std::pair<std::string, double>{"bf16", 0.01}, {"int8", 0.02}}) {
    SCOPED_TRACE(precision);
    const std::vector<double> scores = predict(precision, &run);
    if (run.exit_code != 0) {
      EXPECT_NE(run.output.find(precision + ": not supported by this CPU"), std::string::npos) << run.output;
      continue;
    }
    ASSERT_EQ(scores.size(), f32.size());
    int differing = 0;
    for (size_t r = 0; r < f32.size(); ++r) {
      EXPECT_NEAR(scores[r], f32[r], bound) << "row " << r;
      differing += scores[r] != f32[r];
    }
    EXPECT_GT(differing, 0) << precision << " predictions equal f32's everywhere: its path was not taken";
  }
}

}  // namespace
}  // namespace mtrec::e2e
