#include "nn/mixture.h"

#include <algorithm>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {

Mixture::Mixture(int64_t width) : width_(width) {
  MTREC_CHECK(width > 0, "mixture of experts of width {}: expected a positive width", width);
}

int64_t Mixture::Experts(const std::vector<Tensor>& blocks, const Tensor& gates, const char* what) const {
  int64_t experts = 0;
  for (const Tensor& block : blocks) {
    MTREC_CHECK(block.cols % width_ == 0, "mixture of experts: a block of {} has {} columns, not a multiple of the "
                "expert width {}", what, block.cols, width_);
    CheckTensor(block, gates.rows, block.cols, "mixture of experts", what);
    experts += block.cols / width_;
  }
  CheckTensor(gates, gates.rows, experts, "mixture of experts", "gates");
  return experts;
}

void Mixture::Forward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& dst) const {
  Experts(expert_blocks, gates, "experts");
  CheckTensor(dst, gates.rows, width_, "mixture of experts", "dst");
  ParallelRows(gates.rows, gates.rows * gates.cols * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* out = dst.Row(r);
      std::fill_n(out, width_, 0.f);
      int64_t e = 0;
      for (const Tensor& block : expert_blocks) {
        for (int64_t c = 0; c < block.cols; c += width_, ++e) {
          const float g = gates.At(r, e);
          const float* expert = block.Row(r) + c;
          for (int64_t j = 0; j < width_; ++j) out[j] += g * expert[j];
        }
      }
    }
  });
}

void Mixture::Backward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& diff_dst,
                       const std::vector<Tensor>& diff_expert_blocks, const Tensor& diff_gates) const {
  Experts(expert_blocks, gates, "experts");
  MTREC_CHECK(diff_expert_blocks.size() == expert_blocks.size(), "mixture of experts: {} gradient blocks for {} "
              "expert blocks", diff_expert_blocks.size(), expert_blocks.size());
  for (size_t i = 0; i < expert_blocks.size(); ++i) {
    CheckTensor(diff_expert_blocks[i], gates.rows, expert_blocks[i].cols, "mixture of experts", "diff_experts");
  }
  CheckTensor(diff_dst, gates.rows, width_, "mixture of experts", "diff_dst");
  CheckTensor(diff_gates, gates.rows, gates.cols, "mixture of experts", "diff_gates");
  ParallelRows(gates.rows, gates.rows * gates.cols * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* d = diff_dst.Row(r);
      int64_t e = 0;
      for (size_t i = 0; i < expert_blocks.size(); ++i) {
        const Tensor& block = expert_blocks[i];
        for (int64_t c = 0; c < block.cols; c += width_, ++e) {
          const float g = gates.At(r, e);
          const float* expert = block.Row(r) + c;
          float* diff_expert = diff_expert_blocks[i].Row(r) + c;
          float dot = 0.f;
          for (int64_t j = 0; j < width_; ++j) {
            diff_expert[j] += g * d[j];
            dot += expert[j] * d[j];
          }
          diff_gates.At(r, e) = dot;
        }
      }
    }
  });
}

}  // namespace mtrec
