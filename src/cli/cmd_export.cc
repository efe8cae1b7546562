#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "cli/commands.h"
#include "common/error.h"
#include "io/model_io.h"
#include "io/safetensors.h"

namespace mtrec {
namespace {

constexpr std::array<const char*, 1> kExportFormats = {"safetensors"};

struct ExportOptions {
  std::string model;
  std::string format = "safetensors";
  std::string out;
};

int RunExport(const ExportOptions& options) {
  // Checked before the model is loaded, so a typo fails at once.
  MTREC_CHECK(std::find(kExportFormats.begin(), kExportFormats.end(), options.format) != kExportFormats.end(),
              "--format '{}' is not an export format; supported: {}", options.format, fmt::join(kExportFormats, ", "));
  LoadedModel loaded = LoadModel(options.model);
  ExportSafetensors(options.out, loaded.config, *loaded.pipeline, *loaded.model);
  const size_t tensors = loaded.model->arena().Infos().size() + loaded.model->input().tables().size();
  fmt::print("{}: {} tensors of {} ({}) written as safetensors\n", options.out, tensors, options.model,
             loaded.config.model.arch);
  return 0;
}

}  // namespace

RunCommand AddExportCommand(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* command = app.add_subcommand(
      "export",
      "Write every weight of a model (dense layers in PyTorch's nn.Linear layout, embedding tables) to a file other\n"
      "tools read; tensor names and layouts: docs/model_format.md.\n\n"
      "Examples:\n"
      "  mtrec export --model model.mtrec --format safetensors --out model.safetensors\n"
      "  python -c \"from safetensors.torch import load_file; print(load_file('model.safetensors').keys())\"");
  command->add_option("--model", options->model, "Model or checkpoint file")->required();
  command->add_option("--format", options->format, fmt::format("Output format ({})", fmt::join(kExportFormats, ", ")))
      ->capture_default_str();
  command->add_option("--out", options->out, "File to write")->required();
  return [options] { return RunExport(*options); };
}

}  // namespace mtrec
