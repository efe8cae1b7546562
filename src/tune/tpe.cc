#include "tune/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace mtrec {
namespace {

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double LogSumExp(const std::vector<double>& terms) {
  const double top = *std::max_element(terms.begin(), terms.end());
  if (!std::isfinite(top)) return top;
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return top + std::log(sum);
}

bool SameConditions(const Param& a, const Param& b) {
  if (a.when.size() != b.when.size()) return false;
  for (size_t i = 0; i < a.when.size(); ++i) {
    if (a.when[i].param != b.when[i].param || a.when[i].values != b.when[i].values) return false;
  }
  return true;
}

// Mixture weights of n observations, oldest first: 1 each, except that past 25 the older ones ramp up from 1/n.
std::vector<double> ObservationWeights(size_t n) {
  std::vector<double> weights(n, 1.0);
  const size_t ramp = n > 25 ? n - 25 : 0;
  const double nd = static_cast<double>(n);
  for (size_t i = 0; i < ramp; ++i) {
    weights[i] = ramp == 1 ? 1.0 / nd : 1.0 / nd + (1.0 - 1.0 / nd) * static_cast<double>(i) / static_cast<double>(ramp - 1);
  }
  return weights;
}

// Where a value lies in its param's range, 0..1 (in log space for log ranges); a choice's index.
double Unit(const Param& param, const ParamValue& value) {
  if (param.kind == Param::Kind::kChoice) return static_cast<double>(value.choice);
  if (param.high <= param.low) return 0;
  if (param.log) return std::log(value.number / param.low) / std::log(param.high / param.low);
  return (value.number - param.low) / (param.high - param.low);
}

// How far apart two points are: per param, 1 where one has it and the other not or their choices differ, the
// distance within the range for numbers; Euclidean over the params.
double Distance(const SearchSpace& space, const Point& a, const Point& b) {
  double sum = 0;
  for (size_t p = 0; p < a.size(); ++p) {
    if (!a[p].active && !b[p].active) continue;
    double d = 1;
    if (a[p].active && b[p].active) {
      const Param& param = space.params()[p];
      d = param.kind == Param::Kind::kChoice ? (a[p].choice == b[p].choice ? 0.0 : 1.0)
                                             : Unit(param, a[p]) - Unit(param, b[p]);
    }
    sum += d * d;
  }
  return std::sqrt(sum);
}

}  // namespace

std::vector<std::vector<size_t>> TpeGroups(const SearchSpace& space) {
  std::vector<std::vector<size_t>> groups;
  for (size_t p : space.order()) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const std::vector<size_t>& group) {
      return SameConditions(space.params()[group.front()], space.params()[p]);
    });
    if (same == groups.end()) {
      groups.push_back({p});
    } else {
      same->push_back(p);
    }
  }
  return groups;
}

ProductMixture::ProductMixture(const SearchSpace& space, const std::vector<size_t>& group,
                               const std::vector<std::vector<double>>& observed, double prior_weight) {
  const size_t n = observed.size();
  for (size_t t = 0; t < n; ++t) {
    MTREC_CHECK(observed[t].size() == group.size(), "TPE: trial {} has {} values for a group of {} params", t,
                observed[t].size(), group.size());
    for (size_t d = 0; d < group.size(); ++d) {
      const Param& param = space.params()[group[d]];
      const double v = observed[t][d];
      MTREC_CHECK(param.kind == Param::Kind::kChoice ? v >= 0 && v < static_cast<double>(param.choices.size())
                                                     : v >= param.low && v <= param.high,
                  "TPE: trial {}'s value {} of '{}' is outside its {}", t, v, param.key,
                  param.kind == Param::Kind::kChoice ? "choices" : "range");
    }
  }
  weights_ = ObservationWeights(n);
  weights_.push_back(n == 0 ? 1.0 : prior_weight);
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (double& w : weights_) w /= total;
  // Scott's rule for a product kernel of the group's dimension, as a share of each range (the multivariate
  // bandwidth of Falkner et al. and of earlier Optuna releases; Optuna 5.1 takes gaps to the neighbours, which
  // bench/tune measured behind this), clipped between range / min(100, n + 2) and the range.
  const double share = 0.2 * std::pow(std::max<double>(static_cast<double>(n), 1.0),
                                      -1.0 / (static_cast<double>(group.size()) + 4.0));
  for (size_t d = 0; d < group.size(); ++d) {
    const Param& param = space.params()[group[d]];
    Dim dim;
    if (param.kind == Param::Kind::kChoice) {
      dim.choice = true;
      const size_t k = param.choices.size();
      const double spread = prior_weight / static_cast<double>(n + 1);
      for (size_t t = 0; t < n; ++t) {
        std::vector<double> row(k, spread / (1.0 + spread * static_cast<double>(k)));
        row[static_cast<size_t>(observed[t][d])] += 1.0 / (1.0 + spread * static_cast<double>(k));
        dim.probabilities.push_back(std::move(row));
      }
      dim.probabilities.emplace_back(k, 1.0 / static_cast<double>(k));  // the prior
      dims_.push_back(std::move(dim));
      continue;
    }
    dim.whole = param.kind == Param::Kind::kInt;
    dim.log = param.log;
    dim.first = param.low;
    dim.last = param.high;
    const double low = dim.whole ? param.low - 0.5 : param.low;
    const double high = dim.whole ? param.high + 0.5 : param.high;
    // A log integer range starting at 1 reaches 0.5 here, which log takes.
    dim.low = dim.log ? std::log(std::max(low, 1e-12)) : low;
    dim.high = dim.log ? std::log(high) : high;
    const double range = dim.high - dim.low;
    const double sigma = std::clamp(share * range, range / std::min(100.0, static_cast<double>(n) + 2.0), range);
    for (size_t t = 0; t < n; ++t) {
      dim.mus.push_back(dim.log ? std::log(std::max(observed[t][d], 1e-300)) : observed[t][d]);
      dim.sigmas.push_back(sigma);
    }
    dim.mus.push_back(0.5 * (dim.low + dim.high));  // the prior
    dim.sigmas.push_back(range);
    for (size_t i = 0; i < dim.mus.size(); ++i) {
      dim.mass.push_back(std::max(NormalCdf((dim.high - dim.mus[i]) / dim.sigmas[i]) -
                                      NormalCdf((dim.low - dim.mus[i]) / dim.sigmas[i]),
                                  1e-12));
    }
    dims_.push_back(std::move(dim));
  }
}

double ProductMixture::LogKernel(const Dim& dim, size_t kernel, double x) const {
  if (dim.choice) return std::log(dim.probabilities[kernel][static_cast<size_t>(x)]);
  const double mu = dim.mus[kernel];
  const double sigma = dim.sigmas[kernel];
  if (dim.whole) {
    const double a = std::max(dim.low, dim.log ? std::log(std::max(x - 0.5, 1e-12)) : x - 0.5);
    const double b = std::min(dim.high, dim.log ? std::log(x + 0.5) : x + 0.5);
    const double part = NormalCdf((b - mu) / sigma) - NormalCdf((a - mu) / sigma);
    return std::log(std::max(part, std::numeric_limits<double>::min()) / dim.mass[kernel]);
  }
  // In the density's space: for a log range the density of log x (the Jacobian cancels in l / g).
  const double z = ((dim.log ? std::log(std::max(x, 1e-300)) : x) - mu) / sigma;
  return -0.5 * z * z - std::log(sigma * std::sqrt(2 * M_PI) * dim.mass[kernel]);
}

double ProductMixture::LogDensity(const std::vector<double>& x) const {
  MTREC_CHECK(x.size() == dims_.size(), "a point of {} values for a group of {} params", x.size(), dims_.size());
  std::vector<double> terms(weights_.size());
  for (size_t k = 0; k < weights_.size(); ++k) {
    double term = std::log(weights_[k]);
    for (size_t d = 0; d < dims_.size(); ++d) term += LogKernel(dims_[d], k, x[d]);
    terms[k] = term;
  }
  return LogSumExp(terms);
}

std::vector<double> ProductMixture::Sample(Rng& rng) const {
  double u = rng.Uniform();
  size_t k = 0;
  while (k + 1 < weights_.size() && u >= weights_[k]) u -= weights_[k++];
  std::vector<double> x;
  for (const Dim& dim : dims_) {
    if (dim.choice) {
      const std::vector<double>& p = dim.probabilities[k];
      double v = rng.Uniform();
      size_t c = 0;
      while (c + 1 < p.size() && v >= p[c]) v -= p[c++];
      x.push_back(static_cast<double>(c));
      continue;
    }
    double t = dim.low + rng.Uniform() * (dim.high - dim.low);  // if the kernel lies almost outside the range
    for (int attempt = 0; attempt < 100; ++attempt) {
      const double draw = dim.mus[k] + dim.sigmas[k] * rng.Normal();
      if (draw >= dim.low && draw <= dim.high) {
        t = draw;
        break;
      }
    }
    if (dim.whole) {
      x.push_back(std::clamp(std::round(dim.log ? std::exp(t) : t), dim.first, dim.last));
    } else {
      x.push_back(dim.log ? std::exp(t) : t);
    }
  }
  return x;
}

Point SampleTpe(const SearchSpace& space, const std::vector<Observation>& history, const TpeSettings& settings,
                Rng& rng, const std::vector<Point>& running) {
  if (static_cast<int64_t>(history.size()) < settings.startup_trials) {
    // The start spreads out: of `candidates` random points, the one farthest from every point tried or running.
    Point chosen = space.Random(rng);
    if (history.empty() && running.empty()) return chosen;
    double farthest = -1;
    for (int64_t c = 0; c < settings.candidates; ++c) {
      Point candidate = c == 0 ? chosen : space.Random(rng);
      double nearest = std::numeric_limits<double>::infinity();
      for (const Observation& seen : history) nearest = std::min(nearest, Distance(space, candidate, seen.point));
      for (const Point& busy : running) nearest = std::min(nearest, Distance(space, candidate, busy));
      if (nearest > farthest) {
        farthest = nearest;
        chosen = std::move(candidate);
      }
    }
    return chosen;
  }
  std::vector<size_t> ranked(history.size());
  std::iota(ranked.begin(), ranked.end(), 0);
  std::stable_sort(ranked.begin(), ranked.end(), [&](size_t a, size_t b) { return history[a].loss < history[b].loss; });
  const size_t good_count = std::min<size_t>(static_cast<size_t>(std::ceil(0.1 * history.size())), 25);
  std::vector<bool> good(history.size(), false);
  for (size_t i = 0; i < good_count; ++i) good[ranked[i]] = true;

  const std::vector<Param>& params = space.params();
  // The running trials' points join the rest, after the finished ones: they have no score yet, and a point being
  // tried should not be drawn again.
  std::vector<const Point*> points;
  for (const Observation& seen : history) points.push_back(&seen.point);
  for (const Point& busy : running) {
    points.push_back(&busy);
    good.push_back(false);
  }
  Point point(params.size());
  for (const std::vector<size_t>& group : TpeGroups(space)) {
    if (!space.Active(point, group.front())) continue;
    // Each side's trials where the group was searched, oldest first, as the mixture reads values.
    std::vector<std::vector<double>> good_values, bad_values;
    for (size_t t = 0; t < points.size(); ++t) {
      const Point& seen = *points[t];
      if (!seen[group.front()].active) continue;
      std::vector<double> values;
      for (size_t p : group) {
        values.push_back(params[p].kind == Param::Kind::kChoice ? static_cast<double>(seen[p].choice) : seen[p].number);
      }
      (good[t] ? good_values : bad_values).push_back(std::move(values));
    }
    // Draws are values as the mixture takes them (numbers as they are, choices as indices).
    const ProductMixture l(space, group, good_values, settings.prior_weight);
    const ProductMixture g(space, group, bad_values, settings.prior_weight);
    std::vector<double> chosen = l.Sample(rng);
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < settings.candidates; ++c) {
      std::vector<double> x = c == 0 ? chosen : l.Sample(rng);
      const double score = l.LogDensity(x) - g.LogDensity(x);
      if (score > best) {
        best = score;
        chosen = std::move(x);
      }
    }
    for (size_t d = 0; d < group.size(); ++d) {
      const size_t p = group[d];
      ParamValue& value = point[p];
      value.active = true;
      if (params[p].kind == Param::Kind::kChoice) {
        value.choice = static_cast<int64_t>(chosen[d]);
      } else {
        value.number = space.Snap(p, chosen[d]);
      }
    }
  }
  return point;
}

}  // namespace mtrec
