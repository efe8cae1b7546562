// Finite-difference check of a whole model: the shared-bottom model built by CreateModel, from the embedding
// lookups (single ids, pooled bags, two slots sharing a table) and the numeric block through the bottom and the
// towers to the task outputs. The objective is a fixed random linear functional of the outputs, Σ_r Σ_k c_rk·y_rk.
//
// Seen as a function of one parameter with all others fixed, a ReLU network's output is piecewise linear, so away
// from a kink the one-sided differences left and right of the point agree with each other and with the analytic
// gradient. Where they disagree a ReLU changes state inside the step, and that element is skipped (and counted).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/math.h"
#include "common/rng.h"
#include "common/threads.h"
#include "features/batcher.h"
#include "features/pipeline.h"
#include "gradcheck.h"
#include "model_fixture.h"
#include "models/model.h"
#include "train/losses.h"

namespace mtrec {
namespace {

using gradcheck::FillUniform;

using gradcheck::CheckElement;
using gradcheck::MakeTinyData;
using gradcheck::MakeTinyLayout;
using gradcheck::Tally;

constexpr int64_t kBatch = 6;

const char* kConfig = R"(
[[tasks]]
name = "click"

[[tasks]]
name = "gmv"
kind = "regression"

[[tasks]]
name = "like"

[model]
embedding_dim = 3
bottom = [7, 5]
tower = [4]
dropout = 0.0
embedding_init_std = 0.5
)";

class ModelGradcheck : public testing::Test {
 protected:
  void SetUp() override {
    SetThreads(1);
    config_ = ParseConfig(kConfig, "gradcheck.toml");
    model_ = CreateModel(config_, MakeTinyLayout(), kBatch);
    model_->Initialize(11);
    Rng rng(5);
    // Non-zero biases, so that every parameter sits at a generic point.
    ParameterArena& arena = model_->arena();
    for (size_t i = 0; i < arena.Infos().size(); ++i) {
      const ParameterInfo& info = arena.Info(i);
      if (info.rows == 1) FillUniform(Tensor{arena.Value(i), 1, info.cols, info.cols}, rng, -0.3, 0.3);
    }
    data_ = MakeTinyData(kBatch, 3, rng);
    std::vector<int64_t> rows = SequentialOrder(kBatch);
    std::reverse(rows.begin(), rows.end());  // the batch is not simply the file
    GatherBatch(data_, rows.data(), kBatch, &batch_);
    c_.Resize(kBatch, 3);
    FillUniform(c_.View(), rng, -1, 1);
  }
  void TearDown() override { SetThreads(0); }

  double Objective() {
    Tensor out = model_->Forward(batch_, Mode::kTrain);
    return gradcheck::Dot(out, c_.View());
  }

  Config config_;
  std::unique_ptr<Model> model_;
  EncodedData data_;
  Batch batch_;
  Matrix c_;
};

TEST_F(ModelGradcheck, DenseParametersOfEveryLayer) {
  const auto objective = [&] { return Objective(); };
  Objective();
  ParameterArena& arena = model_->arena();
  arena.ZeroGrad();
  model_->Backward(batch_, c_.View());
  const std::vector<float> grads(arena.grads(), arena.grads() + arena.size());

  Rng rng(17);
  Tally tally;
  std::vector<std::string> names;
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const ParameterInfo& info = arena.Info(i);
    names.push_back(info.name);
    // Every element of small parameters, a random sample of the others.
    std::vector<size_t> elements;
    if (info.size() <= 16) {
      for (size_t e = 0; e < info.size(); ++e) elements.push_back(e);
    } else {
      for (int k = 0; k < 16; ++k) elements.push_back(rng.Below(info.size()));
    }
    double largest = 0;
    for (size_t e : elements) {
      const double analytic = grads[info.offset + e];
      largest = std::max(largest, std::abs(analytic));
      EXPECT_TRUE(CheckElement(arena.Value(i) + e, analytic, objective, &tally)) << info.name << "[" << e << "]";
    }
    EXPECT_GT(largest, 1e-3) << info.name << ": the sample has only vanishing gradients";
  }
  // bottom: 2 layers; each of the 3 towers: 1 hidden layer and the output.
  EXPECT_EQ(names.size(), 2u * 2 + 3u * 2 * 2) << ::testing::PrintToString(names);
  EXPECT_NE(std::find(names.begin(), names.end(), "towers.gmv.1.weight"), names.end())
      << ::testing::PrintToString(names);
  // 16 + 7 + 16 + 5 elements in the bottom, 16 + 4 + 4 + 1 in each tower.
  EXPECT_EQ(tally.checked + tally.skipped, 119);
  EXPECT_LE(tally.skipped, 12) << "too many elements near a ReLU kink";

  // The output bias of task k has the exact gradient Σ_r c_rk, and a wrong value is caught.
  for (size_t k = 0; k < config_.tasks.size(); ++k) {
    const std::string name = "towers." + config_.tasks[k].name + ".1.bias";
    size_t id = 0;
    while (id < arena.Infos().size() && arena.Info(id).name != name) ++id;
    ASSERT_LT(id, arena.Infos().size()) << name;
    double sum = 0;
    for (int64_t r = 0; r < kBatch; ++r) sum += c_.View().At(r, static_cast<int64_t>(k));
    const double analytic = grads[arena.Info(id).offset];
    EXPECT_NEAR(analytic, sum, 1e-5) << name;
    Tally wrong;
    EXPECT_FALSE(CheckElement(arena.Value(id), analytic + 0.25, objective, &wrong)) << name;
    EXPECT_EQ(wrong.checked, 1);
  }
}

TEST_F(ModelGradcheck, SparseEmbeddingGradients) {
  const auto objective = [&] { return Objective(); };
  Objective();
  model_->arena().ZeroGrad();
  model_->Backward(batch_, c_.View());
  std::vector<SparseGrad> grads = model_->input().grads();  // a copy: later forwards leave it alone anyway
  auto& tables = model_->input().tables();
  ASSERT_EQ(grads.size(), 3u);

  Tally tally;
  for (size_t t = 0; t < tables.size(); ++t) {
    EmbeddingTable& table = tables[t];
    const SparseGrad& grad = grads[t];
    ASSERT_EQ(grad.dim, table.dim()) << table.name();
    ASSERT_TRUE(std::is_sorted(grad.rows.begin(), grad.rows.end())) << table.name();
    ASSERT_EQ(std::adjacent_find(grad.rows.begin(), grad.rows.end()), grad.rows.end()) << table.name();
    // The rows the batch uses, computed here from the batch.
    std::vector<int32_t> used;
    if (t == 0) {
      used.insert(used.end(), batch_.single_ids[0].begin(), batch_.single_ids[0].end());
      used.insert(used.end(), batch_.single_ids[1].begin(), batch_.single_ids[1].end());
    } else {
      used = batch_.multi_ids[t - 1];
    }
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    EXPECT_EQ(grad.rows, used) << table.name();

    for (int64_t row = 0; row < table.rows(); ++row) {
      auto it = std::find(grad.rows.begin(), grad.rows.end(), static_cast<int32_t>(row));
      for (int64_t d = 0; d < table.dim(); ++d) {
        const double analytic = it == grad.rows.end() ? 0.0 : grad.Row(it - grad.rows.begin())[d];
        EXPECT_TRUE(CheckElement(table.Row(row) + d, analytic, objective, &tally))
            << table.name() << " row " << row << " dim " << d;
      }
    }
  }
  EXPECT_GT(tally.checked, 40);
  EXPECT_LE(tally.skipped, tally.checked / 10) << "too many elements near a ReLU kink";
}

TEST_F(ModelGradcheck, RowsWithMissingLabelsContributeNothing) {
  // Task 0 (binary): rows 1 and 3 have no label. The other tasks take no part in this loss.
  const std::vector<float> labels = {1, NAN, 0, NAN, 1, 0};
  Matrix diff(kBatch, 3);
  Tensor out = model_->Forward(batch_, Mode::kTrain);
  LossValue loss = BceWithLogits(out.data, out.ld, labels.data(), kBatch, 1.f, diff.data(), 3);
  EXPECT_EQ(loss.count, 4);
  EXPECT_EQ(diff.View().At(1, 0), 0.f);
  EXPECT_EQ(diff.View().At(3, 0), 0.f);
  for (int64_t r : {0, 2, 4, 5}) {
    // d(mean loss)/ds = (sigmoid(s) - y) / 4.
    EXPECT_NEAR(diff.View().At(r, 0), (Sigmoid(out.At(r, 0)) - labels[r]) / 4, 1e-6) << "row " << r;
  }
  ParameterArena& arena = model_->arena();
  arena.ZeroGrad();
  model_->Backward(batch_, diff.View());
  const std::vector<float> grads(arena.grads(), arena.grads() + arena.size());
  const std::vector<SparseGrad> sparse = model_->input().grads();

  // The same loss over a batch of only the labelled rows: equal value, equal gradients.
  const std::vector<int64_t> kept = {batch_.rows[0], batch_.rows[2], batch_.rows[4], batch_.rows[5]};
  Batch small;
  GatherBatch(data_, kept.data(), 4, &small);
  const std::vector<float> kept_labels = {1, 0, 1, 0};
  Matrix small_diff(4, 3);
  Tensor small_out = model_->Forward(small, Mode::kTrain);
  LossValue small_loss = BceWithLogits(small_out.data, small_out.ld, kept_labels.data(), 4, 1.f, small_diff.data(), 3);
  EXPECT_EQ(small_loss.count, 4);
  EXPECT_NEAR(small_loss.sum, loss.sum, 1e-5 * std::abs(loss.sum));
  arena.ZeroGrad();
  model_->Backward(small, small_diff.View());
  double largest = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(grads[i])));
    ASSERT_NEAR(arena.grads()[i], grads[i], 1e-6 + 1e-4 * std::abs(grads[i])) << "arena element " << i;
  }
  EXPECT_GT(largest, 1e-3);
  const std::vector<SparseGrad>& small_sparse = model_->input().grads();
  for (size_t t = 0; t < sparse.size(); ++t) {
    // Rows touched only by unlabelled rows may appear in the full batch, with a zero gradient.
    for (int64_t i = 0; i < sparse[t].count(); ++i) {
      auto it = std::find(small_sparse[t].rows.begin(), small_sparse[t].rows.end(), sparse[t].rows[i]);
      for (int64_t d = 0; d < sparse[t].dim; ++d) {
        const float expected =
            it == small_sparse[t].rows.end() ? 0.f : small_sparse[t].Row(it - small_sparse[t].rows.begin())[d];
        EXPECT_NEAR(sparse[t].Row(i)[d], expected, 1e-6 + 1e-4 * std::abs(expected))
            << "table " << t << " row " << sparse[t].rows[i];
      }
    }
  }

  // And the analytic gradient of the mean loss matches finite differences of it.
  const auto objective = [&] {
    Tensor y = model_->Forward(batch_, Mode::kTrain);
    return BceWithLogits(y.data, y.ld, labels.data(), kBatch, 1.f, nullptr, 0).Mean();
  };
  Tally tally;
  Rng rng(23);
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const ParameterInfo& info = arena.Info(i);
    for (int k = 0; k < 4; ++k) {
      const size_t e = rng.Below(info.size());
      EXPECT_TRUE(CheckElement(arena.Value(i) + e, grads[info.offset + e], objective, &tally))
          << info.name << "[" << e << "]";
    }
  }
  EXPECT_GT(tally.checked, 20);
}

}  // namespace
}  // namespace mtrec
