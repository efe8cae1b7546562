#include "tune/tuner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

constexpr char kSpace[] = R"(
[params."model.arch"]
choices = ["a", "b"]
[params."train.lr"]
low = 0.0
high = 1.0
points = 3
)";

// A stand-in for training: the score rises with the epochs and is best at lr = 0.7 with arch "b".
double Quality(const std::vector<std::string>& overrides, int64_t epochs) {
  double lr = 0;
  bool b = false;
  for (const std::string& o : overrides) {
    if (o.rfind("train.lr=", 0) == 0) lr = std::stod(o.substr(9));
    if (o == "model.arch=\"b\"") b = true;
  }
  return 0.9 - 0.2 * std::abs(lr - 0.7) - (b ? 0.0 : 0.05) - 0.1 / static_cast<double>(epochs);
}

class TunerTest : public testing::Test {
 protected:
  void SetUp() override { dir_ = TestDir("tuner"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrialRunner Runner() {
    return [this](const TrialRequest& request) {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
      TrialOutcome outcome;
      outcome.ok = true;
      outcome.values = {Quality(request.overrides, request.epochs)};
      // A second per epoch trained: a promotion (ASHA, eta 3) trains from its checkpoint at a third of the epochs.
      outcome.cpu_seconds = static_cast<double>(request.resume ? request.epochs - request.epochs / 3 : request.epochs);
      return outcome;
    };
  }

  std::string dir_;
  std::mutex mutex_;
  std::vector<TrialRequest> requests_;
};

TEST_F(TunerTest, AGridTriesEveryPointOnceAndKeepsTheBest) {
  TuneOptions options;
  options.method = SearchMethod::kGrid;
  options.trials = 0;  // all of it
  options.parallel = 2;
  Tuner tuner(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  tuner.Run();
  ASSERT_EQ(tuner.trials().size(), 6u);
  EXPECT_EQ(requests_.size(), 6u);
  std::set<std::string> points;
  for (const TrialRequest& request : requests_) points.insert(fmt::format("{}", fmt::join(request.overrides, " ")));
  EXPECT_EQ(points.size(), 6u);
  const Trial* best = tuner.Best();
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(tuner.space().Describe(best->point), "model.arch=b train.lr=0.5");
  EXPECT_NEAR(best->score, 0.9 - 0.04 - 0.1 / 5, 1e-12);  // 5 epochs: options.max_epochs
  for (const Trial& trial : tuner.trials()) EXPECT_EQ(trial.state, Trial::State::kComplete);
  // tune.json holds every trial with its params and value.
  const nlohmann::json saved = nlohmann::json::parse(ReadFileBytes(dir_ + "/tune.json"));
  ASSERT_EQ(saved["trials"].size(), 6u);
  EXPECT_EQ(saved["method"], "grid");
  EXPECT_EQ(saved["trials"][best->id]["params"]["train.lr"], "0.5");
  EXPECT_EQ(saved["trials"][best->id]["state"], "complete");
}

// Killed with a trial running, the tuning goes on where it was: the finished trials are kept, the interrupted one
// trains again with its point, and the new ones follow; the same seed gives the same points.
TEST_F(TunerTest, AKilledRunGoesOnFromTuneJson) {
  TuneOptions options;
  options.method = SearchMethod::kRandom;
  options.trials = 3;
  options.seed = 7;
  {
    Tuner first(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
    first.Run();
  }
  nlohmann::json saved = nlohmann::json::parse(ReadFileBytes(dir_ + "/tune.json"));
  const nlohmann::json interrupted = saved["trials"][2];
  saved["trials"][2]["state"] = "running";  // as a kill during its first training leaves it
  saved["trials"][2]["rung"] = -1;
  WriteFileAtomic(dir_ + "/tune.json", saved.dump());
  requests_.clear();
  options.trials = 5;
  Tuner second(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  second.Run();
  ASSERT_EQ(second.trials().size(), 5u);
  ASSERT_EQ(requests_.size(), 3u);  // the interrupted trial and two new ones
  EXPECT_EQ(requests_[0].id, 2);
  const nlohmann::json resumed = nlohmann::json::parse(ReadFileBytes(dir_ + "/tune.json"));
  EXPECT_EQ(resumed["trials"][2]["params"], interrupted["params"]);
  EXPECT_EQ(resumed["trials"][0], saved["trials"][0]);
  // Random points depend on the seed and the trial alone: a fresh run of 5 draws the same ones.
  std::filesystem::remove(dir_ + "/tune.json");
  Tuner fresh(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  fresh.Run();
  for (size_t t = 0; t < 5; ++t) EXPECT_EQ(fresh.trials()[t].point, second.trials()[t].point) << t;
  // The same keys with other choices: refused, not read as indices into the new list.
  {
    std::string edited = kSpace;
    edited.replace(edited.find("[\"a\", \"b\"]"), 10, "[\"b\", \"a\", \"c\"]");
    Tuner other(SearchSpace::Parse(edited, "space.toml"), options, dir_, Runner());
    try {
      other.Run();
      FAIL() << "expected a refusal";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("was written by another search (space"), std::string::npos)
          << error.what();
    }
  }
  // Another search in the same folder is refused.
  options.seed = 8;
  Tuner other(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  try {
    other.Run();
    FAIL() << "expected a refusal";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("was written by another search (seed 7 there, 8 now)"),
              std::string::npos)
        << error.what();
  }
}

// ASHA: every trial trains the first rung; only the best third of a rung goes on, up to the full budget; the
// best trial has the full budget, and the compute is well under trials x full budget.
TEST_F(TunerTest, AshaStopsPoorTrialsEarly) {
  TuneOptions options;
  options.method = SearchMethod::kRandom;
  options.trials = 27;
  options.asha = true;
  options.max_epochs = 9;
  options.min_epochs = 1;
  options.eta = 3;
  Tuner tuner(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  EXPECT_EQ(tuner.Rungs(), (std::vector<int64_t>{1, 3, 9}));
  tuner.Run();
  std::map<int64_t, int> per_rung;
  double cpu = 0;
  for (const Trial& trial : tuner.trials()) {
    ++per_rung[trial.epochs];
    cpu += trial.cpu_seconds;
    EXPECT_TRUE(trial.state == Trial::State::kComplete || trial.state == Trial::State::kStopped);
    EXPECT_EQ(trial.state == Trial::State::kComplete, trial.epochs == 9);
  }
  EXPECT_EQ(per_rung[1] + per_rung[3] + per_rung[9], 27);
  // At least a third of 27 go on from rung 0 and a third of those from rung 1; asynchronous promotion may take a
  // few more (a trial promoted early can later fall out of its rung's best third), never most of them.
  EXPECT_GE(per_rung[3] + per_rung[9], 9);
  EXPECT_LE(per_rung[3] + per_rung[9], 14);
  EXPECT_GE(per_rung[9], 3);
  EXPECT_LE(per_rung[9], 6);
  // The epochs trained, a CPU second each: 27 x 1 + 9 x 2 more + 3 x 6 more = 63 at the least, against
  // 27 x 9 = 243 at full budget.
  double epochs = 0;
  for (const auto& [budget, count] : per_rung) epochs += static_cast<double>(budget * count);
  EXPECT_DOUBLE_EQ(cpu, epochs);
  EXPECT_LE(cpu, 0.5 * 243);
  const Trial* best = tuner.Best();
  EXPECT_EQ(best->epochs, 9);
  // Three trials: the best of them at one epoch, and only it, goes on.
  std::filesystem::remove(dir_ + "/tune.json");
  options.trials = 3;
  Tuner three(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  three.Run();
  size_t best_at_one = 0;
  for (size_t t = 1; t < 3; ++t) {
    if (three.trials()[t].rung_scores[0] > three.trials()[best_at_one].rung_scores[0]) best_at_one = t;
  }
  for (size_t t = 0; t < 3; ++t) EXPECT_EQ(three.trials()[t].epochs, t == best_at_one ? 3 : 1) << t;
}

// A CPU budget: trials start until the finished ones have used it (a second per epoch here, 5 epochs a trial).
TEST_F(TunerTest, ACpuBudgetStopsStartingTrials) {
  TuneOptions options;
  options.method = SearchMethod::kRandom;
  options.trials = 100;
  options.cpu_budget = 12;
  Tuner tuner(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, Runner());
  tuner.Run();
  EXPECT_EQ(tuner.trials().size(), 3u);  // 0, 5, 10 seconds spent when trials 0, 1, 2 started; 15 after
}

// A promotion that fails keeps the trial where it was: stopped at its last rung with its score there.
TEST_F(TunerTest, AFailedPromotionKeepsTheEarlierRung) {
  TuneOptions options;
  options.method = SearchMethod::kRandom;
  options.trials = 3;
  options.asha = true;
  options.max_epochs = 3;
  Tuner tuner(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, [](const TrialRequest& request) {
    if (request.resume) throw Error("disk full");
    TrialOutcome outcome;
    outcome.ok = true;
    outcome.values = {Quality(request.overrides, request.epochs)};
    return outcome;
  });
  tuner.Run();
  int stopped_with_error = 0;
  for (const Trial& trial : tuner.trials()) {
    EXPECT_EQ(trial.state, Trial::State::kStopped);
    EXPECT_EQ(trial.epochs, 1);
    EXPECT_EQ(trial.values.size(), 1u);
    stopped_with_error += trial.error == "disk full";
  }
  EXPECT_EQ(stopped_with_error, 1);
  ASSERT_NE(tuner.Best(), nullptr);
}

TEST_F(TunerTest, AFailedTrialIsKeptWithItsErrorAndTheOthersGoOn) {
  TuneOptions options;
  options.method = SearchMethod::kGrid;
  options.trials = 0;
  int calls = 0;
  Tuner tuner(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, [&](const TrialRequest& request) {
    ++calls;
    if (request.id == 1) throw Error("training diverged");
    TrialOutcome outcome;
    outcome.ok = true;
    outcome.values = {Quality(request.overrides, request.epochs)};
    return outcome;
  });
  tuner.Run();
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(tuner.trials()[1].state, Trial::State::kFailed);
  EXPECT_EQ(tuner.trials()[1].error, "training diverged");
  EXPECT_NE(tuner.Best(), nullptr);
}

TEST(ObjectiveTest, NamesAndDirections) {
  EXPECT_EQ(ParseObjective("auc").Name(), "auc");
  EXPECT_TRUE(ParseObjective("auc").maximize);
  const Objective rmse = ParseObjective("gmv:rmse");
  EXPECT_EQ(rmse.task, "gmv");
  EXPECT_FALSE(rmse.maximize);
  try {
    ParseObjective("income:acu");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("unknown metric 'acu' (did you mean 'auc'?)"), std::string::npos);
  }
}

// Several objectives: the Pareto front is the trials no other beats on both.
TEST_F(TunerTest, TheParetoFrontOfTwoObjectives) {
  TuneOptions options;
  options.method = SearchMethod::kGrid;
  options.trials = 0;
  options.objectives = {ParseObjective("x:auc"), ParseObjective("y:auc")};
  Tuner tuner(SearchSpace::Parse(kSpace, "space.toml"), options, dir_, [](const TrialRequest& request) {
    double lr = 0;
    bool b = false;
    for (const std::string& o : request.overrides) {
      if (o.rfind("train.lr=", 0) == 0) lr = std::stod(o.substr(9));
      if (o == "model.arch=\"b\"") b = true;
    }
    TrialOutcome outcome;
    outcome.ok = true;
    outcome.values = {lr, b ? 1.0 - lr : 0.5 - lr};  // arch b trades x against y; arch a is dominated
    return outcome;
  });
  tuner.Run();
  std::set<std::string> front;
  for (size_t t : tuner.ParetoFront()) front.insert(tuner.space().Describe(tuner.trials()[t].point));
  EXPECT_EQ(front, (std::set<std::string>{"model.arch=b train.lr=0", "model.arch=b train.lr=0.5",
                                          "model.arch=b train.lr=1"}));
}

}  // namespace
}  // namespace mtrec
