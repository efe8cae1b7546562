#include "data/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "common/files.h"
#include "common/rng.h"
#include "common/strings.h"
#include "common/threads.h"
#include "data/marketing_simulator.h"
#include "data/retail_simulator.h"
#include "data/simulator_support.h"

namespace mtrec {
namespace {

// What config.toml proposes for training on the simulated data. Others tune these; they are written verbatim.
constexpr int kConfigEmbeddingDim = 16;
constexpr const char* kConfigBottom = "[256, 128]";
constexpr const char* kConfigTower = "[64]";
constexpr double kConfigDropout = 0.1;
constexpr int kConfigEpochs = 6;
constexpr int kConfigBatchSize = 512;
constexpr double kConfigLr = 0.001;
constexpr double kConfigEmbeddingLr = 0.05;
constexpr const char* kConfigLrSchedule = "cosine";
constexpr double kConfigFinalLrRatio = 0.05;
// Users and items have a few dozen rows each and hardly any effect of their own: without a penalty their
// embeddings memorise those rows and validation AUC falls from the second epoch on.
constexpr double kConfigIdEmbeddingL2 = 1.0;
constexpr double kConfigClickWeight = 1.0;
constexpr double kConfigCartWeight = 1.0;
constexpr double kConfigPurchaseWeight = 1.0;
// GMV's squared error is in currency units squared: a small weight keeps it from swamping the three loglosses.
constexpr double kConfigGmvWeight = 0.01;

constexpr const char* kPresetEcommerce = "ecommerce";
constexpr const char* kPresetRetail = "retail";
constexpr const char* kPresetMarketing = "marketing";
// The default size. Smallest at which the default shared-bottom model gets within 0.01 AUC of the oracle for
// click and purchase (purchase has ~1.3% positives), and trains in well under two minutes.
constexpr int64_t kDefaultRows = 500000;
constexpr double kDefaultSplitFraction = 0.1;  // of the shuffled rows, to valid.csv and to test.csv each

// Sizes of the world. Few categories on purpose: taste interactions go through them, so a model can learn them.
constexpr int kCategories = 24;
constexpr int kBrandsPerCategory = 6;
constexpr int kBrands = kCategories * kBrandsPerCategory;
constexpr int kCities = 20;
constexpr int kAgeBuckets = 6;
constexpr int kGenders = 3;
constexpr int kSegments = kAgeBuckets * kGenders;
constexpr int kLevels = 5;
constexpr int kDevices = 3;
constexpr int kHours = 24;
constexpr int kLatentDim = 4;
constexpr int kMaxRecent = 5;
constexpr int kMaxSessionLength = 12;
// Items a session's recommender considers per slot before exposure bias picks one.
constexpr int kCandidates = 8;

constexpr std::array<const char*, kAgeBuckets> kAgeNames = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"};
constexpr std::array<double, kAgeBuckets> kAgeShares = {0.16, 0.30, 0.24, 0.15, 0.10, 0.05};
constexpr std::array<const char*, kGenders> kGenderNames = {"f", "m", "u"};
constexpr std::array<double, kGenders> kGenderShares = {0.55, 0.40, 0.05};
constexpr std::array<double, kLevels> kLevelShares = {0.35, 0.30, 0.20, 0.10, 0.05};
constexpr std::array<const char*, kDevices> kDeviceNames = {"ios", "android", "web"};
constexpr std::array<double, kDevices> kDeviceShares = {0.40, 0.45, 0.15};
// A session is on the user's usual device this often.
constexpr double kUsualDeviceShare = 0.85;

// Mean rates the intercepts are solved for: click per impression, cart and purchase per click.
constexpr double kTargetClickRate = 0.065;
constexpr double kTargetCartGivenClick = 0.28;
constexpr double kTargetPurchaseGivenClick = 0.20;

// Click logit terms. Id-level residuals stay small: a model sees ~40 rows per user, too few to learn more.
constexpr double kUserBiasSd = 0.05;
constexpr double kItemBiasSd = 0.05;
constexpr double kAgeClickSd = 0.25;
constexpr double kGenderClickSd = 0.1;
constexpr double kCityClickSd = 0.3;
constexpr double kLevelClickSlope = 0.08;
constexpr double kCategoryClickSd = 0.6;
constexpr double kBrandClickSd = 0.5;
constexpr std::array<double, kDevices> kDeviceClick = {0.10, 0.0, -0.15};
constexpr double kHourClickAmplitude = 0.2;  // evening peak at 21h
constexpr double kPriceClick = -0.3;         // per unit of log price
constexpr double kRatingClick = 0.5;        // per star
constexpr double kNewItemClick = 0.15;       // novelty of items without a rating
constexpr double kSalesClick = 0.12;         // per unit of log1p(sales)
constexpr double kActivityClick = 0.1;       // per unit of log1p(activity)
constexpr double kPositionClick = -0.8;      // per unit of log(position)
// A membership test (item category among the recent ones) is a product of two inputs, which an MLP over
// concatenated embeddings learns poorly; kept moderate so that the oracle stays within a model's reach.
constexpr double kRecentMatchClick = 0.15;   // item category among the row's recent categories
constexpr double kTasteClick = 0.15;          // the user's latent taste for the item's category
constexpr double kLatentClick = 0.02;        // user x item dot product: small, hardly learnable from few rows
constexpr double kBaitClick = 0.6;           // times selection_bias
// Shares of the clickbait variance (sd 1) that come from the category, the brand and the item itself. Mostly
// category and brand, which a model sees often; few rows per item leave an item's own share hard to learn.
constexpr double kCategoryBaitShare = 0.5;
constexpr double kItemBaitShare = 0.05;

// Purchase|click own drivers (mixed with the click drivers by task_correlation).
constexpr double kPropensitySd = 0.05;
constexpr double kLevelPurchaseSlope = 0.1;
constexpr double kBrandQualitySd = 0.5;
constexpr double kItemQualityPurchase = 0.05;
constexpr double kRatingPurchase = 0.8;
constexpr double kNewItemPurchase = -0.3;  // no reviews to reassure the buyer
constexpr std::array<double, kDevices> kDevicePurchase = {0.15, 0.0, 0.10};
constexpr double kNightPurchase = -0.15;  // 0h-5h browsing converts less
// Price sensitivity = base + per level below the middle + per age bucket below the middle.
constexpr double kPriceSensitivity = 0.7;
constexpr double kPriceSensitivityLevel = 0.12;
constexpr double kPriceSensitivityAge = 0.05;
constexpr double kPurchaseScale = 0.9;  // sd of the mixed purchase|click drivers in logits
constexpr double kBaitPurchase = 0.8;   // times selection_bias
// Selection on an unobserved factor: each impression's intent z ~ N(0, 1), never written, raises both the click
// and the purchase|click logit (times selection_unobserved). Clicked rows then carry more intent than the
// impressions they came from, whatever the observed features, so p(purchase | click, x) learnt from clicks is
// above p(purchase | do(click), x) on all impressions.
constexpr double kIntentClick = 1.0;
constexpr double kIntentPurchase = 1.0;

// Cart|click: mostly the purchase|click drivers; carts also park expensive items.
constexpr double kCartShare = 0.7;
constexpr double kCartPrice = 0.25;
constexpr std::array<double, kDevices> kDeviceCart = {0.0, 0.0, 0.2};
// How often cart and purchase share one uniform draw (most purchases go through the cart); the marginals hold
// either way.
constexpr double kCartPurchaseCoupling = 0.7;

// Exposure: candidate weights are exp(selection_bias x kExposureSharpness x click affinity).
constexpr double kExposureSharpness = 1.5;
// Recent categories come from the user's taste this often, otherwise from anywhere.
constexpr double kRecentFromTaste = 0.85;
constexpr double kTasteSharpness = 1.5;
constexpr double kSegmentTasteSd = 0.6;
constexpr double kIndividualTasteSd = 0.2;

// Items.
constexpr double kNewItemShare = 0.05;   // new items have no rating yet (empty item_rating)
constexpr double kNewItemPopularity = -0.5;
constexpr double kPopularitySd = 1.0;
constexpr double kReferenceLogPrice = 3.3;  // about 27 currency units
constexpr double kReferenceRating = 4.1;
constexpr double kReferenceLogSales = 3.0;
constexpr double kReferenceLogActivity = 2.3;
constexpr double kCheapPrice = 20.0;  // cheaper items sell in larger quantities
constexpr std::array<double, 3> kCheapQuantityShares = {0.55, 0.30, 0.15};
constexpr std::array<double, 3> kQuantityShares = {0.80, 0.15, 0.05};

// Daily partitions (days > 0): the world drifts from one day to the next, the faster the higher drift is. Rows and
// sizes are per day; the defaults make a 30-day run of 1.2M impressions.
constexpr int64_t kDefaultRowsPerDay = 40000;
constexpr int64_t kMinDays = 3;  // a day each for train.csv, valid.csv and test.csv
constexpr int64_t kMaxDays = 3650;
// At 0.5, on days 20-30 of a 30-day run, the default model trained on days 1-7 scores 0.03-0.035 click AUC below
// one trained on days 1-19, and 0.04-0.05 below one trained on days 13-19 (docs/simulator.md).
constexpr double kDefaultDrift = 0.5;
constexpr int64_t kRowsPerItem = 8;  // items on sale by default: a day's rows / this
constexpr int64_t kRowsPerUser = 4;  // users there on day 1 by default: a day's rows / this
// Mean days an item stays on sale and a user stays active: these / drift (40 and 60 at the default drift), each
// life drawn uniformly within +-50% of its mean, at least kMinLifeDays.
constexpr double kItemLifeDays = 20;
constexpr double kUserLifeDays = 30;
constexpr int64_t kMinLifeDays = 7;
// A launched item shows no rating (and acts as new) until it has been on sale this many days.
constexpr int64_t kRatingDays = 5;
// Log popularity over an item's life: a ramp from -kLaunchRampDepth to 0 over its first kLaunchRampDays, a fall
// of kFadeDepth spread over its life (the newest items are the most shown), and a random walk of daily steps of
// sd kWalkSd x sqrt(drift) while on sale.
constexpr double kLaunchRampDepth = 1.0;
constexpr double kLaunchRampDays = 5;
constexpr double kFadeDepth = 1.5;
constexpr double kWalkSd = 0.15;
constexpr double kSalesWindowDays = 30;  // item_sales counts the last 30 days: fewer for a younger item
// The season: category effects, brand effects and segment tastes turn from their day-1 values towards an
// independent draw of the same spread, by an angle of drift x 2 pi x (day - 1) / kSeasonDays; a quarter turn (other
// tastes altogether) takes 15 days at drift 1, 30 at the default 0.5. Turning keeps each effect's variance, so the
// oracle stays as strong.
constexpr double kSeasonDays = 60;
// Summary: the share of the last day's impressions on items launched from this day on (after the first week).
constexpr int32_t kLateLaunchDay = 8;
// The second, small market (market_share > 0): the same catalogue and feature meanings, its own users (ids bu0,
// bu1, ...), category effects turned by a further kMarketAngle towards a draw of its own and brand effects and
// segment tastes by kMarketTasteAngle (what it shares is most of what a model learns from many rows), more
// price-sensitive users, and item popularity partly of its own.
constexpr double kMarketAngle = 0.5;        // category effects: a correlation of cos(0.5) = 0.88 with market a's
constexpr double kMarketTasteAngle = 0.15;  // brand effects and segment tastes
constexpr double kMarketPriceSensitivity = 0.3;
constexpr double kMarketPopularitySd = 0.8;
constexpr double kMaxMarketShare = 0.5;
constexpr int64_t kMinMarketRowsPerDay = 10;
constexpr std::array<const char*, 2> kMarketNames = {"a", "b"};
constexpr std::array<const char*, 2> kMarketUserPrefixes = {"u", "bu"};
// Scenarios (scenarios > 0, a snapshot): pages or sites that share users and catalogue but not tastes. Scenario
// k (from 0) gets a share of the rows proportional to kScenarioShareRatio^k, so the last is the smallest; every
// scenario after the first turns the category effects by kScenarioAngle and brand effects and segment tastes by
// kScenarioTasteAngle, each towards a draw of its own, and moves every user's price sensitivity by its own
// N(0, kScenarioPriceSensitivitySd).
constexpr int64_t kMaxScenarios = 8;
constexpr size_t kMinScenarioRows = 100;  // the smallest scenario's, so that each split is likely to hold some
constexpr double kScenarioShareRatio = 0.5;
constexpr double kScenarioAngle = 0.9;       // category effects: a correlation of cos(0.9) = 0.62 with scenario 1's
constexpr double kScenarioTasteAngle = 0.5;  // brand effects and segment tastes: 0.88
constexpr double kScenarioPriceSensitivitySd = 0.3;

// Independent random streams, so that adding draws to one part leaves the others unchanged.
enum class Stream : uint64_t {
  kEffects = 1,
  kUsers,
  kItems,
  kSessionLengths,
  kSessions,
  kLabels,
  kShuffle,
  // Daily partitions only.
  kSeason,
  kItemLives,
  kUserLives,
  kPopularityWalk,
  kMarket,
  kDays,
  // selection_unobserved > 0 only: each impression's unobserved intent.
  kIntent,
  // scenarios > 0 only: each scenario's tastes, price sensitivity shift and impressions.
  kScenarioTastes,
  kScenarioPrice,
  kScenarioImpressions,
};

uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t index = 0) {
  return SimulatorStreamSeed(seed, static_cast<uint64_t>(stream), index);
}

// Index drawn from cumulative weights (the last entry is the total).
size_t DrawCumulative(Rng& rng, const std::vector<double>& cumulative) {
  const double u = rng.Uniform() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return std::min(static_cast<size_t>(it - cumulative.begin()), cumulative.size() - 1);
}

std::vector<double> Cumulative(const std::vector<double>& weights) {
  std::vector<double> cumulative(weights.size());
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) cumulative[i] = total += weights[i];
  return cumulative;
}

// Effects shared by all users and items; they differ between seeds like everything else.
struct Effects {
  std::array<double, kAgeBuckets> age_click{};
  std::array<double, kGenders> gender_click{};
  std::array<double, kCities> city_click{};
  std::array<double, kCategories> category_click{};
  std::array<double, kCategories> category_log_price{};
  std::array<double, kBrands> brand_click{};
  std::array<double, kBrands> brand_quality{};
  std::array<double, kCategories> category_bait{};
  std::array<double, kBrands> brand_bait{};
  std::array<double, kBrands> brand_log_price{};
  std::array<double, kHours> hour_click{};
  std::array<std::array<double, kCategories>, kSegments> segment_taste{};
  std::vector<double> city_cumulative;      // city sizes fall off like a Zipf law
  std::vector<double> hour_cumulative;      // traffic by hour of day
  std::vector<double> category_cumulative;  // items per category
};

Effects MakeEffects(uint64_t seed) {
  Rng rng(StreamSeed(seed, Stream::kEffects));
  Effects e;
  for (auto& v : e.age_click) v = kAgeClickSd * rng.Normal();
  for (auto& v : e.gender_click) v = kGenderClickSd * rng.Normal();
  for (auto& v : e.city_click) v = kCityClickSd * rng.Normal();
  for (auto& v : e.category_click) v = kCategoryClickSd * rng.Normal();
  for (auto& v : e.category_log_price) v = 2.0 + 2.6 * rng.Uniform();  // median prices from 7 to 100
  for (auto& v : e.brand_click) v = kBrandClickSd * rng.Normal();
  for (auto& v : e.brand_quality) v = kBrandQualitySd * rng.Normal();
  for (auto& v : e.category_bait) v = rng.Normal();
  for (auto& v : e.brand_bait) v = rng.Normal();
  for (auto& v : e.brand_log_price) v = 0.25 * rng.Normal();
  for (auto& segment : e.segment_taste) {
    for (auto& v : segment) v = kSegmentTasteSd * rng.Normal();
  }
  std::vector<double> weights(kCities);
  for (int c = 0; c < kCities; ++c) weights[c] = 1.0 / std::pow(c + 1.0, 0.8);
  e.city_cumulative = Cumulative(weights);
  weights.assign(kHours, 0);
  for (int h = 0; h < kHours; ++h) {
    const double phase = 2 * M_PI * (h - 21) / kHours;
    e.hour_click[h] = kHourClickAmplitude * std::cos(phase);
    weights[h] = h < 6 ? 0.3 : 1.0 + 0.6 * std::cos(phase);  // quiet nights, busy evenings
  }
  e.hour_cumulative = Cumulative(weights);
  weights.assign(kCategories, 0);
  for (int c = 0; c < kCategories; ++c) weights[c] = 1.0 / std::sqrt(c + 1.0);
  e.category_cumulative = Cumulative(weights);
  return e;
}

struct User {
  uint8_t age = 0;
  uint8_t gender = 0;
  uint8_t level = 0;  // 0..4, shown as lv1..lv5
  uint8_t device = 0;
  uint16_t city = 0;
  int32_t activity = 0;       // sessions in the last 30 days
  double click_static = 0;    // the click terms that depend on the user only
  double purchase_static = 0;  // the purchase|click terms that depend on the user only
  double price_sensitivity = 0;
  std::array<float, kCategories> taste{};
  std::array<float, kLatentDim> latent{};
};

std::vector<User> MakeUsers(int64_t count, const Effects& e, uint64_t seed) {
  std::vector<User> users(static_cast<size_t>(count));
  ParallelFor(users.size(), [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) {
      Rng rng(StreamSeed(seed, Stream::kUsers, i));
      User& u = users[i];
      u.age = static_cast<uint8_t>(DrawShares(rng, kAgeShares));
      u.gender = static_cast<uint8_t>(DrawShares(rng, kGenderShares));
      u.level = static_cast<uint8_t>(DrawShares(rng, kLevelShares));
      u.device = static_cast<uint8_t>(DrawShares(rng, kDeviceShares));
      u.city = static_cast<uint16_t>(DrawCumulative(rng, e.city_cumulative));
      u.activity = static_cast<int32_t>(std::lround(std::exp(1.6 + 0.25 * u.level + 0.6 * rng.Normal())));
      u.click_static = kUserBiasSd * rng.Normal() + e.age_click[u.age] + e.gender_click[u.gender] +
                       e.city_click[u.city] + kLevelClickSlope * (u.level - 2) +
                       kActivityClick * (std::log1p(u.activity) - kReferenceLogActivity);
      u.purchase_static = kPropensitySd * rng.Normal() + kLevelPurchaseSlope * (u.level - 2);
      u.price_sensitivity =
          kPriceSensitivity + kPriceSensitivityLevel * (2 - u.level) + kPriceSensitivityAge * (2 - u.age);
      const auto& segment = e.segment_taste[u.age * kGenders + u.gender];
      for (int c = 0; c < kCategories; ++c) {
        u.taste[c] = static_cast<float>(segment[c] + kIndividualTasteSd * rng.Normal());
      }
      for (auto& v : u.latent) v = static_cast<float>(0.5 * rng.Normal());
    }
  });
  return users;
}

struct Item {
  uint8_t category = 0;
  uint16_t brand = 0;
  bool is_new = false;  // no rating yet
  double price = 0;     // rounded to cents, as written
  double log_price = 0;
  double rating = 0;    // one decimal, as written; unused when is_new
  int32_t sales = 0;    // units sold in the last 30 days
  double bait = 0;      // clickbait: raises clicks, lowers purchase|click (times selection_bias)
  double popularity = 0;
  double quality = 0;       // drives the rating, sales and purchases
  double bias = 0;          // the item's own click effect
  double sales_noise = 0;   // of its sales around what popularity and quality predict
  double click_static = 0;
  double purchase_static = 0;
  std::array<float, kLatentDim> latent{};
};

// The click and purchase|click terms that depend on the item only. A drifting world calls it again each day, with
// that day's sales, rating and category effects.
void SetItemStatics(Item& it, const Effects& e) {
  it.click_static = it.bias + e.category_click[it.category] + e.brand_click[it.brand] +
                    kPriceClick * (it.log_price - kReferenceLogPrice) +
                    (it.is_new ? kNewItemClick : kRatingClick * (it.rating - kReferenceRating)) +
                    kSalesClick * (std::log1p(it.sales) - kReferenceLogSales);
  it.purchase_static = e.brand_quality[it.brand] + kItemQualityPurchase * it.quality +
                       (it.is_new ? kNewItemPurchase : kRatingPurchase * (it.rating - kReferenceRating));
}

std::vector<Item> MakeItems(int64_t count, const Effects& e, uint64_t seed) {
  std::vector<Item> items(static_cast<size_t>(count));
  ParallelFor(items.size(), [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) {
      Rng rng(StreamSeed(seed, Stream::kItems, i));
      Item& it = items[i];
      it.category = static_cast<uint8_t>(DrawCumulative(rng, e.category_cumulative));
      // A Zipf-like brand share inside the category: the first brands are the big ones.
      const double brand_u = rng.Uniform();
      const int brand_rank = std::min(kBrandsPerCategory - 1, static_cast<int>(kBrandsPerCategory * brand_u * brand_u));
      it.brand = static_cast<uint16_t>(it.category * kBrandsPerCategory + brand_rank);
      it.is_new = rng.Bernoulli(kNewItemShare);
      it.quality = rng.Normal();
      const double quality = it.quality;
      it.popularity = kPopularitySd * rng.Normal() + (it.is_new ? kNewItemPopularity : 0.0);
      const double log_price = e.category_log_price[it.category] + e.brand_log_price[it.brand] + 0.5 * rng.Normal();
      it.price = std::max(0.99, std::round(std::exp(log_price) * 100) / 100);
      it.log_price = std::log(it.price);
      // Ratings reflect item and brand quality through noise; buyers see them, the truth uses them as shown.
      const double rating =
          kReferenceRating + 0.35 * quality + 0.7 * e.brand_quality[it.brand] + 0.3 * rng.Normal();
      it.rating = std::round(std::clamp(rating, 1.0, 5.0) * 10) / 10;
      it.sales_noise = rng.Normal();
      it.sales = it.is_new ? static_cast<int32_t>(rng.Below(4))
                           : static_cast<int32_t>(std::lround(std::exp(kReferenceLogSales + it.popularity +
                                                                       0.3 * quality + 0.3 * it.sales_noise)));
      it.bait = std::sqrt(kCategoryBaitShare) * e.category_bait[it.category] +
                std::sqrt(1 - kCategoryBaitShare - kItemBaitShare) * e.brand_bait[it.brand] +
                std::sqrt(kItemBaitShare) * rng.Normal();
      it.bias = kItemBiasSd * rng.Normal();
      for (auto& v : it.latent) v = static_cast<float>(0.5 * rng.Normal());
      SetItemStatics(it, e);
    }
  });
  return items;
}

struct Impression {
  int32_t user = 0;
  int32_t item = 0;
  uint8_t hour = 0;
  uint8_t device = 0;
  uint8_t position = 0;  // 1-based slot in the session's list
  uint8_t recent_count = 0;
  std::array<uint8_t, kMaxRecent> recent{};
  uint8_t scenario = 0;  // 0 without scenarios
  uint8_t quantity = 0;  // 0 unless purchased
  bool click = false;
  bool cart = false;
  bool purchase = false;
  double click_drivers = 0;     // click logit less intercept, position and clickbait
  double purchase_drivers = 0;  // purchase|click's own drivers
  double p_click = 0;
  double p_cart_given_click = 0;
  double p_purchase_given_click = 0;
};

double ClickDrivers(const User& u, const Item& it, int hour, int device, uint32_t recent_mask, const Effects& e) {
  double dot = 0;
  for (int k = 0; k < kLatentDim; ++k) dot += u.latent[k] * it.latent[k];
  return u.click_static + it.click_static + e.hour_click[hour] + kDeviceClick[device] +
         ((recent_mask >> it.category) & 1u ? kRecentMatchClick : 0.0) + kTasteClick * u.taste[it.category] +
         kLatentClick * dot;
}

double PurchaseDrivers(const User& u, const Item& it, int hour, int device) {
  return u.purchase_static + it.purchase_static - u.price_sensitivity * (it.log_price - kReferenceLogPrice) +
         kDevicePurchase[device] + (hour < 6 ? kNightPurchase : 0.0);
}

double ExpectedQuantity(double price) {
  const auto& shares = price < kCheapPrice ? kCheapQuantityShares : kQuantityShares;
  return shares[0] + 2 * shares[1] + 3 * shares[2];
}

// Fills one session's impressions: one user, hour, device and recent-category list, positions 1..L.
void MakeSession(Rng& rng, const SimulatorOptions& options, const Effects& e, const std::vector<User>& users,
                 const std::vector<double>& user_cumulative, const std::vector<Item>& items,
                 const std::vector<double>& item_cumulative, Impression* rows, int length) {
  const auto user_index = static_cast<int32_t>(DrawCumulative(rng, user_cumulative));
  const User& u = users[user_index];
  const auto hour = static_cast<uint8_t>(DrawCumulative(rng, e.hour_cumulative));
  const auto device =
      static_cast<uint8_t>(rng.Bernoulli(kUsualDeviceShare) ? u.device : DrawShares(rng, kDeviceShares));

  std::array<double, kCategories> taste_cumulative{};
  double total = 0;
  for (int c = 0; c < kCategories; ++c) taste_cumulative[c] = total += std::exp(kTasteSharpness * u.taste[c]);
  const int recent_target = 1 + static_cast<int>(rng.Below(kMaxRecent));
  std::array<uint8_t, kMaxRecent> recent{};
  int recent_count = 0;
  uint32_t recent_mask = 0;
  for (int attempt = 0; attempt < 4 * kMaxRecent && recent_count < recent_target; ++attempt) {
    int category;
    if (rng.Bernoulli(kRecentFromTaste)) {
      const double x = rng.Uniform() * total;
      category = static_cast<int>(std::upper_bound(taste_cumulative.begin(), taste_cumulative.end(), x) -
                                  taste_cumulative.begin());
      category = std::min(category, kCategories - 1);
    } else {
      category = static_cast<int>(rng.Below(kCategories));
    }
    if ((recent_mask >> category) & 1u) continue;
    recent_mask |= 1u << category;
    recent[recent_count++] = static_cast<uint8_t>(category);
  }

  const double exposure = options.selection_bias * kExposureSharpness;
  const double bait_click = options.selection_bias * kBaitClick;
  for (int slot = 0; slot < length; ++slot) {
    std::array<int32_t, kCandidates> candidates{};
    std::array<double, kCandidates> affinity{};
    double best = -std::numeric_limits<double>::infinity();
    for (int k = 0; k < kCandidates; ++k) {
      candidates[k] = static_cast<int32_t>(DrawCumulative(rng, item_cumulative));
      const Item& it = items[candidates[k]];
      affinity[k] = ClickDrivers(u, it, hour, device, recent_mask, e) + bait_click * it.bait;
      best = std::max(best, affinity[k]);
    }
    double weight_total = 0;
    std::array<double, kCandidates> weight_cumulative{};
    for (int k = 0; k < kCandidates; ++k) weight_cumulative[k] = weight_total += std::exp(exposure * (affinity[k] - best));
    const double x = rng.Uniform() * weight_total;
    int pick = static_cast<int>(std::upper_bound(weight_cumulative.begin(), weight_cumulative.end(), x) -
                                weight_cumulative.begin());
    pick = std::min(pick, kCandidates - 1);

    Impression& row = rows[slot];
    row.user = user_index;
    row.item = candidates[pick];
    row.hour = hour;
    row.device = device;
    row.position = static_cast<uint8_t>(slot + 1);
    row.recent_count = static_cast<uint8_t>(recent_count);
    row.recent = recent;
    const Item& it = items[row.item];
    row.click_drivers = affinity[pick] - bait_click * it.bait;
    row.purchase_drivers = PurchaseDrivers(u, it, hour, device);
  }
}

// count impressions drawn session by session (streams kSessionLengths and kSessions of seed). More active users
// have more sessions; popular items are more often candidates.
std::vector<Impression> MakeImpressions(const SimulatorOptions& options, const Effects& effects,
                                        const std::vector<User>& users, const std::vector<Item>& items, size_t count,
                                        uint64_t seed) {
  std::vector<double> weights(users.size());
  for (size_t i = 0; i < users.size(); ++i) weights[i] = 1.0 + users[i].activity;
  const std::vector<double> user_cumulative = Cumulative(weights);
  weights.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) weights[i] = std::exp(items[i].popularity);
  const std::vector<double> item_cumulative = Cumulative(weights);

  // Session lengths first (one short sequential stream), so that sessions can then be filled in parallel.
  std::vector<size_t> session_start;
  {
    Rng rng(StreamSeed(seed, Stream::kSessionLengths));
    for (size_t at = 0; at < count; at += 1 + rng.Below(kMaxSessionLength)) session_start.push_back(at);
    session_start.push_back(count);
  }
  const size_t sessions = session_start.size() - 1;
  std::vector<Impression> rows(count);
  ParallelFor(sessions, [&](size_t begin, size_t end, int) {
    for (size_t s = begin; s < end; ++s) {
      Rng rng(StreamSeed(seed, Stream::kSessions, s));
      MakeSession(rng, options, effects, users, user_cumulative, items, item_cumulative, &rows[session_start[s]],
                  static_cast<int>(session_start[s + 1] - session_start[s]));
    }
  });
  return rows;
}

// Turns each row's drivers into its true probabilities and draws its labels from them (stream kLabels of seed,
// one per row). The intercepts are solved over the rows given, so that their mean rates hit the targets.
void DrawLabels(const SimulatorOptions& options, const std::vector<Item>& items, uint64_t seed,
                std::vector<Impression>& rows) {
  const size_t rows_total = rows.size();
  // Mix the purchase|click drivers: rho x standardised click drivers + sqrt(1 - rho^2) x standardised own ones.
  double click_mean = 0, own_mean = 0;
  for (const auto& row : rows) {
    click_mean += row.click_drivers;
    own_mean += row.purchase_drivers;
  }
  click_mean /= rows_total;
  own_mean /= rows_total;
  double click_var = 0, own_var = 0;
  for (const auto& row : rows) {
    click_var += (row.click_drivers - click_mean) * (row.click_drivers - click_mean);
    own_var += (row.purchase_drivers - own_mean) * (row.purchase_drivers - own_mean);
  }
  const double click_sd = std::sqrt(click_var / rows_total) + 1e-12;
  const double own_sd = std::sqrt(own_var / rows_total) + 1e-12;
  const double rho = options.task_correlation;
  const double own_share = std::sqrt(1 - rho * rho);
  const double sb = options.selection_bias;
  const double su = options.selection_unobserved;

  std::vector<double> click_logit(rows_total), cart_logit(rows_total), purchase_logit(rows_total);
  for (size_t r = 0; r < rows_total; ++r) {
    const Impression& row = rows[r];
    const Item& it = items[row.item];
    // Drawn from a stream of its own, so that without it every other draw, hence every file, stays as it was.
    const double intent = su > 0 ? Rng(StreamSeed(seed, Stream::kIntent, r)).Normal() : 0.0;
    click_logit[r] = row.click_drivers + kPositionClick * std::log(row.position) + sb * kBaitClick * it.bait +
                     su * kIntentClick * intent;
    const double mixed = rho * (row.click_drivers - click_mean) / click_sd +
                         own_share * (row.purchase_drivers - own_mean) / own_sd;
    purchase_logit[r] = kPurchaseScale * mixed - sb * kBaitPurchase * it.bait + su * kIntentPurchase * intent;
    cart_logit[r] = kCartShare * kPurchaseScale * mixed + kCartPrice * (it.log_price - kReferenceLogPrice) +
                    kDeviceCart[row.device];
  }
  const double click_intercept = SolveIntercept(click_logit, {}, kTargetClickRate);
  std::vector<double> p_click(rows_total);
  for (size_t r = 0; r < rows_total; ++r) p_click[r] = Sigmoid(click_intercept + click_logit[r]);
  // Conditional rates are targets among clicks, so they are weighted by the click probability.
  const double cart_intercept = SolveIntercept(cart_logit, p_click, kTargetCartGivenClick);
  const double purchase_intercept = SolveIntercept(purchase_logit, p_click, kTargetPurchaseGivenClick);

  ParallelFor(rows_total, [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      Impression& row = rows[r];
      row.p_click = p_click[r];
      row.p_cart_given_click = Sigmoid(cart_intercept + cart_logit[r]);
      row.p_purchase_given_click = Sigmoid(purchase_intercept + purchase_logit[r]);
      Rng rng(StreamSeed(seed, Stream::kLabels, r));
      const double click_u = rng.Uniform();
      const double cart_u = rng.Uniform();
      const double purchase_u = rng.Bernoulli(kCartPurchaseCoupling) ? cart_u : rng.Uniform();
      const double quantity_u = rng.Uniform();
      row.click = click_u < row.p_click;
      row.cart = row.click && cart_u < row.p_cart_given_click;
      row.purchase = row.click && purchase_u < row.p_purchase_given_click;
      if (row.purchase) {
        const double price = items[row.item].price;
        const auto& shares = price < kCheapPrice ? kCheapQuantityShares : kQuantityShares;
        row.quantity = quantity_u < shares[0] ? 1 : quantity_u < shares[0] + shares[1] ? 2 : 3;
      }
    }
  });
}

// How rows name their users and items. A day of a drifting world holds only the users and items alive that day,
// so its rows index those, and the ids map them back to the run's numbering.
struct RowNames {
  std::string lead;                                 // written before user_id: a day's "day,market," values
  const char* user_prefix = "u";                    // each market numbers its own users
  const std::vector<int32_t>* user_ids = nullptr;  // null: the index is the id
  const std::vector<int32_t>* item_ids = nullptr;
  bool scenario = false;                            // write each row's scenario first, s1, s2, ...
};

std::string FormatRows(const std::vector<Impression>& rows, const std::vector<size_t>& order, size_t begin,
                       size_t end, const std::vector<User>& users, const std::vector<Item>& items,
                       const RowNames& names) {
  fmt::memory_buffer out;
  out.reserve((end - begin) * 160);
  auto dst = fmt::appender(out);
  for (size_t r = begin; r < end; ++r) {
    const Impression& row = rows[order[r]];
    const User& u = users[row.user];
    const Item& it = items[row.item];
    const int32_t user_id = names.user_ids == nullptr ? row.user : (*names.user_ids)[row.user];
    const int32_t item_id = names.item_ids == nullptr ? row.item : (*names.item_ids)[row.item];
    if (names.scenario) fmt::format_to(dst, "s{},", row.scenario + 1);
    fmt::format_to(dst, "{}{}{},{},{},city{},lv{},i{},c{},b{},h{},{},{:.2f},", names.lead, names.user_prefix, user_id,
                   kAgeNames[u.age], kGenderNames[u.gender], u.city, u.level + 1, item_id, it.category, it.brand,
                   row.hour, kDeviceNames[row.device], it.price);
    if (!it.is_new) fmt::format_to(dst, "{:.1f}", it.rating);
    fmt::format_to(dst, ",{},{},{},", it.sales, u.activity, row.position);
    for (int k = 0; k < row.recent_count; ++k) fmt::format_to(dst, "{}c{}", k == 0 ? "" : "|", row.recent[k]);
    const double p_cart = row.p_click * row.p_cart_given_click;
    const double p_purchase = row.p_click * row.p_purchase_given_click;
    const double expected_gmv = p_purchase * it.price * ExpectedQuantity(it.price);
    fmt::format_to(dst, ",{},{},{},{:.2f},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", row.click ? 1 : 0,
                   row.cart ? 1 : 0, row.purchase ? 1 : 0, it.price * row.quantity, row.p_click, p_cart,
                   p_purchase, row.p_purchase_given_click, expected_gmv);
  }
  return fmt::to_string(out);
}

constexpr const char* kHeader =
    "user_id,age_bucket,gender,city,user_level,item_id,category,brand,hour,device,price,item_rating,item_sales,"
    "user_activity,position,recent_categories,click,cart,purchase,gmv,p_click,p_cart,p_purchase,"
    "p_purchase_given_click,expected_gmv\n";

std::string FormatSplit(const std::vector<Impression>& rows, const std::vector<size_t>& order, size_t begin,
                        size_t end, const std::vector<User>& users, const std::vector<Item>& items, bool scenarios) {
  const std::string header = scenarios ? std::string("scenario,") + kHeader : std::string(kHeader);
  return FormatRowsInBlocks(header, begin, end, [&](size_t first, size_t last) {
    return FormatRows(rows, order, first, last, users, items, RowNames{.lead = "", .scenario = scenarios});
  });
}

// about: the opening comment, one or more "# " lines. market: declare the market column as a feature.
std::string FormatConfig(const SimulatorOptions& options, const std::string& about, bool market, int epochs) {
  std::string out = about + "\n";
  auto dst = std::back_inserter(out);
  out += kSimulatorConfigData;
  struct Categorical {
    const char* name;
    int min_count;
    const char* what;
    bool id = false;  // a user or item id: its embeddings get kConfigIdEmbeddingL2
  };
  std::vector<Categorical> categoricals = {
      {"user_id", 2,
       "Users; ids seen once share the out-of-vocabulary row, an L2 penalty keeps the rest from memorising.", true},
      {"age_bucket", 1, "User age range."},
      {"gender", 1, "User gender: f, m or u (unknown)."},
      {"city", 1, "User city; a few large cities and a long tail."},
      {"user_level", 1, "Membership level lv1..lv5; higher levels are less price sensitive."},
      {"item_id", 2,
       "Items; ids seen once share the out-of-vocabulary row, an L2 penalty keeps the rest from memorising.", true},
      {"category", 1, "Item category; taste interactions go through it."},
      {"brand", 1, "Item brand; brands differ in appeal, quality and clickbait."},
      {"hour", 1, "Hour of the impression, h0..h23."},
      {"device", 1, "ios, android or web."},
  };
  if (market) categoricals.push_back({"market", 1, "Market: a (the big one) or b (the small one, other tastes)."});
  if (options.scenarios > 0) {
    categoricals.insert(categoricals.begin(),
                        {"scenario", 1,
                         "Scenario (a page or site): s1 the largest; each later one has half the rows of the one "
                         "before and tastes of its own."});
  }
  for (const auto& c : categoricals) {
    fmt::format_to(dst, "\n# {}\n[[features]]\nname = \"{}\"\nkind = \"categorical\"\nmin_count = {}\n", c.what,
                   c.name, c.min_count);
    if (c.id) fmt::format_to(dst, "embedding_l2 = {}\n", kConfigIdEmbeddingL2);
  }
  struct Numeric {
    const char* name;
    bool log1p;
    const char* what;
  };
  const Numeric numerics[] = {
      {"price", true, "Item price; effects are smooth in log price."},
      {"item_rating", false, "Item rating 1-5; empty for new items, which act differently: filled and flagged."},
      {"item_sales", true, "Units the item sold in the last 30 days."},
      {"user_activity", true, "Sessions of the user in the last 30 days."},
      {"position", false, "Slot in the list; lower slots get fewer clicks."},
  };
  for (const auto& n : numerics) {
    fmt::format_to(dst, "\n# {}\n[[features]]\nname = \"{}\"\nkind = \"numeric\"\n", n.what, n.name);
    if (n.log1p) fmt::format_to(dst, "log1p = true\n");
  }
  fmt::format_to(dst,
                 "\n# Categories the user browsed recently; an item of one of them is far more likely to be clicked.\n"
                 "[[features]]\nname = \"recent_categories\"\nkind = \"multi_categorical\"\nseparator = \"|\"\n"
                 "pooling = \"mean\"\n");
  struct Task {
    const char* name;
    const char* kind;
    const char* loss;
    double weight;
    const char* oracle;
    const char* parent;
    const char* oracle_given_parent;
    const char* what;
  };
  const Task tasks[] = {
      {"click", "binary", nullptr, kConfigClickWeight, "p_click", nullptr, nullptr, "Click per impression."},
      {"cart", "binary", nullptr, kConfigCartWeight, "p_cart", "click", nullptr,
       "Add to cart per impression; only after a click: p(cart) = p(click) x p(cart | click)."},
      {"purchase", "binary", nullptr, kConfigPurchaseWeight, "p_purchase", "click", "p_purchase_given_click",
       "Purchase per impression; only after a click: p(purchase) = p(click) x p(purchase | click)."},
      {"gmv", "regression", "mse", kConfigGmvWeight, "expected_gmv", nullptr, nullptr,
       "Revenue per impression: price x quantity when purchased, else 0."},
  };
  for (const auto& t : tasks) {
    fmt::format_to(dst, "\n# {}\n[[tasks]]\nname = \"{}\"\nkind = \"{}\"\n", t.what, t.name, t.kind);
    if (t.loss != nullptr) fmt::format_to(dst, "loss = \"{}\"\n", t.loss);
    fmt::format_to(dst, "weight = {}\noracle = \"{}\"\n", t.weight, t.oracle);
    if (t.parent != nullptr) fmt::format_to(dst, "parent = \"{}\"\nmode = \"chain\"\n", t.parent);
    if (t.oracle_given_parent != nullptr) fmt::format_to(dst, "oracle_given_parent = \"{}\"\n", t.oracle_given_parent);
  }
  fmt::format_to(dst,
                 "\n# A shared-bottom network over the feature embeddings, one tower per task.\n"
                 "[model]\n"
                 "arch = \"shared_bottom\"\n"
                 "embedding_dim = {}\n"
                 "bottom = {}\n"
                 "tower = {}\n"
                 "dropout = {}\n",
                 kConfigEmbeddingDim, kConfigBottom, kConfigTower, kConfigDropout);
  fmt::format_to(dst,
                 "\n# Optimisation: Adam for dense weights, row-wise Adagrad for embeddings, both rates on a cosine to\n"
                 "# 5% of their start.\n");
  out += SimulatorConfigTrain(epochs, kConfigBatchSize, kConfigLr, kConfigEmbeddingLr);
  fmt::format_to(dst,
                 "lr_schedule = \"{}\"\n"
                 "final_lr_ratio = {}\n"
                 "seed = {}\n",
                 kConfigLrSchedule, kConfigFinalLrRatio, options.seed);
  fmt::format_to(dst,
                 "\n# Evaluation per user: GAUC, and NDCG / recall / GMV share in the top k of each user's impressions\n"
                 "# ranked by the blended score below.\n"
                 "[eval]\n"
                 "group_by = \"user_id\"\n");
  if (options.scenarios > 0) out += "# Every task's metrics per scenario as well.\nslice_by = \"scenario\"\n";
  fmt::format_to(dst,
                 "\n# The ranking score of the server and of eval's ranking metrics: a purchase counts three clicks.\n"
                 "[serve]\n"
                 "blend = {{ click = 1, purchase = 3 }}\n");
  return out;
}

// Where tastes turn to: over the season, in the second market and in each scenario after the first.
struct TasteShift {
  std::array<double, kCategories> category_click{};
  std::array<double, kBrands> brand_click{};
  std::array<std::array<double, kCategories>, kSegments> segment_taste{};
};

TasteShift MakeTasteShift(uint64_t seed, Stream stream = Stream::kSeason, uint64_t index = 0) {
  Rng rng(StreamSeed(seed, stream, index));
  TasteShift shift;
  for (auto& v : shift.category_click) v = kCategoryClickSd * rng.Normal();
  for (auto& v : shift.brand_click) v = kBrandClickSd * rng.Normal();
  for (auto& segment : shift.segment_taste) {
    for (auto& v : segment) v = kSegmentTasteSd * rng.Normal();
  }
  return shift;
}

// values turned by `angle` towards towards's: about their mean, cos x their deviations + sin x the part of
// towards' deviations orthogonal to them, scaled to the same length, with means and inner products weighted by
// weights. So the mean and the spread of the values stay exactly what they were whatever the angle (a quarter turn:
// an unrelated pattern of the same strength), and the oracle stays as strong.
template <size_t N>
std::array<double, N> Turn(const std::array<double, N>& values, const std::array<double, N>& towards, double angle,
                           const std::array<double, N>& weights) {
  if (angle == 0) return values;
  const auto dot = [&](const std::array<double, N>& x, const std::array<double, N>& y) {
    double sum = 0;
    for (size_t k = 0; k < N; ++k) sum += weights[k] * x[k] * y[k];
    return sum;
  };
  std::array<double, N> ones;
  ones.fill(1.0);
  const double total = dot(ones, ones);
  const double mean = dot(values, ones) / total;
  const double towards_mean = dot(towards, ones) / total;
  std::array<double, N> d, u;
  for (size_t k = 0; k < N; ++k) {
    d[k] = values[k] - mean;
    u[k] = towards[k] - towards_mean;
  }
  const double dd = dot(d, d);
  const double du = dot(d, u);
  if (dd == 0) return values;
  for (size_t k = 0; k < N; ++k) u[k] -= du / dd * d[k];
  const double uu = dot(u, u);
  const double c = std::cos(angle);
  const double s = uu > 0 ? std::sin(angle) * std::sqrt(dd / uu) : 0.0;
  std::array<double, N> turned;
  for (size_t k = 0; k < N; ++k) turned[k] = mean + c * d[k] + s * u[k];
  return turned;
}

// The effects with category effects turned by category_angle towards shift's (weighted by the categories' shares
// of the items: the traffic they get), brand effects and each segment's tastes by taste_angle.
Effects TurnTastes(const Effects& e, const TasteShift& shift, double category_angle, double taste_angle) {
  std::array<double, kCategories> category_shares;
  for (int c = 0; c < kCategories; ++c) {
    category_shares[c] = e.category_cumulative[c] - (c == 0 ? 0.0 : e.category_cumulative[c - 1]);
  }
  std::array<double, kBrands> brand_ones;
  brand_ones.fill(1.0);
  std::array<double, kCategories> category_ones;
  category_ones.fill(1.0);
  Effects turned = e;
  turned.category_click = Turn(e.category_click, shift.category_click, category_angle, category_shares);
  turned.brand_click = Turn(e.brand_click, shift.brand_click, taste_angle, brand_ones);
  for (int g = 0; g < kSegments; ++g) {
    turned.segment_taste[g] = Turn(e.segment_taste[g], shift.segment_taste[g], taste_angle, category_ones);
  }
  return turned;
}

std::string SnapshotAbout(const SimulatorOptions& options) {
  return fmt::format("# Simulated e-commerce impressions written by `mtrec simulate` (preset {}, seed {}, {} rows).\n",
                     options.preset, options.seed, options.rows);
}

void CheckPreset(const SimulatorOptions& options) {
  const auto presets = KnownSimulatorPresets();
  if (std::find(presets.begin(), presets.end(), options.preset) == presets.end()) {
    Fail("simulate: unknown preset '{}'{}; known presets: {}", options.preset,
         DidYouMeanSuffix(options.preset, presets), QuotedList(presets));
  }
}

void CheckOptions(const SimulatorOptions& options) {
  MTREC_CHECK(options.rows >= kMinSimulatorRows,
              "simulate: rows must be 0 (the preset's default) or at least {}, found {}", kMinSimulatorRows,
              options.rows);
  MTREC_CHECK(options.users >= 0 && options.users <= std::numeric_limits<int32_t>::max(),
              "simulate: users must be 0 (automatic) or a positive count below 2^31, found {}", options.users);
  MTREC_CHECK(options.items >= 0 && options.items <= std::numeric_limits<int32_t>::max(),
              "simulate: items must be 0 (automatic) or a positive count below 2^31, found {}", options.items);
  MTREC_CHECK(options.task_correlation >= 0 && options.task_correlation <= 1,
              "simulate: task_correlation must be in [0, 1], found {}", options.task_correlation);
  MTREC_CHECK(options.selection_bias >= 0 && options.selection_bias <= 1,
              "simulate: selection_bias must be in [0, 1], found {}", options.selection_bias);
  MTREC_CHECK(options.selection_unobserved >= 0 && options.selection_unobserved <= 1,
              "simulate: selection_unobserved must be in [0, 1], found {}", options.selection_unobserved);
  MTREC_CHECK(options.scenarios == 0 || (options.scenarios >= 2 && options.scenarios <= kMaxScenarios),
              "simulate: scenarios must be 0 (none) or in [2, {}], found {}", kMaxScenarios, options.scenarios);
}

// Each scenario's rows: kScenarioShareRatio^k of them for scenario k, the rounding left to the first.
std::vector<size_t> ScenarioRows(size_t rows, int64_t scenarios) {
  std::vector<double> shares(static_cast<size_t>(scenarios));
  double total = 0;
  for (size_t k = 0; k < shares.size(); ++k) total += shares[k] = std::pow(kScenarioShareRatio, k);
  std::vector<size_t> counts(shares.size());
  size_t assigned = 0;
  for (size_t k = 1; k < shares.size(); ++k) assigned += counts[k] = static_cast<size_t>(rows * shares[k] / total);
  counts[0] = rows - assigned;
  MTREC_CHECK(counts.back() >= kMinScenarioRows,
              "simulate: {} rows leave scenario s{} {} rows; {} scenarios need at least {} rows", rows, scenarios,
              counts.back(), scenarios, static_cast<size_t>(std::ceil(kMinScenarioRows * total)));
  return counts;
}

// Scenario k's impressions: its tastes (TurnTastes), the items' click terms under them, the users' tastes moved
// with their segment's and their price sensitivity by the scenario's own shift. Scenario 0 is the world as it is.
std::vector<Impression> MakeScenarioImpressions(const SimulatorOptions& options, const Effects& effects,
                                                const std::vector<User>& users, const std::vector<Item>& items,
                                                int64_t k, size_t count, uint64_t seed) {
  std::vector<Impression> rows;
  if (k == 0) {
    rows = MakeImpressions(options, effects, users, items, count, StreamSeed(seed, Stream::kScenarioImpressions, 0));
  } else {
    const Effects turned = TurnTastes(effects, MakeTasteShift(seed, Stream::kScenarioTastes, k), kScenarioAngle,
                                      kScenarioTasteAngle);
    std::vector<Item> scenario_items = items;
    for (Item& it : scenario_items) SetItemStatics(it, turned);
    std::vector<User> scenario_users = users;
    const double price_shift = kScenarioPriceSensitivitySd * Rng(StreamSeed(seed, Stream::kScenarioPrice, k)).Normal();
    for (User& u : scenario_users) {
      const auto& base = effects.segment_taste[u.age * kGenders + u.gender];
      const auto& now = turned.segment_taste[u.age * kGenders + u.gender];
      for (int c = 0; c < kCategories; ++c) u.taste[c] += static_cast<float>(now[c] - base[c]);
      u.price_sensitivity += price_shift;
    }
    rows = MakeImpressions(options, turned, scenario_users, scenario_items, count,
                           StreamSeed(seed, Stream::kScenarioImpressions, k));
  }
  for (Impression& row : rows) row.scenario = static_cast<uint8_t>(k);
  return rows;
}

SimulatorSummary SimulateEcommerce(const SimulatorOptions& requested, const std::string& out_dir) {
  SimulatorOptions options = requested;
  if (options.rows == 0) options.rows = kDefaultRows;
  CheckOptions(options);
  const SimulatorSplit split =
      SplitSimulatorRows(options.rows, options.valid_fraction.value_or(kDefaultSplitFraction),
                         options.test_fraction.value_or(kDefaultSplitFraction), "rows");
  const uint64_t seed = options.seed;
  const int64_t user_count = options.users > 0 ? options.users : std::max<int64_t>(100, options.rows / 40);
  const int64_t item_count = options.items > 0 ? options.items : std::max<int64_t>(50, options.rows / 100);
  const size_t rows_total = static_cast<size_t>(options.rows);

  const Effects effects = MakeEffects(seed);
  const std::vector<User> users = MakeUsers(user_count, effects, seed);
  const std::vector<Item> items = MakeItems(item_count, effects, seed);

  std::vector<Impression> rows;
  if (options.scenarios == 0) {
    rows = MakeImpressions(options, effects, users, items, rows_total, seed);
  } else {
    const std::vector<size_t> counts = ScenarioRows(rows_total, options.scenarios);
    for (int64_t k = 0; k < options.scenarios; ++k) {
      std::vector<Impression> part = MakeScenarioImpressions(options, effects, users, items, k, counts[k], seed);
      rows.insert(rows.end(), part.begin(), part.end());
    }
  }
  DrawLabels(options, items, seed, rows);

  // Deterministic shuffle so that sessions are spread over the three splits.
  const std::vector<size_t> order = ShuffledOrder(rows_total, StreamSeed(seed, Stream::kShuffle));

  SimulatorSummary summary;
  summary.train_rows = split.train;
  summary.valid_rows = split.valid;
  summary.test_rows = split.test;
  double gmv_total = 0;
  int64_t clicks = 0, carts = 0, purchases = 0;
  for (const auto& row : rows) {
    clicks += row.click;
    carts += row.cart;
    purchases += row.purchase;
    gmv_total += items[row.item].price * row.quantity;
  }
  summary.click_rate = static_cast<double>(clicks) / rows_total;
  summary.cart_rate = static_cast<double>(carts) / rows_total;
  summary.purchase_rate = static_cast<double>(purchases) / rows_total;
  summary.mean_gmv = gmv_total / rows_total;

  const size_t train_end = static_cast<size_t>(summary.train_rows);
  const size_t valid_end = train_end + static_cast<size_t>(summary.valid_rows);
  const bool scenarios = options.scenarios > 0;
  WriteSimulatorFiles(out_dir, {{"train.csv", FormatSplit(rows, order, 0, train_end, users, items, scenarios)},
                                {"valid.csv", FormatSplit(rows, order, train_end, valid_end, users, items, scenarios)},
                                {"test.csv", FormatSplit(rows, order, valid_end, rows_total, users, items, scenarios)},
                                {"config.toml", FormatConfig(options, SnapshotAbout(options), false, kConfigEpochs)}});
  return summary;
}

// Daily partitions with drift (days > 0).

// The days a user is active or an item on sale, both included; first <= 1 for those there on day 1.
struct Lifespan {
  int32_t first = 1;
  int32_t last = std::numeric_limits<int32_t>::max();
  bool Covers(int64_t day) const { return first <= day && day <= last; }
  int64_t Length() const { return int64_t{last} - first + 1; }
};

// How many arrive after day 1 so that about `initial` stay there: initial / mean_life a day.
int64_t Arrivals(int64_t initial, int64_t days, double mean_life) {
  return mean_life > 0 ? std::llround(static_cast<double>(initial) * static_cast<double>(days - 1) / mean_life) : 0;
}

// Lifespans of `initial` members there on day 1, then of `arriving` more spread evenly over days 2..days in id
// order (a later id never arrives earlier). A life lasts mean_life x U(0.5, 1.5) days, at least kMinLifeDays; a
// day-1 member is a uniform age into it, below kRatingDays when young[i] and at least kRatingDays otherwise (young
// empty: any age). mean_life 0: all there from day 1 for ever.
std::vector<Lifespan> MakeLifespans(int64_t initial, int64_t arriving, int64_t days, double mean_life,
                                    const std::vector<bool>& young, uint64_t seed, Stream stream) {
  std::vector<Lifespan> lives(static_cast<size_t>(initial + arriving));
  if (mean_life == 0) return lives;
  // Beyond any run's days: a tiny drift gives lives that outlast it, not ones that overflow.
  constexpr double kLongestLife = 100.0 * kMaxDays;
  for (size_t i = 0; i < lives.size(); ++i) {
    Rng rng(StreamSeed(seed, stream, i));
    const auto life = static_cast<int64_t>(
        std::max<double>(kMinLifeDays, std::round(std::min(kLongestLife, mean_life * (0.5 + rng.Uniform())))));
    int64_t first;
    if (static_cast<int64_t>(i) < initial) {
      const uint64_t age = young.empty() ? rng.Below(life)
                           : young[i]    ? rng.Below(kRatingDays)
                                         : kRatingDays + rng.Below(life - kRatingDays);
      first = 1 - static_cast<int64_t>(age);
    } else {
      first = 2 + (static_cast<int64_t>(i) - initial) * (days - 1) / arriving;
    }
    lives[i] = {static_cast<int32_t>(first), static_cast<int32_t>(first + life - 1)};
  }
  return lives;
}

// What lasts from day to day; each market's users are its own, the catalogue is shared.
struct DriftingWorld {
  double drift = 0;
  Effects effects;
  TasteShift season;
  TasteShift market_shift;
  std::vector<Item> items;  // popularity: the base that the life cycle, the walk and the market move
  std::vector<Lifespan> item_lives;
  std::vector<Rng> walk_rngs;
  std::vector<double> walk;               // each item's popularity walk so far
  std::vector<double> market_popularity;  // market b's own part of each item's popularity
  std::array<std::vector<User>, 2> users;
  std::array<std::vector<Lifespan>, 2> user_lives;
};

// One market's world on one day: the users and items there, with that day's tastes, popularity, sales and ratings.
struct DayWorld {
  Effects effects;
  std::vector<User> users;
  std::vector<int32_t> user_ids;  // the run's id of users[i]
  std::vector<Item> items;
  std::vector<int32_t> item_ids;
};

// The popularity walk's step into `day` of the items on sale on it and the day before.
void AdvanceWalks(DriftingWorld& world, int64_t day) {
  const double step = kWalkSd * std::sqrt(world.drift);
  for (size_t i = 0; i < world.items.size(); ++i) {
    if (world.item_lives[i].Covers(day) && world.item_lives[i].Covers(day - 1)) {
      world.walk[i] += step * world.walk_rngs[i].Normal();
    }
  }
}

DayWorld MakeDayWorld(const DriftingWorld& world, int market, int64_t day) {
  DayWorld today;
  const double season_angle = world.drift * 2 * M_PI * static_cast<double>(day - 1) / kSeasonDays;
  today.effects = TurnTastes(TurnTastes(world.effects, world.season, season_angle, season_angle), world.market_shift,
                             market == 1 ? kMarketAngle : 0.0, market == 1 ? kMarketTasteAngle : 0.0);
  const bool changed = world.drift > 0 || market == 1;
  for (size_t i = 0; i < world.items.size(); ++i) {
    const Lifespan& life = world.item_lives[i];
    if (!life.Covers(day)) continue;
    Item it = world.items[i];
    if (changed) {
      const auto age = static_cast<double>(day - life.first);
      double sales_window = 1;
      if (world.drift > 0) {
        it.is_new = age < kRatingDays;
        it.popularity += world.walk[i] - kLaunchRampDepth * std::max(0.0, 1 - age / kLaunchRampDays) -
                         kFadeDepth * age / static_cast<double>(life.Length());
        sales_window = std::min(1.0, (age + 1) / kSalesWindowDays);
      }
      if (market == 1) it.popularity += world.market_popularity[i];
      // A snapshot's new items keep their few sales: they have no history that popularity would explain.
      if (world.drift > 0 || !it.is_new) {
        it.sales = static_cast<int32_t>(std::lround(
            sales_window * std::exp(kReferenceLogSales + it.popularity + 0.3 * it.quality + 0.3 * it.sales_noise)));
      }
    }
    SetItemStatics(it, today.effects);
    today.items.push_back(it);
    today.item_ids.push_back(static_cast<int32_t>(i));
  }
  const std::vector<User>& users = world.users[market];
  for (size_t i = 0; i < users.size(); ++i) {
    if (!world.user_lives[market][i].Covers(day)) continue;
    User u = users[i];
    if (changed) {
      const auto& base = world.effects.segment_taste[u.age * kGenders + u.gender];
      const auto& now = today.effects.segment_taste[u.age * kGenders + u.gender];
      for (int c = 0; c < kCategories; ++c) u.taste[c] += static_cast<float>(now[c] - base[c]);
    }
    if (market == 1) u.price_sensitivity += kMarketPriceSensitivity;
    today.users.push_back(u);
    today.user_ids.push_back(static_cast<int32_t>(i));
  }
  MTREC_CHECK(!today.users.empty() && !today.items.empty(),
              "simulate: market {} has no {} on day {}; give more users and items, or a lower drift",
              kMarketNames[market], today.users.empty() ? "active user" : "item on sale", day);
  return today;
}

void CheckDayOptions(const SimulatorOptions& options) {
  MTREC_CHECK(options.days == 0 || (options.days >= kMinDays && options.days <= kMaxDays),
              "simulate: days must be 0 (one snapshot) or in [{}, {}] (daily partitions), found {}", kMinDays, kMaxDays,
              options.days);
  if (options.days == 0) {
    MTREC_CHECK(!options.drift.has_value(), "simulate: drift applies to daily partitions only: set days too");
    MTREC_CHECK(options.market_share == 0, "simulate: market_share applies to daily partitions only: set days too");
    return;
  }
  MTREC_CHECK(options.scenarios == 0,
              "simulate: scenarios apply to a snapshot; daily partitions have market_share for a second market");
  const double drift = options.drift.value_or(kDefaultDrift);
  MTREC_CHECK(drift >= 0 && drift <= 1, "simulate: drift must be in [0, 1], found {}", drift);
  MTREC_CHECK(options.market_share == 0 || (options.market_share > 0 && options.market_share <= kMaxMarketShare),
              "simulate: market_share must be 0 (one market) or in (0, {}], found {}", kMaxMarketShare,
              options.market_share);
}

std::string DayFileName(int64_t day, int64_t days) {
  const int width = std::max<int>(3, static_cast<int>(fmt::formatted_size("{}", days)));
  return fmt::format("day-{:0{}}.csv", day, width);
}

// Day files of an earlier, longer run into the same folder would read as days of this one.
void RemoveOtherDayFiles(const std::string& days_dir, int64_t days) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(days_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("day-") || !name.ends_with(".csv")) continue;
    bool ours = false;
    for (int64_t day = 1; day <= days && !ours; ++day) ours = name == DayFileName(day, days);
    if (!ours) fs::remove(entry.path(), error);
  }
}

std::string DaysAbout(const SimulatorOptions& options, int market, int64_t rows_per_day, double drift,
                      const SimulatorSplit& split) {
  const auto days = [](int64_t first, int64_t last) {
    return first == last ? fmt::format("day {}", first) : fmt::format("days {}-{}", first, last);
  };
  const int64_t valid_first = split.train + 1;
  const int64_t test_first = valid_first + split.valid;
  std::string about = fmt::format(
      "# Simulated e-commerce impressions written by `mtrec simulate` (preset {}, seed {}): {} days of {} rows{}, "
      "drift {}.\n# train.csv holds {}, valid.csv {}, test.csv {}; days/ holds one file a day.\n",
      options.preset, options.seed, options.days, rows_per_day,
      options.market_share > 0 ? fmt::format(" in market {}", kMarketNames[market]) : "", drift, days(1, split.train),
      split.valid > 0 ? days(valid_first, test_first - 1) : "no day",
      split.test > 0 ? days(test_first, options.days) : "no day");
  return about;
}

SimulatorSummary SimulateEcommerceDays(const SimulatorOptions& requested, const std::string& out_dir) {
  namespace fs = std::filesystem;
  SimulatorOptions options = requested;
  if (options.rows == 0) options.rows = kDefaultRowsPerDay;
  CheckOptions(options);
  CheckDayOptions(options);
  const int64_t days = options.days;
  const double drift = options.drift.value_or(kDefaultDrift);
  const SimulatorSplit split = SplitSimulatorRows(days, options.valid_fraction.value_or(1.0 / days),
                                                  options.test_fraction.value_or(1.0 / days), "days");
  const int64_t market_rows = std::llround(static_cast<double>(options.rows) * options.market_share);
  MTREC_CHECK(options.market_share == 0 || market_rows >= kMinMarketRowsPerDay,
              "simulate: market_share {} of {} rows a day leaves market b {} rows a day; it needs at least {}",
              options.market_share, options.rows, market_rows, kMinMarketRowsPerDay);
  const std::array<int64_t, 2> rows_per_day = {options.rows - market_rows, market_rows};
  const int markets = market_rows > 0 ? 2 : 1;
  const uint64_t seed = options.seed;
  const std::array<uint64_t, 2> market_seeds = {seed, StreamSeed(seed, Stream::kMarket)};

  DriftingWorld world;
  world.drift = drift;
  world.effects = MakeEffects(seed);
  world.season = MakeTasteShift(seed);
  world.market_shift = MakeTasteShift(market_seeds[1]);
  const int64_t item_count = options.items > 0 ? options.items : std::max<int64_t>(50, options.rows / kRowsPerItem);
  const double item_life = drift > 0 ? kItemLifeDays / drift : 0;
  const int64_t items_launched = Arrivals(item_count, days, item_life);
  world.items = MakeItems(item_count + items_launched, world.effects, seed);
  std::vector<bool> young(static_cast<size_t>(item_count));
  for (size_t i = 0; i < young.size(); ++i) young[i] = world.items[i].is_new;
  world.item_lives = MakeLifespans(item_count, items_launched, days, item_life, young, seed, Stream::kItemLives);
  world.walk.assign(world.items.size(), 0);
  for (size_t i = 0; i < world.items.size(); ++i) {
    world.walk_rngs.emplace_back(StreamSeed(seed, Stream::kPopularityWalk, i));
  }
  if (markets == 2) {
    for (size_t i = 0; i < world.items.size(); ++i) {
      Rng rng(StreamSeed(market_seeds[1], Stream::kItems, i));
      world.market_popularity.push_back(kMarketPopularitySd * rng.Normal());
    }
  }
  const double user_life = drift > 0 ? kUserLifeDays / drift : 0;
  const int64_t users_a = options.users > 0 ? options.users : std::max<int64_t>(100, rows_per_day[0] / kRowsPerUser);
  std::array<int64_t, 2> users_joined{};
  for (int m = 0; m < markets; ++m) {
    const int64_t initial = m == 0 ? users_a : std::max<int64_t>(20, users_a * rows_per_day[1] / rows_per_day[0]);
    users_joined[m] = Arrivals(initial, days, user_life);
    world.users[m] = MakeUsers(initial + users_joined[m], world.effects, market_seeds[m]);
    world.user_lives[m] =
        MakeLifespans(initial, users_joined[m], days, user_life, {}, market_seeds[m], Stream::kUserLives);
  }

  SimulatorSummary summary;
  summary.days = days;
  summary.drift = drift;
  summary.train_days = split.train;
  summary.valid_days = split.valid;
  summary.test_days = split.test;
  summary.rows_per_day = rows_per_day[0];
  summary.items_launched = items_launched;
  summary.users_joined = users_joined[0];
  summary.market_rows_per_day = rows_per_day[1];
  summary.market_rows = rows_per_day[1] * days;
  double gmv_total = 0;
  int64_t clicks = 0, carts = 0, purchases = 0;

  const std::string header = std::string("day,market,") + kHeader;
  const std::array<std::string, 2> dirs = {out_dir, (fs::path(out_dir) / "market-b").string()};
  std::array<std::array<std::string, 3>, 2> splits;  // train, valid, test text of each market
  for (int m = 0; m < markets; ++m) {
    for (auto& text : splits[m]) text = header;
    // About 185 bytes a row: one allocation rather than a doubling chain through hundreds of megabytes.
    splits[m][0].reserve(static_cast<size_t>(rows_per_day[m] * split.train * 185));
  }
  for (int64_t day = 1; day <= days; ++day) {
    if (day > 1 && drift > 0) AdvanceWalks(world, day);
    for (int m = 0; m < markets; ++m) {
      const DayWorld today = MakeDayWorld(world, m, day);
      const uint64_t day_seed = StreamSeed(market_seeds[m], Stream::kDays, static_cast<uint64_t>(day));
      std::vector<Impression> rows = MakeImpressions(options, today.effects, today.users, today.items,
                                                     static_cast<size_t>(rows_per_day[m]), day_seed);
      DrawLabels(options, today.items, day_seed, rows);
      if (m == 0) {
        for (const auto& row : rows) {
          clicks += row.click;
          carts += row.cart;
          purchases += row.purchase;
          gmv_total += today.items[row.item].price * row.quantity;
        }
        if (day == 1) summary.items_first_day = static_cast<int64_t>(today.items.size());
        if (day == days) {
          summary.items_last_day = static_cast<int64_t>(today.items.size());
          int64_t late_items = 0, new_users = 0;
          for (const auto& row : rows) {
            late_items += world.item_lives[today.item_ids[row.item]].first >= kLateLaunchDay;
            new_users += world.user_lives[0][today.user_ids[row.user]].first > 1;
          }
          summary.late_item_share = static_cast<double>(late_items) / static_cast<double>(rows.size());
          summary.new_user_share = static_cast<double>(new_users) / static_cast<double>(rows.size());
        }
      }
      std::vector<size_t> order(rows.size());
      for (size_t r = 0; r < order.size(); ++r) order[r] = r;
      const RowNames names{fmt::format("{},{},", day, kMarketNames[m]), kMarketUserPrefixes[m], &today.user_ids,
                           &today.item_ids};
      const std::string body = FormatRowsInBlocks("", 0, rows.size(), [&](size_t first, size_t last) {
        return FormatRows(rows, order, first, last, today.users, today.items, names);
      });
      WriteSimulatorFiles((fs::path(dirs[m]) / "days").string(), {{DayFileName(day, days), header + body}});
      const int part = day <= split.train ? 0 : day <= split.train + split.valid ? 1 : 2;
      splits[m][part] += body;
    }
  }
  const double rows_a = static_cast<double>(rows_per_day[0] * days);
  summary.click_rate = static_cast<double>(clicks) / rows_a;
  summary.cart_rate = static_cast<double>(carts) / rows_a;
  summary.purchase_rate = static_cast<double>(purchases) / rows_a;
  summary.mean_gmv = gmv_total / rows_a;
  summary.train_rows = rows_per_day[0] * split.train;
  summary.valid_rows = rows_per_day[0] * split.valid;
  summary.test_rows = rows_per_day[0] * split.test;

  for (int m = 0; m < markets; ++m) {
    RemoveOtherDayFiles((fs::path(dirs[m]) / "days").string(), days);
    const std::string config =
        FormatConfig(options, DaysAbout(options, m, rows_per_day[m], drift, split), markets == 2, kConfigEpochs);
    // Written one by one: a list of (name, text) pairs would copy the texts, hundreds of megabytes at the default.
    const char* names[] = {"train.csv", "valid.csv", "test.csv"};
    for (int part = 0; part < 3; ++part) WriteFileAtomic((fs::path(dirs[m]) / names[part]).string(), splits[m][part]);
    WriteSimulatorFiles(dirs[m], {{"config.toml", config}});
  }
  return summary;
}
}  // namespace

std::vector<std::string> KnownSimulatorPresets() { return {kPresetEcommerce, kPresetRetail, kPresetMarketing}; }

SimulatorSummary Simulate(const SimulatorOptions& options, const std::string& out_dir) {
  CheckPreset(options);
  if (options.preset == kPresetRetail) return SimulateRetail(options, out_dir);
  if (options.preset == kPresetMarketing) return SimulateMarketing(options, out_dir);
  if (options.days > 0) return SimulateEcommerceDays(options, out_dir);
  CheckDayOptions(options);
  return SimulateEcommerce(options, out_dir);
}

}  // namespace mtrec
