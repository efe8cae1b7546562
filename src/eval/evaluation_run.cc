#include "eval/evaluation_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>

#include "common/error.h"
#include "common/log.h"
#include "common/metric_info.h"
#include "common/strings.h"
#include "eval/blend.h"
#include "eval/metrics.h"
#include "models/predict.h"
#include "train/diagnostics.h"
#include "train/task_scores.h"

namespace mtrec {
namespace {

// A cell as text: a categorical column's value, a number as written shortest.
std::string CellText(const ColumnTable& table, const std::string& column, int64_t row) {
  if (const Column* text = table.Find(column, ColumnType::kCategorical)) return std::string(text->Value(text->codes[row]));
  return fmt::format("{}", table.Get(column, ColumnType::kNumeric).numbers[row]);
}

// The forecast charts' rows: every forecast task (a regression with a horizon, not a quantile rung) of a file whose
// config names its dates and series, with the band up to the highest quantile rung of the same label column.
std::vector<ForecastSamples> ForecastRows(const Config& config, const ColumnTable& table, const EncodedData& data,
                                          const std::vector<std::vector<float>>& predictions) {
  const TimeSeriesConfig& series = config.time_series;
  std::vector<ForecastSamples> forecasts;
  if (series.date.empty() || !table.Find(series.date, ColumnType::kCategorical)) return forecasts;
  for (const std::string& column : series.series) {
    if (!table.Find(column, ColumnType::kCategorical) && !table.Find(column, ColumnType::kNumeric)) return forecasts;
  }
  std::vector<std::string> keys(data.rows), dates(data.rows);
  for (int64_t r = 0; r < data.rows; ++r) {
    for (const std::string& column : series.series) {
      if (!keys[r].empty()) keys[r] += " x ";
      keys[r] += CellText(table, column, r);
    }
    dates[r] = CellText(table, series.date, r);
  }
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    if (task.kind != TaskKind::kRegression || task.horizon == 0 || task.loss == LossKind::kPinball) continue;
    if (data.labels[k].empty()) continue;
    ForecastSamples samples{task.name, keys, dates, data.labels[k], predictions[k], {}};
    double top = 0;
    for (size_t q = 0; q < config.tasks.size(); ++q) {
      const TaskConfig& rung = config.tasks[q];
      if (rung.loss == LossKind::kPinball && rung.column == task.column && rung.quantile > top) {
        top = rung.quantile;
        samples.upper = predictions[q];
      }
    }
    forecasts.push_back(std::move(samples));
  }
  return forecasts;
}

// The group of each row: the group_by column's dictionary code, or the bits of its number when the column is
// read as a number for a numeric feature.
std::vector<int64_t> GroupIds(const ColumnTable& table, const std::string& column) {
  std::vector<int64_t> groups(table.rows());
  if (const Column* text = table.Find(column, ColumnType::kCategorical)) {
    for (int64_t i = 0; i < table.rows(); ++i) groups[i] = text->codes[i];
    return groups;
  }
  const Column& numbers = table.Get(column, ColumnType::kNumeric);
  for (int64_t i = 0; i < table.rows(); ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, &numbers.numbers[i], sizeof bits);
    groups[i] = bits;
  }
  return groups;
}

// The rows sliced by a column: a text column's values (most rows first), a numeric column's values or ranges
// (ascending).
Slicing SliceByColumn(const ColumnTable& table, const std::string& column, int64_t max_slices, const Config& config) {
  const std::vector<std::string>& na_values = config.data.na_values;
  // Ids the model embeds stay categories even when they are written as numbers (an industry code).
  const bool categorical_feature = std::any_of(config.features.begin(), config.features.end(), [&](const auto& f) {
    return f.column == column && f.kind != FeatureKind::kNumeric;
  });
  if (const Column* text = table.Find(column, ColumnType::kCategorical)) {
    std::vector<std::string> dictionary(text->DictionarySize());
    for (size_t code = 0; code < dictionary.size(); ++code) dictionary[code] = text->Value(static_cast<uint32_t>(code));
    // A column the model does not read arrives as text: when every value is a number (or missing), slice by number.
    std::vector<float> number_of(dictionary.size());
    bool numeric = !categorical_feature && !dictionary.empty();
    for (size_t code = 0; code < dictionary.size() && numeric; ++code) {
      const std::optional<double> x = ParseDouble(dictionary[code]);
      const bool missing = std::find(na_values.begin(), na_values.end(), dictionary[code]) != na_values.end();
      numeric = x.has_value() || missing;
      number_of[code] = x ? static_cast<float>(*x) : NAN;
    }
    if (numeric) {
      std::vector<float> numbers(table.rows());
      for (int64_t i = 0; i < table.rows(); ++i) numbers[i] = number_of[text->codes[i]];
      return SliceNumbers(column, numbers, max_slices);
    }
    std::vector<std::string> values(table.rows());
    for (int64_t i = 0; i < table.rows(); ++i) values[i] = dictionary[text->codes[i]];
    return SliceRows(column, values, max_slices);
  }
  const Column& numbers = table.Get(column, ColumnType::kNumeric);
  return SliceNumbers(column, std::span<const float>(numbers.numbers.data(), numbers.numbers.size()), max_slices);
}

std::string DescribeBlend(const Config& config, const Blend& blend) {
  std::string out;
  for (const auto& term : blend.terms) {
    const std::string& task = config.tasks[term.task].name;
    if (blend.product) {
      out += fmt::format("{}{}^{:g}", out.empty() ? "" : " × ", task, term.weight);
    } else {
      out += fmt::format("{}{:g} {}", out.empty() ? "" : " + ", term.weight, task);
    }
  }
  if (blend.uses_feature) out = fmt::format("({}) × {}", out, config.serve.blend_feature);
  return out;
}

RankingSummary EvaluateRanking(const Config& config, const EvalConfig& eval, const ColumnTable& table,
                               const EncodedData& data, const std::vector<std::vector<float>>& predictions,
                               const std::vector<int64_t>& groups) {
  RankingSummary summary;
  summary.group_by = eval.group_by;
  const Blend blend = ResolveBlend(config, config.serve.blend);
  summary.blend = DescribeBlend(config, blend);
  std::vector<float> feature;
  if (blend.uses_feature) {
    const FeatureConfig& f = *config.FindFeature(config.serve.blend_feature);
    const Column& column = table.Get(f.column, ColumnType::kNumeric);
    feature.assign(column.numbers.begin(), column.numbers.end());
    for (int64_t i = 0; i < table.rows(); ++i) {
      MTREC_CHECK(!std::isnan(feature[i]), "{}:{}: column '{}' is missing; the blend (serve.blend_feature) needs it",
                  table.path(), table.lines()[i], f.column);
    }
  }
  std::vector<std::span<const float>> columns(predictions.begin(), predictions.end());
  std::vector<float> scores(data.rows);
  BlendColumns(blend, columns, feature, scores);

  std::vector<float> relevance(data.rows, 0.f);
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    const bool counted = eval.relevance.empty()
                             ? task.kind == TaskKind::kBinary && !task.auxiliary
                             : std::find(eval.relevance.begin(), eval.relevance.end(), task.name) != eval.relevance.end();
    if (!counted) continue;
    summary.relevance += (summary.relevance.empty() ? "" : " + ") + task.name;
    for (int64_t i = 0; i < data.rows; ++i) {
      if (data.labels[k][i] == 1.f) relevance[i] += 1.f;  // a missing label counts 0
    }
  }
  summary.value_task = eval.value_task;
  if (summary.value_task.empty()) {
    for (const auto& task : config.tasks) {
      if (task.kind == TaskKind::kRegression) {
        summary.value_task = task.name;
        break;
      }
    }
  }
  std::vector<float> value;
  if (!summary.value_task.empty()) {
    const auto& labels = data.labels[config.TaskIndex(summary.value_task)];
    value.resize(data.rows);
    for (int64_t i = 0; i < data.rows; ++i) value[i] = std::isnan(labels[i]) ? 0.f : labels[i];
  }
  summary.at_k = ComputeRanking(scores, relevance, value, groups, eval.ranking_k);
  return summary;
}

}  // namespace

std::vector<ColumnRequest> EvaluationRequests(const Config& config, const EvalConfig& eval) {
  std::vector<ColumnRequest> requests = FeaturePipeline::Requests(config, /*labels_required=*/true);
  AddColumnRequest(requests, eval.group_by, "eval.group_by column");
  AddColumnRequest(requests, eval.slice_by, "eval.slice_by column");
  return requests;
}

EvaluationRun RunEvaluation(LoadedModel& loaded, const ColumnTable& table, const EvalConfig& eval, bool with_curves) {
  const Config& config = loaded.config;
  EncodedData data = loaded.pipeline->Encode(table);
  loaded.model->ResetGateUsage();
  std::vector<std::vector<float>> conditional;
  const auto predictions = Predict(*loaded.model, config, data, &conditional);

  EvaluationRun run;
  run.gates = loaded.model->GateUsages();
  run.data.path = table.path();
  run.data.rows = data.rows;
  run.data.skipped = table.report().skipped;
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    LabelSummary label;
    label.task = config.tasks[k].name;
    label.binary = config.tasks[k].kind == TaskKind::kBinary;
    label.labelled = CountValid(data.labels[k]);
    label.missing = data.rows - label.labelled;
    label.mean = Mean(data.labels[k]);
    run.data.labels.push_back(label);
  }
  const InputLayout& layout = loaded.pipeline->layout();
  for (size_t s = 0; s < layout.single_slots.size() && s < data.oov_rate.size(); ++s) {
    run.data.oov_rates.emplace_back(layout.single_slots[s].feature, data.oov_rate[s]);
  }

  std::vector<int64_t> groups;
  if (!eval.group_by.empty()) groups = GroupIds(table, eval.group_by);
  std::vector<TaskScores> scores = MakeTaskScores(config, data, predictions, &conditional);
  std::vector<TaskScores> spaces = MakeSampleSpaceScores(config, data, predictions, conditional);
  for (auto* list : {&scores, &spaces}) {
    for (auto& s : *list) s.groups = groups;
  }
  run.tasks = EvaluateTasks(scores, eval, with_curves);
  if (with_curves) run.forecasts = ForecastRows(config, table, data, predictions);
  run.sample_spaces = EvaluateTasks(spaces, eval, with_curves);
  if (!groups.empty()) run.ranking = EvaluateRanking(config, eval, table, data, predictions, groups);
  if (!eval.slice_by.empty()) {
    const Slicing slicing = SliceByColumn(table, eval.slice_by, eval.max_slices, config);
    run.slice_by = eval.slice_by;
    for (const auto& task : scores) run.slices.push_back(EvaluateSlices(task, slicing));
  }
  if (eval.importance) {
    const auto start = std::chrono::steady_clock::now();
    run.importance = PermutationImportance(loaded, data, config.train.seed);
    LogInfo("permutation importance: {} features over {} rows in {:.2f}s", config.features.size(), data.rows,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return run;
}

std::string FormatEvaluation(const EvaluationRun& run) {
  std::string out = fmt::format("{} rows of {}", run.data.rows, run.data.path);
  if (run.data.skipped) out += fmt::format(" ({} bad rows skipped)", run.data.skipped);
  out += "\n" + FormatMetricTable(run.tasks);
  if (!run.sample_spaces.empty()) out += "sample spaces (TASK|CONDITION: TASK on rows where CONDITION is 1):\n" +
                                         FormatMetricTable(run.sample_spaces);
  if (run.ranking) {
    const RankingSummary& r = *run.ranking;
    out += fmt::format("ranking by {} within each {} ({} groups, {} with a relevant row; relevance {}{}):\n",
                       r.blend, r.group_by, r.at_k.empty() ? 0 : r.at_k[0].groups,
                       r.at_k.empty() ? 0 : r.at_k[0].groups_relevant, r.relevance,
                       r.value_task.empty() ? "" : ", value " + r.value_task);
    for (const auto& at : r.at_k) {
      out += fmt::format("  @{:<3} ndcg {:.4f}  recall {:.4f}", at.k, at.ndcg, at.recall);
      if (!r.value_task.empty()) out += fmt::format("  {} share {:.4f}", r.value_task, at.value_share);
      out += "\n";
    }
  }
  for (const auto& task : run.slices) {
    out += fmt::format("{} by {} (share: of the {}):\n", task.task, run.slice_by,
                       task.binary ? "mis-ordered positive-negative pairs, 1 - AUC" : "squared error");
    size_t width = 5;
    for (const auto& slice : task.slices) width = std::max(width, slice.value.size());
    width = std::min<size_t>(width, 48);
    out += fmt::format("  {:<{}} {:>8} {:>9} {:>9} {:>8} {:>8} {:>7}\n", "value", width, "rows",
                       task.binary ? "positive" : "mean", "predicted", HeadlineMetric(task.binary).name,
                       task.binary ? "logloss" : "", "share");
    auto number = [](double x, int digits) { return std::isfinite(x) ? fmt::format("{:.{}f}", x, digits) : "-"; };
    for (const auto& slice : task.slices) {
      const std::string value =
          slice.value.size() > width ? slice.value.substr(0, width - 3) + "..." : slice.value;
      out += fmt::format("  {:<{}} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6}%\n", value, width, slice.rows,
                         number(slice.label_mean, 4), number(slice.mean_prediction, 4),
                         number(task.binary ? slice.auc : slice.rmse, 4), task.binary ? number(slice.logloss, 4) : "",
                         number(100 * slice.error_share, 1));
    }
  }
  out += FormatImportance(run.importance);
  out += FormatGateUsage(run.gates);
  return out;
}

void AddEvaluationJson(const EvaluationRun& run, nlohmann::ordered_json& json) {
  nlohmann::ordered_json data = {{"path", run.data.path}, {"rows", run.data.rows}, {"skipped_rows", run.data.skipped}};
  data["labels"] = nlohmann::ordered_json::object();
  for (const auto& label : run.data.labels) {
    data["labels"][label.task] = {{"labelled", label.labelled}, {"missing", label.missing},
                                  {label.binary ? "positive_rate" : "mean", JsonNumber(label.mean)}};
  }
  data["oov_rate"] = nlohmann::ordered_json::object();
  for (const auto& [feature, rate] : run.data.oov_rates) data["oov_rate"][feature] = JsonNumber(rate);
  json["data"] = data;
  if (!run.sample_spaces.empty()) json["sample_spaces"] = ReportsToJson(run.sample_spaces, run.data.rows)["tasks"];
  if (run.ranking) {
    const RankingSummary& r = *run.ranking;
    nlohmann::ordered_json ranking = {{"group_by", r.group_by}, {"blend", r.blend}, {"relevance", r.relevance}};
    if (!r.value_task.empty()) ranking["value_task"] = r.value_task;
    ranking["groups"] = r.at_k.empty() ? 0 : r.at_k[0].groups;
    ranking["groups_relevant"] = r.at_k.empty() ? 0 : r.at_k[0].groups_relevant;
    for (const auto& at : r.at_k) {
      ranking[fmt::format("ndcg_at_{}", at.k)] = JsonNumber(at.ndcg);
      ranking[fmt::format("recall_at_{}", at.k)] = JsonNumber(at.recall);
      if (!r.value_task.empty()) ranking[fmt::format("value_share_at_{}", at.k)] = JsonNumber(at.value_share);
    }
    json["ranking"] = ranking;
  }
  if (!run.slices.empty()) {
    nlohmann::ordered_json slices = {{"column", run.slice_by}, {"tasks", nlohmann::ordered_json::object()}};
    for (const auto& task : run.slices) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& slice : task.slices) {
        nlohmann::ordered_json s = {{"value", slice.value}, {"rows", slice.rows},
                                    {task.binary ? "positive_rate" : "target_mean", JsonNumber(slice.label_mean)},
                                    {"mean_prediction", JsonNumber(slice.mean_prediction)}};
        if (task.binary) {
          s["auc"] = JsonNumber(slice.auc);
          s["logloss"] = JsonNumber(slice.logloss);
        } else {
          s["rmse"] = JsonNumber(slice.rmse);
        }
        s["error_share"] = JsonNumber(slice.error_share);
        list.push_back(s);
      }
      slices["tasks"][task.task] = list;
    }
    json["slices"] = slices;
  }
  if (!run.importance.empty()) json["importance"] = ImportanceToJson(run.importance);
  nlohmann::ordered_json curves = nlohmann::ordered_json::object();
  for (const auto* list : {&run.tasks, &run.sample_spaces}) {
    for (const auto& report : *list) {
      if (report.roc.empty() && report.reliability.empty() && report.deciles.empty() && !report.uplift) continue;
      nlohmann::ordered_json c = nlohmann::ordered_json::object();
      if (report.binary) {
        c["roc"] = nlohmann::ordered_json::array();
        for (const auto& p : report.roc) c["roc"].push_back({p.x, p.y});
        c["reliability"] = nlohmann::ordered_json::array();
        for (const auto& bin : report.reliability) {
          c["reliability"].push_back({{"lower", bin.lower}, {"upper", bin.upper}, {"rows", bin.rows},
                                      {"mean_prediction", JsonNumber(bin.mean_prediction)},
                                      {"positive_rate", JsonNumber(bin.positive_rate)}});
        }
      }
      if (!report.deciles.empty()) {  // a value task's deciles of the prediction, lowest first
        c["deciles"] = nlohmann::ordered_json::array();
        for (const auto& d : report.deciles) {
          c["deciles"].push_back({{"rows", d.rows},
                                  {"mean_prediction", JsonNumber(d.mean_predicted)},
                                  {"mean_actual", JsonNumber(d.mean_actual)}});
        }
      }
      if (report.uplift) {  // [fraction targeted, incremental outcome per customer]
        c["qini"] = nlohmann::ordered_json::array();
        for (const auto& p : report.uplift->qini_curve) c["qini"].push_back({p.x, p.y});
      }
      curves[report.name] = c;
    }
  }
  if (!curves.empty()) json["curves"] = curves;
}

}  // namespace mtrec
