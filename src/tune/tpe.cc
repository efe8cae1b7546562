#include "tune/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mtrec {
namespace {

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// A range param's value in the space its density lives in: log for log ranges; an integer spans its unit bin.
struct Axis {
  double low = 0;
  double high = 0;
  bool log = false;

  static Axis Of(const Param& param) {
    const bool whole = param.kind == Param::Kind::kInt;
    const double low = whole ? param.low - 0.5 : param.low;
    const double high = whole ? param.high + 0.5 : param.high;
    // A log integer range starting at 1 would reach 0.5 here, which log takes.
    return param.log ? Axis{std::log(std::max(low, 1e-12)), std::log(high), true} : Axis{low, high, false};
  }
  double To(double x) const { return log ? std::log(std::max(x, 1e-300)) : x; }
  double From(double t) const { return log ? std::exp(t) : t; }
};

}  // namespace

ParzenEstimator ParzenEstimator::Fit(std::vector<double> observed, double low, double high, double prior_weight) {
  ParzenEstimator estimator;
  estimator.low = low;
  estimator.high = high;
  const double range = high - low;
  const double prior_mu = 0.5 * (low + high);
  // Widths from the sorted values with the prior among them: each value's larger gap to a neighbour (the ends of
  // the range bound the first and last), clipped between range / min(100, n + 1) and the range.
  std::vector<double> sorted = observed;
  sorted.push_back(prior_mu);
  std::sort(sorted.begin(), sorted.end());
  const double min_sigma = range / std::min(100.0, static_cast<double>(observed.size()) + 1.0);
  auto sigma_of = [&](double mu) {
    const auto at = std::lower_bound(sorted.begin(), sorted.end(), mu);
    const double left = at == sorted.begin() ? mu - low : mu - *(at - 1);
    const auto next = std::upper_bound(sorted.begin(), sorted.end(), mu);
    const double right = next == sorted.end() ? high - mu : *next - mu;
    return std::clamp(std::max(left, right), min_sigma, range);
  };
  for (double mu : observed) {
    estimator.mus.push_back(mu);
    estimator.sigmas.push_back(sigma_of(mu));
    estimator.weights.push_back(1.0);
  }
  estimator.mus.push_back(prior_mu);
  estimator.sigmas.push_back(range);
  estimator.weights.push_back(prior_weight);
  const double total = std::accumulate(estimator.weights.begin(), estimator.weights.end(), 0.0);
  for (double& w : estimator.weights) w /= total;
  return estimator;
}

double ParzenEstimator::LogDensity(double x) const {
  double density = 0;
  for (size_t i = 0; i < mus.size(); ++i) {
    const double z = (x - mus[i]) / sigmas[i];
    const double mass = NormalCdf((high - mus[i]) / sigmas[i]) - NormalCdf((low - mus[i]) / sigmas[i]);
    density += weights[i] * std::exp(-0.5 * z * z) / (sigmas[i] * std::sqrt(2 * M_PI) * std::max(mass, 1e-12));
  }
  return std::log(std::max(density, std::numeric_limits<double>::min()));
}

double ParzenEstimator::Sample(Rng& rng) const {
  double u = rng.Uniform();
  size_t i = 0;
  while (i + 1 < weights.size() && u >= weights[i]) u -= weights[i++];
  for (int attempt = 0; attempt < 100; ++attempt) {
    const double x = mus[i] + sigmas[i] * rng.Normal();
    if (x >= low && x <= high) return x;
  }
  return low + rng.Uniform() * (high - low);  // a component almost outside the range
}

Point SampleTpe(const SearchSpace& space, const std::vector<Observation>& history, const TpeSettings& settings,
                Rng& rng) {
  if (static_cast<int64_t>(history.size()) < settings.startup_trials) return space.Random(rng);
  std::vector<size_t> ranked(history.size());
  std::iota(ranked.begin(), ranked.end(), 0);
  std::stable_sort(ranked.begin(), ranked.end(), [&](size_t a, size_t b) { return history[a].loss < history[b].loss; });
  const size_t good_count = std::min<size_t>(static_cast<size_t>(std::ceil(0.1 * history.size())), 25);
  std::vector<bool> good(history.size(), false);
  for (size_t i = 0; i < good_count; ++i) good[ranked[i]] = true;

  const std::vector<Param>& params = space.params();
  Point point(params.size());
  for (size_t p : space.order()) {
    if (!space.Active(point, p)) continue;
    const Param& param = params[p];
    ParamValue& value = point[p];
    value.active = true;
    if (param.kind == Param::Kind::kChoice) {
      // Smoothed counts on each side; candidates drawn from the good side, the best ratio kept.
      const size_t k = param.choices.size();
      std::vector<double> l(k, settings.prior_weight / k), g(k, settings.prior_weight / k);
      for (size_t t = 0; t < history.size(); ++t) {
        const ParamValue& seen = history[t].point[p];
        if (seen.active) (good[t] ? l : g)[static_cast<size_t>(seen.choice)] += 1.0;
      }
      const double l_total = std::accumulate(l.begin(), l.end(), 0.0);
      const double g_total = std::accumulate(g.begin(), g.end(), 0.0);
      double best = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < settings.candidates; ++c) {
        double u = rng.Uniform() * l_total;
        size_t choice = 0;
        while (choice + 1 < k && u >= l[choice]) u -= l[choice++];
        const double score = std::log(l[choice] / l_total) - std::log(g[choice] / g_total);
        if (score > best) {
          best = score;
          value.choice = static_cast<int64_t>(choice);
        }
      }
      continue;
    }
    const Axis axis = Axis::Of(param);
    std::vector<double> good_values, bad_values;
    for (size_t t = 0; t < history.size(); ++t) {
      const ParamValue& seen = history[t].point[p];
      if (seen.active) (good[t] ? good_values : bad_values).push_back(axis.To(seen.number));
    }
    const ParzenEstimator l = ParzenEstimator::Fit(good_values, axis.low, axis.high, settings.prior_weight);
    const ParzenEstimator g = ParzenEstimator::Fit(bad_values, axis.low, axis.high, settings.prior_weight);
    double best = -std::numeric_limits<double>::infinity();
    double chosen = l.Sample(rng);
    for (int64_t c = 0; c < settings.candidates; ++c) {
      const double t = c == 0 ? chosen : l.Sample(rng);
      const double score = l.LogDensity(t) - g.LogDensity(t);
      if (score > best) {
        best = score;
        chosen = t;
      }
    }
    value.number = space.Snap(p, axis.From(chosen));
  }
  return point;
}

}  // namespace mtrec
