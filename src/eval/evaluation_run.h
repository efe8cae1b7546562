// One evaluation of a model on a labelled file, everything `mtrec eval` prints, writes as JSON and draws in the
// report: per-task metrics (and the sample-space ones), ranking metrics of the blended score over groups, expert
// utilisation, the metrics per slice of a column, and a summary of the data itself.
//
//   ColumnTable table = LoadTable(path, config.data, EvaluationRequests(config, eval));
//   EvaluationRun run = RunEvaluation(loaded, table, eval, /*with_curves=*/true);
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/column_table.h"
#include "eval/evaluation.h"
#include "eval/evaluation_importance.h"
#include "eval/forecast_charts.h"
#include "eval/ranking.h"
#include "eval/slices.h"
#include "io/model_io.h"

namespace mtrec {

struct LabelSummary {
  std::string task;
  bool binary = true;
  int64_t labelled = 0;
  int64_t missing = 0;
  double mean = 0.0;  // positive rate or target mean
};

struct DataSummary {
  std::string path;
  int64_t rows = 0;
  int64_t skipped = 0;  // bad rows skipped under data.on_error = "skip"
  std::vector<LabelSummary> labels;
  std::vector<std::pair<std::string, double>> oov_rates;  // per single-id feature: share of out-of-vocabulary rows
};

struct RankingSummary {
  std::string group_by;
  std::string blend;      // e.g. "1 click + 3 purchase"
  std::string relevance;  // e.g. "click + cart + purchase"
  std::string value_task;  // empty: no value share
  std::vector<RankingAtK> at_k;
};

struct EvaluationRun {
  DataSummary data;
  std::vector<TaskReport> tasks;          // the model's tasks, in config order
  std::vector<TaskReport> sample_spaces;  // "TASK|CONDITION" evaluations
  std::optional<RankingSummary> ranking;  // with eval.group_by
  std::vector<GateUsage> gates;
  std::string slice_by;           // with eval.slice_by: the column ...
  std::vector<TaskSlices> slices;  // ... and each task's metrics per value of it
  std::vector<TaskImportance> importance;  // with eval.importance
  // Forecasting tasks' sample series for the report (forecast against actual), given where the data has a series
  // key and dates; empty: the report draws the metric-by-horizon charts only.
  std::vector<ForecastSamples> forecasts;
};

// The columns eval reads: the model's (labels required), the group_by and the slice_by column.
std::vector<ColumnRequest> EvaluationRequests(const Config& config, const EvalConfig& eval);

EvaluationRun RunEvaluation(LoadedModel& loaded, const ColumnTable& table, const EvalConfig& eval, bool with_curves);

// Printable tables (metrics, sample spaces, ranking, slices, importance) and the "data", "sample_spaces",
// "ranking", "slices", "importance" and "curves" members of the eval JSON.
std::string FormatEvaluation(const EvaluationRun& run);
void AddEvaluationJson(const EvaluationRun& run, nlohmann::ordered_json& json);

}  // namespace mtrec
