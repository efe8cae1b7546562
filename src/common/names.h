// The closed sets of names a config chooses from, each an enum with one name table: the config reader turns a
// name into its enum once, code switches on the enum (so the compiler points at every place a new value must be
// handled), and the config writes the names back, so model files keep storing names.
//
//   std::optional<Arch> arch = ParseName<Arch>("mmoe");   // Arch::kMmoe; nullopt for a name not in the table
//   std::string_view name = NameOf(Arch::kMmoe);          // "mmoe"; fmt prints the name too
//   std::vector<std::string> choices = Names<Arch>();     // the config's allowed values, in table order
#pragma once

#include <fmt/format.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/pooling.h"

namespace mtrec {

// Specialised for each enum below: kNames holds the name of each value, in the enum's order.
template <typename E>
struct NameTable;

enum class Arch {
  kSingleTask, kSharedBottom, kOmoe, kMmoe, kPle, kCrossStitch, kEsmm, kAitm, kAdatt, kStem, kPepnet, kHome
};
template <>
struct NameTable<Arch> {
  static constexpr std::array<std::string_view, 12> kNames = {"single_task", "shared_bottom", "omoe",   "mmoe",
                                                              "ple",         "cross_stitch",  "esmm",   "aitm",
                                                              "adatt",       "stem",          "pepnet", "home"};
};
static_assert(NameTable<Arch>::kNames.size() == static_cast<size_t>(Arch::kHome) + 1, "a name for each Arch");

enum class TaskKind { kBinary, kRegression };
template <>
struct NameTable<TaskKind> {
  static constexpr std::array<std::string_view, 2> kNames = {"binary", "regression"};
};
static_assert(NameTable<TaskKind>::kNames.size() == static_cast<size_t>(TaskKind::kRegression) + 1,
              "a name for each TaskKind");

// How a feature's column is read.
enum class FeatureKind { kCategorical, kNumeric, kMultiCategorical };
template <>
struct NameTable<FeatureKind> {
  static constexpr std::array<std::string_view, 3> kNames = {"categorical", "numeric", "multi_categorical"};
};
static_assert(NameTable<FeatureKind>::kNames.size() == static_cast<size_t>(FeatureKind::kMultiCategorical) + 1,
              "a name for each FeatureKind");

// How a task with a parent relates to it (config.cc: TaskFields).
enum class TaskMode { kChain, kMasked, kDirect };
template <>
struct NameTable<TaskMode> {
  static constexpr std::array<std::string_view, 3> kNames = {"chain", "masked", "direct"};
};
static_assert(NameTable<TaskMode>::kNames.size() == static_cast<size_t>(TaskMode::kDirect) + 1,
              "a name for each TaskMode");

// A chain task's counterfactual regulariser (ESCM², train/counterfactual.h).
enum class CounterfactualKind { kNone, kIps, kDr };
template <>
struct NameTable<CounterfactualKind> {
  static constexpr std::array<std::string_view, 3> kNames = {"none", "ips", "dr"};
};
static_assert(NameTable<CounterfactualKind>::kNames.size() == static_cast<size_t>(CounterfactualKind::kDr) + 1,
              "a name for each CounterfactualKind");

// train.weighting (train/task_weighting.h).
enum class WeightingKind { kStatic, kUncertainty, kGradNorm, kDwa, kRlw, kPcgrad, kMgda, kCagrad };
template <>
struct NameTable<WeightingKind> {
  static constexpr std::array<std::string_view, 8> kNames = {"static", "uncertainty", "gradnorm", "dwa",
                                                             "rlw",    "pcgrad",      "mgda",     "cagrad"};
};
static_assert(NameTable<WeightingKind>::kNames.size() == static_cast<size_t>(WeightingKind::kCagrad) + 1,
              "a name for each WeightingKind");

// train.lr_schedule (train/lr_schedule.h).
enum class LrScheduleKind { kConstant, kCosine, kLinear };
template <>
struct NameTable<LrScheduleKind> {
  static constexpr std::array<std::string_view, 3> kNames = {"constant", "cosine", "linear"};
};
static_assert(NameTable<LrScheduleKind>::kNames.size() == static_cast<size_t>(LrScheduleKind::kLinear) + 1,
              "a name for each LrScheduleKind");

// tasks.loss: a binary task's is logloss; a regression's mse, huber, a count likelihood on a log-mean output
// (poisson, tweedie, negbin), pinball for a quantile, or ziln, the zero-inflated log-normal of a value that is
// mostly zero (train/losses.h, docs/losses.md).
enum class LossKind { kLogloss, kMse, kHuber, kPoisson, kTweedie, kNegbin, kPinball, kZiln };
template <>
struct NameTable<LossKind> {
  static constexpr std::array<std::string_view, 8> kNames = {"logloss", "mse",    "huber",   "poisson",
                                                             "tweedie", "negbin", "pinball", "ziln"};
};
static_assert(NameTable<LossKind>::kNames.size() == static_cast<size_t>(LossKind::kZiln) + 1,
              "a name for each LossKind");

// The losses whose output is s = log μ of a count's mean μ: predictions are e^s and labels must be >= 0.
constexpr bool IsCountLoss(LossKind loss) {
  return loss == LossKind::kPoisson || loss == LossKind::kTweedie || loss == LossKind::kNegbin;
}

// train.optimizer (train/dense_optimizer.h).
enum class DenseOptimizerKind {
  kAdam,   // Kingma & Ba; weight_decay is an L2 term added to the gradient
  kAdamW,  // Loshchilov & Hutter; weight_decay shrinks the weights directly, decoupled from the moments
  kSgd,    // with optional heavy-ball momentum; weight_decay is an L2 term added to the gradient
};
template <>
struct NameTable<DenseOptimizerKind> {
  static constexpr std::array<std::string_view, 3> kNames = {"adam", "adamw", "sgd"};
};
static_assert(NameTable<DenseOptimizerKind>::kNames.size() == static_cast<size_t>(DenseOptimizerKind::kSgd) + 1,
              "a name for each DenseOptimizerKind");

// train.embedding_optimizer (train/sparse_optimizer.h).
enum class SparseOptimizerKind {
  // Row-wise Adagrad: one accumulator G per row, G += mean over the row of g²; w -= lr · g / (sqrt(G) + eps).
  kAdagrad,
  // Adam whose m and v are updated only on the rows a step touches; bias correction uses the global step t.
  kLazyAdam,
  kSgd,
};
template <>
struct NameTable<SparseOptimizerKind> {
  static constexpr std::array<std::string_view, 3> kNames = {"adagrad", "lazy_adam", "sgd"};
};
static_assert(NameTable<SparseOptimizerKind>::kNames.size() == static_cast<size_t>(SparseOptimizerKind::kSgd) + 1,
              "a name for each SparseOptimizerKind");

// train.gradient_space: where task gradients are compared (train/task_gradients.h).
enum class GradientSpace { kShared, kRepresentation };
template <>
struct NameTable<GradientSpace> {
  static constexpr std::array<std::string_view, 2> kNames = {"shared", "representation"};
};
static_assert(NameTable<GradientSpace>::kNames.size() == static_cast<size_t>(GradientSpace::kRepresentation) + 1,
              "a name for each GradientSpace");

// mtrec tune --method (tune/tuner.h).
enum class SearchMethod { kGrid, kRandom, kTpe };
template <>
struct NameTable<SearchMethod> {
  static constexpr std::array<std::string_view, 3> kNames = {"grid", "random", "tpe"};
};
static_assert(NameTable<SearchMethod>::kNames.size() == static_cast<size_t>(SearchMethod::kTpe) + 1,
              "a name for each SearchMethod");

// train.precision and the serving/bench --precision options: the number format of the dense layers' matmuls
// (nn/precision.h). bf16 multiplies bf16 copies of the operands with f32 accumulation; weights, gradients and
// optimizer state stay f32.
enum class Precision { kF32, kBf16, kInt8 };
template <>
struct NameTable<Precision> {
  static constexpr std::array<std::string_view, 3> kNames = {"f32", "bf16", "int8"};
};
static_assert(NameTable<Precision>::kNames.size() == static_cast<size_t>(Precision::kInt8) + 1,
              "a name for each Precision");

// features.missing_flag of a numeric feature (features/numeric.h).
enum class MissingFlag { kAuto, kAlways, kNever };
template <>
struct NameTable<MissingFlag> {
  static constexpr std::array<std::string_view, 3> kNames = {"auto", "always", "never"};
};
static_assert(NameTable<MissingFlag>::kNames.size() == static_cast<size_t>(MissingFlag::kNever) + 1,
              "a name for each MissingFlag");

// features.pooling of a multi_categorical feature; the enum (common/pooling.h) keeps the values model files store.
template <>
struct NameTable<Pooling> {
  static constexpr std::array<std::string_view, 2> kNames = {"sum", "mean"};
};
static_assert(NameTable<Pooling>::kNames.size() == static_cast<size_t>(Pooling::kMean) + 1, "a name for each Pooling");

// data.on_error: what reading a file does with a bad row (data/column_table.h).
enum class OnError { kFail, kSkip };
template <>
struct NameTable<OnError> {
  static constexpr std::array<std::string_view, 2> kNames = {"fail", "skip"};
};
static_assert(NameTable<OnError>::kNames.size() == static_cast<size_t>(OnError::kSkip) + 1, "a name for each OnError");

// data.split_by: how the training file's validation and test rows are chosen (data/split.h).
enum class SplitBy { kFraction, kDate };
template <>
struct NameTable<SplitBy> {
  static constexpr std::array<std::string_view, 2> kNames = {"fraction", "date"};
};
static_assert(NameTable<SplitBy>::kNames.size() == static_cast<size_t>(SplitBy::kDate) + 1, "a name for each SplitBy");

// time_series.columns op: what a derived column computes from its source's past (features/time_series.h).
enum class TimeSeriesOp { kLag, kMean, kStd, kZeroShare, kDaysSince, kRatioToMean };
template <>
struct NameTable<TimeSeriesOp> {
  static constexpr std::array<std::string_view, 6> kNames = {"lag",        "mean",       "std",
                                                             "zero_share", "days_since", "ratio_to_mean"};
};
static_assert(NameTable<TimeSeriesOp>::kNames.size() == static_cast<size_t>(TimeSeriesOp::kRatioToMean) + 1,
              "a name for each TimeSeriesOp");

// serve.blend_mode: how task scores combine into one ranking score (eval/blend.h).
enum class BlendMode { kSum, kProduct };
template <>
struct NameTable<BlendMode> {
  static constexpr std::array<std::string_view, 2> kNames = {"sum", "product"};
};
static_assert(NameTable<BlendMode>::kNames.size() == static_cast<size_t>(BlendMode::kProduct) + 1,
              "a name for each BlendMode");

template <typename E>
inline constexpr bool kHasNameTable = false;
template <typename E>
  requires requires { NameTable<E>::kNames; }
inline constexpr bool kHasNameTable<E> = true;

template <typename E>
constexpr std::string_view NameOf(E value) {
  return NameTable<E>::kNames[static_cast<size_t>(value)];
}

template <typename E>
std::optional<E> ParseName(std::string_view name) {
  const auto& names = NameTable<E>::kNames;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

template <typename E>
std::vector<std::string> Names() {
  return {NameTable<E>::kNames.begin(), NameTable<E>::kNames.end()};
}

}  // namespace mtrec

// fmt prints a named enum as its name, as the config and the logs spell it.
template <typename E>
struct fmt::formatter<E, char, std::enable_if_t<mtrec::kHasNameTable<E>>> : fmt::formatter<std::string_view> {
  auto format(E value, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(mtrec::NameOf(value), ctx);
  }
};
