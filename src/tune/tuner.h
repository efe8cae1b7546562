// The trials of `mtrec tune` (docs/tune.md): points of a search space chosen by grid, random or TPE, each trained by
// a TrialRunner (in the CLI, `mtrec train` in a child process), `parallel` at a time. With ASHA (asynchronous
// successive halving, Li et al., MLSys 2020) a trial first trains min_epochs; it goes on to η times as many epochs
// only while it is in the best 1/η of the trials that reached its rung, so poor trials stop after an epoch or two.
// Every trial is written to DIR/tune.json when it starts and when it ends: a run killed and started again with the
// same space and options goes on from there (a trial that was running trains again).
//
//   Tuner tuner(space, options, "out/tune", [](const TrialRequest& request) { return Train(request); });
//   tuner.Run();
//   const Trial* best = tuner.Best();
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/names.h"
#include "tune/search_space.h"
#include "tune/tpe.h"

namespace mtrec {

// What a trial maximises: a metric of one task, or (task empty) its mean over the model's main tasks.
struct Objective {
  std::string task;
  std::string metric = "auc";
  double weight = 1.0;  // in the trade-off that picks the best trial (the weighted mean of the objectives)
  bool maximize = true;
  std::string Name() const { return task.empty() ? metric : task + ":" + metric; }
};

// The weighted mean of a trial's values (one per objective), each signed so that higher is better: the score that
// ranks trials and that TPE learns from.
double WeightedScore(const std::vector<Objective>& objectives, const std::vector<double>& values);

// "auc", "income:auc", "gmv:rmse"; lower is better for losses and errors (logloss, rmse, mae, wape, mase, pinball,
// loss).
Objective ParseObjective(const std::string& text);

struct TrialRequest {
  int64_t id = 0;
  std::vector<std::string> overrides;  // the point's "key=value"s
  int64_t epochs = 0;                  // train up to this many epochs in all
  bool resume = false;                 // go on from the trial's own checkpoint (an ASHA promotion)
};

struct TrialOutcome {
  bool ok = false;
  std::string error;           // why not ok, for tune.json and the log
  std::vector<double> values;  // per objective, at the run's best epoch
  double cpu_seconds = 0;      // of this run (a promotion: of the added epochs)
};

using TrialRunner = std::function<TrialOutcome(const TrialRequest&)>;

struct TuneOptions {
  SearchMethod method = SearchMethod::kTpe;
  int64_t trials = 20;  // points tried (a grid: at most its size)
  int parallel = 1;     // trials trained at once
  uint64_t seed = 1;
  std::vector<Objective> objectives = {Objective{}};
  TpeSettings tpe;
  bool asha = false;
  int64_t max_epochs = 5;  // the config's train.epochs: a trial's full budget
  int64_t min_epochs = 1;  // ASHA's first rung
  int64_t eta = 3;         // ASHA: a rung keeps the best 1/eta and trains them eta times longer
  double cpu_budget = 0;   // > 0: nothing new starts once the trials have used this many CPU seconds
};

struct Trial {
  enum class State { kPending, kRunning, kPaused, kComplete, kStopped, kFailed };
  int64_t id = 0;
  Point point;
  State state = State::kPending;
  int64_t rung = -1;   // the last rung finished (ASHA); -1: none yet
  int64_t epochs = 0;  // trained so far
  std::vector<double> values;
  double score = 0;  // the weighted mean of the values, each signed so that higher is better
  std::vector<double> rung_scores;  // the score at the end of each rung finished
  double cpu_seconds = 0;
  double started = 0;  // seconds since the tuning began (across restarts)
  double finished = 0;
  std::string error;
};

// "pending", "running", "paused", "complete", "stopped", "failed": as tune.json and the report write them.
std::string_view StateName(Trial::State state);
// Whether a trial in this state has a score: it finished a rung (paused, complete, or stopped by ASHA).
bool Finished(Trial::State state);

class Tuner {
 public:
  Tuner(SearchSpace space, TuneOptions options, std::string dir, TrialRunner runner);

  // Runs until every trial has finished; progress to the log.
  void Run();
  const std::vector<Trial>& trials() const { return trials_; }
  // The finished trial with the highest score; null when none finished.
  const Trial* Best() const;
  // Indices of the trials no other finished trial beats on every objective (one objective: the best one).
  std::vector<size_t> ParetoFront() const;
  // Every trial, those with a score first, the furthest trained and then the best first; the others by number.
  std::vector<const Trial*> Ranked() const;
  // The epochs of each ASHA rung: min_epochs · eta^k, the last one max_epochs.
  std::vector<int64_t> Rungs() const;
  const SearchSpace& space() const { return space_; }
  const TuneOptions& options() const { return options_; }

 private:
  struct Job;
  bool NextJob(Job* job);  // under mutex_
  void Finish(const Job& job, const TrialOutcome& outcome, double cpu_before);
  void Load();
  void Save() const;
  nlohmann::json SpaceJson() const;
  nlohmann::json ObjectivesJson() const;

  SearchSpace space_;
  TuneOptions options_;
  std::string dir_;
  TrialRunner runner_;
  std::vector<Trial> trials_;
  std::vector<Point> grid_;
  double clock_offset_ = 0;  // seconds of earlier runs, from tune.json
};

}  // namespace mtrec
