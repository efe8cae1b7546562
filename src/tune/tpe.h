// The tree-structured Parzen estimator (Bergstra, Bardenet, Bengio and Kégl, NeurIPS 2011), univariate as in
// Optuna's default sampler. The finished trials are split into the best γ(n) = min(⌈0.1·n⌉, 25) and the rest; for
// each param a density is fitted to each side — truncated Gaussians at the observed values (in log space for log
// ranges), each as wide as its larger gap to a neighbour, plus a prior spanning the range; a choice's smoothed
// counts — and of `candidates` values drawn from the good side's density the one with the largest l(x) / g(x) is
// taken. A param under a condition learns from the trials where it was active. Until `startup_trials` trials have
// finished, points are drawn at random.
//
//   std::vector<Observation> history = {{point, /*loss=*/-auc}, ...};
//   Point next = SampleTpe(space, history, TpeSettings{}, rng);
#pragma once

#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "tune/search_space.h"

namespace mtrec {

struct Observation {
  Point point;
  double loss = 0;  // lower is better
};

struct TpeSettings {
  int64_t startup_trials = 10;
  int64_t candidates = 24;
  double prior_weight = 1.0;
};

Point SampleTpe(const SearchSpace& space, const std::vector<Observation>& history, const TpeSettings& settings,
                Rng& rng);

// The density of a mixture of Gaussians truncated to [low, high] at x (exposed for its tests).
struct ParzenEstimator {
  std::vector<double> mus;
  std::vector<double> sigmas;
  std::vector<double> weights;  // summing to 1
  double low = 0;
  double high = 1;

  // Observed values (in the space they are modelled in) and a prior centred on the range, spanning it.
  static ParzenEstimator Fit(std::vector<double> observed, double low, double high, double prior_weight);
  double LogDensity(double x) const;
  double Sample(Rng& rng) const;
};

}  // namespace mtrec
