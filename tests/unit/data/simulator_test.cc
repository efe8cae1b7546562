#include "data/simulator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "support/simulated_csv.h"

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
}

}  // namespace
}  // namespace mtrec
