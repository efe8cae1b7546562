#include "eval/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "eval/forecast_metrics.h"
#include "eval/grouped_auc.h"
#include "eval/metrics.h"

namespace mtrec {

double TaskReport::Get(const std::string& key) const {
  for (const auto& [name, value] : metrics) {
    if (name == key) return value;
  }
  return NAN;
}

bool TaskReport::Has(const std::string& key) const {
  for (const auto& entry : metrics) {
    if (entry.first == key) return true;
  }
  return false;
}

bool IsCountMetric(const std::string& key) {
  return key == "rows" || key == "horizon" || key == "gauc_groups" || key == "gauc_skipped";
}

std::vector<float> LabelsInSampleSpace(const TaskScores& task) {
  MTREC_CHECK(task.sample_space.empty() || task.sample_space.size() == task.labels.size(),
              "task '{}': the sample space has {} rows, the labels {}", task.name, task.sample_space.size(),
              task.labels.size());
  std::vector<float> labels(task.labels.begin(), task.labels.end());
  for (size_t i = 0; i < task.sample_space.size(); ++i) {
    if (task.sample_space[i] != 1.f) labels[i] = NAN;
  }
  return labels;
}

namespace {

// The rows of a task's sample space (sample_space == 1), copied; the other views are left empty.
struct SampleSpace {
  std::vector<float> predictions, labels, oracle, naive;
  std::vector<int64_t> groups;
};

SampleSpace Restrict(const TaskScores& task) {
  SampleSpace kept;
  for (size_t i = 0; i < task.sample_space.size(); ++i) {
    if (task.sample_space[i] != 1.f) continue;
    kept.predictions.push_back(task.predictions[i]);
    kept.labels.push_back(task.labels[i]);
    if (!task.oracle.empty()) kept.oracle.push_back(task.oracle[i]);
    if (!task.naive.empty()) kept.naive.push_back(task.naive[i]);
    if (!task.groups.empty()) kept.groups.push_back(task.groups[i]);
  }
  return kept;
}

// Points of a report's ROC curve: enough for a smooth line, few enough for a small file.
constexpr size_t kRocPoints = 200;

void AddValueMetrics(const TaskScores& task, const std::vector<int>& top_percent, bool with_curves,
                     TaskReport& report) {
  const ValueMetrics v = ComputeValueMetrics(task.predictions, task.labels, top_percent);
  auto& m = report.metrics;
  m.insert(m.end(), {{"gini", v.gini}, {"spearman", v.spearman}, {"decile_max_rel_error", v.decile_max_rel_error}});
  for (const TopShare& top : v.top_share) m.push_back({fmt::format("revenue_share_top{}", top.percent), top.share});
  if (!task.oracle.empty()) m.push_back({"oracle_gini", NormalizedGini(task.oracle, task.labels)});
  if (with_curves) report.deciles = v.deciles;
}

void AddUpliftMetrics(const TaskScores& task, const std::vector<int>& top_percent, bool with_curves,
                      TaskReport& report) {
  std::vector<float> clipped(task.propensity.begin(), task.propensity.end());
  if (task.propensity_clip > 0) {
    const auto lo = static_cast<float>(task.propensity_clip);
    for (float& e : clipped) e = std::clamp(e, lo, 1.f - lo);
  }
  const std::span<const float> propensity = clipped;
  const UpliftMetrics u =
      ComputeUpliftMetrics(task.uplift, task.labels, task.treatment, propensity, task.true_uplift, top_percent);
  auto& m = report.metrics;
  m.insert(m.end(), {{"qini", u.qini}, {"auuc", u.auuc}});
  for (const UpliftAtK& at : u.at_k) m.push_back({fmt::format("uplift_top{}", at.percent), at.uplift});
  for (const UpliftAtK& at : u.at_k) m.push_back({fmt::format("policy_value_top{}", at.percent), at.policy_value});
  m.insert(m.end(), {{"policy_value_none", u.policy_value_none}, {"policy_value_all", u.policy_value_all}});
  if (!task.true_uplift.empty()) {
    m.push_back({"true_qini", u.true_qini});
    for (const UpliftAtK& at : u.at_k) m.push_back({fmt::format("true_uplift_top{}", at.percent), at.true_uplift});
    m.push_back({"pehe", u.pehe});
    // The oracle ranks by the true uplift itself: the best any model could do on these rows.
    const UpliftMetrics o = ComputeUpliftMetrics(task.true_uplift, task.labels, task.treatment, propensity,
                                                 task.true_uplift, top_percent);
    m.insert(m.end(), {{"oracle_qini", o.qini}, {"oracle_true_qini", o.true_qini}});
    for (const UpliftAtK& at : o.at_k) {
      m.push_back({fmt::format("oracle_true_uplift_top{}", at.percent), at.true_uplift});
    }
    if (with_curves) report.oracle_uplift = o;
  }
  if (with_curves) report.uplift = u;
}

}  // namespace

std::vector<TaskReport> EvaluateTasks(const std::vector<TaskScores>& all_tasks, const EvalConfig& eval,
                                      bool with_curves) {
  std::vector<TaskReport> reports;
  for (const auto& whole : all_tasks) {
    SampleSpace kept;
    TaskScores task = whole;
    if (!whole.sample_space.empty()) {
      kept = Restrict(whole);
      task.predictions = kept.predictions;
      task.labels = kept.labels;
      task.oracle = kept.oracle;
      task.naive = kept.naive;
      task.groups = kept.groups;
    }
    TaskReport report;
    report.name = task.name;
    report.binary = task.binary;
    auto& m = report.metrics;
    if (task.binary) {
      const BinaryMetrics b = ComputeBinaryMetrics(task.predictions, task.labels, eval.threshold);
      const Calibration c =
          ComputeCalibration(task.predictions, task.labels, static_cast<int>(eval.calibration_bins));
      m = {{"rows", static_cast<double>(b.rows)}, {"positive_rate", b.positive_rate},
           {"mean_prediction", b.mean_prediction}, {"calibration", c.ratio}, {"auc", b.auc}};
      if (!task.groups.empty()) {
        const GroupedAuc g = ComputeGroupedAuc(task.predictions, task.labels, task.groups);
        m.insert(m.end(), {{"gauc", g.by_impressions}, {"gauc_pos", g.by_positives},
                           {"gauc_groups", static_cast<double>(g.groups)},
                           {"gauc_skipped", static_cast<double>(g.skipped)}});
      }
      m.insert(m.end(), {{"pr_auc", b.pr_auc}, {"logloss", b.logloss}, {"ece", c.ece}, {"accuracy", b.accuracy},
                         {"precision", b.precision}, {"recall", b.recall}, {"f1", b.f1}, {"best_f1", b.best_f1},
                         {"best_f1_threshold", b.best_f1_threshold}});
      if (!task.oracle.empty()) {
        BinaryMetrics o = ComputeBinaryMetrics(task.oracle, task.labels, eval.threshold);
        m.push_back({"oracle_auc", o.auc});
        m.push_back({"oracle_logloss", o.logloss});
      }
      if (with_curves) {
        report.roc = RocCurve(task.predictions, task.labels, kRocPoints);
        report.reliability = c.bins;
      }
    } else {
      RegressionMetrics r = ComputeRegressionMetrics(task.predictions, task.labels);
      m = {{"rows", static_cast<double>(r.rows)}};
      if (task.horizon > 0) m.push_back({"horizon", static_cast<double>(task.horizon)});
      m.insert(m.end(), {{"target_mean", r.target_mean}, {"mean_prediction", r.mean_prediction}, {"rmse", r.rmse},
                         {"mae", r.mae}, {"wape", Wape(task.predictions, task.labels)},
                         {"bias", Bias(task.predictions, task.labels)}, {"r2", r.r2},
                         {"poisson_deviance", r.poisson_deviance}, {"tweedie_deviance", r.tweedie_deviance}});
      if (!std::isnan(task.quantile)) {
        m.insert(m.end(), {{"quantile", task.quantile},
                           {"pinball", PinballLoss(task.predictions, task.labels, task.quantile)},
                           {"coverage", Coverage(task.predictions, task.labels)}});
      }
      if (!task.naive.empty()) {
        // Both over the rows the naive forecasts (Mase's rows): the model's MAE in units of the naive's.
        m.push_back({"mase", Mase(task.predictions, task.naive, task.labels)});
        m.push_back({"naive_wape", Wape(task.naive, TargetsWhereForecast(task.naive, task.labels))});
      }
      if (!task.oracle.empty()) {
        RegressionMetrics o = ComputeRegressionMetrics(task.oracle, task.labels);
        m.push_back({"oracle_rmse", o.rmse});
        m.push_back({"oracle_mae", o.mae});
        m.push_back({"oracle_wape", Wape(task.oracle, task.labels)});
        // The truth's own bias against the labels: a censored task's oracle (mean demand) sits above its labels
        // (sales), so a model's demand bias is (1 + bias) / (1 + oracle_bias) - 1.
        m.push_back({"oracle_bias", Bias(task.oracle, task.labels)});
      }
    }
    const std::vector<int> top_percent(eval.top_percent.begin(), eval.top_percent.end());
    if (task.value_metrics) AddValueMetrics(task, top_percent, with_curves, report);
    if (!task.uplift.empty() && !task.treatment.empty()) AddUpliftMetrics(task, top_percent, with_curves, report);
    if (!task.conditional.empty() && !task.conditional_oracle.empty()) {
      m.push_back({"cond_mae", Mae(task.conditional, task.conditional_oracle)});
      m.push_back({"cond_auc", SoftAuc(task.conditional, task.conditional_oracle)});
      m.push_back({"oracle_cond_auc", SoftAuc(task.conditional_oracle, task.conditional_oracle)});
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

std::string FormatMetricTable(const std::vector<TaskReport>& reports) {
  // One row per metric (the union of keys, in first-seen order), one column per task: a task has up to 20
  // metrics, tasks are few, so this way the table stays narrower than a terminal.
  std::vector<std::string> keys;
  size_t key_width = 6;
  for (const auto& report : reports) {
    for (const auto& [key, value] : report.metrics) {
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      keys.push_back(key);
      key_width = std::max(key_width, key.size());
    }
  }
  std::vector<size_t> widths;
  std::string out = fmt::format("{:<{}}", "metric", key_width);
  for (const auto& report : reports) {
    widths.push_back(std::max<size_t>(report.name.size(), 10));
    out += fmt::format("  {:>{}}", report.name, widths.back());
  }
  out += "\n";
  for (const auto& key : keys) {
    out += fmt::format("{:<{}}", key, key_width);
    for (size_t t = 0; t < reports.size(); ++t) {
      const double value = reports[t].Get(key);
      if (!reports[t].Has(key)) {
        out += fmt::format("  {:>{}}", "", widths[t]);
      } else if (IsCountMetric(key)) {
        out += fmt::format("  {:>{}}", static_cast<int64_t>(value), widths[t]);
      } else {
        out += fmt::format("  {:>{}.4f}", value, widths[t]);
      }
    }
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json JsonNumber(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

double NumberFromJson(const nlohmann::ordered_json& value) { return value.is_number() ? value.get<double>() : NAN; }

nlohmann::ordered_json ReportsToJson(const std::vector<TaskReport>& reports, int64_t rows) {
  nlohmann::ordered_json json;
  json["tasks"] = nlohmann::ordered_json::object();
  for (const auto& report : reports) {
    nlohmann::ordered_json task = nlohmann::ordered_json::object();
    for (const auto& [key, value] : report.metrics) {
      // JSON has no NaN: an undefined metric is null.
      task[key] = IsCountMetric(key) ? nlohmann::ordered_json(static_cast<int64_t>(value)) : JsonNumber(value);
    }
    json["tasks"][report.name] = task;
  }
  json["rows"] = rows;
  return json;
}

std::vector<TaskReport> ReportsFromJson(const nlohmann::ordered_json& tasks, const std::string& what) {
  MTREC_CHECK(tasks.is_object(), "{}: \"tasks\" is not an object of per-task metrics", what);
  std::vector<TaskReport> reports;
  for (const auto& [task, metrics] : tasks.items()) {
    MTREC_CHECK(metrics.is_object(), "{}: the metrics of task '{}' are not an object", what, task);
    TaskReport report;
    report.name = task;
    report.binary = metrics.contains("auc");
    for (const auto& [key, value] : metrics.items()) {
      MTREC_CHECK(value.is_number() || value.is_null(), "{}: tasks.{}.{} is not a number", what, task, key);
      report.metrics.push_back({key, NumberFromJson(value)});
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace mtrec
