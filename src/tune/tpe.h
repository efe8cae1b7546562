// The tree-structured Parzen estimator (Bergstra, Bardenet, Bengio and Kégl, NeurIPS 2011), multivariate
// (Falkner, Klein and Hutter, ICML 2018) over groups of params that are searched together. The finished trials are
// split into the best γ(n) = min(⌈0.1·n⌉, 25) and the rest. The params fall into groups by their conditions
// (the unconditional params; the params searched only under mmoe or ple; gradnorm's alpha...), and a group is
// drawn as one: on each side a mixture of product kernels, one per trial where the group was active (a truncated
// Gaussian per number, in log space for log ranges, as wide as Scott's rule gives for the group's dimension; per
// choice, the trial's choice plus a little mass on every other), and a prior spanning the whole range; of
// `candidates` points drawn from the good side's mixture the one with the largest l(x) / g(x) is taken. An integer
// is scored by the mass of its unit bin. Past 25 trials on a side, older trials weigh less. Until
// `startup_trials` trials have finished, points are drawn at random, spread out: each the farthest of
// `candidates` random draws from every point tried or running. The points of trials still running count among
// the rest (a constant liar), so parallel trials do not pile onto one point.
//
//   std::vector<Observation> history = {{point, /*loss=*/-auc}, ...};
//   Point next = SampleTpe(space, history, TpeSettings{}, rng, /*running=*/{});
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
                Rng& rng, const std::vector<Point>& running = {});

// The groups SampleTpe draws together: params with the same conditions, each group in the order of its first
// param in space.order() (so a group's conditions are decided before it), params within a group in that order.
std::vector<std::vector<size_t>> TpeGroups(const SearchSpace& space);

// One side's density over a group of params: a mixture of product kernels (exposed for its tests). A value is the
// param's own value for a number (the kernels of a log range live in log space, and LogDensity is the density of
// log x there: the Jacobian cancels in l / g), the integer itself for an int, the choice's index for a choice.
class ProductMixture {
 public:
  // `observed[t]` holds trial t's values of the group's params, oldest trial first.
  ProductMixture(const SearchSpace& space, const std::vector<size_t>& group,
                 const std::vector<std::vector<double>>& observed, double prior_weight);

  double LogDensity(const std::vector<double>& x) const;
  std::vector<double> Sample(Rng& rng) const;

  // Per kernel (observations, then the prior): its weight (summing to 1); per numeric dimension its widths.
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& sigmas(size_t dim) const { return dims_[dim].sigmas; }

 private:
  struct Dim {
    bool choice = false;
    bool whole = false;  // an integer: kernels over [low - 0.5, high + 0.5], a value scored by its bin's mass
    bool log = false;
    double low = 0;      // the range in the density's space
    double high = 0;
    double first = 0;    // an integer's range
    double last = 0;
    std::vector<double> mus;
    std::vector<double> sigmas;
    std::vector<double> mass;                       // of each kernel within [low, high]
    std::vector<std::vector<double>> probabilities;  // a choice: per kernel, per choice
  };
  double LogKernel(const Dim& dim, size_t kernel, double x) const;

  std::vector<double> weights_;
  std::vector<Dim> dims_;
};

}  // namespace mtrec
