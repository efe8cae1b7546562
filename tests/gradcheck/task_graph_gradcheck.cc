// The task graph's chain layer on its own: values of the products and finite-difference gradients, on a chain of
// length 3 with logits from saturated to neutral, and with tasks that pass through.
#include <gtest/gtest.h>

#include <cmath>

#include "common/config.h"
#include "gradcheck.h"
#include "models/task_graph.h"

namespace mtrec {
namespace {

const char* kConfig = R"(
[[tasks]]
name = "purchase"
parent = "cart"

[[tasks]]
name = "click"

[[tasks]]
name = "cart"
parent = "click"

[[tasks]]
name = "gmv"
kind = "regression"

[[tasks]]
name = "cvr"
parent = "click"
mode = "masked"
)";

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// The graph's Backward against finite differences of Σ c ⊙ Forward(conditional).
void ExpectGraphGradient(TaskGraph& graph, Matrix& conditional, Matrix& dst, Matrix& c, Matrix& diff) {
  graph.Backward(conditional.View(), dst.View(), c.View(), diff.View());
  const auto objective = [&] {
    graph.Forward(conditional.View(), dst.View());
    return gradcheck::Dot(dst.View(), c.View());
  };
  EXPECT_TRUE(gradcheck::CheckGradient(conditional.View(), diff.View(), objective,
                                       {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-4}));
}

TEST(TaskGraphGradcheck, ChainOfThreeDeclaredChildFirst) {
  const Config config = ParseConfig(kConfig, "graph.toml");
  const int64_t n = 6;
  TaskGraph graph(config, n);
  EXPECT_TRUE(graph.IsChain(0));
  EXPECT_FALSE(graph.IsChain(4));  // masked: the output is already p(cvr | click)
  Matrix conditional(n, 5), dst(n, 5), c(n, 5), diff(n, 5);
  const float logits[6] = {-30.f, -4.f, -0.5f, 0.f, 3.f, 25.f};
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t k = 0; k < 5; ++k) conditional.View().At(r, k) = logits[(r + 2 * k) % 6] * (k == 1 ? 0.5f : 1.f);
  }
  Rng rng(4);
  gradcheck::FillUniform(c.View(), rng, -1, 1);
  graph.Forward(conditional.View(), dst.View());
  for (int64_t r = 0; r < n; ++r) {
    const double click = Sigmoid(conditional.View().At(r, 1));
    const double cart = click * Sigmoid(conditional.View().At(r, 2));
    const double purchase = cart * Sigmoid(conditional.View().At(r, 0));
    EXPECT_NEAR(Sigmoid(dst.View().At(r, 1)), click, 1e-6);
    EXPECT_NEAR(Sigmoid(dst.View().At(r, 2)), cart, 1e-6 * cart + 1e-12);
    EXPECT_NEAR(Sigmoid(dst.View().At(r, 0)), purchase, 1e-5 * purchase + 1e-14);
    EXPECT_EQ(dst.View().At(r, 3), conditional.View().At(r, 3));
    EXPECT_EQ(dst.View().At(r, 4), conditional.View().At(r, 4));
    EXPECT_TRUE(std::isfinite(dst.View().At(r, 0)));
  }
  ExpectGraphGradient(graph, conditional, dst, c, diff);
  // Click is a root (its output is its own logit), so its gradient beyond its own c is what its chained
  // descendants pass up.
  double passed_up = 0;
  for (int64_t r = 0; r < n; ++r) passed_up += std::abs(diff.View().At(r, 1) - c.View().At(r, 1));
  EXPECT_GT(passed_up, 1e-3);
}

TEST(TaskGraphGradcheck, WithoutChainsItIsTheIdentity) {
  const Config config = ParseConfig("[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"b\"\n", "plain.toml");
  TaskGraph graph(config, 2);
  EXPECT_FALSE(graph.HasChains());
  Matrix conditional(2, 2), dst(2, 2), diff(2, 2);
  conditional.View().At(1, 0) = 3.f;
  graph.Forward(conditional.View(), dst.View());
  EXPECT_EQ(dst.View().At(1, 0), 3.f);
  graph.Backward(conditional.View(), dst.View(), conditional.View(), diff.View());
  EXPECT_EQ(diff.View().At(1, 0), 3.f);
}

// Pinball tasks on one column, declared out of order, beside a chain and a ladder of one on another column.
const char* kLadderConfig = R"(
[[tasks]]
name = "sales_p90"
column = "sales"
kind = "regression"
loss = "pinball"
quantile = 0.9

[[tasks]]
name = "click"

[[tasks]]
name = "sales_p10"
column = "sales"
kind = "regression"
loss = "pinball"
quantile = 0.1

[[tasks]]
name = "sales_p50"
column = "sales"
kind = "regression"
loss = "pinball"

[[tasks]]
name = "buy"
parent = "click"

[[tasks]]
name = "units_p50"
column = "units"
kind = "regression"
loss = "pinball"
)";

double Softplus(double x) { return std::log1p(std::exp(x)); }

TEST(TaskGraphGradcheck, QuantileLadderStacksSoftplusGaps) {
  const Config config = ParseConfig(kLadderConfig, "ladder.toml");
  const int64_t n = 7;
  TaskGraph graph(config, n);
  EXPECT_EQ(graph.rung_below(2), -1);  // p10: the lowest rung
  EXPECT_EQ(graph.rung_below(3), 2);   // p50 above p10
  EXPECT_EQ(graph.rung_below(0), 3);   // p90 above p50
  EXPECT_EQ(graph.rung_below(5), -1);  // another column's only rung
  EXPECT_EQ(graph.rung_below(1), -1);
  Matrix conditional(n, 6), dst(n, 6), c(n, 6), diff(n, 6);
  Rng rng(11);
  gradcheck::FillUniform(conditional.View(), rng, -6, 6);
  gradcheck::FillUniform(c.View(), rng, -1, 1);
  graph.Forward(conditional.View(), dst.View());
  for (int64_t r = 0; r < n; ++r) {
    const auto at = [&](int64_t k) { return static_cast<double>(conditional.View().At(r, k)); };
    EXPECT_EQ(dst.View().At(r, 2), conditional.View().At(r, 2));
    EXPECT_NEAR(dst.View().At(r, 3), at(2) + Softplus(at(3)), 1e-5);
    EXPECT_NEAR(dst.View().At(r, 0), at(2) + Softplus(at(3)) + Softplus(at(0)), 1e-5);
    EXPECT_EQ(dst.View().At(r, 5), conditional.View().At(r, 5));
  }
  ExpectGraphGradient(graph, conditional, dst, c, diff);
}

TEST(TaskGraphGradcheck, QuantileLadderNeverCrosses) {
  const Config config = ParseConfig(kLadderConfig, "ladder.toml");
  const int64_t n = 2000;
  TaskGraph graph(config, n);
  Matrix conditional(n, 6), dst(n, 6);
  Rng rng(5);
  // Body outputs of any size and sign, up to gaps that underflow softplus to 0.
  gradcheck::FillUniform(conditional.View(), rng, -120, 120);
  graph.Forward(conditional.View(), dst.View());
  for (int64_t r = 0; r < n; ++r) {
    EXPECT_LE(dst.View().At(r, 2), dst.View().At(r, 3)) << "p10 above p50 in row " << r;
    EXPECT_LE(dst.View().At(r, 3), dst.View().At(r, 0)) << "p50 above p90 in row " << r;
  }
}

}  // namespace
}  // namespace mtrec
