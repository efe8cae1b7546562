// The protocol the Model base class keeps for every architecture: a model is built by Model::Build, which
// allocates its parameter arena once the constructor has reserved everything, and every Mlp of it is built by
// AddMlp, so that SetStepSeed reaches every dropout. A model that skips either is refused, not run wrongly.
#include "models/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/names.h"
#include "nn/matmul_bound.h"
#include "support/tensor_values.h"

namespace mtrec {
namespace {

constexpr int64_t kRows = 3;

// Two binary tasks (cart chained to click, for aitm) and a regression; every layer has dropout.
constexpr char kConfig[] = R"(
[[tasks]]
name = "click"

[[tasks]]
name = "cart"
parent = "click"

[[tasks]]
name = "gmv"
kind = "regression"

[model]
bottom = [6, 5]
tower = [4]
experts = 3
task_experts = 2
expert = [5, 4]
dropout = 0.5
)";

InputLayout Layout() {
  InputLayout layout;
  layout.tables = {{"user", 4, 2}};
  layout.single_slots = {{"user", 0, Pooling::kSum}};
  layout.numeric_names = {"price"};
  return layout;
}

// Two tables, so that a layer reading several shows: the inference tests' layout.
InputLayout TwoTableLayout() {
  InputLayout layout;
  layout.tables = {{"user", 4, 3}, {"item", 6, 2}};
  layout.single_slots = {{"user", 0, Pooling::kSum}, {"item", 1, Pooling::kSum}};
  layout.numeric_names = {"price"};
  return layout;
}

Batch MakeBatch() {
  Batch batch;
  batch.size = kRows;
  batch.single_ids = {{0, 2, 3}};
  batch.numeric = {0.5f, -1.f, 2.f};
  return batch;
}


class EveryArchitecture : public testing::TestWithParam<std::string_view> {};

// A training Forward's dropout masks are the step seed's alone: the same seed gives the same outputs, another seed
// others. An Mlp the model's SetStepSeed does not reach refuses the training Forward (see ModelWithOneMlp).
TEST_P(EveryArchitecture, SetStepSeedReachesEveryDropout) {
  const Config config = ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam())});
  std::unique_ptr<Model> model = CreateModel(config, Layout(), kRows);
  model->Initialize(1);
  const Batch batch = MakeBatch();
  auto train = [&](uint64_t seed) {
    model->SetStepSeed(seed);
    return TensorValues(model->Forward(batch, Mode::kTrain));
  };
  const std::vector<float> first = train(1);
  EXPECT_NE(train(2), first);
  EXPECT_EQ(train(1), first);
}

// Every architecture ends in task towers: a task's output bias moves that task's output by exactly the bias and
// no other task's (gmv, a regression outside any chain; inference, so no dropout).
TEST_P(EveryArchitecture, SetOutputBiasShiftsOnlyItsTask) {
  const Config config = ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam())});
  std::unique_ptr<Model> model = CreateModel(config, Layout(), kRows);
  model->Initialize(1);
  const Batch batch = MakeBatch();
  const std::vector<float> before = TensorValues(model->Forward(batch, Mode::kInfer));
  model->SetOutputBias(2, 3.f);
  const std::vector<float> after = TensorValues(model->Forward(batch, Mode::kInfer));
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t k = 0; k < 3; ++k) {
      const size_t i = static_cast<size_t>(r * 3 + k);
      if (k == 2) {
        EXPECT_NEAR(after[i] - before[i], 3.f, 1e-5) << "row " << r;  // the initial bias is 0
      } else {
        EXPECT_EQ(after[i], before[i]) << "row " << r << " task " << k;
      }
    }
  }
  EXPECT_THROW(model->SetOutputBias(3, 0.f), Error);
}

// Dropout is the identity at inference (skipped there, not copied): the model with dropout 0.5 scores exactly as
// the same weights without dropout, before and after a training Forward.
TEST_P(EveryArchitecture, InferenceIgnoresDropout) {
  const Config with = ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam())});
  const Config without =
      ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam()), "model.dropout=0"});
  std::unique_ptr<Model> a = CreateModel(with, Layout(), kRows), b = CreateModel(without, Layout(), kRows);
  a->Initialize(1);
  b->Initialize(1);
  const Batch batch = MakeBatch();
  const std::vector<float> expected = TensorValues(b->Forward(batch, Mode::kInfer));
  EXPECT_EQ(TensorValues(a->Forward(batch, Mode::kInfer)), expected);
  a->SetStepSeed(3);
  EXPECT_NE(TensorValues(a->Forward(batch, Mode::kTrain)), expected);
  // HoME's experts are always batch-normalised: a training Forward moves their running statistics, through
  // dropped-out inputs at its task level, so its inference afterwards differs from b's for that reason alone.
  if (GetParam() == std::string("home")) return;
  EXPECT_EQ(TensorValues(a->Forward(batch, Mode::kInfer)), expected);
}

// Expert utilisation: every gate of a gated architecture reports its experts and their mean weight over the
// inference rows since the reset, a distribution over its experts; training batches are not counted.
TEST_P(EveryArchitecture, GateUsagesAreMeanInferenceWeightsPerGate) {
  const std::string arch(GetParam());
  const Config config = ParseConfig(kConfig, "model_test.toml", {"model.arch=" + arch});
  std::unique_ptr<Model> model = CreateModel(config, Layout(), kRows);
  model->Initialize(1);
  const Batch batch = MakeBatch();
  const std::vector<std::string> gated = {"omoe", "mmoe", "ple", "adatt", "stem", "home"};
  const bool has_gates = std::find(gated.begin(), gated.end(), arch) != gated.end();
  ASSERT_EQ(!model->GateUsages().empty(), has_gates);
  model->SetStepSeed(3);
  model->Forward(batch, Mode::kTrain);
  for (const GateUsage& usage : model->GateUsages()) {
    for (double w : usage.mean_weight) EXPECT_EQ(w, 0.0) << usage.gate << ": a training batch was counted";
  }
  model->Forward(batch, Mode::kInfer);
  model->Forward(batch, Mode::kInfer);
  std::vector<std::string> names;
  for (const GateUsage& usage : model->GateUsages()) {
    names.push_back(usage.gate);
    ASSERT_EQ(usage.experts.size(), usage.mean_weight.size()) << usage.gate;
    EXPECT_GE(usage.experts.size(), 2u) << usage.gate;
    double total = 0.0;
    for (double w : usage.mean_weight) {
      EXPECT_GT(w, 0.0) << usage.gate;
      total += w;
    }
    EXPECT_NEAR(total, 1.0, 1e-6) << usage.gate;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "two gates share a name";
  model->ResetGateUsage();
  for (const GateUsage& usage : model->GateUsages()) {
    for (double w : usage.mean_weight) EXPECT_EQ(w, 0.0) << usage.gate << " after the reset";
  }
}

// Inference runs each hidden layer's ReLU inside its product and skips dropout: without dropout (and without
// batch norm, whose training statistics differ) it gives the training Forward's outputs.
TEST_P(EveryArchitecture, InferenceScoresAsTheTrainingForward) {
  if (GetParam() == std::string("home")) GTEST_SKIP() << "HoME's experts are always batch-normalised";
  const Config config =
      ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam()), "model.dropout=0"});
  std::unique_ptr<Model> model = CreateModel(config, Layout(), kRows);
  model->Initialize(1);
  const Batch batch = MakeBatch();
  model->SetStepSeed(1);
  const std::vector<float> trained = TensorValues(model->Forward(batch, Mode::kTrain));
  const std::vector<float> inferred = TensorValues(model->Forward(batch, Mode::kInfer));
  ASSERT_EQ(inferred.size(), trained.size());
  for (size_t i = 0; i < trained.size(); ++i) EXPECT_NEAR(inferred[i], trained[i], 1e-6) << i;
}

// With batch norm between a product and its ReLU, inference still rectifies: the last hidden layer's output is
// never negative (the ReLU is fused only into a product directly before it).
TEST(MlpInferenceTest, TheReluAfterBatchNormStays) {
  ParameterArena arena;
  Mlp mlp(arena, {.name = "m", .input_cols = 3, .hidden = {6, 5}}, {.batch_norm = true, .max_batch = 8});
  arena.Allocate();
  arena.Initialize(1);
  Matrix x(8, 3);
  for (int64_t i = 0; i < 24; ++i) x.data()[i] = static_cast<float>((i * 7) % 11) / 2.5f - 2.f;
  const std::vector<float> out = TensorValues(mlp.Forward(x.View(), Mode::kInfer));
  int64_t zeros = 0;
  for (float v : out) {
    EXPECT_GE(v, 0.f);
    zeros += v == 0.f;
  }
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, static_cast<int64_t>(out.size()));
}

// A server's batch: rows in groups that share the user (a request's context). With frozen weights every
// architecture's first layers compute the user's share once per group (a product of one row per group is
// recorded) and score as the same rows without groups. single_task's first layer is a grouped product (network k
// reads embedding set k), which computes every row: it only has to score the same.
TEST_P(EveryArchitecture, RowsInGroupsScoreAsTheSameRowsAlone) {
  const Config config = ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam())});
  const InputLayout layout = TwoTableLayout();
  constexpr int64_t kGroupedRows = 8;
  std::unique_ptr<Model> model = CreateModel(config, layout, kGroupedRows);
  model->Initialize(1);
  model->arena().FreezeValues();
  Batch alone;
  alone.size = kGroupedRows;
  alone.single_ids = {{1, 1, 1, 2, 2, 2, 2, 0}, {0, 1, 2, 3, 4, 5, 0, 1}};
  alone.numeric = {0.5f, -1.f, 2.f, 0.f, 1.f, 3.f, -2.f, 0.25f};
  Batch grouped = alone;
  grouped.group_starts = {0, 3, 7};
  grouped.shared = {1, 0, 1, 0, 1, 0};
  const std::vector<float> expected = TensorValues(model->Forward(alone, Mode::kInfer));
  StartRecordingMatmuls();
  const std::vector<float> got = TensorValues(model->Forward(grouped, Mode::kInfer));
  const std::vector<MatmulShape> shapes = StopRecordingMatmuls();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5) << i;
  if (GetParam() == "single_task") return;
  EXPECT_TRUE(std::any_of(shapes.begin(), shapes.end(), [](const MatmulShape& s) { return s.m == 3 && s.k == 3; }))
      << "no product of the groups' shared columns";
}

// A served copy built again from the config reads the model's weights and tables (one array each, not a copy) and
// scores the same rows exactly as the model does; it keeps no gradients.
TEST_P(EveryArchitecture, ACopySharingTheWeightsScoresAsTheModel) {
  const Config config = ParseConfig(kConfig, "model_test.toml", {"model.arch=" + std::string(GetParam())});
  const InputLayout layout = TwoTableLayout();
  std::unique_ptr<Model> model = CreateModel(config, layout, 8);
  model->Initialize(5);
  std::unique_ptr<Model> copy = CreateModel(config, layout, 8);
  EXPECT_THROW(copy->ShareWeightsOf(*model), Error);  // the model may still train
  Batch batch;
  batch.size = 5;
  batch.single_ids = {{0, 1, 2, 3, 1}, {5, 4, 3, 2, 1}};
  batch.numeric = {0.5f, -1.f, 2.f, 0.f, 1.f};
  std::unique_ptr<Model> reference = CreateModel(config, layout, 8);  // the same weights, nothing packed or shared
  reference->Initialize(5);
  const std::vector<float> unfrozen = TensorValues(reference->Forward(batch, Mode::kInfer));
  model->arena().FreezeValues();
  copy->ShareWeightsOf(*model);
  EXPECT_EQ(copy->arena().values(), model->arena().values());
  ASSERT_EQ(copy->input().tables().size(), model->input().tables().size());
  for (size_t t = 0; t < copy->input().tables().size(); ++t) {
    EXPECT_EQ(copy->input().tables()[t].data(), model->input().tables()[t].data()) << t;
  }
  EXPECT_TRUE(copy->arena().values_frozen());
  EXPECT_THROW(copy->arena().grads(), Error);
  const std::vector<float> expected = TensorValues(model->Forward(batch, Mode::kInfer));
  EXPECT_EQ(TensorValues(copy->Forward(batch, Mode::kInfer)), expected);
  ASSERT_EQ(expected.size(), unfrozen.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(expected[i], unfrozen[i], 1e-5) << i;
}

INSTANTIATE_TEST_SUITE_P(Models, EveryArchitecture, testing::ValuesIn(NameTable<Arch>::kNames),
                         [](const testing::TestParamInfo<std::string_view>& info) { return std::string(info.param); });

// One Mlp from the input to the tasks' outputs, built through AddMlp or, when `forget_add_mlp`, by hand.
class ModelWithOneMlp : public Model {
 public:
  ModelWithOneMlp(const Config& config, const InputLayout& layout, bool forget_add_mlp) : Model(config, layout, kRows) {
    const MlpOptions options{.name = "mlp", .input_cols = input_.OutputCols(), .hidden = {4}, .outputs = tasks_};
    if (forget_add_mlp) {
      by_hand_ = std::make_unique<Mlp>(arena_, options, MlpSettings{.dropout = 0.5f, .max_batch = kRows});
      mlp_ = by_hand_.get();
    } else {
      mlp_ = AddMlp(options);
    }
  }

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override {
    CopyInto(dst, mlp_->Forward(src, mode));
  }
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override {
    mlp_->Backward(src, diff_dst, &diff_src);
  }

 private:
  std::unique_ptr<Mlp> by_hand_;
  Mlp* mlp_;
};

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// PEPNet's gate features must have columns of their own in the input: a name that is no feature is refused at
// construction, naming the key and the feature, as is a numeric feature that the numeric projection absorbed.
TEST(PepnetTest, GateFeaturesWithoutColumnsAreRefused) {
  const auto message = [](const std::vector<std::string>& overrides) {
    std::vector<std::string> all = {"model.arch=pepnet"};
    all.insert(all.end(), overrides.begin(), overrides.end());
    try {
      CreateModel(ParseConfig(kConfig, "model_test.toml", all), Layout(), kRows);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({"model.scenario_features=[\"site\"]"}),
            "model.scenario_features names 'site', which has no columns of its own in the model's input (not a "
            "feature, or a numeric one under model.numeric_projection)");
  EXPECT_NE(message({"model.prior_features=[\"price\"]", "model.numeric_projection=2"}).find(
                "model.prior_features names 'price'"),
            std::string::npos);
  EXPECT_EQ(message({"model.prior_features=[\"user\", \"price\"]", "model.scenario_features=[\"user\"]"}),
            "no error");
}

TEST(ModelProtocolTest, AnMlpBuiltWithoutAddMlpIsRefusedInTraining) {
  const Config config = ParseConfig(kConfig, "model_test.toml");
  const Batch batch = MakeBatch();
  for (const bool forget : {false, true}) {
    std::unique_ptr<ModelWithOneMlp> model = Model::Build<ModelWithOneMlp>(config, Layout(), forget);
    model->Initialize(1);
    model->SetStepSeed(1);
    EXPECT_NO_THROW(model->Forward(batch, Mode::kInfer));  // no dropout, no step seed needed
    const std::string error = ErrorOf([&] { model->Forward(batch, Mode::kTrain); });
    if (forget) {
      EXPECT_NE(error.find("Model::AddMlp"), std::string::npos) << error;
    } else {
      EXPECT_EQ(error, "");
    }
  }
}

TEST(ModelProtocolTest, AModelNotBuiltByBuildHasNoParametersAndRefusesToRun) {
  const Config config = ParseConfig(kConfig, "model_test.toml");
  ModelWithOneMlp model(config, Layout(), /*forget_add_mlp=*/false);  // the constructor alone
  const std::string error = ErrorOf([&] { model.Initialize(1); });
  EXPECT_NE(error.find("Model::Build"), std::string::npos) << error;
  EXPECT_THROW(model.arena(), Error);
  EXPECT_THROW(model.Forward(MakeBatch(), Mode::kInfer), Error);
}

// Build allocates the arena itself: an architecture that still allocates it in its constructor is refused.
TEST(ModelProtocolTest, AConstructorThatAllocatesTheArenaIsRefused) {
  class AllocatesItself : public Model {
   public:
    AllocatesItself(const Config& config, const InputLayout& layout) : Model(config, layout, kRows) {
      AddMlp({.name = "mlp", .input_cols = input_.OutputCols(), .hidden = {4}});
      arena_.Allocate();
    }

   protected:
    void BodyForward(const Tensor&, const Tensor&, Mode) override {}
    void BodyBackward(const Tensor&, const Tensor&, const Tensor&) override {}
  };
  const Config config = ParseConfig(kConfig, "model_test.toml");
  EXPECT_THROW(Model::Build<AllocatesItself>(config, Layout()), Error);
}

}  // namespace
}  // namespace mtrec
