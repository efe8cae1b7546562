// `mtrec bench train`: runs the real training step on the AliExpress shape and reports throughput and a profile.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "cli_runner.h"

namespace mtrec::e2e {
namespace {

TEST(BenchTest, TrainPrintsSamplesPerSecondLastAndAProfile) {
  const RunResult run =
      RunMtrec("-q bench train --shape aliexpress --arch shared_bottom --seconds 0.1 --warmup 1 --profile --threads 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string last = run.output.substr(0, run.output.find_last_not_of('\n') + 1);
  last = last.substr(last.find_last_of('\n') + 1);
  std::smatch match;
  ASSERT_TRUE(std::regex_match(last, match, std::regex(R"(samples/s: (\d+))"))) << last;
  EXPECT_GT(std::stoll(match[1]), 0);
  // The profile names the layers of the shape (16 × 128 embeddings + the numeric projection → 512-256 bottom with
  // batch norm) and the optimizer steps.
  for (const char* scope : {"input (embeddings) forward", "numeric projection forward", "bottom.0 linear forward",
                            "bottom.0 batch norm backward", "bottom.1 dropout forward", "optimizer (dense)",
                            "optimizer (embeddings)", "data (waiting for the next batch)"}) {
    EXPECT_NE(run.output.find(scope), std::string::npos) << scope << "\n" << run.output;
  }
  EXPECT_NE(run.output.find("peak memory"), std::string::npos);
}

TEST(BenchTest, ReadParsesIntoTheCacheThenLoadsFromIt) {
  const std::filesystem::path dir = FreshDir("bench_read");
  ASSERT_EQ(RunMtrec("-q simulate --rows 3000 --seed 4 --out " + dir.string()).exit_code, 0);
  const RunResult run = RunMtrec("-q bench read --config " + (dir / "config.toml").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("train.csv: 2400 rows, 25 columns"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("load from cache"), std::string::npos) << run.output;
  std::smatch match;
  EXPECT_TRUE(std::regex_search(run.output, match, std::regex(R"(rows/s: (\d+)\n?$)"))) << run.output;
  // The cache went to a temporary folder, not beside the data.
  EXPECT_FALSE(std::filesystem::exists(dir / ".mtrec-cache"));
  const RunResult missing = RunMtrec("bench read --config " + (dir / "config.toml").string() + " --data " +
                                     (dir / "nope.csv").string());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("nope.csv"), std::string::npos) << missing.output;
}

TEST(BenchTest, UnknownChoicesAreRefused) {
  const RunResult arch = RunMtrec("bench train --arch mmeo");
  EXPECT_NE(arch.exit_code, 0);
  EXPECT_NE(arch.output.find("mmeo"), std::string::npos) << arch.output;
  const RunResult shape = RunMtrec("bench train --shape criteo");
  EXPECT_NE(shape.exit_code, 0);
  const RunResult missing = RunMtrec("bench");
  EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
}  // namespace mtrec::e2e
