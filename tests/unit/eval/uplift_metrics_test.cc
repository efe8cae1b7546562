// The uplift metrics against references written from their definitions alone: every position's counts and sums
// taken over all rows with the tie rule spelled out per row (support/reference_checks.h), so each curve is O(n²)
// and shares nothing with the one-walk production code; the IPW value from each row's chance of being targeted.
// Then small cases computed by hand and properties that hold by construction.

#include "eval/uplift_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/reference_checks.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
const std::vector<float> kNone;

// ---------------------------------------------------------------------------------------------------------------
// References.

// The rows with an outcome and a treatment; e is the given propensity or the treated share.
struct Kept {
  std::vector<float> u;
  std::vector<double> y, t, e, tau;
};

Kept KeepRows(const std::vector<float>& uplift, const std::vector<float>& outcome, const std::vector<float>& treatment,
              const std::vector<float>& propensity, const std::vector<float>& tau) {
  Kept d;
  for (size_t i = 0; i < outcome.size(); ++i) {
    if (std::isnan(outcome[i]) || std::isnan(treatment[i])) continue;
    d.u.push_back(uplift[i]), d.y.push_back(outcome[i]), d.t.push_back(treatment[i]);
    d.e.push_back(propensity.empty() ? kMissing : propensity[i]);
    d.tau.push_back(tau.empty() ? 0.0 : tau[i]);
  }
  double treated = 0;
  for (double t : d.t) treated += t;
  if (propensity.empty()) d.e.assign(d.t.size(), treated / d.t.size());
  return d;
}

// Cumulative counts and sums over the first i rows by u.
struct Top {
  double nt, nc, yt, yc;
};

Top TopOf(const Kept& d, size_t i) {
  std::vector<double> control(d.t.size()), yt(d.t.size()), yc(d.t.size());
  for (size_t r = 0; r < d.t.size(); ++r) control[r] = 1 - d.t[r], yt[r] = d.t[r] * d.y[r], yc[r] = control[r] * d.y[r];
  return {TopSum(d.u, d.t, i), TopSum(d.u, control, i), TopSum(d.u, yt, i), TopSum(d.u, yc, i)};
}

// Q(i) = Y_t(i) − Y_c(i) N_t(i) / N_c(i), 0 where N_c(i) = 0.
double Q(const Kept& d, size_t i) {
  const Top s = TopOf(d, i);
  return s.nc == 0 ? 0.0 : s.yt - s.yc * s.nt / s.nc;
}

// U(i) = (Y_t(i)/N_t(i) − Y_c(i)/N_c(i)) · i, 0 where either count is 0.
double U(const Kept& d, size_t i) {
  const Top s = TopOf(d, i);
  return s.nt == 0 || s.nc == 0 ? 0.0 : (s.yt / s.nt - s.yc / s.nc) * i;
}

// (1/n²) Σ_{i=1..n} (X(i) − (i/n) X(n)).
template <typename Curve>
double AreaOverRandom(size_t n, Curve x) {
  const double last = x(n);
  double sum = 0;
  for (size_t i = 1; i <= n; ++i) sum += x(i) - static_cast<double>(i) / n * last;
  return sum / (static_cast<double>(n) * n);
}

size_t TopM(int percent, size_t n) { return static_cast<size_t>(std::ceil(percent * n / 100.0)); }

// (1/n) Σ_i [t_i π_i y_i / e_i + (1 − t_i)(1 − π_i) y_i / (1 − e_i)], π_i the row's weight in the top m.
double PolicyValue(const Kept& d, size_t m) {
  const std::vector<double> pi = TopWeights(d.u, m);
  double sum = 0;
  for (size_t r = 0; r < d.y.size(); ++r) {
    sum += d.t[r] * pi[r] * d.y[r] / d.e[r] + (1 - d.t[r]) * (1 - pi[r]) * d.y[r] / (1 - d.e[r]);
  }
  return sum / d.y.size();
}

double TrueQini(const Kept& d) {
  return AreaOverRandom(d.y.size(), [&](size_t i) { return TopSum(d.u, d.tau, i); });
}

// Rows whose true uplift varies; uplift scores with `distinct` values (many ties) or the truth plus noise for 0;
// treatment drawn with the row's propensity (3% missing); a 0/1 outcome or a revenue-like one (5% missing).
struct Campaign {
  std::vector<float> uplift, outcome, treatment, propensity, tau;
};

Campaign RandomCampaign(TestRng& rng, size_t n, uint64_t distinct, bool binary) {
  Campaign c;
  for (size_t i = 0; i < n; ++i) {
    const double tau = 0.2 * rng.Uniform() - 0.05, e = 0.1 + 0.8 * rng.Uniform();
    const double t = rng.Uniform() < 0.03 ? NAN : rng.Uniform() < e ? 1.0 : 0.0;
    const double p = 0.3 + (t == 1.0 ? tau : 0.0);
    double y = rng.Uniform() < p ? (binary ? 1.0 : std::floor(100 * rng.Uniform())) : 0.0;
    if (rng.Uniform() < 0.05) y = NAN;
    c.tau.push_back(static_cast<float>(tau));
    c.propensity.push_back(static_cast<float>(e));
    c.treatment.push_back(static_cast<float>(t));
    c.outcome.push_back(static_cast<float>(y));
    c.uplift.push_back(static_cast<float>(distinct ? rng.Below(distinct) : tau + 0.1 * rng.Uniform()));
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------------

TEST(UpliftMetricsTest, MatchesTheReferencesOnRandomDataWithAndWithoutTies) {
  const std::vector<int> percents = {1, 10, 30, 100};
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    for (uint64_t distinct : {0, 4, 40}) {
      for (bool binary : {true, false}) {
        for (bool with_propensity : {false, true}) {
          TestRng rng(seed * 1000 + distinct * 10 + binary);
          const Campaign c = RandomCampaign(rng, 180, distinct, binary);
          const std::string what = "seed " + std::to_string(seed) + " distinct " + std::to_string(distinct) +
                                   (binary ? " binary" : " revenue") + (with_propensity ? " propensity" : "");
          const std::vector<float>& propensity = with_propensity ? c.propensity : kNone;
          const UpliftMetrics fast =
              ComputeUpliftMetrics(c.uplift, c.outcome, c.treatment, propensity, c.tau, percents);
          const Kept d = KeepRows(c.uplift, c.outcome, c.treatment, propensity, c.tau);
          const size_t n = d.y.size();
          ASSERT_EQ(fast.rows, static_cast<int64_t>(n)) << what;
          ExpectClose(fast.qini, AreaOverRandom(n, [&](size_t i) { return Q(d, i); }), 1e-10, what + " qini");
          ExpectClose(fast.auuc, AreaOverRandom(n, [&](size_t i) { return U(d, i); }), 1e-10, what + " auuc");
          ExpectClose(fast.policy_value_none, PolicyValue(d, 0), 1e-10, what + " none");
          ExpectClose(fast.policy_value_all, PolicyValue(d, n), 1e-10, what + " all");
          ExpectClose(fast.true_qini, TrueQini(d), 1e-10, what + " true_qini");
          double squares = 0;
          for (size_t r = 0; r < n; ++r) squares += (d.u[r] - d.tau[r]) * (d.u[r] - d.tau[r]);
          ExpectClose(fast.pehe, std::sqrt(squares / n), 1e-10, what + " pehe");
          ASSERT_EQ(fast.at_k.size(), percents.size());
          for (size_t k = 0; k < percents.size(); ++k) {
            const size_t m = TopM(percents[k], n);
            const Top s = TopOf(d, m);
            const std::string at = what + " top " + std::to_string(percents[k]);
            EXPECT_EQ(fast.at_k[k].percent, percents[k]);
            ExpectClose(fast.at_k[k].uplift, s.nt == 0 || s.nc == 0 ? NAN : s.yt / s.nt - s.yc / s.nc, 1e-10, at);
            ExpectClose(fast.at_k[k].policy_value, PolicyValue(d, m), 1e-10, at + " policy");
            ExpectClose(fast.at_k[k].true_uplift, TopSum(d.u, d.tau, m) / m, 1e-10, at + " true");
          }
          // The curve: x = i/n at i = round(j n / 100), y = Q(i)/n; the random line to Q(n)/n.
          ASSERT_EQ(fast.qini_curve.size(), 101u) << what;
          for (size_t j = 0; j <= 100; ++j) {
            const size_t i = static_cast<size_t>(std::round(j * n / 100.0));
            ExpectClose(fast.qini_curve[j].x, static_cast<double>(i) / n, 1e-15, what + " curve x");
            ExpectClose(fast.qini_curve[j].y, Q(d, i) / n, 1e-10, what + " curve y");
          }
          ASSERT_EQ(fast.qini_random.size(), 2u);
          ExpectClose(fast.qini_random[1].x, 1.0, 0, what + " random x");
          ExpectClose(fast.qini_random[1].y, Q(d, n) / n, 1e-10, what + " random y");
        }
      }
    }
  }
}

// The figures that are sums over the rows targeted (policy value, true uplift) take the tie rule as the
// expectation over a random order of tied rows: on a few rows, the mean over every order that sorts them. (Qini
// and AUUC are ratios of such sums, which the contract interpolates as sums first; the references above check it.)
TEST(UpliftMetricsTest, TiesAreTheMeanOverEveryOrderForTheSumsOverTargetedRows) {
  const std::vector<float> uplift = {1, 0, 1, 1, 0, 0, 2};
  const std::vector<float> outcome = {1, 0, 0, 1, 1, 0, 1};
  const std::vector<float> treatment = {1, 1, 0, 0, 1, 0, 1};
  const std::vector<float> propensity = {0.5f, 0.25f, 0.5f, 0.75f, 0.5f, 0.5f, 0.8f};
  const std::vector<float> tau = {0.1f, -0.2f, 0.3f, 0.0f, 0.05f, 0.2f, 0.4f};
  const std::vector<int> percents = {30, 50};  // 3 and 4 rows of 7: both cut a tie group of three
  const std::vector<size_t> cuts = {3, 4};
  std::vector<double> policy_sums(2, 0.0), true_sums(2, 0.0);
  double true_qini_sum = 0;
  const int orders = ForEachTiedOrder(uplift, [&](const std::vector<size_t>& order) {
    double cumulative = 0, curve = 0;
    for (size_t p = 0; p < order.size(); ++p) {
      cumulative += tau[order[p]];
      curve += cumulative;
      for (size_t k = 0; k < cuts.size(); ++k) {
        if (p + 1 != cuts[k]) continue;
        true_sums[k] += cumulative / cuts[k];
        double value = 0;
        for (size_t q = 0; q < order.size(); ++q) {
          const size_t r = order[q];
          const double pi = q < cuts[k] ? 1 : 0;
          value += treatment[r] * pi * outcome[r] / propensity[r] +
                   (1 - treatment[r]) * (1 - pi) * outcome[r] / (1 - propensity[r]);
        }
        policy_sums[k] += value / 7;
      }
    }
    true_qini_sum += (curve - cumulative * (7 + 1) / 2.0) / 49;
  });
  EXPECT_EQ(orders, 3 * 2 * 3 * 2);
  const UpliftMetrics fast = ComputeUpliftMetrics(uplift, outcome, treatment, propensity, tau, percents);
  EXPECT_NEAR(fast.true_qini, true_qini_sum / orders, 1e-12);
  for (size_t k = 0; k < cuts.size(); ++k) {
    EXPECT_NEAR(fast.at_k[k].policy_value, policy_sums[k] / orders, 1e-12) << percents[k];
    EXPECT_NEAR(fast.at_k[k].true_uplift, true_sums[k] / orders, 1e-7) << percents[k];  // τ is float
  }
}

TEST(UpliftMetricsTest, HandComputedFourRows) {
  // u = 4, 3, 2, 1 (already in order); t = 1, 0, 1, 0; y = 1, 0, 0, 0.
  // i = 1: N_t 1, N_c 0, Y_t 1, Y_c 0: Q = 0 (no control), U = 0.
  // i = 2: N_t 1, N_c 1, Y_t 1, Y_c 0: Q = 1, U = (1 − 0) · 2 = 2.
  // i = 3: N_t 2, N_c 1, Y_t 1, Y_c 0: Q = 1, U = (1/2 − 0) · 3 = 1.5.
  // i = 4: N_t 2, N_c 2, Y_t 1, Y_c 0: Q = 1, U = (1/2) · 4 = 2.
  // qini = (0 + 1 + 1 + 1 − Q(4) (1 + 2 + 3 + 4)/4) / 16 = (3 − 2.5) / 16 = 0.03125;
  // auuc = (0 + 2 + 1.5 + 2 − 2 · 2.5) / 16 = 0.5 / 16 = 0.03125.
  // Top 50% (2 rows): 1/1 − 0/1 = 1. e = the treated share 0.5: treating rows 1-2 is worth
  // (1/4)(1/0.5 + 0 control outcomes left) = 0.5; treating all (1/4)(1/0.5 + 0/0.5) = 0.5; nobody 0.
  const std::vector<float> u = {4, 3, 2, 1}, y = {1, 0, 0, 0}, t = {1, 0, 1, 0};
  const UpliftMetrics m = ComputeUpliftMetrics(u, y, t, kNone, kNone, std::vector<int>{50});
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.treated, 2);
  EXPECT_DOUBLE_EQ(m.qini, 0.03125);
  EXPECT_DOUBLE_EQ(m.auuc, 0.03125);
  EXPECT_DOUBLE_EQ(m.at_k[0].uplift, 1.0);
  EXPECT_DOUBLE_EQ(m.at_k[0].policy_value, 0.5);
  EXPECT_DOUBLE_EQ(m.policy_value_all, 0.5);
  EXPECT_DOUBLE_EQ(m.policy_value_none, 0.0);
  EXPECT_TRUE(std::isnan(m.true_qini));
  EXPECT_TRUE(std::isnan(m.pehe));
  EXPECT_TRUE(std::isnan(m.at_k[0].true_uplift));
  // Fewer than 100 rows: the curve has every i, (0, 0), (1/4, 0), (2/4, 1/4), (3/4, 1/4), (1, 1/4).
  ASSERT_EQ(m.qini_curve.size(), 5u);
  EXPECT_DOUBLE_EQ(m.qini_curve[1].x, 0.25);
  EXPECT_DOUBLE_EQ(m.qini_curve[1].y, 0.0);
  EXPECT_DOUBLE_EQ(m.qini_curve[2].y, 0.25);
  EXPECT_DOUBLE_EQ(m.qini_random[1].y, 0.25);
  // pehe: u − τ = (4, 3, 2, 1) − (3, 3, 3, 3) = (1, 0, −1, −2): sqrt((1 + 0 + 1 + 4) / 4) = sqrt(1.5).
  EXPECT_DOUBLE_EQ(ComputeUpliftMetrics(u, y, t, kNone, std::vector<float>(4, 3.f), {}).pehe, std::sqrt(1.5));
}

TEST(UpliftMetricsTest, AConstantScoreGainsNothingOverRandom) {
  // One tie group: every cumulative sum is (i/n) of its total, so Q(i) = (i/n) Q(n) and U(i) = (i/n) U(n) for every
  // i, and qini = auuc = 0 exactly; the top k% has the overall difference of means, and targeting it is worth the
  // mix k% · (treat all) + (1 − k%) · (treat none) when k% of n is whole.
  TestRng rng(5);
  const Campaign c = RandomCampaign(rng, 400, 1, true);
  const UpliftMetrics m = ComputeUpliftMetrics(c.uplift, c.outcome, c.treatment, kNone, kNone, std::vector<int>{50});
  EXPECT_NEAR(m.qini, 0.0, 1e-15);
  EXPECT_NEAR(m.auuc, 0.0, 1e-15);
  const Kept d = KeepRows(c.uplift, c.outcome, c.treatment, kNone, kNone);
  const Top all = TopOf(d, d.y.size());
  EXPECT_NEAR(m.at_k[0].uplift, all.yt / all.nt - all.yc / all.nc, 1e-12);
  if (d.y.size() % 2 == 0) {
    EXPECT_NEAR(m.at_k[0].policy_value, 0.5 * m.policy_value_all + 0.5 * m.policy_value_none, 1e-12);
  }
}

TEST(UpliftMetricsTest, RankingByTheTruthBeatsNoiseAndRandomScoresGainAboutNothing) {
  // 20000 customers under random assignment (treated share 0.5), true uplift uniform on [−0.05, 0.15].
  TestRng rng(11);
  const size_t n = 20000;
  std::vector<float> tau, outcome, treatment, noisy, random;
  for (size_t i = 0; i < n; ++i) {
    tau.push_back(static_cast<float>(0.2 * rng.Uniform() - 0.05));
    treatment.push_back(rng.Uniform() < 0.5 ? 1.f : 0.f);
    outcome.push_back(rng.Uniform() < 0.3 + treatment.back() * tau.back() ? 1.f : 0.f);
    noisy.push_back(static_cast<float>(tau.back() + 0.2 * rng.Uniform()));
    random.push_back(static_cast<float>(rng.Uniform()));
  }
  const std::vector<int> percents = {10};
  const UpliftMetrics oracle = ComputeUpliftMetrics(tau, outcome, treatment, kNone, tau, percents);
  const UpliftMetrics model = ComputeUpliftMetrics(noisy, outcome, treatment, kNone, tau, percents);
  const UpliftMetrics chance = ComputeUpliftMetrics(random, outcome, treatment, kNone, tau, percents);
  // Sorting by τ makes every C(i) as large as any order can: true_qini and the top's true uplift are maximal.
  EXPECT_GT(oracle.true_qini, model.true_qini);
  EXPECT_GT(model.true_qini, chance.true_qini);
  EXPECT_GT(oracle.at_k[0].true_uplift, model.at_k[0].true_uplift);
  EXPECT_EQ(oracle.pehe, 0.0);
  // The oracle's true_qini: C(x n)/n = ∫_0^x q(1 − s) ds for τ's quantile q(p) = −0.05 + 0.2 p, i.e.
  // 0.15 x − 0.1 x², and C(n)/n = 0.05; ∫_0^1 (0.15 x − 0.1 x² − 0.05 x) dx = 0.05 − 0.1/3 = 1/60.
  EXPECT_NEAR(oracle.true_qini, 1.0 / 60, 0.001);
  // Q(i) counts the extra outcomes of the treated rows among the first i, half of them here: Q ≈ C / 2, so the
  // oracle's qini ≈ 1/120 up to the noise of the outcomes.
  EXPECT_NEAR(oracle.qini, 1.0 / 120, 0.002);
  // A random score's Qini curve is a random walk about the random line: its area is of the order of
  // sd(y) / sqrt(n) · sqrt(1/12) ≈ 0.001 here, against the oracle's ≈ 1/120.
  EXPECT_LT(std::abs(chance.qini), 0.003);
  EXPECT_LT(std::abs(chance.true_qini), 0.003);
}

TEST(UpliftMetricsTest, IpwValuesUnderRandomAssignmentAreTheGroupsMeanOutcomes) {
  // With e = the treated share p = N_t / n: treating all is worth (1/n) Σ_treated y / p = Σ_treated y / N_t, the
  // treated rows' mean outcome; treating nobody, likewise, the control rows' mean.
  TestRng rng(3);
  const Campaign c = RandomCampaign(rng, 500, 0, false);
  const UpliftMetrics m = ComputeUpliftMetrics(c.uplift, c.outcome, c.treatment, kNone, kNone, {});
  double treated_sum = 0, treated = 0, control_sum = 0, control = 0;
  for (size_t i = 0; i < c.outcome.size(); ++i) {
    if (std::isnan(c.outcome[i]) || std::isnan(c.treatment[i])) continue;
    (c.treatment[i] == 1 ? treated_sum : control_sum) += c.outcome[i];
    (c.treatment[i] == 1 ? treated : control) += 1;
  }
  EXPECT_NEAR(m.policy_value_all, treated_sum / treated, 1e-9);
  EXPECT_NEAR(m.policy_value_none, control_sum / control, 1e-9);
  // The same propensity given explicitly gives the same values.
  std::vector<float> share(c.outcome.size(), static_cast<float>(treated / (treated + control)));
  const UpliftMetrics given = ComputeUpliftMetrics(c.uplift, c.outcome, c.treatment, share, kNone, {});
  EXPECT_NEAR(given.policy_value_all, m.policy_value_all, 1e-5);
}

TEST(UpliftMetricsTest, RowsWithoutOutcomeOrTreatmentAreSkipped) {
  const std::vector<float> u = {4, 3, 2, 1}, y = {1, 0, 0, 0}, t = {1, 0, 1, 0};
  const UpliftMetrics plain = ComputeUpliftMetrics(u, y, t, kNone, kNone, std::vector<int>{50});
  // Two more rows, each missing one of the two (the one missing its outcome has no uplift either).
  const UpliftMetrics padded =
      ComputeUpliftMetrics(std::vector<float>{4, 9, 3, kMissing, 2, 1}, std::vector<float>{1, 1, 0, kMissing, 0, 0},
                           std::vector<float>{1, kMissing, 0, 1, 1, 0}, kNone, kNone, std::vector<int>{50});
  EXPECT_EQ(padded.rows, 4);
  EXPECT_DOUBLE_EQ(padded.qini, plain.qini);
  EXPECT_DOUBLE_EQ(padded.auuc, plain.auuc);
  EXPECT_DOUBLE_EQ(padded.at_k[0].policy_value, plain.at_k[0].policy_value);
  // Without a control row the comparisons are undefined, and there is no curve.
  const UpliftMetrics treated_only =
      ComputeUpliftMetrics(u, y, std::vector<float>(4, 1.f), kNone, kNone, std::vector<int>{50});
  EXPECT_TRUE(std::isnan(treated_only.qini));
  EXPECT_TRUE(std::isnan(treated_only.auuc));
  EXPECT_TRUE(std::isnan(treated_only.at_k[0].uplift));
  EXPECT_TRUE(treated_only.qini_curve.empty());
  EXPECT_DOUBLE_EQ(treated_only.policy_value_all, 0.25);  // e = 1: (1/4) Σ y
  const UpliftMetrics none = ComputeUpliftMetrics(kNone, kNone, kNone, kNone, kNone, std::vector<int>{50});
  EXPECT_EQ(none.rows, 0);
  EXPECT_TRUE(std::isnan(none.qini));
  EXPECT_TRUE(std::isnan(none.policy_value_all));
  EXPECT_TRUE(std::isnan(none.at_k[0].policy_value));
}

TEST(UpliftMetricsTest, InvalidInputSaysWhatIsWrong) {
  const std::vector<float> u = {1, 2, 3}, y = {0, 1, 0}, t = {0, 1, 2};
  const auto error = [](auto call) { return ErrorOf(call); };
  EXPECT_NE(error([&] {
              ComputeUpliftMetrics(u, std::vector<float>{0, 1}, y, kNone, kNone, {});
            }).find("3 uplift scores, 2 outcomes, 3 treatments"),
            std::string::npos);
  EXPECT_NE(error([&] { ComputeUpliftMetrics(u, y, y, std::vector<float>{0.5f}, kNone, {}); }).find("1 propensities"),
            std::string::npos);
  EXPECT_NE(
      error([&] { ComputeUpliftMetrics(u, y, t, kNone, kNone, {}); }).find("treatment at row 2 is 2; expected 0 or 1"),
      std::string::npos);
  EXPECT_NE(error([&] {
              ComputeUpliftMetrics(std::vector<float>{1, kMissing, 3}, y, y, kNone, kNone, {});
            }).find("uplift at row 1 is NaN"),
            std::string::npos);
  EXPECT_NE(error([&] {
              ComputeUpliftMetrics(u, y, y, kNone, std::vector<float>{0, 0, kMissing}, {});
            }).find("true uplift at row 2 is NaN"),
            std::string::npos);
  // IPW divides a treated row by e and a control row by 1 − e.
  EXPECT_NE(error([&] {
              ComputeUpliftMetrics(u, y, y, std::vector<float>{0.5f, 0.f, 0.5f}, kNone, {});
            }).find("propensity at row 1 is 0 for a treated row"),
            std::string::npos);
  EXPECT_NE(error([&] {
              ComputeUpliftMetrics(u, y, y, std::vector<float>{1.f, 0.5f, 0.5f}, kNone, {});
            }).find("propensity at row 0 is 1 for a control row"),
            std::string::npos);
  EXPECT_NE(error([&] { ComputeUpliftMetrics(u, y, y, kNone, kNone, std::vector<int>{0}); }).find("top 0%"),
            std::string::npos);
}

}  // namespace
}  // namespace mtrec
