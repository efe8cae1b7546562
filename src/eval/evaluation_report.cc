#include "eval/evaluation_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/metric_info.h"
#include "eval/forecast_charts.h"
#include "eval/marketing_charts.h"
#include "eval/html_report.h"
#include "eval/svg_chart.h"

namespace mtrec {
namespace {

std::string Cell(double value, const std::string& key = "") {
  if (!std::isfinite(value)) return "–";
  if (IsCountMetric(key)) return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{:.4f}", value);
}

// Metrics as rows, reports as columns (the stdout table's layout).
ReportTable MetricTable(const std::string& caption, const std::vector<TaskReport>& reports) {
  ReportTable table;
  table.caption = caption;
  table.header = {"metric"};
  std::vector<std::string> keys;
  for (const auto& report : reports) {
    table.header.push_back(report.name);
    for (const auto& [key, value] : report.metrics) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  for (const auto& key : keys) {
    std::vector<std::string> row = {key};
    for (const auto& report : reports) row.push_back(report.Has(key) ? Cell(report.Get(key), key) : "");
    table.rows.push_back(row);
  }
  return table;
}

ReportSection MetricsSection(const EvaluationRun& run, const MultiTaskGain& gain) {
  ReportSection section;
  section.title = "Metrics";
  section.note =
      "Each task over its labelled rows. calibration = Σ predicted / Σ observed (1 is calibrated on average); ece = "
      "expected calibration error over equal-width probability bins; pr_auc = average precision; f1 at the threshold "
      "eval.threshold and best_f1 at best_f1_threshold. gauc averages per-group AUC weighted by impressions "
      "(gauc_pos: by positives) over gauc_groups groups with both classes; gauc_skipped groups had one class. "
      "oracle_* columns score the simulator's true probabilities on the same rows: the best any model can do. "
      "Regression: wape = Σ|error| / Σ|actual|; bias = Σ(prediction − actual) / Σ actual, relative (above 0: "
      "over-forecast); a quantile task's pinball loss and coverage (share of rows at or below its prediction); mase "
      "= the model's MAE over the seasonal naive's.";
  section.tables.push_back(MetricTable("Per task", run.tasks));
  if (!run.sample_spaces.empty()) {
    section.tables.push_back(
        MetricTable("Sample spaces (TASK|CONDITION: TASK on the rows where CONDITION is 1)", run.sample_spaces));
  }
  if (run.ranking) {
    const RankingSummary& r = *run.ranking;
    ReportTable table;
    table.caption = fmt::format("Ranking by {} within each {} ({} groups, {} with a relevant row)", r.blend,
                                r.group_by, r.at_k.empty() ? 0 : r.at_k[0].groups,
                                r.at_k.empty() ? 0 : r.at_k[0].groups_relevant);
    table.header = {"k", "ndcg", "recall"};
    if (!r.value_task.empty()) table.header.push_back(r.value_task + " share");
    for (const auto& at : r.at_k) {
      std::vector<std::string> row = {fmt::format("{}", at.k), Cell(at.ndcg), Cell(at.recall)};
      if (!r.value_task.empty()) row.push_back(Cell(at.value_share));
      table.rows.push_back(row);
    }
    section.tables.push_back(table);
  }
  if (!gain.per_task.empty()) {
    ReportTable table;
    table.caption = fmt::format("Multi-task gain against the single-task baseline: Δm {:+.3f}%", gain.delta_m);
    table.header = {"task", "relative change"};
    for (const auto& [task, change] : gain.per_task) table.rows.push_back({task, fmt::format("{:+.3f}%", change)});
    section.tables.push_back(table);
  }
  return section;
}

// A reliability bin with fewer rows is not drawn: one or two rows make a rate of 0 or 1 that reads as a finding.
constexpr int64_t kMinReliabilityRows = 20;

// Customer value and campaign effect: each value task's decile chart and each treated task's Qini curve.
ReportSection MarketingSection(const EvaluationRun& run) {
  ReportSection section;
  section.title = "Customer value and campaign effect";
  section.note =
      "Deciles: the rows in ten equal groups by predicted value, each group's mean prediction beside its mean actual "
      "value (calibration of the amounts where the money is). Qini: the incremental outcome per customer of "
      "treating the top fraction by predicted uplift (treated outcomes less the control's, scaled to the treated "
      "count), against a random choice (dashed) and, on simulated data, ranking by the true uplift; the area "
      "between curve and random line is the qini coefficient.";
  for (const auto& report : run.tasks) {
    if (!report.deciles.empty()) section.charts.push_back(RenderDecileChart(report.name, report.deciles));
    if (report.uplift) {
      std::string chart = RenderQiniChart(report.name, *report.uplift,
                                          report.oracle_uplift ? &*report.oracle_uplift : nullptr);
      if (!chart.empty()) section.charts.push_back(std::move(chart));
    }
  }
  return section;
}

ReportSection CurvesSection(const EvaluationRun& run) {
  ReportSection section;
  section.title = "Curves";
  section.note =
      "ROC: true against false positive rate as the threshold falls (dashed: chance). Reliability: the observed "
      "positive rate of each probability bin against its mean prediction (dashed: perfect calibration); points below "
      "the line are over-confident; bins of fewer than 20 rows are left out (their rate is noise; the JSON has "
      "every bin). A click-through task fills only the first bins.";
  LineChart roc{"roc", "ROC curves", "false positive rate", "true positive rate"};
  LineChart reliability{"reliability", "Reliability", "mean predicted probability", "observed positive rate"};
  roc.unit_square = roc.diagonal = reliability.unit_square = reliability.diagonal = true;
  roc.legend_bottom = reliability.legend_bottom = true;
  for (const auto* list : {&run.tasks, &run.sample_spaces}) {
    for (const auto& report : *list) {
      if (!report.binary) continue;
      roc.series.push_back({report.name, report.roc});
      ChartSeries bins{report.name, {}, /*markers=*/true};
      for (const auto& bin : report.reliability) {
        if (bin.rows >= kMinReliabilityRows) bins.points.push_back({bin.mean_prediction, bin.positive_rate});
      }
      reliability.series.push_back(bins);
    }
  }
  if (!roc.series.empty()) section.charts = {RenderLineChart(roc), RenderLineChart(reliability)};
  return section;
}

ReportSection TrainingSection(const LoadedModel& loaded) {
  const Config& config = loaded.config;
  ReportSection section;
  section.title = "Training";
  section.note = fmt::format(
      "Per epoch, from the model file's history: each task's mean training loss, its validation metric (AUC for "
      "binary tasks, RMSE for regression), and the task weighting ('{}'): the mean coefficient each task's gradient "
      "got. The model keeps the weights of its best validation epoch ({}).",
      config.train.weighting, config.train.early_stop_metric);
  if (loaded.history.empty()) {
    section.note = "The model file has no training history.";
    return section;
  }
  // Relative to epoch 1: the tasks' losses differ in scale by orders of magnitude (logloss vs squared GMV), their
  // trends compare on one chart.
  LineChart loss{"train_loss", "Training loss relative to epoch 1", "epoch", "loss / loss of epoch 1"};
  loss.integer_x = true;
  std::vector<LineChart> valid;
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    ChartSeries series{task.name, {}, true, static_cast<int>(k)};
    const double first = loaded.history.front().train_loss.size() > k ? loaded.history.front().train_loss[k] : NAN;
    for (const auto& record : loaded.history) {
      if (k < record.train_loss.size()) {
        series.points.push_back({static_cast<double>(record.epoch), record.train_loss[k] / first});
      }
    }
    loss.series.push_back(series);
    const std::string metric = HeadlineMetric(task.kind == TaskKind::kBinary).name;
    LineChart chart{"valid_" + task.name, fmt::format("{}: validation {}", task.name, metric), "epoch", metric};
    chart.integer_x = true;
    ChartSeries v{task.name, {}, true, static_cast<int>(k)};
    for (const auto& record : loaded.history) {
      for (const auto& report : record.valid) {
        if (report.name == task.name) v.points.push_back({static_cast<double>(record.epoch), report.Get(metric)});
      }
    }
    if (!v.points.empty()) {
      chart.series.push_back(v);
      valid.push_back(chart);
    }
  }
  section.charts.push_back(RenderLineChart(loss));
  for (const auto& chart : valid) section.charts.push_back(RenderLineChart(chart));
  LineChart weights{"task_weights", "Task weights", "epoch", "mean coefficient"};
  weights.integer_x = true;
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    ChartSeries series{config.tasks[k].name, {}, true, static_cast<int>(k)};
    for (const auto& record : loaded.history) {
      if (k < record.task_weights.size()) series.points.push_back({static_cast<double>(record.epoch), record.task_weights[k]});
    }
    if (!series.points.empty()) weights.series.push_back(series);
  }
  if (!weights.series.empty()) section.charts.push_back(RenderLineChart(weights));
  return section;
}

ReportSection DiagnosticsSection(const LoadedModel& loaded, const EvaluationRun& run) {
  const Config& config = loaded.config;
  ReportSection section;
  section.title = "Multi-task diagnostics";
  section.note =
      "Expert utilisation: the mean weight each gate gave each expert on this data (a row sums to 1; a column near 0 "
      "is an expert nobody uses; rows alike mean the tasks share experts). Task conflict: the mean cosine of the task "
      "gradients on the shared parameters during training (below 0: the tasks pull the shared layers apart; near 0: "
      "unrelated; above 0: they help each other).";
  if (!run.gates.empty()) {
    Heatmap usage{"expert_usage", "Expert utilisation (mean gate weight)"};
    for (const auto& gate : run.gates) {
      for (const auto& expert : gate.experts) {
        if (std::find(usage.columns.begin(), usage.columns.end(), expert) == usage.columns.end()) {
          usage.columns.push_back(expert);
        }
      }
    }
    for (const auto& gate : run.gates) {
      usage.rows.push_back(gate.gate);
      std::vector<double> row(usage.columns.size(), NAN);
      for (size_t e = 0; e < gate.experts.size(); ++e) {
        const auto it = std::find(usage.columns.begin(), usage.columns.end(), gate.experts[e]);
        row[it - usage.columns.begin()] = gate.mean_weight[e];
      }
      usage.values.push_back(row);
    }
    section.charts.push_back(RenderHeatmap(usage));
  }
  // The conflict matrix averaged over every measured step of training.
  const size_t k = config.tasks.size();
  std::vector<std::vector<double>> sum(k, std::vector<double>(k, 0.0));
  int64_t steps = 0;
  for (const auto& record : loaded.history) {
    if (record.conflict_steps == 0 || record.conflict.size() != k) continue;
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k && j < record.conflict[i].size(); ++j) {
        sum[i][j] += record.conflict[i][j] * static_cast<double>(record.conflict_steps);
      }
    }
    steps += record.conflict_steps;
  }
  if (steps > 0) {
    Heatmap conflict{"conflict", fmt::format("Task gradient cosine (mean of {} steps)", steps)};
    conflict.diverging = true;
    for (const auto& task : config.tasks) conflict.rows.push_back(task.name), conflict.columns.push_back(task.name);
    for (auto& row : sum) {
      for (double& v : row) v /= static_cast<double>(steps);
    }
    conflict.values = sum;
    section.charts.push_back(RenderHeatmap(conflict));
  }
  if (section.charts.empty()) {
    section.note = "This model has no gates (expert utilisation) and its history has no task-gradient measurements.";
  }
  return section;
}

ReportSection SlicesSection(const EvaluationRun& run) {
  ReportSection section;
  section.title = "Slices";
  section.note = fmt::format(
      "Each task within each value of {} (the most frequent values, the rest together). share = the slice's part "
      "of the task's error: for a binary task, of the positive-negative pairs ranked the wrong way round (1 - AUC), "
      "each pair split half to the slice of each of its rows; for a regression task, of the squared error. A slice "
      "with a large share and a low AUC is where the model loses; a large share at a high AUC is just a big slice.",
      run.slice_by);
  for (const auto& task : run.slices) {
    ReportTable table;
    table.caption = task.task;
    table.header = {"value", "rows", task.binary ? "positive rate" : "mean", "mean prediction",
                    HeadlineMetric(task.binary).name};
    if (task.binary) table.header.push_back("logloss");
    table.header.push_back("share");
    for (const auto& slice : task.slices) {
      std::vector<std::string> row = {slice.value, fmt::format("{}", slice.rows), Cell(slice.label_mean),
                                      Cell(slice.mean_prediction), Cell(task.binary ? slice.auc : slice.rmse)};
      if (task.binary) row.push_back(Cell(slice.logloss));
      row.push_back(std::isfinite(slice.error_share) ? fmt::format("{:.1f}%", 100.0 * slice.error_share) : "–");
      table.rows.push_back(row);
    }
    section.tables.push_back(table);
  }
  return section;
}

ReportSection DataSection(const EvaluationRun& run) {
  ReportSection section;
  section.title = "Data";
  section.note =
      "The evaluated file: its rows, the labels of each task (a missing label leaves the row out of that task's "
      "metrics only) and, per categorical feature, the share of rows whose value the training vocabulary did not "
      "hold (they share one out-of-vocabulary embedding); a high rate means the model sees this data through few ids.";
  ReportTable labels;
  labels.caption = fmt::format("{} rows of {}{}", run.data.rows, run.data.path,
                               run.data.skipped ? fmt::format(" ({} bad rows skipped)", run.data.skipped) : "");
  labels.header = {"task", "labelled", "missing", "positive rate / mean"};
  for (const auto& label : run.data.labels) {
    labels.rows.push_back({label.task, fmt::format("{}", label.labelled), fmt::format("{}", label.missing),
                           Cell(label.mean)});
  }
  section.tables.push_back(labels);
  if (!run.data.oov_rates.empty()) {
    ReportTable oov;
    oov.caption = "Out-of-vocabulary rate";
    oov.header = {"feature", "rows out of vocabulary"};
    auto rates = run.data.oov_rates;
    std::stable_sort(rates.begin(), rates.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [feature, rate] : rates) oov.rows.push_back({feature, fmt::format("{:.2f}%", 100.0 * rate)});
    section.tables.push_back(oov);
  }
  return section;
}

}  // namespace

std::string RenderEvaluationReport(const LoadedModel& loaded, const std::string& model_path, const EvaluationRun& run,
                                   const MultiTaskGain& gain) {
  const Config& config = loaded.config;
  HtmlReport report;
  report.title = "mtrec evaluation of " + model_path;
  std::string tasks;
  for (const auto& task : config.tasks) {
    tasks += fmt::format("{}{} ({}", tasks.empty() ? "" : ", ", task.name, task.kind);
    if (!task.parent.empty()) tasks += fmt::format(", {} of {}", task.mode, task.parent);
    tasks += ")";
  }
  report.facts = {{"model", model_path},
                  {"architecture", std::string(NameOf(config.model.arch))},
                  {"tasks", tasks},
                  {"task weighting", std::string(NameOf(config.train.weighting))},
                  {"data", fmt::format("{} ({} rows)", run.data.path, run.data.rows)},
                  {"epochs trained", fmt::format("{}", loaded.history.size())},
                  {"mtrec", MTREC_VERSION}};
  report.sections = {MetricsSection(run, gain), CurvesSection(run)};
  // Only a model with forecasting tasks (a horizon, sample series) has forecast charts.
  ReportSection marketing = MarketingSection(run);
  if (!marketing.charts.empty()) report.sections.push_back(std::move(marketing));
  ReportSection forecasts = ForecastSection(run.tasks, run.forecasts);
  if (!forecasts.charts.empty()) report.sections.push_back(std::move(forecasts));
  report.sections.push_back(TrainingSection(loaded));
  report.sections.push_back(DiagnosticsSection(loaded, run));
  if (!run.slices.empty()) report.sections.push_back(SlicesSection(run));
  if (!run.importance.empty()) report.sections.push_back(ImportanceSection(run.importance));
  report.sections.push_back(DataSection(run));
  return RenderHtmlReport(report);
}

}  // namespace mtrec
