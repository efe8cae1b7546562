#include "eval/evaluation_importance.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/metric_info.h"
#include "common/rng.h"
#include "eval/metrics.h"
#include "eval/svg_chart.h"
#include "models/predict.h"
#include "train/task_scores.h"

namespace mtrec {
namespace {

// Moves row perm[i]'s values of one feature to row i, or back when `undo` (perm applied twice is not the identity,
// so the original is kept and restored instead).
class FeatureShuffle {
 public:
  FeatureShuffle(EncodedData& data, const FeaturePipeline::Placement& placement, int64_t numeric_width,
                 int64_t numeric_columns, const std::vector<int64_t>& perm)
      : data_(data), placement_(placement), columns_(numeric_columns) {
    const int64_t rows = data.rows;
    switch (placement.kind) {
      case FeaturePipeline::Placement::kSingle: {
        std::vector<int32_t>& ids = data.single_ids[placement.index];
        single_.resize(rows);
        for (int64_t i = 0; i < rows; ++i) single_[i] = ids[perm[i]];
        std::swap(single_, ids);
        break;
      }
      case FeaturePipeline::Placement::kMulti: {
        const EncodedData::MultiIds& source = data.multi_ids[placement.index];
        multi_.offsets.assign(1, 0);
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t from = source.offsets[perm[i]], to = source.offsets[perm[i] + 1];
          multi_.ids.insert(multi_.ids.end(), source.ids.begin() + from, source.ids.begin() + to);
          multi_.offsets.push_back(static_cast<int64_t>(multi_.ids.size()));
        }
        std::swap(multi_, data.multi_ids[placement.index]);
        break;
      }
      case FeaturePipeline::Placement::kNumeric: {
        const int64_t width = numeric_width;
        numeric_.resize(rows * columns_);
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t c = 0; c < columns_; ++c) {
            numeric_[i * columns_ + c] = data.numeric[i * width + placement.index + c];
          }
        }
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t c = 0; c < columns_; ++c) {
            data.numeric[i * width + placement.index + c] = numeric_[perm[i] * columns_ + c];
          }
        }
        width_ = width;
        break;
      }
    }
  }
  ~FeatureShuffle() {
    switch (placement_.kind) {
      case FeaturePipeline::Placement::kSingle:
        std::swap(single_, data_.single_ids[placement_.index]);
        break;
      case FeaturePipeline::Placement::kMulti:
        std::swap(multi_, data_.multi_ids[placement_.index]);
        break;
      case FeaturePipeline::Placement::kNumeric:
        for (int64_t i = 0; i < data_.rows; ++i) {
          for (int64_t c = 0; c < columns_; ++c) {
            data_.numeric[i * width_ + placement_.index + c] = numeric_[i * columns_ + c];
          }
        }
        break;
    }
  }
  FeatureShuffle(const FeatureShuffle&) = delete;
  FeatureShuffle& operator=(const FeatureShuffle&) = delete;

 private:
  EncodedData& data_;
  const FeaturePipeline::Placement placement_;
  const int64_t columns_;
  int64_t width_ = 0;
  std::vector<int32_t> single_;     // the original ids, while shuffled
  EncodedData::MultiIds multi_;
  std::vector<float> numeric_;      // the original columns, rows × columns_
};

// "drop of auc" / "rise of rmse": how the metric moves when a feature's information is taken away.
std::string ChangeName(const std::string& metric) {
  return (GetMetric(metric).higher_is_better ? "drop of " : "rise of ") + metric;
}

// Each task's headline metric on a set of predictions.
std::vector<double> Headline(const Config& config, const std::vector<std::vector<float>>& predictions,
                             const std::vector<std::vector<float>>& labels) {
  std::vector<double> values;
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    values.push_back(config.tasks[k].kind == TaskKind::kBinary ? Auc(predictions[k], labels[k])
                                                      : Rmse(predictions[k], labels[k]));
  }
  return values;
}

}  // namespace

std::vector<TaskImportance> PermutationImportance(LoadedModel& loaded, EncodedData& data, uint64_t seed) {
  const Config& config = loaded.config;
  const FeaturePipeline& pipeline = *loaded.pipeline;
  std::vector<std::vector<float>> predictions = Predict(*loaded.model, config, data);
  std::vector<std::vector<float>> labels;
  for (const TaskScores& task : MakeTaskScores(config, data, predictions)) labels.push_back(LabelsInSampleSpace(task));
  const std::vector<double> base = Headline(config, predictions, labels);

  std::vector<TaskImportance> importance(config.tasks.size());
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    importance[k].task = config.tasks[k].name;
    importance[k].metric = HeadlineMetric(config.tasks[k].kind == TaskKind::kBinary).name;
    importance[k].base = base[k];
  }
  for (size_t f = 0; f < config.features.size(); ++f) {
    std::vector<int64_t> perm(data.rows);
    for (int64_t i = 0; i < data.rows; ++i) perm[i] = i;
    Rng rng(Mix64(seed) ^ Mix64(f + 1));
    for (int64_t i = data.rows - 1; i > 0; --i) std::swap(perm[i], perm[rng.Below(static_cast<uint64_t>(i) + 1)]);
    const FeaturePipeline::Placement placement = pipeline.PlacementOf(f);
    const int64_t columns = pipeline.numeric(f).has_missing_flag() ? 2 : 1;
    std::vector<double> shuffled;
    {
      FeatureShuffle shuffle(data, placement, pipeline.layout().NumericWidth(), columns, perm);
      shuffled = Headline(config, Predict(*loaded.model, config, data), labels);
    }
    for (size_t k = 0; k < config.tasks.size(); ++k) {
      // The importance is how much worse the shuffled feature leaves the metric, in its own direction.
      const bool higher_is_better = GetMetric(importance[k].metric).higher_is_better;
      const double change = higher_is_better ? base[k] - shuffled[k] : shuffled[k] - base[k];
      importance[k].features.emplace_back(config.features[f].name, change);
    }
  }
  for (auto& task : importance) {
    std::stable_sort(task.features.begin(), task.features.end(), [](const auto& a, const auto& b) {
      // NaN (a task without both classes) last.
      return std::isnan(b.second) ? !std::isnan(a.second) : a.second > b.second;
    });
  }
  return importance;
}

std::string FormatImportance(const std::vector<TaskImportance>& importance) {
  std::string out;
  for (const auto& task : importance) {
    out += fmt::format("permutation importance for {} ({} {:.4f}; the {} when one feature is shuffled):\n", task.task,
                       task.metric, task.base, ChangeName(task.metric));
    size_t width = 7;
    for (const auto& [feature, value] : task.features) width = std::max(width, feature.size());
    for (const auto& [feature, value] : task.features) out += fmt::format("  {:<{}} {:>9.4f}\n", feature, width, value);
  }
  return out;
}

nlohmann::ordered_json ImportanceToJson(const std::vector<TaskImportance>& importance) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& task : importance) {
    nlohmann::ordered_json features = nlohmann::ordered_json::object();
    for (const auto& [feature, value] : task.features) {
      features[feature] = JsonNumber(value);
    }
    json[task.task] = {{"metric", task.metric},
                       {"base", JsonNumber(task.base)},
                       {"importance", features}};
  }
  return json;
}

ReportSection ImportanceSection(const std::vector<TaskImportance>& importance) {
  ReportSection section;
  section.title = "Feature importance";
  section.note =
      "Permutation importance on this file: each feature's encoded values shuffled across the rows in turn, the "
      "model's predictions redone, and each task's metric compared with the unshuffled one — the drop of AUC for a "
      "binary task, the rise of RMSE for a regression task. About 0: the task does not use the feature (or another "
      "feature carries the same information); below 0: noise. The heatmap shows each task's importances as a share "
      "of its largest one, features in the order of their mean share.";
  if (importance.empty()) return section;
  Heatmap heatmap{"importance", "Importance relative to each task's most important feature"};
  heatmap.diverging = true;
  std::vector<std::string> features;
  for (const auto& [feature, value] : importance.front().features) features.push_back(feature);
  std::vector<std::vector<double>> shares(features.size(), std::vector<double>(importance.size(), NAN));
  for (size_t k = 0; k < importance.size(); ++k) {
    double largest = 0;
    for (const auto& [feature, value] : importance[k].features) {
      if (std::isfinite(value)) largest = std::max(largest, std::abs(value));
    }
    for (const auto& [feature, value] : importance[k].features) {
      const size_t row = std::find(features.begin(), features.end(), feature) - features.begin();
      if (largest > 0 && std::isfinite(value)) shares[row][k] = value / largest;
    }
    heatmap.columns.push_back(importance[k].task);
  }
  std::vector<size_t> order(features.size());
  std::vector<double> mean(features.size(), 0.0);
  for (size_t r = 0; r < features.size(); ++r) {
    order[r] = r;
    for (double v : shares[r]) mean[r] += std::isfinite(v) ? v : 0.0;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mean[a] > mean[b]; });
  for (size_t r : order) {
    heatmap.rows.push_back(features[r]);
    heatmap.values.push_back(shares[r]);
  }
  section.charts.push_back(RenderHeatmap(heatmap));
  for (const auto& task : importance) {
    ReportTable table;
    table.caption = fmt::format("{}: {} {:.4f} unshuffled", task.task, task.metric, task.base);
    table.header = {"feature", ChangeName(task.metric)};
    for (const auto& [feature, value] : task.features) {
      table.rows.push_back({feature, std::isfinite(value) ? fmt::format("{:.4f}", value) : "–"});
    }
    section.tables.push_back(table);
  }
  return section;
}

}  // namespace mtrec
