// Simulated customers of an online shop and a marketing campaign with known effects: the "marketing" preset of
// Simulate (data/simulator.h), for customer value, churn and uplift (who should get the offer). Every row carries
// the probabilities and expectations its outcomes were drawn from, under the offer and without it.
//
//   SimulatorOptions options;
//   options.preset = "marketing";
//   options.rows = 50000;  options.targeted = true;
//   SimulatorSummary summary = Simulate(options, "data/campaign");   // {train,valid,test}.csv shuffled, config.toml
//
// One row per customer, shuffled into the three files (60/20/20 unless valid_fraction and test_fraction say
// otherwise). The output depends only on the options, whatever the thread count.
//
// Latent traits, never written: engagement e, spend level s, discount sensitivity d and churn risk r, standard
// normal up to shifts by acquisition channel (affiliate and paid customers hunt deals, referred ones engage), with
// s = 0.25 e + noise, d = -0.35 s + noise, r = -0.45 e - 0.15 (log tenure, standardised) + noise. The written
// history is noisy views of them:
//   orders in the last 12 months ~ Poisson(exp(0.7 + 0.6 e - 0.4 r + 0.3 loyalty) x min(tenure, 365) / 365),
//   each dated U^exp(-0.6 r) of that window back (further back for a higher r); recency is the newest. Without one
//   the last order lies 366-730 days back, or, for a customer of less than a year, there is none and recency is
//   the tenure;
//   order values log-normal: 3.6 + 0.5 s + the category's price level + the region's + 0.4 noise; categories drawn
//   from the shop's shares tilted by a taste of the customer's;
//   a coupon on each order with probability sigmoid(1.2 d - 1.5);
//   sessions in the last 30 days ~ Poisson(exp(0.9 + 0.6 e - 0.5 r + 0.3 app + 0.25 noise));
//   emails opened of the weekly newsletters since sign-up (4 to 52): binomial in e, d and the email channel;
//   device: app for the engaged, desktop for big spenders; loyalty membership in e, s and tenure.
// Sleeping dogs (~6%), mostly customers who hardly open the emails: P = sigmoid(-3.1 - 6 (open rate - 0.25)
// + 0.6 loyalty).
//
// The campaign: treatment T = 1 (the offer) with probability treat_share, or with targeting
//   clamp(sigmoid(b + 2.5 window + 1.0 log(1 + coupon uses) - 0.8 loyalty + 0.4 [no order in 12 months]), 0.05, 0.95),
//   window = sigmoid((recency - 45) / 15) sigmoid((400 - recency) / 40),
// b solved so that the mean is treat_share: marketers aim at lapsing customers and coupon users, which confounds
// the assignment with both the baseline conversion (lower for them) and the effect (higher for them).
//
// The truth model, for the 30 days after the campaign:
//   base(x)  = -2.3 + 0.35 e - 0.3 r + 0.35 loyalty - 0.4 log(1 + recency / 30) + 0.25 log(1 + frequency)
//              + 0.1 log(1 + sessions) + region (sd 0.15) + device (app 0.2, desktop 0.05)
//   tau(x)   = (0.05 + 1.3 a (0.3 + 0.7 lapse)) (1 - 0.95 regular), or -0.15 for a sleeping dog, where
//              a = sigmoid(1.5 d - 0.5) is the appeal of a discount,
//              lapse = exp(-(log((recency + 1) / 120) / 0.9)^2 / 2) peaks for lapsing but not lost customers, and
//              regular = sigmoid(2 (e + 0.8 loyalty - 1.2)) marks those who buy anyway
//   converted ~ Bernoulli(p_T),  p_T = sigmoid(base(x) + T tau(x))
//   revenue  = 0 when not converted, else log-normal: log revenue ~ N(m_T, v^2),
//              m_T = 3.7 + 0.5 s + 0.15 e + the favourite category's price level + the region's
//                    + T (0.06 - 0.18 a)   (the offer trims a deal hunter's basket, pads the others' to its threshold)
//              v = 0.45 + 0.35 sigmoid(e + s)
//   churned  = 0 when converted (churn is no activity in the window and the months after it), else
//              ~ Bernoulli(q_T), q_T = sigmoid(c(x) - T gamma(x)),
//              c(x) = -1.45 + 0.8 r - 0.35 e - 0.3 loyalty + 0.35 log(1 + recency / 30) - 0.1 log(1 + sessions),
//              gamma = 0.5 a lapse, or -0.3 for a sleeping dog (the offer reminds it to leave).
// Truth columns, exact under this model: true_propensity, true_conversion_prob = p_T, true_expected_revenue =
// p_T exp(m_T + v^2 / 2), true_churn_prob = (1 - p_T) q_T, true_uplift_conversion = p_1 - p_0,
// true_uplift_revenue = p_1 exp(m_1 + v^2 / 2) - p_0 exp(m_0 + v^2 / 2). They condition on the latent traits, so
// no model of the written columns reaches them.
#pragma once

#include <string>

#include "data/simulator.h"

namespace mtrec {

// Simulate for options.preset == "marketing"; reads seed, rows, targeted, treat_share, valid_fraction and
// test_fraction.
SimulatorSummary SimulateMarketing(const SimulatorOptions& options, const std::string& out_dir);

}  // namespace mtrec
