// A small HTTP/1.1 server on epoll: one event-loop thread accepts connections, reads requests under deadlines and
// writes answers without blocking; a pool of worker threads runs the handler on complete requests and writes each
// answer as far as the socket takes it at once (the loop writes the rest). An idle or slow
// client costs a socket and a few bytes of state, never a thread: the loop cuts a connection off when it sends
// no request within the idle timeout, not the whole head within the header deadline, or not the whole body within
// the body deadline (both measured from the request's first byte), and refuses connections past a cap with 503.
// Framing and its limits are HttpRequestParser's; what the answers say is the caller's (no JSON here).
// Once warm, a keep-alive request costs no allocation here: requests, answers and queues keep their capacity
// (requests go back to the loop with their strings, workers keep their answer buffers).
//
//   HttpServer server(options, [](const HttpRequest& request, Clock::time_point arrival, HttpResponse* response) {
//                       response->body = Answer(...); },
//                     [](int status, const std::string& message) { return HttpResponse{status, ...}; });
//   int port = server.Bind();   // throws Error when the address is taken
//   server.Run();               // until Stop() (from another thread); answers the requests in flight first
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "serve/http_parser.h"

namespace mtrec {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;               // 0: any free port (Bind returns it)
  int worker_threads = 64;       // requests handled at once (a handler may wait for the scorer)
  int max_connections = 1024;    // open connections; one more is answered 503 and closed
  int idle_timeout_ms = 5000;    // a connection without a request in progress is closed after this
  int header_timeout_ms = 5000;  // from a request's first byte to the end of its head, else 408
  int body_timeout_ms = 10000;   // from a request's first byte to the end of its body, else 408
  int write_timeout_ms = 5000;   // to write one answer, else the connection is closed
  HttpLimits limits;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class HttpServer {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs on a worker thread; `arrival` is when the request's last byte was read. Fills `*response`, which comes
  // as 200 with a JSON content type and an empty body that keeps the capacity of the worker's last answer.
  using Handler = std::function<void(const HttpRequest& request, Clock::time_point arrival, HttpResponse* response)>;
  // The answers the server gives by itself (malformed HTTP, limits, deadlines, too many connections). Runs on the
  // event loop: it must be quick.
  using ErrorHandler = std::function<HttpResponse(int status, const std::string& message)>;

  HttpServer(HttpServerOptions options, Handler handler, ErrorHandler error_handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int Bind();
  void Run();
  // Stops accepting, closes connections that have no request being answered, answers the others and makes Run
  // return. Safe from any thread.
  void Stop();

 private:
  class Loop;
  HttpServerOptions options_;
  Handler handler_;
  ErrorHandler error_handler_;
  std::unique_ptr<Loop> loop_;
};

// "Not Found" for 404, and so on ("Unknown" for a status without a phrase here).
const char* HttpReason(int status);

}  // namespace mtrec
