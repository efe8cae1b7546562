#include "data/marketing_simulator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/threads.h"
#include "support/simulated_csv.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

fs::path Simulated(const std::string& name, const SimulatorOptions& options, SimulatorSummary* summary = nullptr) {
  fs::path dir = fs::path(testing::TempDir()) / ("mtrec_marketing_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const SimulatorSummary written = Simulate(options, dir.string());
  RemoveAtExit(dir);
  if (summary != nullptr) *summary = written;
  return dir;
}

SimulatorOptions Marketing(int64_t rows, uint64_t seed = 5, bool targeted = false) {
  SimulatorOptions options;
  options.preset = "marketing";
  options.rows = rows;
  options.seed = seed;
  options.targeted = targeted;
  return options;
}

// The three files of one run as one table, in file order.
Rows ReadAll(const fs::path& dir) {
  Rows all = ReadCsv(dir / "train.csv");
  for (const char* file : {"valid.csv", "test.csv"}) {
    Rows part = ReadCsv(dir / file);
    EXPECT_EQ(part.header, all.header) << file;
    for (auto& cells : part.cells) all.cells.push_back(std::move(cells));
  }
  return all;
}

// Means and their standard errors over the rows a predicate keeps.
struct Mean {
  double sum = 0;
  double sum_squares = 0;
  double n = 0;
  void Add(double x) {
    sum += x;
    sum_squares += x * x;
    n += 1;
  }
  double Value() const { return sum / n; }
  double Variance() const { return std::max(0.0, sum_squares / n - Value() * Value()); }
  double StandardError() const { return std::sqrt(Variance() / n); }
};

Mean MeanOf(
    const Rows& rows, const std::function<double(size_t)>& value,
    const std::function<bool(size_t)>& keep = [](size_t) { return true; }) {
  Mean mean;
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    if (keep(r)) mean.Add(value(r));
  }
  return mean;
}

const std::vector<std::string> kColumns = {"customer_id",
                                           "recency_days",
                                           "frequency_12m",
                                           "monetary_avg",
                                           "total_spend_12m",
                                           "tenure_days",
                                           "sessions_30d",
                                           "email_open_rate",
                                           "coupon_uses_12m",
                                           "top_category",
                                           "categories",
                                           "channel",
                                           "region",
                                           "device",
                                           "loyalty_member",
                                           "treatment",
                                           "converted",
                                           "revenue",
                                           "churned",
                                           "true_propensity",
                                           "true_conversion_prob",
                                           "true_expected_revenue",
                                           "true_churn_prob",
                                           "true_uplift_conversion",
                                           "true_uplift_revenue"};
// The inputs of the contract: every column but the id, the treatment, the outcomes and the truth.
const std::vector<std::string> kInputs = {"recency_days", "frequency_12m", "monetary_avg",    "total_spend_12m",
                                          "tenure_days",  "sessions_30d",  "email_open_rate", "coupon_uses_12m",
                                          "top_category", "categories",    "channel",         "region",
                                          "device",       "loyalty_member"};

// One random-assignment run of 100k customers and one targeted run of 60k that most tests read.
class MarketingSimulatorTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    random_summary_ = new SimulatorSummary;
    random_dir_ = new fs::path(Simulated("random", Marketing(100000), random_summary_));
    random_ = new Rows(ReadAll(*random_dir_));
    SimulatorOptions targeted = Marketing(60000, 7, true);
    targeted.treat_share = 0.4;
    targeted_ = new Rows(ReadAll(Simulated("targeted", targeted)));
  }
  static void TearDownTestSuite() {
    delete random_;
    delete targeted_;
    delete random_dir_;
    delete random_summary_;
  }
  static fs::path* random_dir_;
  static SimulatorSummary* random_summary_;
  static Rows* random_;
  static Rows* targeted_;
};
fs::path* MarketingSimulatorTest::random_dir_ = nullptr;
SimulatorSummary* MarketingSimulatorTest::random_summary_ = nullptr;
Rows* MarketingSimulatorTest::random_ = nullptr;
Rows* MarketingSimulatorTest::targeted_ = nullptr;

TEST(MarketingSimulator, SameOptionsSameBytesWhateverTheThreadCount) {
  const int threads = Threads();
  SetThreads(1);
  fs::path a = Simulated("one_thread", Marketing(20000, 5, true));
  SetThreads(3);
  fs::path b = Simulated("three_threads", Marketing(20000, 5, true));
  fs::path c = Simulated("other_seed", Marketing(20000, 6, true));
  SetThreads(threads);
  for (const char* file : {"train.csv", "valid.csv", "test.csv", "config.toml"}) {
    EXPECT_EQ(ReadFileBytes(a / file), ReadFileBytes(b / file)) << file;
  }
  EXPECT_NE(ReadFileBytes(a / "train.csv"), ReadFileBytes(c / "train.csv"));
}

TEST_F(MarketingSimulatorTest, ColumnsInTheContractsOrderAndAShuffledSixtyTwentyTwentySplit) {
  const Rows train = ReadCsv(*random_dir_ / "train.csv");
  EXPECT_EQ(train.header, kColumns);
  EXPECT_EQ(train.cells.size(), 60000u);
  EXPECT_EQ(ReadCsv(*random_dir_ / "valid.csv").cells.size(), 20000u);
  EXPECT_EQ(ReadCsv(*random_dir_ / "test.csv").cells.size(), 20000u);
  EXPECT_EQ(random_summary_->train_rows, 60000);
  EXPECT_EQ(random_summary_->valid_rows, 20000);
  EXPECT_EQ(random_summary_->test_rows, 20000);
  // Every customer once; the files are not runs of consecutive ids.
  std::set<std::string> ids;
  for (const auto& cells : random_->cells) ids.insert(cells[0]);
  EXPECT_EQ(ids.size(), 100000u);
  EXPECT_TRUE(ids.count("c0") == 1 && ids.count("c99999") == 1);
  size_t consecutive = 0;
  for (size_t r = 1; r < train.cells.size(); ++r) {
    consecutive += std::stoll(train.cells[r][0].substr(1)) == std::stoll(train.cells[r - 1][0].substr(1)) + 1;
  }
  EXPECT_LT(consecutive, 100u);
}

TEST_F(MarketingSimulatorTest, RowsAreConsistentAndFinite) {
  const Rows& rows = *random_;
  size_t no_orders = 0;
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    const auto& cells = rows.cells[r];
    ASSERT_EQ(cells.size(), kColumns.size()) << "row " << r;
    for (const std::string& column : kColumns) {
      if (column == "customer_id" || column == "categories" || column == "top_category" || column == "channel" ||
          column == "region" || column == "device" || column == "loyalty_member") {
        continue;
      }
      ASSERT_TRUE(std::isfinite(rows.Number(r, column)))
          << column << " of row " << r << ": " << cells[rows.Column(column)];
    }
    const double converted = rows.Number(r, "converted"), revenue = rows.Number(r, "revenue");
    ASSERT_TRUE(converted == 0 || converted == 1) << "row " << r;
    ASSERT_EQ(revenue > 0, converted == 1) << "row " << r;
    ASSERT_GE(revenue, 0) << "row " << r;
    ASSERT_FALSE(rows.Number(r, "churned") == 1 && converted == 1) << "row " << r;  // churn: no activity at all
    const double frequency = rows.Number(r, "frequency_12m");
    const bool none = frequency == 0;
    no_orders += none;
    ASSERT_EQ(cells[rows.Column("top_category")] == "none", none) << "row " << r;
    ASSERT_EQ(cells[rows.Column("categories")].empty(), none) << "row " << r;
    ASSERT_EQ(rows.Number(r, "monetary_avg") == 0, none) << "row " << r;
    if (!none) {
      ASSERT_NE(cells[rows.Column("categories")].find(cells[rows.Column("top_category")]), std::string::npos);
      ASSERT_NEAR(rows.Number(r, "monetary_avg") * frequency, rows.Number(r, "total_spend_12m"), 0.01 * frequency)
          << "row " << r;
    }
    const double recency = rows.Number(r, "recency_days");
    ASSERT_GE(recency, 0);
    ASSERT_LE(recency, 730);
    ASSERT_LE(recency, rows.Number(r, "tenure_days")) << "row " << r;
    ASSERT_GE(rows.Number(r, "email_open_rate"), 0);
    ASSERT_LE(rows.Number(r, "email_open_rate"), 1);
    ASSERT_LE(rows.Number(r, "coupon_uses_12m"), frequency) << "row " << r;
    for (const char* p : {"true_conversion_prob", "true_churn_prob"}) {
      ASSERT_GT(rows.Number(r, p), 0) << p << " of row " << r;
      ASSERT_LT(rows.Number(r, p), 1) << p << " of row " << r;
    }
    ASSERT_EQ(rows.Number(r, "true_propensity"), 0.5) << "row " << r;  // random assignment at treat_share
    ASSERT_GT(rows.Number(r, "true_expected_revenue"), 0) << "row " << r;
  }
  const double n = static_cast<double>(rows.cells.size());
  EXPECT_GT(no_orders / n, 0.18);  // the contract's ~25% without an order in 12 months
  EXPECT_LT(no_orders / n, 0.32);
}

TEST_F(MarketingSimulatorTest, OutcomesAgreeWithTheTruthWithinStandardErrors) {
  const Rows& rows = *random_;
  auto column = [&](const char* name) { return [&rows, name](size_t r) { return rows.Number(r, name); }; };
  auto treated = [&](size_t r) { return rows.Number(r, "treatment") == 1; };
  auto control = [&](size_t r) { return rows.Number(r, "treatment") == 0; };
  // Given the truth, a group's conversions are a sum of independent Bernoulli draws: the standard error of their
  // mean is sqrt(sum p (1 - p)) / n.
  for (const auto& [name, group] : {std::pair<const char*, std::function<bool(size_t)>>{"treated", treated},
                                    std::pair<const char*, std::function<bool(size_t)>>{"control", control}}) {
    const Mean converted = MeanOf(rows, column("converted"), group);
    const Mean p = MeanOf(rows, column("true_conversion_prob"), group);
    const Mean bernoulli = MeanOf(
        rows,
        [&](size_t r) { return rows.Number(r, "true_conversion_prob") * (1 - rows.Number(r, "true_conversion_prob")); },
        group);
    EXPECT_NEAR(converted.Value(), p.Value(), 4 * std::sqrt(bernoulli.Value() / converted.n)) << name;
  }
  // Under random assignment the difference of the groups' means estimates the mean true uplift.
  const Mean treated_conversion = MeanOf(rows, column("converted"), treated);
  const Mean control_conversion = MeanOf(rows, column("converted"), control);
  const Mean uplift = MeanOf(rows, column("true_uplift_conversion"));
  const double se = std::hypot(treated_conversion.StandardError(), control_conversion.StandardError());
  EXPECT_NEAR(treated_conversion.Value() - control_conversion.Value(), uplift.Value(), 4 * se);
  const Mean treated_revenue = MeanOf(rows, column("revenue"), treated);
  const Mean control_revenue = MeanOf(rows, column("revenue"), control);
  EXPECT_NEAR(treated_revenue.Value() - control_revenue.Value(), MeanOf(rows, column("true_uplift_revenue")).Value(),
              4 * std::hypot(treated_revenue.StandardError(), control_revenue.StandardError()));
  // Revenue and churn against their expectations, row by row: the residuals have mean 0.
  const Mean revenue_residual =
      MeanOf(rows, [&](size_t r) { return rows.Number(r, "revenue") - rows.Number(r, "true_expected_revenue"); });
  EXPECT_NEAR(revenue_residual.Value(), 0, 4 * revenue_residual.StandardError());
  const Mean churn_residual =
      MeanOf(rows, [&](size_t r) { return rows.Number(r, "churned") - rows.Number(r, "true_churn_prob"); });
  EXPECT_NEAR(churn_residual.Value(), 0, 4 * churn_residual.StandardError());

  // The sizes the contract asks for: a modest average effect that varies from slightly harmful to large.
  EXPECT_GT(uplift.Value(), 0.015);
  EXPECT_LT(uplift.Value(), 0.045);
  std::vector<double> effects;
  for (size_t r = 0; r < rows.cells.size(); ++r) effects.push_back(rows.Number(r, "true_uplift_conversion"));
  std::sort(effects.begin(), effects.end());
  EXPECT_LT(effects[effects.size() / 100], -0.01);  // the sleeping dogs
  EXPECT_GT(effects[effects.size() / 100], -0.05);
  EXPECT_GT(effects[effects.size() * 99 / 100], 0.08);
  EXPECT_LT(effects[effects.size() * 99 / 100], 0.2);
  const double negative =
      static_cast<double>(std::lower_bound(effects.begin(), effects.end(), 0.0) - effects.begin()) / effects.size();
  EXPECT_GT(negative, 0.02);
  EXPECT_LT(negative, 0.12);
}

TEST_F(MarketingSimulatorTest, RatesRevenueTailAndTheSummary) {
  const Rows& rows = *random_;
  const SimulatorSummary& summary = *random_summary_;
  const double n = static_cast<double>(rows.cells.size());
  double converted = 0, churned = 0, treated = 0, revenue = 0, uplift = 0;
  std::vector<double> revenues;
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    converted += rows.Number(r, "converted");
    churned += rows.Number(r, "churned");
    treated += rows.Number(r, "treatment");
    revenue += rows.Number(r, "revenue");
    uplift += rows.Number(r, "true_uplift_conversion");
    revenues.push_back(rows.Number(r, "revenue"));
  }
  EXPECT_DOUBLE_EQ(summary.conversion_rate, converted / n);
  EXPECT_DOUBLE_EQ(summary.churn_rate, churned / n);
  EXPECT_DOUBLE_EQ(summary.treated_share, treated / n);
  EXPECT_NEAR(summary.mean_revenue, revenue / n, 1e-9 * summary.mean_revenue);
  EXPECT_NEAR(summary.mean_true_uplift, uplift / n, 1e-5);  // the files round to 6 digits
  std::sort(revenues.rbegin(), revenues.rend());
  const double top = std::accumulate(revenues.begin(), revenues.begin() + revenues.size() / 10, 0.0);
  EXPECT_NEAR(summary.top_decile_revenue_share, top / revenue, 1e-9);
  EXPECT_GT(converted / n, 0.10);
  EXPECT_LT(converted / n, 0.20);
  EXPECT_GT(churned / n, 0.20);
  EXPECT_LT(churned / n, 0.30);
  EXPECT_NEAR(treated / n, 0.5, 4 * std::sqrt(0.25 / n));
  EXPECT_GT(top / revenue, 0.6);
  // Heavy-tailed among the buyers too: their top 10% hold over a quarter of the revenue.
  const size_t buyers = static_cast<size_t>(converted);
  const double buyers_top = std::accumulate(revenues.begin(), revenues.begin() + buyers / 10, 0.0);
  EXPECT_GT(buyers_top / revenue, 0.25);
}

TEST_F(MarketingSimulatorTest, TargetingFollowsTheFeaturesAndConfoundsTheNaiveEstimate) {
  const Rows& rows = *targeted_;
  auto column = [&](const char* name) { return [&rows, name](size_t r) { return rows.Number(r, name); }; };
  const Mean propensity = MeanOf(rows, column("true_propensity"));
  EXPECT_NEAR(propensity.Value(), 0.4, 1e-6);  // the intercept is solved for treat_share
  EXPECT_GT(std::sqrt(propensity.Variance()), 0.1);
  for (size_t r = 0; r < rows.cells.size(); ++r) {
    ASSERT_GE(rows.Number(r, "true_propensity"), 0.05) << "row " << r;
    ASSERT_LE(rows.Number(r, "true_propensity"), 0.95) << "row " << r;
  }
  // Marketers aim at coupon users and lapsing customers, and spare loyalty members.
  auto propensity_where = [&](const std::function<bool(size_t)>& keep) {
    return MeanOf(rows, column("true_propensity"), keep).Value();
  };
  // Coupon users against others alike in orders and recency (frequent buyers are recent, hence less lapsing).
  auto alike = [&](size_t r) {
    const double recency = rows.Number(r, "recency_days");
    return rows.Number(r, "frequency_12m") >= 3 && recency >= 30 && recency <= 120;
  };
  EXPECT_GT(propensity_where([&](size_t r) { return alike(r) && rows.Number(r, "coupon_uses_12m") >= 2; }),
            propensity_where([&](size_t r) { return alike(r) && rows.Number(r, "coupon_uses_12m") == 0; }) + 0.1);
  EXPECT_GT(propensity_where([&](size_t r) {
              const double recency = rows.Number(r, "recency_days");
              return recency >= 90 && recency <= 300;
            }),
            propensity_where([&](size_t r) { return rows.Number(r, "recency_days") < 20; }) + 0.2);
  EXPECT_LT(propensity_where([&](size_t r) { return rows.cells[r][rows.Column("loyalty_member")] == "yes"; }),
            propensity_where([&](size_t r) { return rows.cells[r][rows.Column("loyalty_member")] == "no"; }));
  // Treatment follows the propensity: the treated share of each group is its mean propensity.
  auto high = [&](size_t r) { return rows.Number(r, "true_propensity") > 0.6; };
  auto low = [&](size_t r) { return rows.Number(r, "true_propensity") < 0.3; };
  for (const auto& group : {std::function<bool(size_t)>(high), std::function<bool(size_t)>(low)}) {
    const Mean share = MeanOf(rows, column("treatment"), group);
    const Mean p = MeanOf(rows, column("true_propensity"), group);
    ASSERT_GT(share.n, 5000);
    EXPECT_NEAR(share.Value(), p.Value(), 4 * std::sqrt(p.Value() * (1 - p.Value()) / share.n));
  }
  EXPECT_GT(MeanOf(rows, column("treatment"), high).Value(), MeanOf(rows, column("treatment"), low).Value() + 0.3);
  // Confounded with the baseline and the effect: the targeted convert less without the offer and gain more by it.
  auto baseline = [&](size_t r) {
    return rows.Number(r, "true_conversion_prob") -
           rows.Number(r, "treatment") * rows.Number(r, "true_uplift_conversion");
  };
  EXPECT_LT(MeanOf(rows, baseline, high).Value(), MeanOf(rows, baseline, low).Value() - 0.05);
  EXPECT_GT(MeanOf(rows, column("true_uplift_conversion"), high).Value(),
            MeanOf(rows, column("true_uplift_conversion"), low).Value() + 0.005);
  // So the naive difference of the groups' means misses the true mean uplift by far more than its noise...
  auto treated = [&](size_t r) { return rows.Number(r, "treatment") == 1; };
  auto control = [&](size_t r) { return rows.Number(r, "treatment") == 0; };
  const Mean treated_conversion = MeanOf(rows, column("converted"), treated);
  const Mean control_conversion = MeanOf(rows, column("converted"), control);
  const double se = std::hypot(treated_conversion.StandardError(), control_conversion.StandardError());
  const double uplift = MeanOf(rows, column("true_uplift_conversion")).Value();
  EXPECT_GT(std::abs(treated_conversion.Value() - control_conversion.Value() - uplift), 8 * se);
  // ...while the truth still describes the draws within each group.
  const Mean treated_p = MeanOf(rows, column("true_conversion_prob"), treated);
  const Mean bernoulli = MeanOf(
      rows,
      [&](size_t r) { return rows.Number(r, "true_conversion_prob") * (1 - rows.Number(r, "true_conversion_prob")); },
      treated);
  EXPECT_NEAR(treated_conversion.Value(), treated_p.Value(), 4 * std::sqrt(bernoulli.Value() / treated_conversion.n));
}

// The [[features]] and [[tasks]] names of config.toml, by scanning its lines (its task keys are read by the
// uplift work, not by this version's config reader).
std::vector<std::string> SectionNames(const std::string& config, const std::string& section) {
  std::vector<std::string> names;
  bool inside = false;
  for (auto line : Split(config, "\n")) {
    if (!line.empty() && line[0] == '[') inside = line == section;
    if (inside && line.rfind("name = \"", 0) == 0) names.emplace_back(line.substr(8, line.size() - 9));
  }
  return names;
}

TEST_F(MarketingSimulatorTest, WritesTheContractsConfigWithTheInputsAsFeatures) {
  const std::string config = ReadFileBytes(*random_dir_ / "config.toml");
  EXPECT_EQ(SectionNames(config, "[[features]]"), kInputs);
  EXPECT_EQ(SectionNames(config, "[[tasks]]"),
            (std::vector<std::string>{"converted", "revenue", "churned", "treated"}));
  for (const std::string& feature : SectionNames(config, "[[features]]")) {
    EXPECT_NE(feature.rfind("true_", 0), 0u) << feature;  // truths are never inputs
  }
  for (const char* line :
       {"oracle = \"true_conversion_prob\"", "oracle_uplift = \"true_uplift_conversion\"", "loss = \"ziln\"",
        "quantiles = [0.1, 0.5, 0.9]", "oracle = \"true_expected_revenue\"", "oracle_uplift = \"true_uplift_revenue\"",
        "oracle = \"true_churn_prob\"", "column = \"treatment\"", "auxiliary = true", "treatment = \"treatment\"",
        "propensity = \"treated\"", "arch = \"mmoe\"", "top_percent = [10, 30]", "train = \"train.csv\"",
        "valid = \"valid.csv\"", "kind = \"multi_categorical\""}) {
    EXPECT_NE(config.find(line), std::string::npos) << line;
  }
}

TEST(MarketingSimulator, DefaultSizeAndBadOptions) {
  SimulatorSummary summary;
  Simulated("default", Marketing(0), &summary);
  EXPECT_EQ(summary.train_rows, 120000);
  EXPECT_EQ(summary.valid_rows, 40000);
  EXPECT_EQ(summary.test_rows, 40000);
  EXPECT_THROW(Simulated("few", Marketing(50)), Error);
  EXPECT_THROW(Simulated("negative", Marketing(-1)), Error);
  for (const double share : {0.0, 1.0}) {
    SimulatorOptions options = Marketing(1000);
    options.treat_share = share;
    EXPECT_THROW(Simulated("share", options), Error) << share;
  }
  SimulatorOptions targeted = Marketing(1000, 5, true);
  targeted.treat_share = 0.02;  // below the clip: no clipped propensities average to it
  EXPECT_THROW(Simulated("targeted_share", targeted), Error);
  SimulatorOptions split = Marketing(1000);
  split.valid_fraction = 0.5;
  split.test_fraction = 0.5;
  EXPECT_THROW(Simulated("no_train", split), Error);
}

}  // namespace
}  // namespace mtrec
