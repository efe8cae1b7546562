// Progressive Layered Extraction (Tang et al., RecSys 2020). Level l has, for each task k, model.task_experts
// experts E_k^l reading h_k^{l−1}, and model.experts shared experts E_s^l reading h_s^{l−1}; task k's gate sees
// only its own and the shared experts: h_k^l = Σ_{e ∈ E_k^l ∪ E_s^l} g^{k,l}_e(h_k^{l−1}) f_e(h_k^{l−1 or s}).
// Every level but the last also has a shared branch h_s^l gating over all experts of the level. h^0 = x; towers
// read h_k^L. One level per entry of model.expert, whose experts are one layer of that width (CGC = one level).
// At the first level every expert reads x: they run as one wide GEMM.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/mlp.h"
#include "models/model.h"
#include "nn/dense.h"
#include "nn/gate_softmax.h"
#include "nn/mixture.h"

namespace mtrec {

class Ple : public Model {
 public:
  Ple(const Config& config, const InputLayout& layout, int64_t max_batch);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  // A run of experts reading one input (a branch's h^{l−1}, or x at the first level for all of them).
  struct Bank {
    Mlp* mlp = nullptr;     // owned by the base
    int input_branch = -1;  // -1: the level's src (x); else block `input_branch` of the previous level's output
    Tensor out;             // of the last Forward
    Matrix diff_out;
  };
  // Where a gate's experts are: a column range of a bank's output.
  struct ExpertRange {
    int bank;
    int64_t begin;
    int64_t cols;
  };
  struct Gate {
    std::string name;
    int branch = 0;  // reads this branch's input, writes this branch's output block
    std::unique_ptr<Dense> dense;
    std::unique_ptr<GateSoftmax> softmax;
    std::vector<ExpertRange> ranges;
    std::vector<std::string> expert_names;
    Matrix logits, weights, diff_weights, diff_logits;
    std::vector<Tensor> blocks, diff_blocks;  // refilled per call, sized once
    int usage = -1;  // its index in gate_usage_
  };
  struct Level {
    int64_t width = 0;     // of each expert's output
    int64_t in_width = 0;  // of each branch's input
    std::vector<Bank> banks;
    std::vector<Gate> gates;
    std::unique_ptr<Mixture> mixture;
    Matrix out, diff_out;  // branches × width: task blocks, then the shared block (not at the last level)
    Matrix diff_in_scratch;
  };

  Tensor BranchInput(size_t level, int branch, const Tensor& src, int64_t rows);
  Tensor BranchDiffInput(size_t level, int branch, const Tensor& diff_in, int64_t rows);
  void FillBlocks(Level& level, Gate& gate, int64_t rows);

  std::vector<Level> levels_;
  Mlp* towers_ = nullptr;  // owned by the base
  Matrix diff_towers_in_;
};

}  // namespace mtrec
