#include "common/metric_info.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/strings.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

Config WithEarlyStopMetric(const std::string& metric) {
  const std::string text = "[data]\ntrain = \"train.csv\"\n[[features]]\nname = \"city\"\n[[tasks]]\nname = \"click\"\n";
  return ParseConfig(text, "cfg.toml", {"train.early_stop_metric=" + metric});
}

// Early stopping keeps the epoch IsBetter prefers: each metric must be compared in its own direction.
TEST(MetricInfo, EveryMetricIsComparedInItsDirection) {
  for (const MetricInfo& metric : Metrics()) {
    if (!metric.early_stopping) continue;
    EXPECT_EQ(IsBetter(metric, 0.8, 0.7), metric.higher_is_better) << metric.name;
    EXPECT_EQ(IsBetter(metric, 0.7, 0.8), !metric.higher_is_better) << metric.name;
    EXPECT_FALSE(IsBetter(metric, 0.7, 0.7)) << metric.name;
  }
  EXPECT_TRUE(IsBetter(GetMetric("auc"), 0.80, 0.75));
  EXPECT_TRUE(IsBetter(GetMetric("logloss"), 0.30, 0.35));
  EXPECT_TRUE(IsBetter(GetMetric("rmse"), 1.0, 1.5));
  EXPECT_TRUE(IsBetter(GetMetric("mae"), 1.0, 1.5));
  EXPECT_TRUE(IsBetter(GetMetric("loss"), 1.0, 1.5));
  EXPECT_TRUE(IsBetter(GetMetric("wape"), 0.30, 0.35));
  EXPECT_TRUE(IsBetter(GetMetric("mase"), 0.8, 1.0));
  EXPECT_TRUE(IsBetter(GetMetric("pinball"), 1.0, 1.5));
}

// A relative bias is best at 0 and a quantile's coverage at its level: neither has a value that beats another.
TEST(MetricInfo, MetricsWithoutADirectionAreNeverCompared) {
  for (const char* name : {"bias", "coverage"}) {
    const MetricInfo& metric = GetMetric(name);
    EXPECT_FALSE(metric.early_stopping) << name;
    EXPECT_TRUE(metric.regression) << name;
    EXPECT_NE(ErrorOf([&] { IsBetter(metric, 0.1, 0.2); }).find("has no better direction"), std::string::npos);
  }
  for (const char* name : {"wape", "mase", "pinball"}) {
    EXPECT_TRUE(GetMetric(name).early_stopping) << name;
    EXPECT_TRUE(GetMetric(name).regression && !GetMetric(name).binary) << name;
  }
}

TEST(MetricInfo, EveryMetricAppliesToSomeTaskKind) {
  for (const MetricInfo& metric : Metrics()) EXPECT_TRUE(metric.binary || metric.regression) << metric.name;
}

TEST(MetricInfo, HeadlineMetricOfEachKind) {
  EXPECT_STREQ(HeadlineMetric(true).name, "auc");
  EXPECT_STREQ(HeadlineMetric(false).name, "rmse");
  EXPECT_TRUE(HeadlineMetric(true).binary);
  EXPECT_TRUE(HeadlineMetric(false).regression);
}

// The config accepts exactly the table's names with a direction (and "none"), and names them when it refuses
// another; a metric without a direction is refused for that reason.
TEST(MetricInfo, ConfigEarlyStopChoicesAreTheTable) {
  std::vector<std::string> names;
  for (const MetricInfo& metric : Metrics()) {
    if (metric.early_stopping) names.emplace_back(metric.name);
  }
  names.emplace_back(kNoEarlyStopping);
  EXPECT_EQ(EarlyStopMetricChoices(), names);
  for (const std::string& name : names) EXPECT_EQ(WithEarlyStopMetric(name).train.early_stop_metric, name);
  const std::string error = ErrorOf([] { WithEarlyStopMetric("gauc"); });
  EXPECT_NE(error.find("expected one of " + QuotedList(names)), std::string::npos) << error;
  EXPECT_NE(ErrorOf([] { GetMetric("gauc"); }).find("unknown metric"), std::string::npos);
  for (const std::string name : {"bias", "coverage"}) {
    const std::string refused = ErrorOf([&] { WithEarlyStopMetric(name); });
    EXPECT_NE(refused.find("'early_stop_metric' is '" + name + "', which has no better direction"), std::string::npos)
        << refused;
    EXPECT_NE(refused.find("cannot pick the epoch to keep"), std::string::npos) << refused;
    EXPECT_NE(refused.find("expected one of " + QuotedList(names)), std::string::npos) << refused;
  }
}

}  // namespace
}  // namespace mtrec
