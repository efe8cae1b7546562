// Saving and loading whole models: the resolved config, the fitted feature pipeline, the weights and the
// training history in one SectionFile, so that `predict`, `eval` and `serve` reproduce training exactly.
// Checkpoints are model files with the trainer's state (epoch, optimizer moments, best weights) added.
//
//   SaveModel("model.mtrec", config, pipeline, *model, trainer.state().history, CountLabels(config, train_table));
//   LoadedModel loaded = LoadModel("model.mtrec");
//   auto scores = Predict(*loaded.model, loaded.config, loaded.pipeline.Encode(table));
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "features/labels.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "train/history.h"
#include "train/trainer.h"

namespace mtrec {

struct LoadedModel {
  Config config;
  std::unique_ptr<FeaturePipeline> pipeline;
  std::unique_ptr<Model> model;
  std::vector<EpochRecord> history;
  std::vector<LabelCounts> train_labels;  // the training file's binary labels; empty in files written before them
  std::optional<TrainerState> trainer;  // checkpoints only
  uint32_t format_version = 0;
  std::vector<std::pair<std::string, size_t>> section_sizes;
};

// `train_labels`: CountLabels of the training file, which `eval` compares other files with.
void SaveModel(const std::string& path, const Config& config, const FeaturePipeline& pipeline, const Model& model,
               const std::vector<EpochRecord>& history, const std::vector<LabelCounts>& train_labels = {});
void SaveCheckpoint(const std::string& path, const Config& config, const FeaturePipeline& pipeline, const Model& model,
                    const TrainerState& state, const std::vector<LabelCounts>& train_labels = {});
// max_batch: rows per forward pass of the loaded model (0: InferenceBatch of its config).
LoadedModel LoadModel(const std::string& path, int64_t max_batch = 0);
// The same from the file's bytes, read once by the caller (the server hashes them for the model version); `path`
// names the file in messages. tables_in_place (a served model, whose tables are never written): the embedding
// tables read their rows where they lie in the bytes, which the model then keeps, instead of copies of them, so
// that loading takes about the file's size instead of twice it (not for a checkpoint, most of whose bytes are its
// trainer state).
LoadedModel LoadModelFromBytes(std::string bytes, const std::string& path, int64_t max_batch = 0,
                               bool tables_in_place = false);

}  // namespace mtrec
