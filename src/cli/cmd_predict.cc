#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/scoring_precision.h"
#include "cli/data_sets.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/threads.h"
#include "io/model_io.h"
#include "models/predict.h"
#include "models/task_outputs.h"
#include "nn/precision.h"

namespace mtrec {
namespace {

struct PredictOptions {
  std::string model;
  std::string data;
  std::string out;
  std::vector<std::string> history;
  int threads = 0;
  bool conditional = false;
  std::string precision = "f32";
};

int RunPredict(const PredictOptions& options) {
  SetThreads(options.threads);
  const Precision precision = *ParseName<Precision>(options.precision);
  SetMatmulPrecision(precision, "--precision");
  CheckWritable(options.out, "--out");  // before the model and the data are read, not after
  LoadedModel loaded = LoadModel(options.model);
  // Predicting never changes the weights: frozen, a bf16 or int8 layer converts them once instead of every batch
  // (and int8 scores only frozen weights). f32 keeps the path training's own evaluation takes.
  if (precision != Precision::kF32) loaded.model->arena().FreezeValues();
  // Every input row needs its output row, so bad rows stop the run here whatever data.on_error says.
  DataConfig data_config = loaded.config.data;
  data_config.on_error = OnError::kFail;
  const std::vector<ColumnTable> history = LoadHistory(loaded.config, data_config, options.history);
  ColumnTable table =
      LoadTable(options.data, data_config, FeaturePipeline::Requests(loaded.config, /*labels_required=*/false));
  AddDerivedColumns(loaded.config, table, history);
  EncodedData data = loaded.pipeline->Encode(table);
  std::vector<std::vector<float>> conditional;
  auto predictions = Predict(*loaded.model, loaded.config, data, &conditional);
  // The columns: every task, the extras of ziln and treated tasks (quantiles, uplift...), then with --conditional
  // p(task | parent) of each chain task as <task>_given_<parent>.
  const TaskOutputs task_outputs(loaded.config);
  std::vector<const std::vector<float>*> columns;
  std::string csv;
  const std::vector<std::string> names = task_outputs.names();
  for (size_t c = 0; c < names.size(); ++c) {
    csv += (c ? "," : "") + names[c];
    columns.push_back(&predictions[c]);
  }
  if (options.conditional) {
    for (size_t k = 0; k < loaded.config.tasks.size(); ++k) {
      if (!loaded.model->graph().IsChain(task_outputs.first(static_cast<int64_t>(k)))) continue;
      csv += fmt::format(",{}_given_{}", loaded.config.tasks[k].name, loaded.config.tasks[k].parent);
      columns.push_back(&conditional[k]);
    }
  }
  csv += "\n";
  for (int64_t r = 0; r < data.rows; ++r) {
    for (size_t c = 0; c < columns.size(); ++c) csv += fmt::format("{}{:.7g}", c ? "," : "", (*columns[c])[r]);
    csv += "\n";
  }
  WriteFileAtomic(options.out, csv);
  LogInfo("wrote {} predictions of {} tasks to {}", data.rows, loaded.config.tasks.size(), options.out);
  return 0;
}

}  // namespace

RunCommand AddPredictCommand(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* command = app.add_subcommand(
      "predict",
      "Score a file: one CSV column per task (binary tasks as probabilities; a chain task's is its unconditional\n"
      "probability; a ziln task's its expected value, then its quantiles as <task>_q10...; a task with a treatment\n"
      "the row's arm's, then <task>_uplift, <task>_treated and <task>_control), one row per input row, in order.\n\n"
      "Examples:\n"
      "  mtrec predict --model model.mtrec --data data/sim/test.csv --out predictions.csv\n"
      "  mtrec predict --model model.mtrec --data data/sim/test.csv --out p.csv --conditional   # + purchase_given_click\n"
      "  mtrec predict --model retail.mtrec --data test.csv --history train.csv --history valid.csv --out p.csv");
  command->add_option("--model", options->model, "Model file")->required();
  command->add_option("--data", options->data,
                      "Data file as the model was trained on; label columns may be left out (also without a header)")
      ->required();
  command->add_option("--out", options->out, "Predictions CSV to write")->required();
  command->add_option("--history", options->history,
                      "File of the rows before --data (repeatable, oldest first): the past the model's derived "
                      "time-series columns read (docs/time_series.md)");
  command->add_option("--threads", options->threads, "Threads (0 = all cores)")->capture_default_str();
  AddScoringPrecisionOption(command, &options->precision);
  command->add_flag("--conditional", options->conditional,
                    "Also write p(task | parent) of each chain task, as a column <task>_given_<parent>");
  return [options] { return RunPredict(*options); };
}

}  // namespace mtrec
