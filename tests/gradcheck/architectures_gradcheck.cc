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
#include "common/names.h"
#include "common/rng.h"
#include "common/threads.h"
#include "features/batcher.h"
#include "gradcheck.h"
#include "model_fixture.h"
#include "models/model.h"
#include "models/pepnet.h"
#include "models/stem.h"
#include "train/task_gradients.h"

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
    // "mmoe+batch_norm=true+numeric_projection=3": the architecture, then model keys to set.
    const std::string param = GetParam();
    std::vector<std::string> overrides;
    for (size_t begin = 0; begin <= param.size();) {
      const size_t end = std::min(param.find('+', begin), param.size());
      overrides.push_back((begin == 0 ? "model.arch=" : "model.") + param.substr(begin, end - begin));
      begin = end + 1;
    }
    config_ = ParseConfig(kConfig, "gradcheck.toml", overrides);
    model_ = CreateModel(config_, gradcheck::MakeTinyLayout(), kBatch);
    // STEM's and PEPNet's stop-gradients make their gradients differ from the objective's derivative by design;
    // the finite differences check the full gradient, and the StopGradient tests below what they leave out.
    if (auto* stem = dynamic_cast<Stem*>(model_.get())) stem->set_stop_gradient(false);
    if (auto* pepnet = dynamic_cast<Pepnet*>(model_.get())) pepnet->set_stop_gradient(false);
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
  int vanishing = 0, counted = 0;
  const bool normalised = config_.model.batch_norm;
  const double atol = normalised ? 6e-4 : gradcheck::kAtol;
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const ParameterInfo& info = arena.Info(i);
    std::vector<size_t> elements;
    for (int k = 0; k < 6; ++k) elements.push_back(rng.Below(info.size()));
    double largest = 0;
    for (size_t e : elements) {
      const double analytic = grads[info.offset + e];
      largest = std::max(largest, std::abs(analytic));
      EXPECT_TRUE(CheckElement(arena.Value(i) + e, analytic, objective, &tally, kStep, atol))
          << info.name << "[" << e << "]";
    }
    // Running statistics are not trained; with batch normalisation the bias of a linear layer feeding it has no
    // gradient at all (the normalisation removes any constant shift of a column), so biases are not counted.
    if (!info.trainable || (normalised && info.name.ends_with(".bias"))) continue;
    ++counted;
    vanishing += largest < 1e-4 ? 1 : 0;
  }
  // A sample of 6 can miss every live element of a ReLU-gated layer, but not of most parameters.
  EXPECT_LE(vanishing, counted / 5) << "too many parameters with no gradient at all";

  auto& tables = model_->input().tables();
  ASSERT_EQ(sparse.size(), tables.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    for (int64_t i = 0; i < sparse[t].count(); ++i) {
      for (int64_t d = 0; d < sparse[t].dim; ++d) {
        EXPECT_TRUE(CheckElement(tables[t].Row(sparse[t].rows[i]) + d, sparse[t].Row(i)[d], objective, &tally, kStep,
                                 atol))
            << tables[t].name() << " row " << sparse[t].rows[i] << " dim " << d;
      }
    }
  }
  EXPECT_GT(tally.checked, 60);
  // With batch normalisation every element moves every row's pre-activations (through the batch statistics), so
  // on a 5-row batch far more elements sit within a step of some ReLU's kink. AdaTT adds every task's experts
  // into every task's output at each level (the softmax sums to 1, and the native unit adds the task's own again),
  // so its outputs and the objective are several times larger, and the float32 rounding of the forward pass
  // reaches the quarter-step difference of elements whose full-step difference agrees with the analytic one.
  // HoME's experts are batch-normalised whatever model.batch_norm says.
  const bool noisy =
      config_.model.batch_norm || config_.model.arch == Arch::kAdatt || config_.model.arch == Arch::kHome;
  const int allowed = noisy ? tally.checked / 3 : tally.checked / 8;
  EXPECT_LE(tally.skipped, allowed) << "too many elements near a ReLU kink";
}

// The per-task backward passes of the gradient strategies must add up to the joint backward pass (every layer's
// backward is linear in its output gradient and re-entrant after one forward pass), and their combination with
// coefficients c must be the gradient of Σ c_k L_k, dense and sparse, in both gradient spaces.
TEST_P(ArchitectureGradcheck, TaskGradientsCombineToTheJointGradient) {
  const std::vector<double> coefficients = {0.5, 2.0, 1.0, 0.25, 1.5};
  Matrix scaled(kBatch, kTasks);
  for (int64_t r = 0; r < kBatch; ++r) {
    for (int64_t k = 0; k < kTasks; ++k) scaled.View().At(r, k) = c_.View().At(r, k) * static_cast<float>(coefficients[k]);
  }
  ParameterArena& arena = model_->arena();
  model_->Forward(batch_, Mode::kTrain);
  arena.ZeroGrad();
  model_->Backward(batch_, scaled.View());
  const std::vector<float> expected(arena.grads(), arena.grads() + arena.size());
  const std::vector<SparseGrad> expected_sparse = model_->input().grads();

  for (bool representation : {false, true}) {
    SCOPED_TRACE(representation ? "representation" : "shared");
    TaskGradients gradients(*model_, kBatch, representation);
    Matrix diff(kBatch, kTasks);
    CopyInto(diff.View(), c_.View());
    gradients.Measure(kBatch, diff.View());
    gradients.Apply(batch_, diff.View(), TaskCoefficients{coefficients, coefficients});
    for (size_t i = 0; i < arena.Infos().size(); ++i) {
      const ParameterInfo& info = arena.Info(i);
      for (size_t e = 0; e < info.size(); ++e) {
        const float want = expected[info.offset + e];
        ASSERT_NEAR(arena.grads()[info.offset + e], want, 1e-5f * (1 + std::abs(want))) << info.name << "[" << e << "]";
      }
    }
    const std::vector<SparseGrad>& sparse = model_->input().grads();
    ASSERT_EQ(sparse.size(), expected_sparse.size());
    for (size_t t = 0; t < sparse.size(); ++t) {
      ASSERT_EQ(sparse[t].rows, expected_sparse[t].rows);
      for (size_t e = 0; e < sparse[t].values.size(); ++e) {
        ASSERT_NEAR(sparse[t].values[e], expected_sparse[t].values[e], 1e-5f * (1 + std::abs(expected_sparse[t].values[e])));
      }
    }
  }
}

// An extra gradient on the body's outputs (before the task graph: ESCM²'s term on p(task | parent)) is that of a
// second linear functional, of Conditional: objective Σ c·outputs + Σ e·conditional.
TEST_P(ArchitectureGradcheck, ExtraConditionalGradientIsThatOfTheBodyOutputs) {
  Matrix e(kBatch, kTasks);
  Rng rng(43);
  FillUniform(e.View(), rng, -1, 1);
  const auto objective = [&] {
    const double outputs = Objective();
    return outputs + gradcheck::Dot(model_->Conditional(kBatch), e.View());
  };
  objective();
  ParameterArena& arena = model_->arena();
  arena.ZeroGrad();
  Tensor extra = e.View();
  model_->Backward(batch_, c_.View(), &extra);
  const std::vector<float> grads(arena.grads(), arena.grads() + arena.size());
  const std::vector<SparseGrad> sparse = model_->input().grads();
  const double atol = config_.model.batch_norm ? 6e-4 : gradcheck::kAtol;
  // The second functional makes the objective larger, and batch norm over 5 rows divides its float32 rounding by
  // small deviations: a longer step keeps that rounding below the tolerance (pepnet's gates showed it at 1e-3).
  const double step = config_.model.batch_norm ? 3e-3 : kStep;
  Tally tally;
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const ParameterInfo& info = arena.Info(i);
    for (int k = 0; k < 2; ++k) {
      const size_t element = rng.Below(info.size());
      EXPECT_TRUE(CheckElement(arena.Value(i) + element, grads[info.offset + element], objective, &tally, step, atol))
          << info.name << "[" << element << "]";
    }
  }
  auto& tables = model_->input().tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    for (int64_t d = 0; d < sparse[t].dim && sparse[t].count() > 0; ++d) {
      EXPECT_TRUE(CheckElement(tables[t].Row(sparse[t].rows[0]) + d, sparse[t].Row(0)[d], objective, &tally, step,
                               atol))
          << tables[t].name() << " dim " << d;
    }
  }
  EXPECT_GT(tally.checked, 20);
}

// Distinct coefficients on shared and task-specific elements, plus an extra gradient outside the combination
// (the calibrator's), against a slow reference from separate per-task passes: dense element by element, and the
// sparse gradients of the combined representation gradient.
TEST_P(ArchitectureGradcheck, SharedAndSpecificCoefficientsGoWhereTheyBelong) {
  const TaskCoefficients c{{0.5, 2.0, 1.0, 0.25, 1.5}, {1.0, 0.3, 0.7, 1.2, 0.9}};
  Matrix extra(kBatch, kTasks);
  Rng rng(31);
  FillUniform(extra.View(), rng, -0.5, 0.5);
  ParameterArena& arena = model_->arena();
  model_->Forward(batch_, Mode::kTrain);
  auto pass = [&](const Tensor& diff, std::vector<float>* dense, std::vector<float>* input) {
    arena.ZeroGrad();
    Tensor diff_x = model_->BackwardToInput(kBatch, diff);
    dense->assign(arena.grads(), arena.grads() + arena.size());
    input->clear();
    for (int64_t r = 0; r < kBatch; ++r) input->insert(input->end(), diff_x.Row(r), diff_x.Row(r) + diff_x.cols);
  };
  std::vector<std::vector<float>> dense(kTasks), input(kTasks);
  for (int64_t k = 0; k < kTasks; ++k) {
    Matrix column(kBatch, kTasks);
    for (int64_t r = 0; r < kBatch; ++r) column.View().At(r, k) = c_.View().At(r, k);
    pass(column.View(), &dense[k], &input[k]);
  }
  std::vector<float> extra_dense, extra_input;
  pass(extra.View(), &extra_dense, &extra_input);
  // The numeric columns carry no parameters: the reference leaves them out of the combination, as the code does.
  const int64_t width = model_->input_width(), copy = model_->input().CopyCols();
  const int64_t numeric = model_->input().NumericOffset();
  auto combine = [&](const std::vector<std::vector<float>>& v, size_t e, bool is_input) {
    if (is_input && static_cast<int64_t>(e) % width % copy >= numeric) return 0.0;
    int reached = 0;
    double shared = 0, specific = 0;
    for (int64_t k = 0; k < kTasks; ++k) {
      reached += v[k][e] != 0.f;
      shared += c.shared[k] * v[k][e];
      specific += c.specific[k] * v[k][e];
    }
    return reached >= 2 ? shared : specific;
  };
  std::vector<float> want_dense(arena.size()), want_input(input[0].size());
  for (size_t e = 0; e < want_dense.size(); ++e) want_dense[e] = static_cast<float>(combine(dense, e, false) + extra_dense[e]);
  for (size_t e = 0; e < want_input.size(); ++e) want_input[e] = static_cast<float>(combine(input, e, true) + extra_input[e]);
  model_->BackwardInput(batch_, Tensor{want_input.data(), kBatch, width, width});
  const std::vector<SparseGrad> want_sparse = model_->input().grads();

  TaskGradients gradients(*model_, kBatch, false);
  Matrix diff(kBatch, kTasks);
  CopyInto(diff.View(), c_.View());
  gradients.Measure(kBatch, diff.View());
  Tensor extra_view = extra.View();
  gradients.Apply(batch_, diff.View(), c, {.outputs = &extra_view});
  for (size_t e = 0; e < want_dense.size(); ++e) {
    ASSERT_NEAR(arena.grads()[e], want_dense[e], 1e-5f * (1 + std::abs(want_dense[e]))) << "element " << e;
  }
  const std::vector<SparseGrad>& sparse = model_->input().grads();
  for (size_t t = 0; t < sparse.size(); ++t) {
    ASSERT_EQ(sparse[t].rows, want_sparse[t].rows);
    for (size_t e = 0; e < sparse[t].values.size(); ++e) {
      ASSERT_NEAR(sparse[t].values[e], want_sparse[t].values[e], 1e-5f * (1 + std::abs(want_sparse[t].values[e])));
    }
  }

  // The representation space weighs whole task losses by c.shared: the gradient of Σ c.shared[k] L_k + extra.
  Matrix weighted(kBatch, kTasks);
  for (int64_t r = 0; r < kBatch; ++r) {
    for (int64_t k = 0; k < kTasks; ++k) {
      weighted.View().At(r, k) = c_.View().At(r, k) * static_cast<float>(c.shared[k]) + extra.View().At(r, k);
    }
  }
  arena.ZeroGrad();
  model_->Backward(batch_, weighted.View());
  const std::vector<float> want_rep(arena.grads(), arena.grads() + arena.size());
  TaskGradients representation(*model_, kBatch, true);
  CopyInto(diff.View(), c_.View());
  representation.Measure(kBatch, diff.View());
  representation.Apply(batch_, diff.View(), c, {.outputs = &extra_view});
  for (size_t e = 0; e < want_rep.size(); ++e) {
    ASSERT_NEAR(arena.grads()[e], want_rep[e], 1e-5f * (1 + std::abs(want_rep[e]))) << "element " << e;
  }
}

// The Gram matrix against a slow reference built from separate per-task passes: the sum over every element (of
// the input layer's embedding columns' gradient and, in the shared space, of the dense gradients) that two or more
// tasks reach.
// gmv's tower is gmv's alone, so its norm there counts for nothing.
TEST_P(ArchitectureGradcheck, GramMatrixCoversWhatTasksShare) {
  ParameterArena& arena = model_->arena();
  model_->Forward(batch_, Mode::kTrain);
  std::vector<std::vector<float>> dense(kTasks), input(kTasks);
  for (int64_t k = 0; k < kTasks; ++k) {
    Matrix column(kBatch, kTasks);
    for (int64_t r = 0; r < kBatch; ++r) column.View().At(r, k) = c_.View().At(r, k);
    arena.ZeroGrad();
    Tensor diff_x = model_->BackwardToInput(kBatch, column.View());
    dense[k].assign(arena.grads(), arena.grads() + arena.size());
    for (int64_t r = 0; r < kBatch; ++r) input[k].insert(input[k].end(), diff_x.Row(r), diff_x.Row(r) + diff_x.cols);
  }
  auto reference = [&](bool with_dense) {
    TaskMatrix gram(kTasks, std::vector<double>(kTasks, 0.0));
    auto add = [&](const std::vector<std::vector<float>>& v) {
      for (size_t e = 0; e < v[0].size(); ++e) {
        int reached = 0;
        for (int64_t k = 0; k < kTasks; ++k) reached += v[k][e] != 0.f;
        if (reached < 2) continue;
        for (int64_t i = 0; i < kTasks; ++i) {
          for (int64_t j = 0; j < kTasks; ++j) gram[i][j] += static_cast<double>(v[i][e]) * v[j][e];
        }
      }
    };
    std::vector<std::vector<float>> embedding_columns = input;  // the numeric columns have no parameters
    const int64_t width = model_->input_width(), copy = model_->input().CopyCols();
    for (auto& v : embedding_columns) {
      for (size_t e = 0; e < v.size(); ++e) {
        if (static_cast<int64_t>(e) % width % copy >= model_->input().NumericOffset()) v[e] = 0.f;
      }
    }
    add(embedding_columns);
    if (with_dense) add(dense);
    return gram;
  };
  const int64_t gmv = config_.TaskIndex("gmv");
  double gmv_full = 0;
  for (float g : dense[gmv]) gmv_full += static_cast<double>(g) * g;
  for (bool representation : {false, true}) {
    SCOPED_TRACE(representation ? "representation" : "shared");
    TaskGradients gradients(*model_, kBatch, representation);
    Matrix diff(kBatch, kTasks);
    CopyInto(diff.View(), c_.View());
    const TaskMatrix gram = gradients.Measure(kBatch, diff.View());
    const TaskMatrix want = reference(!representation);
    for (int64_t i = 0; i < kTasks; ++i) {
      for (int64_t j = 0; j < kTasks; ++j) {
        EXPECT_NEAR(gram[i][j], want[i][j], 1e-5 * (1 + std::abs(want[i][j]))) << i << "," << j;
      }
    }
    const Arch arch = config_.model.arch;
    // gmv shares dense parameters except in single_task (nothing shared) and esmm (a tower per task on the shared
    // embeddings: only the input is shared).
    if (!representation && arch != Arch::kSingleTask) {
      double gmv_input = 0;  // over the embedding columns
      const int64_t width = model_->input_width(), copy = model_->input().CopyCols();
      for (size_t e = 0; e < input[gmv].size(); ++e) {
        const double g = input[gmv][e];
        if (static_cast<int64_t>(e) % width % copy < model_->input().NumericOffset()) gmv_input += g * g;
      }
      EXPECT_LT(gram[gmv][gmv], gmv_input + gmv_full - 1e-6) << "gmv's own tower counted as shared";
      // AITM gives gmv (no parent link) an encoder of its own: it shares only the input.
      if (arch != Arch::kAitm && arch != Arch::kEsmm) {
        EXPECT_GT(gram[gmv][gmv], gmv_input) << "the dense parameters gmv shares were left out";
      }
    }
  }
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

// STEM's stop-gradient ("all forward, task-specific backward"): the gradient of a root task's output (click, gmv:
// no parent's probability in it) is the full gradient on the shared experts and tables and on the task's own, and
// zero on every other task's experts, gate input and tables, which the full gradient does reach.
TEST(StemStopGradientTest, ATaskTrainsOnlyTheSharedPartsAndItsOwn) {
  SetThreads(1);
  const Config config = ParseConfig(kConfig, "gradcheck.toml", {"model.arch=stem", "model.numeric_projection=3"});
  std::unique_ptr<Model> stopped = CreateModel(config, gradcheck::MakeTinyLayout(), kBatch);
  std::unique_ptr<Model> full = CreateModel(config, gradcheck::MakeTinyLayout(), kBatch);
  dynamic_cast<Stem&>(*full).set_stop_gradient(false);
  Rng rng(3);
  const EncodedData data = gradcheck::MakeTinyData(kBatch, kTasks, rng);
  Batch batch;
  std::vector<int64_t> rows = SequentialOrder(kBatch);
  GatherBatch(data, rows.data(), kBatch, &batch);
  for (Model* model : {stopped.get(), full.get()}) model->Initialize(7);
  for (const int64_t task : {int64_t{0}, int64_t{3}}) {
    const std::string own = config.tasks[task].name;
    SCOPED_TRACE(own);
    Matrix c(kBatch, kTasks);
    for (int64_t r = 0; r < kBatch; ++r) c.View().At(r, task) = static_cast<float>(rng.Uniform() - 0.5);
    for (Model* model : {stopped.get(), full.get()}) {
      model->Forward(batch, Mode::kTrain);
      model->arena().ZeroGrad();
      model->Backward(batch, c.View());
    }
    // Another task's part: its experts, its embeddings' numeric projection, its tables.
    auto other_tasks = [&](const std::string& name) {
      for (const auto& t : config.tasks) {
        if (t.name == own) continue;
        for (const std::string& prefix : {"stem.experts." + t.name + ".", "numeric_projection." + t.name + ".",
                                          "embeddings." + t.name + "."}) {
          if (name.rfind(prefix, 0) == 0) return true;
        }
      }
      return false;
    };
    const ParameterArena& arena = stopped->arena();
    int others = 0, others_reached = 0;
    for (size_t i = 0; i < arena.Infos().size(); ++i) {
      const ParameterInfo& info = arena.Info(i);
      const float* a = stopped->arena().Grad(i);
      const float* b = full->arena().Grad(i);
      if (other_tasks(info.name)) {
        ++others;
        bool reached = false;
        for (size_t e = 0; e < info.size(); ++e) {
          EXPECT_EQ(a[e], 0.f) << info.name << "[" << e << "]";
          reached = reached || b[e] != 0.f;
        }
        others_reached += reached;
      } else {
        for (size_t e = 0; e < info.size(); ++e) EXPECT_NEAR(a[e], b[e], 1e-6) << info.name << "[" << e << "]";
      }
    }
    EXPECT_GT(others, 0);
    EXPECT_EQ(others_reached, others) << "the full gradient reaches every other task's experts";
    const auto& tables = stopped->input().tables();
    for (size_t t = 0; t < tables.size(); ++t) {
      const SparseGrad& a = stopped->input().grads()[t];
      const SparseGrad& b = full->input().grads()[t];
      ASSERT_EQ(a.values.size(), b.values.size()) << tables[t].name();
      bool reached = false;
      for (size_t e = 0; e < a.values.size(); ++e) {
        if (other_tasks(tables[t].name())) {
          EXPECT_EQ(a.values[e], 0.f) << tables[t].name();
          reached = reached || b.values[e] != 0.f;
        } else {
          EXPECT_NEAR(a.values[e], b.values[e], 1e-6) << tables[t].name();
        }
      }
      if (other_tasks(tables[t].name())) {
        EXPECT_TRUE(reached) << tables[t].name();
      }
    }
  }
  SetThreads(0);
}

// PEPNet's stop-gradients cut the gates' inputs from the embeddings they scale: the towers and the PPNet gates get
// the full gradient (nothing of theirs is behind a stop-gradient), the EPNet gate does not (the PPNet gates'
// gradient through sg(e) reaches it in the full one), and neither do the tables behind the gates' inputs.
TEST(PepnetStopGradientTest, TheGatesDoNotMoveWhatTheyScale) {
  SetThreads(1);
  const Config config = ParseConfig(kConfig, "gradcheck.toml",
                                    {"model.arch=pepnet", "model.scenario_features=[\"friend\"]",
                                     "model.prior_features=[\"user\"]"});
  std::unique_ptr<Model> stopped = CreateModel(config, gradcheck::MakeTinyLayout(), kBatch);
  std::unique_ptr<Model> full = CreateModel(config, gradcheck::MakeTinyLayout(), kBatch);
  dynamic_cast<Pepnet&>(*full).set_stop_gradient(false);
  Rng rng(5);
  const EncodedData data = gradcheck::MakeTinyData(kBatch, kTasks, rng);
  Batch batch;
  std::vector<int64_t> rows = SequentialOrder(kBatch);
  GatherBatch(data, rows.data(), kBatch, &batch);
  Matrix c(kBatch, kTasks);
  FillUniform(c.View(), rng, -1, 1);
  for (Model* model : {stopped.get(), full.get()}) {
    model->Initialize(7);
    model->Forward(batch, Mode::kTrain);
    model->arena().ZeroGrad();
    model->Backward(batch, c.View());
  }
  const ParameterArena& arena = stopped->arena();
  int downstream = 0, epnet_differs = 0;
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const ParameterInfo& info = arena.Info(i);
    const float* a = stopped->arena().Grad(i);
    const float* b = full->arena().Grad(i);
    if (info.name.rfind("epnet.", 0) == 0) {
      for (size_t e = 0; e < info.size(); ++e) epnet_differs += std::abs(a[e] - b[e]) > 1e-6f;
      continue;
    }
    ++downstream;
    for (size_t e = 0; e < info.size(); ++e) EXPECT_NEAR(a[e], b[e], 1e-6) << info.name << "[" << e << "]";
  }
  EXPECT_GT(downstream, 4);
  EXPECT_GT(epnet_differs, 0) << "the full gradient reaches EPNet's gate through PPNet's inputs";
  for (size_t t = 0; t < stopped->input().tables().size(); ++t) {
    const SparseGrad& a = stopped->input().grads()[t];
    const SparseGrad& b = full->input().grads()[t];
    ASSERT_EQ(a.values.size(), b.values.size());
    double difference = 0;
    for (size_t e = 0; e < a.values.size(); ++e) difference += std::abs(a.values[e] - b.values[e]);
    EXPECT_GT(difference, 1e-6) << stopped->input().tables()[t].name() << ": the gates read every table";
  }
  SetThreads(0);
}

// Every registered architecture, so a new one is gradient-checked by being added to NameTable<Arch>.
INSTANTIATE_TEST_SUITE_P(Architectures, ArchitectureGradcheck, testing::ValuesIn(Names<Arch>()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

// Each architecture's parameter with model keys to set after it: "mmoe+batch_norm=true".
std::vector<std::string> EveryArchWith(const std::string& settings) {
  std::vector<std::string> params;
  for (const std::string& arch : Names<Arch>()) params.push_back(arch + settings);
  return params;
}

// Every hidden stack batch-normalised, the numeric block projected by a linear layer (the AliExpress shape).
// PEPNet with features behind its gates: the scenario's columns feed EPNet's gate, the priors' (an embedding and
// a numeric column with its missing flag) PPNet's, each also reaching the gradient of what they scale.
INSTANTIATE_TEST_SUITE_P(PepnetWithGateFeatures, ArchitectureGradcheck,
                         testing::Values("pepnet+scenario_features=[\"friend\"]+prior_features=[\"user\", \"price\"]"),
                         [](const testing::TestParamInfo<std::string>&) { return std::string("pepnet"); });

// HoME with two task groups (the chain in one, gmv and like in the other), two experts per group, so that the
// task level has group banks and the meta level's self gates are softmaxes; and without feature gates, its meta
// experts then reading x as one wide GEMM.
INSTANTIATE_TEST_SUITE_P(HomeVariants, ArchitectureGradcheck,
                         testing::Values("home+task_groups=[[\"click\", \"cart\", \"purchase\"], [\"gmv\", \"like\"]]"
                                         "+group_experts=2",
                                         "home+feature_gate_rank=0+experts=1"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.index == 0 ? std::string("home_groups") : std::string("home_without_feature_gates");
                         });

INSTANTIATE_TEST_SUITE_P(WithBatchNormAndNumericProjection, ArchitectureGradcheck,
                         testing::ValuesIn(EveryArchWith("+batch_norm=true+numeric_projection=3")),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find('+'));
                         });

}  // namespace
}  // namespace mtrec
