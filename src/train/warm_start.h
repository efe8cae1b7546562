// Warm start and transfer (`mtrec train --init-from MODEL`): a model built from a new config, on a new training
// file, starts from what a trained model learned instead of from random weights. The config may differ from the
// trained model's: new ids are admitted to the vocabularies, tasks may be added (their towers and gates start
// fresh) or removed, features added or removed; what cannot carry over (a changed expert width) is refused with
// the parameter's name. docs/lifecycle.md describes it for users.
//
//   LoadedModel base = LoadModel("market_a.mtrec");
//   WarmStartFeatures kept;
//   FeaturePipeline pipeline = FeaturePipeline::FitFrom(*base.pipeline, config, train, /*admit_new_ids=*/true,
//                                                       /*refit_numeric=*/false, &kept);
//   auto model = CreateModel(config, pipeline.layout(), InferenceBatch(config));
//   model->Initialize(config.train.seed);
//   WarmStartReport report = CarryWeights(base.config, *base.model, "market_a.mtrec", config, kept,
//                                         *model);   // then train as usual
//   trainer.KeepOutputBiases(report.carried_column);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "features/pipeline.h"
#include "models/model.h"

namespace mtrec {

struct WarmStartReport {
  int64_t tensors_carried = 0;        // dense tensors loaded whole
  int64_t tensors_partly = 0;         // per-column tensors of which the kept columns' blocks were loaded
  std::vector<std::string> fresh;     // dense tensors and embedding tables the base model lacks (initialised anew)
  std::vector<std::string> dropped;   // the base model's tensors and tables the new one lacks
  std::vector<std::string> new_columns;      // output columns (tasks) that start fresh
  std::vector<std::string> dropped_columns;  // the base model's output columns the new one lacks
  std::vector<bool> carried_column;          // per output column of the new model: loaded from the base
  int64_t embedding_rows_carried = 0;
  int64_t embedding_rows_new = 0;  // rows of admitted ids and of fresh tables, initialised as new rows are

  // A few lines for the log.
  std::string Describe(const std::string& base_path) const;
};

// Copies into `model` (built from `config` over a FeaturePipeline::FitFrom of the base's pipeline, and initialised)
// every weight of `base` (trained with `base_config`) it has, by name: dense tensors of the same shape whole; per-column tensors (task towers,
// mmoe's gates: ParameterInfo::column_axis) block by block, each output column from the base's column of the same
// name; embedding tables row by row for the features `kept` carried over (their ids keep their values), admitted
// rows left as initialised. Throws Error naming the tensor when a shape cannot carry over.
// `base_path` names the base model in messages.
WarmStartReport CarryWeights(const Config& base_config, const Model& base, const std::string& base_path,
                             const Config& config, const WarmStartFeatures& kept, Model& model);

}  // namespace mtrec
