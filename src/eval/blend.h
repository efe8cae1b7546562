// The blended ranking score: one number per candidate from its task predictions, as `[serve]` configures it —
// the score the server sorts by and eval's ranking metrics rank by, so both measure the same ordering.
//
//   Blend blend = ResolveBlend(config, config.serve.blend);          // or a request's own weights
//   float score = blend.Score(task_scores, price);                   // task_scores[k]: task k's prediction
//   BlendColumns(blend, predictions, prices, scores);                // whole columns at once
#pragma once

#include <span>
#include <vector>

#include "common/config.h"

namespace mtrec {

struct Blend {
  struct Term {
    int task = 0;  // index into config.tasks
    double weight = 0.0;
  };
  bool product = false;      // Σ w_k s_k when false, Π max(s_k, 0)^{w_k} when true
  std::vector<Term> terms;
  bool uses_feature = false;  // multiply by the raw value of serve.blend_feature

  // task_scores: one prediction per config task; feature: the raw blend feature (ignored unless uses_feature; a
  // missing value, NaN, gives a NaN score).
  float Score(std::span<const float> task_scores, float feature) const;
};

// Resolves task names to indices. `weights` empty: every binary task with weight 1 (the config's default). Throws
// Error naming the unknown task (with a suggestion) or a weight that the mode cannot use.
Blend ResolveBlend(const Config& config, const NamedWeights& weights);

// predictions[k][row] → scores[row]; `feature` is empty unless the blend uses one.
void BlendColumns(const Blend& blend, const std::vector<std::span<const float>>& predictions,
                  std::span<const float> feature, std::span<float> scores);

}  // namespace mtrec
