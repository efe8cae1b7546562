#include "eval/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "eval/metrics.h"

namespace mtrec {

double TaskReport::Get(const std::string& key) const {
  for (const auto& [name, value] : metrics) {
    if (name == key) return value;
  }
  return NAN;
}

namespace {

// The rows of a task's sample space (sample_space == 1), copied; the other views are left empty.
struct SampleSpace {
  std::vector<float> predictions, labels, oracle;
};

SampleSpace Restrict(const TaskScores& task) {
  SampleSpace kept;
  for (size_t i = 0; i < task.sample_space.size(); ++i) {
    if (task.sample_space[i] != 1.f) continue;
    kept.predictions.push_back(task.predictions[i]);
    kept.labels.push_back(task.labels[i]);
    if (!task.oracle.empty()) kept.oracle.push_back(task.oracle[i]);
  }
  return kept;
}

}  // namespace

std::vector<TaskReport> EvaluateTasks(const std::vector<TaskScores>& all_tasks, double threshold) {
  std::vector<TaskReport> reports;
  for (const auto& whole : all_tasks) {
    SampleSpace kept;
    TaskScores task = whole;
    if (!whole.sample_space.empty()) {
      kept = Restrict(whole);
      task.predictions = kept.predictions;
      task.labels = kept.labels;
      task.oracle = kept.oracle;
    }
    TaskReport report;
    report.name = task.name;
    report.binary = task.binary;
    auto& m = report.metrics;
    if (task.binary) {
      BinaryMetrics b = ComputeBinaryMetrics(task.predictions, task.labels, threshold);
      m = {{"rows", static_cast<double>(b.rows)}, {"positive_rate", b.positive_rate},
           {"mean_prediction", b.mean_prediction}, {"auc", b.auc}, {"logloss", b.logloss},
           {"accuracy", b.accuracy}, {"precision", b.precision}, {"recall", b.recall}, {"f1", b.f1}};
      if (!task.oracle.empty()) {
        BinaryMetrics o = ComputeBinaryMetrics(task.oracle, task.labels, threshold);
        m.push_back({"oracle_auc", o.auc});
        m.push_back({"oracle_logloss", o.logloss});
      }
    } else {
      RegressionMetrics r = ComputeRegressionMetrics(task.predictions, task.labels);
      m = {{"rows", static_cast<double>(r.rows)}, {"target_mean", r.target_mean},
           {"mean_prediction", r.mean_prediction}, {"rmse", r.rmse}, {"mae", r.mae}};
      if (!task.oracle.empty()) {
        RegressionMetrics o = ComputeRegressionMetrics(task.oracle, task.labels);
        m.push_back({"oracle_rmse", o.rmse});
        m.push_back({"oracle_mae", o.mae});
      }
    }
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
  // Columns: the union of metric keys, in first-seen order.
  std::vector<std::string> keys;
  for (const auto& report : reports) {
    for (const auto& [key, value] : report.metrics) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  size_t name_width = 4;
  for (const auto& report : reports) name_width = std::max(name_width, report.name.size());
  std::string out = fmt::format("{:<{}}", "task", name_width);
  for (const auto& key : keys) out += fmt::format("  {:>{}}", key, std::max<size_t>(key.size(), 9));
  out += "\n";
  for (const auto& report : reports) {
    out += fmt::format("{:<{}}", report.name, name_width);
    for (const auto& key : keys) {
      double value = report.Get(key);
      size_t width = std::max<size_t>(key.size(), 9);
      bool present = false;
      for (const auto& entry : report.metrics) present = present || entry.first == key;
      if (!present) {
        out += fmt::format("  {:>{}}", "", width);
      } else if (key == "rows") {
        out += fmt::format("  {:>{}}", static_cast<int64_t>(value), width);
      } else {
        out += fmt::format("  {:>{}.4f}", value, width);
      }
    }
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json ReportsToJson(const std::vector<TaskReport>& reports, int64_t rows) {
  nlohmann::ordered_json json;
  json["tasks"] = nlohmann::ordered_json::object();
  for (const auto& report : reports) {
    nlohmann::ordered_json task = nlohmann::ordered_json::object();
    for (const auto& [key, value] : report.metrics) {
      if (key == "rows") {
        task[key] = static_cast<int64_t>(value);
      } else if (std::isfinite(value)) {
        task[key] = value;
      } else {
        task[key] = nullptr;  // JSON has no NaN: an undefined metric is null
      }
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
      report.metrics.push_back({key, value.is_number() ? value.get<double>() : NAN});
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace mtrec
