#include "serve/model_store.h"

#include <malloc.h>
#include <sys/stat.h>

#include <fmt/ranges.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/checksum.h"
#include "common/error.h"
#include "common/files.h"
#include "common/memory.h"
#include "common/log.h"

namespace mtrec {
namespace {

// A model file's version: the CRC-32 of its bytes.
std::string VersionOf(const std::string& bytes) { return fmt::format("{:08x}", Crc32(bytes.data(), bytes.size())); }

// `count` more copies of `model` for more scorers: each built again from its config and layout, reading the first
// copy's weights and tables (Model::ShareWeightsOf), with buffers of its own.
void AddReplicas(ServingModel& model, int count) {
  const Model& first = *model.loaded.model;
  for (int k = 0; k < count; ++k) {
    std::unique_ptr<Model> replica =
        CreateModel(model.loaded.config, model.loaded.pipeline->layout(), first.max_batch());
    replica->ShareWeightsOf(first);
    model.replicas.push_back(std::move(replica));
  }
}

// What a copy beyond the first may come to take beside its arrays (the packed weights are the first copy's): the
// rows of its first layers' weights cut apart for a request's context (Dense::ForwardSplit) and their packed
// forms, at most twice the dense weights.
int64_t CutWeightBytes(const Model& model) { return static_cast<int64_t>(2 * model.arena().size() * sizeof(float)); }

}  // namespace

std::shared_ptr<ServingModel> LoadServingModel(const std::string& path, int64_t max_batch,
                                               const std::vector<std::string>& history, int copies) {
  MTREC_CHECK(copies >= 1, "a served model needs at least 1 copy, got {}", copies);
  std::string bytes = ReadFileBytes(path);
  auto model = std::make_shared<ServingModel>();
  model->version = VersionOf(bytes);
  // Its tables stay in the file's bytes (read in place, never written): the load takes the file's size once.
  model->loaded = LoadModelFromBytes(std::move(bytes), path, max_batch, /*tables_in_place=*/true);
  // A served model never trains: its layers pack (and under bf16 convert) their weights once.
  model->loaded.model->arena().FreezeValues();
  AddReplicas(*model, copies - 1);
  const Config& config = model->loaded.config;
  const std::vector<TimeSeriesColumnConfig>& derived = config.time_series.columns;
  if (!derived.empty() && history.empty()) {
    std::vector<std::string> names;
    for (const auto& column : derived) names.push_back(column.name);
    LogInfo("serve: model {} derives {} time-series columns ({}) and no --history is given: a request gives their "
            "values as inputs",
            model->version, derived.size(), fmt::join(names, ", "));
  } else if (derived.empty() && !history.empty()) {
    LogInfo("serve: model {} has no derived time-series columns; the --history files are not read", model->version);
  } else if (!derived.empty()) {
    const auto start = std::chrono::steady_clock::now();
    // Every row of a history file counts, so a bad row stops the load whatever data.on_error says.
    DataConfig data = config.data;
    data.on_error = OnError::kFail;
    std::vector<const ColumnTable*> parts;
    {
      const std::vector<ColumnTable> tables = LoadTimeSeriesHistory(config, data, history);
      for (const auto& table : tables) parts.push_back(&table);
      model->history = std::make_unique<TimeSeriesIndex>(config, parts);
    }
    // The history's tables and the index's transient grouping were several times the index: hand the freed pages
    // back rather than keep them for the life of the server (glibc keeps a freed heap top otherwise).
    malloc_trim(0);
    const TimeSeriesIndex& index = *model->history;
    LogInfo("serve: model {}: {} derived time-series columns from the {} rows of {}: {} entities, {} daily points, "
            "{:.1f} MiB, in {:.2f} s; a request leaving them out has them computed",
            model->version, derived.size(), index.history_rows(), fmt::join(history, ", "), index.entities(),
            index.points(), static_cast<double>(index.bytes()) / (1 << 20),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  model->schema = std::make_unique<RequestSchema>(*model->loaded.pipeline, model->history.get());
  model->outputs = std::make_unique<TaskOutputs>(model->loaded.config);
  for (const std::string& name : model->outputs->names()) model->task_json.push_back(nlohmann::json(name).dump());
  return model;
}

ModelStore::FileStamp ModelStore::Stamp(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return {static_cast<int64_t>(info.st_size),
          static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec,
          static_cast<int64_t>(info.st_ino)};
}

ModelStore::ModelStore(std::string path, int64_t max_batch, std::vector<std::string> history, int copies)
    : path_(std::move(path)), max_batch_(max_batch), history_(std::move(history)), copies_(copies) {
  MTREC_CHECK(copies >= 1, "a served model needs at least 1 copy, got {}", copies);
  seen_ = Stamp(path_);
  current_ = LoadServingModel(path_, max_batch_, history_);
  SetCopies(copies);
}

int64_t ModelStore::ReplicaBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (replica_bytes_ >= 0) return replica_bytes_;
  // What building one took: the resident bytes it added, or the bytes of its arrays (written or not: what its
  // buffers may come to take for max_batch rows), whichever is more; then its cut weights.
  // The copy made is kept (SetCopies lets go of copies beyond its count).
  const int64_t resident = ResidentBytes(), arrays = AlignedBytes();
  AddReplicas(*current_, 1);
  replica_bytes_ = std::max<int64_t>({0, ResidentBytes() - resident, AlignedBytes() - arrays}) +
                   CutWeightBytes(*current_->loaded.model);
  return replica_bytes_;
}

void ModelStore::SetCopies(int copies) {
  MTREC_CHECK(copies >= 1, "a served model needs at least 1 copy, got {}", copies);
  std::lock_guard<std::mutex> lock(mutex_);
  copies_ = copies;
  const int more = copies - static_cast<int>(current_->Copies());
  if (more <= 0) {
    current_->replicas.resize(static_cast<size_t>(copies - 1));
    return;
  }
  AddReplicas(*current_, more);
}

ModelStore::~ModelStore() {
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    stop_ = true;
  }
  stop_changed_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

bool ModelStore::StopWatching(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> lock(watch_mutex_);
  stop_ = true;
  stop_changed_.notify_all();
  if (!stop_changed_.wait_for(lock, grace, [this] { return !watching_; })) return false;
  lock.unlock();
  if (watcher_.joinable()) watcher_.join();
  return true;
}

std::shared_ptr<ServingModel> ModelStore::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

ModelStore::Event ModelStore::Poll(std::string* detail) {
  const FileStamp stamp = Stamp(path_);
  if (stamp == seen_) return Event::kUnchanged;
  // A file being replaced by rename has its final stamp at once; one written in place may still be growing, and
  // then fails its checksums and is retried when its stamp moves again.
  seen_ = stamp;
  std::shared_ptr<ServingModel> next;
  try {
    if (stamp.size < 0) Fail("cannot open '{}': the file is gone", path_);
    next = LoadServingModel(path_, max_batch_, history_, copies_);
  } catch (const std::exception& error) {
    ++failures_;
    if (detail) *detail = error.what();
    return Event::kRefused;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The same bytes (touched or copied again) change nothing, unless history files come with the model: touching
    // the model is how newer history is taken in.
    if (next->version == current_->version && history_.empty()) return Event::kUnchanged;
    current_ = std::move(next);
  }
  ++reloads_;
  if (detail) *detail = Current()->version;
  return Event::kSwapped;
}

void ModelStore::Watch(std::chrono::milliseconds interval, Listener listener) {
  MTREC_CHECK(!watcher_.joinable(), "ModelStore::Watch called twice");
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    if (stop_) return;
    watching_ = true;
  }
  watcher_ = std::thread([this, interval, listener = std::move(listener)] {
    std::unique_lock<std::mutex> lock(watch_mutex_);
    while (!stop_changed_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      std::string detail;
      const Event event = Poll(&detail);
      if (event != Event::kUnchanged && listener) listener(event, detail);
      lock.lock();
    }
    watching_ = false;
    stop_changed_.notify_all();
  });
}

}  // namespace mtrec
