#include "io/model_io.h"

#include <nlohmann/json.hpp>

#include "common/binary.h"
#include "common/error.h"
#include "common/files.h"
#include "io/model_file.h"
#include "models/predict.h"
#include "models/weights.h"

namespace mtrec {
namespace {

// The `labels` section: per binary task, the training file's label counts and the label column's most frequent
// values, as JSON.
std::string LabelCountsToJson(const std::vector<LabelCounts>& labels) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& counts : labels) {
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    for (const auto& value : counts.values) values.push_back({value.value, value.rows});
    out.push_back({{"task", counts.task},
                   {"rows", counts.rows},
                   {"positives", counts.positives},
                   {"values", values},
                   {"distinct", counts.distinct}});
  }
  return out.dump();
}

std::vector<LabelCounts> LabelCountsFromJson(std::string_view text, const std::string& path) {
  std::vector<LabelCounts> labels;
  try {
    for (const auto& entry : nlohmann::json::parse(text)) {
      LabelCounts counts;
      counts.task = entry.at("task").get<std::string>();
      counts.rows = entry.at("rows").get<int64_t>();
      counts.positives = entry.at("positives").get<int64_t>();
      for (const auto& value : entry.at("values")) {
        counts.values.push_back({value.at(0).get<std::string>(), value.at(1).get<int64_t>()});
      }
      counts.distinct = entry.at("distinct").get<int64_t>();
      labels.push_back(std::move(counts));
    }
  } catch (const nlohmann::json::exception& error) {
    Fail("{} [labels]: {}", path, error.what());
  }
  return labels;
}

// The file's sections; the weights are viewed in the model, so `model` must not change before the file is written.
SectionWriter BuildFile(const Config& config, const FeaturePipeline& pipeline, const Model& model,
                        const std::vector<EpochRecord>& history, const std::vector<LabelCounts>& train_labels,
                        const std::string& kind) {
  SectionWriter file;
  nlohmann::ordered_json meta;
  meta["kind"] = kind;
  meta["arch"] = NameOf(config.model.arch);
  meta["tasks"] = nlohmann::ordered_json::array();
  for (const auto& task : config.tasks) meta["tasks"].push_back(task.name);
  file.Add("meta", meta.dump());
  file.Add("config", ConfigToToml(config));
  BinaryWriter features;
  pipeline.Serialize(features);
  file.Add("features", std::move(features.str()));
  PieceWriter weights;
  WriteWeights(model, weights);
  file.Add("weights", std::move(weights));
  file.Add("history", HistoryToJson(history));
  if (!train_labels.empty()) file.Add("labels", LabelCountsToJson(train_labels));
  return file;
}

}  // namespace

void SaveModel(const std::string& path, const Config& config, const FeaturePipeline& pipeline, const Model& model,
               const std::vector<EpochRecord>& history, const std::vector<LabelCounts>& train_labels) {
  BuildFile(config, pipeline, model, history, train_labels, "model").Write(path);
}

void SaveCheckpoint(const std::string& path, const Config& config, const FeaturePipeline& pipeline, const Model& model,
                    const TrainerState& state, const std::vector<LabelCounts>& train_labels) {
  SectionWriter file = BuildFile(config, pipeline, model, state.history, train_labels, "checkpoint");
  // The optimizer states and the best epoch's weights can be as large as the tables: viewed, not copied.
  PieceWriter w;
  w.Pod<int64_t>(state.epochs_done);
  w.Pod<int64_t>(state.best_epoch);
  w.Pod<double>(state.best_score);
  w.Pod<int64_t>(state.stale_epochs);
  w.StringView(state.dense_optimizer);
  w.Pod<uint32_t>(static_cast<uint32_t>(state.sparse_optimizers.size()));
  for (const auto& s : state.sparse_optimizers) w.StringView(s);
  w.StringView(state.best_weights);
  w.StringView(state.weighting);
  w.StringView(state.weight_average);
  file.Add("trainer", std::move(w));
  if (!state.stream.empty()) file.Add("stream", state.stream);
  file.Write(path);
}

LoadedModel LoadModel(const std::string& path, int64_t max_batch) {
  return LoadModelFromBytes(ReadFileBytes(path), path, max_batch);
}

LoadedModel LoadModelFromBytes(std::string bytes, const std::string& path, int64_t max_batch, bool tables_in_place) {
  SectionFile file = SectionFile::Parse(std::move(bytes), path);
  LoadedModel loaded;
  loaded.format_version = file.version();
  for (const auto& [name, bytes] : file.sections()) loaded.section_sizes.emplace_back(name, bytes.size());
  try {
    loaded.config = ParseConfig(std::string(file.Get("config")), path + " [config]");
    loaded.config.source_path = path;
    std::string_view features = file.Get("features");
    BinaryReader reader(features.data(), features.size(), path + " [features]");
    loaded.pipeline = std::make_unique<FeaturePipeline>(FeaturePipeline::Deserialize(loaded.config, reader));
    if (max_batch <= 0) max_batch = InferenceBatch(loaded.config);
    // The weights section names every tensor of the model with its shape: a config that builds anything else
    // (more layers, wider ones, bigger tables) is damaged or hostile, and is refused before anything sized from
    // it is allocated. The embedding tables are the section's last tensors (one set of them per embedding set,
    // all of the same shapes), built before the dense layers, so they are checked here; the dense parameters are
    // checked one by one as the layers reserve them.
    const std::string_view weights = file.Get("weights");
    const std::vector<ParameterShape> shapes = ReadWeightShapes(weights);
    const auto& tables = loaded.pipeline->layout().tables;
    MTREC_CHECK(tables.size() <= shapes.size(), "the config has {} embedding tables, the weights section {} tensors",
                tables.size(), shapes.size());
    for (size_t t = 0; t < tables.size(); ++t) {
      const ParameterShape& stored = shapes[shapes.size() - tables.size() + t];
      const std::string suffix = "." + tables[t].name;
      const bool named = stored.name.size() > suffix.size() &&
                         stored.name.compare(stored.name.size() - suffix.size(), suffix.size(), suffix) == 0;
      MTREC_CHECK(named && stored.rows == tables[t].rows && stored.cols == tables[t].dim,
                  "the config's embedding table '{}' is {} × {}, the weights section holds '{}' ({} × {}) in its place",
                  tables[t].name, tables[t].rows, tables[t].dim, stored.name, stored.rows, stored.cols);
    }
    ExpectedParameters expected(shapes);
    loaded.model = CreateModel(loaded.config, loaded.pipeline->layout(), max_batch);
    // A checkpoint's trainer state (optimizer moments, the best epoch's weights) is most of its file: one served
    // as it is copies its tables, so that the file's bytes are not kept for them.
    if (tables_in_place && !file.Has("trainer")) {
      LoadWeightsInPlace(*loaded.model, weights, file.bytes());
    } else {
      LoadWeights(*loaded.model, weights);
    }
    loaded.history = HistoryFromJson(std::string(file.Get("history")));
    if (file.Has("labels")) loaded.train_labels = LabelCountsFromJson(file.Get("labels"), path);
    if (file.Has("trainer")) {
      std::string_view bytes = file.Get("trainer");
      BinaryReader r(bytes.data(), bytes.size(), path + " [trainer]");
      TrainerState state;
      state.epochs_done = r.Pod<int64_t>();
      state.best_epoch = r.Pod<int64_t>();
      state.best_score = r.Pod<double>();
      state.stale_epochs = r.Pod<int64_t>();
      state.dense_optimizer = r.String();
      uint32_t n = r.Pod<uint32_t>();
      for (uint32_t i = 0; i < n; ++i) state.sparse_optimizers.push_back(r.String());
      state.best_weights = r.String();
      if (!r.AtEnd()) state.weighting = r.String();  // absent in checkpoints written before task weighting
      if (!r.AtEnd()) state.weight_average = r.String();  // absent before train.ema_decay
      state.history = loaded.history;
      if (file.Has("stream")) state.stream = std::string(file.Get("stream"));
      loaded.trainer = std::move(state);
    }
  } catch (const Error& error) {
    Fail("cannot load '{}': {}", path, error.what());
  }
  return loaded;
}

}  // namespace mtrec
