// Simulated data with known ground truth: every row carries the labels that were sampled and the probabilities or
// expectations they were sampled from, so that a trained model can be compared with the best possible one (the
// oracle) on the same rows. Preset "ecommerce" (below) writes impression logs: click, cart, purchase, gmv. Preset
// "retail" writes store x item x day sales with censored demand; data/retail_simulator.h describes it. Preset
// "marketing" writes customers with a campaign's offer and its effect on conversion, revenue and churn;
// data/marketing_simulator.h describes it.
//
//   SimulatorOptions options;
//   options.rows = 500000;
//   options.seed = 7;
//   SimulatorSummary summary = Simulate(options, "data/sim");   // data/sim/{train,valid,test}.csv, config.toml
//
// The output depends only on the options: the same options give the same files byte for byte on every machine,
// whatever the thread count.
//
// The truth model (preset "ecommerce"), in logits:
//   click            user and item biases, effects of age, gender, city, user level, category, brand, device and
//                    hour, smooth effects of log price, rating, log sales and log activity, a position bias, a
//                    strong boost when the item's category is among the row's recent_categories, the user's
//                    (partly demographic) taste for the category, a small user x item latent dot product, and
//                    +clickbait x selection_bias.
//   purchase|click   rho x (the click drivers above, without position and clickbait) + sqrt(1 - rho^2) x its own
//                    drivers (price sensitivity by user level and age, rating, brand and item quality, device,
//                    user propensity), rho = task_correlation, minus clickbait x selection_bias.
//   both             + selection_unobserved x the impression's unobserved intent z ~ N(0, 1) (not written).
//   cart|click       mostly the purchase|click drivers, plus a liking for expensive items (carts park them).
// Each intercept is solved for so that the mean click rate, and the cart and purchase rates among clicks, hit
// fixed targets whatever the knobs. Impressions are drawn by sessions (a user, an hour, a device, a recent
// category list, positions 1..L); each impression picks its item among popularity-drawn candidates with weights
// exp(selection_bias x click affinity), so exposure favours what the user is likely to click.
//
// Daily partitions (ecommerce with days > 0), for training on a stream of new data:
//
//   options.days = 30;  options.drift = 0.5;  options.market_share = 0.05;
//   Simulate(options, "data/stream");   // data/stream/days/day-001.csv ..., {train,valid,test}.csv, config.toml,
//                                       // and the same for the small market under data/stream/market-b/
//
// The truth model above holds on each day, in a world that drifts at a speed set by drift (0: the same world every
// day): items are launched (ids never used before) and retired, with lives of 20 / drift days on average; an
// item's log popularity rises over its first 5 days, falls by 1.5 over its life and walks at random; item_sales
// counts the days since launch, and a rating shows from the 5th day on; users join and go quiet, with stays of
// 30 / drift days; category effects, brand effects and segment tastes turn, keeping their mean and spread, towards
// an unrelated pattern (a quarter turn in 15 / drift days), so the oracle stays about as strong while what a model
// learnt goes stale. The intercepts are solved per day. The small market shares the catalogue and the meaning of
// every column; it has its own users (ids bu0, bu1...), category effects turned by a further 0.5 radians (brand
// effects and tastes by 0.15), users more sensitive to price, and its own part of each item's popularity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mtrec {

struct SimulatorOptions {
  // Which world to simulate; KnownSimulatorPresets() lists the choices.
  std::string preset = "ecommerce";
  // Rows to write over the three splits (ecommerce: impressions, marketing: customers); at least 100, or 0 for
  // the preset's default: 500000 impressions (the smallest size at which the default shared-bottom model gets
  // within 0.01 AUC of the oracle for click and purchase), 200000 customers. Ecommerce with days: impressions per
  // day, both markets together; 0 picks 40000.
  int64_t rows = 0;
  // Seeds every random draw: the world (users, items, effects) and the impressions.
  uint64_t seed = 42;
  // Distinct users; 0 picks rows / 40 (at least 100), i.e. 12.5k users for 500k rows, about 40 impressions each.
  // Ecommerce with days: the big market's users there on day 1; 0 picks its rows per day / 4 (at least 100).
  int64_t users = 0;
  // Distinct items; 0 picks rows / 100 (at least 50), i.e. 5k items for 500k rows. Retail: 0 picks 100.
  // Ecommerce with days: the items on sale on day 1; 0 picks rows per day / 8 (at least 50).
  int64_t items = 0;
  // Retail only (rows, users, task_correlation and selection_bias are ecommerce's): the stores and the days
  // written, which with items set the size; 0 picks 50 stores and 400 days, about 1.9M rows.
  int64_t stores = 0;
  // Retail: see stores. Ecommerce: 0 writes one snapshot, {train,valid,test}.csv shuffled; 3 or more write daily
  // partitions of a drifting world (above), days/day-001.csv ..., train.csv all days but the last two,
  // valid.csv the day before the last, test.csv the last.
  int64_t days = 0;
  // Ecommerce with days, in [0, 1]: how fast the world drifts (item turnover, popularity, the season, new users);
  // 0: the same world every day. Unset: 0.5.
  std::optional<double> drift;
  // Ecommerce with days: 0 for one market, or in (0, 0.5]: the share of each day's rows that goes to a second,
  // small market with shifted tastes, written with the same layout under market-b/.
  double market_share = 0;
  // In [0, 1]: how much the purchase|click logit shares the click logit's drivers (0: independent drivers,
  // 1: the same drivers, up to the clickbait term that selection_bias adds).
  double task_correlation = 0.5;
  // In [0, 1]: how strongly exposure and clicks are biased. Scales the preference of impressions for items the
  // user is likely to click, and an item "clickbait" factor that raises clicks but lowers purchase|click, so a
  // conversion model trained on clicked rows only sees a distribution unlike that of all impressions.
  double selection_bias = 0.5;
  // In [0, 1]: selection on a factor the data does not show. Each impression gets an unobserved intent
  // z ~ N(0, 1) that adds selection_unobserved x z to both the click and the purchase|click logit (and so to the
  // p_click and p_purchase_given_click written, the row's own truth). Among clicks z runs high, so even given
  // every observed feature, conversion on clicked rows overstates conversion had every impression been clicked:
  // the case ESMM and ESCM² (tasks.*.counterfactual) are meant for. 0: no such factor, the files as before.
  double selection_unobserved = 0;
  // Ecommerce snapshot only: 0, or 2 to 8 scenarios (pages, sites) in a first column `scenario` (s1, s2, ...)
  // that the config declares as a feature and eval slices by. They share users and catalogue; scenario k has
  // half the rows of scenario k − 1, and every scenario after the first has tastes of its own: category effects
  // turned 0.9 radians towards a draw of its own (a correlation of 0.62 with s1's), brand effects and segment
  // tastes 0.5 radians, and the users' price sensitivity shifted by the scenario's N(0, 0.3).
  int64_t scenarios = 0;
  // Marketing only: the offer goes to each customer with probability treat_share (in (0, 1)), or with targeted to
  // each with a probability that grows with the customer's lapse and coupon use, clipped to [0.05, 0.95], whose
  // mean is treat_share (then in [0.05, 0.95]).
  bool targeted = false;
  double treat_share = 0.5;
  // Fractions of the shuffled rows written to valid.csv and test.csv; train.csv gets the rest (non-empty).
  // Retail and ecommerce with days: fractions of the days, the last ones to test.csv and the ones before them to
  // valid.csv. Unset: the preset's, 0.1 each (marketing: 0.2 each; ecommerce with days: one day each).
  std::optional<double> valid_fraction;
  std::optional<double> test_fraction;
};

// What was written; the rates are empirical label rates over all rows of the three splits.
struct SimulatorSummary {
  int64_t train_rows = 0;
  int64_t valid_rows = 0;
  int64_t test_rows = 0;
  double click_rate = 0;
  double cart_rate = 0;
  double purchase_rate = 0;
  double mean_gmv = 0;  // over all impressions, zero for those without a purchase
  // Retail, over the store-item-days written.
  double mean_units = 0;     // observed units sold per row
  double zero_share = 0;     // rows that sold nothing
  double stockout_rate = 0;  // rows whose shelf ran empty
  double promo_share = 0;    // rows on promotion
  // Marketing, over the customers written.
  double conversion_rate = 0;
  double mean_revenue = 0;              // zero for those who did not convert
  double top_decile_revenue_share = 0;  // share of the revenue held by the 10% of customers who spent most
  double churn_rate = 0;
  double treated_share = 0;
  double mean_true_uplift = 0;  // mean true_uplift_conversion: the offer's average effect on conversion
  // Ecommerce with days: the split in days, and the drift. Rows and rates above are the big market's (market a).
  int64_t days = 0;
  double drift = 0;
  int64_t train_days = 0;
  int64_t valid_days = 0;
  int64_t test_days = 0;
  int64_t rows_per_day = 0;         // market a's
  int64_t items_first_day = 0;      // items on sale on day 1
  int64_t items_last_day = 0;       // ... on the last day
  int64_t items_launched = 0;       // launched after day 1
  int64_t users_joined = 0;         // market a's users who joined after day 1
  double late_item_share = 0;       // of the last day's impressions (market a), on items launched from day 8 on
  double new_user_share = 0;        // of the last day's impressions (market a), by users who joined after day 1
  int64_t market_rows_per_day = 0;  // market b's; 0 without one
  int64_t market_rows = 0;          // market b's, over all days
};

// The presets Simulate accepts.
std::vector<std::string> KnownSimulatorPresets();

// Generates the impressions and writes train.csv, valid.csv, test.csv and config.toml (each atomically) into
// out_dir, creating it if needed; ecommerce with days also days/ and, with a market share, market-b/. Throws Error
// for an unknown preset, fewer than 100 rows, a knob out of range or a folder that cannot be written.
SimulatorSummary Simulate(const SimulatorOptions& options, const std::string& out_dir);

}  // namespace mtrec
