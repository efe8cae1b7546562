#include "cli/training.h"

#include <fmt/format.h>

#include "common/communicator.h"
#include "common/log.h"
#include "features/labels.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "models/predict.h"
#include "models/sharded_tables.h"
#include "train/diagnostics.h"
#include "train/trainer.h"
#include "train/warm_start.h"

namespace mtrec {

std::string StructureOf(Config config) {
  config.data = DataConfig();
  config.train = TrainConfig();
  config.eval = EvalConfig();
  config.stream = StreamConfig();
  return ConfigToToml(config);
}

LoadedModel TrainModel(const Config& config, const ColumnTable& train, const ColumnTable* valid, TrainHooks hooks) {
  LoadedModel out;
  out.config = config;
  out.train_labels = hooks.train_labels ? std::move(*hooks.train_labels) : CountLabels(config, train);
  for (const auto& warning : CheckTrainingLabels(config, out.train_labels, train.path())) LogWarning("{}", warning);
  std::optional<WarmStartReport> warm;
  if (hooks.resumed) {
    out.pipeline = std::move(hooks.resumed->pipeline);
    out.model = std::move(hooks.resumed->model);
  } else if (hooks.base) {
    WarmStartFeatures kept;
    out.pipeline = std::make_unique<FeaturePipeline>(FeaturePipeline::FitFrom(
        *hooks.base->pipeline, config, train, config.train.admit_new_ids, config.train.refit_numeric, &kept));
    out.model = CreateModel(config, out.pipeline->layout(), InferenceBatch(config));
    out.model->Initialize(config.train.seed);
    warm = CarryWeights(hooks.base->config, *hooks.base->model, hooks.base_path, config, kept, *out.model);
    LogInfo("{}", warm->Describe(hooks.base_path));
    for (size_t i = 0; i < config.features.size(); ++i) {
      if (kept.admitted[i] > 0) LogInfo("feature {}: {} new values admitted", config.features[i].name, kept.admitted[i]);
    }
  } else {
    out.pipeline = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config, train));
    // Under mpirun each rank builds only its rows of the row-sharded tables (train.shard_rows).
    InputLayout layout = out.pipeline->layout();
    PartitionLayout(layout, config.train.shard_rows, World());
    out.model = CreateModel(config, layout, InferenceBatch(config));
    out.model->Initialize(config.train.seed);
  }
  const EncodedData train_data = out.pipeline->Encode(train);
  std::optional<EncodedData> valid_data;
  if (valid) valid_data = out.pipeline->Encode(*valid);
  const InputLayout& layout = out.pipeline->layout();
  LogInfo("model: {} over {} inputs ({} embedding tables, {} numeric), {} dense parameters, {} tasks{}",
          config.model.arch, layout.InputWidth(), layout.tables.size(), layout.NumericWidth(),
          out.model->arena().size(), config.tasks.size(),
          out.model->columns() == std::ssize(config.tasks) ? ""
                                                          : fmt::format(" ({} output columns)", out.model->columns()));

  Trainer trainer(config, *out.model);
  if (warm) trainer.KeepOutputBiases(warm->carried_column);
  trainer.ProfileEpochs(hooks.profile);
  trainer.Fit(
      train_data, valid_data ? &*valid_data : nullptr,
      [&](const TrainerState& state) {
        if (hooks.on_epoch) hooks.on_epoch(*out.pipeline, *out.model, state);
      },
      hooks.resumed && hooks.resumed->trainer ? &*hooks.resumed->trainer : nullptr);
  out.history = trainer.state().history;
  // Under mpirun rank 0 alone holds the whole model when tables were sharded; the others have nothing to report.
  if (valid_data && !out.model->GateUsages().empty() && World().is_root()) {
    out.model->ResetGateUsage();
    Predict(*out.model, config, *valid_data);
    LogInfo("on the validation data, {}", FormatGateUsage(out.model->GateUsages()));
  }
  return out;
}

}  // namespace mtrec
