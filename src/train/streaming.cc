#include "train/streaming.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "common/log.h"
#include "common/rng.h"
#include "eval/evaluation.h"
#include "models/predict.h"
#include "train/task_scores.h"
#include "train/warm_start.h"

namespace mtrec {
namespace {

constexpr char kStreamMagic[] = "MTSTRM01";

}  // namespace

void IdUsage::Reset(const FeaturePipeline& pipeline) {
  const auto& tables = pipeline.layout().tables;
  tables_.assign(tables.size(), Table{});
  for (size_t t = 0; t < tables.size(); ++t) {
    tables_[t].feature = pipeline.VocabularyOfTable(t);
    if (tables_[t].feature < 0) continue;
    tables_[t].last_seen.assign(static_cast<size_t>(tables[t].rows), 0);
    tables_[t].uses.assign(static_cast<size_t>(tables[t].rows), 0);
  }
}

void IdUsage::Record(const FeaturePipeline& pipeline, const EncodedData& data, int64_t partition) {
  const InputLayout& layout = pipeline.layout();
  auto use = [&](size_t t, int32_t id) {
    Table& table = tables_[t];
    if (table.feature < 0 || id <= 0) return;
    MTREC_CHECK(static_cast<size_t>(id) < table.uses.size(), "id usage: id {} outside table {} of {} rows", id,
                layout.tables[t].name, table.uses.size());
    table.last_seen[static_cast<size_t>(id)] = partition;
    ++table.uses[static_cast<size_t>(id)];
  };
  for (size_t s = 0; s < layout.single_slots.size(); ++s) {
    const auto t = static_cast<size_t>(layout.single_slots[s].table);
    for (const int32_t id : data.single_ids[s]) use(t, id);
  }
  for (size_t s = 0; s < layout.multi_slots.size(); ++s) {
    const auto t = static_cast<size_t>(layout.multi_slots[s].table);
    for (const int32_t id : data.multi_ids[s].ids) use(t, id);
  }
}

void IdUsage::Grow(size_t t, int64_t rows) {
  Table& table = tables_[t];
  if (table.feature < 0) return;
  table.last_seen.resize(static_cast<size_t>(rows), 0);
  table.uses.resize(static_cast<size_t>(rows), 0);
}

std::vector<int32_t> IdUsage::Kept(size_t t, int64_t partition, int64_t evict_after, int64_t max_rows) const {
  const Table& table = tables_[t];
  std::vector<int32_t> kept;
  if (table.feature < 0) return kept;
  for (size_t id = 1; id < table.uses.size(); ++id) {
    if (evict_after == 0 || table.last_seen[id] > partition - evict_after) kept.push_back(static_cast<int32_t>(id));
  }
  if (max_rows > 0 && std::ssize(kept) > max_rows) {
    // The most used first; among equals the most recently used, then the older id (a total, deterministic order).
    std::sort(kept.begin(), kept.end(), [&](int32_t a, int32_t b) {
      const auto i = static_cast<size_t>(a), j = static_cast<size_t>(b);
      if (table.uses[i] != table.uses[j]) return table.uses[i] > table.uses[j];
      if (table.last_seen[i] != table.last_seen[j]) return table.last_seen[i] > table.last_seen[j];
      return a < b;
    });
    kept.resize(static_cast<size_t>(max_rows));
    std::sort(kept.begin(), kept.end());
  }
  return kept;
}

void IdUsage::Remap(size_t t, const std::vector<int32_t>& source) {
  Table& table = tables_[t];
  if (table.feature < 0) return;
  Table remapped{table.feature, std::vector<int64_t>(source.size(), 0), std::vector<int64_t>(source.size(), 0)};
  for (size_t r = 0; r < source.size(); ++r) {
    if (source[r] < 0) continue;
    remapped.last_seen[r] = table.last_seen[static_cast<size_t>(source[r])];
    remapped.uses[r] = table.uses[static_cast<size_t>(source[r])];
  }
  table = std::move(remapped);
}

void IdUsage::Serialize(BinaryWriter& out) const {
  out.Pod<uint32_t>(static_cast<uint32_t>(tables_.size()));
  for (const Table& table : tables_) {
    out.Pod<int32_t>(table.feature);
    out.Vector(table.last_seen);
    out.Vector(table.uses);
  }
}

void IdUsage::Deserialize(BinaryReader& in) {
  const auto count = in.Pod<uint32_t>();
  tables_.assign(count, Table{});
  for (Table& table : tables_) {
    table.feature = in.Pod<int32_t>();
    table.last_seen = in.Vector<int64_t>();
    table.uses = in.Vector<int64_t>();
    MTREC_CHECK(table.last_seen.size() == table.uses.size(), "stream state: id usage of {} and {} rows",
                table.last_seen.size(), table.uses.size());
  }
}

StreamLearner::StreamLearner(const Config& config) : config_(config) {
  MTREC_CHECK(config.train.ema_decay == 0, "train.ema_decay: a stream's tables change size, which the average of "
                                           "the weights does not follow; set train.ema_decay = 0 for --follow");
}

void StreamLearner::ResumeFrom(std::unique_ptr<FeaturePipeline> pipeline, std::unique_ptr<Model> model,
                               const TrainerState& state) {
  MTREC_CHECK(!state.stream.empty(), "the checkpoint is not a stream's: resume it with --resume, without --follow");
  pipeline_ = std::move(pipeline);
  model_ = std::move(model);
  trainer_ = std::make_unique<Trainer>(config_, *model_);
  trainer_->Resume(state);
  BinaryReader in(state.stream.data(), state.stream.size(), "stream state");
  MTREC_CHECK(in.Bytes(sizeof(kStreamMagic) - 1) == std::string_view(kStreamMagic, sizeof(kStreamMagic) - 1),
              "stream state: bad magic");
  const auto count = in.Pod<uint32_t>();
  done_.clear();
  for (uint32_t i = 0; i < count; ++i) done_.push_back(in.String());
  published_ = in.Pod<int64_t>();
  usage_.Deserialize(in);
  MTREC_CHECK(usage_.tables().size() == pipeline_->layout().tables.size(),
              "stream state: id usage of {} tables, the model has {}", usage_.tables().size(),
              pipeline_->layout().tables.size());
}

void StreamLearner::WarmStartFrom(const Config& base_config, std::unique_ptr<FeaturePipeline> pipeline,
                                  std::unique_ptr<Model> model, const std::string& base_path) {
  base_ = std::make_unique<Base>(Base{base_config, std::move(pipeline), std::move(model), base_path});
}

bool StreamLearner::Done(const std::string& name) const {
  return std::find(done_.begin(), done_.end(), name) != done_.end();
}

uint64_t StreamLearner::RowSeed(int64_t partition) const {
  return Mix64(config_.train.seed ^ (0x5eedULL + static_cast<uint64_t>(partition)));
}

void StreamLearner::Admit(const ColumnTable& partition) {
  if (!model_ && base_) {
    WarmStartFeatures kept;
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::FitFrom(
        *base_->pipeline, config_, partition, config_.train.admit_new_ids, config_.train.refit_numeric, &kept));
    model_ = CreateModel(config_, pipeline_->layout(), InferenceBatch(config_));
    model_->Initialize(config_.train.seed);
    const WarmStartReport report = CarryWeights(base_->config, *base_->model, base_->path, config_, kept, *model_);
    LogInfo("{}", report.Describe(base_->path));
    trainer_ = std::make_unique<Trainer>(config_, *model_);
    trainer_->KeepOutputBiases(report.carried_column);
    usage_.Reset(*pipeline_);
    base_.reset();
    return;
  }
  if (!model_) {
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config_, partition));
    model_ = CreateModel(config_, pipeline_->layout(), InferenceBatch(config_));
    model_->Initialize(config_.train.seed);
    trainer_ = std::make_unique<Trainer>(config_, *model_);
    usage_.Reset(*pipeline_);
    return;
  }
  if (!config_.train.admit_new_ids) return;
  auto next = std::make_unique<FeaturePipeline>(
      FeaturePipeline::FitFrom(*pipeline_, config_, partition, /*admit_new_ids=*/true, /*refit_numeric=*/false));
  const auto& before = pipeline_->layout().tables;
  const auto& after = next->layout().tables;
  for (size_t t = 0; t < after.size(); ++t) {
    if (after[t].rows == before[t].rows) continue;
    std::vector<int32_t> source(static_cast<size_t>(after[t].rows), -1);
    std::iota(source.begin(), source.begin() + before[t].rows, 0);
    trainer_->RemapEmbeddingRows(t, source, RowSeed(static_cast<int64_t>(done_.size()) + 1));
    usage_.Grow(t, after[t].rows);
  }
  pipeline_ = std::move(next);
}

void StreamLearner::Evict(int64_t partition) {
  evicted_ = 0;
  const StreamConfig& stream = config_.stream;
  if (stream.evict_after == 0 && stream.max_rows == 0) return;
  for (size_t t = 0; t < usage_.tables().size(); ++t) {
    const int feature = usage_.tables()[t].feature;
    if (feature < 0) continue;
    const std::vector<int32_t> kept = usage_.Kept(t, partition, stream.evict_after, stream.max_rows);
    const int64_t rows = pipeline_->layout().tables[t].rows;
    if (std::ssize(kept) + 1 == rows) continue;
    std::vector<int32_t> source = {0};
    source.insert(source.end(), kept.begin(), kept.end());
    pipeline_->RemapVocabulary(static_cast<size_t>(feature), kept);
    trainer_->RemapEmbeddingRows(t, source, RowSeed(partition));
    usage_.Remap(t, source);
    evicted_ += rows - std::ssize(source);
  }
}

EpochRecord StreamLearner::Learn(const ColumnTable& partition, const std::string& name) {
  MTREC_CHECK(!Done(name), "partition {} was trained on already", name);
  EpochRecord record;
  record.partition = name;
  record.monitor = NAN;
  record.delta_m = NAN;
  if (model_) {
    const EncodedData data = pipeline_->Encode(partition);
    std::vector<std::vector<float>> conditional;
    const std::vector<std::vector<float>> predictions = Predict(*model_, config_, data, &conditional);
    record.valid = EvaluateTasks(MakeTaskScores(config_, data, predictions, &conditional), config_.eval);
    record.monitor = ValidationMonitor(config_, record.valid);
  }
  Admit(partition);
  const auto number = static_cast<int64_t>(done_.size()) + 1;
  record.epoch = number;
  const EncodedData data = pipeline_->Encode(partition);
  usage_.Record(*pipeline_, data, number);
  record.train_loss = trainer_->TrainPartition(data, name, config_.stream.passes);
  Evict(number);
  trainer_->history().push_back(record);
  done_.push_back(name);
  return record;
}

std::vector<std::pair<std::string, int64_t>> StreamLearner::TableRows() const {
  std::vector<std::pair<std::string, int64_t>> rows;
  for (const TableSpec& table : pipeline_->layout().tables) rows.emplace_back(table.name, table.rows);
  return rows;
}

TrainerState StreamLearner::Checkpoint() {
  TrainerState state = trainer_->CheckpointState();
  BinaryWriter out;
  out.Bytes(std::string_view(kStreamMagic, sizeof(kStreamMagic) - 1));
  out.Pod<uint32_t>(static_cast<uint32_t>(done_.size()));
  for (const std::string& name : done_) out.String(name);
  out.Pod<int64_t>(published_);
  usage_.Serialize(out);
  state.stream = std::move(out.str());
  return state;
}

}  // namespace mtrec
