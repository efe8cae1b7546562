#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cli/commands.h"
#include "common/error.h"
#include "common/metric_info.h"
#include "io/model_io.h"
#include "train/diagnostics.h"

namespace mtrec {
namespace {

// The sizes each architecture reads from [model]; the others' keys are not printed, since the model ignores them.
std::string DescribeArchitecture(const ModelConfig& m) {
  const std::string tower = fmt::format("tower {}", fmt::join(m.tower, "-"));
  const std::string experts = fmt::format("{} experts {}", m.experts, fmt::join(m.expert, "-"));
  switch (m.arch) {
    case Arch::kSingleTask:
    case Arch::kEsmm:
      return fmt::format("{}, a network per task {}-{} over {} embeddings", m.arch, fmt::join(m.bottom, "-"),
                         fmt::join(m.tower, "-"), m.arch == Arch::kSingleTask ? "its own" : "shared");
    case Arch::kSharedBottom:
      return fmt::format("shared_bottom, bottom {}, {}", fmt::join(m.bottom, "-"), tower);
    case Arch::kOmoe:
      return fmt::format("omoe, {} under one shared gate, {}", experts, tower);
    case Arch::kMmoe:
      return fmt::format("mmoe, {} under a gate per task, {}", experts, tower);
    case Arch::kPle:
      return fmt::format("ple, {} levels ({}), {} shared and {} per-task experts per level, {}", m.expert.size(),
                         fmt::join(m.expert, ", "), m.experts, m.task_experts, tower);
    case Arch::kCrossStitch:
      return fmt::format("cross_stitch, a network per task {} joined by cross-stitch units, {}",
                         fmt::join(m.bottom, "-"), tower);
    case Arch::kAitm:
      return fmt::format("aitm, an encoder per task {}, {}", fmt::join(m.bottom, "-"), tower);
    case Arch::kAdatt:
      return fmt::format("adatt, {} levels ({}), {} experts per task per level fused by every task, {}",
                         m.expert.size(), fmt::join(m.expert, ", "), m.task_experts, tower);
    case Arch::kStem:
      return fmt::format("stem, shared and per-task embeddings; {} shared and {} per-task experts {} under a gate per "
                         "task over all of them (other tasks' through a stop-gradient), {}",
                         m.experts, m.task_experts, fmt::join(m.expert, "-"), tower);
    case Arch::kPepnet:
      return fmt::format("pepnet, an EPNet gate over [{}] scaling the embeddings, a {} per task whose layers' inputs "
                         "PPNet gates over [{}] scale (factors in 0..{})",
                         fmt::join(m.scenario_features, ", "), tower, fmt::join(m.prior_features, ", "), m.gate_scale);
    case Arch::kHome: {
      std::vector<std::string> groups;
      for (const auto& group : m.task_groups) groups.push_back("[" + fmt::format("{}", fmt::join(group, ", ")) + "]");
      return fmt::format("home, normalised Swish experts in two levels ({}): {} shared and {} per task group at each, "
                         "{} per task at the task level; task groups {}; {}, {}",
                         fmt::join(m.expert, ", "), m.experts, m.group_experts, m.task_experts,
                         groups.empty() ? std::string("none (each task its own)") : fmt::format("{}", fmt::join(groups, " ")),
                         m.feature_gate_rank > 0 ? fmt::format("feature gates of rank {}", m.feature_gate_rank)
                                                 : std::string("no feature gates"),
                         tower);
    }
  }
  Fail("model.arch {} is not an architecture this mtrec knows", static_cast<int>(m.arch));
}

// The raw columns that a data file to score or a request to `serve` must hold, each with the value it takes and the
// features that read it; then the label columns, which only training and evaluation need.
std::string DescribeInputs(const Config& config) {
  std::vector<std::string> columns;
  std::vector<std::vector<const FeatureConfig*>> readers;
  for (const auto& feature : config.features) {
    auto it = std::find(columns.begin(), columns.end(), feature.column);
    if (it == columns.end()) {
      columns.push_back(feature.column);
      readers.emplace_back();
      it = columns.end() - 1;
    }
    readers[it - columns.begin()].push_back(&feature);
  }
  std::string out = fmt::format("input columns ({}; a request or a file to score gives each):\n", columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    const FeatureConfig& first = *readers[c].front();
    const char* value = first.kind == FeatureKind::kNumeric            ? "a number or null"
                        : first.kind == FeatureKind::kMultiCategorical ? "a list of values or one string"
                                                                       : "a string or integer";
    out += fmt::format("  {:<24} {}", columns[c], value);
    if (first.kind == FeatureKind::kMultiCategorical) out += fmt::format(" (joined by '{}')", first.separator);
    std::vector<std::string> features;
    for (const FeatureConfig* feature : readers[c]) {
      std::string what(NameOf(feature->kind));
      if (feature->kind == FeatureKind::kNumeric && feature->buckets > 0)
        what = fmt::format("{} buckets", feature->buckets);
      if (feature->kind != FeatureKind::kNumeric && feature->hash_buckets > 0) what += fmt::format(", hashed");
      features.push_back(feature->name == columns[c] && readers[c].size() == 1
                             ? what
                             : fmt::format("feature {}: {}", feature->name, what));
    }
    out += fmt::format(": {}\n", fmt::join(features, "; "));
  }
  std::vector<std::string> labels;
  for (const auto& task : config.tasks) {
    if (std::find(labels.begin(), labels.end(), task.column) == labels.end()) labels.push_back(task.column);
  }
  out += fmt::format("label columns (training and eval only): {}\n", fmt::join(labels, ", "));
  return out;
}

}  // namespace

RunCommand AddInspectCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto history_json = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "inspect", "Describe a model or checkpoint file: format, sections, features, parameters, training history.\n\n"
                 "Examples:\n  mtrec inspect model.mtrec\n"
                 "  mtrec inspect model.mtrec --history-json   # per epoch: train losses, validation metrics per task");
  command->add_option("model", *path, "Model or checkpoint file")->required();
  command->add_flag("--history-json", *history_json,
                    "Print only the training history as JSON (an array of epochs; each epoch's 'valid' holds every "
                    "task's validation metrics), for scripts");
  return [path, history_json] {
    LoadedModel loaded = LoadModel(*path);
    if (*history_json) {
      fmt::print("{}\n", HistoryToJson(loaded.history));
      return 0;
    }
    const Config& config = loaded.config;
    fmt::print("{}: mtrec {} (format version {})\n", *path, loaded.trainer ? "checkpoint" : "model",
               loaded.format_version);
    fmt::print("sections:");
    for (const auto& [name, size] : loaded.section_sizes) fmt::print(" {} ({} bytes)", name, size);
    fmt::print("\narchitecture: {}\n", DescribeArchitecture(config.model));
    fmt::print("{}", DescribeInputs(config));
    fmt::print("tasks:");
    for (const auto& task : config.tasks) {
      fmt::print(" {} ({}, {}, weight {}", task.name, task.kind, task.loss, task.weight);
      if (!task.parent.empty()) fmt::print(", {} of {}", task.mode, task.parent);
      if (task.counterfactual != CounterfactualKind::kNone) {
        fmt::print(", counterfactual {} weight {}", task.counterfactual, task.counterfactual_weight);
        if (task.counterfactual == CounterfactualKind::kDr) {
          fmt::print(" with the output column {}.imputation", task.name);
        }
      }
      fmt::print(")");
    }
    const InputLayout& layout = loaded.pipeline->layout();
    int64_t embedding_values = 0;
    fmt::print("\nembedding tables:");
    for (const auto& table : loaded.model->input().tables()) {
      fmt::print(" {} {}x{}", table.name(), table.rows(), table.dim());
      embedding_values += table.rows() * table.dim();
    }
    fmt::print("\nnumeric inputs: {}\n", fmt::join(layout.numeric_names, ", "));
    fmt::print("dense parameters:");
    for (const ParameterInfo& info : loaded.model->arena().Infos()) fmt::print(" {} {}x{}", info.name, info.rows, info.cols);
    fmt::print("\n");
    fmt::print("input width {}, dense parameters {}, embedding parameters {}\n", layout.InputWidth(),
               loaded.model->arena().size(), embedding_values);
    if (!loaded.history.empty()) {
      fmt::print("history (task weighting '{}'):\n", config.train.weighting);
      for (const auto& record : loaded.history) {
        if (record.partition.empty()) {
          fmt::print("  epoch {}: train loss", record.epoch);
        } else {
          fmt::print("  partition {} #{}: train loss", record.partition, record.epoch);
        }
        for (size_t k = 0; k < record.train_loss.size() && k < config.tasks.size(); ++k) {
          fmt::print(" {} {:.4f}", config.tasks[k].name, record.train_loss[k]);
        }
        if (!record.valid.empty()) {
          // A stream's partitions are scored before they are trained on: progressive validation.
          fmt::print("{}", record.partition.empty() ? " | valid" : " | progressive");
          for (const auto& report : record.valid) {
            const char* key = HeadlineMetric(report.binary).name;
            fmt::print(" {} {} {:.4f}", report.name, key, report.Get(key));
          }
        }
        if (std::isfinite(record.delta_m)) fmt::print(" | delta_m {:+.3f}%", record.delta_m);
        fmt::print("\n");
        const std::string weighting = FormatWeightingDiagnostics(config, record.task_weights, record.conflict,
                                                                     record.conflict_steps);
        if (!weighting.empty()) {
          size_t begin = 0;
          while (begin < weighting.size()) {
            const size_t end = std::min(weighting.find('\n', begin), weighting.size());
            fmt::print("  {}\n", weighting.substr(begin, end - begin));  // indented under its epoch
            begin = end + 1;
          }
        }
      }
    }
    if (loaded.trainer && !loaded.trainer->stream.empty()) {
      fmt::print("trainer: a stream's checkpoint, {} partitions done\n", loaded.history.size());
    } else if (loaded.trainer) {
      fmt::print("trainer: {} epochs done, best epoch {} ({:.5f})\n", loaded.trainer->epochs_done,
                 loaded.trainer->best_epoch, loaded.trainer->best_score);
    }
    return 0;
  };
}

}  // namespace mtrec
