// HoME, the hierarchy of multi-gate experts (Wang et al., Kuaishou 2024). Tasks fall into groups (model.task_groups,
// the paper's task categories; a task in none is a group of its own). Two levels of experts, each expert one
// layer Swish(BatchNorm(W·in + b)) of width model.expert[l] — normalised, so that no expert's scale or dead units
// decide a gate (expert collapse):
//   meta level  experts S¹ (model.experts, shared) and G¹_g (model.group_experts per group g), expert e reading its
//               own view x_e = x ⊙ 2σ(A_e B_e x) (feature gates, rank model.feature_gate_rank; 0: x itself);
//               m_g = Σ_{e ∈ S¹ ∪ G¹_g} softmax(W_g x)_e E_e  +  self_g(x)·G¹_g     for each group g
//               m_s = Σ_{e ∈ all}      softmax(W_s x)_e E_e  +  self_s(x)·S¹
//   task level  experts S² over m_s, G²_g over m_g (groups of two or more tasks), T²_t (model.task_experts per
//               task) over m_{g(t)};
//               h_t = Σ_{e ∈ T²_t ∪ G²_{g(t)} ∪ S²} softmax(W_t m_{g(t)})_e E_e  +  self_t(m_{g(t)})·T²_t
// The hierarchy mask is which experts each gate sees: a group's gate never mixes another group's experts, so the
// shared experts stay shared (degradation). The self gate, σ over a branch's own experts when it has one and a
// softmax over them otherwise, is a residual path that gives a task's (or group's) own experts their gradient
// however little its main gate weighs them (under-fitting). Task t's tower reads h_t.
// Parameters: home.0.features.{down,up}, home.0.experts (one grouped MLP: the shared experts, then each group's),
// home.0.gates.<branch>, home.0.self.<branch> (branch: a group, or "shared"); home.1.experts.{shared,<group>,<task>},
// home.1.gates.<task>, home.1.self.<task>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/mlp.h"
#include "models/model.h"
#include "nn/dense.h"
#include "nn/feature_gate.h"
#include "nn/gate_softmax.h"
#include "nn/mixture.h"

namespace mtrec {

class Home : public Model {
 public:
  Home(const Config& config, const InputLayout& layout, int64_t max_batch);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  // A run of experts reading one input: at the meta level all of them (x, or their feature-gated views), at the
  // task level block `input` of the meta level's output.
  struct Bank {
    Mlp* mlp = nullptr;  // owned by the base
    int input = -1;      // -1: the meta level's input; else a block of the meta level's output
    Tensor out;          // of the last Forward
    Matrix diff_out;
  };
  // Where a gate's experts are: a column range of a bank's output.
  struct ExpertRange {
    int bank;
    int64_t begin;
    int64_t cols;
  };
  // One output block of a level: a group or the shared branch at the meta level, a task at the task level.
  struct Branch {
    std::string name;
    int input = -1;  // what its gates read: -1 the level's src (x), else a block of the meta level's output
    std::vector<ExpertRange> ranges;
    std::vector<std::string> expert_names;
    int64_t own_begin = 0, own_count = 0;  // its own experts among the gate's, for the self gate
    std::unique_ptr<Dense> gate, self;
    std::unique_ptr<GateSoftmax> softmax, self_softmax;  // self_softmax only with two or more own experts
    Matrix logits, probabilities, self_logits, self_weights, weights;
    Matrix diff_weights, diff_logits, diff_self_weights, diff_self_logits;
    std::vector<Tensor> blocks, diff_blocks;  // refilled per call, sized once
    int usage = -1;  // its index in gate_usage_
  };
  struct Level {
    int64_t width = 0;     // of each expert's output
    int64_t in_width = 0;  // of each branch's input
    std::vector<Bank> banks;
    std::vector<Branch> branches;
    std::unique_ptr<Mixture> mixture;
    Matrix out, diff_out;  // branches × width
    Matrix diff_in_scratch;
  };

  void AddBranch(Level& level, size_t l, Branch branch, int64_t max_batch);
  // What a bank or branch reads: src (input −1), or block `input` of the meta level's output; and its gradient's
  // place in diff_in (diff_src, or the gradient of the meta level's output).
  Tensor Input(int input, const Tensor& src, int64_t rows);
  Tensor DiffInput(int input, const Tensor& diff_in, int64_t rows);
  void FillBlocks(Level& level, Branch& branch, int64_t rows);
  void BranchForward(size_t l, Branch& branch, const Tensor& src, Mode mode, const SharedColumns* shared);
  void BranchBackward(size_t l, Branch& branch, const Tensor& src, const Tensor& diff_src);

  std::unique_ptr<FeatureGate> features_;  // null without feature gates
  Matrix views_, diff_views_;              // the experts' views of x: batch × experts·width of x
  std::vector<Level> levels_;              // the meta level, the task level
  Mlp* towers_ = nullptr;                  // owned by the base
};

}  // namespace mtrec
