// `mtrec bench train`: runs the real training step on the AliExpress shape and reports throughput and a profile.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "cli_runner.h"

namespace mtrec::e2e {
namespace {

TEST(BenchTest, TrainPrintsSamplesPerSecondLastAndAProfile) {
  const RunResult run =
      RunMtrec("-q bench train --shape aliexpress --arch shared_bottom --seconds 0.1 --warmup 1 --profile --threads 2 "
               "--bound-seconds 0.02");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string last = run.output.substr(0, run.output.find_last_not_of('\n') + 1);
  last = last.substr(last.find_last_of('\n') + 1);
  std::smatch match;
  ASSERT_TRUE(std::regex_match(last, match, std::regex(R"(samples/s: (\d+)  fraction_of_bound: (\d+\.\d+))"))) << last;
  EXPECT_GT(std::stoll(match[1]), 0);
  // The step's matmuls alone take less time than the whole step (noise aside): a fraction in (0, 1].
  EXPECT_GT(std::stod(match[2]), 0.0);
  EXPECT_LT(std::stod(match[2]), 1.5);
  // The machine first, then the bound measured for the shape's own matmuls: shared-bottom's dense layers are
  // the numeric projection, bottom 512-256 and per task a 128-64-1 tower, 9 layers, each run forward,
  // backward-weights and (all but the numeric projection, whose input needs no gradient) backward-data: 26.
  EXPECT_EQ(run.output.rfind("cpu: ", 0), 0u) << run.output;
  ASSERT_TRUE(std::regex_search(run.output, match, std::regex(R"(matmul bound: (\d+) matmuls a step)")))
      << run.output;
  EXPECT_EQ(match[1], "26");
  // The profile names the layers of the shape (16 × 128 embeddings + the numeric projection → 512-256 bottom with
  // batch norm) and the optimizer steps.
  for (const char* scope : {"input (embeddings) forward", "numeric projection forward", "bottom.0 linear forward",
                            "bottom.0 batch norm backward", "bottom.1 dropout forward", "optimizer (dense)",
                            "optimizer (embeddings)", "data (waiting for the next batch)"}) {
    EXPECT_NE(run.output.find(scope), std::string::npos) << scope << "\n" << run.output;
  }
  EXPECT_NE(run.output.find("peak memory"), std::string::npos);
}

// bf16 where the CPU has it; elsewhere the refusal names the missing instructions.
TEST(BenchTest, Bf16RunsWhereTheCpuHasItAndIsRefusedWhereNot) {
  const RunResult run = RunMtrec("-q bench train --arch shared_bottom --seconds 0.1 --warmup 1 --precision bf16 "
                                 "--bound-seconds 0.02");
  const bool supported = run.output.find("bf16 matmuls: yes") != std::string::npos;
  if (supported) {
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("arch shared_bottom, bf16"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("GFLOP/s, bf16)"), std::string::npos) << run.output;
  } else {
    EXPECT_NE(run.exit_code, 0);
    EXPECT_NE(run.output.find("--precision = \"bf16\": bf16: not supported by this CPU"), std::string::npos)
        << run.output;
  }
  const RunResult bad = RunMtrec("bench train --precision fp16");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("fp16"), std::string::npos) << bad.output;
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
