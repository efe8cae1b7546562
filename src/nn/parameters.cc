#include "nn/parameters.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"

namespace mtrec {
namespace {

thread_local const std::vector<ParameterShape>* expected_shapes = nullptr;  // see ExpectedParameters

// Every parameter starts on a 64-byte boundary so that vector loads in the optimizer and in oneDNN are aligned.
constexpr size_t kAlignFloats = AlignedBuffer<float>::kAlignment / sizeof(float);

size_t RoundUp(size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

}  // namespace

size_t ParameterArena::Reserve(std::string name, int64_t rows, int64_t cols, Init init, bool decay) {
  MTREC_CHECK(!allocated_, "parameter '{}' reserved after the arena was allocated", name);
  MTREC_CHECK(rows > 0 && cols > 0, "parameter '{}' has shape {}x{}; expected positive dimensions", name, rows, cols);
  if (expected_shapes != nullptr) {
    const size_t index = infos_.size();
    MTREC_CHECK(index < expected_shapes->size(),
                "the config builds more tensors than the {} of the weights section: '{}' ({} × {}) is not there",
                expected_shapes->size(), name, rows, cols);
    const ParameterShape& stored = (*expected_shapes)[index];
    MTREC_CHECK(stored.name == name && stored.rows == rows && stored.cols == cols,
                "the config builds tensor {} as '{}' ({} × {}), the weights section holds '{}' ({} × {}) there",
                index, name, rows, cols, stored.name, stored.rows, stored.cols);
  }
  for (const ParameterInfo& info : infos_) {
    MTREC_CHECK(info.name != name, "parameter '{}' reserved twice", name);
  }
  ParameterInfo info;
  info.name = std::move(name);
  info.rows = rows;
  info.cols = cols;
  info.init = init;
  info.decay = decay;
  info.offset = total_;
  total_ = RoundUp(total_ + info.size());
  infos_.push_back(std::move(info));
  return infos_.size() - 1;
}

size_t ParameterArena::ReserveLinearWeight(std::string name, int64_t rows, int64_t cols, Init init, int64_t groups) {
  MTREC_CHECK(groups > 0 && rows % groups == 0, "parameter '{}': {} rows do not split into {} groups", name, rows,
              groups);
  const size_t id = Reserve(std::move(name), rows, cols, init, /*decay=*/true);
  infos_[id].linear_weight = true;
  infos_[id].groups = groups;
  return id;
}

void ParameterArena::MarkColumnBlocks(size_t first, int64_t columns) {
  for (size_t id = first; id < infos_.size(); ++id) {
    ParameterInfo& info = infos_[id];
    const bool rows = (info.linear_weight && info.groups == columns) || (!info.linear_weight && info.rows == columns);
    MTREC_CHECK(rows || info.cols % columns == 0, "parameter '{}' ({} × {}) does not split into {} column blocks",
                info.name, info.rows, info.cols, columns);
    info.column_axis = rows ? 0 : 1;
    info.columns = columns;
  }
}

size_t ParameterArena::ReserveBuffer(std::string name, int64_t rows, int64_t cols, Init init) {
  const size_t id = Reserve(std::move(name), rows, cols, init, /*decay=*/false);
  infos_[id].trainable = false;
  return id;
}

ExpectedParameters::ExpectedParameters(const std::vector<ParameterShape>& shapes) : previous_(expected_shapes) {
  expected_shapes = &shapes;
}
ExpectedParameters::~ExpectedParameters() { expected_shapes = previous_; }

void ParameterArena::Allocate() {
  MTREC_CHECK(!allocated_, "parameter arena allocated twice");
  values_.Resize(total_);
  grads_.Resize(total_);
  allocated_ = true;
}

void ParameterArena::Initialize(uint64_t seed) {
  MTREC_CHECK(allocated_, "parameter arena initialised before Allocate()");
  const uint64_t mixed_seed = Mix64(seed);
  for (size_t i = 0; i < infos_.size(); ++i) {
    const ParameterInfo& info = infos_[i];
    float* value = Value(i);
    const size_t n = info.size();
    double bound = 0.0;
    switch (info.init) {
      case Init::kZero:
        std::fill(value, value + n, 0.f);
        continue;
      case Init::kOne:
        std::fill(value, value + n, 1.f);
        continue;
      case Init::kStitch:
        for (int64_t r = 0; r < info.rows; ++r) {
          for (int64_t c = 0; c < info.cols; ++c) {
            value[r * info.cols + c] = r == c ? 0.9f : info.rows > 1 ? 0.1f / static_cast<float>(info.rows - 1) : 0.f;
          }
        }
        if (info.rows == 1) value[0] = 1.f;
        continue;
      case Init::kHeUniform:
        bound = std::sqrt(6.0 / static_cast<double>(info.rows / info.groups));
        break;
      case Init::kGlorotUniform:
        bound = std::sqrt(6.0 / static_cast<double>(info.rows / info.groups + info.cols));
        break;
      case Init::kUniformInverseSqrtCols:
        bound = std::sqrt(1.0 / static_cast<double>(info.cols));
        break;
    }
    // A stream per parameter index: adding or resizing one parameter leaves the others' values unchanged.
    Rng rng(mixed_seed ^ Mix64(i + 1));
    for (size_t j = 0; j < n; ++j) value[j] = static_cast<float>(bound * (2.0 * rng.Uniform() - 1.0));
  }
}

void ParameterArena::FreezeValues() {
  frozen_ = true;
  grads_ = AlignedBuffer<float>();
}

void ParameterArena::ShareValuesOf(const ParameterArena& source) {
  MTREC_CHECK(allocated_ && source.allocated_, "parameter values shared before both arenas were allocated");
  MTREC_CHECK(source.frozen_, "parameter values shared from an arena that may still change");
  MTREC_CHECK(!frozen_, "parameter values shared into an arena that is frozen already");
  MTREC_CHECK(total_ == source.total_ && infos_.size() == source.infos_.size(),
              "parameter values shared between arenas of {} and {} parameters ({} and {} floats)", infos_.size(),
              source.infos_.size(), total_, source.total_);
  for (size_t i = 0; i < infos_.size(); ++i) {
    const ParameterInfo& mine = infos_[i];
    const ParameterInfo& theirs = source.infos_[i];
    MTREC_CHECK(mine.name == theirs.name && mine.rows == theirs.rows && mine.cols == theirs.cols &&
                    mine.offset == theirs.offset,
                "parameter {} is '{}' ({} × {}) here and '{}' ({} × {}) in the arena whose values it would share", i,
                mine.name, mine.rows, mine.cols, theirs.name, theirs.rows, theirs.cols);
  }
  values_ = source.values_.Share();
  FreezeValues();
}

void ParameterArena::ZeroGrad() {
  MTREC_CHECK(allocated_, "ZeroGrad() before Allocate()");
  MTREC_CHECK(!frozen_, "ZeroGrad() on a frozen (served) model, which keeps no gradients");
  // In parallel: a model's gradients are tens of MB, and one thread's fill is bound by its own bandwidth.
  float* grads = grads_.data();
  const int64_t n = static_cast<int64_t>(grads_.size());
  ParallelRows(n, n, [&](int64_t begin, int64_t end) { std::fill(grads + begin, grads + end, 0.f); });
}

}  // namespace mtrec
