// Simulated store x item x day retail sales with known demand: the "retail" preset of Simulate (data/simulator.h),
// for demand forecasting and stock-out prediction. Sales are censored by the stock on the shelf, and every row
// carries the demand that was drawn and the distribution it was drawn from.
//
//   SimulatorOptions options;
//   options.preset = "retail";
//   options.stores = 10;  options.items = 40;  options.days = 200;
//   SimulatorSummary summary = Simulate(options, "data/retail");   // {train,valid,test}.csv by date, config.toml
//
// Rows are the days an item is on sale in a store (between its launch and its discontinuation), ordered by date,
// then store, then item; the last days go to test.csv and the ones before to valid.csv. The output depends only
// on the options, whatever the thread count.
//
// The truth model. Demand of item i in store s on day t is negative binomial with mean lambda and size r_i
// (variance lambda + lambda^2 / r_i; small sizes and means make the intermittent, mostly-zero slow movers):
//   log lambda = item base + store size + store x item taste
//              + (item trend + store trend) x years since the start
//              + store weekday pattern + department weekday tweak
//              + category yearly cycle: amplitude x cos(2 pi (day of year - peak) / 365.25)
//              + department holiday effect on holidays
//              - elasticity_i x log(price / the item's base price)   (regular price drift, promotions, clearance)
//              + promotion display lift on promotion days
//              - cannibalisation x the mean promotion depth of the other items of the category that day
//              + log(launch ramp): 1 - exp(-(days since launch + 1) / 10).
// Promotions are chain-wide (every store, 3-10 days, 10-40% off, every 3-12 weeks per item). Regular prices drift
// at a few random changes a year; stores differ by a small price index. A discontinued item is marked down 30% in
// its last two weeks and is no longer reordered in its last three.
// Stock: each store reviews its items every R days (1, 2, 3 or 7 by store) and orders up to
//   ceil(cover + z_s sqrt(cover)), at least 2,  cover = planned demand over the next R + L days,
// less the stock on hand and on order; the order arrives L days later (1-4 by store), in full except for
// occasional supplier shortfalls. Planned demand is the mean of the last 28 days' observed (censored) sales
// shrunk towards a noisy launch estimate, times 1.5 on known promotion days: it lags trends and underrates
// strong promotions, so shelves run empty. Sales are min(demand, stock on hand at the start of the day).
// Truth columns, never inputs: the demand drawn, lambda, its quantiles (p50, p90), the probability that the shelf
// runs empty (demand >= stock on hand), the expected sales E[min(demand, stock)], and the sum of lambda over the
// target horizon. The horizon targets' own oracles (expected observed units, probability of a stock-out within the
// horizon) depend on future stock paths and are not written.
#pragma once

#include <string>

#include "data/simulator.h"

namespace mtrec {

// The days each row's horizon targets sum over: the row's day and the six after it.
inline constexpr int kRetailHorizonDays = 7;

// Simulate for options.preset == "retail"; reads seed, stores, items, days, valid_fraction and test_fraction.
SimulatorSummary SimulateRetail(const SimulatorOptions& options, const std::string& out_dir);

}  // namespace mtrec
