// Task weighting from the config alone: every strategy with every architecture on the simulated example, the
// per-epoch diagnostics in the model's history and the eval JSON, resuming a run with learned weights, and the
// multi-task gain against a single-task run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "cli_runner.h"
#include "common/files.h"
#include "common/names.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

const char* kTasks[] = {"click", "cart", "purchase", "gmv"};

class WeightingTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("weighting");
    RunResult sim = RunMtrec("simulate --rows 3000 --seed 9 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
  }
  static std::string Train(const std::string& out, const std::string& extra) {
    return "-q train --config " + (dir_ / "config.toml").string() + " --out " + out +
           " train.threads=2 train.batch_size=256 model.experts=2 model.expert=[16,8] model.bottom=[16,8] "
           "model.tower=[8] model.embedding_dim=4 " + extra;
  }
  static nlohmann::json Eval(const std::string& model, const std::string& extra = "") {
    const std::string json = model + ".json";
    RunResult eval = RunMtrec("-q eval --model " + model + " --data " + (dir_ / "test.csv").string() + " --json " +
                              json + " " + extra);
    EXPECT_EQ(eval.exit_code, 0) << eval.output;
    return nlohmann::json::parse(ReadFileBytes(json));
  }
  static fs::path dir_;
};
fs::path WeightingTest::dir_;

class EveryStrategy : public WeightingTest, public testing::WithParamInterface<std::string> {};

TEST_P(EveryStrategy, TrainsWithEveryArchitecture) {
  const std::string strategy = GetParam();
  for (const std::string& arch : Names<Arch>()) {
    SCOPED_TRACE(arch);
    const std::string model = (dir_ / (strategy + "-" + arch + ".mtrec")).string();
    RunResult train = RunMtrec(
        Train(model, "train.epochs=1 train.conflict_every=3 model.arch=" + arch + " train.weighting=" + strategy));
    ASSERT_EQ(train.exit_code, 0) << train.output;
    const nlohmann::json metrics = Eval(model);
    for (const char* task : kTasks) {
      const auto& m = metrics["tasks"][task];
      const double value = m[task == std::string("gmv") ? "rmse" : "auc"].get<double>();
      EXPECT_TRUE(std::isfinite(value) && value > 0) << task;
    }
    const auto& training = metrics["training"];
    EXPECT_EQ(training["weighting"], strategy);
    ASSERT_EQ(training["epochs"].size(), 1u);
    const auto& epoch = training["epochs"][0];
    for (const char* task : kTasks) {
      const double w = epoch["task_weights"][task].get<double>();
      // MGDA's min-norm point may leave a task out of a step altogether; every other strategy weighs every task.
      EXPECT_TRUE(std::isfinite(w) && (w > 0 || (strategy == "mgda" && w == 0))) << task << " weight " << w;
      if (strategy == "static") {
        EXPECT_EQ(w, 1.0);
      }
    }
    // 2,400 training rows in batches of 256: 10 steps; the gradient strategies measure every one, the others
    // every third (steps 1, 4, 7, 10).
    const bool every_step = strategy == "pcgrad" || strategy == "mgda" || strategy == "cagrad" || strategy == "gradnorm";
    EXPECT_EQ(epoch["conflict_steps"].get<int64_t>(), every_step ? 10 : 4);
    const auto& conflict = epoch["conflict"];
    for (const char* a : kTasks) {
      for (const char* b : kTasks) {
        const double cos = conflict[a][b].get<double>();
        EXPECT_GE(cos, -1.0);
        EXPECT_LE(cos, 1.0);
        EXPECT_NEAR(cos, conflict[b][a].get<double>(), 1e-12);
        // single_task's networks and embedding tables are each task's own: gmv's gradient meets no other (cart's
        // and purchase's do reach click's network, through their chain).
        const bool gmv_pair = (a == std::string("gmv")) != (b == std::string("gmv"));
        if (arch == "single_task" && gmv_pair) {
          EXPECT_EQ(cos, 0.0) << a << "," << b;
        }
      }
      // Every task shares the input representation except under single_task.
      if (arch != "single_task") {
        EXPECT_NEAR(conflict[a][a].get<double>(), 1.0, 1e-9) << a;
      }
    }
  }
}

// Every registered strategy with every registered architecture: a new one of either is trained here by being
// added to its name table.
INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategy, testing::ValuesIn(Names<WeightingKind>()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_F(WeightingTest, RepresentationSpaceTrainsAndDiffersFromShared) {
  const std::string shared = (dir_ / "space-shared.mtrec").string();
  const std::string rep = (dir_ / "space-rep.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(shared, "train.epochs=1 model.arch=mmoe train.weighting=mgda")).exit_code, 0);
  RunResult train = RunMtrec(Train(rep, "train.epochs=1 model.arch=mmoe train.weighting=mgda "
                                        "train.gradient_space=representation"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const auto a = Eval(shared)["training"]["epochs"][0]["task_weights"];
  const auto b = Eval(rep)["training"]["epochs"][0]["task_weights"];
  EXPECT_NE(a.dump(), b.dump());
  double sum = 0;
  for (const char* task : kTasks) sum += b[task].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-6);  // MGDA's coefficients lie on the simplex, step by step
}

TEST_F(WeightingTest, ResumedRunsWithLearnedWeightsEqualUninterruptedRuns) {
  for (const char* strategy : {"uncertainty", "gradnorm", "dwa", "pcgrad", "rlw"}) {
    SCOPED_TRACE(strategy);
    // Constant rates: the interrupted run below is played by a shorter one, over which a schedule would differ.
    const std::string extra = "model.arch=mmoe train.epochs=3 train.early_stop_metric=none train.lr_schedule=constant "
                              "train.weighting=" +
                              std::string(strategy);
    const std::string whole = (dir_ / (std::string("whole-") + strategy + ".mtrec")).string();
    ASSERT_EQ(RunMtrec(Train(whole, extra)).exit_code, 0);
    const std::string part = (dir_ / (std::string("part-") + strategy + ".mtrec")).string();
    ASSERT_EQ(RunMtrec(Train(part, extra + " train.epochs=2")).exit_code, 0);
    RunResult resumed = RunMtrec(Train(part, extra + " --resume " + part + ".ckpt"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_TRUE(ReadFileBytes(whole) == ReadFileBytes(part));
  }
}

TEST_F(WeightingTest, DwaChangesWeightsFromTheThirdEpoch) {
  const std::string model = (dir_ / "dwa3.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(model, "model.arch=mmoe train.epochs=3 train.early_stop_metric=none train.weighting=dwa")).exit_code, 0);
  const auto epochs = Eval(model)["training"]["epochs"];
  ASSERT_EQ(epochs.size(), 3u);
  double sum = 0;
  bool moved = false;
  for (const char* task : kTasks) {
    EXPECT_EQ(epochs[0]["task_weights"][task].get<double>(), 1.0);
    EXPECT_EQ(epochs[1]["task_weights"][task].get<double>(), 1.0);
    const double w = epochs[2]["task_weights"][task].get<double>();
    sum += w;
    moved = moved || std::abs(w - 1.0) > 1e-6;
  }
  EXPECT_NEAR(sum, 4.0, 1e-9);
  EXPECT_TRUE(moved);
}

TEST_F(WeightingTest, MultiTaskGainAgainstASingleTaskRun) {
  const std::string single = (dir_ / "gain-single.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(single, "train.epochs=1 model.arch=single_task")).exit_code, 0);
  const nlohmann::json base = Eval(single);
  const std::string baseline = single + ".json";

  const std::string multi = (dir_ / "gain-multi.mtrec").string();
  // conflict_every = 1: the 10 steps of the epoch are measured, enough for the log and inspect to show cosines.
  RunResult train =
      RunMtrec(Train(multi, "train.epochs=1 model.arch=mmoe train.conflict_every=1 train.baseline=" + baseline));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const nlohmann::json metrics = Eval(multi, "--baseline " + baseline);
  // Δm recomputed here from the two files: mean of +ΔAUC/AUC for the binary tasks and -ΔRMSE/RMSE for gmv.
  double expected = 0;
  for (const char* task : kTasks) {
    const bool binary = task != std::string("gmv");
    const char* key = binary ? "auc" : "rmse";
    const double m = metrics["tasks"][task][key].get<double>();
    const double b = base["tasks"][task][key].get<double>();
    const double change = (binary ? 1 : -1) * (m - b) / b * 100;
    EXPECT_NEAR(metrics["delta_m"]["tasks"][task].get<double>(), change, 1e-9) << task;
    expected += change / 4;
  }
  EXPECT_NEAR(metrics["delta_m"]["value"].get<double>(), expected, 1e-9);
  // The training history has Δm of the validation metrics each epoch; inspect shows it with the diagnostics.
  EXPECT_TRUE(metrics["training"]["epochs"][0]["delta_m"].is_number());
  RunResult inspect = RunMtrec("inspect " + multi);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("history (task weighting 'static')"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("| delta_m "), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("    cosine "), std::string::npos) << inspect.output;
}

TEST_F(WeightingTest, BadBaselinesAreRefusedWithTheFileNamed) {
  const std::string model = (dir_ / "bad-baseline.mtrec").string();
  struct Case {
    const char* file;
    const char* text;  // nullptr: the file does not exist
    const char* message;
  };
  const Case cases[] = {
      {"no-such.json", nullptr, "no-such.json"},
      {"broken.json", "{\"tasks\": {\"click\": {\"auc\": 0.7,", "broken.json: not valid JSON"},
      {"other.json", "{\"tasks\": {\"like\": {\"auc\": 0.7}}}", "none of this config's tasks"},
      {"wrong.json", "{\"tasks\": {\"click\": {\"auc\": \"high\"}}}", "tasks.click.auc is not a number"},
  };
  RunResult run;
  for (const Case& bad : cases) {
    const fs::path path = dir_ / bad.file;
    if (bad.text != nullptr) WriteText(path, bad.text);
    run = RunMtrec(Train(model, "train.epochs=1 train.baseline=" + path.string()));
    EXPECT_NE(run.exit_code, 0) << bad.file;
    EXPECT_NE(run.output.find(bad.message), std::string::npos) << run.output;
  }

  run = RunMtrec(Train(model, "train.epochs=1 train.weighting=pcgard"));
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("pcgrad"), std::string::npos) << run.output;  // did you mean
}

TEST_F(WeightingTest, NormalizedLossesDivideByTheConstantPredictorsLoss) {
  const std::string model = (dir_ / "normalized.mtrec").string();
  RunResult train = RunMtrec("train --config " + (dir_ / "config.toml").string() + " --out " + model +
                             " train.epochs=1 train.threads=2 train.normalize_losses=true");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("task gmv: loss divided by"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("task click: loss divided by 0.2"), std::string::npos) << train.output;
}

}  // namespace
}  // namespace mtrec::e2e
