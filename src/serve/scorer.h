// One scoring path for every request: requests queue up, and a scoring thread takes whatever has queued — up to
// max_rows rows of the same model — as one forward pass (a micro-batch), then hands each request its rows.
// Nothing waits for a batch to fill: under light load a request is scored alone at once, under heavy load the
// batches grow and the per-row cost falls. With several scorers, each takes its own micro-batches and runs them on
// its own copy of the model (ServingModel::ForScorer) with its own threads: requests are scored side by side
// instead of one after another by a team of threads, which on small batches spends much of its time waiting at
// the team's barriers. A request that comes alone while other scorers are idle is split into parts of rows that
// the idle scorers score at once beside the first, each on its own copy: a lone request of a hundred rows then
// takes about the time of its largest part, where one scorer of one thread would take it whole.
//
//   Scorer scorer(/*max_rows=*/kMinInferenceBatch, /*scorers=*/2, /*threads=*/2);   // one thread each
//   std::vector<float> scores = scorer.Score(model, std::move(batch), deadline);   // rows × answers
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
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
  int64_t split_requests = 0;  // of `requests`, scored in parts side by side (each part a forward pass)
  int64_t parts_made = 0;      // parts of split requests made anew: a finished part is kept for the next split
};

// A lone request is split only into parts of at least this many rows: smaller matmuls lose more per row than a
// second scorer gains.
inline constexpr int64_t kMinPartRows = 32;

class Scorer {
 public:
  // `scorers` threads sharing `threads` among them as evenly as they divide (the first ones take one more; 0: each
  // keeps the process's count) for their forward passes; the models scored must hold a copy per scorer.
  Scorer(int64_t max_rows, int scorers = 1, int threads = 0, int64_t min_part_rows = kMinPartRows);
  ~Scorer();
  Scorer(const Scorer&) = delete;
  Scorer& operator=(const Scorer&) = delete;

  // Scores `batch` with `model`: rows × its answers (TaskOutputs::names: each task, binary tasks as probabilities,
  // regression tasks as values, then ziln quantiles and uplift). Blocks
  // until done; throws RequestError(503) when `deadline` passes first (the request is then dropped, or its result
  // discarded) and Error when the forward pass fails.
  std::vector<float> Score(std::shared_ptr<ServingModel> model, Batch batch,
                           std::chrono::steady_clock::time_point deadline);
  // The same without allocating once warm: `*batch` is lent to the scorer and handed back (after a 503 the caller
  // holds another batch, with capacity, in its place), and the scores go into `*scores`, whose old capacity the
  // scorer keeps for a later request. A finished request's job is kept for the next one.
  void Score(std::shared_ptr<ServingModel> model, Batch* batch, std::chrono::steady_clock::time_point deadline,
             std::vector<float>* scores);
  ScorerStats stats() const;
  // Whether lone requests may be split across idle scorers (on by default); `bench serve` scores its bound's
  // request whole.
  void SetSplitting(bool on);

 private:
  struct Job;
  void Run(size_t scorer);
  static void ScoreJobs(size_t scorer, const std::vector<std::shared_ptr<Job>>& jobs, Batch* merged);
  // Splits `whole` into `parts` jobs of consecutive rows, queues all but the first at the front and returns it.
  std::shared_ptr<Job> Split(const std::shared_ptr<Job>& whole, int64_t parts);
  // Under the lock: the job's scores are in; tells its requester, or its whole when it is a part.
  void Finish(Job& job, const std::string& error);
  // Under the lock: keeps a finished part for the next split (spare_parts_), its buffers with their capacity.
  void Recycle(std::shared_ptr<Job> job);
  static constexpr size_t kSpareParts = 16;
  // Requesters' jobs kept for the next requests (spare_jobs_), as many as requests are scored at once.
  static constexpr size_t kSpareJobs = 128;

  const int64_t max_rows_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;
  // A vector, not a deque (which allocates a block every few dozen requests); as long as the requests waiting.
  std::vector<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
  int idle_ = 0;                     // scorers waiting for requests
  std::condition_variable started_;  // a scorer waits for requests for the first time
  ScorerStats stats_;
  const int scorers_;
  const int threads_;
  const int64_t min_part_rows_;
  bool splitting_ = true;
  std::vector<std::shared_ptr<Job>> spare_parts_;
  std::vector<std::shared_ptr<Job>> spare_jobs_;
  std::vector<std::shared_ptr<Job>> split_parts_;  // Split's, reused
  std::vector<std::thread> workers_;
};

// Appends `part` to `into` as one more group of rows (its shared slots stay shared within the group).
void AppendBatch(const Batch& part, Batch* into);

// Rows [begin, end) of a serving batch (ids, numeric values, groups; no labels) into `into`: a group cut at
// `begin` keeps its shared ids on its first row there, so every row scores as in `from`.
void SliceBatch(const Batch& from, int64_t begin, int64_t end, Batch* into);

}  // namespace mtrec
