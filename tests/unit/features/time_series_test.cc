// Derived time-series columns against a slow reference that scans every row's series by date, on random series
// with gaps, missing values, shuffled rows and a split history; and the proof that no derived value reads the row's
// own day or a later one.
#include "features/time_series.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include "common/dates.h"
#include "common/rng.h"
#include "features/pipeline.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

// Every op, over the series (store, item) and over other entities, with lags and windows that cross the gaps.
const char* kConfig = R"(
[time_series]
date = "date"
series = ["store", "item"]
[[time_series.columns]]
name = "lag1"
column = "sales"
op = "lag"
[[time_series.columns]]
name = "lag7"
column = "sales"
op = "lag"
lag = 7
[[time_series.columns]]
name = "mean7"
column = "sales"
op = "mean"
window = 7
[[time_series.columns]]
name = "mean5_lag3"
column = "sales"
op = "mean"
lag = 3
window = 5
[[time_series.columns]]
name = "std7"
column = "sales"
op = "std"
window = 7
[[time_series.columns]]
name = "zero14"
column = "sales"
op = "zero_share"
window = 14
[[time_series.columns]]
name = "since_promo"
column = "promo"
op = "days_since"
[[time_series.columns]]
name = "price_ratio7"
column = "price"
op = "ratio_to_mean"
window = 7
[[time_series.columns]]
name = "item_mean3"
column = "sales"
op = "mean"
window = 3
by = ["item"]
[[time_series.columns]]
name = "store_lag2"
column = "sales"
op = "lag"
lag = 2
by = ["store"]
[[time_series.columns]]
name = "item_std10"
column = "price"
op = "std"
lag = 2
window = 10
by = ["item"]
[[time_series.columns]]
name = "item_since_promo"
column = "promo"
op = "days_since"
by = ["item"]
[[tasks]]
name = "sales"
kind = "regression"
)";

struct Row {
  int32_t day = 0;
  std::string store, item;
  double sales = 0, price = 0, promo = 0;  // NaN = missing
};

const int32_t kFirstDay = *ParseIsoDate("2023-01-01");

// 3 stores x 4 items, each store-item on about 70% of 60 days, a few days twice; sales often 0 and sometimes
// missing; rows in a shuffled order.
std::vector<Row> RandomRows(uint64_t seed) {
  Rng rng(seed);
  std::vector<Row> rows;
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < 4; ++i) {
      for (int d = 0; d < 60; ++d) {
        if (!rng.Bernoulli(0.7)) continue;
        const int copies = rng.Bernoulli(0.05) ? 2 : 1;
        for (int c = 0; c < copies; ++c) {
          Row row;
          row.day = kFirstDay + d;
          row.store = "s" + std::to_string(s);
          row.item = "i" + std::to_string(i);
          row.sales = rng.Bernoulli(0.08) ? NAN : rng.Bernoulli(0.35) ? 0 : static_cast<double>(1 + rng.Below(6));
          row.price = rng.Bernoulli(0.05) ? NAN : std::round((2.0 + i + 0.5 * rng.Uniform()) * 100) / 100;
          row.promo = rng.Bernoulli(0.15) ? 1 : 0;
          rows.push_back(row);
        }
      }
    }
  }
  for (size_t i = rows.size() - 1; i > 0; --i) std::swap(rows[i], rows[rng.Below(i + 1)]);
  return rows;
}

std::string Csv(const std::vector<Row>& rows) {
  auto number = [](double x) { return std::isnan(x) ? std::string() : fmt::format("{}", x); };
  std::string text = "date,store,item,sales,price,promo\n";
  for (const Row& row : rows) {
    text += fmt::format("{},{},{},{},{},{}\n", FormatIsoDate(row.day), row.store, row.item, number(row.sales),
                        number(row.price), number(row.promo));
  }
  return text;
}

ColumnTable Load(const Config& config, const std::string& name, const std::vector<Row>& rows) {
  DataConfig data;
  data.cache = false;
  const std::string path = WriteFile(TestDir("time_series_test"), name, Csv(rows));
  return LoadTable(path, data, FeaturePipeline::Requests(config, /*labels_required=*/true));
}

double SourceOf(const Row& row, const std::string& column) {
  return column == "sales" ? row.sales : column == "price" ? row.price : row.promo;
}

std::string EntityOf(const Row& row, const std::vector<std::string>& by) {
  std::string key;
  for (const auto& column : by) key += (column == "store" ? row.store : row.item) + "|";
  return key;
}

// The definition, read literally: the entity's value on a day is the mean of its rows' values that day (missing
// ones left out), and each op scans those days.
double Reference(const TimeSeriesColumnConfig& column, const std::vector<std::string>& entity, const Row& row,
                 const std::vector<Row>& all) {
  std::map<int32_t, std::pair<double, int>> days;  // day -> (sum, count) of the entity's values
  const std::string key = EntityOf(row, entity);
  for (const Row& other : all) {
    if (EntityOf(other, entity) != key) continue;
    auto& [sum, count] = days[other.day];
    const double value = SourceOf(other, column.column);
    if (!std::isnan(value)) {
      sum += value;
      ++count;
    }
  }
  auto value_on = [&](int32_t day) {
    auto it = days.find(day);
    return it == days.end() || it->second.second == 0 ? NAN : it->second.first / it->second.second;
  };
  const int32_t d = row.day;
  std::vector<double> window;
  for (int32_t day = d - static_cast<int32_t>(column.lag + column.window) + 1; day <= d - column.lag; ++day) {
    if (!std::isnan(value_on(day))) window.push_back(value_on(day));
  }
  double mean = NAN;
  if (!window.empty()) {
    mean = 0;
    for (double x : window) mean += x;
    mean /= static_cast<double>(window.size());
  }
  switch (column.op) {
    case TimeSeriesOp::kLag:
      return value_on(d - static_cast<int32_t>(column.lag));
    case TimeSeriesOp::kMean:
      return mean;
    case TimeSeriesOp::kStd: {
      if (window.size() < 2) return NAN;
      double squares = 0;
      for (double x : window) squares += (x - mean) * (x - mean);
      return std::sqrt(squares / static_cast<double>(window.size()));
    }
    case TimeSeriesOp::kZeroShare:
      return window.empty() ? NAN
                            : static_cast<double>(std::count(window.begin(), window.end(), 0.0)) /
                                  static_cast<double>(window.size());
    case TimeSeriesOp::kDaysSince:
      for (int32_t day = d - 1; day >= d - 1000; --day) {
        const double x = value_on(day);
        if (!std::isnan(x) && x != 0) return d - day;
      }
      return NAN;
    case TimeSeriesOp::kRatioToMean:
      return std::isnan(mean) || mean == 0 ? NAN : value_on(d) / mean;
  }
  return NAN;
}

void ExpectMatchesReference(const Config& config, const ColumnTable& table, const std::vector<Row>& rows,
                            const std::vector<Row>& all) {
  for (const auto& column : config.time_series.columns) {
    const Column& values = table.Get(column.name, ColumnType::kNumeric);
    ASSERT_EQ(values.numbers.size(), rows.size());
    int64_t present = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      const double expected = Reference(column, config.time_series.EntityOf(column), rows[r], all);
      const float got = values.numbers[r];
      present += !std::isnan(got);
      if (std::isnan(expected)) {
        ASSERT_TRUE(std::isnan(got)) << column.name << " row " << r << ": " << got << ", expected missing";
      } else {
        ASSERT_NEAR(got, expected, 1e-5 * std::max(1.0, std::abs(expected))) << column.name << " row " << r;
      }
    }
    EXPECT_GT(present, static_cast<int64_t>(rows.size()) / 3) << column.name << ": too few values to test";
  }
}

TEST(TimeSeriesTest, EveryOpMatchesTheSlowReference) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  for (uint64_t seed : {1, 2, 3}) {
    const std::vector<Row> rows = RandomRows(seed);
    ColumnTable table = Load(config, "all.csv", rows);
    const TimeSeriesReport report = AddTimeSeriesColumns(config, table, {});
    EXPECT_EQ(report.rows, static_cast<int64_t>(rows.size()));
    EXPECT_EQ(report.history_rows, 0);
    ExpectMatchesReference(config, table, rows, rows);
  }
}

TEST(TimeSeriesTest, AHistoryCountsAsTheRowsBefore) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  const std::vector<Row> rows = RandomRows(4);
  std::vector<Row> early, middle, late;
  for (const Row& row : rows) {
    (row.day < kFirstDay + 25 ? early : row.day < kFirstDay + 40 ? middle : late).push_back(row);
  }
  const ColumnTable first = Load(config, "early.csv", early);
  const ColumnTable second = Load(config, "middle.csv", middle);
  ColumnTable table = Load(config, "late.csv", late);
  const TimeSeriesReport report = AddTimeSeriesColumns(config, table, {&first, &second});
  EXPECT_EQ(report.history_rows, static_cast<int64_t>(early.size() + middle.size()));
  ExpectMatchesReference(config, table, late, rows);
  // Without the history the late file's first days lack their lags.
  ColumnTable alone = Load(config, "late_alone.csv", late);
  const TimeSeriesReport without = AddTimeSeriesColumns(config, alone, {});
  EXPECT_GT(without.missing[0], report.missing[0]);
  ExpectMatchesReference(config, alone, late, late);
}

// Every value at the row's day or later changes, and rows appear on later days; the derived values of the rows up
// to that day stay bit for bit. ratio_to_mean reads its source (price, not a label) on the row's own day only.
TEST(TimeSeriesTest, NoDerivedValueReadsTheRowsOwnDayOrALaterOne) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  const std::vector<Row> rows = RandomRows(5);
  ColumnTable table = Load(config, "rows.csv", rows);
  AddTimeSeriesColumns(config, table, {});
  for (int cut : {0, 1, 7, 20, 33, 59}) {
    const int32_t day = kFirstDay + cut;
    Rng rng(100 + cut);
    std::vector<Row> changed = rows;
    for (Row& row : changed) {
      if (row.day < day) continue;
      row.sales = rng.Bernoulli(0.5) ? NAN : static_cast<double>(rng.Below(50));
      row.promo = 1 - (std::isnan(row.promo) ? 0 : row.promo);
      if (row.day > day) row.price = 100 * rng.Uniform();
    }
    for (int extra = 0; extra < 20; ++extra) {
      Row row = rows[rng.Below(rows.size())];
      row.day = day + 1 + static_cast<int32_t>(rng.Below(30));
      row.sales = static_cast<double>(rng.Below(9));
      changed.push_back(row);
    }
    ColumnTable other = Load(config, "changed.csv", changed);
    AddTimeSeriesColumns(config, other, {});
    int64_t compared = 0;
    for (const auto& column : config.time_series.columns) {
      const Column& before = table.Get(column.name, ColumnType::kNumeric);
      const Column& after = other.Get(column.name, ColumnType::kNumeric);
      for (size_t r = 0; r < rows.size(); ++r) {
        if (rows[r].day > day) continue;
        ++compared;
        ASSERT_TRUE(before.numbers[r] == after.numbers[r] ||
                    (std::isnan(before.numbers[r]) && std::isnan(after.numbers[r])))
            << column.name << " row " << r << " on " << FormatIsoDate(rows[r].day) << " changed with the values from "
            << FormatIsoDate(day) << " on: " << before.numbers[r] << " -> " << after.numbers[r];
      }
    }
    EXPECT_GT(compared, 0);
  }
  // The exception, shown: the day's own price moves price_ratio7 and nothing else.
  std::vector<Row> repriced = rows;
  for (Row& row : repriced) row.price *= 2;
  ColumnTable other = Load(config, "repriced.csv", repriced);
  AddTimeSeriesColumns(config, other, {});
  const Column& before = table.Get("price_ratio7", ColumnType::kNumeric);
  const Column& after = other.Get("price_ratio7", ColumnType::kNumeric);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (!std::isnan(before.numbers[r])) {
      ASSERT_NEAR(after.numbers[r], before.numbers[r], 1e-5);  // a ratio of prices
    }
  }
}

// A cutoff (the origin of a backtest's forecast): every source value dated after it is unknown, for every row,
// those after it included. Changing them or adding rows after it changes nothing; the values equal the reference
// over the rows with those values missing.
TEST(TimeSeriesTest, ValuesAfterTheCutoffAreUnknown) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  const std::vector<Row> rows = RandomRows(6);
  const int32_t cutoff = kFirstDay + 45;
  const ColumnTable history = Load(config, "cut_history.csv", rows);
  ColumnTable table = Load(config, "cut_rows.csv", rows);
  AddTimeSeriesColumns(config, table, {&history}, cutoff);
  std::vector<Row> unknown = rows;
  for (Row& row : unknown) {
    if (row.day > cutoff) row.sales = row.price = row.promo = NAN;
  }
  ExpectMatchesReference(config, table, rows, unknown);

  Rng rng(7);
  std::vector<Row> changed = rows;
  for (Row& row : changed) {
    if (row.day <= cutoff) continue;
    row.sales = static_cast<double>(rng.Below(50));
    row.price = 100 * rng.Uniform();
    row.promo = 1;
  }
  std::vector<Row> longer = changed;
  for (int extra = 0; extra < 20; ++extra) {
    Row row = rows[rng.Below(rows.size())];
    row.day = cutoff + 1 + static_cast<int32_t>(rng.Below(30));
    longer.push_back(row);
  }
  const ColumnTable other_history = Load(config, "cut_changed_history.csv", longer);
  ColumnTable other = Load(config, "cut_changed.csv", changed);
  AddTimeSeriesColumns(config, other, {&other_history}, cutoff);
  for (const auto& column : config.time_series.columns) {
    const Column& before = table.Get(column.name, ColumnType::kNumeric);
    const Column& after = other.Get(column.name, ColumnType::kNumeric);
    for (size_t r = 0; r < rows.size(); ++r) {
      ASSERT_TRUE(before.numbers[r] == after.numbers[r] ||
                  (std::isnan(before.numbers[r]) && std::isnan(after.numbers[r])))
          << column.name << " row " << r << " on " << FormatIsoDate(rows[r].day) << " read a value after the cutoff "
          << FormatIsoDate(cutoff) << ": " << before.numbers[r] << " -> " << after.numbers[r];
    }
  }
}

// The server's index derives a request's rows as the files' path derives a file after the history holding them:
// rows in any order, on days after the history and on days it also has (the rows of a day together), with and
// without days of several rows (the two ways the index keeps a day).
TEST(TimeSeriesTest, TheServersIndexDerivesAsTheFilesPathDoes) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  for (bool one_row_a_day : {false, true}) {
    std::vector<Row> rows = RandomRows(one_row_a_day ? 7 : 6);
    if (one_row_a_day) {
      std::set<std::tuple<int32_t, std::string, std::string>> seen;
      std::erase_if(rows, [&](const Row& row) { return !seen.insert({row.day, row.store, row.item}).second; });
    }
    // The history: days before 30, and about half the rows of days 30 to 39; the request: the rest.
    Rng rng(8);
    std::vector<Row> early, middle, request;
    for (const Row& row : rows) {
      if (row.day < kFirstDay + 20) {
        early.push_back(row);
      } else if (row.day < kFirstDay + 30 || (row.day < kFirstDay + 40 && rng.Bernoulli(0.5))) {
        middle.push_back(row);
      } else {
        request.push_back(row);
      }
    }
    const ColumnTable first = Load(config, "index_early.csv", early);
    const ColumnTable second = Load(config, "index_middle.csv", middle);
    ColumnTable table = Load(config, "index_request.csv", request);
    AddTimeSeriesColumns(config, table, {&first, &second});

    const TimeSeriesIndex index(config, {&first, &second});
    EXPECT_EQ(index.history_rows(), static_cast<int64_t>(early.size() + middle.size()));
    EXPECT_EQ(index.entities(), 12 + 4 + 3);  // store x item, item, store
    EXPECT_GT(index.bytes(), static_cast<size_t>(index.points()) * sizeof(int32_t));
    ASSERT_EQ(index.key_columns(), (std::vector<std::string>{"store", "item"}));
    TimeSeriesRows query = index.NewRows(static_cast<int64_t>(request.size()) + 1);  // the last row has no day
    const size_t sources = index.sources().size();
    for (size_t r = 0; r < request.size(); ++r) {
      query.days[r] = request[r].day;
      query.keys[r * 2] = TimeSeriesIndex::TextKey(request[r].store);
      query.keys[r * 2 + 1] = TimeSeriesIndex::TextKey(request[r].item);
      for (size_t s = 0; s < sources; ++s) query.sources[r * sources + s] = SourceOf(request[r], index.sources()[s]);
    }
    const std::vector<float> derived = index.Derive(query);
    const size_t columns = config.time_series.columns.size();
    ASSERT_EQ(derived.size(), (request.size() + 1) * columns);
    for (size_t c = 0; c < columns; ++c) {
      const std::string& name = config.time_series.columns[c].name;
      const Column& expected = table.Get(name, ColumnType::kNumeric);
      for (size_t r = 0; r < request.size(); ++r) {
        const float want = expected.numbers[r];
        const float got = derived[r * columns + c];
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(got)) << name << " row " << r << ": " << got << ", expected missing";
        } else {
          // The window sums start at another day of the series, so the last bits may round apart.
          ASSERT_NEAR(got, want, 1e-6 * std::max(1.f, std::abs(want))) << name << " row " << r;
        }
      }
      EXPECT_TRUE(std::isnan(derived[request.size() * columns + c])) << name;
    }
  }
}

TEST(TimeSeriesTest, DerivedColumnsAreNotReadFromTheFile) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  for (const ColumnRequest& request : FeaturePipeline::Requests(config, /*labels_required=*/false)) {
    EXPECT_EQ(config.time_series.Find(request.name), nullptr) << request.name;
    if (request.name == "sales") {
      EXPECT_FALSE(request.required);  // a label: absent in a file to score
    }
    if (request.name == "price") {
      EXPECT_TRUE(request.required);
    }
  }
}

TEST(TimeSeriesTest, ABadDateNamesItsLineAndColumn) {
  const Config config = ParseConfig(kConfig, "cfg.toml");
  DataConfig data;
  data.cache = false;
  const std::string path = WriteFile(TestDir("time_series_test"), "bad_date.csv",
                                     "date,store,item,sales,price,promo\n2023-01-01,s0,i0,1,2,0\n"
                                     "2023-01-32,s0,i0,1,2,0\n");
  ColumnTable table = LoadTable(path, data, FeaturePipeline::Requests(config, true));
  EXPECT_EQ(ErrorOf([&] { AddTimeSeriesColumns(config, table, {}); }),
            path + ":3: column 'date' (time_series.date) is '2023-01-32'; expected a date yyyy-mm-dd");
}

TEST(TimeSeriesTest, DatesRoundTripAndRefuseDaysTheMonthLacks) {
  EXPECT_EQ(ParseIsoDate("1970-01-01"), 0);
  EXPECT_EQ(ParseIsoDate("2024-02-29").value() - ParseIsoDate("2024-02-28").value(), 1);
  EXPECT_FALSE(ParseIsoDate("2023-02-29").has_value());
  EXPECT_FALSE(ParseIsoDate("2023-1-05").has_value());
  EXPECT_FALSE(ParseIsoDate("2023-13-01").has_value());
  for (int32_t day = -800; day < 40000; day += 7) EXPECT_EQ(ParseIsoDate(FormatIsoDate(day)), day);
  EXPECT_EQ(FormatIsoDate(*ParseIsoDate("2000-03-01")), "2000-03-01");
}

}  // namespace
}  // namespace mtrec
