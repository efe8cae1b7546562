#include "serve/scorer.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/log.h"
#include "common/threads.h"
#include "models/task_outputs.h"
#include "serve/request.h"

namespace mtrec {

struct Scorer::Job {
  std::shared_ptr<ServingModel> model;
  Batch batch;
  std::chrono::steady_clock::time_point deadline;
  std::vector<float> scores;
  std::string error;
  bool done = false;
  bool abandoned = false;  // the requester stopped waiting
  std::condition_variable finished;
  // A part of a split request: its rows are the whole's from `first_row` on, its scores go there.
  std::shared_ptr<Job> whole;
  int64_t first_row = 0;
  int64_t parts_left = 0;  // a split request: parts not yet scored

  bool Abandoned() const { return whole ? whole->abandoned : abandoned; }
};

void AppendBatch(const Batch& part, Batch* into) {
  const size_t singles = part.single_ids.size();
  const size_t multis = part.multi_ids.size();
  const size_t slots = singles + multis;
  const int64_t base = into->size;
  if (base == 0) {
    // Cleared, not replaced: the vectors keep their capacity from one micro-batch to the next.
    into->single_ids.resize(singles);
    for (auto& ids : into->single_ids) ids.clear();
    into->multi_ids.resize(multis);
    for (auto& ids : into->multi_ids) ids.clear();
    into->multi_offsets.resize(multis);
    for (auto& offsets : into->multi_offsets) offsets.assign(1, 0);
    into->numeric.clear();
    into->group_starts.clear();
    into->shared.clear();
  }
  for (size_t s = 0; s < singles; ++s) {
    into->single_ids[s].insert(into->single_ids[s].end(), part.single_ids[s].begin(), part.single_ids[s].end());
  }
  for (size_t m = 0; m < multis; ++m) {
    auto& offsets = into->multi_offsets[m];
    const int64_t shift = offsets.back();
    for (int64_t r = 1; r <= part.size; ++r)
      offsets.push_back(part.multi_offsets[m][r] - part.multi_offsets[m][0] + shift);
    into->multi_ids[m].insert(into->multi_ids[m].end(), part.multi_ids[m].begin() + part.multi_offsets[m][0],
                              part.multi_ids[m].begin() + part.multi_offsets[m][part.size]);
  }
  into->numeric.insert(into->numeric.end(), part.numeric.begin(), part.numeric.end());
  if (part.group_starts.empty()) {
    into->group_starts.push_back(base);
    into->shared.insert(into->shared.end(), slots, 0);
  } else {
    for (size_t g = 0; g < part.group_starts.size(); ++g) into->group_starts.push_back(base + part.group_starts[g]);
    into->shared.insert(into->shared.end(), part.shared.begin(), part.shared.end());
  }
  into->size += part.size;
}

void SliceBatch(const Batch& from, int64_t begin, int64_t end, Batch* into) {
  MTREC_CHECK(0 <= begin && begin < end && end <= from.size, "rows [{}, {}) are not within a batch of {}", begin, end,
              from.size);
  const size_t singles = from.single_ids.size();
  const size_t multis = from.multi_ids.size();
  const size_t slots = singles + multis;
  into->size = end - begin;
  into->rows.clear();
  into->labels.clear();
  into->censored.clear();
  into->treatment.clear();
  into->single_ids.resize(singles);
  for (size_t s = 0; s < singles; ++s) {
    into->single_ids[s].assign(from.single_ids[s].begin() + begin, from.single_ids[s].begin() + end);
  }
  const auto width = static_cast<int64_t>(from.numeric.size()) / from.size;
  into->numeric.assign(from.numeric.begin() + begin * width, from.numeric.begin() + end * width);
  // The groups that reach into the rows; one begun before `begin` hands its shared ids to row `begin`.
  into->group_starts.clear();
  into->shared.clear();
  int64_t lead = -1;  // the row of `from` holding the shared ids of the group cut at `begin`
  size_t lead_group = 0;
  for (size_t g = 0; g < from.group_starts.size(); ++g) {
    const int64_t start = from.group_starts[g];
    if (from.GroupEnd(g) <= begin || start >= end) continue;
    into->group_starts.push_back(std::max(start, begin) - begin);
    into->shared.insert(into->shared.end(), from.shared.begin() + static_cast<int64_t>(g * slots),
                        from.shared.begin() + static_cast<int64_t>((g + 1) * slots));
    if (start < begin) {
      lead = start;
      lead_group = g;
    }
  }
  if (lead >= 0) {
    for (size_t s = 0; s < singles; ++s) {
      if (from.Shared(lead_group, s, slots)) into->single_ids[s][0] = from.single_ids[s][lead];
    }
  }
  into->multi_ids.resize(multis);
  into->multi_offsets.resize(multis);
  for (size_t m = 0; m < multis; ++m) {
    const bool lead_shared = lead >= 0 && from.Shared(lead_group, singles + m, slots);
    const auto& offsets = from.multi_offsets[m];
    auto& ids = into->multi_ids[m];
    auto& out_offsets = into->multi_offsets[m];
    ids.clear();
    out_offsets.assign(1, 0);
    for (int64_t r = begin; r < end; ++r) {
      const int64_t source = r == begin && lead_shared ? lead : r;
      ids.insert(ids.end(), from.multi_ids[m].begin() + offsets[source],
                 from.multi_ids[m].begin() + offsets[source + 1]);
      out_offsets.push_back(static_cast<int64_t>(ids.size()));
    }
  }
}

Scorer::Scorer(int64_t max_rows, int scorers, int threads, int64_t min_part_rows)
    : max_rows_(max_rows), scorers_(scorers), threads_(threads), min_part_rows_(min_part_rows) {
  MTREC_CHECK(scorers >= 1, "a server needs at least 1 scorer, got {}", scorers);
  MTREC_CHECK(min_part_rows >= 1, "a part of a request needs at least 1 row, got {}", min_part_rows);
  MTREC_CHECK(threads == 0 || threads >= scorers, "{} scorers need at least as many threads, got {}", scorers, threads);
  spare_parts_.reserve(kSpareParts);  // Recycle, under the lock in a scorer thread, then never allocates
  spare_jobs_.reserve(kSpareJobs);
  queue_.reserve(kSpareJobs);
  split_parts_.reserve(static_cast<size_t>(scorers));
  for (int k = 0; k < scorers; ++k) workers_.emplace_back([this, k] { Run(static_cast<size_t>(k)); });
  // Ready when every scorer waits: the first lone request can then be split.
  std::unique_lock<std::mutex> lock(mutex_);
  started_.wait(lock, [this] { return idle_ == scorers_; });
}

void Scorer::SetSplitting(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  splitting_ = on;
}

Scorer::~Scorer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  queued_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

ScorerStats Scorer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::vector<float> Scorer::Score(std::shared_ptr<ServingModel> model, Batch batch,
                                 std::chrono::steady_clock::time_point deadline) {
  std::vector<float> scores;
  Score(std::move(model), &batch, deadline, &scores);
  return scores;
}

void Scorer::Score(std::shared_ptr<ServingModel> model, Batch* batch, std::chrono::steady_clock::time_point deadline,
                   std::vector<float>* scores) {
  MTREC_CHECK(batch->size <= max_rows_, "a request of {} rows exceeds the scorer's {}", batch->size, max_rows_);
  scores->clear();
  if (batch->size == 0) return;
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    MTREC_CHECK(!stop_, "the server is shutting down");
    if (!spare_jobs_.empty()) {
      job = std::move(spare_jobs_.back());
      spare_jobs_.pop_back();
    }
  }
  if (!job) job = std::make_shared<Job>();
  job->model = std::move(model);
  std::swap(job->batch, *batch);  // both keep their vectors' capacity
  job->deadline = deadline;
  std::unique_lock<std::mutex> lock(mutex_);
  MTREC_CHECK(!stop_, "the server is shutting down");
  queue_.push_back(job);
  queued_.notify_one();
  if (!job->finished.wait_until(lock, deadline, [&] { return job->done; })) {
    job->abandoned = true;  // the scorer may still read its batch: the job is not kept
    throw RequestError(503, "scoring did not finish within the server's time limit; retry or send fewer items");
  }
  std::swap(job->batch, *batch);
  if (!job->error.empty()) throw Error(job->error);
  std::swap(job->scores, *scores);
  // Kept when no scorer holds it any more (a scorer lets go of its jobs under this lock, before it is released).
  if (job.use_count() == 1 && spare_jobs_.size() < kSpareJobs) {
    job->model.reset();
    job->done = false;
    spare_jobs_.push_back(std::move(job));
  }
}

void Scorer::Run(size_t scorer) {
  if (threads_ > 0) {
    SetThreadsOfThisThread(threads_ / scorers_ + (static_cast<int>(scorer) < threads_ % scorers_ ? 1 : 0));
  }
  std::vector<std::shared_ptr<Job>> jobs;
  Batch merged;  // reused between micro-batches
  std::unique_lock<std::mutex> lock(mutex_);
  bool first = true;
  while (true) {
    ++idle_;
    if (first) {
      first = false;
      started_.notify_one();
    }
    queued_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    --idle_;
    if (stop_ && queue_.empty()) return;
    // What is queued for the first job's model, up to max_rows_ rows and this scorer's share of the requests (the
    // others take the rest, at once when idle, else when they finish: a scorer that took everything while another
    // was about to finish made those requests wait for its whole batch, and over HTTP at 8 clients gave 1.25x the
    // p99); requests whose waiter gave up are dropped.
    const size_t share = (queue_.size() + static_cast<size_t>(scorers_) - 1) / static_cast<size_t>(scorers_);
    jobs.clear();
    int64_t rows = 0;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = queue_.begin(); it != queue_.end() && jobs.size() < share;) {
      Job& job = **it;
      if (job.Abandoned() || job.deadline <= now) {
        it = queue_.erase(it);
        continue;
      }
      if (!jobs.empty() && (job.model != jobs.front()->model || rows + job.batch.size > max_rows_)) break;
      rows += job.batch.size;
      jobs.push_back(*it);
      it = queue_.erase(it);
    }
    // A request alone, with other scorers idle: they score parts of it at once beside this one.
    const int64_t parts = std::min<int64_t>(idle_ + 1, rows / min_part_rows_);
    if (splitting_ && jobs.size() == 1 && !jobs.front()->whole && queue_.empty() && parts > 1) {
      try {
        jobs.front() = Split(jobs.front(), parts);
        rows = jobs.front()->batch.size;
        for (int64_t p = 1; p < parts; ++p) queued_.notify_one();  // a scorer for each other part, no more
      } catch (const std::exception& e) {
        LogInfo("serve: a request of {} rows could not be split, scored whole: {}", rows, e.what());
      }
    } else if (!queue_.empty() && idle_ > 0) {
      queued_.notify_one();
    }
    if (jobs.empty()) continue;
    lock.unlock();
    std::string error;
    try {
      ScoreJobs(scorer, jobs, &merged);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    ++stats_.batches;
    stats_.rows += rows;
    for (auto& job : jobs) Finish(*job, error);
    for (auto& job : jobs) Recycle(std::move(job));
  }
}

void Scorer::Recycle(std::shared_ptr<Job> job) {
  // Only parts (a requester's own job is its own), and only when nothing else holds them.
  if (!job->whole || job.use_count() != 1 || spare_parts_.size() >= kSpareParts) return;
  job->whole.reset();
  job->model.reset();
  job->error.clear();
  job->done = false;
  job->abandoned = false;
  job->first_row = 0;
  job->parts_left = 0;
  spare_parts_.push_back(std::move(job));
}

std::shared_ptr<Scorer::Job> Scorer::Split(const std::shared_ptr<Job>& whole, int64_t parts) {
  // Every part is made before any is queued: a failure (memory) leaves the request whole, and the parts made so
  // far go back to the spares, holding neither the request nor its model.
  const int64_t rows = whole->batch.size;
  std::vector<std::shared_ptr<Job>>& made = split_parts_;  // under the lock
  made.clear();
  try {
    for (int64_t p = 0; p < parts; ++p) {
      // A part scored before is taken again, its batch's vectors with the capacity they had (no allocation).
      std::shared_ptr<Job> part;
      if (spare_parts_.empty()) {
        part = std::make_shared<Job>();
        ++stats_.parts_made;
      } else {
        part = std::move(spare_parts_.back());
        spare_parts_.pop_back();
      }
      made.push_back(part);
      part->whole = whole;
      part->model = whole->model;
      part->deadline = whole->deadline;
      part->first_row = rows * p / parts;
      SliceBatch(whole->batch, part->first_row, rows * (p + 1) / parts, &part->batch);
    }
  } catch (...) {
    for (auto& part : made) Recycle(std::move(part));
    made.clear();
    throw;
  }
  whole->parts_left = parts;
  queue_.insert(queue_.begin(), std::make_move_iterator(made.begin() + 1), std::make_move_iterator(made.end()));
  std::shared_ptr<Job> first = std::move(made[0]);
  made.clear();
  return first;
}

void Scorer::Finish(Job& job, const std::string& error) {
  if (!job.whole) {
    ++stats_.requests;
    job.error = error;
    job.done = true;
    job.finished.notify_one();
    return;
  }
  Job& whole = *job.whole;
  if (!error.empty()) {
    whole.error = error;
  } else {
    const int64_t columns = static_cast<int64_t>(job.scores.size()) / job.batch.size;
    whole.scores.resize(whole.batch.size * columns);
    std::copy(job.scores.begin(), job.scores.end(), whole.scores.begin() + job.first_row * columns);
  }
  if (--whole.parts_left > 0) return;
  ++stats_.requests;
  ++stats_.split_requests;
  whole.done = true;
  whole.finished.notify_one();
}

void Scorer::ScoreJobs(size_t scorer, const std::vector<std::shared_ptr<Job>>& jobs, Batch* merged) {
  ServingModel& serving = *jobs.front()->model;
  const Batch* batch = &jobs.front()->batch;
  if (jobs.size() > 1) {
    merged->size = 0;
    for (const auto& job : jobs) AppendBatch(job->batch, merged);
    batch = merged;
  }
  MTREC_CHECK(scorer < serving.Copies(), "scorer {} has no copy of the model ({} loaded)", scorer + 1,
              serving.Copies());
  Model& model = serving.ForScorer(scorer);
  const Tensor outputs = model.Forward(*batch, Mode::kInfer);
  // Requests carry no treatment: a treated task answers its control arm, beside its uplift and both arms.
  const TaskOutputs& answers = *serving.outputs;
  const auto columns = static_cast<int64_t>(answers.prediction_columns().size());
  int64_t row = 0;
  for (const auto& job : jobs) {
    job->scores.resize(job->batch.size * columns);
    for (int64_t r = 0; r < job->batch.size; ++r, ++row) {
      for (int64_t c = 0; c < columns; ++c) {
        job->scores[r * columns + c] =
            static_cast<float>(answers.Predict(static_cast<size_t>(c), outputs.Row(row), NAN));
      }
    }
  }
}

}  // namespace mtrec
