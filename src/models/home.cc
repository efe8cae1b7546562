#include "models/home.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/math.h"
#include "common/profiler.h"

namespace mtrec {
namespace {

std::vector<std::string> ExpertNames(const std::string& owner, int64_t count) {
  std::vector<std::string> names;
  for (int64_t e = 0; e < count; ++e) names.push_back(fmt::format("{}.{}", owner, e));
  return names;
}

void Append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

Home::Home(const Config& config, const InputLayout& layout, int64_t max_batch) : Model(config, layout, max_batch) {
  const int64_t shared_experts = config.model.experts;
  const int64_t group_experts = config.model.group_experts;
  const int64_t task_experts = config.model.task_experts;
  const int64_t rank = config.model.feature_gate_rank;
  const int tasks = static_cast<int>(tasks_);
  MTREC_CHECK(config.model.expert.size() == 2, "home: model.expert needs two widths (meta level, task level), got {}",
              config.model.expert.size());

  // The groups: those of model.task_groups (over the output columns, models/task_outputs.h), then each column in
  // none on its own. A group is named by its columns, joined with '+'.
  std::vector<int> group_of(tasks, -1);
  std::vector<std::vector<int>> members;
  for (const std::vector<std::string>& group : config.model.task_groups) {
    members.emplace_back();
    for (const std::string& name : group) {
      const int k = config.TaskIndex(name);
      MTREC_CHECK(k >= 0 && group_of[k] < 0, "home: task group member '{}' is no task, or is in two groups", name);
      group_of[k] = static_cast<int>(members.size()) - 1;
      members.back().push_back(k);
    }
  }
  for (int k = 0; k < tasks; ++k) {
    if (group_of[k] >= 0) continue;
    group_of[k] = static_cast<int>(members.size());
    members.push_back({k});
  }
  const int groups = static_cast<int>(members.size());
  std::vector<std::string> group_names;
  for (const std::vector<int>& group : members) {
    std::string name;
    for (int k : group) name += (name.empty() ? "" : "+") + config.tasks[k].name;
    group_names.push_back(name);
  }

  levels_.resize(2);
  // The meta level: one bank of every expert (the shared ones, then each group's), over x or the feature gates'
  // views of it; a branch per group and the shared branch, all gating over x.
  Level& meta = levels_[0];
  meta.width = config.model.expert[0];
  meta.in_width = input_.OutputCols();
  const int64_t meta_experts = shared_experts + groups * group_experts;
  if (rank > 0) {
    features_ = std::make_unique<FeatureGate>(arena_, "home.0.features", meta.in_width, meta_experts, rank, max_batch);
    views_.Resize(max_batch, meta_experts * meta.in_width);
    diff_views_.Resize(max_batch, meta_experts * meta.in_width);
  }
  Bank meta_bank;
  meta_bank.mlp = AddMlp({.name = "home.0.experts",
                          .input_cols = meta.in_width,
                          .hidden = {meta.width},
                          .groups = meta_experts,
                          .shared_input = rank == 0,
                          .normalized = true,
                          .activation = Activation::kSwish,
                          .dropout_stream = DropoutStream::PleLevel(0)});
  meta.banks.push_back(std::move(meta_bank));
  const ExpertRange meta_shared{0, 0, shared_experts * meta.width};
  auto meta_group = [&](int g) {
    return ExpertRange{0, (shared_experts + g * group_experts) * meta.width, group_experts * meta.width};
  };
  for (int g = 0; g < groups; ++g) {
    Branch branch;
    branch.name = group_names[g];
    branch.ranges = {meta_shared, meta_group(g)};
    branch.expert_names = ExpertNames("shared", shared_experts);
    Append(branch.expert_names, ExpertNames(group_names[g], group_experts));
    branch.own_begin = shared_experts;
    branch.own_count = group_experts;
    AddBranch(meta, 0, std::move(branch), max_batch);
  }
  {
    Branch branch;
    branch.name = "shared";
    branch.ranges = {ExpertRange{0, 0, meta_experts * meta.width}};
    branch.expert_names = ExpertNames("shared", shared_experts);
    for (int g = 0; g < groups; ++g) Append(branch.expert_names, ExpertNames(group_names[g], group_experts));
    branch.own_begin = 0;
    branch.own_count = shared_experts;
    AddBranch(meta, 0, std::move(branch), max_batch);
  }
  meta.out.Resize(max_batch, (groups + 1) * meta.width);
  meta.diff_out.Resize(max_batch, (groups + 1) * meta.width);

  // The task level: the shared bank over m_s, a bank per group of two or more tasks over m_g, a bank per task
  // over its group's m_g; a branch per task, gating over its group's m_g.
  Level& top = levels_[1];
  top.width = config.model.expert[1];
  top.in_width = meta.width;
  auto add_bank = [&](const std::string& owner, int64_t count, int input) {
    Bank bank;
    bank.input = input;
    bank.mlp = AddMlp({.name = "home.1.experts." + owner,
                       .input_cols = top.in_width,
                       .hidden = {top.width},
                       .groups = count,
                       .normalized = true,
                       .activation = Activation::kSwish,
                       .dropout_stream = DropoutStream::PleBank(1, top.banks.size())});
    top.banks.push_back(std::move(bank));
    return static_cast<int>(top.banks.size()) - 1;
  };
  const int shared_bank = add_bank("shared", shared_experts, groups);
  std::vector<int> group_bank(groups, -1);
  for (int g = 0; g < groups; ++g) {
    if (members[g].size() > 1) group_bank[g] = add_bank(group_names[g], group_experts, g);
  }
  for (int k = 0; k < tasks; ++k) {
    const int g = group_of[k];
    const int own = add_bank(config.tasks[k].name, task_experts, g);
    Branch branch;
    branch.name = config.tasks[k].name;
    branch.input = g;
    branch.ranges = {ExpertRange{own, 0, task_experts * top.width}};
    branch.expert_names = ExpertNames(config.tasks[k].name, task_experts);
    if (group_bank[g] >= 0) {
      branch.ranges.push_back(ExpertRange{group_bank[g], 0, group_experts * top.width});
      Append(branch.expert_names, ExpertNames(group_names[g], group_experts));
    }
    branch.ranges.push_back(ExpertRange{shared_bank, 0, shared_experts * top.width});
    Append(branch.expert_names, ExpertNames("shared", shared_experts));
    branch.own_begin = 0;
    branch.own_count = task_experts;
    AddBranch(top, 1, std::move(branch), max_batch);
  }
  top.out.Resize(max_batch, tasks * top.width);
  top.diff_out.Resize(max_batch, tasks * top.width);
  for (Level& level : levels_) {
    for (Bank& bank : level.banks) bank.diff_out.Resize(max_batch, bank.mlp->OutputCols());
    level.mixture = std::make_unique<Mixture>(level.width);
    level.diff_in_scratch.Resize(max_batch, level.in_width);
  }
  towers_ = AddTaskTowers(top.width);
}

void Home::AddBranch(Level& level, size_t l, Branch branch, int64_t max_batch) {
  const int64_t count = static_cast<int64_t>(branch.expert_names.size());
  const int64_t own = branch.own_count;
  branch.gate = std::make_unique<Dense>(arena_, fmt::format("home.{}.gates.{}", l, branch.name), level.in_width,
                                        count, Init::kGlorotUniform);
  branch.self = std::make_unique<Dense>(arena_, fmt::format("home.{}.self.{}", l, branch.name), level.in_width, own,
                                        Init::kGlorotUniform);
  branch.softmax = std::make_unique<GateSoftmax>(1, count);
  if (own > 1) branch.self_softmax = std::make_unique<GateSoftmax>(1, own);
  for (Matrix* m : {&branch.logits, &branch.probabilities, &branch.weights, &branch.diff_weights, &branch.diff_logits}) {
    m->Resize(max_batch, count);
  }
  for (Matrix* m : {&branch.self_logits, &branch.self_weights, &branch.diff_self_weights, &branch.diff_self_logits}) {
    m->Resize(max_batch, own);
  }
  branch.blocks.resize(branch.ranges.size());
  branch.diff_blocks.resize(branch.ranges.size());
  branch.usage = gate_usage_.AddGate((l == 0 ? "meta." : "") + branch.name, branch.expert_names);
  level.branches.push_back(std::move(branch));
}

Tensor Home::Input(int input, const Tensor& src, int64_t rows) {
  if (input < 0) return src;
  Level& meta = levels_[0];
  return meta.out.View().TopRows(rows).Columns(input * meta.width, meta.width);
}

Tensor Home::DiffInput(int input, const Tensor& diff_in, int64_t rows) {
  if (input < 0) return diff_in;
  const int64_t width = levels_[0].width;
  return diff_in.TopRows(rows).Columns(input * width, width);
}

void Home::FillBlocks(Level& level, Branch& branch, int64_t rows) {
  for (size_t i = 0; i < branch.ranges.size(); ++i) {
    const ExpertRange& range = branch.ranges[i];
    Bank& bank = level.banks[range.bank];
    branch.blocks[i] = bank.out.Columns(range.begin, range.cols);
    branch.diff_blocks[i] = bank.diff_out.View().TopRows(rows).Columns(range.begin, range.cols);
  }
}

// The gate's softmax over every expert the branch sees, plus the self gate's weights on its own experts: one
// mixture with weights = softmax + self.
void Home::BranchForward(size_t l, Branch& branch, const Tensor& src, Mode mode, const SharedColumns* shared) {
  Level& level = levels_[l];
  const int64_t n = src.rows;
  const Tensor in = Input(branch.input, src, n);
  Tensor logits = branch.logits.View().TopRows(n);
  Tensor probabilities = branch.probabilities.View().TopRows(n);
  Tensor self_logits = branch.self_logits.View().TopRows(n);
  Tensor self_weights = branch.self_weights.View().TopRows(n);
  Tensor weights = branch.weights.View().TopRows(n);
  branch.gate->Forward(in, logits, mode, shared);
  branch.softmax->Forward(logits, probabilities, mode);
  branch.self->Forward(in, self_logits, mode, shared);
  if (branch.self_softmax) {
    branch.self_softmax->Forward(self_logits, self_weights, mode);
  } else {
    for (int64_t r = 0; r < n; ++r) self_weights.At(r, 0) = Sigmoid(self_logits.At(r, 0));
  }
  CopyInto(weights, probabilities);
  for (int64_t r = 0; r < n; ++r) {
    float* row = weights.Row(r) + branch.own_begin;
    for (int64_t i = 0; i < branch.own_count; ++i) row[i] += self_weights.At(r, i);
  }
  FillBlocks(level, branch, n);
  const int64_t index = &branch - level.branches.data();
  level.mixture->Forward(branch.blocks, weights,
                         level.out.View().TopRows(n).Columns(index * level.width, level.width));
  if (mode == Mode::kInfer) gate_usage_.Record(branch.usage, probabilities);
}

void Home::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t n = src.rows;
  const SharedColumns* shared = SharedInput();
  Level& meta = levels_[0];
  Bank& experts = meta.banks[0];
  if (features_) {
    Tensor views = views_.View().TopRows(n);
    {
      ProfileScope scope("home feature gates forward");
      features_->Forward(src, views, mode, shared);
    }
    experts.out = experts.mlp->Forward(views, mode);
  } else {
    experts.out = experts.mlp->Forward(src, mode, shared);
  }
  {
    ProfileScope scope("home.0 gates and mixtures forward");
    for (Branch& branch : meta.branches) BranchForward(0, branch, src, mode, shared);
  }
  Level& top = levels_[1];
  for (Bank& bank : top.banks) bank.out = bank.mlp->Forward(Input(bank.input, src, n), mode);
  {
    ProfileScope scope("home.1 gates and mixtures forward");
    for (Branch& branch : top.branches) BranchForward(1, branch, src, mode, nullptr);
  }
  if (mode == Mode::kInfer) gate_usage_.AddRows(n);
  CopyInto(dst, towers_->Forward(top.out.View().TopRows(n), mode));
}

// The mixture sends its gradient to the experts the branch sees (accumulated) and to the weights; the weights'
// gradient reaches the gate through its softmax (all of it) and the self gate (its own experts' part), and both
// gates send theirs to the branch's input.
void Home::BranchBackward(size_t l, Branch& branch, const Tensor& src, const Tensor& diff_in) {
  Level& level = levels_[l];
  const int64_t n = src.rows;
  const int64_t index = &branch - level.branches.data();
  const Tensor in = Input(branch.input, src, n);
  Tensor weights = branch.weights.View().TopRows(n);
  Tensor diff_weights = branch.diff_weights.View().TopRows(n);
  Tensor diff_logits = branch.diff_logits.View().TopRows(n);
  Tensor self_logits = branch.self_logits.View().TopRows(n);
  Tensor self_weights = branch.self_weights.View().TopRows(n);
  Tensor diff_self_weights = branch.diff_self_weights.View().TopRows(n);
  Tensor diff_self_logits = branch.diff_self_logits.View().TopRows(n);
  FillBlocks(level, branch, n);
  level.mixture->Backward(branch.blocks, weights,
                          level.diff_out.View().TopRows(n).Columns(index * level.width, level.width),
                          branch.diff_blocks, diff_weights);
  branch.softmax->Backward(branch.logits.View().TopRows(n), branch.probabilities.View().TopRows(n), diff_weights,
                           &diff_logits);
  Tensor scratch = level.diff_in_scratch.View().TopRows(n);
  const Tensor diff_input = DiffInput(branch.input, diff_in, n);
  branch.gate->Backward(in, branch.logits.View().TopRows(n), diff_logits, &scratch);
  AddInto(diff_input, scratch);
  CopyInto(diff_self_weights, diff_weights.Columns(branch.own_begin, branch.own_count));
  if (branch.self_softmax) {
    branch.self_softmax->Backward(self_logits, self_weights, diff_self_weights, &diff_self_logits);
  } else {
    for (int64_t r = 0; r < n; ++r) {
      const float w = self_weights.At(r, 0);
      diff_self_logits.At(r, 0) = diff_self_weights.At(r, 0) * w * (1.f - w);
    }
  }
  branch.self->Backward(in, self_logits, diff_self_logits, &scratch);
  AddInto(diff_input, scratch);
}

// The task level first: its branches and banks send their gradients to the meta level's output blocks; then the
// meta level's branches and its one bank (through the feature gates, when there are any) to x.
void Home::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  Level& meta = levels_[0];
  Level& top = levels_[1];
  Tensor diff_top = top.diff_out.View().TopRows(n);
  towers_->Backward(top.out.View().TopRows(n), diff_dst, &diff_top);

  Tensor diff_meta = meta.diff_out.View().TopRows(n);
  ZeroFill(diff_meta);
  for (Bank& bank : top.banks) ZeroFill(bank.diff_out.View().TopRows(n));
  {
    ProfileScope scope("home.1 gates and mixtures backward");
    for (Branch& branch : top.branches) BranchBackward(1, branch, src, diff_meta);
  }
  Tensor scratch = top.diff_in_scratch.View().TopRows(n);
  for (Bank& bank : top.banks) {
    bank.mlp->Backward(Input(bank.input, src, n), bank.diff_out.View().TopRows(n), &scratch);
    AddInto(DiffInput(bank.input, diff_meta, n), scratch);
  }

  ZeroFill(diff_src);
  Bank& experts = meta.banks[0];
  ZeroFill(experts.diff_out.View().TopRows(n));
  {
    ProfileScope scope("home.0 gates and mixtures backward");
    for (Branch& branch : meta.branches) BranchBackward(0, branch, src, diff_src);
  }
  Tensor diff_x = meta.diff_in_scratch.View().TopRows(n);
  if (features_) {
    Tensor views = views_.View().TopRows(n);
    Tensor diff_views = diff_views_.View().TopRows(n);
    experts.mlp->Backward(views, experts.diff_out.View().TopRows(n), &diff_views);
    ProfileScope scope("home feature gates backward");
    features_->Backward(src, views, diff_views, &diff_x);
  } else {
    experts.mlp->Backward(src, experts.diff_out.View().TopRows(n), &diff_x);
  }
  AddInto(diff_src, diff_x);
}

}  // namespace mtrec
