#include "data/simulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/error.h"
#include "common/strings.h"
#include "common/threads.h"
#include "support/simulated_csv.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

// AUC by sorting, ties by average rank: an independent re-implementation for the oracle check.
double SimpleAuc(const std::vector<double>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    double rank = (i + 1 + j) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]]) {
        rank_sum += rank;
        ++positives;
      }
    }
    i = j;
  }
  double negatives = scores.size() - positives;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

class SimulatorTest : public testing::Test {
 protected:
  static fs::path Run(const std::string& name, SimulatorOptions options) {
    fs::path dir = fs::path(testing::TempDir()) / ("mtrec_sim_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(dir);
    Simulate(options, dir.string());
    RemoveAtExit(dir);
    return dir;
  }
  static SimulatorOptions Small(uint64_t seed = 5) {
    SimulatorOptions options;
    options.rows = 40000;
    options.seed = seed;
    return options;
  }
};

TEST_F(SimulatorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  fs::path a = Run("a", Small(5));
  fs::path b = Run("b", Small(5));
  fs::path c = Run("c", Small(6));
  for (const char* file : {"train.csv", "valid.csv", "test.csv", "config.toml"}) {
    EXPECT_EQ(ReadFileBytes(a / file), ReadFileBytes(b / file)) << file;
  }
  EXPECT_NE(ReadFileBytes(a / "train.csv"), ReadFileBytes(c / "train.csv"));
}

TEST_F(SimulatorTest, ColumnsSplitsAndLabelConsistency) {
  fs::path dir = Run("labels", Small());
  Rows train = ReadCsv(dir / "train.csv");
  const std::vector<std::string> expected = {
      "user_id", "age_bucket", "gender", "city", "user_level", "item_id", "category", "brand", "hour", "device",
      "price", "item_rating", "item_sales", "user_activity", "position", "recent_categories", "click", "cart",
      "purchase", "gmv", "p_click", "p_cart", "p_purchase", "p_purchase_given_click", "expected_gmv"};
  EXPECT_EQ(train.header, expected);
  EXPECT_EQ(train.cells.size(), 32000u);
  EXPECT_EQ(ReadCsv(dir / "valid.csv").cells.size(), 4000u);
  EXPECT_EQ(ReadCsv(dir / "test.csv").cells.size(), 4000u);

  double clicks = 0, purchases = 0, carts = 0, p_click_sum = 0;
  size_t missing_rating = 0;
  for (size_t r = 0; r < train.cells.size(); ++r) {
    ASSERT_EQ(train.cells[r].size(), expected.size()) << "row " << r;
    const double click = train.Number(r, "click"), cart = train.Number(r, "cart");
    const double purchase = train.Number(r, "purchase"), gmv = train.Number(r, "gmv");
    EXPECT_TRUE(click == 0 || click == 1);
    EXPECT_LE(cart, click) << "row " << r;  // no cart or purchase without a click
    EXPECT_LE(purchase, click) << "row " << r;
    EXPECT_EQ(gmv > 0, purchase == 1) << "row " << r;
    const double p_click = train.Number(r, "p_click"), p_purchase = train.Number(r, "p_purchase");
    const double p_given = train.Number(r, "p_purchase_given_click");
    EXPECT_NEAR(p_purchase, p_click * p_given, 1e-5 + 1e-5 * p_purchase) << "row " << r;
    EXPECT_GT(p_click, 0);
    EXPECT_LT(p_click, 1);
    clicks += click;
    carts += cart;
    purchases += purchase;
    p_click_sum += p_click;
    missing_rating += train.cells[r][train.Column("item_rating")].empty();
  }
  const double n = train.cells.size();
  EXPECT_GT(clicks / n, 0.04);
  EXPECT_LT(clicks / n, 0.08);
  EXPECT_GT(purchases / clicks, 0.10);
  EXPECT_LT(purchases / clicks, 0.25);
  EXPECT_GT(carts / clicks, 0.20);
  EXPECT_LT(carts / clicks, 0.35);
  // The empirical click rate agrees with the mean true probability within a few standard errors.
  const double mean_p = p_click_sum / n;
  EXPECT_NEAR(clicks / n, mean_p, 4 * std::sqrt(mean_p * (1 - mean_p) / n));
  EXPECT_GT(missing_rating, 0.01 * n);
  EXPECT_LT(missing_rating, 0.08 * n);
}

TEST_F(SimulatorTest, OracleRanksClicksAndPurchasesWell) {
  Rows train = ReadCsv(Run("oracle", Small()) / "train.csv");
  std::vector<double> p_click, p_purchase;
  std::vector<int> click, purchase;
  for (size_t r = 0; r < train.cells.size(); ++r) {
    p_click.push_back(train.Number(r, "p_click"));
    p_purchase.push_back(train.Number(r, "p_purchase"));
    click.push_back(static_cast<int>(train.Number(r, "click")));
    purchase.push_back(static_cast<int>(train.Number(r, "purchase")));
  }
  EXPECT_GT(SimpleAuc(p_click, click), 0.72);
  EXPECT_GT(SimpleAuc(p_purchase, purchase), 0.78);
}

double PearsonOfLogits(const Rows& rows) {
  std::vector<double> a, b;
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    double pc = rows.Number(r, "p_click"), pp = rows.Number(r, "p_purchase_given_click");
    a.push_back(std::log(pc / (1 - pc)));
    b.push_back(std::log(pp / (1 - pp)));
  }
  double ma = std::accumulate(a.begin(), a.end(), 0.0) / a.size();
  double mb = std::accumulate(b.begin(), b.end(), 0.0) / b.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST_F(SimulatorTest, TaskCorrelationKnobMovesTheCorrelation) {
  SimulatorOptions low = Small(), high = Small();
  low.rows = high.rows = 10000;
  low.task_correlation = 0.1;
  high.task_correlation = 0.9;
  const double r_low = PearsonOfLogits(ReadCsv(Run("corr_low", low) / "train.csv"));
  const double r_high = PearsonOfLogits(ReadCsv(Run("corr_high", high) / "train.csv"));
  EXPECT_GT(r_high, r_low + 0.15) << "low " << r_low << " high " << r_high;
}

// Mean true p(purchase | click) over the clicked rows, minus its mean over every row.
double ConversionGapOfClicks(const Rows& rows) {
  double clicked = 0, clicks = 0, all = 0;
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    const double p = rows.Number(r, "p_purchase_given_click");
    all += p;
    if (rows.Number(r, "click") == 1) {
      clicked += p;
      ++clicks;
    }
  }
  return clicked / clicks - all / static_cast<double>(rows.cells.size());
}

TEST_F(SimulatorTest, UnobservedSelectionMakesClicksConvertMoreThanAllImpressions) {
  SimulatorOptions observed = Small(), hidden = Small();
  observed.rows = hidden.rows = 20000;
  hidden.selection_unobserved = 1;
  const Rows without = ReadCsv(Run("intent_none", observed) / "train.csv");
  const Rows with = ReadCsv(Run("intent_full", hidden) / "train.csv");
  // The intent is not a column: the same header, the same features row by row, other truths and labels.
  ASSERT_EQ(with.header, without.header);
  ASSERT_EQ(with.cells.size(), without.cells.size());
  for (size_t r = 0; r < 100; ++r) {
    for (const char* feature : {"user_id", "item_id", "position", "price"}) {
      EXPECT_EQ(with.cells[r][with.Column(feature)], without.cells[r][without.Column(feature)]) << feature << " row " << r;
    }
  }
  // Intent raises both logits, so the clicked rows' conversion rises above that of all impressions...
  const double gap_without = ConversionGapOfClicks(without);
  const double gap_with = ConversionGapOfClicks(with);
  EXPECT_GT(gap_with, gap_without + 0.03) << "without " << gap_without << " with " << gap_with;
  // ... and the two truths move together more than the observed drivers make them.
  EXPECT_GT(PearsonOfLogits(with), PearsonOfLogits(without) + 0.1);
}

// Mean click logit per category over the given rows (categories with 20 rows or more).
std::map<std::string, double> CategoryClickLogits(const Rows& rows, const std::vector<size_t>& which) {
  std::map<std::string, std::pair<double, int>> sums;
  for (size_t r : which) {
    const double p = rows.Number(r, "p_click");
    auto& [sum, count] = sums[rows.cells[r][rows.Column("category")]];
    sum += std::log(p / (1 - p));
    ++count;
  }
  std::map<std::string, double> means;
  for (const auto& [category, sum_count] : sums) {
    if (sum_count.second >= 20) means[category] = sum_count.first / sum_count.second;
  }
  return means;
}

double CorrelationOverCommonKeys(const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
  std::vector<double> x, y;
  for (const auto& [key, value] : a) {
    if (b.count(key)) {
      x.push_back(value);
      y.push_back(b.at(key));
    }
  }
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

TEST_F(SimulatorTest, ScenariosHaveHalvingSharesAndTastesOfTheirOwn) {
  SimulatorOptions options = Small();
  options.scenarios = 3;
  const fs::path dir = Run("scenarios", options);
  const Rows rows = ReadCsv(dir / "train.csv");
  ASSERT_EQ(rows.header.front(), "scenario");
  std::map<std::string, std::vector<size_t>> by_scenario;
  for (size_t r = 0; r < rows.cells.size(); ++r) by_scenario[rows.cells[r][0]].push_back(r);
  ASSERT_EQ(by_scenario.size(), 3u);
  const double total = static_cast<double>(rows.cells.size());
  EXPECT_NEAR(by_scenario["s1"].size() / total, 4.0 / 7, 0.01);
  EXPECT_NEAR(by_scenario["s2"].size() / total, 2.0 / 7, 0.01);
  EXPECT_NEAR(by_scenario["s3"].size() / total, 1.0 / 7, 0.01);
  // Within a scenario the category effects agree half against half; between scenarios they were turned apart.
  std::vector<size_t> even, odd;
  for (size_t i = 0; i < by_scenario["s1"].size(); ++i) (i % 2 ? odd : even).push_back(by_scenario["s1"][i]);
  const auto s1 = CategoryClickLogits(rows, by_scenario["s1"]);
  EXPECT_GT(CorrelationOverCommonKeys(CategoryClickLogits(rows, even), CategoryClickLogits(rows, odd)), 0.95);
  EXPECT_LT(CorrelationOverCommonKeys(s1, CategoryClickLogits(rows, by_scenario["s2"])), 0.85);
  EXPECT_LT(CorrelationOverCommonKeys(s1, CategoryClickLogits(rows, by_scenario["s3"])), 0.85);
  const std::string config = ReadFileBytes(dir / "config.toml");
  EXPECT_NE(config.find("name = \"scenario\""), std::string::npos);
  EXPECT_NE(config.find("slice_by = \"scenario\""), std::string::npos);
}

TEST_F(SimulatorTest, WritesAConfigDeclaringTheFourTasks) {
  std::string config = ReadFileBytes(Run("config", Small()) / "config.toml");
  for (const char* text : {"name = \"click\"", "name = \"cart\"", "name = \"purchase\"", "name = \"gmv\"",
                           "oracle = \"p_click\"", "kind = \"multi_categorical\"", "train = \"train.csv\""}) {
    EXPECT_NE(config.find(text), std::string::npos) << text;
  }
}

TEST_F(SimulatorTest, BadOptionsAreRefused) {
  SimulatorOptions options = Small();
  options.preset = "grocery";
  EXPECT_THROW(Run("bad_preset", options), Error);
  options = Small();
  options.rows = 10;
  EXPECT_THROW(Run("bad_rows", options), Error);
  options = Small();
  options.selection_unobserved = 1.5;
  EXPECT_THROW(Run("bad_intent", options), Error);
  for (const int64_t scenarios : {1, 9, -2}) {
    options = Small();
    options.scenarios = scenarios;
    EXPECT_THROW(Run("bad_scenarios", options), Error) << scenarios;
  }
  // Eight scenarios over 2000 rows would leave the smallest 7 of them.
  options = Small();
  options.rows = 2000;
  options.scenarios = 8;
  try {
    Run("scenario_rows", options);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("2000 rows leave scenario s8 7 rows"), std::string::npos) << error.what();
  }
}


// Daily partitions with drift (days > 0).

fs::path Simulated(const std::string& name, const SimulatorOptions& options, SimulatorSummary* summary = nullptr) {
  fs::path dir = fs::path(testing::TempDir()) / ("mtrec_days_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const SimulatorSummary written = Simulate(options, dir.string());
  RemoveAtExit(dir);
  if (summary != nullptr) *summary = written;
  return dir;
}

SimulatorOptions Days(int64_t days, int64_t rows, std::optional<double> drift = std::nullopt, uint64_t seed = 5) {
  SimulatorOptions options;
  options.days = days;
  options.rows = rows;
  options.drift = drift;
  options.seed = seed;
  return options;
}

// Every file of a run, by its path inside the folder.
std::map<std::string, std::string> FilesOf(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = ReadFileBytes(entry.path());
  }
  return files;
}

// The days on which each id of `column` appears, over the day files of one market.
std::map<int64_t, std::set<int64_t>> DaysSeen(const fs::path& days_dir, int64_t days, const std::string& column,
                                               size_t prefix) {
  std::map<int64_t, std::set<int64_t>> seen;
  for (int64_t day = 1; day <= days; ++day) {
    Rows rows = ReadCsv(days_dir / fmt::format("day-{:03}.csv", day));
    for (size_t r = 0; r < rows.cells.size(); ++r) {
      seen[std::stoll(rows.cells[r][rows.Column(column)].substr(prefix))].insert(day);
    }
  }
  return seen;
}

// The mean true click logit of each category over one day's rows.
std::map<std::string, double> CategoryClickLogits(const Rows& rows) {
  std::map<std::string, std::pair<double, int>> sums;
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    const double p = rows.Number(r, "p_click");
    auto& [sum, count] = sums[rows.cells[r][rows.Column("category")]];
    sum += std::log(p / (1 - p));
    ++count;
  }
  std::map<std::string, double> means;
  for (const auto& [category, sum_count] : sums) means[category] = sum_count.first / sum_count.second;
  return means;
}

double Correlation(const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
  std::vector<double> x, y;
  for (const auto& [key, value] : a) {
    if (b.count(key) == 0) continue;
    x.push_back(value);
    y.push_back(b.at(key));
  }
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

TEST(SimulatorDays, SameOptionsSameBytesWhateverTheThreadCount) {
  SimulatorOptions options = Days(8, 3000);
  options.market_share = 0.1;
  const int threads = Threads();
  SetThreads(1);
  const auto one = FilesOf(Simulated("one_thread", options));
  SetThreads(3);
  const auto three = FilesOf(Simulated("three_threads", options));
  options.seed = 6;
  const auto other = FilesOf(Simulated("other_seed", options));
  SetThreads(threads);
  ASSERT_EQ(one.size(), 2u * (8 + 4));  // per market: 8 days, train, valid, test, config
  for (const auto& [name, bytes] : one) {
    ASSERT_TRUE(three.count(name)) << name;
    EXPECT_EQ(bytes, three.at(name)) << name;
  }
  EXPECT_NE(one.at("days/day-001.csv"), other.at("days/day-001.csv"));
}

// Without days the output is that of the snapshot simulator before daily partitions existed, byte for byte.
TEST(SimulatorDays, NoDaysWritesTheSnapshotAsBefore) {
  SimulatorOptions options;
  options.rows = 3000;
  options.seed = 5;
  const fs::path dir = Simulated("snapshot", options);
  const std::map<std::string, uint32_t> expected = {
      {"train.csv", 0x6438a78u}, {"valid.csv", 0xdf896110u}, {"test.csv", 0x7cd610abu}, {"config.toml", 0x60ff2cdu}};
  for (const auto& [file, crc] : expected) {
    const std::string bytes = ReadFileBytes(dir / file);
    EXPECT_EQ(Crc32(bytes.data(), bytes.size()), crc) << file;
  }
}

TEST(SimulatorDays, LayoutSplitsAndSummary) {
  SimulatorSummary summary;
  const fs::path dir = Simulated("layout", Days(6, 2000), &summary);
  EXPECT_EQ(summary.days, 6);
  EXPECT_EQ(summary.train_days, 4);
  EXPECT_EQ(summary.valid_days, 1);
  EXPECT_EQ(summary.test_days, 1);
  EXPECT_EQ(summary.train_rows, 8000);
  EXPECT_EQ(summary.valid_rows, 2000);
  EXPECT_EQ(summary.test_rows, 2000);
  EXPECT_DOUBLE_EQ(summary.drift, 0.5);
  EXPECT_EQ(summary.market_rows, 0);
  EXPECT_FALSE(fs::exists(dir / "market-b"));

  // train.csv is days 1-4 one after the other, valid.csv day 5, test.csv day 6; all with the snapshot's columns
  // after day and market.
  std::string train;
  std::string header;
  for (int day = 1; day <= 6; ++day) {
    const std::string bytes = ReadFileBytes(dir / "days" / fmt::format("day-{:03}.csv", day));
    const size_t end_of_header = bytes.find('\n') + 1;
    if (day == 1) {
      header = bytes.substr(0, end_of_header);
      train = header;
    }
    EXPECT_EQ(bytes.substr(0, end_of_header), header);
    if (day <= 4) train += bytes.substr(end_of_header);
    if (day == 5) {
      EXPECT_EQ(bytes, ReadFileBytes(dir / "valid.csv"));
    }
    if (day == 6) {
      EXPECT_EQ(bytes, ReadFileBytes(dir / "test.csv"));
    }
  }
  EXPECT_EQ(train, ReadFileBytes(dir / "train.csv"));
  Rows day3 = ReadCsv(dir / "days" / "day-003.csv");
  ASSERT_EQ(day3.cells.size(), 2000u);
  EXPECT_EQ(day3.header[0], "day");
  EXPECT_EQ(day3.header[1], "market");
  EXPECT_EQ(day3.header[2], "user_id");
  EXPECT_EQ(day3.header.back(), "expected_gmv");
  for (const auto& cells : day3.cells) {
    ASSERT_EQ(cells.size(), day3.header.size());
    EXPECT_EQ(cells[0], "3");
    EXPECT_EQ(cells[1], "a");
  }
  const std::string config = ReadFileBytes(dir / "config.toml");
  EXPECT_NE(config.find("train.csv holds days 1-4, valid.csv day 5, test.csv day 6"), std::string::npos) << config;
  EXPECT_NE(config.find("train = \"train.csv\""), std::string::npos);
  EXPECT_EQ(config.find("name = \"market\""), std::string::npos);

  // A shorter run into the same folder leaves only its own days.
  SimulatorOptions shorter = Days(4, 2000);
  Simulate(shorter, dir.string());
  EXPECT_TRUE(fs::exists(dir / "days" / "day-004.csv"));
  EXPECT_FALSE(fs::exists(dir / "days" / "day-005.csv"));
  EXPECT_FALSE(fs::exists(dir / "days" / "day-006.csv"));
}

// A catalogue small enough that every item on sale is shown every day: the days an item appears are those it is
// on sale.
TEST(SimulatorDays, ItemsAreLaunchedAndRetired) {
  SimulatorOptions options = Days(20, 12000, 1.0);
  options.items = 30;
  options.selection_bias = 0;
  SimulatorSummary summary;
  const fs::path dir = Simulated("items", options, &summary);
  EXPECT_EQ(summary.items_first_day, 30);
  EXPECT_GT(summary.items_launched, 15);
  const auto seen = DaysSeen(dir / "days", 20, "item_id", 1);
  int64_t retired = 0, launched_seen = 0, previous_first = 0;
  for (const auto& [id, days] : seen) {
    // On sale on consecutive days: once gone, an item never comes back.
    EXPECT_EQ(*days.rbegin() - *days.begin() + 1, static_cast<int64_t>(days.size())) << "item " << id;
    if (id < 30) {
      EXPECT_EQ(*days.begin(), 1) << "item " << id;
      retired += *days.rbegin() < 20;
    } else {
      // Launched ids are new ones, in the order of their launch days.
      EXPECT_GE(*days.begin(), 2) << "item " << id;
      EXPECT_GE(*days.begin(), previous_first) << "item " << id;
      previous_first = *days.begin();
      ++launched_seen;
    }
  }
  EXPECT_GT(retired, 10);
  EXPECT_GT(launched_seen, 15);
  EXPECT_GT(summary.late_item_share, 0.3);

  // A launched item shows no rating in its first days, then one.
  Rows last = ReadCsv(dir / "days" / "day-020.csv");
  std::map<int64_t, bool> rated;
  for (size_t r = 0; r < last.cells.size(); ++r) {
    rated[std::stoll(last.cells[r][last.Column("item_id")].substr(1))] = !last.cells[r][last.Column("item_rating")].empty();
  }
  int64_t unrated = 0;
  for (const auto& [id, has_rating] : rated) {
    const int64_t first = *seen.at(id).begin();
    if (id >= 30) {
      EXPECT_EQ(has_rating, 20 - first >= 5) << "item " << id << " launched on day " << first;
    }
    unrated += !has_rating;
  }
  EXPECT_GT(unrated, 0);
}

TEST(SimulatorDays, UsersJoinAndGoQuiet) {
  SimulatorSummary summary;
  SimulatorOptions options = Days(20, 4000, 1.0);
  options.users = 300;
  const fs::path dir = Simulated("users", options, &summary);
  EXPECT_GT(summary.users_joined, 100);
  EXPECT_GT(summary.new_user_share, 0.2);
  const auto seen = DaysSeen(dir / "days", 20, "user_id", 1);
  int64_t joined = 0, gone = 0;
  for (const auto& [id, days] : seen) {
    if (id >= 300) {
      EXPECT_GE(*days.begin(), 2) << "user " << id;
      ++joined;
    } else {
      gone += *days.rbegin() < 15;
    }
  }
  EXPECT_GT(joined, 100);
  EXPECT_GT(gone, 50);
}

// The season turns the category effects: the categories' mean true click logits on the last day are far from
// those of day 1 with drift, and the same without. The oracle stays as good.
TEST(SimulatorDays, TheSeasonTurnsCategoryTastes) {
  double correlation[2];
  for (int drifting = 0; drifting < 2; ++drifting) {
    const fs::path dir = Simulated("season", Days(16, 6000, drifting ? 1.0 : 0.0));
    Rows first = ReadCsv(dir / "days" / "day-001.csv");
    Rows last = ReadCsv(dir / "days" / "day-016.csv");
    correlation[drifting] = Correlation(CategoryClickLogits(first), CategoryClickLogits(last));
    for (const Rows* rows : {&first, &last}) {
      std::vector<double> p_click;
      std::vector<int> click;
      for (size_t r = 0; r < rows->cells.size(); ++r) {
        p_click.push_back(rows->Number(r, "p_click"));
        click.push_back(static_cast<int>(rows->Number(r, "click")));
      }
      EXPECT_GT(SimpleAuc(p_click, click), 0.72) << "drift " << drifting;
    }
  }
  EXPECT_GT(correlation[0], 0.9);
  EXPECT_LT(correlation[1], 0.6);
}

TEST(SimulatorDays, TheSmallMarketHasItsShareAndOtherTastes) {
  SimulatorOptions options = Days(5, 20000, 0.0);
  options.market_share = 0.2;
  SimulatorSummary summary;
  const fs::path dir = Simulated("market", options, &summary);
  EXPECT_EQ(summary.rows_per_day, 16000);
  EXPECT_EQ(summary.market_rows_per_day, 4000);
  EXPECT_EQ(summary.market_rows, 20000);
  Rows a = ReadCsv(dir / "days" / "day-002.csv");
  Rows b = ReadCsv(dir / "market-b" / "days" / "day-002.csv");
  ASSERT_EQ(a.cells.size(), 16000u);
  ASSERT_EQ(b.cells.size(), 4000u);
  EXPECT_EQ(a.header, b.header);
  for (const auto& cells : b.cells) {
    EXPECT_EQ(cells[1], "b");
    EXPECT_EQ(cells[2].substr(0, 2), "bu");
  }
  EXPECT_EQ(ReadCsv(dir / "market-b" / "train.csv").cells.size(), 12000u);
  for (const fs::path& config : {dir / "config.toml", dir / "market-b" / "config.toml"}) {
    EXPECT_NE(ReadFileBytes(config).find("name = \"market\""), std::string::npos) << config;
  }
  // The same catalogue: items shown in b are items of a.
  std::set<std::string> items_a;
  for (const auto& cells : a.cells) items_a.insert(cells[a.Column("item_id")]);
  size_t shared = 0;
  for (const auto& cells : b.cells) shared += items_a.count(cells[b.Column("item_id")]);
  EXPECT_GT(shared, b.cells.size() * 9 / 10);

  // Related but other category tastes, and users more sensitive to price: purchase|click falls faster with price.
  const double correlation = Correlation(CategoryClickLogits(a), CategoryClickLogits(b));
  EXPECT_GT(correlation, 0.5);
  EXPECT_LT(correlation, 0.97);
  const auto price_slope = [](const Rows& rows) {
    std::vector<double> x, y;
    for (size_t r = 0; r < rows.cells.size(); ++r) {
      const double p = rows.Number(r, "p_purchase_given_click");
      x.push_back(std::log(rows.Number(r, "price")));
      y.push_back(std::log(p / (1 - p)));
    }
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
    const double my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxy / sxx;
  };
  EXPECT_LT(price_slope(b), price_slope(a) - 0.04) << "a " << price_slope(a) << " b " << price_slope(b);
}

TEST(SimulatorDays, BadOptionsAreRefused) {
  const auto message = [](const SimulatorOptions& options) {
    try {
      Simulated("bad", options);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(Days(2, 1000)).find("days must be 0 (one snapshot) or in [3, 3650]"), std::string::npos);
  EXPECT_NE(message(Days(6, 1000, 1.5)).find("drift must be in [0, 1], found 1.5"), std::string::npos);
  EXPECT_NE(message(Days(6, 1000, -0.1)).find("drift must be in [0, 1]"), std::string::npos);
  SimulatorOptions options = Days(0, 1000, 0.5);
  EXPECT_NE(message(options).find("drift applies to daily partitions only"), std::string::npos);
  options = Days(0, 1000);
  options.market_share = 0.05;
  EXPECT_NE(message(options).find("market_share applies to daily partitions only"), std::string::npos);
  options = Days(6, 1000);
  options.market_share = 0.6;
  EXPECT_NE(message(options).find("market_share must be 0 (one market) or in (0, 0.5], found 0.6"),
            std::string::npos);
  options.market_share = -0.1;
  EXPECT_NE(message(options).find("market_share must be 0"), std::string::npos);
  options = Days(6, 100);
  options.market_share = 0.05;
  EXPECT_NE(message(options).find("leaves market b 5 rows a day; it needs at least 10"), std::string::npos);
  options = Days(6, 1000);
  options.scenarios = 3;
  EXPECT_NE(message(options).find("scenarios apply to a snapshot"), std::string::npos);
}

}  // namespace
}  // namespace mtrec
