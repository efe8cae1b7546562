#include "eval/blend.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/strings.h"

namespace mtrec {

float Blend::Score(std::span<const float> task_scores, float feature) const {
  double score = product ? 1.0 : 0.0;
  for (const Term& term : terms) {
    const double s = task_scores[term.task];
    if (product) {
      score *= term.weight == 0.0 ? 1.0 : std::pow(std::max(s, 0.0), term.weight);
    } else {
      score += term.weight * s;
    }
  }
  if (uses_feature) score *= feature;
  return static_cast<float>(score);
}

Blend ResolveBlend(const Config& config, const NamedWeights& weights) {
  Blend blend;
  blend.product = config.serve.blend_mode == BlendMode::kProduct;
  blend.uses_feature = !config.serve.blend_feature.empty();
  std::vector<std::string> names;
  for (const auto& task : config.tasks) names.push_back(task.name);
  if (weights.empty()) {
    for (size_t k = 0; k < config.tasks.size(); ++k) {
      if (config.tasks[k].kind == TaskKind::kBinary && !config.tasks[k].auxiliary) {
        blend.terms.push_back({static_cast<int>(k), 1.0});
      }
    }
    return blend;
  }
  for (const auto& [name, weight] : weights) {
    const int task = config.TaskIndex(name);
    MTREC_CHECK(task >= 0, "blend names no task '{}'{}; the model's tasks are {}", name, DidYouMeanSuffix(name, names),
                QuotedList(names));
    MTREC_CHECK(std::isfinite(weight), "blend weight of '{}' is {}; expected a finite number", name, weight);
    MTREC_CHECK(!blend.product || weight >= 0, "blend weight of '{}' is {}; a product blend needs weights >= 0", name,
                weight);
    blend.terms.push_back({task, weight});
  }
  return blend;
}

void BlendColumns(const Blend& blend, const std::vector<std::span<const float>>& predictions,
                  std::span<const float> feature, std::span<float> scores) {
  MTREC_CHECK(!blend.uses_feature || feature.size() == scores.size(), "BlendColumns: {} feature values for {} rows",
              feature.size(), scores.size());
  std::vector<float> row(predictions.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    for (size_t k = 0; k < predictions.size(); ++k) row[k] = predictions[k][i];
    scores[i] = blend.Score(row, blend.uses_feature ? feature[i] : 0.f);
  }
}

}  // namespace mtrec
