// The server's counters in Prometheus' text format (GET /metrics): requests and errors per endpoint and status,
// a latency histogram per endpoint, the time of each stage of a scoring request (parse, encode, score, write),
// the model version and reloads, and the scorer's micro-batches.
//
//   metrics.Observe(Endpoint::kRank, 200, seconds);
//   std::string text = metrics.Render(extra);   // extra: gauges and counters owned by others, already formatted
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace mtrec {

enum class Endpoint : int { kRank = 0, kPredict, kHealth, kMetrics, kOther, kCount };
const char* EndpointName(Endpoint endpoint);

// Where a scoring request's time went (seconds): its body's JSON parsed, checked and encoded into a batch, scored
// (waiting for the scorer and the forward pass of its micro-batch), the answer written.
struct StageSeconds {
  double parse = 0;
  double encode = 0;
  double score = 0;
  double write = 0;
  StageSeconds& operator+=(const StageSeconds& other) {
    parse += other.parse;
    encode += other.encode;
    score += other.score;
    write += other.write;
    return *this;
  }
};

class ServerMetrics {
 public:
  // Upper bounds of the latency buckets, seconds.
  static constexpr std::array<double, 14> kBuckets = {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
                                                      0.025,  0.05,  0.1,   0.25,  0.5,   1.0,    2.5};

  void Observe(Endpoint endpoint, int status, double seconds);
  // A scoring request (rank or predict) answered: its stages add to the endpoint's totals.
  void ObserveStages(Endpoint endpoint, const StageSeconds& stages);
  // The endpoint's stage totals and how many requests they sum.
  std::pair<StageSeconds, int64_t> Stages(Endpoint endpoint) const;
  std::string Render(const std::string& extra) const;

 private:
  struct Latency {
    std::array<int64_t, kBuckets.size()> buckets{};  // non-cumulative counts
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<int, int>, int64_t> requests_;  // (endpoint, status) -> count
  std::array<Latency, static_cast<size_t>(Endpoint::kCount)> latency_{};
  std::array<StageSeconds, static_cast<size_t>(Endpoint::kCount)> stages_{};
  std::array<int64_t, static_cast<size_t>(Endpoint::kCount)> staged_requests_{};
};

}  // namespace mtrec
