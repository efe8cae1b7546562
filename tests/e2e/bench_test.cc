// `mtrec bench train`: runs the real training step on the AliExpress shape and reports throughput and a profile.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "cli_runner.h"
#include "common/config.h"
#include "common/strings.h"

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
  // batch norm, ReLU and dropout as one pass) and the optimizer steps.
  for (const char* scope : {"input (embeddings) forward", "numeric projection forward", "bottom.0 linear forward",
                            "bottom.0 batch norm, relu, dropout backward", "bottom.1 batch norm, relu, dropout forward",
                            "optimizer (dense)",
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

// `bench serve`: the in-process scoring path on real request bodies, its stages and its share of the bound; a
// bad body is refused before anything is timed.
TEST(BenchTest, ServeScoresBodiesInProcessAndPrintsStagesAndTheBound) {
  const std::filesystem::path dir = FreshDir("bench_serve");
  ASSERT_EQ(RunMtrec("-q simulate --rows 3000 --seed 4 --out " + dir.string()).exit_code, 0);
  const std::string model = (dir / "model.mtrec").string();
  ASSERT_EQ(RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                     " model.arch=mmoe train.epochs=1")
                .exit_code,
            0);
  // Two bodies of test rows as items: every input column of the config, numbers as numbers.
  const Config config = LoadConfig((dir / "config.toml").string());
  std::ifstream test(dir / "test.csv");
  std::string line;
  std::getline(test, line);
  std::vector<std::string> header;
  for (auto field : Split(line, ",")) header.emplace_back(field);
  nlohmann::json items = nlohmann::json::array();
  for (int r = 0; r < 5 && std::getline(test, line); ++r) {
    const auto fields = Split(line, ",");
    nlohmann::json item = nlohmann::json::object();
    for (const auto& feature : config.features) {
      const size_t c = std::find(header.begin(), header.end(), feature.column) - header.begin();
      const std::string text(fields.at(c));
      item[feature.column] = feature.kind != FeatureKind::kNumeric ? nlohmann::json(text)
                             : text.empty()                         ? nlohmann::json(nullptr)
                                                                    : nlohmann::json(std::stod(text));
    }
    items.push_back(item);
  }
  std::filesystem::create_directories(dir / "bodies");
  WriteText(dir / "bodies" / "a.json", nlohmann::json({{"items", items}}).dump());
  items.erase(items.begin());
  WriteText(dir / "bodies" / "b.json", nlohmann::json({{"items", items}}).dump());
  const RunResult run = RunMtrec("-q bench serve --model " + model + " --bodies " + (dir / "bodies").string() +
                                 " --seconds 0.3 --warmup 0.1 --bound-seconds 0.01 --clients 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("2 bodies, 2 clients"), std::string::npos) << run.output;
  std::smatch match;
  EXPECT_TRUE(std::regex_search(run.output, match,
                                std::regex(R"(stages, ms per request: parse \d+\.\d+  encode \d+\.\d+  score \d+\.\d+  )"
                                           R"(write \d+\.\d+)")))
      << run.output;
  EXPECT_TRUE(std::regex_search(run.output, match, std::regex(R"(matmul bound: (\d+) matmuls a request)")))
      << run.output;
  std::string last = run.output.substr(0, run.output.find_last_not_of('\n') + 1);
  last = last.substr(last.find_last_of('\n') + 1);
  ASSERT_TRUE(std::regex_match(
      last, match, std::regex(R"(requests/s: (\d+\.\d)  p99_ms: (\d+\.\d+)  fraction_of_bound: (\d+\.\d+))")))
      << last;
  EXPECT_GT(std::stod(match[1]), 0);
  EXPECT_GT(std::stod(match[3]), 0);

  items[0]["colour"] = "red";
  WriteText(dir / "bad.json", nlohmann::json({{"items", items}}).dump());
  const RunResult bad = RunMtrec("bench serve --model " + model + " --bodies " + (dir / "bad.json").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("body 1 of --bodies is refused"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("colour"), std::string::npos) << bad.output;
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
