// The whole description of a run, read from one TOML file with `section.key=value` overrides on top. Each
// field is declared once, with its default, its check and its description, in config.cc: that table drives
// parsing, validation, `mtrec train --print-config` and docs/config.md.
//
//   Config config = LoadConfig("examples/ecommerce/config.toml", {"train.epochs=2", "tasks.gmv.weight=0"});
//   std::string resolved = ConfigToToml(config);   // what a model file stores
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/names.h"

namespace mtrec {

struct DataConfig {
  std::string train;
  std::string valid;
  std::string test;
  double valid_from_test = 0.0;
  double valid_fraction = 0.0;  // of the training file's rows, held out as validation (data/split.h)
  double test_fraction = 0.0;   // ... and as test
  std::string split_group;      // column whose values never straddle the split; empty: rows split one by one
  std::string split_time;       // column whose latest rows are held out; empty: a seeded random split
  SplitBy split_by = SplitBy::kFraction;  // date: valid_dates / test_dates carve the file by time_series.date
  std::string valid_dates;      // "yyyy-mm-dd..yyyy-mm-dd", both ends included
  std::string test_dates;
  uint64_t split_seed = 1;
  std::string delimiter = ",";
  bool header = true;
  std::vector<std::string> columns;
  bool trim = true;
  std::vector<std::string> na_values = {"", "NA", "NaN", "nan", "null", "NULL"};
  OnError on_error = OnError::kFail;
  int64_t max_reported_errors = 10;
  bool cache = true;
  std::string cache_dir;
};

// One derived column of [[time_series.columns]]: a number computed from a source column's past in the row's
// series (features/time_series.h).
struct TimeSeriesColumnConfig {
  std::string name;
  std::string column;              // the source column
  TimeSeriesOp op = TimeSeriesOp::kLag;
  int64_t lag = 1;                 // days back of the newest day read
  int64_t window = 0;              // days read by the window ops; 0 = not given (an error for those ops)
  std::vector<std::string> by;     // the entity; empty: time_series.series
};

struct TimeSeriesConfig {
  std::string date;                 // column of yyyy-mm-dd dates; empty: no time series
  std::vector<std::string> series;  // the columns whose values name one series
  std::vector<TimeSeriesColumnConfig> columns;

  const TimeSeriesColumnConfig* Find(const std::string& name) const;
  // The entity of a derived column: its `by`, or the series.
  const std::vector<std::string>& EntityOf(const TimeSeriesColumnConfig& column) const {
    return column.by.empty() ? series : column.by;
  }
};

struct FeatureConfig {
  std::string name;
  std::string column;
  FeatureKind kind = FeatureKind::kCategorical;
  int64_t min_count = 1;
  int64_t hash_buckets = 0;
  int64_t embedding_dim = 0;
  bool log1p = false;
  bool standardize = true;
  std::vector<double> clip;
  double fill = 0.0;
  MissingFlag missing_flag = MissingFlag::kAuto;
  int64_t buckets = 0;
  std::string separator = "|";
  Pooling pooling = Pooling::kMean;
  std::string share_with;
  double embedding_l2 = -1.0;
};

struct TaskConfig {
  std::string name;
  std::string column;
  TaskKind kind = TaskKind::kBinary;
  LossKind loss = LossKind::kLogloss;  // when not given: logloss for binary, mse for regression (ParseConfig)
  double weight = 1.0;
  std::vector<std::string> positive;
  std::string equals;
  double huber_delta = 1.0;
  double pos_weight = 1.0;  // binary: weight of the positive rows in the logloss (torch's BCEWithLogitsLoss)
  double tweedie_power = 1.5;  // loss tweedie: the variance power p in (1, 2)
  double negbin_alpha = 0.5;   // loss negbin: the dispersion α > 0, Var = μ + αμ²
  double quantile = 0.5;       // loss pinball: the quantile τ in (0, 1)
  std::string censored;        // 0/1 column, 1: the label is a lower bound (poisson, negbin)
  std::vector<double> quantiles = {0.1, 0.5, 0.9};  // loss ziln: the quantiles predict and serve write
  std::string treatment;       // 0/1 column: one set of outputs per arm (control, treated), uplift = their difference
  std::string propensity;      // with a treatment: the binary task predicting it, whose predictions weight the rows
  double propensity_clip = 0.05;  // propensities are clipped to [clip, 1 - clip] before they weight a row
  std::string oracle_uplift;   // with a treatment: column holding the true uplift (simulated data)
  std::string oracle;
  int64_t horizon = 0;         // days ahead a forecast task looks (1: the row's day); 0: not a forecast
  std::string naive;           // column holding a naive forecast of the label (eval: mase, naive_wape); empty: none
  std::string parent;        // task graph: the task this one follows (click for purchase)
  TaskMode mode = TaskMode::kChain;  // see TaskFields
  std::string oracle_given_parent;
  // ESCM²: a chain task's regulariser on p(task | parent) over every row (train/counterfactual.h).
  CounterfactualKind counterfactual = CounterfactualKind::kNone;
  double counterfactual_weight = 1.0;
  double counterfactual_clip = 0.05;  // the parent's predicted p is clipped below at this before it divides
  std::string warm_start_from;  // --init-from: a new task's tower (and gate) starts from this base task's
  bool auxiliary = false;  // trained and evaluated, but not watched by early stopping nor blended by default
};

struct ModelConfig {
  Arch arch = Arch::kSharedBottom;
  int64_t embedding_dim = 16;
  std::vector<int64_t> bottom = {256, 128};
  std::vector<int64_t> tower = {64};
  int64_t experts = 4;
  int64_t task_experts = 1;
  std::vector<int64_t> expert = {256, 128};
  double calibrator = 0.6;
  double dropout = 0.0;
  bool batch_norm = false;
  int64_t numeric_projection = 0;
  double embedding_init_std = 0.05;
  // pepnet: the features its gates read (models/pepnet.h) and the gates' range (0, gate_scale).
  std::vector<std::string> scenario_features;
  std::vector<std::string> prior_features;
  double gate_scale = 2.0;
  // home (models/home.h): groups of task names that share group experts (a task in none is a group of its own),
  // the experts of each group per level, and the rank of each expert's feature gate (0: no feature gates).
  std::vector<std::vector<std::string>> task_groups;
  int64_t group_experts = 1;
  int64_t feature_gate_rank = 8;
};

struct TrainConfig {
  int64_t epochs = 5;
  int64_t stop_after_epochs = 0;  // > 0: this run ends after that many epochs in all, the schedule still epochs
  int64_t batch_size = 512;
  DenseOptimizerKind optimizer = DenseOptimizerKind::kAdam;
  double lr = 0.001;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  SparseOptimizerKind embedding_optimizer = SparseOptimizerKind::kAdagrad;
  double embedding_lr = 0.05;
  double embedding_l2 = 0.0;
  LrScheduleKind lr_schedule = LrScheduleKind::kConstant;
  int64_t warmup_steps = 0;
  double final_lr_ratio = 0.0;
  double ema_decay = 0.0;
  uint64_t seed = 42;
  bool shuffle = true;
  int64_t threads = 0;
  int64_t shard_rows = 1'000'000;
  std::string early_stop_metric = "auc";
  std::string early_stop_task;
  int64_t patience = 2;
  std::string checkpoint;
  bool normalize_losses = false;
  WeightingKind weighting = WeightingKind::kStatic;
  double weighting_lr = 0.01;
  double gradnorm_alpha = 1.5;
  double dwa_temperature = 2.0;
  double cagrad_c = 0.5;
  GradientSpace gradient_space = GradientSpace::kShared;
  int64_t conflict_every = 50;
  std::string baseline;
  std::vector<std::string> freeze;  // parts kept as they are (train/frozen_parts.h)
  bool admit_new_ids = true;        // --init-from: new values join the base model's vocabularies
  bool refit_numeric = false;       // --init-from: numeric transforms fitted again on the new training file
  Precision precision = Precision::kF32;  // of the dense layers' matmuls (nn/precision.h)
};

struct EvalConfig {
  double threshold = 0.5;
  int64_t calibration_bins = 10;
  std::string group_by;                            // column of GAUC and the ranking metrics; empty: none
  std::vector<int64_t> ranking_k = {5, 10};
  std::vector<std::string> relevance;              // binary tasks whose labels add up to a row's relevance; empty: all
  std::string value_task;                          // regression task whose label is the value of a ranking; empty: first
  std::vector<std::string> sample_spaces;          // "TASK|CONDITION": TASK measured where CONDITION's label is 1
  std::string slice_by;                            // column of the per-slice error analysis; empty: none
  int64_t max_slices = 20;                         // values of slice_by with a slice of their own
  bool importance = false;                         // permutation importance of each feature per task
  std::vector<int64_t> top_percent = {10, 30};     // the k of the value and uplift metrics' "top k%"
};

// Task names with a number each (TOML inline table { click = 1, purchase = 3 }), sorted by name: TOML tables
// have no order.
using NamedWeights = std::vector<std::pair<std::string, double>>;

struct ServeConfig {
  NamedWeights blend;              // empty: every binary non-auxiliary task with weight 1
  BlendMode blend_mode = BlendMode::kSum;  // sum: Σ w_k s_k; product: Π s_k^{w_k}
  std::string blend_feature;       // numeric feature whose raw value multiplies the blend (e.g. price); empty: none
};

// `mtrec train --follow DIR`: training on partition files as they appear (train/streaming.h, docs/lifecycle.md).
struct StreamConfig {
  int64_t passes = 1;            // passes over each partition
  int64_t publish_every = 1;     // partitions between publishes of the model (atomic rename to --out)
  double publish_minutes = 0.0;  // also publish when this long has passed since the last; 0: by count only
  int64_t evict_after = 0;       // an id unused for this many partitions loses its embedding row; 0: never
  int64_t max_rows = 0;          // per table, the most rows kept (the least used evicted beyond); 0: no cap
  double wait_seconds = 0.0;     // once caught up, how long to wait for a new partition; < 0: for ever
  double poll_seconds = 1.0;     // how often the folder is listed while waiting
};

struct Config {
  DataConfig data;
  TimeSeriesConfig time_series;
  std::vector<FeatureConfig> features;
  std::vector<TaskConfig> tasks;
  ModelConfig model;
  TrainConfig train;
  EvalConfig eval;
  ServeConfig serve;
  StreamConfig stream;

  // The file it came from; data paths in it are relative to that file's folder. Empty for in-memory text.
  std::string source_path;

  const TaskConfig* FindTask(const std::string& name) const;
  // Index of the task named `name` in `tasks`, -1 when there is none.
  int TaskIndex(const std::string& name) const;
  const FeatureConfig* FindFeature(const std::string& name) const;
};

// Reads and validates a config file; `overrides` are "section.key=value", "features.NAME.key=value" or
// "tasks.NAME.key=value", applied on top of the file. Throws Error with file:line:column and a "did you mean".
Config LoadConfig(const std::string& path, const std::vector<std::string>& overrides = {});
Config ParseConfig(const std::string& text, const std::string& source_name,
                   const std::vector<std::string>& overrides = {});

// Checks cross-field rules (unique names, kinds, losses, label rules); ParseConfig calls it.
void ValidateConfig(const Config& config);

// The resolved config as TOML; `comments` adds each key's description. Parsing the output gives the same Config.
std::string ConfigToToml(const Config& config, bool comments = false);

// The reference of every section and key (default, description) as Markdown: the source of docs/config.md.
std::string ConfigReferenceMarkdown();

// `text` as a TOML basic string, quotes included: "a \"b\"".
std::string QuoteToml(const std::string& text);

// The data path resolved against the config file's folder.
std::string DataPath(const Config& config, const std::string& path);

}  // namespace mtrec
