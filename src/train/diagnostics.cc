#include "train/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/evaluation.h"

namespace mtrec {

double EffectiveExperts(const GateUsage& usage) {
  double total = 0, entropy = 0;
  for (double w : usage.mean_weight) total += std::max(w, 0.0);
  if (total <= 0) return 0;
  for (double w : usage.mean_weight) {
    const double p = std::max(w, 0.0) / total;
    if (p > 0) entropy -= p * std::log(p);
  }
  return std::exp(entropy);
}

std::string FormatGateUsage(const std::vector<GateUsage>& usages) {
  if (usages.empty()) return {};
  size_t name_width = 4;
  for (const auto& usage : usages) name_width = std::max(name_width, usage.gate.size());
  std::string out = "expert utilisation (mean gate weight, %):\n";
  for (const auto& usage : usages) {
    out += fmt::format("  {:<{}}", usage.gate, name_width);
    for (size_t e = 0; e < usage.experts.size(); ++e) {
      out += fmt::format("  {}={:.1f}", usage.experts[e], 100.0 * usage.mean_weight[e]);
    }
    out += fmt::format("  effective={:.1f} of {}\n", EffectiveExperts(usage), usage.experts.size());
  }
  return out;
}

nlohmann::ordered_json GateUsageToJson(const std::vector<GateUsage>& usages) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& usage : usages) {
    nlohmann::ordered_json gate = nlohmann::ordered_json::object();
    for (size_t e = 0; e < usage.experts.size(); ++e) gate[usage.experts[e]] = usage.mean_weight[e];
    json[usage.gate] = gate;
  }
  return json;
}

std::string FormatWeightingDiagnostics(const Config& config, const std::vector<double>& weights,
                                       const TaskMatrix& conflict, int64_t conflict_steps) {
  std::string out;
  size_t width = 8;
  for (const auto& task : config.tasks) width = std::max(width, task.name.size() + 2);
  if (!weights.empty() && config.train.weighting != WeightingKind::kStatic) {
    out += fmt::format("  {:<{}}", "weight", width);
    for (size_t k = 0; k < weights.size() && k < config.tasks.size(); ++k) {
      out += fmt::format(" {}={:.3f}", config.tasks[k].name, weights[k]);
    }
    out += "\n";
  }
  if (ConflictWorthShowing(conflict.size(), conflict_steps)) {
    out += fmt::format("  {:<{}}", "cosine", width);
    for (size_t j = 0; j < conflict.size(); ++j) out += fmt::format("{:>{}}", config.tasks[j].name, width);
    out += "\n";
    for (size_t i = 0; i < conflict.size(); ++i) {
      out += fmt::format("  {:<{}}", config.tasks[i].name, width);
      for (size_t j = 0; j < conflict.size(); ++j) out += fmt::format("{:>{}.3f}", conflict[i][j], width);
      out += "\n";
    }
  }
  if (!out.empty()) out.pop_back();
  return out;
}

nlohmann::ordered_json WeightingToJson(const Config& config, const std::vector<double>& weights,
                                       const TaskMatrix& conflict, int64_t conflict_steps) {
  nlohmann::ordered_json json;
  json["strategy"] = std::string(NameOf(config.train.weighting));
  json["task_weights"] = nlohmann::ordered_json::object();
  for (size_t k = 0; k < weights.size() && k < config.tasks.size(); ++k) {
    json["task_weights"][config.tasks[k].name] = JsonNumber(weights[k]);
  }
  json["conflict"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < conflict.size() && i < config.tasks.size(); ++i) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (size_t j = 0; j < conflict[i].size() && j < config.tasks.size(); ++j) row[config.tasks[j].name] = JsonNumber(conflict[i][j]);
    json["conflict"][config.tasks[i].name] = row;
  }
  json["conflict_steps"] = conflict_steps;
  return json;
}

}  // namespace mtrec
