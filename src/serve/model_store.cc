#include "serve/model_store.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/checksum.h"
#include "common/error.h"
#include "common/files.h"

namespace mtrec {

std::shared_ptr<ServingModel> LoadServingModel(const std::string& path, int64_t max_batch) {
  std::string bytes = ReadFileBytes(path);
  auto model = std::make_shared<ServingModel>();
  model->version = fmt::format("{:08x}", Crc32(bytes.data(), bytes.size()));
  model->loaded = LoadModelFromBytes(std::move(bytes), path, max_batch);
  model->schema = std::make_unique<RequestSchema>(*model->loaded.pipeline);
  for (const auto& task : model->loaded.config.tasks) {
    model->task_json.push_back(nlohmann::json(task.name).dump());
    model->task_link.push_back(LinkOf(task));
  }
  return model;
}

ModelStore::FileStamp ModelStore::Stamp(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return {static_cast<int64_t>(info.st_size),
          static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec,
          static_cast<int64_t>(info.st_ino)};
}

ModelStore::ModelStore(std::string path, int64_t max_batch) : path_(std::move(path)), max_batch_(max_batch) {
  seen_ = Stamp(path_);
  current_ = LoadServingModel(path_, max_batch_);
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
    next = LoadServingModel(path_, max_batch_);
  } catch (const std::exception& error) {
    ++failures_;
    if (detail) *detail = error.what();
    return Event::kRefused;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (next->version == current_->version) return Event::kUnchanged;  // same bytes (touched or copied again)
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
