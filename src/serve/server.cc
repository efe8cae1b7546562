#include "serve/server.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/error.h"
#include "common/log.h"

namespace mtrec {
namespace {

using Clock = std::chrono::steady_clock;

void AppendNumber(std::string& out, float value) {
  if (std::isfinite(value)) {
    fmt::format_to(std::back_inserter(out), "{:.7g}", value);
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

std::string ErrorBody(const std::string& message) {
  nlohmann::json body = {{"error", message}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

struct RankingServer::Http {
  httplib::Server server;
};

RankingServer::RankingServer(ServerOptions options) : options_(std::move(options)) {
  MTREC_CHECK(options_.max_items > 0, "--max-items must be at least 1, got {}", options_.max_items);
  MTREC_CHECK(options_.max_body_bytes > 0, "--max-body-bytes must be at least 1, got {}", options_.max_body_bytes);
  MTREC_CHECK(options_.timeout_ms > 0, "--timeout-ms must be at least 1, got {}", options_.timeout_ms);
  MTREC_CHECK(options_.http_threads > 0, "--http-threads must be at least 1, got {}", options_.http_threads);
  limits_.max_items = options_.max_items;
  // The scorer's micro-batches hold several requests; the model's buffers are sized for the largest.
  const int64_t max_rows = std::max<int64_t>(options_.max_items, 4096);
  store_ = std::make_unique<ModelStore>(options_.model, max_rows);
  scorer_ = std::make_unique<Scorer>(max_rows);
  http_ = std::make_unique<Http>();
}

RankingServer::~RankingServer() = default;

std::string RankingServer::Rank(std::string_view body, Clock::time_point arrival) {
  std::shared_ptr<ServingModel> model = store_->Current();
  EncodedRequest request = ParseRankRequest(body, *model->schema, limits_);
  const int64_t rows = request.batch.size;
  const int64_t tasks = static_cast<int64_t>(model->task_json.size());
  const std::vector<float> scores =
      scorer_->Score(model, std::move(request.batch), arrival + std::chrono::milliseconds(options_.timeout_ms));
  std::vector<float> blended(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const std::span<const float> row(scores.data() + r * tasks, tasks);
    blended[r] = request.blend.Score(row, request.blend.uses_feature ? request.blend_feature[r] : 0.f);
  }
  // Best first; a score that is not a number (a missing blend feature) last; ties in request order.
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const bool a_ok = !std::isnan(blended[a]), b_ok = !std::isnan(blended[b]);
    if (a_ok != b_ok) return a_ok;
    return a_ok && blended[a] > blended[b];
  });
  if (request.top_k > 0 && request.top_k < rows) order.resize(request.top_k);
  std::string out;
  out.reserve(64 + order.size() * (48 + 24 * tasks));
  fmt::format_to(std::back_inserter(out), R"({{"model":"{}","items":[)", model->version);
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t r = order[i];
    fmt::format_to(std::back_inserter(out), R"({}{{"index":{},"score":)", i ? "," : "", r);
    AppendNumber(out, blended[r]);
    out += R"(,"tasks":)";
    AppendTasks(out, *model, scores.data() + r * tasks);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string RankingServer::Predict(std::string_view body, Clock::time_point arrival) {
  std::shared_ptr<ServingModel> model = store_->Current();
  EncodedRequest request = ParsePredictRequest(body, *model->schema, limits_);
  const int64_t rows = request.batch.size;
  const int64_t tasks = static_cast<int64_t>(model->task_json.size());
  const std::vector<float> scores =
      scorer_->Score(model, std::move(request.batch), arrival + std::chrono::milliseconds(options_.timeout_ms));
  std::string out;
  out.reserve(64 + rows * 24 * tasks);
  fmt::format_to(std::back_inserter(out), R"({{"model":"{}","rows":[)", model->version);
  for (int64_t r = 0; r < rows; ++r) {
    if (r) out += ',';
    AppendTasks(out, *model, scores.data() + r * tasks);
  }
  out += "]}";
  return out;
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
  return metrics_.Render(extra);
}

int RankingServer::Bind() {
  httplib::Server& server = http_->server;
  server.new_task_queue = [threads = options_.http_threads] { return new httplib::ThreadPool(threads); };
  // httplib's default also sets SO_REUSEPORT, which lets a second server bind the same port and take half of its
  // connections; a taken port must be an error.
  server.set_socket_options([](int socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Answers go out as headers and body in separate writes; with Nagle's algorithm the body waits for the client's
  // delayed ACK (~40 ms a request).
  server.set_tcp_nodelay(true);
  server.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(10);
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);

  auto handle = [this](Endpoint endpoint, httplib::Response& res, const char* type, auto&& answer) {
    const Clock::time_point arrival = Clock::now();
    int status = 200;
    try {
      res.set_content(answer(arrival), type);
    } catch (const RequestError& error) {
      status = error.status();
      res.set_content(ErrorBody(error.what()), "application/json");
    } catch (const std::exception& error) {
      status = 500;
      LogInfo("serve: internal error: {}", error.what());
      res.set_content(ErrorBody(std::string("internal error: ") + error.what()), "application/json");
    }
    res.status = status;
    metrics_.Observe(endpoint, status, std::chrono::duration<double>(Clock::now() - arrival).count());
  };
  server.Post("/v1/rank", [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle(Endpoint::kRank, res, "application/json", [&](Clock::time_point t) { return Rank(req.body, t); });
  });
  server.Post("/v1/predict", [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle(Endpoint::kPredict, res, "application/json", [&](Clock::time_point t) { return Predict(req.body, t); });
  });
  server.Get("/healthz", [this, handle](const httplib::Request&, httplib::Response& res) {
    handle(Endpoint::kHealth, res, "application/json", [&](Clock::time_point) { return Health(); });
  });
  server.Get("/metrics", [this, handle](const httplib::Request&, httplib::Response& res) {
    handle(Endpoint::kMetrics, res, "text/plain; version=0.0.4", [&](Clock::time_point) { return Metrics(); });
  });
  // Everything the routes above did not answer: unknown paths or methods, bodies over the limit, malformed HTTP.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // a route's own error answer
        std::string message;
        if (res.status == 404) {
          message = fmt::format(
              "no endpoint {} {}; the server has POST /v1/rank, POST /v1/predict, GET /healthz, "
              "GET /metrics",
              req.method, req.path);
        } else if (res.status == 413) {
          message = fmt::format("request body over the limit of {} bytes", options_.max_body_bytes);
        } else {
          message = fmt::format("bad request (HTTP {})", res.status);
        }
        res.set_content(ErrorBody(message), "application/json");
        metrics_.Observe(Endpoint::kOther, res.status, 0.0);
        return httplib::Server::HandlerResponse::Handled;
      }));

  int port = options_.port;
  if (port == 0) {
    port = server.bind_to_any_port(options_.host);
    MTREC_CHECK(port > 0, "cannot listen on {} (any port)", options_.host);
  } else {
    MTREC_CHECK(server.bind_to_port(options_.host, port), "cannot listen on {}:{} (address in use or not local?)",
                options_.host, port);
  }
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

void RankingServer::Listen() { http_->server.listen_after_bind(); }

void RankingServer::Stop() { http_->server.stop(); }

}  // namespace mtrec
