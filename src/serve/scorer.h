// One scoring path for every request: requests queue up, and one thread scores whatever has queued — up to
// max_rows rows of the same model — in a single forward pass (a micro-batch), then hands each request its rows.
// Nothing waits for a batch to fill: under light load a request is scored alone at once, under heavy load the
// batches grow and the per-row cost falls.
//
//   Scorer scorer(/*max_rows=*/kMinInferenceBatch);
//   std::vector<float> scores = scorer.Score(model, std::move(batch), deadline);   // rows × answers
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "features/batcher.h"
#include "serve/model_store.h"

namespace mtrec {

struct ScorerStats {
  int64_t batches = 0;  // forward passes
  int64_t rows = 0;     // rows scored
  int64_t requests = 0;
};

class Scorer {
 public:
  explicit Scorer(int64_t max_rows);
  ~Scorer();
  Scorer(const Scorer&) = delete;
  Scorer& operator=(const Scorer&) = delete;

  // Scores `batch` with `model`: rows × its answers (TaskOutputs::names: each task, binary tasks as probabilities,
  // regression tasks as values, then ziln quantiles and uplift). Blocks
  // until done; throws RequestError(503) when `deadline` passes first (the request is then dropped, or its result
  // discarded) and Error when the forward pass fails.
  std::vector<float> Score(std::shared_ptr<ServingModel> model, Batch batch,
                           std::chrono::steady_clock::time_point deadline);
  ScorerStats stats() const;

 private:
  struct Job;
  void Run();
  void ScoreJobs(const std::vector<std::shared_ptr<Job>>& jobs);

  const int64_t max_rows_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
  ScorerStats stats_;
  Batch merged_;  // reused between micro-batches
  std::thread worker_;
};

// Appends `part` to `into` as one more group of rows (its shared slots stay shared within the group).
void AppendBatch(const Batch& part, Batch* into);

}  // namespace mtrec
