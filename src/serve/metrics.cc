#include "serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace mtrec {

const char* EndpointName(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kRank:
      return "/v1/rank";
    case Endpoint::kPredict:
      return "/v1/predict";
    case Endpoint::kHealth:
      return "/healthz";
    case Endpoint::kMetrics:
      return "/metrics";
    default:
      return "other";
  }
}

void ServerMetrics::Observe(Endpoint endpoint, int status, double seconds) {
  const size_t bucket = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{static_cast<int>(endpoint), status}];
  Latency& latency = latency_[static_cast<size_t>(endpoint)];
  if (bucket < kBuckets.size()) ++latency.buckets[bucket];
  ++latency.count;
  latency.sum += seconds;
}

void ServerMetrics::ObserveStages(Endpoint endpoint, const StageSeconds& stages) {
  std::lock_guard<std::mutex> lock(mutex_);
  stages_[static_cast<size_t>(endpoint)] += stages;
  ++staged_requests_[static_cast<size_t>(endpoint)];
}

std::pair<StageSeconds, int64_t> ServerMetrics::Stages(Endpoint endpoint) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {stages_[static_cast<size_t>(endpoint)], staged_requests_[static_cast<size_t>(endpoint)]};
}

std::string ServerMetrics::Render(const std::string& extra) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP mtrec_requests_total HTTP requests answered, by endpoint and status code.\n";
  out += "# TYPE mtrec_requests_total counter\n";
  std::map<int, int64_t> errors;
  for (const auto& [key, count] : requests_) {
    const auto endpoint = static_cast<Endpoint>(key.first);
    out += fmt::format("mtrec_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n", EndpointName(endpoint), key.second,
                       count);
    if (key.second >= 400) errors[key.first] += count;
  }
  out += "# HELP mtrec_request_errors_total Requests answered with a 4xx or 5xx status, by endpoint.\n";
  out += "# TYPE mtrec_request_errors_total counter\n";
  for (int e = 0; e < static_cast<int>(Endpoint::kCount); ++e) {
    out += fmt::format("mtrec_request_errors_total{{endpoint=\"{}\"}} {}\n", EndpointName(static_cast<Endpoint>(e)),
                       errors[e]);
  }
  out += "# HELP mtrec_request_duration_seconds Time from a request's arrival to its answer.\n";
  out += "# TYPE mtrec_request_duration_seconds histogram\n";
  for (int e = 0; e < static_cast<int>(Endpoint::kCount); ++e) {
    const Latency& latency = latency_[e];
    const char* name = EndpointName(static_cast<Endpoint>(e));
    int64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += latency.buckets[b];
      out += fmt::format("mtrec_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", name, kBuckets[b],
                         cumulative);
    }
    out +=
        fmt::format("mtrec_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n", name, latency.count);
    out += fmt::format("mtrec_request_duration_seconds_sum{{endpoint=\"{}\"}} {:.6f}\n", name, latency.sum);
    out += fmt::format("mtrec_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n", name, latency.count);
  }
  out += "# HELP mtrec_request_stage_seconds_total Time spent in each stage of the scoring requests answered: "
         "parse (the body's JSON), encode (checked and encoded into a batch), score (waiting for and running the "
         "forward pass), write (blend, order and the answer's JSON).\n";
  out += "# TYPE mtrec_request_stage_seconds_total counter\n";
  for (const Endpoint endpoint : {Endpoint::kRank, Endpoint::kPredict}) {
    const StageSeconds& s = stages_[static_cast<size_t>(endpoint)];
    const std::pair<const char*, double> stages[] = {
        {"parse", s.parse}, {"encode", s.encode}, {"score", s.score}, {"write", s.write}};
    for (const auto& [stage, seconds] : stages) {
      out += fmt::format("mtrec_request_stage_seconds_total{{endpoint=\"{}\",stage=\"{}\"}} {:.6f}\n",
                         EndpointName(endpoint), stage, seconds);
    }
  }
  out += "# HELP mtrec_request_stage_requests_total Scoring requests answered whose stages the stage totals sum.\n";
  out += "# TYPE mtrec_request_stage_requests_total counter\n";
  for (const Endpoint endpoint : {Endpoint::kRank, Endpoint::kPredict}) {
    out += fmt::format("mtrec_request_stage_requests_total{{endpoint=\"{}\"}} {}\n", EndpointName(endpoint),
                       staged_requests_[static_cast<size_t>(endpoint)]);
  }
  out += extra;
  return out;
}

}  // namespace mtrec
