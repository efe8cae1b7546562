#include "nn/dense.h"

#include <algorithm>

#include "common/error.h"
#include "nn/matmul.h"

namespace mtrec {

using dnnl::memory;

struct Dense::Plans {
  PlanCache forward;
  PlanCache forward_relu;  // inference with the ReLU fused
  PlanCache backward_weights;
  PlanCache backward_data;
};

// For one split of the input columns: W's rows of the shared columns and of the others, cut once from frozen
// weights, and the buffers of the gathered inputs (grown to the largest batch seen, then reused).
struct Dense::Split {
  std::vector<ColumnRange> shared;  // the split this was cut for
  std::vector<ColumnRange> own;     // the other columns, ascending
  int64_t shared_cols = 0;
  int64_t own_cols = 0;
  const float* weights = nullptr;  // the W it was cut from
  std::vector<float> w_shared;     // shared_cols × out
  std::vector<float> w_own;        // own_cols × out
  std::vector<float> x_shared;     // groups × shared_cols: each group's first row
  std::vector<float> x_own;        // rows × own_cols
  std::vector<float> y_shared;     // groups × out: x_shared · w_shared + b
  PlanCache shared_plans;
  PlanCache own_plans;
  PlanCache own_relu_plans;
};

namespace {

// Copies the listed column ranges of row `row` side by side into `out`.
void GatherColumns(const float* row, const std::vector<ColumnRange>& ranges, float* out) {
  for (const ColumnRange& range : ranges) out = std::copy(row + range.begin, row + range.end, out);
}

}  // namespace

Dense::Dense(ParameterArena& arena, const std::string& name, int64_t in, int64_t out, Init init)
    : arena_(&arena),
      name_(name),
      label_("dense layer '" + name + "'"),
      in_(in),
      out_(out),
      plans_(std::make_unique<Plans>()) {
  MTREC_CHECK(in > 0 && out > 0, "dense layer '{}' has shape {}x{}; expected positive sizes", name, in, out);
  weight_id_ = arena.ReserveLinearWeight(name + ".weight", in, out, init);
  bias_id_ = arena.Reserve(name + ".bias", 1, out, Init::kZero, /*decay=*/false);
}

// The blocked copy of the right-hand operand (W, or G for the weight gradient) costs one pass over it per call:
// worth it when the layer is large and the batch gives the copy enough rows to amortise over (training batches;
// a small scoring batch keeps the plain layout).
bool Dense::UseBlockedWeights(int64_t batch) const { return batch >= 256 && in_ * out_ >= (int64_t{1} << 20); }

Dense::~Dense() = default;
Dense::Dense(Dense&&) noexcept = default;

// Training and inference compute the same product; inference may fuse the ReLU and share a group's columns.
void Dense::Forward(const Tensor& src, const Tensor& dst, Mode) { Infer(src, dst, nullptr, /*relu=*/false); }

// dst = src · W + b, then max(0, ·) when relu, through the plans of that kind.
void Dense::Product(const Tensor& src, const Tensor& dst, bool relu) {
  const int64_t batch = src.rows;
  PlanCache& plans = relu ? plans_->forward_relu : plans_->forward;
  Plan& plan = plans.Get(batch, src.ld, dst.ld, [&] {
    const memory::desc bias = Describe(1, out_, out_, 1);
    const bool frozen = arena_->values_frozen();
    return MakePlan(Describe(batch, in_, src.ld, 1), Describe(in_, out_, out_, 1), &bias,
                    Describe(batch, out_, dst.ld, 1), /*accumulate=*/false, frozen || UseBlockedWeights(batch),
                    /*pack_once=*/frozen, relu);
  });
  Execute(plan, src.data, arena_->Value(weight_id_), arena_->Value(bias_id_), dst.data);
}

void Dense::Infer(const Tensor& src, const Tensor& dst, const SharedColumns* shared, bool relu) {
  CheckTensor(src, src.rows, in_, label_, "src");
  CheckTensor(dst, src.rows, out_, label_, "dst");
  MTREC_CHECK(arena_->allocated(), "dense layer '{}' used before the parameter arena was allocated", name_);
  const int64_t batch = src.rows;
  if (batch == 0) return;
  // Cut weights stay valid only while the weights cannot change, i.e. in a frozen (served) arena; with fewer rows
  // than twice the groups there is little to share.
  if (shared == nullptr || shared->empty() || !arena_->values_frozen() ||
      batch < 2 * static_cast<int64_t>(shared->group_starts.size())) {
    Product(src, dst, relu);
    return;
  }
  MTREC_CHECK(shared->columns.back().end <= in_ && shared->group_starts.front() == 0 &&
                  shared->group_starts.back() < src.rows,
              "{}: shared columns up to {} and groups from row {} for a {} x {} input", label_,
              shared->columns.back().end, shared->group_starts.back(), src.rows, in_);
  ForwardSplit(src, dst, *shared, relu);
}

// dst[r] = src[r, own] · W[own, :] + (src[g, shared] · W[shared, :] + b) for row r of group g: the second term once
// per group. W's rows are cut for a split the first time it is seen; the last kKeptSplits splits are kept (a
// server's requests give one or two: the context's columns, and fewer when a batch mixes in other requests).
void Dense::ForwardSplit(const Tensor& src, const Tensor& dst, const SharedColumns& shared, bool relu) {
  constexpr size_t kKeptSplits = 4;
  const float* weights = arena_->Value(weight_id_);
  auto found = std::find_if(splits_.begin(), splits_.end(), [&](const std::unique_ptr<Split>& split) {
    return split->shared == shared.columns && split->weights == weights;
  });
  if (found != splits_.end()) {
    std::rotate(splits_.begin(), found, found + 1);  // the most recent first
  } else {
    // A new Split, plans included: a packed plan keeps weights by their address, which a new cut may reuse.
    auto split = std::make_unique<Split>();
    split->shared = shared.columns;
    split->weights = weights;
    int64_t next = 0;
    for (const ColumnRange& range : shared.columns) {
      if (range.begin > next) split->own.push_back({next, range.begin});
      next = range.end;
    }
    if (next < in_) split->own.push_back({next, in_});
    for (const ColumnRange& range : split->shared) split->shared_cols += range.end - range.begin;
    split->own_cols = in_ - split->shared_cols;
    auto cut = [&](const std::vector<ColumnRange>& ranges, std::vector<float>* out) {
      for (const ColumnRange& range : ranges) {
        out->insert(out->end(), weights + range.begin * out_, weights + range.end * out_);
      }
    };
    cut(split->shared, &split->w_shared);
    cut(split->own, &split->w_own);
    if (splits_.size() == kKeptSplits) splits_.pop_back();
    splits_.insert(splits_.begin(), std::move(split));
  }
  Split& split = *splits_.front();
  const int64_t rows = src.rows;
  const int64_t groups = static_cast<int64_t>(shared.group_starts.size());
  split.x_shared.resize(std::max<size_t>(split.x_shared.size(), groups * split.shared_cols));
  split.y_shared.resize(std::max<size_t>(split.y_shared.size(), groups * out_));
  for (int64_t g = 0; g < groups; ++g) {
    GatherColumns(src.Row(shared.group_starts[g]), split.shared, split.x_shared.data() + g * split.shared_cols);
  }
  Plan& shared_plan = split.shared_plans.Get(groups, split.shared_cols, out_, [&] {
    const memory::desc bias = Describe(1, out_, out_, 1);
    return MakePlan(Describe(groups, split.shared_cols, split.shared_cols, 1),
                    Describe(split.shared_cols, out_, out_, 1), &bias, Describe(groups, out_, out_, 1),
                    /*accumulate=*/false, /*blocked_b=*/true, /*pack_once=*/true);
  });
  Execute(shared_plan, split.x_shared.data(), split.w_shared.data(), arena_->Value(bias_id_), split.y_shared.data());
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t end = g + 1 < groups ? shared.group_starts[g + 1] : rows;
    const float* y = split.y_shared.data() + g * out_;
    for (int64_t r = shared.group_starts[g]; r < end; ++r) {
      float* row = dst.Row(r);
      if (relu && split.own_cols == 0) {
        for (int64_t j = 0; j < out_; ++j) row[j] = std::max(y[j], 0.f);
      } else {
        std::copy_n(y, out_, row);
      }
    }
  }
  if (split.own_cols == 0) return;
  split.x_own.resize(std::max<size_t>(split.x_own.size(), rows * split.own_cols));
  for (int64_t r = 0; r < rows; ++r) GatherColumns(src.Row(r), split.own, split.x_own.data() + r * split.own_cols);
  PlanCache& own_plans = relu ? split.own_relu_plans : split.own_plans;
  Plan& own_plan = own_plans.Get(rows, split.own_cols, dst.ld, [&] {
    return MakePlan(Describe(rows, split.own_cols, split.own_cols, 1), Describe(split.own_cols, out_, out_, 1),
                    nullptr, Describe(rows, out_, dst.ld, 1), /*accumulate=*/true, /*blocked_b=*/true,
                    /*pack_once=*/true, relu);
  });
  Execute(own_plan, split.x_own.data(), split.w_own.data(), nullptr, dst.data);
}

// With dst = src·W + b and upstream gradient G = diff_dst:
//   diff_W += srcᵀ · G      (in × batch) · (batch × out)
//   diff_b += 1ᵀ · G        the column sums of G
//   diff_src = G · Wᵀ       (batch × out) · (out × in)
void Dense::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  CheckTensor(src, src.rows, in_, label_, "src");
  CheckTensor(diff_dst, src.rows, out_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, src.rows, in_, label_, "diff_src");
  MTREC_CHECK(arena_->allocated(), "dense layer '{}' used before the parameter arena was allocated", name_);
  const int64_t batch = src.rows;
  if (batch == 0) return;

  Plan& weights_plan = plans_->backward_weights.Get(batch, src.ld, diff_dst.ld, [&] {
    // G in oneDNN's blocked layout too: one copy of it per step, and the product of a transposed A with it
    // runs at nearly the forward pass's speed (about 1.3x the plain layout's on a 2048 x 2176 x 4096 layer).
    return MakePlan(Describe(in_, batch, 1, src.ld), Describe(batch, out_, diff_dst.ld, 1), nullptr,
                    Describe(in_, out_, out_, 1), /*accumulate=*/true, UseBlockedWeights(batch));
  });
  Execute(weights_plan, src.data, diff_dst.data, nullptr, arena_->Grad(weight_id_));

  AddColumnSumsParallel(diff_dst, arena_->Grad(bias_id_));

  if (diff_src) {
    Plan& data_plan = plans_->backward_data.Get(batch, diff_dst.ld, diff_src->ld, [&] {
      return MakePlan(Describe(batch, out_, diff_dst.ld, 1), Describe(out_, in_, 1, out_), nullptr,
                      Describe(batch, in_, diff_src->ld, 1), /*accumulate=*/false, UseBlockedWeights(batch));
    });
    Execute(data_plan, diff_dst.data, arena_->Value(weight_id_), nullptr, diff_src->data);
  }
}

}  // namespace mtrec
