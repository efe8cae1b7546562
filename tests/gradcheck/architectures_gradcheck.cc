// Finite-difference check of a tiny instance of every architecture, through the task graph: click; cart chained to
// click (the output is the logit of p(click)·p(cart | click)); purchase chained to cart (a chain of length 3);
// gmv, a regression; like, a "direct" child of click. The objective is a random linear functional of the outputs;
// every dense parameter is sampled, and every embedding row the batch touches is checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "common/threads.h"
#include "features/batcher.h"
#include "gradcheck.h"
#include "model_fixture.h"
#include "models/model.h"

namespace mtrec {
namespace {

using gradcheck::CheckElement;
using gradcheck::FillUniform;
using gradcheck::Tally;

constexpr int64_t kBatch = 5;
constexpr int64_t kTasks = 5;
// Smaller than the shared-bottom check's step: gates, attention and mean-pooled bags bend the objective more, and
// a step of 1e-2 can cross several ReLU kinks whose effects cancel in the left/right comparison.
constexpr double kStep = 1e-3;

const char* kConfig = R"(
[[tasks]]
name = "click"

[[tasks]]
name = "cart"
parent = "click"

[[tasks]]
name = "purchase"
parent = "cart"

[[tasks]]
name = "gmv"
kind = "regression"

[[tasks]]
name = "like"
parent = "click"
mode = "direct"

[model]
embedding_dim = 3
bottom = [6, 5]
tower = [4]
experts = 3
task_experts = 2
expert = [5, 4]
dropout = 0.0
embedding_init_std = 0.5
)";

class ArchitectureGradcheck : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SetThreads(1);
    config_ = ParseConfig(kConfig, "gradcheck.toml", {"model.arch=" + GetParam()});
    model_ = CreateModel(config_, gradcheck::MakeTinyLayout(), kBatch);
    model_->Initialize(7);
    Rng rng(3);
    ParameterArena& arena = model_->arena();
    for (size_t i = 0; i < arena.Infos().size(); ++i) {
      const ParameterInfo& info = arena.Info(i);
      // Non-zero biases, so that every parameter sits at a generic point.
      if (info.init == Init::kZero) FillUniform(Tensor{arena.Value(i), info.rows, info.cols, info.cols}, rng, -0.3, 0.3);
    }
    data_ = gradcheck::MakeTinyData(kBatch, kTasks, rng);
    std::vector<int64_t> rows = SequentialOrder(kBatch);
    GatherBatch(data_, rows.data(), kBatch, &batch_);
    c_.Resize(kBatch, kTasks);
    FillUniform(c_.View(), rng, -1, 1);
  }
  void TearDown() override { SetThreads(0); }

  double Objective() { return gradcheck::Dot(model_->Forward(batch_, Mode::kTrain), c_.View()); }

  Config config_;
  std::unique_ptr<Model> model_;
  EncodedData data_;
  Batch batch_;
  Matrix c_;
};

TEST_P(ArchitectureGradcheck, EveryParameterAndEmbedding) {
  const auto objective = [&] { return Objective(); };
  Objective();
  ParameterArena& arena = model_->arena();
  arena.ZeroGrad();
  model_->Backward(batch_, c_.View());
  const std::vector<float> grads(arena.grads(), arena.grads() + arena.size());
  const std::vector<SparseGrad> sparse = model_->input().grads();

  Rng rng(19);
  Tally tally;
  int vanishing = 0;
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const ParameterInfo& info = arena.Info(i);
    std::vector<size_t> elements;
    for (int k = 0; k < 6; ++k) elements.push_back(rng.Below(info.size()));
    double largest = 0;
    for (size_t e : elements) {
      const double analytic = grads[info.offset + e];
      largest = std::max(largest, std::abs(analytic));
      EXPECT_TRUE(CheckElement(arena.Value(i) + e, analytic, objective, &tally, kStep)) << info.name << "[" << e << "]";
    }
    vanishing += largest < 1e-4 ? 1 : 0;
  }
  // A sample of 6 can miss every live element of a ReLU-gated layer, but not of most parameters.
  EXPECT_LE(vanishing, static_cast<int>(arena.Infos().size()) / 5) << "too many parameters with no gradient at all";

  auto& tables = model_->input().tables();
  ASSERT_EQ(sparse.size(), tables.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    for (int64_t i = 0; i < sparse[t].count(); ++i) {
      for (int64_t d = 0; d < sparse[t].dim; ++d) {
        EXPECT_TRUE(CheckElement(tables[t].Row(sparse[t].rows[i]) + d, sparse[t].Row(i)[d], objective, &tally, kStep))
            << tables[t].name() << " row " << sparse[t].rows[i] << " dim " << d;
      }
    }
  }
  EXPECT_GT(tally.checked, 60);
  EXPECT_LE(tally.skipped, tally.checked / 8) << "too many elements near a ReLU kink";
}

TEST_P(ArchitectureGradcheck, ChainOutputsAreProductsOfConditionals) {
  Tensor out = model_->Forward(batch_, Mode::kInfer);
  Tensor conditional = model_->Conditional(kBatch);
  auto sigmoid = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  for (int64_t r = 0; r < kBatch; ++r) {
    const double click = sigmoid(out.At(r, 0));
    EXPECT_NEAR(click, sigmoid(conditional.At(r, 0)), 1e-6);
    const double cart = click * sigmoid(conditional.At(r, 1));
    EXPECT_NEAR(sigmoid(out.At(r, 1)), cart, 1e-6);
    EXPECT_NEAR(sigmoid(out.At(r, 2)), cart * sigmoid(conditional.At(r, 2)), 1e-6);
    EXPECT_EQ(out.At(r, 3), conditional.At(r, 3));  // regression: untouched
    EXPECT_EQ(out.At(r, 4), conditional.At(r, 4));  // direct link: untouched
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, ArchitectureGradcheck,
                         testing::Values("single_task", "shared_bottom", "omoe", "mmoe", "ple", "cross_stitch", "esmm",
                                         "aitm"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace mtrec
