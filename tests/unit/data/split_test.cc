#include "data/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

// A file of `rows` rows: an id, a user (one of `users`), a day as an ISO date whose text order is its time order,
// and a step number 1..rows written in a shuffled order (so "9" before "10" must sort as a number).
std::string WriteRows(const std::string& name, int64_t rows, int64_t users) {
  Rng rng(5);
  std::vector<int64_t> steps(rows);
  for (int64_t i = 0; i < rows; ++i) steps[i] = i + 1;
  for (int64_t i = rows - 1; i > 0; --i) std::swap(steps[i], steps[rng.Below(static_cast<uint64_t>(i) + 1)]);
  std::string text = "id,user,day,step\n";
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t day = 1 + static_cast<int64_t>(rng.Below(28));
    text += fmt::format("{},u{},2024-02-{:02d},{}\n", i, rng.Below(static_cast<uint64_t>(users)), day, steps[i]);
  }
  return WriteFile(TestDir("split_test"), name, text);
}

DataConfig Split(double valid, double test) {
  DataConfig data;
  data.cache = false;
  data.valid_fraction = valid;
  data.test_fraction = test;
  return data;
}

ColumnTable Load(const std::string& path, const DataConfig& data) {
  ColumnRequest id{"id", ColumnType::kNumeric, "", true, false, "feature 'id'"};
  return LoadTable(path, data, SplitRequests(data, {id}));
}

// Every row in exactly one part, each part in file order.
void ExpectPartition(const RowSplit& split, int64_t rows) {
  std::vector<int> seen(rows, 0);
  for (const auto* part : {&split.train, &split.valid, &split.test}) {
    EXPECT_TRUE(std::is_sorted(part->begin(), part->end()));
    for (int64_t row : *part) ++seen[row];
  }
  for (int64_t i = 0; i < rows; ++i) ASSERT_EQ(seen[i], 1) << "row " << i;
}

TEST(SplitTest, SameSeedGivesTheSameRowsAndFractionsAreExact) {
  const std::string path = WriteRows("rows.csv", 1000, 50);
  DataConfig data = Split(0.2, 0.1);
  const ColumnTable table = Load(path, data);
  const RowSplit a = SplitRows(table, data);
  ExpectPartition(a, 1000);
  EXPECT_EQ(a.valid.size(), 200u);
  EXPECT_EQ(a.test.size(), 100u);
  EXPECT_EQ(a.train.size(), 700u);
  const RowSplit b = SplitRows(table, data);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.test, b.test);
  data.split_seed = 2;
  const RowSplit c = SplitRows(table, data);
  EXPECT_EQ(c.valid.size(), 200u);
  EXPECT_NE(a.valid, c.valid);
  // Without a test fraction the validation rows are drawn alone.
  const RowSplit d = SplitRows(table, Split(0.25, 0));
  EXPECT_EQ(d.valid.size(), 250u);
  EXPECT_TRUE(d.test.empty());
}

TEST(SplitTest, GroupsNeverStraddleAndFractionsHoldWithinTolerance) {
  const std::string path = WriteRows("groups.csv", 20000, 2000);
  DataConfig data = Split(0.2, 0.1);
  data.split_group = "user";
  const ColumnTable table = Load(path, data);
  const RowSplit split = SplitRows(table, data);
  ExpectPartition(split, 20000);
  EXPECT_EQ(split.groups, 2000);
  const Column& user = table.Get("user", ColumnType::kCategorical);
  std::map<uint32_t, int> side;  // user code -> part
  int part_index = 0;
  std::map<int, std::set<uint32_t>> users;
  for (const auto* part : {&split.train, &split.valid, &split.test}) {
    for (int64_t row : *part) {
      const uint32_t code = user.codes[row];
      auto [it, inserted] = side.emplace(code, part_index);
      ASSERT_EQ(it->second, part_index) << "user " << user.Value(code) << " is on two sides";
      users[part_index].insert(code);
    }
    ++part_index;
  }
  // 2000 groups of about 10 rows: the share of groups is binomial (std ~0.009 at 0.2), the rows' a little wider.
  EXPECT_NEAR(static_cast<double>(users[1].size()) / 2000, 0.2, 0.03);
  EXPECT_NEAR(static_cast<double>(users[2].size()) / 2000, 0.1, 0.025);
  EXPECT_NEAR(static_cast<double>(split.valid.size()) / 20000, 0.2, 0.04);
  EXPECT_NEAR(static_cast<double>(split.test.size()) / 20000, 0.1, 0.03);
  // The side of a group is a function of its value and the seed: another file with the same users agrees.
  const std::string other = WriteRows("groups_other.csv", 3000, 2000);
  const ColumnTable other_table = Load(other, data);
  const RowSplit other_split = SplitRows(other_table, data);
  const Column& other_user = other_table.Get("user", ColumnType::kCategorical);
  std::map<std::string, int> side_by_value;
  for (const auto& [code, part] : side) side_by_value[std::string(user.Value(code))] = part;
  int compared = 0;
  part_index = 0;
  for (const auto* part : {&other_split.train, &other_split.valid, &other_split.test}) {
    for (int64_t row : *part) {
      auto it = side_by_value.find(std::string(other_user.Value(other_user.codes[row])));
      if (it == side_by_value.end()) continue;
      EXPECT_EQ(it->second, part_index);
      ++compared;
    }
    ++part_index;
  }
  EXPECT_GT(compared, 2500);
}

TEST(SplitTest, TimeSplitHoldsOutTheLatestRows) {
  const std::string path = WriteRows("time.csv", 500, 20);
  for (const char* column : {"day", "step"}) {
    DataConfig data = Split(0.2, 0.1);
    data.split_time = column;
    const ColumnTable table = Load(path, data);
    const RowSplit split = SplitRows(table, data);
    ExpectPartition(split, 500);
    ASSERT_EQ(split.valid.size(), 100u);
    ASSERT_EQ(split.test.size(), 50u);
    const Column& time = table.Get(column, ColumnType::kCategorical);
    auto key = [&](int64_t row) {
      const std::string text(time.Value(time.codes[row]));
      return std::string(column) == "step" ? fmt::format("{:08d}", std::stoi(text)) : text;
    };
    std::string latest_train, earliest_valid = "~", latest_valid, earliest_test = "~";
    for (int64_t row : split.train) latest_train = std::max(latest_train, key(row));
    for (int64_t row : split.valid) {
      earliest_valid = std::min(earliest_valid, key(row));
      latest_valid = std::max(latest_valid, key(row));
    }
    for (int64_t row : split.test) earliest_test = std::min(earliest_test, key(row));
    EXPECT_LE(latest_train, earliest_valid) << column;
    EXPECT_LE(latest_valid, earliest_test) << column;
    if (std::string(column) == "step") {
      // Steps are distinct: the test rows are exactly steps 451..500, numerically (as text "99" > "451").
      EXPECT_EQ(earliest_test, "00000451");
      EXPECT_EQ(earliest_valid, "00000351");
    }
  }
}

TEST(SplitTest, MissingTimeAndUnknownColumnAreRefused) {
  const std::string path =
      WriteFile(TestDir("split_test"), "missing.csv", "id,day\n1,2024-01-01\n2,\n3,2024-01-03\n");
  DataConfig data = Split(0.3, 0);
  data.split_time = "day";
  const ColumnTable table = Load(path, data);
  EXPECT_EQ(ErrorOf([&] { SplitRows(table, data); }),
            path + ":3: column 'day' is missing; data.split_time needs the time of every row");
  data.split_time = "dya";
  const std::string unknown = ErrorOf([&] { Load(path, data); });
  EXPECT_NE(unknown.find("has no column 'dya' (needed as data.split_time column) (did you mean 'day'?)"),
            std::string::npos)
      << unknown;
}

// By date: the validation and test days as given, training the days before the first of them, the days between
// and after them in neither range dropped (and counted), whatever the rows' order.
TEST(SplitTest, DateSplitCarvesTheRangesAndDropsTheDaysInNeither) {
  const std::string path = WriteRows("dates.csv", 2000, 30);
  Config config;
  config.data = Split(0, 0);
  config.data.split_by = SplitBy::kDate;
  config.data.valid_dates = "2024-02-15..2024-02-18";
  config.data.test_dates = "2024-02-22..2024-02-28";
  config.time_series.date = "day";
  const ColumnTable table = LoadTable(path, config.data, SplitRequests(config, {}));
  EXPECT_TRUE(SplitsTrainingFile(config.data));
  const RowSplit split = SplitRows(table, config);
  const Column& day = table.Get("day", ColumnType::kCategorical);
  std::vector<int> seen(2000, 0);
  auto check = [&](const std::vector<int64_t>& rows, const std::string& first, const std::string& last) {
    EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
    EXPECT_FALSE(rows.empty()) << first;
    for (int64_t row : rows) {
      const std::string text(day.Value(day.codes[row]));
      EXPECT_TRUE(text >= first && text <= last) << text << " outside " << first << ".." << last;
      ++seen[row];
    }
  };
  check(split.train, "2024-02-01", "2024-02-14");
  check(split.valid, "2024-02-15", "2024-02-18");
  check(split.test, "2024-02-22", "2024-02-28");
  check(split.dropped, "2024-02-19", "2024-02-21");
  for (int row = 0; row < 2000; ++row) ASSERT_EQ(seen[row], 1) << "row " << row;
  // A test range alone: training is every day before it, nothing dropped.
  config.data.valid_dates.clear();
  const RowSplit test_only = SplitRows(table, config);
  EXPECT_TRUE(test_only.valid.empty());
  EXPECT_TRUE(test_only.dropped.empty());
  EXPECT_EQ(test_only.train.size() + test_only.test.size(), 2000u);
  EXPECT_EQ(test_only.test, split.test);
}

TEST(SplitTest, DateSplitRefusesARowWithoutADate) {
  const std::string path =
      WriteFile(TestDir("split_test"), "bad_dates.csv", "id,day\n1,2024-01-01\n2,2024-02-30\n3,2024-01-03\n");
  Config config;
  config.data = Split(0, 0);
  config.data.split_by = SplitBy::kDate;
  config.data.test_dates = "2024-01-03..2024-01-03";
  config.time_series.date = "day";
  const ColumnTable table = LoadTable(path, config.data, SplitRequests(config, {}));
  EXPECT_EQ(ErrorOf([&] { SplitRows(table, config); }),
            path + ":3: column 'day' (time_series.date, read by data.split_by = \"date\") is '2024-02-30'; expected "
                   "a date yyyy-mm-dd");
}

}  // namespace
// Under mpirun each rank keeps blocks of one batch in turn: together the ranks hold every row once, and without
// shuffling the ranks' k-th batches are the k-th batch of one process with a batch of ranks × block rows.
TEST(ShardRowsTest, BlocksDealtInTurnCoverEveryRowOnce) {
  EXPECT_EQ(ShardRows(10, 2, 0, 2), (std::vector<int64_t>{0, 1, 4, 5, 8, 9}));
  EXPECT_EQ(ShardRows(10, 2, 1, 2), (std::vector<int64_t>{2, 3, 6, 7}));
  EXPECT_EQ(ShardRows(7, 3, 1, 3), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(ShardRows(7, 3, 2, 3), (std::vector<int64_t>{6}));
  EXPECT_TRUE(ShardRows(2, 3, 1, 2).empty());
  EXPECT_EQ(ShardRows(5, 4, 0, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  for (int ranks : {1, 2, 3, 5}) {
    for (int64_t block : {1, 4, 7}) {
      std::vector<int64_t> all;
      for (int r = 0; r < ranks; ++r) {
        const std::vector<int64_t> mine = ShardRows(53, block, r, ranks);
        all.insert(all.end(), mine.begin(), mine.end());
        // Batch k of rank r is rows k·ranks·block + r·block onwards.
        for (size_t i = 0; i < mine.size(); ++i) {
          const auto k = static_cast<int64_t>(i) / block;
          EXPECT_EQ(mine[i], k * ranks * block + r * block + static_cast<int64_t>(i) % block);
        }
      }
      std::sort(all.begin(), all.end());
      std::vector<int64_t> expected(53);
      std::iota(expected.begin(), expected.end(), int64_t{0});
      EXPECT_EQ(all, expected) << ranks << " ranks, blocks of " << block;
    }
  }
  EXPECT_THROW(ShardRows(10, 0, 0, 2), Error);
  EXPECT_THROW(ShardRows(10, 2, 2, 2), Error);
}

}  // namespace mtrec
