#include "data/retail_simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <iterator>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"
#include "data/simulator_support.h"

namespace mtrec {
namespace {

// What config.toml proposes for training; written verbatim. Chosen by trial runs on the default data
// (examples/retail/README.md): four epochs under a cosine decay, kept by the validation loss of all tasks, train
// in about a minute on 2 cores.
constexpr int kConfigEmbeddingDim = 16;
constexpr const char* kConfigBottom = "[256, 128]";
constexpr const char* kConfigTower = "[64]";
constexpr int kConfigEpochs = 4;
constexpr int kConfigBatchSize = 1024;
constexpr double kConfigLr = 0.001;
constexpr double kConfigEmbeddingLr = 0.05;
// Units sold are counts: the count loss of docs/losses.md on the log of their mean. Its gradient μ − y has a
// variance near the mean's scale, so weights near 1 / the mean keep the unit tasks beside the two loglosses.
constexpr const char* kConfigCountLoss = "negbin";
// Today's sales are observed, not censored: Poisson's quasi-likelihood estimates their mean without a dispersion
// to get right (negbin's fixed alpha weighs the fast movers' days down).
constexpr const char* kConfigSalesLoss = "poisson";
constexpr double kConfigSalesWeight = 0.3;
constexpr double kConfigUnitsWeight = 0.05;
constexpr double kConfigQuantileWeight = 0.5;  // pinball is in units, around the mean absolute deviation

constexpr int64_t kDefaultStores = 50;
constexpr int64_t kDefaultItems = 100;
constexpr int64_t kDefaultDays = 400;
constexpr int64_t kMinDays = 14;
constexpr double kDefaultSplitFraction = 0.1;  // of the days: the last ones to test.csv, the ones before to valid.csv
constexpr int64_t kMaxRows = 100'000'000;  // store-item-days; each takes ~44 bytes while the files are written

// The first day written is a Monday; the days before it are simulated to fill the shelves and the sales history.
constexpr int kStartYear = 2022;
constexpr unsigned kStartMonth = 1;
constexpr unsigned kStartDay = 3;
constexpr int kBurnInDays = 56;

constexpr int kDepartments = 4;
constexpr int kCategoriesPerDepartment = 3;
constexpr int kCategories = kDepartments * kCategoriesPerDepartment;
constexpr int kWeekdays = 7;
constexpr std::array<const char*, kWeekdays> kWeekdayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
// Shoppers come at the end of the week; stores shift this a little.
constexpr std::array<double, kWeekdays> kWeekdayLog = {-0.12, -0.15, -0.10, -0.05, 0.10, 0.25, 0.05};
constexpr double kStoreWeekdaySd = 0.05;
constexpr double kDepartmentWeekdaySd = 0.06;
// Fixed-date holidays (month, day); Thanksgiving and the Friday after it are added by rule.
constexpr std::array<std::array<unsigned, 2>, 6> kFixedHolidays = {
    {{1, 1}, {2, 14}, {7, 4}, {10, 31}, {12, 24}, {12, 31}}};
constexpr double kHolidayMean = 0.2;
constexpr double kHolidaySd = 0.35;

// Demand levels (log units per store-day): a wide spread gives fast movers and intermittent slow movers.
constexpr double kItemBaseMean = 0.3;
constexpr double kItemBaseSd = 1.2;
constexpr double kStoreSizeSd = 0.35;
constexpr double kStoreItemSd = 0.25;
constexpr double kItemTrendSd = 0.25;   // per year
constexpr double kStoreTrendSd = 0.08;  // per year
constexpr double kYearlyAmplitudeSd = 0.25;
constexpr double kMinSize = 0.7;  // negative binomial size r: from kMinSize to kMinSize + kSizeRange
constexpr double kSizeRange = 4.0;
constexpr double kLaunchRampDays = 10;

// Prices and promotions.
constexpr double kCategoryLogPriceLow = 0.5;  // median prices from 1.6 to 33
constexpr double kCategoryLogPriceRange = 3.0;
constexpr double kItemLogPriceSd = 0.4;
constexpr double kStorePriceSd = 0.03;
constexpr double kElasticityMean = 2.0;
constexpr double kCategoryElasticitySd = 0.4;
constexpr double kItemElasticitySd = 0.3;
constexpr double kPriceChangesPerYear = 2;
constexpr double kPriceChangeMean = 0.02;  // log, per change
constexpr double kPriceChangeSd = 0.06;
constexpr std::array<double, 6> kPromoDepths = {0.10, 0.15, 0.20, 0.25, 0.30, 0.40};
constexpr int kPromoMinDays = 3;
constexpr int kPromoMaxDays = 10;
constexpr int kPromoMinGap = 21;
constexpr double kPromoMeanExtraGap = 40;
constexpr double kPromoLift = 0.3;        // log: display and advertising on top of the price effect
constexpr double kCannibalisation = 4.0;  // per unit of the other items' mean promotion depth
constexpr double kClearanceFactor = 0.7;  // price in a discontinued item's last kClearanceDays
constexpr int kClearanceDays = 14;

// Life cycles.
constexpr double kLaunchShare = 0.15;       // launched during the written days (in their first 80%)
constexpr double kDiscontinueShare = 0.10;  // discontinued during them (after the first 30%)
constexpr int kMinLifeDays = 60;
constexpr int kLongAgo = -100000;

// Replenishment.
constexpr std::array<int, 4> kReviewPeriods = {1, 2, 3, 7};
constexpr std::array<double, 4> kReviewShares = {0.3, 0.3, 0.25, 0.15};
constexpr int kMaxLeadTime = 4;
constexpr int kPipelineSlots = 8;   // > kMaxLeadTime: orders in transit by arrival day
constexpr double kSafetyLow = 0.3;  // z of the store: from kSafetyLow to kSafetyLow + kSafetyRange
constexpr double kSafetyRange = 1.4;
constexpr int kMinShelf = 2;
constexpr int kHistoryDays = 28;
constexpr double kPriorWeight = 7;  // days of history the launch estimate counts for
constexpr double kPriorNoiseSd = 0.4;
constexpr double kPlannedPromoUplift = 1.5;
constexpr int kRunDownDays = 21;         // no orders in a discontinued item's last days
constexpr double kShortfallRate = 0.04;  // an order arrives short (a uniform share of it)

enum class Stream : uint64_t { kWorld = 1, kStores, kItems, kDemand, kSupply };

uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t index = 0) {
  return SimulatorStreamSeed(seed, static_cast<uint64_t>(stream), index);
}

struct Day {
  std::string date;  // yyyy-mm-dd
  int weekday = 0;   // 0 = Monday
  int month = 0;     // 0 = January
  int day_of_year = 0;
  bool holiday = false;
};

// Days from -kBurnInDays to `last` (inclusive), indexed from 0.
std::vector<Day> MakeCalendar(int64_t last) {
  namespace chrono = std::chrono;
  const chrono::sys_days start{chrono::year{kStartYear} / chrono::month{kStartMonth} / chrono::day{kStartDay}};
  std::vector<Day> calendar;
  for (int64_t t = -kBurnInDays; t <= last; ++t) {
    const chrono::sys_days date = start + chrono::days{t};
    const chrono::year_month_day ymd{date};
    const auto month = static_cast<unsigned>(ymd.month());
    const auto day = static_cast<unsigned>(ymd.day());
    Day d;
    d.date = fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), month, day);
    d.weekday = static_cast<int>((chrono::weekday{date}.c_encoding() + 6) % 7);
    d.month = static_cast<int>(month) - 1;
    d.day_of_year = static_cast<int>((date - chrono::sys_days{ymd.year() / chrono::January / 1}).count());
    for (const auto& [m, md] : kFixedHolidays) d.holiday = d.holiday || (month == m && day == md);
    // Thanksgiving is November's fourth Thursday (the 22nd to the 28th), the next day Black Friday.
    d.holiday =
        d.holiday ||
        (month == 11 && ((d.weekday == 3 && day >= 22 && day <= 28) || (d.weekday == 4 && day >= 23 && day <= 29)));
    calendar.push_back(std::move(d));
  }
  return calendar;
}

struct World {
  std::array<double, kCategories> yearly_amplitude{};
  std::array<double, kCategories> yearly_peak{};  // day of year
  std::array<double, kCategories> log_price{};
  std::array<double, kCategories> elasticity{};
  std::array<double, kDepartments> holiday{};
  std::array<std::array<double, kWeekdays>, kDepartments> weekday{};
};

World MakeWorld(uint64_t seed) {
  Rng rng(StreamSeed(seed, Stream::kWorld));
  World w;
  for (auto& v : w.yearly_amplitude) v = kYearlyAmplitudeSd * rng.Normal();
  for (auto& v : w.yearly_peak) v = 365.25 * rng.Uniform();
  for (auto& v : w.log_price) v = kCategoryLogPriceLow + kCategoryLogPriceRange * rng.Uniform();
  for (auto& v : w.elasticity) v = kElasticityMean + kCategoryElasticitySd * rng.Normal();
  for (auto& v : w.holiday) v = kHolidayMean + kHolidaySd * rng.Normal();
  for (auto& department : w.weekday) {
    for (auto& v : department) v = kDepartmentWeekdaySd * rng.Normal();
  }
  return w;
}

struct Store {
  double size = 0;  // log
  double trend = 0;
  double price_index = 1;
  std::array<double, kWeekdays> weekday{};
  int review_period = 1;
  int review_offset = 0;
  int lead_time = 1;
  double safety = 1;  // z
};

std::vector<Store> MakeStores(int64_t count, uint64_t seed) {
  std::vector<Store> stores(static_cast<size_t>(count));
  for (size_t s = 0; s < stores.size(); ++s) {
    Rng rng(StreamSeed(seed, Stream::kStores, s));
    Store& store = stores[s];
    store.size = kStoreSizeSd * rng.Normal();
    store.trend = kStoreTrendSd * rng.Normal();
    store.price_index = std::exp(kStorePriceSd * rng.Normal());
    for (int d = 0; d < kWeekdays; ++d) store.weekday[d] = kWeekdayLog[d] + kStoreWeekdaySd * rng.Normal();
    double u = rng.Uniform();
    size_t period = 0;
    while (period + 1 < kReviewPeriods.size() && u >= kReviewShares[period]) u -= kReviewShares[period++];
    store.review_period = kReviewPeriods[period];
    store.review_offset = static_cast<int>(rng.Below(static_cast<uint64_t>(store.review_period)));
    store.lead_time = 1 + static_cast<int>(rng.Below(kMaxLeadTime));
    store.safety = kSafetyLow + kSafetyRange * rng.Uniform();
  }
  return stores;
}

struct Item {
  int category = 0;
  int department = 0;
  double base = 0;  // log demand per store-day
  double trend = 0;
  double elasticity = 0;
  double size = 1;  // negative binomial r
  double base_price = 0;
  int64_t launch = kLongAgo;  // first day on sale (day 0 = the first day written)
  int64_t end = -kLongAgo;    // first day no longer on sale
  // Per simulated day (index 0 = day -kBurnInDays): the list price, the promotion depth (0 off promotion) and
  // the price multiplier (1 - depth, or the clearance markdown).
  std::vector<double> regular_price;
  std::vector<double> depth;
  std::vector<double> price_factor;
};

std::vector<Item> MakeItems(int64_t count, int64_t days, size_t span, const World& w, uint64_t seed) {
  std::vector<Item> items(static_cast<size_t>(count));
  for (size_t i = 0; i < items.size(); ++i) {
    Rng rng(StreamSeed(seed, Stream::kItems, i));
    Item& it = items[i];
    it.category = static_cast<int>(rng.Below(kCategories));
    it.department = it.category / kCategoriesPerDepartment;
    it.base = kItemBaseMean + kItemBaseSd * rng.Normal();
    it.trend = kItemTrendSd * rng.Normal();
    it.elasticity = std::clamp(w.elasticity[it.category] + kItemElasticitySd * rng.Normal(), 0.5, 4.0);
    it.size = kMinSize + kSizeRange * rng.Uniform();
    it.base_price = std::exp(w.log_price[it.category] + kItemLogPriceSd * rng.Normal());
    if (rng.Bernoulli(kLaunchShare))
      it.launch = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(days * 4 / 5)) + 1);
    if (rng.Bernoulli(kDiscontinueShare)) {
      const int64_t first = std::max(days * 3 / 10, it.launch + kMinLifeDays);
      if (first < days) it.end = first + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(days - first)));
    }
    it.regular_price.resize(span);
    it.depth.assign(span, 0.0);
    it.price_factor.assign(span, 1.0);
    double log_price = std::log(it.base_price);
    int64_t next_promo = static_cast<int64_t>(rng.Below(kPromoMinGap + static_cast<int>(kPromoMeanExtraGap)));
    for (size_t k = 0; k < span; ++k) {
      const int64_t t = static_cast<int64_t>(k) - kBurnInDays;
      if (rng.Bernoulli(kPriceChangesPerYear / 365.25)) log_price += kPriceChangeMean + kPriceChangeSd * rng.Normal();
      it.regular_price[k] = std::exp(log_price);
      if (static_cast<int64_t>(k) == next_promo) {
        const int length = kPromoMinDays + static_cast<int>(rng.Below(kPromoMaxDays - kPromoMinDays + 1));
        const double depth = kPromoDepths[rng.Below(kPromoDepths.size())];
        for (size_t p = k; p < std::min(span, k + length); ++p) it.depth[p] = depth;
        next_promo = static_cast<int64_t>(k) + length + kPromoMinGap +
                     static_cast<int64_t>(-kPromoMeanExtraGap * std::log(1 - rng.Uniform()));
      }
      if (t >= it.end - kClearanceDays) it.depth[k] = 0;  // clearance instead of promotions
      it.price_factor[k] = t >= it.end - kClearanceDays ? kClearanceFactor : 1 - it.depth[k];
    }
  }
  return items;
}

int64_t Cents(double price) { return std::max<int64_t>(1, std::llround(price * 100)); }

// One store-item-day as simulated.
struct Row {
  int32_t stock = 0;  // on hand at the start of the day, after the morning's delivery
  int32_t sales = 0;
  int32_t demand = 0;
  int32_t p50 = 0;
  int32_t p90 = 0;
  int32_t price_cents = 0;
  int32_t regular_cents = 0;
  float mean = 0;  // lambda
  float p_stockout = 0;
  float expected_sales = 0;
  bool on_sale = false;
  bool stockout = false;
  bool promo = false;
};

// The demand drawn from a negative binomial (mean, size) by inversion of u, with its quantiles and what a shelf of
// `stock` units makes of it: P(demand >= stock) and E[min(demand, stock)] = sum_{k < stock} P(demand > k).
struct DemandTruth {
  int32_t demand = -1;
  int32_t p50 = -1;
  int32_t p90 = -1;
  double p_stockout = 1;
  double expected_sales = 0;
};

DemandTruth EvaluateDemand(double mean, double size, double u, int32_t stock) {
  constexpr double kTail = 1e-13;
  DemandTruth truth;
  const double ratio = mean / (size + mean);
  double pmf = std::pow(size / (size + mean), size);
  double cdf = pmf;
  // Past this many terms the remaining probability is below rounding (a guard against cdf stalling below u).
  const int64_t limit = 1000 + static_cast<int64_t>(100 * mean);
  for (int64_t k = 0;; ++k) {
    const auto k32 = static_cast<int32_t>(k);
    if (truth.demand < 0 && (u < cdf || k >= limit)) truth.demand = k32;
    if (truth.p50 < 0 && (cdf >= 0.5 || k >= limit)) truth.p50 = k32;
    if (truth.p90 < 0 && (cdf >= 0.9 || k >= limit)) truth.p90 = k32;
    const double above = std::max(0.0, 1 - cdf);  // P(demand > k)
    if (k < stock) truth.expected_sales += above;
    if (k + 1 == stock) truth.p_stockout = above;
    if (truth.demand >= 0 && truth.p90 >= 0 && (k + 1 >= stock || above < kTail)) {
      if (k + 1 < stock) truth.p_stockout = above;
      break;
    }
    pmf *= (static_cast<double>(k) + size) / static_cast<double>(k + 1) * ratio;
    cdf += pmf;
  }
  return truth;
}

// Simulates one item in one store over every day of the calendar; rows[t] receives day t >= 0 (the burn-in days
// are simulated, not kept).
void SimulateSeries(const Store& store, const Item& item, const World& w, const std::vector<Day>& calendar,
                    const std::vector<double>& cannibal_depth, double store_item, Rng& demand_rng, Rng& supply_rng,
                    Row* rows) {
  const size_t span = calendar.size();
  // The planner's estimate for a new item: its steady level without season or promotions, with an error.
  const double prior = std::exp(item.base + store.size + store_item + kPriorNoiseSd * demand_rng.Normal());
  std::array<int32_t, kHistoryDays> history{};  // observed sales of the last on-sale days, a ring
  size_t history_days = 0;
  int64_t history_sum = 0;
  std::array<int64_t, kPipelineSlots> pipeline{};
  int64_t on_order = 0;
  int64_t on_hand = 0;
  bool stocked = false;

  auto order_up_to = [&](size_t k) {
    const double days_seen = static_cast<double>(std::min<size_t>(history_days, kHistoryDays));
    const double forecast = (static_cast<double>(history_sum) + kPriorWeight * prior) / (days_seen + kPriorWeight);
    double cover = 0;
    for (size_t c = k + 1; c <= k + store.review_period + store.lead_time && c < span; ++c) {
      cover += forecast * (item.depth[c] > 0 ? kPlannedPromoUplift : 1.0);
    }
    return std::max<int64_t>(kMinShelf, static_cast<int64_t>(std::ceil(cover + store.safety * std::sqrt(cover))));
  };

  for (size_t k = 0; k < span; ++k) {
    const int64_t t = static_cast<int64_t>(k) - kBurnInDays;
    const size_t slot = k % kPipelineSlots;
    on_hand += pipeline[slot];
    on_order -= pipeline[slot];
    pipeline[slot] = 0;
    if (t < item.launch || t >= item.end) continue;
    if (!stocked) {  // the first delivery fills the shelf for the first review cycle
      on_hand += order_up_to(k);
      stocked = true;
    }
    const Day& day = calendar[k];
    const double years = static_cast<double>(t) / 365.25;
    const double price =
        static_cast<double>(Cents(item.regular_price[k] * store.price_index * item.price_factor[k])) / 100;
    const double log_mean = item.base + store.size + store_item + (item.trend + store.trend) * years +
                            store.weekday[day.weekday] + w.weekday[item.department][day.weekday] +
                            w.yearly_amplitude[item.category] *
                                std::cos(2 * M_PI * (day.day_of_year - w.yearly_peak[item.category]) / 365.25) +
                            (day.holiday ? w.holiday[item.department] : 0.0) -
                            item.elasticity * std::log(price / item.base_price) +
                            (item.depth[k] > 0 ? kPromoLift : 0.0) - kCannibalisation * cannibal_depth[k] +
                            std::log(1 - std::exp(-static_cast<double>(t - item.launch + 1) / kLaunchRampDays));
    const double mean = std::exp(log_mean);
    const auto stock = static_cast<int32_t>(on_hand);
    const DemandTruth truth = EvaluateDemand(mean, item.size, demand_rng.Uniform(), stock);
    const int32_t sales = std::min(truth.demand, stock);
    on_hand -= sales;
    if (t >= 0) {
      Row& row = rows[t];
      row.on_sale = true;
      row.stock = stock;
      row.sales = sales;
      row.stockout = sales == stock;
      row.demand = truth.demand;
      row.p50 = truth.p50;
      row.p90 = truth.p90;
      row.mean = static_cast<float>(mean);
      row.p_stockout = static_cast<float>(truth.p_stockout);
      row.expected_sales = static_cast<float>(truth.expected_sales);
      row.promo = item.depth[k] > 0;
      row.price_cents = static_cast<int32_t>(Cents(price));
      row.regular_cents = static_cast<int32_t>(Cents(item.regular_price[k] * store.price_index));
    }
    const size_t at = history_days % kHistoryDays;
    if (history_days >= kHistoryDays) history_sum -= history[at];
    history[at] = sales;
    history_sum += sales;
    ++history_days;

    // The evening review: order up to the target, less what is on the shelf and on its way.
    if ((k + store.review_offset) % store.review_period == 0 && t < item.end - kRunDownDays) {
      const int64_t quantity = order_up_to(k) - on_hand - on_order;
      if (quantity > 0) {
        const bool short_shipped = supply_rng.Bernoulli(kShortfallRate);
        const double share = supply_rng.Uniform();
        const int64_t delivered = short_shipped ? static_cast<int64_t>(quantity * share) : quantity;
        pipeline[(k + store.lead_time) % kPipelineSlots] += delivered;
        on_order += delivered;
      }
    }
  }
}

constexpr const char* kTruthColumns =
    "oracle_demand,oracle_mean_demand,oracle_demand_p50,oracle_demand_p90,oracle_p_stockout,oracle_expected_sales,";

std::string Header() {
  return fmt::format(
      "date,store_id,item_id,department,category,weekday,month,holiday,price,regular_price,promo,stock_on_hand,"
      "sales,stockout,units_next_{0}d,stockout_next_{0}d,{1}oracle_mean_demand_next_{0}d\n",
      kRetailHorizonDays, kTruthColumns);
}

// Everything the rows of one day need besides the series.
struct Layout {
  int64_t stores = 0;
  int64_t items = 0;
  int64_t series_days = 0;  // rows per series: the written days and the horizon after the last one
};

std::string FormatDay(const std::vector<Row>& rows, const Layout& layout, const std::vector<Item>& items,
                      const Day& day, int64_t t) {
  fmt::memory_buffer out;
  auto dst = fmt::appender(out);
  for (int64_t s = 0; s < layout.stores; ++s) {
    for (int64_t i = 0; i < layout.items; ++i) {
      const Row* series = &rows[static_cast<size_t>((s * layout.items + i) * layout.series_days)];
      const Row& row = series[t];
      if (!row.on_sale) continue;
      // The horizon: this day and the next ones, counting only days on sale (rows past them are empty).
      int64_t units = 0;
      bool stockout = false;
      double mean = 0;
      for (int64_t j = t; j < t + kRetailHorizonDays; ++j) {
        units += series[j].sales;
        stockout = stockout || series[j].stockout;
        mean += series[j].mean;
      }
      const Item& it = items[static_cast<size_t>(i)];
      fmt::format_to(dst, "{},s{},i{},d{},c{},{},{},{},{}.{:02},{}.{:02},{},{},{},{},{},{},", day.date, s, i,
                     it.department, it.category, kWeekdayNames[day.weekday], kMonthNames[day.month],
                     day.holiday ? 1 : 0, row.price_cents / 100, row.price_cents % 100, row.regular_cents / 100,
                     row.regular_cents % 100, row.promo ? 1 : 0, row.stock, row.sales, row.stockout ? 1 : 0, units,
                     stockout ? 1 : 0);
      fmt::format_to(dst, "{},{:.6g},{},{},{:.6g},{:.6g},{:.6g}\n", row.demand, row.mean, row.p50, row.p90,
                     row.p_stockout, row.expected_sales, mean);
    }
  }
  return fmt::to_string(out);
}

std::string FormatConfig(const SimulatorOptions& options, int64_t stores, int64_t items, int64_t days) {
  std::string out;
  auto dst = std::back_inserter(out);
  fmt::format_to(dst,
                 "# Simulated retail sales written by `mtrec simulate` (preset {}, seed {}, {} stores x {} items x {} "
                 "days).\n"
                 "# The files are split by date: valid.csv follows train.csv in time and test.csv follows valid.csv.\n"
                 "\n",
                 options.preset, options.seed, stores, items, days);
  out += kSimulatorConfigData;
  const SimulatorFeature features[] = {
      {"store_id", "categorical", false, "Stores differ in size, weekly pattern and replenishment."},
      {"item_id", "categorical", false, "Items differ in level, trend, price sensitivity and intermittency."},
      {"department", "categorical", false, "Departments differ in weekly pattern and holiday effect."},
      {"category", "categorical", false,
       "Categories differ in yearly season and price level; promotions cannibalise within one."},
      {"weekday", "categorical", false, "Day of the week (from the date)."},
      {"month", "categorical", false, "Month (from the date): the yearly season."},
      {"holiday", "numeric", false, "1 on a holiday."},
      {"promo", "numeric", false, "1 on a promotion day."},
      {"price", "numeric", true, "Price paid that day: the regular price less promotion or clearance."},
      {"regular_price", "numeric", true, "The store's list price before promotion and clearance."},
      {"stock_on_hand", "numeric", true, "Units on the shelf at the start of the day, after the morning's delivery."},
  };
  // Derived from the past rows of each series (docs/time_series.md): the sales history the stock policy and the
  // demand both follow, recent stock-outs, promotions and the price against its recent level.
  struct Derived {
    const char* name;
    const char* column;
    const char* op;
    int lag;     // 0: the op takes none
    int window;  // 0: the op takes none
    const char* by;
    bool log1p;
    bool input = true;  // false: read by eval only, not a feature
  };
  // The seasonal naive forecast of the horizon target (the same window a week earlier, whose last day is
  // yesterday), which eval measures the model against (mase, naive_wape).
  const std::string horizon_units = fmt::format("units_next_{}d", kRetailHorizonDays);
  const std::string horizon_naive = horizon_units + "_lag7";
  const Derived derived[] = {
      {"sales_lag1", "sales", "lag", 1, 0, nullptr, true},
      {"sales_lag7", "sales", "lag", 7, 0, nullptr, true},
      {"sales_lag14", "sales", "lag", 14, 0, nullptr, true},
      {"sales_lag28", "sales", "lag", 28, 0, nullptr, true},
      {"sales_mean7", "sales", "mean", 1, 7, nullptr, true},
      {"sales_mean28", "sales", "mean", 1, 28, nullptr, true},
      {"sales_std28", "sales", "std", 1, 28, nullptr, true},
      {"sales_zero28", "sales", "zero_share", 1, 28, nullptr, false},
      {"stockout_mean28", "stockout", "mean", 1, 28, nullptr, false},
      {"item_sales_mean7", "sales", "mean", 1, 7, "item_id", true},
      {"store_sales_mean7", "sales", "mean", 1, 7, "store_id", true},
      {"days_since_promo", "promo", "days_since", 0, 0, nullptr, true},
      {"price_ratio28", "price", "ratio_to_mean", 1, 28, nullptr, false},
      {horizon_naive.c_str(), horizon_units.c_str(), "lag", 7, 0, nullptr, false, /*input=*/false},
  };
  fmt::format_to(dst,
                 "\n# Each store-item is one series; the derived columns below read only the days before the row's "
                 "own\n# (price_ratio28 reads the day's price, known in the morning).\n"
                 "[time_series]\ndate = \"date\"\nseries = [\"store_id\", \"item_id\"]\n");
  for (const auto& d : derived) {
    if (!d.input) fmt::format_to(dst, "\n# The seasonal naive forecast of {} (eval's baseline, not an input).", d.column);
    fmt::format_to(dst, "\n[[time_series.columns]]\nname = \"{}\"\ncolumn = \"{}\"\nop = \"{}\"\n", d.name,
                   d.column, d.op);
    if (d.lag > 0) fmt::format_to(dst, "lag = {}\n", d.lag);
    if (d.window > 0) fmt::format_to(dst, "window = {}\n", d.window);
    if (d.by != nullptr) fmt::format_to(dst, "by = [\"{}\"]\n", d.by);
  }
  for (const auto& f : features) AppendSimulatorFeature(out, f);
  fmt::format_to(dst, "\n# The derived columns of [time_series] (missing on a series' first days: a missing flag).");
  for (const auto& d : derived) {
    if (!d.input) continue;
    fmt::format_to(dst, "\n[[features]]\nname = \"{}\"\nkind = \"numeric\"\n", d.name);
    if (d.log1p) fmt::format_to(dst, "log1p = true\n");
  }
  struct Task {
    std::string name;
    const char* kind;
    double weight;
    const char* oracle;
    std::string what;
    const char* loss = nullptr;    // the kind's default when null
    const char* column = nullptr;  // the name when null
    double quantile = 0;           // pinball
    const char* censored = nullptr;
    int horizon = 1;               // days the label looks ahead
    std::string naive;             // the seasonal naive forecast's column; empty: none
  };
  const Task tasks[] = {
      {"sales", "regression", kConfigSalesWeight, "oracle_expected_sales",
       "Units sold today, at most the stock on hand (censored demand).", kConfigSalesLoss, nullptr, 0, nullptr, 1,
       "sales_lag7"},
      {"stockout", "binary", 1.0, "oracle_p_stockout", "The shelf runs empty today (sales = stock on hand).",
       nullptr, nullptr, 0, nullptr, 1, ""},
      {horizon_units, "regression", kConfigUnitsWeight, nullptr,
       fmt::format("Units sold over today and the next {} days.", kRetailHorizonDays - 1), kConfigCountLoss, nullptr,
       0, nullptr, kRetailHorizonDays, horizon_naive},
      {fmt::format("stockout_next_{}d", kRetailHorizonDays), "binary", 1.0, nullptr,
       fmt::format("The shelf runs empty on one of today and the next {} days.", kRetailHorizonDays - 1), nullptr,
       nullptr, 0, nullptr, kRetailHorizonDays, ""},
      {"demand", "regression", kConfigSalesWeight, "oracle_mean_demand",
       "Demand today: the sales, read as a lower bound of demand on a stock-out day (sales = stock).", kConfigCountLoss,
       "sales", 0, "stockout", 1, "sales_lag7"},
      {"sales_p50", "regression", kConfigQuantileWeight, nullptr, "The median of today's sales.", "pinball", "sales",
       0.5, nullptr, 1, ""},
      {"sales_p90", "regression", kConfigQuantileWeight, nullptr,
       "The 90th percentile of today's sales, never below the median (the two form one ladder).", "pinball", "sales",
       0.9, nullptr, 1, ""},
  };
  for (const auto& t : tasks) {
    fmt::format_to(dst, "\n# {}\n[[tasks]]\nname = \"{}\"\n", t.what, t.name);
    if (t.column != nullptr) fmt::format_to(dst, "column = \"{}\"\n", t.column);
    fmt::format_to(dst, "kind = \"{}\"\nweight = {}\n", t.kind, t.weight);
    if (t.loss != nullptr) fmt::format_to(dst, "loss = \"{}\"\n", t.loss);
    if (t.quantile > 0) fmt::format_to(dst, "quantile = {}\n", t.quantile);
    if (t.censored != nullptr) fmt::format_to(dst, "censored = \"{}\"\n", t.censored);
    if (t.oracle != nullptr) fmt::format_to(dst, "oracle = \"{}\"\n", t.oracle);
    fmt::format_to(dst, "horizon = {}\n", t.horizon);
    if (!t.naive.empty()) fmt::format_to(dst, "naive = \"{}\"\n", t.naive);
  }
  fmt::format_to(dst,
                 "\n# A shared-bottom network over the feature embeddings, one tower per task.\n"
                 "[model]\n"
                 "arch = \"shared_bottom\"\n"
                 "embedding_dim = {}\n"
                 "bottom = {}\n"
                 "tower = {}\n\n",
                 kConfigEmbeddingDim, kConfigBottom, kConfigTower);
  out += SimulatorConfigTrain(kConfigEpochs, kConfigBatchSize, kConfigLr, kConfigEmbeddingLr);
  fmt::format_to(dst, "lr_schedule = \"cosine\"\nearly_stop_metric = \"loss\"\nseed = {}\n", options.seed);
  return out;
}

int64_t OrDefault(int64_t value, int64_t fallback) { return value > 0 ? value : fallback; }

}  // namespace

SimulatorSummary SimulateRetail(const SimulatorOptions& options, const std::string& out_dir) {
  const int64_t stores = OrDefault(options.stores, kDefaultStores);
  const int64_t item_count = OrDefault(options.items, kDefaultItems);
  const int64_t days = OrDefault(options.days, kDefaultDays);
  MTREC_CHECK(options.stores >= 0 && options.items >= 0 && options.days >= 0,
              "simulate: stores, items and days must be 0 (the default) or positive, found {}, {} and {}",
              options.stores, options.items, options.days);
  MTREC_CHECK(days >= kMinDays, "simulate: days must be at least {}, found {}", kMinDays, days);
  MTREC_CHECK(stores <= kMaxRows && item_count <= kMaxRows && stores * item_count <= kMaxRows / days,
              "simulate: at most {} store-item-days, found {} stores x {} items x {} days", kMaxRows, stores,
              item_count, days);
  const SimulatorSplit day_split = SplitSimulatorRows(days, options.valid_fraction.value_or(kDefaultSplitFraction),
                                                      options.test_fraction.value_or(kDefaultSplitFraction), "days");
  const int64_t train_days = day_split.train;
  const int64_t valid_days = day_split.valid;

  const uint64_t seed = options.seed;
  Layout layout{stores, item_count, days + kRetailHorizonDays - 1};
  const std::vector<Day> calendar = MakeCalendar(layout.series_days - 1);
  const size_t span = calendar.size();
  const World world = MakeWorld(seed);
  const std::vector<Store> store_list = MakeStores(stores, seed);
  const std::vector<Item> items = MakeItems(item_count, days, span, world, seed);

  // Cannibalisation pressure on each item: the mean promotion depth of the other items of its category on sale.
  std::vector<std::vector<double>> category_depth(kCategories, std::vector<double>(span, 0.0));
  std::array<int, kCategories> category_items{};
  for (const Item& it : items) {
    ++category_items[it.category];
    for (size_t k = 0; k < span; ++k) {
      const int64_t t = static_cast<int64_t>(k) - kBurnInDays;
      if (t >= it.launch && t < it.end) category_depth[it.category][k] += it.depth[k];
    }
  }
  std::vector<std::vector<double>> cannibal_depth(items.size(), std::vector<double>(span, 0.0));
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    const double others = std::max(1, category_items[it.category] - 1);
    for (size_t k = 0; k < span; ++k) {
      const int64_t t = static_cast<int64_t>(k) - kBurnInDays;
      const double own = t >= it.launch && t < it.end ? it.depth[k] : 0.0;
      cannibal_depth[i][k] = (category_depth[it.category][k] - own) / others;
    }
  }

  const size_t series_count = static_cast<size_t>(stores * item_count);
  std::vector<Row> rows(series_count * static_cast<size_t>(layout.series_days));
  ParallelFor(series_count, [&](size_t begin, size_t end, int) {
    for (size_t series = begin; series < end; ++series) {
      const size_t s = series / static_cast<size_t>(item_count);
      const size_t i = series % static_cast<size_t>(item_count);
      Rng demand_rng(StreamSeed(seed, Stream::kDemand, series));
      Rng supply_rng(StreamSeed(seed, Stream::kSupply, series));
      const double store_item = kStoreItemSd * demand_rng.Normal();
      SimulateSeries(store_list[s], items[i], world, calendar, cannibal_depth[i], store_item, demand_rng, supply_rng,
                     &rows[series * static_cast<size_t>(layout.series_days)]);
    }
  });

  SimulatorSummary summary;
  int64_t units = 0, zeros = 0, stockouts = 0, promos = 0;
  for (size_t series = 0; series < series_count; ++series) {
    const Row* row = &rows[series * static_cast<size_t>(layout.series_days)];
    for (int64_t t = 0; t < days; ++t) {
      if (!row[t].on_sale) continue;
      (t < train_days ? summary.train_rows : t < train_days + valid_days ? summary.valid_rows : summary.test_rows)++;
      units += row[t].sales;
      zeros += row[t].sales == 0;
      stockouts += row[t].stockout;
      promos += row[t].promo;
    }
  }
  const double total =
      std::max<double>(1, static_cast<double>(summary.train_rows + summary.valid_rows + summary.test_rows));
  summary.mean_units = static_cast<double>(units) / total;
  summary.zero_share = static_cast<double>(zeros) / total;
  summary.stockout_rate = static_cast<double>(stockouts) / total;
  summary.promo_share = static_cast<double>(promos) / total;

  // One block per day, formatted in parallel and joined in order: the text does not depend on the thread count.
  auto split = [&](int64_t first, int64_t last) {
    return FormatInBlocks(Header(), static_cast<size_t>(last - first), [&](size_t block) {
      const int64_t t = first + static_cast<int64_t>(block);
      return FormatDay(rows, layout, items, calendar[static_cast<size_t>(t + kBurnInDays)], t);
    });
  };
  WriteSimulatorFiles(out_dir, {{"train.csv", split(0, train_days)},
                                {"valid.csv", split(train_days, train_days + valid_days)},
                                {"test.csv", split(train_days + valid_days, days)},
                                {"config.toml", FormatConfig(options, stores, item_count, days)}});
  return summary;
}

}  // namespace mtrec
