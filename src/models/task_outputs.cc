#include "models/task_outputs.h"

#include <fmt/format.h>

#include <cmath>

#include "models/ziln.h"

namespace mtrec {
namespace {

constexpr const char* kArmNames[] = {"control", "treated"};
constexpr const char* kZilnPartNames[] = {"purchase", "mu", "sigma"};

// "q10" for 0.1, "q2_5" for 0.025: the quantile's percentage, '_' for its decimal point.
std::string QuantileSuffix(double q) {
  std::string percent = fmt::format("{:g}", q * 100);
  for (char& c : percent) c = c == '.' ? '_' : c;
  return "q" + percent;
}

// The heads of one task: itself, or one per column (HeadsConfig), appended to heads_tasks.
void AddHeads(const TaskConfig& task, std::vector<TaskConfig>& heads_tasks) {
  const bool ziln = task.loss == LossKind::kZiln;
  if (!ziln && task.treatment.empty()) {
    heads_tasks.push_back(task);
    if (task.counterfactual == CounterfactualKind::kDr) {
      TaskConfig head;
      head.name = task.name + ".imputation";
      head.column = task.column;
      heads_tasks.push_back(std::move(head));
    }
    return;
  }
  for (int arm = 0; arm < (task.treatment.empty() ? 1 : 2); ++arm) {
    for (int part = 0; part < (ziln ? kZilnColumns : 1); ++part) {
      TaskConfig head;
      head.name = task.name;
      if (!task.treatment.empty()) head.name += std::string(".") + kArmNames[arm];
      if (ziln) head.name += std::string(".") + kZilnPartNames[part];
      head.column = task.column;
      head.kind = task.kind;
      head.loss = task.kind == TaskKind::kBinary ? LossKind::kLogloss : LossKind::kMse;
      heads_tasks.push_back(std::move(head));
    }
  }
}

}  // namespace

Config HeadsConfig(const Config& config) {
  Config heads = config;
  heads.tasks.clear();
  std::vector<std::vector<std::string>> columns_of;  // per task of config, the names of its columns
  for (const TaskConfig& task : config.tasks) {
    const size_t first = heads.tasks.size();
    AddHeads(task, heads.tasks);
    columns_of.emplace_back();
    for (size_t k = first; k < heads.tasks.size(); ++k) columns_of.back().push_back(heads.tasks[k].name);
  }
  // home's task groups name tasks: each becomes its tasks' columns, and a task of several columns in no group
  // becomes a group of its own, so that all its columns share their group's experts.
  if (config.model.arch == Arch::kHome) {
    std::vector<std::vector<std::string>>& groups = heads.model.task_groups;
    groups.clear();
    std::vector<bool> grouped(config.tasks.size(), false);
    for (const std::vector<std::string>& group : config.model.task_groups) {
      groups.emplace_back();
      for (const std::string& name : group) {
        const int k = config.TaskIndex(name);  // validated: every name is a task
        grouped[k] = true;
        groups.back().insert(groups.back().end(), columns_of[k].begin(), columns_of[k].end());
      }
    }
    for (size_t k = 0; k < config.tasks.size(); ++k) {
      if (!grouped[k] && columns_of[k].size() > 1) groups.push_back(columns_of[k]);
    }
  }
  return heads;
}

TaskOutputs::TaskOutputs(const Config& config) {
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    Task t;
    t.first = columns_;
    t.ziln = task.loss == LossKind::kZiln;
    t.arm_width = t.ziln ? kZilnColumns : 1;
    t.arms = task.treatment.empty() ? 1 : 2;
    t.link = LinkOf(task);
    t.imputation = task.counterfactual == CounterfactualKind::kDr;
    columns_ += t.arm_width * t.arms + (t.imputation ? 1 : 0);
    tasks_.push_back(t);
    prediction_columns_.push_back({.name = task.name, .task = static_cast<int64_t>(k)});
  }
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    const auto index = static_cast<int64_t>(k);
    if (tasks_[k].ziln) {
      for (double q : task.quantiles) {
        prediction_columns_.push_back(
            {.name = task.name + "_" + QuantileSuffix(q), .task = index, .what = What::kQuantile, .quantile = q});
      }
    }
    if (!task.treatment.empty()) {
      prediction_columns_.push_back({.name = task.name + "_uplift", .task = index, .what = What::kUplift});
      prediction_columns_.push_back({.name = task.name + "_treated", .task = index, .what = What::kTreated});
      prediction_columns_.push_back({.name = task.name + "_control", .task = index, .what = What::kControl});
    }
  }
}

std::vector<std::string> TaskOutputs::names() const {
  std::vector<std::string> out;
  for (const Column& column : prediction_columns_) out.push_back(column.name);
  return out;
}

int64_t TaskOutputs::UpliftColumn(int64_t task) const {
  for (size_t c = 0; c < prediction_columns_.size(); ++c) {
    if (prediction_columns_[c].task == task && prediction_columns_[c].what == What::kUplift) {
      return static_cast<int64_t>(c);
    }
  }
  return -1;
}

double TaskOutputs::ArmValue(int64_t task, const float* arm_outputs) const {
  const Task& t = tasks_[task];
  return t.ziln ? ZilnOf(arm_outputs).Mean() : ApplyLink(t.link, arm_outputs[0]);
}

double TaskOutputs::Predict(size_t c, const float* outputs, float treatment) const {
  const Column& column = prediction_columns_[c];
  const Task& t = tasks_[column.task];
  const float* control = outputs + t.first;
  const float* treated = control + (t.arms == 2 ? t.arm_width : 0);
  const float* arm = outputs + ArmColumn(column.task, treatment);
  switch (column.what) {
    case What::kValue:
      return ArmValue(column.task, arm);
    case What::kQuantile:
      return ZilnOf(arm).Quantile(column.quantile);
    case What::kUplift:
      return ArmValue(column.task, treated) - ArmValue(column.task, control);
    case What::kTreated:
      return ArmValue(column.task, treated);
    case What::kControl:
      return ArmValue(column.task, control);
  }
  return NAN;
}

}  // namespace mtrec
