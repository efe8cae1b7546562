#include "data/marketing_simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <iterator>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"
#include "data/simulator_support.h"

namespace mtrec {
namespace {

// What config.toml proposes for training; written verbatim. Few features with small vocabularies: narrow
// embeddings and experts.
constexpr int kConfigEmbeddingDim = 8;
constexpr int kConfigExperts = 4;
constexpr const char* kConfigExpert = "[128, 64]";
constexpr const char* kConfigTower = "[32]";
constexpr double kConfigDropout = 0.1;
constexpr int kConfigEpochs = 10;
constexpr int kConfigPatience = 2;
constexpr int kConfigBatchSize = 512;
constexpr double kConfigLr = 0.001;
constexpr double kConfigEmbeddingLr = 0.05;
// The propensity head only serves the other tasks' weights: half a task's weight.
constexpr double kConfigTreatedWeight = 0.5;
constexpr const char* kConfigQuantiles = "[0.1, 0.5, 0.9]";
constexpr const char* kConfigTopPercent = "[10, 30]";

constexpr int64_t kDefaultRows = 200000;
constexpr double kDefaultSplitFraction = 0.2;  // of the shuffled customers, to valid.csv and to test.csv each
constexpr int64_t kMaxRows = 100'000'000;      // each customer takes ~200 bytes while the files are written
constexpr double kMinPropensity = 0.05;        // the clip of targeted assignment
constexpr double kMaxPropensity = 0.95;

constexpr int kCategories = 12;
constexpr int kRegions = 8;
constexpr int kChannels = 6;
constexpr int kDevices = 3;
constexpr std::array<const char*, kChannels> kChannelNames = {"organic",   "paid_search", "social",
                                                              "affiliate", "email",       "referral"};
constexpr std::array<double, kChannels> kChannelShares = {0.30, 0.22, 0.15, 0.10, 0.13, 0.10};
constexpr std::array<double, kChannels> kChannelEngagement = {0.15, -0.05, -0.15, -0.2, 0.1, 0.25};
constexpr std::array<double, kChannels> kChannelDiscount = {-0.2, 0.1, 0.2, 0.7, 0.1, -0.1};
constexpr size_t kEmailChannel = 4;
constexpr std::array<double, kRegions> kRegionShares = {0.22, 0.18, 0.15, 0.12, 0.10, 0.09, 0.08, 0.06};
constexpr std::array<const char*, kDevices> kDeviceNames = {"mobile", "desktop", "app"};
constexpr size_t kDesktop = 1;
constexpr size_t kApp = 2;

// Latent traits (standard normal but for the channel shifts) and how they lean on each other.
constexpr double kSpendOnEngagement = 0.25;
constexpr double kDiscountOnSpend = -0.35;
constexpr double kChurnOnEngagement = -0.45;
constexpr double kChurnOnTenure = -0.15;  // per sd of log tenure
constexpr double kTenureLogMean = 6.1;    // median ~450 days
constexpr double kTenureLogSd = 0.8;
constexpr int kMinTenure = 10;
constexpr int kMaxTenure = 3650;
constexpr int kMaxRecency = 730;

// History.
constexpr double kOrdersBase = 0.7;  // log orders a year at average traits
constexpr double kOrdersEngagement = 0.6;
constexpr double kOrdersChurnRisk = -0.4;
constexpr double kOrdersLoyalty = 0.3;
constexpr double kOrderDateChurnRisk = 0.6;  // orders of a higher churn risk lie further back
constexpr double kOrderValueBase = 3.6;      // log: median order ~37 at average traits
constexpr double kOrderValueSpend = 0.5;
constexpr double kOrderValueSd = 0.4;
constexpr double kCategoryPriceSd = 0.3;
constexpr double kRegionSpendSd = 0.1;
constexpr double kTasteSd = 1.2;
constexpr double kCouponBase = -1.5;
constexpr double kCouponDiscount = 1.2;
constexpr double kSessionsBase = 0.9;
constexpr double kSessionsEngagement = 0.6;
constexpr double kSessionsChurnRisk = -0.5;
constexpr double kSessionsApp = 0.3;
constexpr double kSessionsSd = 0.25;
constexpr double kOpenBase = -1.2;
constexpr double kOpenEngagement = 0.5;
constexpr double kOpenDiscount = 0.35;
constexpr double kOpenEmailChannel = 0.4;
constexpr double kOpenSd = 0.5;
constexpr int kMinEmails = 4;  // weekly newsletters since sign-up, at most a year's
constexpr int kMaxEmails = 52;
constexpr double kLoyaltyBase = -1.3;
constexpr double kLoyaltyEngagement = 0.9;
constexpr double kLoyaltySpend = 0.3;
constexpr double kLoyaltyTenure = 0.3;  // per sd of log tenure

// Sleeping dogs: mostly customers who ignore the emails.
constexpr double kDogBase = -3.1;
constexpr double kDogOpenRate = -6.0;  // per unit of email open rate below kDogOpenPivot
constexpr double kDogOpenPivot = 0.25;
constexpr double kDogLoyalty = 0.6;

// Conversion over the window without the offer (logit), and the offer's effect tau.
constexpr double kConversionBase = -2.3;
constexpr double kConversionEngagement = 0.35;
constexpr double kConversionChurnRisk = -0.3;
constexpr double kConversionLoyalty = 0.35;
constexpr double kConversionRecency = -0.4;    // per unit of log(1 + recency / 30)
constexpr double kConversionFrequency = 0.25;  // per unit of log(1 + frequency)
constexpr double kConversionSessions = 0.1;    // per unit of log(1 + sessions)
constexpr double kRegionConversionSd = 0.15;
constexpr std::array<double, kDevices> kDeviceConversion = {0.0, 0.05, 0.2};
constexpr double kTauBase = 0.05;
constexpr double kTauDiscount = 1.3;
constexpr double kTauLapseFloor = 0.3;  // share of the discount effect outside the lapse window
constexpr double kTauRegularShrink = 0.95;
constexpr double kTauDog = -0.15;
constexpr double kLapsePeakDays = 120;  // the lapse bump: a log-normal shape in recency
constexpr double kLapseWidth = 0.9;
constexpr double kAppealSlope = 1.5;  // a = sigmoid(kAppealSlope d + kAppealShift)
constexpr double kAppealShift = -0.5;
constexpr double kRegularPivot = 1.2;  // regular = sigmoid(kRegularSlope (e + kRegularLoyalty loyalty - pivot))
constexpr double kRegularSlope = 2.0;
constexpr double kRegularLoyalty = 0.8;

// Revenue of a converted customer over the window: log-normal.
constexpr double kRevenueBase = 3.7;
constexpr double kRevenueSpend = 0.5;
constexpr double kRevenueEngagement = 0.15;  // more orders in the window
constexpr double kBasketShift = 0.06;        // under the offer, less kBasketDiscount x the discount appeal
constexpr double kBasketDiscount = 0.18;
constexpr double kRevenueScaleLow = 0.45;  // v = low + range x sigmoid(e + s)
constexpr double kRevenueScaleRange = 0.35;

// Churn of a customer who did not convert (logit), and the offer's effect gamma.
constexpr double kChurnBase = -1.45;
constexpr double kChurnChurnRisk = 0.8;
constexpr double kChurnEngagement = -0.35;
constexpr double kChurnLoyalty = -0.3;
constexpr double kChurnRecency = 0.35;   // per unit of log(1 + recency / 30)
constexpr double kChurnSessions = -0.1;  // per unit of log(1 + sessions)
constexpr double kGammaDiscount = 0.5;
constexpr double kGammaDog = -0.3;

// Targeted assignment (features only): lapsing customers and coupon users.
constexpr double kTargetLapse = 2.5;
constexpr double kTargetLapseFrom = 45;  // days: the window sigmoid((recency - from) / 15) sigmoid((to - recency) / 40)
constexpr double kTargetLapseTo = 400;
constexpr double kTargetCoupons = 1.0;  // per unit of log(1 + coupon uses)
constexpr double kTargetLoyalty = -0.8;
constexpr double kTargetNoOrders = 0.4;

enum class Stream : uint64_t { kWorld = 1, kCustomers, kOutcomes, kShuffle };

uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t index = 0) {
  return SimulatorStreamSeed(seed, static_cast<uint64_t>(stream), index);
}

// Effects that differ between seeds.
struct World {
  std::array<double, kCategories> category_share{};  // of the orders, before a customer's taste
  std::array<double, kCategories> category_price{};  // log order value
  std::array<double, kRegions> region_conversion{};
  std::array<double, kRegions> region_spend{};
};

World MakeWorld(uint64_t seed) {
  Rng rng(StreamSeed(seed, Stream::kWorld));
  World w;
  for (int c = 0; c < kCategories; ++c) w.category_share[c] = 1.0 / std::sqrt(c + 1.0);
  for (auto& v : w.category_price) v = kCategoryPriceSd * rng.Normal();
  for (auto& v : w.region_conversion) v = kRegionConversionSd * rng.Normal();
  for (auto& v : w.region_spend) v = kRegionSpendSd * rng.Normal();
  return w;
}

// Poisson by inversion: as many steps as the draw, few for the means here (clamped where exp(-mean) stays normal).
int32_t DrawPoisson(Rng& rng, double mean) {
  mean = std::min(mean, 500.0);
  const double u = rng.Uniform();
  double p = std::exp(-mean);
  double cdf = p;
  int32_t k = 0;
  while (u >= cdf && k < 10000) {
    ++k;
    p *= mean / k;
    cdf += p;
  }
  return k;
}

struct Customer {
  // Written.
  int32_t recency = 0;
  int32_t frequency = 0;
  int32_t tenure = 0;
  int32_t sessions = 0;
  int32_t coupons = 0;
  int32_t emails = 0;  // sent, of which opened were opened
  int32_t opened = 0;
  int64_t spend_cents = 0;
  uint16_t categories = 0;  // bit c: bought from category c
  int8_t top_category = -1;
  uint8_t channel = 0;
  uint8_t region = 0;
  uint8_t device = 0;
  bool loyalty = false;
  // Latent.
  double engagement = 0;
  double spend = 0;
  double discount = 0;
  double churn_risk = 0;
  int favourite = 0;  // the category of highest taste
  bool dog = false;
  // The truth under control (0) and offer (1): conversion p, log-revenue location m and scale v, churn q among
  // the customers who did not convert.
  std::array<double, 2> p{};
  std::array<double, 2> m{};
  double v = 0;
  std::array<double, 2> q{};
  double targeting = 0;  // the logit of targeted assignment, less its intercept
  // The campaign and its outcomes.
  double propensity = 0;
  bool treated = false;
  bool converted = false;
  bool churned = false;
  int64_t revenue_cents = 0;
};

double Lapse(int32_t recency) {
  const double z = std::log((recency + 1.0) / kLapsePeakDays) / kLapseWidth;
  return std::exp(-0.5 * z * z);
}

void DrawHistory(Rng& rng, const World& w, Customer& c) {
  c.channel = static_cast<uint8_t>(DrawShares(rng, kChannelShares));
  c.region = static_cast<uint8_t>(DrawShares(rng, kRegionShares));
  const double log_tenure = kTenureLogMean + kTenureLogSd * rng.Normal();
  c.tenure = std::clamp(static_cast<int32_t>(std::lround(std::exp(log_tenure))), kMinTenure, kMaxTenure);
  const double tenure_z = (std::log(c.tenure) - kTenureLogMean) / kTenureLogSd;
  c.engagement = kChannelEngagement[c.channel] + rng.Normal();
  c.spend = kSpendOnEngagement * c.engagement + std::sqrt(1 - kSpendOnEngagement * kSpendOnEngagement) * rng.Normal();
  c.discount = kChannelDiscount[c.channel] + kDiscountOnSpend * c.spend +
               std::sqrt(1 - kDiscountOnSpend * kDiscountOnSpend) * rng.Normal();
  c.churn_risk = kChurnOnEngagement * c.engagement + kChurnOnTenure * tenure_z +
                 std::sqrt(1 - kChurnOnEngagement * kChurnOnEngagement) * rng.Normal();

  // Device: a softmax over mobile (0), desktop (big spenders) and app (the engaged).
  const std::array<double, kDevices> device_weight = {1.0, std::exp(-0.2 + 0.3 * c.spend),
                                                      std::exp(-1.2 + 0.9 * c.engagement)};
  const double device_u = rng.Uniform() * (device_weight[0] + device_weight[1] + device_weight[2]);
  c.device = device_u < device_weight[0] ? 0 : device_u < device_weight[0] + device_weight[1] ? kDesktop : kApp;
  c.loyalty = rng.Bernoulli(
      Sigmoid(kLoyaltyBase + kLoyaltyEngagement * c.engagement + kLoyaltySpend * c.spend + kLoyaltyTenure * tenure_z));

  // Taste over categories: the shop's shares tilted per customer.
  std::array<double, kCategories> taste{};
  double taste_total = 0;
  for (int k = 0; k < kCategories; ++k) {
    taste[k] = w.category_share[k] * std::exp(kTasteSd * rng.Normal());
    taste_total += taste[k];
    if (taste[k] > taste[c.favourite]) c.favourite = k;
  }

  // Orders over the last 12 months (or the tenure, if shorter), dated further back for a higher churn risk.
  const int32_t window = std::min(365, c.tenure);
  const double yearly = std::exp(kOrdersBase + kOrdersEngagement * c.engagement + kOrdersChurnRisk * c.churn_risk +
                                 (c.loyalty ? kOrdersLoyalty : 0.0));
  c.frequency = DrawPoisson(rng, yearly * window / 365.0);
  const double date_power = std::exp(-kOrderDateChurnRisk * c.churn_risk);
  const double coupon_p = Sigmoid(kCouponBase + kCouponDiscount * c.discount);
  std::array<int32_t, kCategories> bought{};
  c.recency = window;
  for (int32_t order = 0; order < c.frequency; ++order) {
    const auto days_ago = static_cast<int32_t>(window * std::pow(rng.Uniform(), date_power));
    c.recency = std::min(c.recency, std::min(days_ago, window - 1));
    double u = rng.Uniform() * taste_total;
    int category = 0;
    while (category + 1 < kCategories && u >= taste[category]) u -= taste[category++];
    ++bought[category];
    c.categories |= static_cast<uint16_t>(1u << category);
    const double log_value = kOrderValueBase + kOrderValueSpend * c.spend + w.category_price[category] +
                             w.region_spend[c.region] + kOrderValueSd * rng.Normal();
    c.spend_cents += std::max<int64_t>(100, std::llround(std::exp(log_value) * 100));
    c.coupons += rng.Bernoulli(coupon_p);
  }
  if (c.frequency > 0) {
    c.top_category = static_cast<int8_t>(std::max_element(bought.begin(), bought.end()) - bought.begin());
  } else if (c.tenure > 365) {
    // The last order lies before the 12 months: up to two years back.
    const int32_t oldest = std::min(kMaxRecency, c.tenure);
    c.recency = 366 + static_cast<int32_t>(rng.Below(static_cast<uint64_t>(oldest - 366 + 1)));
  } else {
    c.recency = c.tenure;  // signed up, no order yet: days since sign-up
  }

  c.sessions =
      DrawPoisson(rng, std::exp(kSessionsBase + kSessionsEngagement * c.engagement + kSessionsChurnRisk * c.churn_risk +
                                (c.device == kApp ? kSessionsApp : 0.0) + kSessionsSd * rng.Normal()));
  c.emails = std::clamp(c.tenure / 7, kMinEmails, kMaxEmails);
  const double open_p = Sigmoid(kOpenBase + kOpenEngagement * c.engagement + kOpenDiscount * c.discount +
                                (c.channel == kEmailChannel ? kOpenEmailChannel : 0.0) + kOpenSd * rng.Normal());
  for (int32_t e = 0; e < c.emails; ++e) c.opened += rng.Bernoulli(open_p);
  const double open_rate = static_cast<double>(c.opened) / c.emails;
  c.dog =
      rng.Bernoulli(Sigmoid(kDogBase + kDogOpenRate * (open_rate - kDogOpenPivot) + (c.loyalty ? kDogLoyalty : 0.0)));
}

// The truth of the outcomes under control and offer, and the targeting logit; from the customer alone.
void SetTruth(const World& w, Customer& c) {
  const double log_recency = std::log1p(c.recency / 30.0);
  const double log_sessions = std::log1p(c.sessions);
  const double loyalty = c.loyalty ? 1.0 : 0.0;
  const double base = kConversionBase + kConversionEngagement * c.engagement + kConversionChurnRisk * c.churn_risk +
                      kConversionLoyalty * loyalty + kConversionRecency * log_recency +
                      kConversionFrequency * std::log1p(c.frequency) + kConversionSessions * log_sessions +
                      w.region_conversion[c.region] + kDeviceConversion[c.device];
  const double appeal = Sigmoid(kAppealSlope * c.discount + kAppealShift);
  const double lapse = Lapse(c.recency);
  const double regular = Sigmoid(kRegularSlope * (c.engagement + kRegularLoyalty * loyalty - kRegularPivot));
  const double tau = c.dog ? kTauDog
                           : (kTauBase + kTauDiscount * appeal * (kTauLapseFloor + (1 - kTauLapseFloor) * lapse)) *
                                 (1 - kTauRegularShrink * regular);
  const double location = kRevenueBase + kRevenueSpend * c.spend + kRevenueEngagement * c.engagement +
                          w.category_price[c.favourite] + w.region_spend[c.region];
  const double churn = kChurnBase + kChurnChurnRisk * c.churn_risk + kChurnEngagement * c.engagement +
                       kChurnLoyalty * loyalty + kChurnRecency * log_recency + kChurnSessions * log_sessions;
  const double gamma = c.dog ? kGammaDog : kGammaDiscount * appeal * lapse;
  for (int t = 0; t < 2; ++t) {
    c.p[t] = Sigmoid(base + t * tau);
    c.m[t] = location + t * (kBasketShift - kBasketDiscount * appeal);
    c.q[t] = Sigmoid(churn - t * gamma);
  }
  c.v = kRevenueScaleLow + kRevenueScaleRange * Sigmoid(c.engagement + c.spend);

  const double window = Sigmoid((c.recency - kTargetLapseFrom) / 15.0) * Sigmoid((kTargetLapseTo - c.recency) / 40.0);
  c.targeting = kTargetLapse * window + kTargetCoupons * std::log1p(c.coupons) + kTargetLoyalty * loyalty +
                (c.frequency == 0 ? kTargetNoOrders : 0.0);
}

double ExpectedRevenue(const Customer& c, int t) { return c.p[t] * std::exp(c.m[t] + 0.5 * c.v * c.v); }

constexpr const char* kHeader =
    "customer_id,recency_days,frequency_12m,monetary_avg,total_spend_12m,tenure_days,sessions_30d,email_open_rate,"
    "coupon_uses_12m,top_category,categories,channel,region,device,loyalty_member,treatment,converted,revenue,"
    "churned,true_propensity,true_conversion_prob,true_expected_revenue,true_churn_prob,true_uplift_conversion,"
    "true_uplift_revenue\n";

std::string FormatRows(const std::vector<Customer>& customers, const std::vector<size_t>& order, size_t begin,
                       size_t end) {
  fmt::memory_buffer out;
  out.reserve((end - begin) * 200);
  auto dst = fmt::appender(out);
  for (size_t r = begin; r < end; ++r) {
    const size_t id = order[r];
    const Customer& c = customers[id];
    const int64_t average_cents = c.frequency > 0 ? (c.spend_cents + c.frequency / 2) / c.frequency : 0;
    fmt::format_to(dst, "c{},{},{},{}.{:02},{}.{:02},{},{},{:.3f},{},", id, c.recency, c.frequency, average_cents / 100,
                   average_cents % 100, c.spend_cents / 100, c.spend_cents % 100, c.tenure, c.sessions,
                   static_cast<double>(c.opened) / c.emails, c.coupons);
    if (c.top_category >= 0) {
      fmt::format_to(dst, "cat{},", c.top_category);
    } else {
      fmt::format_to(dst, "none,");
    }
    bool first = true;
    for (int k = 0; k < kCategories; ++k) {
      if ((c.categories >> k & 1u) == 0) continue;
      fmt::format_to(dst, "{}cat{}", first ? "" : "|", k);
      first = false;
    }
    const int t = c.treated ? 1 : 0;
    fmt::format_to(dst, ",{},r{},{},{},{},{},{}.{:02},{},", kChannelNames[c.channel], c.region, kDeviceNames[c.device],
                   c.loyalty ? "yes" : "no", t, c.converted ? 1 : 0, c.revenue_cents / 100, c.revenue_cents % 100,
                   c.churned ? 1 : 0);
    fmt::format_to(dst, "{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", c.propensity, c.p[t], ExpectedRevenue(c, t),
                   (1 - c.p[t]) * c.q[t], c.p[1] - c.p[0], ExpectedRevenue(c, 1) - ExpectedRevenue(c, 0));
  }
  return fmt::to_string(out);
}

std::string FormatConfig(const SimulatorOptions& options, int64_t rows) {
  std::string out;
  auto dst = std::back_inserter(out);
  fmt::format_to(dst,
                 "# Simulated customers and a campaign written by `mtrec simulate` (preset {}, seed {}, {} customers, "
                 "{} assignment).\n"
                 "# The true_* columns are the truth the outcomes were drawn from; none is an input.\n\n",
                 options.preset, options.seed, rows, options.targeted ? "targeted" : "random");
  out += kSimulatorConfigData;
  const SimulatorFeature features[] = {
      {"recency_days", "numeric", true,
       "Days since the last order (since sign-up without one); large for lapsing customers."},
      {"frequency_12m", "numeric", true, "Orders in the last 12 months."},
      {"monetary_avg", "numeric", true, "Mean order value over those orders (0 without one)."},
      {"total_spend_12m", "numeric", true, "Spend over the last 12 months."},
      {"tenure_days", "numeric", true, "Days since sign-up."},
      {"sessions_30d", "numeric", true, "Site sessions in the last 30 days."},
      {"email_open_rate", "numeric", false, "Share of the last year's newsletters opened."},
      {"coupon_uses_12m", "numeric", true, "Coupons redeemed in the last 12 months: a sign of discount sensitivity."},
      {"top_category", "categorical", false, "The category bought most in the last 12 months (none without orders)."},
      {"categories", "multi_categorical", false, "The categories bought in the last 12 months."},
      {"channel", "categorical", false, "Acquisition channel; affiliate customers hunt deals."},
      {"region", "categorical", false, "Region; regions differ a little in conversion and basket."},
      {"device", "categorical", false, "Usual device: mobile, desktop or app."},
      {"loyalty_member", "categorical", false, "Loyalty programme member: yes or no."},
  };
  for (const auto& f : features) AppendSimulatorFeature(out, f);
  struct Task {
    const char* name;
    const char* kind;
    double weight;
    const char* what;
    const char* column = nullptr;  // the name when null
    const char* loss = nullptr;    // the kind's default when null
    bool uplift = false;           // per-treatment heads, weighted by the propensity head
    const char* oracle = nullptr;
    const char* oracle_uplift = nullptr;
    bool auxiliary = false;
  };
  const Task tasks[] = {
      {"converted", "binary", 1.0, "Bought in the 30 days after the campaign; the offer's effect varies by customer.",
       nullptr, nullptr, true, "true_conversion_prob", "true_uplift_conversion"},
      {"revenue", "regression", 1.0,
       "Spend in those 30 days: 0 without a purchase, log-normal otherwise (zero-inflated log-normal loss).", nullptr,
       "ziln", true, "true_expected_revenue", "true_uplift_revenue"},
      {"churned", "binary", 1.0, "No activity in the window and the months after it.", nullptr, nullptr, false,
       "true_churn_prob"},
      {"treated", "binary", kConfigTreatedWeight,
       "The propensity head: P(offer | features), whose inverse weighs the uplift tasks' rows.", "treatment", nullptr,
       false, nullptr, nullptr, true},
  };
  for (const auto& t : tasks) {
    fmt::format_to(dst, "\n# {}\n[[tasks]]\nname = \"{}\"\n", t.what, t.name);
    if (t.column != nullptr) fmt::format_to(dst, "column = \"{}\"\n", t.column);
    fmt::format_to(dst, "kind = \"{}\"\nweight = {}\n", t.kind, t.weight);
    if (t.loss != nullptr) fmt::format_to(dst, "loss = \"{}\"\nquantiles = {}\n", t.loss, kConfigQuantiles);
    if (t.uplift) fmt::format_to(dst, "treatment = \"treatment\"\npropensity = \"treated\"\n");
    if (t.oracle != nullptr) fmt::format_to(dst, "oracle = \"{}\"\n", t.oracle);
    if (t.oracle_uplift != nullptr) fmt::format_to(dst, "oracle_uplift = \"{}\"\n", t.oracle_uplift);
    if (t.auxiliary) fmt::format_to(dst, "auxiliary = true\n");
  }
  fmt::format_to(dst,
                 "\n# Multi-gate mixture of experts: conversion, revenue and churn share experts, each through its own "
                 "gate.\n"
                 "[model]\n"
                 "arch = \"mmoe\"\n"
                 "embedding_dim = {}\n"
                 "experts = {}\n"
                 "expert = {}\n"
                 "tower = {}\n"
                 "dropout = {}\n\n",
                 kConfigEmbeddingDim, kConfigExperts, kConfigExpert, kConfigTower, kConfigDropout);
  fmt::format_to(dst,
                 "# Optimisation: Adam for dense weights, row-wise Adagrad for embeddings, on a cosine; the epoch of "
                 "the best\n# validation loss (of the tasks but the propensity head) is kept, and training stops {} "
                 "epochs after it.\n",
                 kConfigPatience);
  out += SimulatorConfigTrain(kConfigEpochs, kConfigBatchSize, kConfigLr, kConfigEmbeddingLr);
  fmt::format_to(dst, "lr_schedule = \"cosine\"\nearly_stop_metric = \"loss\"\npatience = {}\nseed = {}\n",
                 kConfigPatience, options.seed);
  fmt::format_to(dst,
                 "\n# Value and uplift metrics over the top k% of customers by predicted value or uplift.\n"
                 "[eval]\n"
                 "top_percent = {}\n",
                 kConfigTopPercent);
  return out;
}

}  // namespace

SimulatorSummary SimulateMarketing(const SimulatorOptions& options, const std::string& out_dir) {
  const int64_t rows = options.rows > 0 ? options.rows : kDefaultRows;
  MTREC_CHECK(options.rows == 0 || (options.rows >= kMinSimulatorRows && options.rows <= kMaxRows),
              "simulate: rows must be 0 (the preset's default, {}) or from {} to {} customers, found {}", kDefaultRows,
              kMinSimulatorRows, kMaxRows, options.rows);
  if (options.targeted) {
    MTREC_CHECK(options.treat_share >= kMinPropensity && options.treat_share <= kMaxPropensity,
                "simulate: with targeted assignment treat_share is the mean of propensities clipped to [{}, {}], so "
                "it must lie in that range, found {}",
                kMinPropensity, kMaxPropensity, options.treat_share);
  } else {
    MTREC_CHECK(options.treat_share > 0 && options.treat_share < 1,
                "simulate: treat_share must be above 0 and below 1 (both groups non-empty), found {}",
                options.treat_share);
  }
  const SimulatorSplit split = SplitSimulatorRows(rows, options.valid_fraction.value_or(kDefaultSplitFraction),
                                                  options.test_fraction.value_or(kDefaultSplitFraction), "rows");
  const uint64_t seed = options.seed;
  const World world = MakeWorld(seed);
  const size_t count = static_cast<size_t>(rows);
  std::vector<Customer> customers(count);
  ParallelFor(count, [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) {
      Rng rng(StreamSeed(seed, Stream::kCustomers, i));
      DrawHistory(rng, world, customers[i]);
      SetTruth(world, customers[i]);
    }
  });

  double intercept = 0;
  if (options.targeted) {
    std::vector<double> logits(count);
    for (size_t i = 0; i < count; ++i) logits[i] = customers[i].targeting;
    intercept = SolveIntercept(logits, {}, options.treat_share, kMinPropensity, kMaxPropensity);
  }
  ParallelFor(count, [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) {
      Customer& c = customers[i];
      c.propensity = options.targeted ? std::clamp(Sigmoid(intercept + c.targeting), kMinPropensity, kMaxPropensity)
                                      : options.treat_share;
      Rng rng(StreamSeed(seed, Stream::kOutcomes, i));
      c.treated = rng.Uniform() < c.propensity;
      const int t = c.treated ? 1 : 0;
      const double convert_u = rng.Uniform();
      const double revenue_z = rng.Normal();
      const double churn_u = rng.Uniform();
      c.converted = convert_u < c.p[t];
      if (c.converted) {
        c.revenue_cents = std::max<int64_t>(1, std::llround(std::exp(c.m[t] + c.v * revenue_z) * 100));
      }
      c.churned = !c.converted && churn_u < c.q[t];
    }
  });

  SimulatorSummary summary;
  summary.train_rows = split.train;
  summary.valid_rows = split.valid;
  summary.test_rows = split.test;
  int64_t converted = 0, churned = 0, treated = 0;
  double revenue = 0, uplift = 0;
  std::vector<int64_t> revenues(count);
  for (size_t i = 0; i < count; ++i) {
    const Customer& c = customers[i];
    converted += c.converted;
    churned += c.churned;
    treated += c.treated;
    revenue += static_cast<double>(c.revenue_cents) / 100;
    uplift += c.p[1] - c.p[0];
    revenues[i] = c.revenue_cents;
  }
  const size_t top = (count + 9) / 10;
  std::nth_element(revenues.begin(), revenues.begin() + static_cast<ptrdiff_t>(top), revenues.end(), std::greater<>());
  double top_revenue = 0;
  for (size_t i = 0; i < top; ++i) top_revenue += static_cast<double>(revenues[i]) / 100;
  const auto n = static_cast<double>(count);
  summary.conversion_rate = static_cast<double>(converted) / n;
  summary.mean_revenue = revenue / n;
  summary.top_decile_revenue_share = revenue > 0 ? top_revenue / revenue : 0;
  summary.churn_rate = static_cast<double>(churned) / n;
  summary.treated_share = static_cast<double>(treated) / n;
  summary.mean_true_uplift = uplift / n;

  // The ids stay those of the generation order; the shuffle spreads them over the three files.
  const std::vector<size_t> order = ShuffledOrder(count, StreamSeed(seed, Stream::kShuffle));
  auto format_split = [&](size_t begin, size_t end) {
    return FormatRowsInBlocks(kHeader, begin, end,
                              [&](size_t first, size_t last) { return FormatRows(customers, order, first, last); });
  };
  const size_t train_end = static_cast<size_t>(split.train);
  const size_t valid_end = train_end + static_cast<size_t>(split.valid);
  WriteSimulatorFiles(out_dir, {{"train.csv", format_split(0, train_end)},
                                {"valid.csv", format_split(train_end, valid_end)},
                                {"test.csv", format_split(valid_end, count)},
                                {"config.toml", FormatConfig(options, rows)}});
  return summary;
}

}  // namespace mtrec
