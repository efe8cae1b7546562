// End-to-end runs of simulate -> train -> eval / predict / inspect on a small simulated data set.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

class TrainEvalTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("train_eval");
    RunResult sim = RunMtrec("simulate --rows 6000 --seed 3 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
  }
  static std::string Config() { return (dir_ / "config.toml").string(); }
  static std::string Train(const std::string& out, const std::string& extra = "") {
    return "-q train --config " + Config() + " --out " + out + " train.epochs=2 train.threads=2 " + extra;
  }
  static fs::path dir_;
};
fs::path TrainEvalTest::dir_;

// An early-stopping metric that no task reports (pinball without a quantile task) would keep no epoch as the best
// without a word: the run says so once and keeps the last epoch.
TEST_F(TrainEvalTest, AnEarlyStoppingMetricNoTaskReportsIsNamed) {
  RunResult train = RunMtrec(Train((dir_ / "unmeasured.mtrec").string(), "train.early_stop_metric=pinball"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string warning = "early stopping watches train.early_stop_metric = \"pinball\", which no task reports";
  const size_t at = train.output.find(warning);
  ASSERT_NE(at, std::string::npos) << train.output;
  EXPECT_EQ(train.output.find(warning, at + 1), std::string::npos) << "warned more than once: " << train.output;
  RunResult measured = RunMtrec(Train((dir_ / "measured.mtrec").string()));
  ASSERT_EQ(measured.exit_code, 0) << measured.output;
  EXPECT_EQ(measured.output.find("which no task reports"), std::string::npos) << measured.output;
}

TEST_F(TrainEvalTest, TrainEvalPredictInspect) {
  const std::string model = (dir_ / "model.mtrec").string();
  RunResult train = RunMtrec(Train(model));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("oracle_auc"), std::string::npos) << train.output;

  const std::string json_path = (dir_ / "metrics.json").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir_ / "test.csv").string() + " --json " + json_path);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json_path));
  EXPECT_EQ(metrics["rows"].get<int64_t>(), 600);
  for (const char* task : {"click", "cart", "purchase"}) {
    const auto& m = metrics["tasks"][task];
    double auc = m["auc"].get<double>();
    EXPECT_GT(auc, 0.55) << task;  // a trained model ranks better than chance
    EXPECT_LE(auc, 1.0) << task;
    EXPECT_GT(m["oracle_auc"].get<double>(), 0.6) << task;
    EXPECT_GT(m["logloss"].get<double>(), 0.0) << task;
  }
  EXPECT_TRUE(metrics["tasks"]["gmv"].contains("rmse"));

  const std::string predictions = (dir_ / "predictions.csv").string();
  RunResult predict =
      RunMtrec("predict --model " + model + " --data " + (dir_ / "test.csv").string() + " --out " + predictions);
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  std::string csv = ReadFileBytes(predictions);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "click,cart,purchase,gmv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 601);  // header + one line per input row

  RunResult inspect = RunMtrec("inspect " + model);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("architecture: shared_bottom, bottom 256-128, tower 64\n"), std::string::npos)
      << inspect.output;
  // The raw columns a request needs, with the value each takes; labels apart.
  EXPECT_NE(inspect.output.find("input columns (16; "), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("  user_id                  a string or integer: categorical\n"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("  price                    a number or null: numeric\n"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("  recent_categories        a list of values or one string (joined by '|'): "
                                "multi_categorical\n"),
            std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("label columns (training and eval only): click, cart, purchase, gmv\n"),
            std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find(" embeddings.user_id "), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find(" towers.purchase.1.weight 64x1"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("purchase (binary, logloss, weight 1, chain of click)"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("epoch 2"), std::string::npos) << inspect.output;
}

TEST_F(TrainEvalTest, SameSeedAndThreadsGiveByteIdenticalModels) {
  const std::string a = (dir_ / "a.mtrec").string();
  const std::string b = (dir_ / "b.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(a, "model.dropout=0.2")).exit_code, 0);
  ASSERT_EQ(RunMtrec(Train(b, "model.dropout=0.2")).exit_code, 0);
  std::string bytes_a = ReadFileBytes(a);
  ASSERT_GT(bytes_a.size(), 1000u);
  EXPECT_TRUE(bytes_a == ReadFileBytes(b));
  const std::string c = (dir_ / "c.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(c, "model.dropout=0.2 train.seed=7")).exit_code, 0);
  EXPECT_FALSE(bytes_a == ReadFileBytes(c));
}

TEST_F(TrainEvalTest, ResumedRunEqualsUninterruptedRun) {
  // The interruption is played by a run of 1 epoch; a decaying schedule would be planned over 1 epoch instead of
  // 2 there, so the rates are kept constant (a run really interrupted keeps its planned schedule on resume).
  const std::string fixed = "train.early_stop_metric=none train.lr_schedule=constant ";
  const std::string whole = (dir_ / "whole.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(whole, fixed)).exit_code, 0);
  const std::string part = (dir_ / "part.mtrec").string();
  RunResult first = RunMtrec(Train(part, fixed + "train.epochs=1"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_TRUE(fs::exists(part + ".ckpt"));
  RunResult resumed = RunMtrec(Train(part, fixed + "--resume " + part + ".ckpt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(ReadFileBytes(whole) == ReadFileBytes(part));
}

// --profile prints, after each epoch, where its steps went: scopes whose milliseconds add up to the step's, the
// time outside them included; the model it trains is the unprofiled run's, byte for byte.
TEST_F(TrainEvalTest, ProfileSplitsEachEpochsStepsWithoutChangingTheModel) {
  const std::string plain = (dir_ / "unprofiled.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(plain, "model.arch=mmoe")).exit_code, 0);
  const std::string profiled = (dir_ / "profiled.mtrec").string();
  RunResult train = RunMtrec(Train(profiled, "model.arch=mmoe --profile"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_TRUE(ReadFileBytes(plain) == ReadFileBytes(profiled));
  EXPECT_NE(train.output.find("epoch 1/2 profile: "), std::string::npos) << train.output;
  const size_t at = train.output.find("epoch 2/2 profile: ");
  ASSERT_NE(at, std::string::npos) << train.output;
  std::istringstream lines(train.output.substr(at));
  std::string line;
  std::getline(lines, line);
  const double step_ms = std::stod(line.substr(std::string("epoch 2/2 profile: ").size()));
  EXPECT_GT(step_ms, 0.0);
  double sum = 0;
  std::vector<std::string> scopes;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line) && line.rfind("epoch 2/2 ", 0) == 0) {
    std::istringstream fields(line.substr(std::string("epoch 2/2 ").size()));
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    ASSERT_GE(words.size(), 3u) << line;
    sum += std::stod(words[words.size() - 2]);
    scopes.push_back(line);
    if (line.find("(outside the scopes above)") != std::string::npos) break;
  }
  EXPECT_NEAR(sum, step_ms, 0.01 * static_cast<double>(scopes.size()) + 0.05) << train.output.substr(at);
  for (const char* scope : {"experts.0 linear forward", "gates and mixture backward", "optimizer (dense)",
                            "data (waiting for the next batch)", "(outside the scopes above)"}) {
    EXPECT_TRUE(std::any_of(scopes.begin(), scopes.end(), [&](const std::string& s) {
      return s.find(scope) != std::string::npos;
    })) << scope << " missing from " << train.output.substr(at);
  }
  RunResult follow = RunMtrec("train --config " + Config() + " --follow " + dir_.string() + " --profile");
  EXPECT_NE(follow.exit_code, 0);
  EXPECT_NE(follow.output.find("--profile times the epochs of a training run"), std::string::npos) << follow.output;
}

// train.stop_after_epochs ends a run early under the full run's schedule (mtrec tune's ASHA rungs): stopped after
// epoch 1 of a linear decay over 2 and resumed, the model is the uninterrupted run's, byte for byte.
TEST_F(TrainEvalTest, AStoppedRunKeepsTheFullSchedule) {
  const std::string decay = "train.early_stop_metric=none train.lr_schedule=linear train.final_lr_ratio=0.1 ";
  const std::string whole = (dir_ / "whole_decay.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(whole, decay)).exit_code, 0);
  const std::string part = (dir_ / "part_decay.mtrec").string();
  RunResult first = RunMtrec(Train(part, decay + "train.stop_after_epochs=1"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const RunResult history = RunMtrec("inspect " + part + " --history-json");
  ASSERT_EQ(history.exit_code, 0) << history.output;
  EXPECT_EQ(history.output.find("\"epoch\":2"), std::string::npos) << history.output;  // one epoch trained
  EXPECT_NE(history.output.find("\"epoch\":1"), std::string::npos) << history.output;
  EXPECT_FALSE(ReadFileBytes(whole) == ReadFileBytes(part));
  RunResult resumed = RunMtrec(Train(part, decay + "--resume " + part + ".ckpt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(ReadFileBytes(whole) == ReadFileBytes(part));
}

TEST_F(TrainEvalTest, LearningRateScheduleDecaysToItsFinalRatio) {
  const std::string decayed = (dir_ / "decayed.mtrec").string();
  const std::string schedule = "train.lr=0.002 train.embedding_lr=0.04 train.final_lr_ratio=0.1 ";
  RunResult run = RunMtrec("train --config " + Config() + " --out " + decayed +
                           " train.epochs=2 train.threads=2 train.early_stop_metric=none train.lr_schedule=linear " +
                           schedule);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // The rates at the last step of epoch 2 are the starting ones times final_lr_ratio; epoch 1 ends half-way.
  EXPECT_NE(run.output.find("lr 0.0002 embedding_lr 0.004"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("lr 0.0011"), std::string::npos) << run.output;
  const std::string constant = (dir_ / "constant.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(constant, "train.early_stop_metric=none " + schedule)).exit_code, 0);
  EXPECT_FALSE(ReadFileBytes(decayed) == ReadFileBytes(constant));

  RunResult bad = RunMtrec(Train(constant, "train.final_lr_ratio=1.5"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("train.final_lr_ratio must be in [0, 1], got 1.5"), std::string::npos) << bad.output;
  bad = RunMtrec(Train(constant, "train.lr_schedule=step"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("lr_schedule"), std::string::npos) << bad.output;
}

TEST_F(TrainEvalTest, WeightAverageIsSavedAndResumedExactly) {
  const std::string fixed = "train.early_stop_metric=none train.lr_schedule=constant ";
  const std::string whole = (dir_ / "ema_whole.mtrec").string();
  RunResult run = RunMtrec("train --config " + Config() + " --out " + whole + " train.epochs=2 train.threads=2 " +
                           fixed + "train.ema_decay=0.99");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // 4800 training rows in batches of 512: 10 steps an epoch.
  EXPECT_NE(run.output.find("the model holds the average of the weights over 20 steps (ema_decay 0.99)"),
            std::string::npos)
      << run.output;
  const std::string plain = (dir_ / "ema_plain.mtrec").string();
  ASSERT_EQ(RunMtrec(Train(plain, fixed)).exit_code, 0);
  EXPECT_FALSE(ReadFileBytes(whole) == ReadFileBytes(plain));

  // The average travels in the checkpoint: interrupted after epoch 1 and resumed, the model is the same.
  const std::string part = (dir_ / "ema_part.mtrec").string();
  RunResult first = RunMtrec(Train(part, fixed + "train.ema_decay=0.99 train.epochs=1"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  RunResult resumed = RunMtrec(Train(part, fixed + "train.ema_decay=0.99 --resume " + part + ".ckpt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(ReadFileBytes(whole) == ReadFileBytes(part));

  // Resumed without the average, the run says it drops it.
  RunResult dropped = RunMtrec("train --config " + Config() + " --out " + (dir_ / "ema_dropped.mtrec").string() +
                                " train.epochs=2 train.threads=2 " + fixed + "--resume " + part + ".ckpt");
  ASSERT_EQ(dropped.exit_code, 0) << dropped.output;
  EXPECT_NE(dropped.output.find("the checkpoint's average of the weights is dropped"), std::string::npos)
      << dropped.output;

  // A checkpoint without an average cannot continue one, and the decay must be below 1.
  RunResult mismatch = RunMtrec(Train(part, fixed + "train.ema_decay=0.99 --resume " + plain + ".ckpt"));
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.output.find("the checkpoint was trained without train.ema_decay"), std::string::npos)
      << mismatch.output;
  RunResult bad = RunMtrec(Train(part, "train.ema_decay=1"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("train.ema_decay must be in [0, 1) (0 = off), got 1"), std::string::npos) << bad.output;
}

// With frozen weights (learning rates of 1e-30, below a float's resolution of the weights) no epoch improves on the
// first, so patience 1 runs out after epoch 2: an early stop when epochs remain, and nothing to report when epoch 2
// was the last one planned anyway.
TEST_F(TrainEvalTest, EarlyStopIsReportedOnlyWhenEpochsRemain) {
  const std::string frozen = "train.lr=1e-30 train.embedding_lr=1e-30 train.patience=1 train.lr_schedule=constant";
  RunResult three = RunMtrec(Train((dir_ / "frozen3.mtrec").string(), frozen + " train.epochs=3").substr(3));
  ASSERT_EQ(three.exit_code, 0) << three.output;
  EXPECT_NE(three.output.find("early stop: no better valid auc for 1 epochs; keeping epoch 1"), std::string::npos)
      << three.output;
  EXPECT_EQ(three.output.find("epoch 3/3"), std::string::npos) << three.output;

  RunResult two = RunMtrec(Train((dir_ / "frozen2.mtrec").string(), frozen).substr(3));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("epoch 2/2 done"), std::string::npos) << two.output;
  EXPECT_EQ(two.output.find("early stop"), std::string::npos) << two.output;
}

TEST_F(TrainEvalTest, ValidationAndTestHeldOutOfTheTrainingFile) {
  // The 4800 training rows: 20% validation, 10% test, the rest to train on; no valid or test file.
  const std::string model = (dir_ / "held_out.mtrec").string();
  const std::string split = "'data.valid=\"\"' 'data.test=\"\"' data.valid_fraction=0.2 data.test_fraction=0.1 ";
  RunResult train = RunMtrec("train --config " + Config() + " --out " + model + " train.epochs=3 train.threads=2 " +
                             "train.patience=1 " + split);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("3360 training, 960 validation, 480 test rows (data.valid_fraction = 0.2, "
                              "data.test_fraction = 0.1; a seeded shuffle, seed 1)"),
            std::string::npos)
      << train.output;
  EXPECT_NE(train.output.find("epoch 1 valid:  click auc"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("test metrics (480 rows held out of"), std::string::npos) << train.output;

  // eval --part valid splits the training file again: the same 960 rows, scored as training's validation scored
  // the epoch it kept.
  const std::string json_path = (dir_ / "held_out_valid.json").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir_ / "train.csv").string() +
                            " --part valid --json " + json_path);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json_path));
  EXPECT_EQ(metrics["rows"].get<int64_t>(), 960);
  int matching_epochs = 0;
  for (const auto& epoch : metrics["training"]["epochs"]) {
    ASSERT_TRUE(epoch.contains("valid")) << "epoch " << epoch["epoch"] << " was not validated";
    bool same = true;
    for (const char* task : {"click", "cart", "purchase"}) {
      same = same && epoch["valid"][task]["auc"].get<double>() == metrics["tasks"][task]["auc"].get<double>();
    }
    same = same && epoch["valid"]["gmv"]["rmse"].get<double>() == metrics["tasks"]["gmv"]["rmse"].get<double>();
    matching_epochs += same ? 1 : 0;
  }
  EXPECT_EQ(matching_epochs, 1) << eval.output;
  for (const auto& [part, rows] : {std::pair{"train", 3360}, std::pair{"test", 480}}) {
    RunResult other = RunMtrec("eval --model " + model + " --data " + (dir_ / "train.csv").string() + " --part " +
                               part + " --json " + json_path);
    ASSERT_EQ(other.exit_code, 0) << other.output;
    EXPECT_EQ(nlohmann::json::parse(ReadFileBytes(json_path))["rows"].get<int64_t>(), rows) << part;
  }

  // By group (unit tests check that no group straddles); an unknown column is named with a suggestion.
  RunResult grouped = RunMtrec(Train(model, split + "data.split_group=user_id").substr(3));  // without -q
  ASSERT_EQ(grouped.exit_code, 0) << grouped.output;
  EXPECT_NE(grouped.output.find(" groups of 'user_id' by a seeded hash, seed 1)"), std::string::npos)
      << grouped.output;
  RunResult unknown = RunMtrec(Train(model, split + "data.split_group=usr_id"));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("has no column 'usr_id' (needed as data.split_group column) (did you mean "
                                "'user_id'?)"),
            std::string::npos)
      << unknown.output;
  RunResult both = RunMtrec(Train(model, "data.valid_fraction=0.2"));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("data.valid names a validation file ('valid.csv'): set one of them"), std::string::npos)
      << both.output;
}

TEST_F(TrainEvalTest, PrintConfigShowsResolvedValuesAndOverrides) {
  RunResult printed = RunMtrec("train --config " + Config() + " --print-config train.lr=0.005");
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_NE(printed.output.find("lr = 0.005"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("# Learning rate of the dense weights."), std::string::npos);
}

TEST(CliTest, EveryCommandHasHelp) {
  for (const char* command : {"", "simulate", "train", "eval", "predict", "inspect"}) {
    RunResult help = RunMtrec(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command << ": " << help.output;
    EXPECT_NE(help.output.find("Example"), std::string::npos) << command;
  }
  RunResult none = RunMtrec("");
  EXPECT_NE(none.exit_code, 0);
}

}  // namespace
}  // namespace mtrec::e2e
