#include "eval/marketing_charts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/test_files.h"

namespace mtrec {
namespace {

TEST(MarketingChartsTest, DecileChartHasTheActualAndPredictedMeansOfEachDecile) {
  std::vector<float> predicted, actual;
  for (int i = 0; i < 40; ++i) predicted.push_back(i), actual.push_back(i % 3 == 0 ? 0.f : 2.f * i);
  const ValueMetrics value = ComputeValueMetrics(predicted, actual, std::vector<int>{});
  const std::string svg = RenderDecileChart("revenue", value.deciles);
  EXPECT_NE(svg.find("data-chart=\"deciles_revenue\""), std::string::npos);
  EXPECT_EQ(CountOf(svg, "<path class=\"series\""), 2);
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"actual\""), "L"), 9);  // ten deciles, one run
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"predicted\""), "L"), 9);
  EXPECT_EQ(CountOf(svg, "<circle"), 20);
  // Five rows fill every other decile: dots without lines between them.
  const ValueMetrics few =
      ComputeValueMetrics(std::vector<float>{1, 2, 3, 4, 5}, std::vector<float>{1, 2, 3, 4, 5}, std::vector<int>{});
  const std::string sparse = RenderDecileChart("revenue", few.deciles);
  EXPECT_EQ(CountOf(PathOf(sparse, "data-series=\"actual\""), "L"), 0);
  EXPECT_EQ(CountOf(sparse, "<circle"), 10);
}

TEST(MarketingChartsTest, QiniChartDrawsTheModelTheRandomLineAndTheOracleWhenGiven) {
  std::vector<float> uplift, outcome, treatment, tau;
  for (int i = 0; i < 300; ++i) {
    tau.push_back(static_cast<float>(i % 7) / 10);
    uplift.push_back(static_cast<float>((i * 37) % 11));
    treatment.push_back(static_cast<float>(i % 2));
    outcome.push_back(static_cast<float>((i * 13) % 5 == 0));
  }
  const std::vector<int> percents = {10};
  const UpliftMetrics model = ComputeUpliftMetrics(uplift, outcome, treatment, {}, tau, percents);
  const UpliftMetrics oracle = ComputeUpliftMetrics(tau, outcome, treatment, {}, tau, percents);
  const std::string svg = RenderQiniChart("converted", model, &oracle);
  EXPECT_NE(svg.find("data-chart=\"qini_converted\""), std::string::npos);
  EXPECT_EQ(CountOf(svg, "<path class=\"series\""), 3);
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"model\""), "L"), 100);  // 101 points from 0 to 1
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"oracle\""), "L"), 100);
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"random\""), "L"), 1);  // a straight line
  const std::string alone = RenderQiniChart("converted", model);
  EXPECT_EQ(CountOf(alone, "<path class=\"series\""), 2);
  EXPECT_EQ(CountOf(alone, "data-series=\"oracle\""), 0);
  // Without a control row there is no curve to draw.
  const UpliftMetrics treated_only =
      ComputeUpliftMetrics(uplift, outcome, std::vector<float>(uplift.size(), 1.f), {}, {}, percents);
  EXPECT_EQ(RenderQiniChart("converted", treated_only, &oracle), "");
}

}  // namespace
}  // namespace mtrec
