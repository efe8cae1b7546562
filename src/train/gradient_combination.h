// How the gradient strategies combine task gradients, computed from their Gram matrix alone. PCGrad's
// projections, MGDA's min-norm point and CAGrad's conflict-averse direction are each a linear combination
// Σ_k a_k g_k of the task gradients g_k, and every quantity they need is a dot product g_i · g_j, so the K × K Gram
// matrix G_ij = g_i · g_j decides the coefficients a_k; the trainer then applies them to the gradients it kept
// (or, on the shared representation, as loss weights of one more backward pass). Working on G keeps each method
// O(K³) per step whatever the number of parameters.
//
//   TaskMatrix gram = ...;                                  // G_ij = g_i · g_j
//   std::vector<double> a = MinNormCoefficients(gram);      // MGDA: a on the simplex minimising |Σ a_k g_k|
//   TaskMatrix cosines = CosineSimilarities(gram);          // the conflict matrix
#pragma once

#include <cstdint>
#include <vector>

namespace mtrec {

using TaskMatrix = std::vector<std::vector<double>>;

// cos(g_i, g_j) = G_ij / sqrt(G_ii G_jj); 0 where either gradient is zero.
TaskMatrix CosineSimilarities(const TaskMatrix& gram);

// PCGrad (Yu et al. 2020): each g_i, in turn against every g_j (j ≠ i) in orders[i], loses its component along
// g_j when the two conflict (g_i^PC · g_j < 0): g_i^PC -= (g_i^PC · g_j / |g_j|²) g_j. Returns a with
// Σ_i g_i^PC = Σ_m a_m g_m. orders[i] lists the other tasks (the paper shuffles them every step).
std::vector<double> PcgradCoefficients(const TaskMatrix& gram, const std::vector<std::vector<int>>& orders);

// MGDA (Sener & Koltun 2018): the point of the convex hull of the gradients closest to the origin,
// min_{a ∈ simplex} |Σ a_k g_k|². Exact for up to kMinNormExactTasks tasks (the best KKT point over every support
// set), iterative beyond.
inline constexpr int kMinNormExactTasks = 10;
std::vector<double> MinNormCoefficients(const TaskMatrix& gram);
// Accelerated projected gradient descent on the simplex, any number of tasks (exposed for its test against the
// exact solver; the paper's Frank-Wolfe zigzags near the optimum).
std::vector<double> MinNormIterative(const TaskMatrix& gram, int iterations = 20000);

// CAGrad (Liu et al. 2021) with constant c ≥ 0: g0 = mean gradient, w = argmin_{w ∈ simplex} g_w·g0 + c|g0||g_w|,
// d = (g0 + c|g0| g_w / |g_w|) / (1 + c²). The coefficients are scaled by K so that c = 0 gives the plain sum of
// the task gradients (all ones), the `static` update.
std::vector<double> CagradCoefficients(const TaskMatrix& gram, double c);

// Squared norm of Σ a_k g_k: aᵀ G a.
double CombinedNormSquared(const TaskMatrix& gram, const std::vector<double>& a);

}  // namespace mtrec
