#include "data/retail_simulator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/threads.h"
#include "support/simulated_csv.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

fs::path Simulated(const std::string& name, const SimulatorOptions& options) {
  fs::path dir = fs::path(testing::TempDir()) / ("mtrec_retail_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  Simulate(options, dir.string());
  RemoveAtExit(dir);
  return dir;
}

SimulatorOptions Retail(int64_t stores, int64_t items, int64_t days, uint64_t seed = 5) {
  SimulatorOptions options;
  options.preset = "retail";
  options.stores = stores;
  options.items = items;
  options.days = days;
  options.seed = seed;
  return options;
}

// One medium run (12 stores x 50 items x 200 days, ~110k rows) that most tests read.
class RetailSimulatorTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(Simulated("shared", Retail(12, 50, 200)));
    splits_ = new std::array<Rows, 3>{ReadCsv(*dir_ / "train.csv"), ReadCsv(*dir_ / "valid.csv"),
                                      ReadCsv(*dir_ / "test.csv")};
  }
  static void TearDownTestSuite() {
    delete splits_;
    delete dir_;
  }
  // Calls fn(rows, r) for every row of the three files, in file order.
  template <typename Fn>
  static void ForEachRow(Fn fn) {
    for (const Rows& rows : *splits_) {
      for (size_t r = 0; r < rows.cells.size(); ++r) fn(rows, r);
    }
  }
  static fs::path* dir_;
  static std::array<Rows, 3>* splits_;
};
fs::path* RetailSimulatorTest::dir_ = nullptr;
std::array<Rows, 3>* RetailSimulatorTest::splits_ = nullptr;

TEST(RetailSimulator, SameOptionsSameBytesWhateverTheThreadCount) {
  const int threads = Threads();
  SetThreads(1);
  fs::path a = Simulated("one_thread", Retail(6, 20, 60));
  SetThreads(3);
  fs::path b = Simulated("three_threads", Retail(6, 20, 60));
  fs::path c = Simulated("other_seed", Retail(6, 20, 60, 6));
  SetThreads(threads);
  for (const char* file : {"train.csv", "valid.csv", "test.csv", "config.toml"}) {
    EXPECT_EQ(ReadFileBytes(a / file), ReadFileBytes(b / file)) << file;
  }
  EXPECT_NE(ReadFileBytes(a / "train.csv"), ReadFileBytes(c / "train.csv"));
}

TEST_F(RetailSimulatorTest, ColumnsAndRowsOrderedByDateStoreItemSplitByDate) {
  const std::vector<std::string> expected = {"date",
                                             "store_id",
                                             "item_id",
                                             "department",
                                             "category",
                                             "weekday",
                                             "month",
                                             "holiday",
                                             "price",
                                             "regular_price",
                                             "promo",
                                             "stock_on_hand",
                                             "sales",
                                             "stockout",
                                             "units_next_7d",
                                             "stockout_next_7d",
                                             "oracle_demand",
                                             "oracle_mean_demand",
                                             "oracle_demand_p50",
                                             "oracle_demand_p90",
                                             "oracle_p_stockout",
                                             "oracle_expected_sales",
                                             "oracle_mean_demand_next_7d"};
  for (const Rows& rows : *splits_) {
    EXPECT_EQ(rows.header, expected);
    ASSERT_FALSE(rows.cells.empty());
  }
  // Rows sorted by (date, store, item) across the three files, so the last train date precedes the first valid
  // date, which precedes the first test date.
  std::tuple<std::string, int, int> previous;
  std::vector<std::string> dates;
  bool first = true;
  ForEachRow([&](const Rows& rows, size_t r) {
    ASSERT_EQ(rows.cells[r].size(), expected.size()) << "row " << r;
    const auto& cells = rows.cells[r];
    std::tuple<std::string, int, int> key{cells[0], std::stoi(cells[1].substr(1)), std::stoi(cells[2].substr(1))};
    if (!first) {
      ASSERT_LT(previous, key) << "row " << r;
    }
    first = false;
    previous = key;
    if (dates.empty() || dates.back() != cells[0]) dates.push_back(cells[0]);
  });
  EXPECT_EQ(dates.size(), 200u);
  EXPECT_EQ(dates.front(), "2022-01-03");
  EXPECT_EQ(dates.back(), "2022-07-21");
  EXPECT_LT((*splits_)[0].cells.back()[0], (*splits_)[1].cells.front()[0]);
  EXPECT_LT((*splits_)[1].cells.back()[0], (*splits_)[2].cells.front()[0]);
  EXPECT_EQ((*splits_)[2].cells.front()[0], dates[180]);  // the last 10% of the days are the test set
  EXPECT_EQ((*splits_)[1].cells.front()[0], dates[160]);
}

TEST_F(RetailSimulatorTest, SalesAreDemandCensoredByStockAndTheTruthsAgree) {
  size_t rows = 0, stockouts = 0;
  double p_stockout = 0, expected_sales = 0, sales_total = 0;
  ForEachRow([&](const Rows& data, size_t r) {
    const double stock = data.Number(r, "stock_on_hand"), sales = data.Number(r, "sales");
    const double demand = data.Number(r, "oracle_demand");
    ASSERT_EQ(sales, std::min(demand, stock)) << "row " << r;
    ASSERT_EQ(data.Number(r, "stockout"), sales == stock ? 1 : 0) << "row " << r;
    ASSERT_LE(data.Number(r, "oracle_demand_p50"), data.Number(r, "oracle_demand_p90")) << "row " << r;
    ASSERT_LE(sales, data.Number(r, "units_next_7d")) << "row " << r;
    if (data.Number(r, "stockout") == 1) {
      ASSERT_EQ(data.Number(r, "stockout_next_7d"), 1) << "row " << r;
    }
    if (stock == 0) {
      ASSERT_EQ(data.Number(r, "oracle_p_stockout"), 1) << "row " << r;
    }
    ++rows;
    stockouts += sales == stock;
    sales_total += sales;
    p_stockout += data.Number(r, "oracle_p_stockout");
    expected_sales += data.Number(r, "oracle_expected_sales");
  });
  // The truths are the expectations of what was drawn.
  EXPECT_NEAR(p_stockout / rows, static_cast<double>(stockouts) / rows, 0.005);
  EXPECT_NEAR(expected_sales / sales_total, 1.0, 0.02);
  EXPECT_GT(static_cast<double>(stockouts) / rows, 0.02);
  EXPECT_LT(static_cast<double>(stockouts) / rows, 0.2);
}

TEST_F(RetailSimulatorTest, HorizonTargetsSumTheRowsDayAndTheNextSix) {
  // Per store-item: sales and stock-outs by day index, from the dates written in order.
  std::map<std::string, int> day_index;
  std::map<std::pair<std::string, std::string>, std::map<int, std::array<double, 4>>> series;
  ForEachRow([&](const Rows& data, size_t r) {
    const auto& cells = data.cells[r];
    const int day = day_index.emplace(cells[0], static_cast<int>(day_index.size())).first->second;
    series[{cells[1], cells[2]}][day] = {data.Number(r, "sales"), data.Number(r, "stockout"),
                                         data.Number(r, "units_next_7d"), data.Number(r, "stockout_next_7d")};
  });
  size_t checked = 0;
  for (const auto& [key, days] : series) {
    for (const auto& [day, values] : days) {
      if (day + kRetailHorizonDays > static_cast<int>(day_index.size())) continue;  // its horizon is not written
      double units = 0, stockout = 0;
      for (int d = day; d < day + kRetailHorizonDays; ++d) {
        auto it = days.find(d);
        if (it == days.end()) continue;  // not on sale (discontinued)
        units += it->second[0];
        stockout = std::max(stockout, it->second[1]);
      }
      ASSERT_EQ(values[2], units) << key.first << " " << key.second << " day " << day;
      ASSERT_EQ(values[3], stockout) << key.first << " " << key.second << " day " << day;
      ++checked;
    }
  }
  EXPECT_GT(checked, 50000u);
}

TEST_F(RetailSimulatorTest, QuantilesCoverTheDemandDrawn) {
  // For a discrete demand the p90 q satisfies P(D < q) <= 0.9 <= P(D <= q); over many rows the shares of draws
  // below and at-or-below it bracket 0.9. Where demand is large the steps are small and coverage is about 0.9.
  size_t rows = 0, below = 0, at_or_below = 0, median = 0, large = 0, large_covered = 0;
  ForEachRow([&](const Rows& data, size_t r) {
    const double demand = data.Number(r, "oracle_demand"), p90 = data.Number(r, "oracle_demand_p90");
    ++rows;
    below += demand < p90;
    at_or_below += demand <= p90;
    median += demand <= data.Number(r, "oracle_demand_p50");
    if (data.Number(r, "oracle_mean_demand") >= 10) {
      ++large;
      large_covered += demand <= p90;
    }
  });
  EXPECT_LE(static_cast<double>(below) / rows, 0.905);
  EXPECT_GE(static_cast<double>(at_or_below) / rows, 0.895);
  EXPECT_GE(static_cast<double>(median) / rows, 0.495);
  ASSERT_GT(large, 3000u);
  EXPECT_GE(static_cast<double>(large_covered) / large, 0.88);
  EXPECT_LE(static_cast<double>(large_covered) / large, 0.92);
}

TEST_F(RetailSimulatorTest, WeekdaysPromotionsAndSlowMoversShowInTheSales) {
  std::map<std::string, std::pair<double, double>> by_weekday;  // sum, rows
  std::array<std::pair<double, double>, 2> by_promo{};
  std::map<std::string, std::array<double, 3>> by_item;  // mean demand sum, zero sales, rows
  ForEachRow([&](const Rows& data, size_t r) {
    const double sales = data.Number(r, "sales");
    auto& weekday = by_weekday[data.cells[r][data.Column("weekday")]];
    weekday.first += sales;
    weekday.second += 1;
    auto& promo = by_promo[data.Number(r, "promo") == 1 ? 1 : 0];
    promo.first += data.Number(r, "oracle_demand");
    promo.second += 1;
    auto& item = by_item[data.cells[r][data.Column("item_id")]];
    item[0] += data.Number(r, "oracle_mean_demand");
    item[1] += sales == 0;
    item[2] += 1;
  });
  ASSERT_EQ(by_weekday.size(), 7u);
  double low = 1e9, high = 0;
  for (const auto& [name, sum] : by_weekday) {
    low = std::min(low, sum.first / sum.second);
    high = std::max(high, sum.first / sum.second);
  }
  EXPECT_GT(high / low, 1.2);  // Saturday against the quietest weekday
  const double promo_share = by_promo[1].second / (by_promo[0].second + by_promo[1].second);
  EXPECT_GT(promo_share, 0.05);
  EXPECT_LT(promo_share, 0.2);
  EXPECT_GT(by_promo[1].first / by_promo[1].second, 1.5 * by_promo[0].first / by_promo[0].second);
  double slow_zero = 0, slow_rows = 0;
  for (const auto& [name, item] : by_item) {
    if (item[0] / item[2] < 0.5) {
      slow_zero += item[1];
      slow_rows += item[2];
    }
  }
  ASSERT_GT(slow_rows, 1000);
  EXPECT_GT(slow_zero / slow_rows, 0.65);  // intermittent demand: most days sell nothing
}

TEST_F(RetailSimulatorTest, WritesAConfigWithTheSevenTasks) {
  const std::string config = ReadFileBytes(*dir_ / "config.toml");
  for (const char* line : {"name = \"sales\"", "oracle = \"oracle_expected_sales\"", "name = \"stockout\"",
                           "oracle = \"oracle_p_stockout\"", "name = \"units_next_7d\"", "name = \"stockout_next_7d\"",
                           "name = \"stock_on_hand\"", "loss = \"negbin\"", "name = \"demand\"",
                           "censored = \"stockout\"", "oracle = \"oracle_mean_demand\"", "name = \"sales_p50\"",
                           "name = \"sales_p90\"", "quantile = 0.9"}) {
    EXPECT_NE(config.find(line), std::string::npos) << line;
  }
  // The count tasks, the censored demand and the ladder as the config reader sees them.
  const Config parsed = ParseConfig(config, "config.toml");
  EXPECT_EQ(parsed.FindTask("units_next_7d")->loss, LossKind::kNegbin);
  EXPECT_EQ(parsed.FindTask("sales")->loss, LossKind::kPoisson);  // observed, not censored
  EXPECT_EQ(parsed.FindTask("demand")->column, "sales");
  EXPECT_EQ(parsed.FindTask("demand")->censored, "stockout");
  EXPECT_EQ(parsed.FindTask("sales_p50")->loss, LossKind::kPinball);
  EXPECT_EQ(parsed.FindTask("sales_p90")->quantile, 0.9);
  EXPECT_EQ(config.find("name = \"oracle_"), std::string::npos);  // truths are never inputs
}

TEST_F(RetailSimulatorTest, WritesTheDerivedTimeSeriesColumnsAsNumericFeatures) {
  const Config config = ParseConfig(ReadFileBytes(*dir_ / "config.toml"), "config.toml");
  EXPECT_EQ(config.time_series.date, "date");
  EXPECT_EQ(config.time_series.series, (std::vector<std::string>{"store_id", "item_id"}));
  const std::vector<std::string> derived = {"sales_lag1",       "sales_lag7",        "sales_lag14",
                                            "sales_lag28",      "sales_mean7",       "sales_mean28",
                                            "sales_std28",      "sales_zero28",      "stockout_mean28",
                                            "item_sales_mean7", "store_sales_mean7", "days_since_promo",
                                            "price_ratio28"};
  // The inputs, then the seasonal naive of the horizon target, which eval reads and no feature does.
  ASSERT_EQ(config.time_series.columns.size(), derived.size() + 1);
  const TimeSeriesColumnConfig& naive = config.time_series.columns.back();
  EXPECT_EQ(naive.name, "units_next_7d_lag7");
  EXPECT_EQ(naive.column, "units_next_7d");
  EXPECT_EQ(naive.lag, 7);
  EXPECT_EQ(config.FindFeature(naive.name), nullptr);
  EXPECT_EQ(config.FindTask("units_next_7d")->naive, naive.name);
  EXPECT_EQ(config.FindTask("units_next_7d")->horizon, 7);
  EXPECT_EQ(config.FindTask("sales")->naive, "sales_lag7");
  EXPECT_EQ(config.FindTask("sales")->horizon, 1);
  for (size_t c = 0; c < derived.size(); ++c) {
    EXPECT_EQ(config.time_series.columns[c].name, derived[c]);
    const FeatureConfig* feature = config.FindFeature(derived[c]);
    ASSERT_NE(feature, nullptr) << derived[c];
    EXPECT_EQ(feature->kind, FeatureKind::kNumeric) << derived[c];
  }
  const TimeSeriesColumnConfig* item = config.time_series.Find("item_sales_mean7");
  EXPECT_EQ(item->by, (std::vector<std::string>{"item_id"}));
  EXPECT_EQ(item->window, 7);
  const TimeSeriesColumnConfig* price = config.time_series.Find("price_ratio28");
  EXPECT_EQ(price->op, TimeSeriesOp::kRatioToMean);
  EXPECT_EQ(price->column, "price");
  EXPECT_EQ(price->window, 28);
  EXPECT_EQ(config.time_series.Find("stockout_mean28")->column, "stockout");
  EXPECT_EQ(config.time_series.Find("days_since_promo")->op, TimeSeriesOp::kDaysSince);
}

TEST(RetailSimulator, BadOptionsAreRefused) {
  EXPECT_THROW(Simulated("few_days", Retail(2, 5, 10)), Error);
  EXPECT_THROW(Simulated("negative", Retail(-1, 5, 30)), Error);
  EXPECT_THROW(Simulated("huge", Retail(100000, 100000, 30)), Error);
  SimulatorOptions options = Retail(2, 5, 30);
  options.valid_fraction = 0.5;
  options.test_fraction = 0.5;
  EXPECT_THROW(Simulated("no_train", options), Error);
}

}  // namespace
}  // namespace mtrec
