// Bad input at the command line: each case must fail (or skip, when asked) with a message that says what and
// where, never crash.
#include <gtest/gtest.h>

#include "cli_runner.h"

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

TEST_F(BadInputTest, MissingFileIsNamed) {
  dir_ = FreshDir("missing");
  WriteText(dir_ / "config.toml", kConfig);
  RunResult result = RunMtrec("train --config " + (dir_ / "config.toml").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("No such file"), std::string::npos) << result.output;
}

TEST_F(BadInputTest, TextInNumericColumnGivesFileLineAndColumn) {
  RunResult result = TrainOn("text", GoodRows(5) + "paris,cheap,1\n" + GoodRows(5));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train.csv:7:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("'price'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("'cheap'"), std::string::npos) << result.output;
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
  const std::string good = ReadText(dir_ / "m.mtrec");
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
