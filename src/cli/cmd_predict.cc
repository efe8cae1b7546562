#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/data_sets.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/threads.h"
#include "io/model_io.h"
#include "train/trainer.h"

namespace mtrec {
namespace {

struct PredictOptions {
  std::string model;
  std::string data;
  std::string out;
  int threads = 0;
};

int RunPredict(const PredictOptions& options) {
  SetThreads(options.threads);
  LoadedModel loaded = LoadModel(options.model);
  // Every input row needs its output row, so bad rows stop the run here whatever data.on_error says.
  DataConfig data_config = loaded.config.data;
  data_config.on_error = "fail";
  ColumnTable table =
      LoadTable(options.data, data_config, FeaturePipeline::Requests(loaded.config, /*labels_required=*/false));
  EncodedData data = loaded.pipeline->Encode(table);
  auto predictions = Predict(*loaded.model, loaded.config, data);
  std::string csv;
  for (size_t k = 0; k < loaded.config.tasks.size(); ++k) csv += (k ? "," : "") + loaded.config.tasks[k].name;
  csv += "\n";
  for (int64_t r = 0; r < data.rows; ++r) {
    for (size_t k = 0; k < predictions.size(); ++k) csv += fmt::format("{}{:.7g}", k ? "," : "", predictions[k][r]);
    csv += "\n";
  }
  WriteFileAtomic(options.out, csv);
  LogInfo("wrote {} predictions of {} tasks to {}", data.rows, predictions.size(), options.out);
  return 0;
}

}  // namespace

RunCommand AddPredictCommand(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* command = app.add_subcommand(
      "predict",
      "Score a file: one CSV column per task (binary tasks as probabilities), one row per input row, in order.\n\n"
      "Example:\n"
      "  mtrec predict --model model.mtrec --data data/sim/test.csv --out predictions.csv");
  command->add_option("--model", options->model, "Model file")->required();
  command->add_option("--data", options->data, "Data file (labels not needed)")->required();
  command->add_option("--out", options->out, "Predictions CSV to write")->required();
  command->add_option("--threads", options->threads, "Threads (0 = all cores)")->capture_default_str();
  return [options] { return RunPredict(*options); };
}

}  // namespace mtrec
