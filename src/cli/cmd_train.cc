#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "cli/data_sets.h"
#include "cli/follow.h"
#include "cli/training.h"
#include "data/split.h"
#include "common/communicator.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/threads.h"
#include "nn/precision.h"
#include "eval/evaluation.h"
#include "features/labels.h"
#include "features/pipeline.h"
#include "io/model_io.h"
#include "models/model.h"
#include "models/predict.h"
#include "train/task_scores.h"

namespace mtrec {
namespace {

struct TrainOptions {
  std::string config_path;
  std::string out = "model.mtrec";
  std::string resume;
  std::string init_from;
  std::string follow;
  bool print_config = false;
  bool print_reference = false;
  bool profile = false;
  std::vector<std::string> overrides;
};


// train.threads, where 0 (all cores) shares the machine's cores among the ranks mpirun started on it.
int ThreadsPerRank(int64_t threads) {
  if (threads > 0 || !World().distributed()) return static_cast<int>(threads);
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int ranks_here = local ? std::max(1, std::atoi(local)) : 1;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranks_here);
}

int RunTrain(const TrainOptions& options) {
  if (options.print_reference) {
    fmt::print("{}", ConfigReferenceMarkdown());
    return 0;
  }
  MTREC_CHECK(!options.config_path.empty(), "train needs --config FILE");
  Config config = LoadConfig(options.config_path, options.overrides);
  if (options.print_config) {
    fmt::print("{}", ConfigToToml(config, /*comments=*/true));
    return 0;
  }
  MTREC_CHECK(!config.tasks.empty(), "{}: no [[tasks]]: declare at least one task", options.config_path);
  MTREC_CHECK(!config.features.empty(), "{}: no [[features]]: declare at least one input feature",
              options.config_path);
  SetThreads(ThreadsPerRank(config.train.threads));
  SetMatmulPrecision(config.train.precision, "train.precision in " + options.config_path);
  const std::string checkpoint = config.train.checkpoint.empty() ? options.out + ".ckpt" : config.train.checkpoint;
  // Found now rather than when the first epoch is saved.
  CheckWritable(options.out, "--out");
  CheckWritable(checkpoint, config.train.checkpoint.empty() ? "the checkpoint (--out + '.ckpt')" : "train.checkpoint");

  Communicator& world = World();
  MTREC_CHECK(!world.distributed() || options.follow.empty(),
              "--follow runs in one process; under mpirun train from scratch, --resume or --init-from");
  MTREC_CHECK(!options.profile || options.follow.empty(),
              "--profile times the epochs of a training run; --follow trains partitions as they come, without epochs");
  if (!options.follow.empty()) {
    MTREC_CHECK(options.resume.empty(), "--follow resumes its own checkpoint ({}) when it exists: leave --resume out",
                checkpoint);
    return FollowStream(config, {.dir = options.follow, .out = options.out, .checkpoint = checkpoint,
                                 .init_from = options.init_from});
  }
  MTREC_CHECK(options.resume.empty() || options.init_from.empty(),
              "--init-from and --resume: a resumed run already holds its weights; use one");
  std::optional<LoadedModel> resumed;
  if (!options.resume.empty()) {
    resumed = LoadModel(options.resume, InferenceBatch(config));
    MTREC_CHECK(resumed->trainer.has_value(), "'{}' is a model file, not a checkpoint: nothing to resume",
                options.resume);
    MTREC_CHECK(StructureOf(resumed->config) == StructureOf(config),
                "'{}' was trained with other features, tasks or model settings than '{}'", options.resume,
                options.config_path);
  }

  std::optional<LoadedModel> base;
  if (!options.init_from.empty()) {
    base = LoadModel(options.init_from);
  }

  // Under mpirun each rank reads only its own range of the training file where it can, and keeps blocks of one
  // batch dealt in turn (ShardRows): the same rows whichever way the file was read.
  const bool own_share = world.distributed() && ReadsTrainingShare(config);
  DataSets sets = LoadDataSets(config, /*with_train=*/!own_share);
  std::vector<LabelCounts> train_labels;
  int64_t rows = 0;
  if (own_share) {
    ColumnTable range = LoadTrainingShare(config, world);
    train_labels = CountLabels(config, range, world);
    rows = range.report().rows;
    sets.train = DealBlocks(std::move(range), config.train.batch_size, world);
  } else {
    train_labels = CountLabels(config, *sets.train);
    rows = sets.train->rows();
    if (world.distributed()) {
      LogInfo("each rank reads the whole training file: {}",
              SplitsTrainingFile(config.data) ? "rows are held out of it (data.valid_fraction, data.test_fraction or "
                                                "data.split_by), which needs every row"
                                              : "derived time-series columns read each row's past");
      sets.train = sets.train->Select(ShardRows(rows, config.train.batch_size, world.rank(), world.size()));
    }
  }
  for (const auto* table : {&sets.valid, &sets.test}) {
    if (!table->has_value()) continue;
    for (const auto& warning :
         LabelShiftWarnings(config, train_labels, CountLabels(config, **table), (*table)->path())) {
      LogWarning("{}", warning);
    }
  }
  TrainHooks hooks;
  if (world.distributed()) {
    LogInfo("{} ranks: each {} and trains on blocks of {} rows (train.batch_size) dealt in turn, {} rows in all, "
            "{} on rank 0; a step takes a block from every rank ({} rows)",
            world.size(), own_share ? "read its own range of the training file" : "kept its share",
            config.train.batch_size, rows, sets.train->rows(), config.train.batch_size * world.size());
    hooks.train_labels = train_labels;
  }
  hooks.resumed = std::move(resumed);
  hooks.base = std::move(base);
  hooks.base_path = options.init_from;
  hooks.profile = options.profile;
  // Under mpirun the replicas are the same model: rank 0 writes it, the checkpoints and the test metrics.
  hooks.on_epoch = [&](const FeaturePipeline& pipeline, const Model& model, const TrainerState& state) {
    if (world.is_root()) SaveCheckpoint(checkpoint, config, pipeline, model, state, train_labels);
  };
  LoadedModel trained = TrainModel(config, *sets.train, sets.valid ? &*sets.valid : nullptr, std::move(hooks));
  if (!world.is_root()) return 0;
  SaveModel(options.out, config, *trained.pipeline, *trained.model, trained.history, trained.train_labels);
  LogInfo("wrote {} (checkpoint {})", options.out, checkpoint);

  if (sets.test) {
    EncodedData test = trained.pipeline->Encode(*sets.test);
    std::vector<std::vector<float>> conditional;
    auto predictions = Predict(*trained.model, config, test, &conditional);
    auto reports = EvaluateTasks(MakeTaskScores(config, test, predictions, &conditional), config.eval);
    fmt::print("test metrics ({} rows {} {}):\n{}", test.rows, config.data.test_fraction > 0 ? "held out of" : "of",
               sets.test->path(), FormatMetricTable(reports));
  }
  return 0;
}

}  // namespace

RunCommand AddTrainCommand(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand(
      "train",
      "Train a model as a config file describes, save it, and print the test metrics.\n\nExamples:\n"
      "  mtrec train --config data/sim/config.toml --out model.mtrec     (after mtrec simulate --out data/sim)\n"
      "  mtrec train --config examples/census/config.toml --print-config\n"
      "  mtrec train --config examples/census/config.toml train.epochs=3 model.arch=shared_bottom tasks.income.weight=2\n"
      "  mtrec train --config examples/census/config.toml --resume model.mtrec.ckpt train.epochs=8\n"
      "  mtrec train --config small_market.toml --init-from big_market.mtrec 'train.freeze=[\"embeddings\"]'\n"
      "  mtrec train --config data/stream/config.toml --follow data/stream/days --out live.mtrec stream.evict_after=7");
  command->add_option("--config", options->config_path, "Config file (TOML)");
  command->add_option("--out", options->out, "Model file to write")->capture_default_str();
  command->add_option("--resume", options->resume, "Continue the run saved in this checkpoint");
  command->add_option("--init-from", options->init_from,
                      "Start from this model's weights, vocabularies and numeric transforms (a warm start or a "
                      "transfer; the config may add tasks, features and ids: docs/lifecycle.md)");
  command->add_option("--follow", options->follow,
                      "Train on the partition files of this folder as they appear, each once, in name order, scoring "
                      "each before training on it; publish to --out as [stream] says; restarted, go on after the "
                      "last partition committed to the checkpoint (docs/lifecycle.md)");
  command->add_flag("--profile", options->profile,
                    "After each epoch, print where its training steps spent their time (per layer, gates, loss, "
                    "optimizers, waiting for data) to stderr");
  command->add_flag("--print-config", options->print_config,
                    "Print the resolved config with every key's description, then exit");
  command->add_flag("--print-reference", options->print_reference,
                    "Print the reference of every config key as Markdown (docs/config.md), then exit");
  command->add_option("overrides", options->overrides, "section.key=value settings applied on top of the config");
  return [options] { return RunTrain(*options); };
}

}  // namespace mtrec
