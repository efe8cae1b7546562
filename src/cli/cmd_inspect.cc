#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cli/commands.h"
#include "io/model_io.h"
#include "train/diagnostics.h"

namespace mtrec {

RunCommand AddInspectCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "inspect", "Describe a model or checkpoint file: format, sections, features, parameters, training history.\n\n"
                 "Example:\n  mtrec inspect model.mtrec");
  command->add_option("model", *path, "Model or checkpoint file")->required();
  return [path] {
    LoadedModel loaded = LoadModel(*path);
    const Config& config = loaded.config;
    fmt::print("{}: mtrec {} (format version {})\n", *path, loaded.trainer ? "checkpoint" : "model",
               loaded.format_version);
    fmt::print("sections:");
    for (const auto& [name, size] : loaded.section_sizes) fmt::print(" {} ({} bytes)", name, size);
    const ModelConfig& m = config.model;
    fmt::print("\narchitecture: {}, bottom {}, tower {}", m.arch, fmt::join(m.bottom, "-"), fmt::join(m.tower, "-"));
    if (m.arch == "omoe" || m.arch == "mmoe") fmt::print(", {} experts {}", m.experts, fmt::join(m.expert, "-"));
    if (m.arch == "ple") {
      fmt::print(", {} levels ({}), {} shared and {} per-task experts per level", m.expert.size(),
                 fmt::join(m.expert, ", "), m.experts, m.task_experts);
    }
    fmt::print("\ntasks:");
    for (const auto& task : config.tasks) {
      fmt::print(" {} ({}, {}, weight {}", task.name, task.kind, task.loss, task.weight);
      if (!task.parent.empty()) fmt::print(", {} of {}", task.mode, task.parent);
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
        fmt::print("  epoch {}: train loss", record.epoch);
        for (size_t k = 0; k < record.train_loss.size() && k < config.tasks.size(); ++k) {
          fmt::print(" {} {:.4f}", config.tasks[k].name, record.train_loss[k]);
        }
        if (!record.valid.empty()) {
          fmt::print(" | valid");
          for (const auto& report : record.valid) {
            const char* key = report.binary ? "auc" : "rmse";
            fmt::print(" {} {} {:.4f}", report.name, key, report.Get(key));
          }
        }
        if (std::isfinite(record.delta_m)) fmt::print(" | delta_m {:+.3f}%", record.delta_m);
        fmt::print("\n");
        const std::string weighting = FormatWeightingDiagnostics(config, record.task_weights, record.conflict);
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
    if (loaded.trainer) {
      fmt::print("trainer: {} epochs done, best epoch {} ({:.5f})\n", loaded.trainer->epochs_done,
                 loaded.trainer->best_epoch, loaded.trainer->best_score);
    }
    return 0;
  };
}

}  // namespace mtrec
