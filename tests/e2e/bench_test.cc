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
