#include "eval/blend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"

namespace mtrec {
namespace {

Config Tasks(const std::string& serve = "") {
  return ParseConfig(
      "[[features]]\nname = \"price\"\nkind = \"numeric\"\n"
      "[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"purchase\"\nparent = \"click\"\n"
      "[[tasks]]\nname = \"gmv\"\nkind = \"regression\"\n" + serve,
      "cfg.toml");
}

TEST(BlendTest, DefaultIsTheSumOfTheBinaryTasks) {
  const Config config = Tasks();
  const Blend blend = ResolveBlend(config, config.serve.blend);
  ASSERT_EQ(blend.terms.size(), 2u);
  const std::vector<float> scores = {0.2f, 0.05f, 30.f};
  EXPECT_FLOAT_EQ(blend.Score(scores, NAN), 0.25f);  // gmv, a regression, is not in the default
}

TEST(BlendTest, DefaultLeavesAuxiliaryTasksOut) {
  const Config config = ParseConfig("[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"aux\"\nauxiliary = true\n",
                                    "cfg.toml");
  const Blend blend = ResolveBlend(config, config.serve.blend);
  ASSERT_EQ(blend.terms.size(), 1u);
  EXPECT_EQ(blend.terms[0].task, 0);
  // Named, an auxiliary task blends like any other.
  const Blend named = ResolveBlend(config, {{"aux", 2.0}, {"click", 1.0}});
  EXPECT_EQ(named.terms.size(), 2u);
}

TEST(BlendTest, WeightedSumAndProductByHand) {
  const std::vector<float> scores = {0.2f, 0.05f, 30.f};
  const Config sum = Tasks("[serve]\nblend = { click = 1, purchase = 3, gmv = 0.01 }\n");
  EXPECT_NEAR(ResolveBlend(sum, sum.serve.blend).Score(scores, NAN), 0.2 + 0.15 + 0.3, 1e-6);
  const Config product = Tasks("[serve]\nblend_mode = \"product\"\nblend = { click = 1, purchase = 0.5 }\n");
  EXPECT_NEAR(ResolveBlend(product, product.serve.blend).Score(scores, NAN), 0.2 * std::sqrt(0.05), 1e-6);
  // A negative score (a regression predicting below 0) counts 0 in a product instead of flipping its sign.
  const std::vector<float> negative = {0.2f, 0.05f, -1.f};
  const Config with_gmv = Tasks("[serve]\nblend_mode = \"product\"\nblend = { click = 1, gmv = 1 }\n");
  EXPECT_EQ(ResolveBlend(with_gmv, with_gmv.serve.blend).Score(negative, NAN), 0.f);
}

TEST(BlendTest, FeatureMultipliesTheBlend) {
  const Config config = Tasks("[serve]\nblend = { purchase = 1 }\nblend_feature = \"price\"\n");
  const Blend blend = ResolveBlend(config, config.serve.blend);
  const std::vector<float> scores = {0.2f, 0.05f, 30.f};
  EXPECT_NEAR(blend.Score(scores, 40.f), 2.0, 1e-6);  // expected revenue: p(purchase) × price
  EXPECT_TRUE(std::isnan(blend.Score(scores, NAN)));
}

TEST(BlendTest, ColumnsMatchRowByRow) {
  const Config config = Tasks("[serve]\nblend = { click = 2, gmv = 0.1 }\nblend_feature = \"price\"\n");
  const Blend blend = ResolveBlend(config, config.serve.blend);
  const std::vector<float> click = {0.1f, 0.5f, 0.9f}, purchase = {0.f, 0.2f, 0.4f}, gmv = {0.f, 10.f, 3.f};
  const std::vector<float> price = {1.f, 2.f, 0.5f};
  std::vector<float> out(3);
  BlendColumns(blend, {click, purchase, gmv}, price, out);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(out[i], (2 * click[i] + 0.1 * gmv[i]) * price[i], 1e-6) << i;
  }
}

TEST(BlendTest, RequestWeightsAreChecked) {
  const Config config = Tasks();
  try {
    ResolveBlend(config, {{"purchse", 1.0}});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what())
                  .find("blend names no task 'purchse' (did you mean 'purchase'?); the model's tasks are 'click', "
                        "'purchase', 'gmv'"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(ResolveBlend(config, {{"click", NAN}}), Error);
  const Config product = Tasks("[serve]\nblend_mode = \"product\"\n");
  EXPECT_THROW(ResolveBlend(product, {{"click", -1.0}}), Error);
}

}  // namespace
}  // namespace mtrec
