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

}  // namespace

Config HeadsConfig(const Config& config) {
  Config heads = config;
  heads.tasks.clear();
  for (const TaskConfig& task : config.tasks) {
    const bool ziln = task.loss == LossKind::kZiln;
    if (!ziln && task.treatment.empty()) {
      heads.tasks.push_back(task);
      if (task.counterfactual == CounterfactualKind::kDr) {
        TaskConfig head;
        head.name = task.name + ".imputation";
        head.column = task.column;
        heads.tasks.push_back(std::move(head));
      }
      continue;
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
        heads.tasks.push_back(std::move(head));
      }
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
