// The HTTP server with a handler of the test's own: a worker writes its answer itself, so the descriptor of a
// client that hung up must stay its own until the worker is done (else a new client that got the same number
// would read the old answer), and an answer larger than the socket takes at once is finished by the loop.
#include "serve/http_server.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "allocation_counter.h"
#include "support/raw_socket.h"

namespace mtrec {
namespace {

using std::chrono::milliseconds;

// A server on a free loopback port, running on its own thread until the test ends.
class RunningServer {
 public:
  explicit RunningServer(HttpServer::Handler handler, int worker_threads = 2) {
    HttpServerOptions options;
    options.port = 0;
    options.worker_threads = worker_threads;
    options.write_timeout_ms = 30000;  // a 64 MB answer on a loaded machine
    server_ = std::make_unique<HttpServer>(options, std::move(handler), [](int status, const std::string& message) {
      return HttpResponse{status, "text/plain", message};
    });
    port_ = server_->Bind();
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~RunningServer() {
    server_->Stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::thread thread_;
};

std::string BodyOf(const std::string& answer) {
  const size_t head = answer.find("\r\n\r\n");
  return head == std::string::npos ? "(no head in " + std::to_string(answer.size()) + " bytes)"
                                   : answer.substr(head + 4);
}

// A gate the handler waits at until the test opens it.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool entered = false, open = false;
  void Enter() {
    std::unique_lock<std::mutex> lock(mutex);
    entered = true;
    changed.notify_all();
    changed.wait(lock, [&] { return open; });
  }
  bool WaitEntered(milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, limit, [&] { return entered; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex);
    open = true;
    changed.notify_all();
  }
};

TEST(HttpServerTest, AnAnswerToAClientThatHungUpNeverReachesTheNextOne) {
  Gate gate;
  struct OpenOnExit {  // a failed assertion must not leave the handler waiting, and the server's Stop with it
    Gate& gate;
    ~OpenOnExit() { gate.Open(); }
  };
  RunningServer server([&](const HttpRequest& request, HttpServer::Clock::time_point, HttpResponse* response) {
    if (request.target == "/slow") {
      gate.Enter();
      *response = HttpResponse{200, "text/plain", "slow answer"};
      return;
    }
    *response = HttpResponse{200, "text/plain", "fast answer"};
  });
  const OpenOnExit open_on_exit{gate};  // destroyed before the server
  {
    RawSocket gone(server.port());
    ASSERT_TRUE(gone.ok());
    ASSERT_TRUE(gone.Send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(gate.WaitEntered(milliseconds(5000)));
    gone.Reset();  // hangs up while its request is answered
  }
  std::this_thread::sleep_for(milliseconds(200));  // the loop sees the hang-up
  // The descriptor the gone client had is the lowest free one, which a new connection would get were it closed.
  RawSocket next(server.port());
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next.Send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(BodyOf(next.ReadAnswer(milliseconds(5000))), "fast answer");
  gate.Open();  // the gone client's answer is written now, to its own (dead) socket
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(next.Send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string second = next.ReadAnswer(milliseconds(5000));
  EXPECT_EQ(second.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << second.substr(0, 200);
  EXPECT_EQ(BodyOf(second), "fast answer");
  EXPECT_FALSE(next.Readable(milliseconds(100))) << "bytes beyond the answer";
}

TEST(HttpServerTest, AnAnswerLargerThanTheSocketTakesIsWrittenWhole) {
  // 64 MB: far more than a loopback socket buffers, so the worker's write stops short and the loop finishes it.
  std::string big(64 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + (i / 4093) % 26);
  RunningServer server([&](const HttpRequest&, HttpServer::Clock::time_point, HttpResponse* response) {
    *response = HttpResponse{200, "text/plain", big};
  });
  RawSocket client(server.port());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.Send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(milliseconds(200));  // read late: the socket fills up
  const std::string answer = client.ReadAnswer(milliseconds(20000));
  const std::string body = BodyOf(answer);
  ASSERT_EQ(body.size(), big.size());
  EXPECT_TRUE(body == big);
  // The connection is still open for the next request.
  ASSERT_TRUE(client.Send("GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(BodyOf(client.ReadAnswer(milliseconds(20000))).size(), big.size());
}

// Once warm, keep-alive requests cost the server no allocation: the loop reads each into a request handed back by
// the workers, the workers answer into their own buffers, and the queues keep their capacity. One worker: each
// worker's buffers grow on its first answer, and with several, which one answers is the scheduler's choice.
TEST(HttpServerTest, AWarmConnectionsRequestsAllocateNothingInTheServer) {
  const std::string answer_body(300, 'a');  // beyond any string's inline capacity, as every header value below
  RunningServer server(
      [&](const HttpRequest& request, HttpServer::Clock::time_point, HttpResponse* response) {
        if (request.body.size() != 400 || request.Header("user-agent") == nullptr) response->status = 400;
        response->body.assign(answer_body);
      },
      /*worker_threads=*/1);
  RawSocket client(server.port());
  ASSERT_TRUE(client.ok());
  const std::string request =
      "POST /v1/rank HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: a-load-generator/4.2.0\r\n"
      "Content-Type: application/json; charset=utf-8\r\nContent-Length: 400\r\n\r\n" +
      std::string(400, 'b');
  auto exchange = [&] {
    ASSERT_TRUE(client.Send(request));
    const std::string answer = client.ReadAnswer(milliseconds(5000));
    ASSERT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer.substr(0, 200);
    ASSERT_EQ(BodyOf(answer), answer_body);
  };
  for (int warm = 0; warm < 5; ++warm) exchange();
  std::this_thread::sleep_for(milliseconds(100));  // the loop has taken the last answer's request back
  const int64_t process = AllocationsInProcess();
  const int64_t client_thread = AllocationsOnThisThread();  // the client's strings, not the server's
  for (int round = 0; round < 20; ++round) exchange();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ((AllocationsInProcess() - process) - (AllocationsOnThisThread() - client_thread), 0);
}

}  // namespace
}  // namespace mtrec
