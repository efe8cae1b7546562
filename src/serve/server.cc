#include "serve/server.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/threads.h"
#include "models/predict.h"

namespace mtrec {
namespace {

using Clock = std::chrono::steady_clock;

// A scoring request's stages: parse and encode as the request measured them, score from `encoded` to `scored`,
// write from then to now.
StageSeconds StagesOf(const EncodedRequest& request, Clock::time_point encoded, Clock::time_point scored) {
  auto seconds = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  };
  return {.parse = request.parse_seconds,
          .encode = request.encode_seconds,
          .score = seconds(encoded, scored),
          .write = seconds(scored, Clock::now())};
}

// The shortest text that reads back as the same float (std::to_chars: a few times faster than a fixed precision).
void AppendNumber(std::string& out, float value) {
  if (std::isfinite(value)) {
    char text[32];
    out.append(text, std::to_chars(text, text + sizeof(text), value).ptr);
  } else {
    out += "null";
  }
}

void AppendTasks(std::string& out, const ServingModel& model, const float* scores) {
  out += '{';
  for (size_t k = 0; k < model.task_json.size(); ++k) {
    if (k) out += ',';
    out += model.task_json[k];
    out += ':';
    AppendNumber(out, scores[k]);
  }
  out += '}';
}

// What a server thread keeps from one scoring request to the next (RankingServer::Rank and Predict).
struct RequestScratch {
  EncodedRequest request;
  std::vector<float> scores;
  std::vector<float> blended;
  std::vector<int64_t> order;
};

RequestScratch& ThreadScratch() {
  thread_local RequestScratch scratch;
  return scratch;
}

// What /v1/rank and /v1/predict share: the body parsed by `parse` into the thread's scratch against the model
// being served, then scored by `deadline`; with the times it was encoded and scored, for the stages.
struct ScoredRequest {
  std::shared_ptr<ServingModel> model;
  RequestScratch& scratch;
  Clock::time_point encoded;
  Clock::time_point scored;
};

ScoredRequest ParseAndScore(std::string_view body, ParseInto parse, const ModelStore& store, Scorer& scorer,
                            RequestLimits limits, Clock::time_point deadline) {
  std::shared_ptr<ServingModel> model = store.Current();
  limits.deadline = deadline;
  RequestScratch& scratch = ThreadScratch();
  parse(body, *model->schema, limits, &scratch.request);
  const auto encoded = Clock::now();
  scorer.Score(model, &scratch.request.batch, deadline, &scratch.scores);
  return {std::move(model), scratch, encoded, Clock::now()};
}

std::string ErrorBody(const std::string& message) {
  nlohmann::json body = {{"error", message}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int ResolveScorers(int scorers, int threads, int64_t copy_bytes) {
  if (scorers > 0) return scorers;
  const int64_t more = copy_bytes > 0 ? kMaxAutoCopyBytes / copy_bytes : threads;
  return static_cast<int>(std::clamp<int64_t>(1 + more, 1, std::max(1, threads)));
}

RankingServer::RankingServer(ServerOptions options) : options_(std::move(options)) {
  MTREC_CHECK(options_.max_items > 0, "--max-items must be at least 1, got {}", options_.max_items);
  MTREC_CHECK(options_.max_body_bytes > 0, "--max-body-bytes must be at least 1, got {}", options_.max_body_bytes);
  MTREC_CHECK(options_.timeout_ms > 0, "--timeout-ms must be at least 1, got {}", options_.timeout_ms);
  MTREC_CHECK(options_.http_threads > 0, "--http-threads must be at least 1, got {}", options_.http_threads);
  limits_.max_items = options_.max_items;
  // The scorer's micro-batches hold several requests; the model's buffers are sized for the largest.
  const int64_t max_rows = std::max<int64_t>(options_.max_items, kMinInferenceBatch);
  MTREC_CHECK(options_.scorers >= 0 && options_.scorers <= Threads(),
              "--scorers must be between 0 (automatic) and the scoring threads ({}), got {}", Threads(),
              options_.scorers);
  // Automatic: the first copy is loaded alone, and what it took decides how many more fit.
  store_ = std::make_unique<ModelStore>(options_.model, max_rows, options_.history, std::max(1, options_.scorers));
  if (options_.scorers == 0) {
    const int64_t copy_bytes = Threads() > 1 ? store_->ReplicaBytes() : 0;
    options_.scorers = ResolveScorers(0, Threads(), copy_bytes);
    store_->SetCopies(options_.scorers);
    if (options_.scorers < Threads()) {
      LogInfo(
          "serve: {} scorers for {} threads: a copy of the model beyond the first (its buffers; the weights, tables "
          "and packed weights are shared) may take {:.0f} MiB, and those copies {:.0f} MiB in all (--scorers sets "
          "the count)",
          options_.scorers, Threads(), static_cast<double>(copy_bytes) / (1 << 20),
          static_cast<double>(kMaxAutoCopyBytes) / (1 << 20));
    }
  }
  MTREC_CHECK(store_->Current()->Copies() == static_cast<size_t>(options_.scorers),
              "{} copies of the model loaded for {} scorers", store_->Current()->Copies(), options_.scorers);
  scorer_ = std::make_unique<Scorer>(max_rows, options_.scorers, Threads());
  HttpServerOptions http;
  http.host = options_.host;
  http.port = options_.port;
  http.worker_threads = options_.http_threads;
  http.max_connections = options_.max_connections;
  http.idle_timeout_ms = options_.idle_timeout_ms;
  http.header_timeout_ms = options_.header_timeout_ms;
  http.body_timeout_ms = options_.body_timeout_ms;
  http.write_timeout_ms = options_.write_timeout_ms;
  http.limits.max_header_bytes = options_.max_header_bytes;
  http.limits.max_headers = options_.max_headers;
  http.limits.max_body_bytes = options_.max_body_bytes;
  http_ = std::make_unique<HttpServer>(
      http,
      [this](const HttpRequest& request, Clock::time_point arrival, HttpResponse* response) {
        Answer(request, arrival, response);
      },
      [this](int status, const std::string& message) { return Refusal(status, message); });
}

RankingServer::~RankingServer() = default;

std::string RankingServer::Rank(std::string_view body, Clock::time_point arrival) {
  std::string out;
  Rank(body, arrival, &out);
  return out;
}

std::string RankingServer::Predict(std::string_view body, Clock::time_point arrival) {
  std::string out;
  Predict(body, arrival, &out);
  return out;
}

void RankingServer::Rank(std::string_view body, Clock::time_point arrival, std::string* out) {
  out->clear();
  const ScoredRequest done = ParseAndScore(body, ParseRankRequest, *store_, *scorer_, limits_,
                                           arrival + std::chrono::milliseconds(options_.timeout_ms));
  const ServingModel& model = *done.model;
  const EncodedRequest& request = done.scratch.request;
  const std::vector<float>& scores = done.scratch.scores;
  const int64_t rows = request.batch.size;
  const int64_t tasks = static_cast<int64_t>(model.task_json.size());
  std::vector<float>& blended = done.scratch.blended;
  blended.resize(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const std::span<const float> row(scores.data() + r * tasks, tasks);
    blended[r] = request.blend.Score(row, request.blend.uses_feature ? request.blend_feature[r] : 0.f);
  }
  // Best first; a score that is not a number (a missing blend feature) last; ties in request order. The order is
  // total (the row breaks ties), so std::sort gives what a stable sort would, without std::stable_sort's buffer.
  std::vector<int64_t>& order = done.scratch.order;
  order.resize(rows);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const bool a_ok = !std::isnan(blended[a]), b_ok = !std::isnan(blended[b]);
    if (a_ok != b_ok) return a_ok;
    if (a_ok && blended[a] != blended[b]) return blended[a] > blended[b];
    return a < b;
  });
  if (request.top_k > 0 && request.top_k < rows) order.resize(request.top_k);
  out->reserve(64 + order.size() * (48 + 24 * tasks));
  fmt::format_to(std::back_inserter(*out), R"({{"model":"{}","items":[)", model.version);
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t r = order[i];
    fmt::format_to(std::back_inserter(*out), R"({}{{"index":{},"score":)", i ? "," : "", r);
    AppendNumber(*out, blended[r]);
    *out += R"(,"tasks":)";
    AppendTasks(*out, model, scores.data() + r * tasks);
    *out += '}';
  }
  *out += "]}";
  metrics_.ObserveStages(Endpoint::kRank, StagesOf(request, done.encoded, done.scored));
}

void RankingServer::Predict(std::string_view body, Clock::time_point arrival, std::string* out) {
  out->clear();
  const ScoredRequest done = ParseAndScore(body, ParsePredictRequest, *store_, *scorer_, limits_,
                                           arrival + std::chrono::milliseconds(options_.timeout_ms));
  const ServingModel& model = *done.model;
  const EncodedRequest& request = done.scratch.request;
  const std::vector<float>& scores = done.scratch.scores;
  const int64_t rows = request.batch.size;
  const int64_t tasks = static_cast<int64_t>(model.task_json.size());
  out->reserve(64 + rows * 24 * tasks);
  fmt::format_to(std::back_inserter(*out), R"({{"model":"{}","rows":[)", model.version);
  for (int64_t r = 0; r < rows; ++r) {
    if (r) *out += ',';
    AppendTasks(*out, model, scores.data() + r * tasks);
  }
  *out += "]}";
  metrics_.ObserveStages(Endpoint::kPredict, StagesOf(request, done.encoded, done.scored));
}

std::string RankingServer::Health() const {
  return fmt::format(R"({{"status":"ok","model":"{}"}})", store_->Current()->version);
}

std::string RankingServer::Metrics() const {
  const std::shared_ptr<ServingModel> model = store_->Current();
  const ScorerStats stats = scorer_->stats();
  std::string extra;
  extra += "# HELP mtrec_model_info The model being served (value 1); version = CRC-32 of its file.\n";
  extra += "# TYPE mtrec_model_info gauge\n";
  extra += fmt::format("mtrec_model_info{{version=\"{}\",arch=\"{}\"}} 1\n", model->version,
                       model->loaded.config.model.arch);
  extra += "# HELP mtrec_model_reloads_total Times a changed model file was loaded and swapped in.\n";
  extra += "# TYPE mtrec_model_reloads_total counter\n";
  extra += fmt::format("mtrec_model_reloads_total {}\n", store_->reloads());
  extra += "# HELP mtrec_model_reload_failures_total Changed model files refused (the old model kept serving).\n";
  extra += "# TYPE mtrec_model_reload_failures_total counter\n";
  extra += fmt::format("mtrec_model_reload_failures_total {}\n", store_->failures());
  extra += "# HELP mtrec_scorer_batches_total Forward passes (micro-batches of one or more requests).\n";
  extra += "# TYPE mtrec_scorer_batches_total counter\n";
  extra += fmt::format("mtrec_scorer_batches_total {}\n", stats.batches);
  extra += "# HELP mtrec_scorer_requests_total Requests scored.\n";
  extra += "# TYPE mtrec_scorer_requests_total counter\n";
  extra += fmt::format("mtrec_scorer_requests_total {}\n", stats.requests);
  extra += "# HELP mtrec_scorer_rows_total Rows (candidates) scored.\n";
  extra += "# TYPE mtrec_scorer_rows_total counter\n";
  extra += fmt::format("mtrec_scorer_rows_total {}\n", stats.rows);
  extra +=
      "# HELP mtrec_scorer_split_requests_total Requests that came alone while other scorers were idle and "
      "were scored in parts side by side.\n";
  extra += "# TYPE mtrec_scorer_split_requests_total counter\n";
  extra += fmt::format("mtrec_scorer_split_requests_total {}\n", stats.split_requests);
  return metrics_.Render(extra);
}

namespace {

// A body is JSON whatever the client says, but only a JSON content type (or none) is accepted: a browser sends
// form and text/plain bodies to another origin without asking first (no CORS preflight), so a page on any site
// could otherwise post requests to a server on the viewer's machine.
bool IsJsonContentType(const std::string* type) {
  if (!type) return true;
  std::string_view media = std::string_view(*type).substr(0, type->find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  constexpr std::string_view kJson = "application/json", kSuffix = "+json";
  return AsciiEqualsIgnoringCase(media, kJson) ||
         (media.size() > kSuffix.size() &&
          AsciiEqualsIgnoringCase(media.substr(media.size() - kSuffix.size()), kSuffix));
}

}  // namespace

void RankingServer::Answer(const HttpRequest& request, Clock::time_point arrival, HttpResponse* answer) {
  struct Route {
    const char* method;
    const char* path;
    Endpoint endpoint;
  };
  static constexpr Route kRoutes[] = {{"POST", "/v1/rank", Endpoint::kRank},
                                      {"POST", "/v1/predict", Endpoint::kPredict},
                                      {"GET", "/healthz", Endpoint::kHealth},
                                      {"GET", "/metrics", Endpoint::kMetrics}};
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (request.method == r.method && request.path == r.path) route = &r;
  }
  HttpResponse& response = *answer;  // 200, JSON, an empty body with the capacity of the thread's last answer
  if (!route) {
    // Echoed as sent when short, else cut (a target can be as long as the header limit).
    const std::string method = request.method.size() <= 16 ? request.method : Quoted(request.method, 16);
    const std::string path = request.path.size() <= 64 ? request.path : Quoted(request.path);
    response =
        Refusal(404, fmt::format("no endpoint {} {}; the server has POST /v1/rank, POST /v1/predict, GET /healthz, "
                                 "GET /metrics",
                                 method, path));
    return;
  }
  try {
    if (route->endpoint == Endpoint::kRank || route->endpoint == Endpoint::kPredict) {
      if (const std::string* type = request.Header("content-type"); !IsJsonContentType(type)) {
        throw RequestError(415, fmt::format("Content-Type {} is not JSON; send the body as Content-Type: "
                                            "application/json",
                                            Quoted(*type)));
      }
    }
    switch (route->endpoint) {
      case Endpoint::kRank:
        Rank(request.body, arrival, &response.body);
        break;
      case Endpoint::kPredict:
        Predict(request.body, arrival, &response.body);
        break;
      case Endpoint::kHealth:
        response.body = Health();
        break;
      default:
        response.body = Metrics();
        response.content_type = "text/plain; version=0.0.4";
        break;
    }
  } catch (const RequestError& error) {
    response.status = error.status();
    response.content_type = "application/json";
    response.body = ErrorBody(error.what());
  } catch (const std::exception& error) {
    response.status = 500;
    LogInfo("serve: internal error: {}", error.what());
    response.content_type = "application/json";
    response.body = ErrorBody(std::string("internal error: ") + error.what());
  }
  metrics_.Observe(route->endpoint, response.status, std::chrono::duration<double>(Clock::now() - arrival).count());
}

// The answers without a route: unknown paths or methods, and what the HTTP side refuses by itself (malformed
// HTTP, bodies over the limit, deadlines passed, too many connections).
HttpResponse RankingServer::Refusal(int status, const std::string& message) {
  metrics_.Observe(Endpoint::kOther, status, 0.0);
  return HttpResponse{status, "application/json", ErrorBody(message)};
}

int RankingServer::Bind() {
  const int port = http_->Bind();
  if (options_.reload_interval_ms > 0) {
    store_->Watch(std::chrono::milliseconds(options_.reload_interval_ms),
                  [path = options_.model](ModelStore::Event event, const std::string& detail) {
                    if (event == ModelStore::Event::kSwapped) {
                      LogInfo("serve: {} changed: now serving version {}", path, detail);
                    } else {
                      LogInfo("serve: {} changed but was refused, the previous model keeps serving: {}", path, detail);
                    }
                  });
  }
  return port;
}

void RankingServer::Listen() { http_->Run(); }

void RankingServer::Stop() { http_->Stop(); }

}  // namespace mtrec
