// Training on a stream of partitions (`mtrec train --follow DIR`): each partition is scored before it is trained
// on (progressive validation, the standard online metric), then its new ids are admitted to the vocabularies
// (rows initialised as new rows are), the model trains `stream.passes` passes over it at constant rates, and the
// ids no partition has used for `stream.evict_after` partitions (or the least used beyond `stream.max_rows`) lose
// their rows, so a long stream runs in bounded memory. The learner's whole state (weights, vocabularies,
// optimizer moments, the ids' usage, the partitions done) goes into a checkpoint after every partition, so a
// stream killed at any moment goes on from the last one committed: nothing trained twice, nothing skipped.
//
//   StreamLearner learner(config);                           // or ResumeFrom(...) / WarmStartFrom(...)
//   EpochRecord record = learner.Learn(partition_table, "day-012.csv");   // progressive metrics in record.valid
//   SaveCheckpoint(path, config, learner.pipeline(), learner.model(), learner.Checkpoint());
//
// cli/follow.cc watches the folder, commits and publishes; docs/lifecycle.md describes it for users.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/column_table.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "train/history.h"
#include "train/trainer.h"

namespace mtrec {

// Per embedding table whose rows are a vocabulary's: for each row, the last partition that used it and how many
// rows of data did; row 0 (out of vocabulary) is never evicted.
class IdUsage {
 public:
  struct Table {
    int feature = -1;                 // the vocabulary's feature (FeaturePipeline::VocabularyOfTable)
    std::vector<int64_t> last_seen;   // per row: partition number (1-based), 0: never
    std::vector<int64_t> uses;        // per row: rows of data that used it
  };

  // One entry per embedding table of the pipeline's layout (feature -1: fixed rows, not tracked).
  void Reset(const FeaturePipeline& pipeline);
  // Counts the ids of `data` (encoded by the pipeline Reset saw, or one that only grew since) as used in
  // partition `partition`.
  void Record(const FeaturePipeline& pipeline, const EncodedData& data, int64_t partition);
  // Table t has grown to `rows` rows (admitted ids, not used yet).
  void Grow(size_t t, int64_t rows);
  // The ids of table t to keep after partition `partition` (ascending, without 0): those used in the last
  // `evict_after` partitions (all when 0), then at most `max_rows` of them (when > 0), the most used first.
  std::vector<int32_t> Kept(size_t t, int64_t partition, int64_t evict_after, int64_t max_rows) const;
  // Table t rebuilt with row r from old row source[r] (source[0] = 0).
  void Remap(size_t t, const std::vector<int32_t>& source);

  const std::vector<Table>& tables() const { return tables_; }
  void Serialize(BinaryWriter& out) const;
  void Deserialize(BinaryReader& in);

 private:
  std::vector<Table> tables_;
};

class StreamLearner {
 public:
  explicit StreamLearner(const Config& config);

  // Goes on from a checkpoint of a stream (Checkpoint()): its pipeline, model and trainer state.
  void ResumeFrom(std::unique_ptr<FeaturePipeline> pipeline, std::unique_ptr<Model> model, const TrainerState& state);
  // The first partition starts from this trained model (a warm start, train/warm_start.h) instead of from scratch.
  void WarmStartFrom(const Config& base_config, std::unique_ptr<FeaturePipeline> pipeline,
                     std::unique_ptr<Model> model, const std::string& base_path);

  // Scores `partition` (progressive validation; not on the first partition of a fresh or warm-started stream),
  // admits its new ids, trains on it and evicts stale ids. The record is also appended to the history.
  EpochRecord Learn(const ColumnTable& partition, const std::string& name);

  bool started() const { return model_ != nullptr; }
  const FeaturePipeline& pipeline() const { return *pipeline_; }
  const Model& model() const { return *model_; }
  const std::vector<EpochRecord>& history() const { return trainer_->state().history; }
  // The partitions trained on, in order (each once).
  const std::vector<std::string>& done() const { return done_; }
  bool Done(const std::string& name) const;
  // How many partitions the last published model had seen (kept in the checkpoint for the publisher).
  int64_t published() const { return published_; }
  void set_published(int64_t partitions) { published_ = partitions; }
  // Per embedding table: its name and rows.
  std::vector<std::pair<std::string, int64_t>> TableRows() const;
  // Rows evicted by the last Learn.
  int64_t evicted() const { return evicted_; }

  // The trainer state with the stream's own state in it, for SaveCheckpoint.
  TrainerState Checkpoint();

 private:
  void Admit(const ColumnTable& partition);
  void Evict(int64_t partition);
  uint64_t RowSeed(int64_t partition) const;

  Config config_;
  std::unique_ptr<FeaturePipeline> pipeline_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Trainer> trainer_;
  IdUsage usage_;
  std::vector<std::string> done_;
  int64_t published_ = 0;
  int64_t evicted_ = 0;
  // A pending warm start (WarmStartFrom), applied on the first partition.
  struct Base {
    Config config;
    std::unique_ptr<FeaturePipeline> pipeline;
    std::unique_ptr<Model> model;
    std::string path;
  };
  std::unique_ptr<Base> base_;
};

}  // namespace mtrec
