#include <fmt/format.h>

#include <cmath>

#include "cli/commands.h"
#include "cli/data_sets.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/threads.h"
#include "data/split.h"
#include "eval/evaluation.h"
#include "eval/evaluation_report.h"
#include "eval/evaluation_run.h"
#include "eval/multitask_gain.h"
#include "features/labels.h"
#include "io/model_io.h"
#include "train/diagnostics.h"
#include "train/history.h"

namespace mtrec {
namespace {

struct EvalOptions {
  std::string model;
  std::string data;
  std::string json;
  std::string part = "all";
  std::string baseline;
  std::string group_by;
  bool group_by_given = false;
  std::string slice_by;
  bool slice_by_given = false;
  bool importance = false;
  std::string report;
  std::vector<std::string> history;
  int threads = 0;
};

int RunEval(const EvalOptions& options) {
  SetThreads(options.threads);
  // Before the evaluation runs, not after.
  if (!options.json.empty()) CheckWritable(options.json, "--json");
  if (!options.report.empty()) CheckWritable(options.report, "--report");
  LoadedModel loaded = LoadModel(options.model);
  const Config& config = loaded.config;
  EvalConfig eval = config.eval;
  if (options.group_by_given) eval.group_by = options.group_by;
  if (options.slice_by_given) eval.slice_by = options.slice_by;
  if (options.importance) eval.importance = true;
  const bool split_training_file = SplitsTrainingFile(config.data);
  std::vector<ColumnRequest> requests = EvaluationRequests(config, eval);
  if (options.part != "all" && split_training_file) requests = SplitRequests(config, requests);
  const std::vector<ColumnTable> history = LoadHistory(config, config.data, options.history);
  ColumnTable table = LoadTable(options.data, config.data, requests);
  LogReadReport(table, "eval");
  AddDerivedColumns(config, table, history);
  if (options.part != "all" && split_training_file) {
    // The training file, split again as training split it: the same rows, config and seed give the same parts.
    const RowSplit split = SplitRows(table, config);
    const std::vector<int64_t>& rows = options.part == "train"   ? split.train
                                       : options.part == "valid" ? split.valid
                                                                 : split.test;
    const std::string how =
        config.data.split_by == SplitBy::kDate
            ? fmt::format("data.valid_dates = \"{}\", data.test_dates = \"{}\"", config.data.valid_dates,
                          config.data.test_dates)
            : fmt::format("data.valid_fraction = {}, data.test_fraction = {}", config.data.valid_fraction,
                          config.data.test_fraction);
    MTREC_CHECK(!rows.empty(), "--part {}: the model's split of its training file ({}) holds out no {} rows of {}",
                options.part, how, options.part, options.data);
    LogInfo("--part {}: {} of the {} rows of {}, split as the model's training file was", options.part, rows.size(),
            table.rows(), options.data);
    table = table.Select(rows);
  } else if (options.part != "all") {
    MTREC_CHECK(config.data.valid_from_test > 0 && options.part != "train",
                "--part {} needs a model trained with data.valid_fraction or data.test_fraction (parts of the "
                "training file: train, valid, test) or data.valid_from_test > 0 (parts of the test file: valid, test)",
                options.part);
    auto [valid, test] = SplitValidTest(table, config.data.valid_from_test, config.data.split_seed);
    table = options.part == "valid" ? std::move(valid) : std::move(test);
  }
  for (const auto& warning :
       LabelShiftWarnings(config, loaded.train_labels, CountLabels(config, table), table.path())) {
    LogWarning("{}", warning);
  }
  const bool with_curves = !options.json.empty() || !options.report.empty();
  const EvaluationRun run = RunEvaluation(loaded, table, eval, with_curves);
  fmt::print("{}", FormatEvaluation(run));
  MultiTaskGain gain;
  if (!options.baseline.empty()) {
    gain = ComputeMultiTaskGain(run.tasks, ReadBaselineReports(options.baseline));
    MTREC_CHECK(!gain.per_task.empty(), "--baseline {} has no AUC or RMSE of any of the model's tasks",
                options.baseline);
    std::string detail;
    for (const auto& [task, change] : gain.per_task) detail += fmt::format("  {} {:+.3f}%", task, change);
    fmt::print("multi-task gain against {}: delta_m {:+.3f}% ({})\n", options.baseline, gain.delta_m, detail.substr(2));
  }
  if (!options.json.empty()) {
    nlohmann::ordered_json json = ReportsToJson(run.tasks, run.data.rows);
    if (!run.gates.empty()) json["gates"] = GateUsageToJson(run.gates);
    if (!options.baseline.empty()) {
      json["delta_m"] = {{"baseline", options.baseline}, {"value", gain.delta_m}, {"tasks", nlohmann::ordered_json::object()}};
      for (const auto& [task, change] : gain.per_task) json["delta_m"]["tasks"][task] = change;
    }
    AddEvaluationJson(run, json);
    // The training history epoch by epoch: losses, validation metrics, task weighting diagnostics.
    nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
    for (const auto& record : loaded.history) {
      nlohmann::ordered_json e = {{"epoch", record.epoch}, {"train_loss", nlohmann::ordered_json::object()}};
      for (size_t k = 0; k < record.train_loss.size() && k < config.tasks.size(); ++k) {
        e["train_loss"][config.tasks[k].name] = JsonNumber(record.train_loss[k]);
      }
      if (!record.valid.empty()) e["valid"] = ReportsToJson(record.valid, 0)["tasks"];
      e.update(WeightingToJson(config, record.task_weights, record.conflict, record.conflict_steps));
      e.erase("strategy");
      if (std::isfinite(record.delta_m)) e["delta_m"] = record.delta_m;
      epochs.push_back(e);
    }
    json["training"] = {{"weighting", std::string(NameOf(config.train.weighting))}, {"epochs", epochs}};
    WriteFileAtomic(options.json, json.dump(2) + "\n");
  }
  if (!options.report.empty()) {
    WriteFileAtomic(options.report, RenderEvaluationReport(loaded, options.model, run, gain));
    LogInfo("wrote the report {}", options.report);
  }
  return 0;
}

}  // namespace

RunCommand AddEvalCommand(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command = app.add_subcommand(
      "eval",
      "Evaluate a model on a labelled file: per-task metrics (and the oracle's, when the data has truth columns).\n\n"
      "Examples:\n"
      "  mtrec eval --model model.mtrec --data data/sim/test.csv\n"
      "  mtrec eval --model census.mtrec --data census-income.test.xz --part test --json metrics.json\n"
      "  mtrec eval --model model.mtrec --data train.csv --part valid   # rows held out by data.valid_fraction\n"
      "  mtrec eval --model model.mtrec --data test.csv --group-by user_id --report report.html\n"
      "  mtrec eval --model model.mtrec --data test.csv --importance --json metrics.json\n"
      "  mtrec eval --model census.mtrec --data census-income.test.xz --slice-by \"detailed household and family stat\"");
  command->add_option("--model", options->model, "Model file")->required();
  command->add_option("--data", options->data, "Data file, in the format the model was trained on")->required();
  command->add_option("--json", options->json, "Also write the metrics as JSON to this file");
  command->add_option("--part", options->part,
                      "Evaluate one part of a split file: of the training file with a model trained with "
                      "data.valid_fraction / data.test_fraction or data.split_by = date ('train', 'valid', 'test'), "
                      "of the test file with data.valid_from_test ('valid', 'test')")
      ->check(CLI::IsMember({"all", "train", "valid", "test"}))
      ->capture_default_str();
  command->add_option("--group-by", options->group_by,
                      "Column grouping rows into users or requests: adds GAUC and the ranking metrics of the blended "
                      "score (default: eval.group_by of the model's config; \"\" for none)")
      ->each([options](const std::string&) { options->group_by_given = true; });
  command->add_option("--slice-by", options->slice_by,
                      "Column whose values slice the rows: each task's metrics per value and the share of its error "
                      "there, the most frequent eval.max_slices values each (default: eval.slice_by; \"\" for none)")
      ->each([options](const std::string&) { options->slice_by_given = true; });
  command->add_flag("--importance", options->importance,
                    "Permutation importance: each task's AUC drop (RMSE rise) when one feature is shuffled, for "
                    "every feature (one prediction pass per feature; default: eval.importance)");
  command->add_option("--report", options->report,
                      "Also write a self-contained HTML report (metrics, curves, training history, diagnostics)");
  command->add_option("--baseline", options->baseline,
                      "Eval JSON of a single-task run on the same data: adds the multi-task gain delta_m");
  command->add_option("--history", options->history,
                      "File of the rows before --data (repeatable, oldest first): the past the model's derived "
                      "time-series columns read (docs/time_series.md)");
  command->add_option("--threads", options->threads, "Threads (0 = all cores)")->capture_default_str();
  return [options] { return RunEval(*options); };
}

}  // namespace mtrec
