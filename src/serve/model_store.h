// The model a server scores with, and its hot reload: the file is watched; a changed file is loaded beside the
// current model and swapped in atomically; requests that already hold the old model finish on it (a shared_ptr
// keeps it alive). A file that fails to load is refused and the current model keeps serving, and so is anything
// but a regular file (a FIFO or folder moved over the model is refused without being waited on).
//
//   ModelStore store("model.mtrec", kMinInferenceBatch);     // throws Error when the first load fails
//   std::shared_ptr<ServingModel> model = store.Current();    // one request's model, start to end
//   store.Watch(std::chrono::milliseconds(1000), on_reload);  // polls the file on its own thread
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/model_io.h"
#include "models/task_outputs.h"
#include "serve/request.h"

namespace mtrec {

struct ServingModel {
  LoadedModel loaded;
  // Further copies of loaded.model, one per scorer beyond the first: a model's forward pass writes its own
  // buffers, so scorers that run at once each need their own (ForScorer). They read loaded.model's weights and
  // embedding tables (Model::ShareWeightsOf), which are held once.
  std::vector<std::unique_ptr<Model>> replicas;
  std::unique_ptr<TimeSeriesIndex> history;  // with --history and derived time-series columns; read by `schema`
  std::unique_ptr<RequestSchema> schema;
  std::string version;                 // CRC-32 of the file's bytes, 8 hex digits: the same file, the same version
  std::unique_ptr<TaskOutputs> outputs;  // the answers (each task's, then ziln quantiles, uplift...) from the outputs
  std::vector<std::string> task_json;    // each answer's name as a JSON string: the tasks' first, in task order

  // The copy scorer `k` runs (0: loaded.model).
  Model& ForScorer(size_t k) { return k == 0 ? *loaded.model : *replicas.at(k - 1); }
  size_t Copies() const { return 1 + replicas.size(); }
};

// Loads `path` for serving; throws Error naming the file when it is not a valid model. A model with derived
// time-series columns reads `history` (oldest first) and indexes it, so that requests may leave those columns out;
// a history file that does not load fails the load like a damaged model. `copies`: the model's copies, one per
// scorer (each with buffers of its own, all reading one set of weights).
std::shared_ptr<ServingModel> LoadServingModel(const std::string& path, int64_t max_batch,
                                               const std::vector<std::string>& history = {}, int copies = 1);

class ModelStore {
 public:
  enum class Event { kUnchanged, kSwapped, kRefused };
  using Listener = std::function<void(Event, const std::string& detail)>;

  // `history`: the --history files, read again with every model loaded; then a touched model file (same bytes)
  // is loaded and swapped too, with the history as it is now.
  ModelStore(std::string path, int64_t max_batch, std::vector<std::string> history = {}, int copies = 1);
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  std::shared_ptr<ServingModel> Current() const;
  // What a copy of the model beyond the first takes (its buffers for max_batch rows, written or not, and the cut
  // weights of its request-context products; the weights, tables and packed weights are the first copy's):
  // measured on the first call by making one more copy, which SetCopies keeps or lets go. Before the scorers start.
  int64_t ReplicaBytes();
  // `copies` copies of the current model (the missing ones built on its weights), and of every reload from then
  // on; before the scorers start.
  void SetCopies(int copies);
  // Looks at the file once: loads and swaps when it changed since the last look (size, time, inode), refuses a
  // file that does not load (until it changes again). detail: the new version or the load error.
  Event Poll(std::string* detail = nullptr);
  // Polls every `interval` on a thread until destruction; `listener` hears every swap and refusal.
  void Watch(std::chrono::milliseconds interval, Listener listener);
  // Ends the watching thread, waiting at most `grace` for a load in progress: true when it ended (and was joined).
  // False leaves it running; the process should then exit without destroying the store, whose destructor would
  // wait for the load (a model file on storage that does not answer).
  bool StopWatching(std::chrono::milliseconds grace);

  int64_t reloads() const { return reloads_; }
  int64_t failures() const { return failures_; }
  const std::string& path() const { return path_; }

 private:
  struct FileStamp {
    int64_t size = -1, mtime_ns = 0, inode = 0;
    bool operator==(const FileStamp&) const = default;
  };
  static FileStamp Stamp(const std::string& path);

  const std::string path_;
  const int64_t max_batch_;
  const std::vector<std::string> history_;
  int copies_;
  int64_t replica_bytes_ = -1;  // -1: not measured yet
  mutable std::mutex mutex_;
  std::shared_ptr<ServingModel> current_;
  FileStamp seen_;
  std::atomic<int64_t> reloads_{0};
  std::atomic<int64_t> failures_{0};

  std::mutex watch_mutex_;
  std::condition_variable stop_changed_;
  bool stop_ = false;
  bool watching_ = false;  // the watcher thread has not yet left its loop
  std::thread watcher_;
};

}  // namespace mtrec
