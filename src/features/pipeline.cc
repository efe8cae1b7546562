#include "features/pipeline.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/threads.h"
#include "features/labels.h"
#include "features/time_series.h"

namespace mtrec {
namespace {

ColumnType ColumnTypeOf(const FeatureConfig& feature) {
  if (feature.kind == FeatureKind::kNumeric) return ColumnType::kNumeric;
  if (feature.kind == FeatureKind::kMultiCategorical) return ColumnType::kMultiCategorical;
  return ColumnType::kCategorical;
}

// Adds the count of every dictionary value of `column` to `counts`.
void CountValues(const Column& column, std::unordered_map<std::string, int64_t>& counts) {
  std::vector<int64_t> per_code(column.DictionarySize(), 0);
  for (uint32_t code : column.codes) ++per_code[code];
  for (size_t code = 0; code < per_code.size(); ++code) {
    if (per_code[code] > 0) counts[std::string(column.Value(static_cast<uint32_t>(code)))] += per_code[code];
  }
}

}  // namespace

int64_t InputLayout::InputWidth() const {
  int64_t width = NumericWidth();
  for (const auto& slot : single_slots) width += tables[slot.table].dim;
  for (const auto& slot : multi_slots) width += tables[slot.table].dim;
  return width;
}

std::vector<ColumnRequest> FeaturePipeline::Requests(const Config& config, bool labels_required) {
  std::vector<ColumnRequest> requests;
  auto add = [&](ColumnRequest request) {
    for (auto& existing : requests) {
      if (existing.name == request.name && existing.type == request.type) {
        existing.required = existing.required || request.required;
        existing.binary_label = existing.binary_label || request.binary_label;
        existing.count_label = existing.count_label || request.count_label;
        existing.label = existing.label || request.label;
        return;
      }
    }
    requests.push_back(std::move(request));
  };
  for (const auto& feature : config.features) {
    if (config.time_series.Find(feature.column)) continue;  // derived after reading (features/time_series.h)
    ColumnRequest request;
    request.name = feature.column;
    request.type = ColumnTypeOf(feature);
    request.separator = feature.separator;
    request.role = "feature '" + feature.name + "'";
    add(request);
  }
  for (const auto& task : config.tasks) {
    ColumnRequest request;
    request.name = task.column;
    request.type = HasLabelRule(task) ? ColumnType::kCategorical : ColumnType::kNumeric;
    request.required = labels_required;
    request.binary_label = task.kind == TaskKind::kBinary && !HasLabelRule(task);
    request.count_label = IsCountLoss(task.loss) || task.loss == LossKind::kZiln;
    request.label = true;
    request.role = "label of task '" + task.name + "'";
    add(request);
    if (!task.censored.empty()) {
      // Read like a label: needed to train, not to score.
      ColumnRequest censored;
      censored.name = task.censored;
      censored.type = ColumnType::kNumeric;
      censored.required = labels_required;
      censored.binary_label = true;
      censored.label = true;
      censored.role = "censored flags of task '" + task.name + "'";
      add(censored);
    }
    if (!task.treatment.empty()) {
      // Read like a label: needed to train; a file scored without it is scored as untreated (control).
      ColumnRequest treatment;
      treatment.name = task.treatment;
      treatment.type = ColumnType::kNumeric;
      treatment.required = labels_required;
      treatment.binary_label = true;
      treatment.label = true;
      treatment.role = "treatment of task '" + task.name + "'";
      add(treatment);
    }
    const std::pair<const std::string*, const char*> oracles[] = {{&task.oracle, "oracle of task '"},
                                                                  {&task.oracle_given_parent, "conditional oracle of task '"},
                                                                  {&task.oracle_uplift, "oracle uplift of task '"}};
    for (const auto& [column, role] : oracles) {
      if (column->empty()) continue;
      ColumnRequest oracle;
      oracle.name = *column;
      oracle.type = ColumnType::kNumeric;
      oracle.required = false;
      oracle.role = std::string(role) + task.name + "'";
      add(oracle);
    }
    if (!task.naive.empty() && !config.time_series.Find(task.naive)) {
      ColumnRequest naive;  // optional, as oracles: a file without it is evaluated without mase
      naive.name = task.naive;
      naive.type = ColumnType::kNumeric;
      naive.required = false;
      naive.role = "naive forecast of task '" + task.name + "'";
      add(naive);
    }
  }
  AddTimeSeriesRequests(config, labels_required, requests);
  return requests;
}

size_t FeaturePipeline::OwnerOf(size_t feature) const {
  const std::string& share = config_.features[feature].share_with;
  if (share.empty()) return feature;
  for (size_t i = 0; i < config_.features.size(); ++i) {
    if (config_.features[i].name == share) return i;
  }
  Fail("feature '{}': share_with names no feature '{}'", config_.features[feature].name, share);
}

FeaturePipeline FeaturePipeline::Fit(const Config& config, const ColumnTable& train, Communicator& world) {
  FeaturePipeline pipeline;
  pipeline.config_ = config;
  const auto& features = config.features;
  pipeline.vocabularies_.resize(features.size());
  pipeline.numerics_.resize(features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureConfig& feature = features[i];
    if (feature.kind == FeatureKind::kNumeric) {
      const Column& column = train.Get(feature.column, ColumnType::kNumeric);
      pipeline.numerics_[i] =
          NumericTransform::Fit(feature, column.numbers.data(), column.numbers.size(), train.path(), world);
      continue;
    }
    if (!feature.share_with.empty() || feature.hash_buckets > 0) continue;
    // A shared table's vocabulary counts the values of every feature that uses it.
    std::unordered_map<std::string, int64_t> counts;
    for (size_t j = 0; j < features.size(); ++j) {
      if (j == i || (features[j].share_with == feature.name)) {
        CountValues(train.Get(features[j].column, ColumnTypeOf(features[j])), counts);
      }
    }
    // Under mpirun every rank's counts summed (Vocabulary::Fit orders the values itself).
    std::vector<ValueCount> values;
    for (auto& [value, rows] : counts) values.push_back({value, rows});
    std::vector<std::pair<std::string, int64_t>> entries;
    for (ValueCount& value : SumOverRanks(std::move(values), world)) entries.emplace_back(std::move(value.value), value.rows);
    pipeline.vocabularies_[i] = Vocabulary::Fit(entries, feature.min_count);
  }
  pipeline.BuildLayout();
  return pipeline;
}

FeaturePipeline FeaturePipeline::FitFrom(const FeaturePipeline& base, const Config& config, const ColumnTable& train,
                                         bool admit_new_ids, bool refit_numeric, WarmStartFeatures* kept) {
  FeaturePipeline pipeline = Fit(config, train);
  const auto& features = config.features;
  WarmStartFeatures carried;
  carried.kept.assign(features.size(), false);
  carried.admitted.assign(features.size(), 0);
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureConfig& feature = features[i];
    const auto& base_features = base.config_.features;
    const auto same = std::find_if(base_features.begin(), base_features.end(), [&](const FeatureConfig& b) {
      return b.name == feature.name && b.kind == feature.kind && b.column == feature.column &&
             b.hash_buckets == feature.hash_buckets && b.share_with == feature.share_with;
    });
    if (same == base_features.end()) continue;
    const size_t j = static_cast<size_t>(same - base_features.begin());
    if (feature.kind == FeatureKind::kNumeric) {
      if (!refit_numeric) pipeline.numerics_[i] = base.numerics_[j];
      carried.kept[i] = !refit_numeric;
      continue;
    }
    carried.kept[i] = true;  // a hashed or shared feature's ids mean what they meant
    if (!feature.share_with.empty() || feature.hash_buckets > 0) continue;
    const Vocabulary& own = base.vocabularies_[j];
    if (!admit_new_ids) {
      pipeline.vocabularies_[i] = own;
      continue;
    }
    // Fit counted this table's values on `train` and kept those reaching min_count: its values the base lacks are
    // the ones to admit, with their order.
    const std::vector<std::string>& fresh = pipeline.vocabularies_[i].values();
    std::vector<std::pair<std::string, int64_t>> ranked;
    ranked.reserve(fresh.size());
    for (size_t r = 0; r < fresh.size(); ++r) ranked.emplace_back(fresh[r], static_cast<int64_t>(fresh.size() - r));
    pipeline.vocabularies_[i] = own.Extended(ranked, 1);
    carried.admitted[i] = pipeline.vocabularies_[i].size() - own.size();
  }
  if (kept) *kept = std::move(carried);
  pipeline.BuildLayout();
  return pipeline;
}

void FeaturePipeline::BuildLayout() {
  layout_ = InputLayout();
  const auto& features = config_.features;
  table_of_.assign(features.size(), -1);
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureConfig& feature = features[i];
    int64_t dim = feature.embedding_dim > 0 ? feature.embedding_dim : config_.model.embedding_dim;
    if (feature.kind == FeatureKind::kNumeric) {
      if (!numerics_[i].bucketized()) continue;
      table_of_[i] = static_cast<int>(layout_.tables.size());
      layout_.tables.push_back({feature.name, numerics_[i].BucketRows(), dim});
    } else if (feature.share_with.empty()) {
      int64_t rows = feature.hash_buckets > 0 ? feature.hash_buckets : vocabularies_[i].size();
      table_of_[i] = static_cast<int>(layout_.tables.size());
      layout_.tables.push_back({feature.name, rows, dim});
    }
  }
  for (size_t i = 0; i < features.size(); ++i) {
    if (!features[i].share_with.empty()) table_of_[i] = table_of_[OwnerOf(i)];
  }
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureConfig& feature = features[i];
    if (feature.kind == FeatureKind::kMultiCategorical) {
      layout_.multi_slots.push_back({feature.name, table_of_[i], feature.pooling});
    } else if (table_of_[i] >= 0) {
      layout_.single_slots.push_back({feature.name, table_of_[i], Pooling::kSum});
    } else {
      layout_.numeric_names.push_back(feature.name);
      if (numerics_[i].has_missing_flag()) layout_.numeric_names.push_back(feature.name + ".missing");
    }
  }
}

int FeaturePipeline::VocabularyOfTable(size_t t) const {
  for (size_t i = 0; i < config_.features.size(); ++i) {
    const FeatureConfig& feature = config_.features[i];
    if (table_of_[i] == static_cast<int>(t) && feature.share_with.empty()) {
      return feature.kind != FeatureKind::kNumeric && feature.hash_buckets == 0 ? static_cast<int>(i) : -1;
    }
  }
  return -1;
}

void FeaturePipeline::RemapVocabulary(size_t feature, const std::vector<int32_t>& keep) {
  vocabularies_[feature] = vocabularies_[feature].Remapped(keep);
  BuildLayout();
}

int32_t FeaturePipeline::CategoricalId(size_t feature, std::string_view value) const {
  const size_t owner = OwnerOf(feature);
  const int64_t buckets = config_.features[owner].hash_buckets;
  return buckets > 0 ? HashBucket(value, buckets) : vocabularies_[owner].Lookup(value);
}

FeaturePipeline::Placement FeaturePipeline::PlacementOf(size_t feature) const {
  // The same walk as BuildLayout's.
  Placement placement;
  int64_t singles = 0, multis = 0, numeric = 0;
  for (size_t i = 0; i <= feature; ++i) {
    const bool last = i == feature;
    if (config_.features[i].kind == FeatureKind::kMultiCategorical) {
      if (last) placement = {Placement::kMulti, multis};
      ++multis;
    } else if (table_of_[i] >= 0) {
      if (last) placement = {Placement::kSingle, singles};
      ++singles;
    } else {
      if (last) placement = {Placement::kNumeric, numeric};
      numeric += numerics_[i].has_missing_flag() ? 2 : 1;
    }
  }
  return placement;
}

EncodedData FeaturePipeline::Encode(const ColumnTable& table) const {
  const auto& features = config_.features;
  EncodedData data;
  data.rows = table.rows();
  data.path = table.path();
  data.report = table.report();
  const size_t rows = static_cast<size_t>(table.rows());

  // Per categorical / multi feature: dictionary code of this file -> embedding row.
  auto remap_codes = [&](size_t i, const Column& column) {
    std::vector<int32_t> remap(column.DictionarySize());
    for (size_t code = 0; code < remap.size(); ++code) {
      std::string_view value = column.Value(static_cast<uint32_t>(code));
      remap[code] = CategoricalId(i, value);
    }
    return remap;
  };

  const int64_t numeric_width = layout_.NumericWidth();
  data.numeric.assign(rows * numeric_width, 0.f);
  int64_t numeric_column = 0;
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureConfig& feature = features[i];
    if (feature.kind == FeatureKind::kMultiCategorical) {
      const Column& column = table.Get(feature.column, ColumnType::kMultiCategorical);
      std::vector<int32_t> remap = remap_codes(i, column);
      EncodedData::MultiIds multi;
      multi.offsets.assign(column.offsets.begin(), column.offsets.end());
      multi.ids.resize(column.codes.size());
      for (size_t k = 0; k < column.codes.size(); ++k) multi.ids[k] = remap[column.codes[k]];
      data.multi_ids.push_back(std::move(multi));
    } else if (feature.kind == FeatureKind::kCategorical) {
      const Column& column = table.Get(feature.column, ColumnType::kCategorical);
      std::vector<int32_t> remap = remap_codes(i, column);
      std::vector<int32_t> ids(rows);
      int64_t oov = 0;
      for (size_t r = 0; r < rows; ++r) {
        ids[r] = remap[column.codes[r]];
        oov += ids[r] == Vocabulary::kOutOfVocabulary && features[OwnerOf(i)].hash_buckets == 0;
      }
      data.oov_rate.push_back(rows ? static_cast<double>(oov) / rows : 0.0);
      data.single_ids.push_back(std::move(ids));
    } else {
      const Column& column = table.Get(feature.column, ColumnType::kNumeric);
      const NumericTransform& transform = numerics_[i];
      if (transform.bucketized()) {
        std::vector<int32_t> ids(rows);
        for (size_t r = 0; r < rows; ++r) {
          try {
            ids[r] = transform.Bucket(column.numbers[r]);
          } catch (const Error& error) {
            Fail("{}:{}: feature '{}': {}", table.path(), table.lines()[r], feature.name, error.what());
          }
        }
        data.oov_rate.push_back(0.0);
        data.single_ids.push_back(std::move(ids));
        continue;
      }
      for (size_t r = 0; r < rows; ++r) {
        float raw = column.numbers[r];
        float* out = &data.numeric[r * numeric_width + numeric_column];
        try {
          out[0] = transform.Apply(raw);
        } catch (const Error& error) {
          Fail("{}:{}: feature '{}': {}", table.path(), table.lines()[r], feature.name, error.what());
        }
        if (transform.has_missing_flag()) out[1] = std::isnan(raw) ? 1.f : 0.f;
      }
      numeric_column += transform.has_missing_flag() ? 2 : 1;
    }
  }

  for (const auto& task : config_.tasks) {
    std::vector<float> labels(rows, NAN);
    if (HasLabelRule(task)) {
      const Column& column = table.Get(task.column, ColumnType::kCategorical);
      if (column.present) {
        const std::vector<float> per_code = RuleLabels(task, config_.data.na_values, column);
        for (size_t r = 0; r < rows; ++r) labels[r] = per_code[column.codes[r]];
      }
    } else {
      const Column& column = table.Get(task.column, ColumnType::kNumeric);
      if (column.present) labels.assign(column.numbers.begin(), column.numbers.end());
    }
    data.labels.push_back(std::move(labels));
    auto read_optional = [&](const std::string& name) {
      std::vector<float> values;
      if (name.empty()) return values;
      const Column* column = table.Find(name, ColumnType::kNumeric);
      if (column && column->present) values.assign(column->numbers.begin(), column->numbers.end());
      return values;
    };
    data.oracle.push_back(read_optional(task.oracle));
    data.censored.push_back(read_optional(task.censored));
    data.naive.push_back(read_optional(task.naive));
    data.oracle_given_parent.push_back(read_optional(task.oracle_given_parent));
    data.treatment.push_back(read_optional(task.treatment));
    data.oracle_uplift.push_back(read_optional(task.oracle_uplift));
  }
  return data;
}

void FeaturePipeline::Serialize(BinaryWriter& out) const {
  out.Pod<uint32_t>(static_cast<uint32_t>(config_.features.size()));
  for (size_t i = 0; i < config_.features.size(); ++i) {
    out.String(config_.features[i].name);
    vocabularies_[i].Serialize(out);
    numerics_[i].Serialize(out);
  }
}

FeaturePipeline FeaturePipeline::Deserialize(const Config& config, BinaryReader& in) {
  FeaturePipeline pipeline;
  pipeline.config_ = config;
  uint32_t n = in.Pod<uint32_t>();
  MTREC_CHECK(n == config.features.size(), "the model file's feature state has {} features, its config {}", n,
              config.features.size());
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = in.String();
    MTREC_CHECK(name == config.features[i].name, "the model file's feature state names '{}' where its config has '{}'",
                name, config.features[i].name);
    pipeline.vocabularies_.push_back(Vocabulary::Deserialize(in));
    pipeline.numerics_.push_back(NumericTransform::Deserialize(in));
  }
  pipeline.BuildLayout();
  return pipeline;
}

}  // namespace mtrec
