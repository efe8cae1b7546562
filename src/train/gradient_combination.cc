#include "train/gradient_combination.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace mtrec {
namespace {

int Size(const TaskMatrix& gram) {
  const int k = static_cast<int>(gram.size());
  for (const auto& row : gram) {
    MTREC_CHECK(static_cast<int>(row.size()) == k, "the Gram matrix is not square");
    for (double v : row) MTREC_CHECK(std::isfinite(v), "the task gradients are not finite (has training diverged?)");
  }
  return k;
}

// G divided by its largest entry: every combination here is invariant to the gradients' scale, and the solvers'
// tolerances are then relative.
TaskMatrix Normalized(const TaskMatrix& gram) {
  double scale = 0;
  for (const auto& row : gram) {
    for (double v : row) scale = std::max(scale, std::abs(v));
  }
  if (scale == 0) return gram;
  TaskMatrix out = gram;
  for (auto& row : out) {
    for (double& v : row) v /= scale;
  }
  return out;
}

// (G a)_i
std::vector<double> Times(const TaskMatrix& gram, const std::vector<double>& a) {
  std::vector<double> out(a.size(), 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a.size(); ++j) out[i] += gram[i][j] * a[j];
  }
  return out;
}

double Dot(const std::vector<double>& x, const std::vector<double>& y) {
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += x[i] * y[i];
  return sum;
}

// Solves A x = y in place by Gaussian elimination with partial pivoting; false when a pivot is below `tiny`.
bool Solve(std::vector<std::vector<double>>& a, std::vector<double>& y, double tiny) {
  const size_t n = y.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    }
    if (std::abs(a[pivot][c]) <= tiny) return false;
    std::swap(a[pivot], a[c]);
    std::swap(y[pivot], y[c]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      if (f == 0) continue;
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      y[r] -= f * y[c];
    }
  }
  for (size_t c = n; c-- > 0;) {
    double v = y[c];
    for (size_t k = c + 1; k < n; ++k) v -= a[c][k] * y[k];
    y[c] = v / a[c][c];
  }
  return true;
}

// Euclidean projection onto the probability simplex (sort-based; Held et al.).
std::vector<double> ProjectToSimplex(const std::vector<double>& v) {
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  double cumulative = 0, theta = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    cumulative += sorted[i];
    const double t = (cumulative - 1.0) / static_cast<double>(i + 1);
    if (sorted[i] - t > 0) theta = t;
  }
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::max(v[i] - theta, 0.0);
  return out;
}

}  // namespace

TaskMatrix CosineSimilarities(const TaskMatrix& gram) {
  const int k = Size(gram);
  TaskMatrix cos(k, std::vector<double>(k, 0.0));
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) {
      const double norms = std::sqrt(gram[i][i] * gram[j][j]);
      cos[i][j] = norms > 0 ? std::clamp(gram[i][j] / norms, -1.0, 1.0) : 0.0;
    }
  }
  return cos;
}

double CombinedNormSquared(const TaskMatrix& gram, const std::vector<double>& a) { return Dot(a, Times(gram, a)); }

std::vector<double> PcgradCoefficients(const TaskMatrix& unscaled, const std::vector<std::vector<int>>& orders) {
  const int k = Size(unscaled);
  const TaskMatrix gram = Normalized(unscaled);
  MTREC_CHECK(static_cast<int>(orders.size()) == k, "PCGrad needs one order per task");
  std::vector<double> total(k, 0.0);
  for (int i = 0; i < k; ++i) {
    std::vector<double> c(k, 0.0);  // g_i^PC = Σ_m c_m g_m
    c[i] = 1.0;
    for (int j : orders[i]) {
      MTREC_CHECK(j >= 0 && j < k && j != i, "PCGrad order of task {} names task {}", i, j);
      if (gram[j][j] <= 0) continue;
      double dot = 0;  // g_i^PC · g_j
      for (int m = 0; m < k; ++m) dot += c[m] * gram[m][j];
      if (dot < 0) c[j] -= dot / gram[j][j];
    }
    for (int m = 0; m < k; ++m) total[m] += c[m];
  }
  return total;
}

std::vector<double> MinNormIterative(const TaskMatrix& unscaled, int iterations) {
  const int k = Size(unscaled);
  const TaskMatrix gram = Normalized(unscaled);
  // Accelerated projected gradient (FISTA) on aᵀGa over the simplex; the step 1/L with L = 2 max_i Σ_j |G_ij|,
  // a bound on the largest eigenvalue of 2G (Gershgorin).
  double lipschitz = 0;
  for (const auto& row : gram) {
    double sum = 0;
    for (double v : row) sum += std::abs(v);
    lipschitz = std::max(lipschitz, 2 * sum);
  }
  std::vector<double> a(k, 1.0 / k);
  if (lipschitz == 0) return a;
  std::vector<double> y = a, previous = a;
  double t = 1;
  for (int it = 0; it < iterations; ++it) {
    const std::vector<double> gy = Times(gram, y);
    std::vector<double> step(k);
    for (int i = 0; i < k; ++i) step[i] = y[i] - 2 * gy[i] / lipschitz;
    a = ProjectToSimplex(step);
    const double t_next = (1 + std::sqrt(1 + 4 * t * t)) / 2;
    double moved = 0;
    for (int i = 0; i < k; ++i) {
      y[i] = a[i] + (t - 1) / t_next * (a[i] - previous[i]);
      moved = std::max(moved, std::abs(a[i] - previous[i]));
    }
    previous = a;
    t = t_next;
    if (moved < 1e-15) break;
  }
  return a;
}

std::vector<double> MinNormCoefficients(const TaskMatrix& unscaled) {
  const int k = Size(unscaled);
  MTREC_CHECK(k >= 1, "MGDA needs at least one task");
  if (k > kMinNormExactTasks) return MinNormIterative(unscaled);
  const TaskMatrix gram = Normalized(unscaled);
  // The minimiser satisfies, on its support S, G_S a_S = μ 1 and Σ a = 1; some minimiser has a support whose
  // system is regular, so the best non-negative solution over all supports is the minimum.
  const double tiny = 1e-13;  // G is normalised: its largest entry is 1 (or G is 0)
  std::vector<double> best(k, 0.0);
  double best_norm = std::numeric_limits<double>::infinity();
  for (uint32_t mask = 1; mask < (1u << k); ++mask) {
    std::vector<int> support;
    for (int i = 0; i < k; ++i) {
      if (mask & (1u << i)) support.push_back(i);
    }
    const size_t n = support.size();
    std::vector<std::vector<double>> system(n + 1, std::vector<double>(n + 1, 0.0));
    std::vector<double> rhs(n + 1, 0.0);
    for (size_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < n; ++c) system[r][c] = gram[support[r]][support[c]];
      system[r][n] = -1.0;  // − μ
      system[n][r] = 1.0;
    }
    rhs[n] = 1.0;
    if (!Solve(system, rhs, tiny)) continue;
    std::vector<double> a(k, 0.0);
    bool feasible = true;
    for (size_t r = 0; r < n; ++r) {
      if (rhs[r] < -1e-12) feasible = false;
      a[support[r]] = std::max(rhs[r], 0.0);
    }
    if (!feasible) continue;
    double sum = 0;
    for (double v : a) sum += v;
    for (double& v : a) v /= sum;
    const double norm = CombinedNormSquared(gram, a);
    if (!std::isfinite(best_norm) || norm < best_norm - 1e-15) {
      best_norm = norm;
      best = a;
    }
  }
  // A single-task support always has a regular system ([G_ii, -1; 1, 0]), so some candidate exists.
  MTREC_CHECK(std::isfinite(best_norm), "MGDA found no solution");
  return best;
}

std::vector<double> CagradCoefficients(const TaskMatrix& unscaled, double c) {
  const int k = Size(unscaled);
  const TaskMatrix gram = Normalized(unscaled);
  MTREC_CHECK(c >= 0, "CAGrad's c must be >= 0, got {}", c);
  const std::vector<double> b(k, 1.0 / k);
  const std::vector<double> gb = Times(gram, b);
  const double g0_norm = std::sqrt(std::max(Dot(b, gb), 0.0));
  const double s = c * g0_norm;
  std::vector<double> ones(k, 1.0);
  if (s == 0) return ones;
  double trace = 0;
  for (int i = 0; i < k; ++i) trace += gram[i][i];
  const double eps = 1e-12 * trace / k;
  // F(w) = w·Gb + s sqrt(wᵀGw): convex on the simplex; projected gradient descent with backtracking.
  auto objective = [&](const std::vector<double>& w) {
    return Dot(w, gb) + s * std::sqrt(std::max(CombinedNormSquared(gram, w), 0.0) + eps);
  };
  std::vector<double> w = b;
  double f = objective(w);
  double step = 1.0;  // G is normalised
  for (int it = 0; it < 5000; ++it) {
    const std::vector<double> gw = Times(gram, w);
    const double norm = std::sqrt(std::max(Dot(w, gw), 0.0) + eps);
    std::vector<double> grad(k);
    for (int i = 0; i < k; ++i) grad[i] = gb[i] + s * gw[i] / norm;
    std::vector<double> next;
    double f_next = 0;
    double moved = 0;
    for (int tries = 0; tries < 60; ++tries) {
      std::vector<double> trial(k);
      for (int i = 0; i < k; ++i) trial[i] = w[i] - step * grad[i];
      next = ProjectToSimplex(trial);
      double linear = 0;
      moved = 0;
      for (int i = 0; i < k; ++i) {
        linear += grad[i] * (next[i] - w[i]);
        moved += (next[i] - w[i]) * (next[i] - w[i]);
      }
      f_next = objective(next);
      if (f_next <= f + linear + moved / (2 * step) + 1e-15 * std::abs(f)) break;
      step *= 0.5;
    }
    if (f_next > f) break;
    w = next;
    f = f_next;
    step *= 2;
    if (moved < 1e-24) break;
  }
  const double gw_norm = std::sqrt(std::max(CombinedNormSquared(gram, w), 0.0));
  const double lambda = gw_norm * gw_norm > eps ? s / gw_norm : 0.0;
  std::vector<double> a(k);
  for (int i = 0; i < k; ++i) a[i] = k * (b[i] + lambda * w[i]) / (1 + c * c);
  return a;
}

}  // namespace mtrec
