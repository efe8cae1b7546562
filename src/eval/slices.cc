#include "eval/slices.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "common/error.h"
#include "eval/metrics.h"

namespace mtrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

Slicing SliceRows(std::string column, std::span<const std::string> values, int64_t max_slices) {
  MTREC_CHECK(max_slices >= 1, "slices of '{}': max_slices is {}; expected at least 1", column, max_slices);
  std::map<std::string_view, int64_t> counts;
  for (const std::string& value : values) ++counts[value];
  std::vector<std::pair<std::string_view, int64_t>> order(counts.begin(), counts.end());
  // Most rows first; std::map already ordered the values, and a stable sort keeps that order among equal counts.
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second > b.second; });

  Slicing slicing;
  slicing.column = std::move(column);
  const size_t kept = std::min(order.size(), static_cast<size_t>(max_slices));
  std::map<std::string_view, int32_t> id_of;
  for (size_t s = 0; s < kept; ++s) {
    slicing.names.emplace_back(order[s].first);
    id_of[order[s].first] = static_cast<int32_t>(s);
  }
  const int32_t other = static_cast<int32_t>(kept);
  if (order.size() > kept) slicing.names.push_back(fmt::format("({} other values)", order.size() - kept));
  slicing.slice_of_row.reserve(values.size());
  for (const std::string& value : values) {
    auto it = id_of.find(value);
    slicing.slice_of_row.push_back(it == id_of.end() ? other : it->second);
  }
  return slicing;
}

Slicing SliceNumbers(std::string column, std::span<const float> values, int64_t max_slices) {
  MTREC_CHECK(max_slices >= 1, "slices of '{}': max_slices is {}; expected at least 1", column, max_slices);
  std::vector<float> sorted;
  for (float x : values) {
    if (!std::isnan(x)) sorted.push_back(x);
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> distinct = sorted;
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  // The lower bounds of the slices after the first: every distinct value, or the values at the row quantiles.
  std::vector<float> starts;
  if (static_cast<int64_t>(distinct.size()) <= max_slices) {
    if (!distinct.empty()) starts.assign(distinct.begin() + 1, distinct.end());
  } else {
    for (int64_t b = 1; b < max_slices; ++b) {
      const float start = sorted[sorted.size() * static_cast<size_t>(b) / static_cast<size_t>(max_slices)];
      if (start > sorted.front() && (starts.empty() || start > starts.back())) starts.push_back(start);
    }
  }
  Slicing slicing;
  slicing.column = std::move(column);
  const size_t ranges = distinct.empty() ? 0 : starts.size() + 1;
  std::vector<float> lo(ranges, INFINITY), hi(ranges, -INFINITY);
  bool missing = false;
  slicing.slice_of_row.reserve(values.size());
  for (float x : values) {
    if (std::isnan(x)) {
      missing = true;
      slicing.slice_of_row.push_back(static_cast<int32_t>(ranges));
      continue;
    }
    const size_t s = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), x) - starts.begin());
    lo[s] = std::min(lo[s], x);
    hi[s] = std::max(hi[s], x);
    slicing.slice_of_row.push_back(static_cast<int32_t>(s));
  }
  for (size_t s = 0; s < ranges; ++s) {
    slicing.names.push_back(lo[s] == hi[s] ? fmt::format("{:g}", lo[s]) : fmt::format("[{:g}, {:g}]", lo[s], hi[s]));
  }
  if (missing) slicing.names.push_back("(missing)");
  return slicing;
}

std::vector<double> MisorderedPairsPerRow(std::span<const float> scores, std::span<const float> labels) {
  MTREC_CHECK(scores.size() == labels.size(),
              "mis-ordered pairs: {} scores but {} labels; expected one score per label", scores.size(), labels.size());
  std::vector<size_t> rows;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (std::isnan(labels[i])) continue;
    MTREC_CHECK(labels[i] == 0.f || labels[i] == 1.f, "mis-ordered pairs: label at row {} is {}; expected 0 or 1", i,
                labels[i]);
    MTREC_CHECK(!std::isnan(scores[i]), "mis-ordered pairs: the score at row {} is NaN", i);
    rows.push_back(i);
  }
  std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  int64_t negatives_total = 0;
  for (size_t i : rows) negatives_total += labels[i] == 0.f;

  std::vector<double> misordered(labels.size(), 0.0);
  int64_t positives_below = 0;  // positives scored strictly lower than the current block
  int64_t negatives_upto = 0;   // negatives scored lower than or equal to the current block
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin;
    int64_t block_positives = 0, block_negatives = 0;
    while (end < rows.size() && scores[rows[end]] == scores[rows[begin]]) {
      (labels[rows[end]] == 1.f ? block_positives : block_negatives) += 1;
      ++end;
    }
    negatives_upto += block_negatives;
    const double negatives_above = static_cast<double>(negatives_total - negatives_upto);
    for (size_t j = begin; j < end; ++j) {
      const size_t i = rows[j];
      const double ties = 0.5 * static_cast<double>(labels[i] == 1.f ? block_negatives : block_positives);
      misordered[i] = (labels[i] == 1.f ? negatives_above : static_cast<double>(positives_below)) + ties;
    }
    positives_below += block_positives;
    begin = end;
  }
  return misordered;
}

TaskSlices EvaluateSlices(const TaskScores& task, const Slicing& slicing) {
  const size_t n = task.labels.size();
  MTREC_CHECK(task.predictions.size() == n && slicing.slice_of_row.size() == n,
              "slices of '{}' for task '{}': {} predictions, {} labels, {} rows sliced; expected one length",
              slicing.column, task.name, task.predictions.size(), n, slicing.slice_of_row.size());
  MTREC_CHECK(task.sample_space.empty() || task.sample_space.size() == n,
              "slices of task '{}': the sample space has {} rows, the labels {}", task.name, task.sample_space.size(),
              n);
  // The task's rows: labelled and inside its sample space.
  const std::vector<float> labels = LabelsInSampleSpace(task);
  std::vector<double> error(n, 0.0);
  if (task.binary) {
    error = MisorderedPairsPerRow(task.predictions, labels);
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(labels[i])) continue;
      const double d = static_cast<double>(task.predictions[i]) - labels[i];
      error[i] = d * d;
    }
  }
  const double total_error = std::accumulate(error.begin(), error.end(), 0.0);

  std::vector<std::vector<size_t>> members(slicing.names.size());
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(labels[i])) continue;
    const int32_t s = slicing.slice_of_row[i];
    MTREC_CHECK(s >= 0 && static_cast<size_t>(s) < members.size(), "slices of '{}': row {} has slice {} of {}",
                slicing.column, i, s, members.size());
    members[s].push_back(i);
  }
  TaskSlices result;
  result.task = task.name;
  result.binary = task.binary;
  std::vector<float> predictions, slice_labels;
  for (size_t s = 0; s < members.size(); ++s) {
    if (members[s].empty()) continue;
    predictions.clear();
    slice_labels.clear();
    double slice_error = 0.0;
    for (size_t i : members[s]) {
      predictions.push_back(task.predictions[i]);
      slice_labels.push_back(labels[i]);
      slice_error += error[i];
    }
    SliceReport report;
    report.value = slicing.names[s];
    report.rows = static_cast<int64_t>(members[s].size());
    report.label_mean = Mean(slice_labels);
    report.mean_prediction = Mean(predictions);
    if (task.binary) {
      report.auc = Auc(predictions, slice_labels);
      report.logloss = Logloss(predictions, slice_labels);
      report.rmse = kNaN;
    } else {
      report.auc = kNaN;
      report.logloss = kNaN;
      report.rmse = Rmse(predictions, slice_labels);
    }
    report.error_share = total_error > 0 ? slice_error / total_error : kNaN;
    result.slices.push_back(std::move(report));
  }
  return result;
}

}  // namespace mtrec
