// `mtrec serve`: the HTTP ranking service. POST /v1/rank ranks one request's candidates by the blended score,
// POST /v1/predict scores rows, GET /healthz and GET /metrics report on the server. Requests are parsed and
// encoded on the HTTP threads, scored in micro-batches by the Scorer's threads, and answered with the version of the
// model that scored them; the model file is watched and hot-reloaded (ModelStore).
//
//   RankingServer server(options);     // loads the model; throws Error when it cannot
//   int port = server.Bind();          // throws Error when the address is taken
//   server.Listen();                   // until Stop() (from another thread, e.g. on SIGTERM)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/model_store.h"
#include "serve/request.h"
#include "serve/scorer.h"

namespace mtrec {

// The memory --scorers 0 may spend on copies of the model beyond the first.
inline constexpr int64_t kMaxAutoCopyBytes = int64_t{1} << 30;

// --scorers 0 resolved: one scorer per thread, as far as the copies beyond the first, of `copy_bytes` each
// (ModelStore::ReplicaBytes), fit in kMaxAutoCopyBytes; a count given is kept.
int ResolveScorers(int scorers, int threads, int64_t copy_bytes);

struct ServerOptions {
  std::string model;
  std::vector<std::string> history;  // --history files, oldest first: derived time-series columns computed from them
  std::string host = "127.0.0.1";
  int port = 8080;        // 0: any free port (Bind returns it)
  int http_threads = 64;  // requests parsed and answered at once (idle connections take no thread)
  // Scorers: threads that each score their own micro-batches on their own copy of the model, with a share of the
  // process's threads (Threads(), as evenly as they divide). 1 scores every micro-batch with all of them; more
  // score side by side. 0: ResolveScorers.
  int scorers = 0;
  int64_t max_items = 1000;          // candidates per rank request, rows per predict request
  int64_t max_body_bytes = 2 << 20;  // 2 MiB: 1000 candidates take about 120 KB
  int timeout_ms = 1000;             // longest wait for a request's scores
  int reload_interval_ms = 1000;     // how often the model file is checked; 0: never
  // The HTTP side's caps and deadlines (HttpServerOptions says what each covers).
  int max_connections = 1024;
  int idle_timeout_ms = 5000;
  int header_timeout_ms = 5000;
  int body_timeout_ms = 10000;
  int write_timeout_ms = 5000;
  int64_t max_header_bytes = 16384;
  int max_headers = 64;
};

class RankingServer {
 public:
  explicit RankingServer(ServerOptions options);
  ~RankingServer();

  int Bind();
  void Listen();
  void Stop();

  // The answer bodies, without HTTP (also used by tests): throw RequestError for a bad request.
  std::string Rank(std::string_view body, std::chrono::steady_clock::time_point arrival);
  std::string Predict(std::string_view body, std::chrono::steady_clock::time_point arrival);
  // The same into `*out` (cleared first), as the server answers: the request is encoded, scored and ordered in
  // lists kept per thread, so that once they have grown a thread allocates nothing for a request.
  void Rank(std::string_view body, std::chrono::steady_clock::time_point arrival, std::string* out);
  void Predict(std::string_view body, std::chrono::steady_clock::time_point arrival, std::string* out);
  std::string Health() const;
  std::string Metrics() const;
  ModelStore& store() { return *store_; }
  Scorer& scorer() { return *scorer_; }
  int scorers() const { return options_.scorers; }  // resolved: at least 1
  const ServerMetrics& metrics() const { return metrics_; }

 private:
  void Answer(const HttpRequest& request, std::chrono::steady_clock::time_point arrival, HttpResponse* response);
  HttpResponse Refusal(int status, const std::string& message);

  ServerOptions options_;
  RequestLimits limits_;
  std::unique_ptr<ModelStore> store_;
  std::unique_ptr<Scorer> scorer_;
  ServerMetrics metrics_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace mtrec
