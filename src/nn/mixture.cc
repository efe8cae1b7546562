#include "nn/mixture.h"

#include <algorithm>

#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// y += a·x over one expert's row: the loop both directions spend their time in, in the CPU's widest vectors.
MTREC_HOT_LOOP void AxpyRow(float* __restrict y, float a, const float* __restrict x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}

// ⟨x, y⟩ in kLanes fixed lanes (lane k sums elements k, k + kLanes, ... in order), then the lanes in order: the
// lanes vectorise, and every CPU and every clone of the function computes the same sum (one running sum, the
// earlier form, is a chain of dependent adds that no vector unit can shorten).
MTREC_HOT_LOOP float LaneDot(const float* __restrict x, const float* __restrict y, int64_t n) {
  constexpr int64_t kLanes = 16;
  float lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) lanes[k] += x[j + k] * y[j + k];
  }
  for (int64_t k = 0; j + k < n; ++k) lanes[k] += x[j + k] * y[j + k];
  float sum = 0.f;
  for (int64_t k = 0; k < kLanes; ++k) sum += lanes[k];
  return sum;
}

}  // namespace

Mixture::Mixture(int64_t width) : width_(width) {
  MTREC_CHECK(width > 0, "mixture of experts of width {}: expected a positive width", width);
}

void Mixture::CheckBlocks(const std::vector<Tensor>& blocks, const Tensor& gates, const char* what,
                          bool null_allowed) const {
  MTREC_CHECK(!blocks.empty(), "mixture of experts: no {} blocks given", what);
  MTREC_CHECK(gates.data != nullptr, "mixture of experts: gates is null");
  int64_t experts = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Tensor& block = blocks[i];
    MTREC_CHECK(block.data != nullptr || null_allowed, "mixture of experts: {} block {} is null", what, i);
    MTREC_CHECK(block.rows == gates.rows, "mixture of experts: {} block {} has {} rows, the gates {}", what, i,
                block.rows, gates.rows);
    MTREC_CHECK(block.cols > 0 && block.cols % width_ == 0,
                "mixture of experts: {} block {} has {} columns; expected a positive multiple of the expert width {}",
                what, i, block.cols, width_);
    MTREC_CHECK(block.ld >= block.cols, "mixture of experts: {} block {} has ld {} < cols {}", what, i, block.ld,
                block.cols);
    experts += block.cols / width_;
  }
  MTREC_CHECK(gates.cols == experts,
              "mixture of experts: gates has {} columns, expected one per expert: {} in {} blocks of width {}",
              gates.cols, experts, blocks.size(), width_);
  MTREC_CHECK(gates.ld >= gates.cols, "mixture of experts: gates has ld {} < cols {}", gates.ld, gates.cols);
}

void Mixture::Forward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& dst) const {
  CheckBlocks(expert_blocks, gates, "expert");
  CheckTensor(dst, gates.rows, width_, "mixture of experts", "dst");
  ParallelRows(gates.rows, gates.rows * gates.cols * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* out = dst.Row(r);
      const float* g = gates.Row(r);
      std::fill_n(out, width_, 0.f);
      int64_t e = 0;
      for (const Tensor& block : expert_blocks) {
        for (int64_t c = 0; c < block.cols; c += width_, ++e) {
          AxpyRow(out, g[e], block.Row(r) + c, width_);
        }
      }
    }
  });
}

// dst = Σ_e g_e ⊙ x_e per row, with G = diff_dst:
//   ∂/∂x_e = g_e G          (added: the experts' gradients collect every mixture that reads them)
//   ∂/∂g_e = ⟨x_e, G⟩       (written: each gate feeds one mixture)
void Mixture::Backward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& diff_dst,
                       const std::vector<Tensor>& diff_expert_blocks, const Tensor& diff_gates) const {
  CheckBlocks(expert_blocks, gates, "expert");
  MTREC_CHECK(diff_expert_blocks.size() == expert_blocks.size(),
              "mixture of experts: {} gradient blocks for {} expert blocks", diff_expert_blocks.size(),
              expert_blocks.size());
  CheckBlocks(diff_expert_blocks, gates, "gradient", /*null_allowed=*/true);
  for (size_t i = 0; i < expert_blocks.size(); ++i) {
    MTREC_CHECK(diff_expert_blocks[i].cols == expert_blocks[i].cols,
                "mixture of experts: gradient block {} has {} columns, its expert block {}", i,
                diff_expert_blocks[i].cols, expert_blocks[i].cols);
  }
  CheckTensor(diff_dst, gates.rows, width_, "mixture of experts", "diff_dst");
  CheckTensor(diff_gates, gates.rows, gates.cols, "mixture of experts", "diff_gates");
  ParallelRows(gates.rows, 2 * gates.rows * gates.cols * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* d = diff_dst.Row(r);
      const float* g = gates.Row(r);
      float* diff_g = diff_gates.Row(r);
      int64_t e = 0;
      for (size_t i = 0; i < expert_blocks.size(); ++i) {
        const Tensor& block = expert_blocks[i];
        for (int64_t c = 0; c < block.cols; c += width_, ++e) {
          const float weight = g[e];
          const float* expert = block.Row(r) + c;
          if (diff_expert_blocks[i].data != nullptr) AxpyRow(diff_expert_blocks[i].Row(r) + c, weight, d, width_);
          diff_g[e] = LaneDot(expert, d, width_);
        }
      }
    }
  });
}

}  // namespace mtrec
