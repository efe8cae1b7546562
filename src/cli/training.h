// The training run shared by `mtrec train` and `mtrec backtest`: fit the pipeline on the training table (or take a
// resumed checkpoint's, or extend a warm start's base model's), build the model (loading the base's weights), train
// it with early stopping on the validation table.
//
//   LoadedModel trained = TrainModel(config, *sets.train, sets.valid ? &*sets.valid : nullptr, {});
//   EvaluationRun run = RunEvaluation(trained, test, config.eval, /*with_curves=*/false);
#pragma once

#include <functional>
#include <optional>

#include "common/config.h"
#include "data/column_table.h"
#include "features/labels.h"
#include "io/model_io.h"

namespace mtrec {

// The parts of a config that fix the model's structure; a checkpoint only resumes under the same ones.
std::string StructureOf(Config config);

struct TrainHooks {
  std::optional<LoadedModel> resumed;  // a checkpoint to go on from: its pipeline, model and trainer state
  // A warm start (`--init-from`, train/warm_start.h): the model whose pipeline and weights the new one starts from,
  // and its path for messages.
  std::optional<LoadedModel> base;
  std::string base_path;
  // The training labels' counts when `train` is not the whole training set (under mpirun, a rank's share);
  // otherwise counted from `train`.
  std::optional<std::vector<LabelCounts>> train_labels;
  // After every epoch, with the state to checkpoint.
  std::function<void(const FeaturePipeline&, const Model&, const TrainerState&)> on_epoch;
  // `mtrec train --profile`: each epoch's profile of its training steps (Trainer::ProfileEpochs).
  bool profile = false;
};

// Warns about labels that cannot train, logs the model's size, trains, and logs the experts' use on the
// validation data. The result holds the config, pipeline, model, history and training labels, as LoadModel would
// from the saved file.
LoadedModel TrainModel(const Config& config, const ColumnTable& train, const ColumnTable* valid, TrainHooks hooks);

}  // namespace mtrec
