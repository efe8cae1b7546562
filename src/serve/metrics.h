// The server's counters in Prometheus' text format (GET /metrics): requests and errors per endpoint and status,
// a latency histogram per endpoint, the model version and reloads, and the scorer's micro-batches.
//
//   metrics.Observe(Endpoint::kRank, 200, seconds);
//   std::string text = metrics.Render(extra);   // extra: gauges and counters owned by others, already formatted
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mtrec {

enum class Endpoint : int { kRank = 0, kPredict, kHealth, kMetrics, kOther, kCount };
const char* EndpointName(Endpoint endpoint);

class ServerMetrics {
 public:
  // Upper bounds of the latency buckets, seconds.
  static constexpr std::array<double, 14> kBuckets = {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
                                                      0.025,  0.05,  0.1,   0.25,  0.5,   1.0,    2.5};

  void Observe(Endpoint endpoint, int status, double seconds);
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
};

}  // namespace mtrec
