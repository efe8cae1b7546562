// The feature pipeline: fitted on the training file (vocabularies, numeric statistics, buckets), then applied
// identically to every file — in training, in `predict` and in the server, because the fitted state is saved in
// the model file. It also decides the layout of the model input (which embedding tables, which slots, how wide
// the numeric block is) and encodes labels (rules, missing labels as NaN).
//
//   FeaturePipeline pipeline = FeaturePipeline::Fit(config, train_table);
//   EncodedData train = pipeline.Encode(train_table);
//   const InputLayout& layout = pipeline.layout();     // the model is built from this
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/binary.h"
#include "common/config.h"
#include "common/pooling.h"
#include "data/column_table.h"
#include "features/numeric.h"
#include "features/vocabulary.h"

namespace mtrec {

struct TableSpec {
  std::string name;  // the feature that owns the table
  int64_t rows = 0;
  int64_t dim = 0;
  // Under mpirun, a row-sharded table is built as this process's part only: rows part_rank, part_rank +
  // part_ranks, ... of the `rows` (models/sharded_tables.h). 1: the whole table.
  int part_rank = 0;
  int part_ranks = 1;
};

struct SlotSpec {
  std::string feature;
  int table = 0;
  Pooling pooling = Pooling::kMean;  // multi-valued slots only
};

struct InputLayout {
  std::vector<TableSpec> tables;
  std::vector<SlotSpec> single_slots;  // one id per row: categorical and bucketised numeric features
  std::vector<SlotSpec> multi_slots;   // several ids per row, pooled
  std::vector<std::string> numeric_names;  // columns of the numeric block ("price", "item_rating.missing", ...)

  int64_t NumericWidth() const { return static_cast<int64_t>(numeric_names.size()); }
  // Width of the concatenated input: single slots, then multi slots, then the numeric block.
  int64_t InputWidth() const;
};

// A file encoded for the model, column by column.
struct EncodedData {
  struct MultiIds {
    std::vector<int64_t> offsets;  // rows + 1
    std::vector<int32_t> ids;
  };
  int64_t rows = 0;
  std::vector<std::vector<int32_t>> single_ids;   // [slot][row]
  std::vector<MultiIds> multi_ids;                // [slot]
  std::vector<float> numeric;                     // rows × NumericWidth(), row-major
  std::vector<std::vector<float>> labels;         // [task][row], NaN = missing
  std::vector<std::vector<float>> oracle;         // [task][row], empty when the task has no oracle column
  std::vector<std::vector<float>> oracle_given_parent;  // [task][row], the true p(task | parent), often empty
  std::vector<std::vector<float>> naive;                 // [task][row], a naive forecast (task.naive); often empty
  std::vector<std::vector<float>> censored;             // [task][row], 1: the label is a lower bound; empty without
  std::vector<std::vector<float>> treatment;            // [task][row], 0/1 (NaN: missing); empty without
  std::vector<std::vector<float>> oracle_uplift;        // [task][row], the true uplift (task.oracle_uplift); often empty
  std::vector<double> oov_rate;                   // [single slot] share of rows with the out-of-vocabulary id
  std::string path;
  ReadReport report;
};

// What FeaturePipeline::FitFrom carried over from the base pipeline, per feature of the new config.
struct WarmStartFeatures {
  std::vector<bool> kept;         // the fitted state (vocabulary, or numeric transform) is the base's
  std::vector<int64_t> admitted;  // values admitted to a kept vocabulary from the new training file
};

class FeaturePipeline {
 public:
  // The columns to read from a file: every feature column but the derived ones, and what those read
  // (features/time_series.h); task label, censored and treatment columns (required or optional) and oracle
  // columns (always optional).
  static std::vector<ColumnRequest> Requests(const Config& config, bool labels_required);

  // Under mpirun `train` is this rank's share of the rows and every rank gets the pipeline of all of them
  // (vocabulary counts merged, numeric statistics reduced: NumericTransform::Fit).
  static FeaturePipeline Fit(const Config& config, const ColumnTable& train, Communicator& world = World());
  // A warm start's pipeline (train/warm_start.h): `base`'s fitted state for every feature `config` keeps (the same
  // name, kind, column, hashing and sharing), fresh fits on `train` for the others. A kept vocabulary admits the
  // values of `train` it lacks that reach the feature's min_count, after its own ids (Vocabulary::Extended), unless
  // admit_new_ids is false; a kept numeric transform stays (the weights were trained on its scale) unless
  // refit_numeric. `kept`, when given, says per feature what was carried over.
  static FeaturePipeline FitFrom(const FeaturePipeline& base, const Config& config, const ColumnTable& train,
                                 bool admit_new_ids, bool refit_numeric, WarmStartFeatures* kept = nullptr);
  EncodedData Encode(const ColumnTable& table) const;

  const InputLayout& layout() const { return layout_; }
  const Config& config() const { return config_; }

  // Per-value access for encoders that fill a batch without a file (the server) and for exports. `feature` indexes
  // config().features. CategoricalId: the embedding row of one value of a categorical / multi-valued feature (its
  // owner's vocabulary or hashing; out-of-vocabulary 0).
  int32_t CategoricalId(size_t feature, std::string_view value) const;
  const NumericTransform& numeric(size_t feature) const { return numerics_[feature]; }
  const Vocabulary& vocabulary(size_t feature) const { return vocabularies_[OwnerOf(feature)]; }
  // Where a feature lands in the model input: a single slot, a multi slot, or columns of the numeric block.
  struct Placement {
    enum Kind { kSingle, kMulti, kNumeric } kind = kSingle;
    int64_t index = 0;  // slot index, or the first numeric column (a missing flag follows it)
  };
  Placement PlacementOf(size_t feature) const;

  // Streams (train/streaming.h). The feature whose vocabulary numbers the rows of embedding table t, or -1 for a
  // hashed or bucketised table (its rows are fixed).
  int VocabularyOfTable(size_t t) const;
  // Feature `feature`'s vocabulary keeps the values of ids `keep` only (Vocabulary::Remapped); the layout follows.
  void RemapVocabulary(size_t feature, const std::vector<int32_t>& keep);

  void Serialize(BinaryWriter& out) const;
  static FeaturePipeline Deserialize(const Config& config, BinaryReader& in);

 private:
  void BuildLayout();
  // The feature whose vocabulary (or hashing) a categorical / multi-valued feature uses: itself or share_with.
  size_t OwnerOf(size_t feature) const;

  Config config_;
  // Per feature, in config order; only the member matching the feature's kind is used.
  std::vector<Vocabulary> vocabularies_;
  std::vector<NumericTransform> numerics_;
  InputLayout layout_;
  std::vector<int> table_of_;  // per feature: its embedding table, -1 for a feature in the numeric block
};

}  // namespace mtrec
