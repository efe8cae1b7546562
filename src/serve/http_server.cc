#include "serve/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/log.h"

namespace mtrec {

const char* HttpReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// After an answer that closes the connection, what the client still sends is read and dropped for this long (or
// up to kLingerBytes) before the socket is closed: closing with unread data makes the kernel send a reset, which
// can destroy the answer before the client has read it.
constexpr milliseconds kLinger(1000);
constexpr int64_t kLingerBytes = 4 << 20;
// Deadlines are checked this often; they are precise to about this much.
constexpr int kSweepMs = 50;
// Bytes read from one connection per wake-up, so that one fast client does not hold the loop.
constexpr int kReadsPerWakeup = 16;

// A worker's answer buffers kept from one request to the next, at most as large as a recycled request's body.
void LetGoIfLarge(std::string* buffer) {
  if (buffer->capacity() > HttpRequestParser::kKeptBodyBytes) std::string().swap(*buffer);
}

// The answer's bytes into *out, which keeps its capacity.
void SerializeInto(const HttpResponse& response, bool close, std::string* out) {
  out->clear();
  fmt::format_to(std::back_inserter(*out), "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
                 response.status, HttpReason(response.status), response.content_type, response.body.size(),
                 close ? "Connection: close\r\n" : "");
  out->append(response.body);
}

std::string Serialize(const HttpResponse& response, bool close) {
  std::string out;
  SerializeInto(response, close, &out);
  return out;
}

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

enum class Sent { kAll, kBlocked, kFailed };

// Sends `out` from *sent on, as far as the (non-blocking) socket takes it, advancing *sent: all of it, or the
// socket is full for now, or the connection failed (the client is gone).
Sent SendFrom(int fd, const std::string& out, size_t* sent) {
  while (*sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + *sent, out.size() - *sent, MSG_NOSIGNAL);
    if (n > 0) {
      *sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Sent::kBlocked;
    } else if (!(n < 0 && errno == EINTR)) {
      return Sent::kFailed;
    }
  }
  return Sent::kAll;
}

}  // namespace

class HttpServer::Loop {
 public:
  explicit Loop(HttpServer& server) : server_(server), options_(server.options_) {}

  ~Loop() {
    for (auto& [fd, connection] : connections_) CloseFd(fd);
    CloseFd(listen_fd_);
    CloseFd(wake_fd_);
    CloseFd(epoll_fd_);
    CloseFd(spare_fd_);
  }

  int Bind();
  void Run();
  void Stop() {
    stopping_ = true;
    Wake();
  }

 private:
  enum class Phase { kReading, kWorking, kWriting, kDraining, kClosed };

  struct Connection {
    explicit Connection(const HttpLimits& limits) : parser(limits) {}
    int fd = -1;
    uint64_t id = 0;  // fds are reused; a worker's answer names the connection by both
    Phase phase = Phase::kReading;
    HttpRequestParser parser;
    std::string pending;  // bytes read after a complete request (a pipelined next one)
    std::string out;      // the answer being written
    size_t sent = 0;
    bool close_after_write = false;
    bool head_done = false;
    bool continue_sent = false;
    Clock::time_point request_start;
    Clock::time_point deadline;
    int64_t drained = 0;
    uint32_t events = 0;
    // The client hung up while its request was being answered: the descriptor stays open (a worker may be
    // writing to it) until the worker is done, and is closed then.
    bool hung_up = false;
  };

  struct Job {
    int fd;
    uint64_t id;
    HttpRequest request;
    Clock::time_point arrival;
  };

  // A worker's answer, written by the worker as far as the socket took it at once; the loop writes the rest.
  struct Done {
    int fd;
    uint64_t id;
    std::string out;  // what the socket did not take at once (usually nothing), from `sent` on
    size_t sent;
    bool close;
    bool failed;          // the socket refused the answer (the client is gone)
    HttpRequest request;  // handed back to the loop, to read a later request into with its strings' capacity
  };

  void Wake() {
    const uint64_t one = 1;
    if (wake_fd_ >= 0) [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  }
  void Watch(Connection& c, uint32_t events);
  void Accept();
  void Read(Connection& c);
  void Input(Connection& c, std::string_view input);
  void Dispatch(Connection& c);
  void Answer(Connection& c, const HttpResponse& response, bool close) {
    Answer(c, Serialize(response, close), 0, close);
  }
  // Writes `out` from byte `sent` on.
  void Answer(Connection& c, std::string out, size_t sent, bool close);
  void Refuse(Connection& c, int status, const std::string& message) {
    Answer(c, server_.error_handler_(status, message), /*close=*/true);
  }
  void Write(Connection& c);
  void Drain(Connection& c);
  void Close(Connection& c);
  void Sweep(Clock::time_point now);
  void Finished();
  void Work();

  HttpServer& server_;
  const HttpServerOptions& options_;
  int listen_fd_ = -1, epoll_fd_ = -1, wake_fd_ = -1;
  int spare_fd_ = -1;  // closed to accept (and refuse) one connection when the process is out of descriptors
  std::atomic<bool> stopping_{false};
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> closed_;  // closed in this round of events
  uint64_t next_id_ = 1;
  int busy_ = 0;  // connections in kWorking or kWriting

  std::mutex mutex_;
  std::condition_variable queued_;
  // A queue in a vector: jobs_[jobs_head_] is the next (a deque allocates a block every request or two of a Job's
  // size); emptied whenever the workers catch up.
  std::vector<Job> jobs_;
  size_t jobs_head_ = 0;
  std::vector<Done> done_;
  bool workers_stop_ = false;
  // The loop's own: the answers being taken from done_ (swapped with it, so that both keep their capacity), and
  // requests handed back, each given to a connection when its next request begins.
  std::vector<Done> finished_;
  std::vector<HttpRequest> spare_requests_;
};

int HttpServer::Loop::Bind() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.port);
  const int resolved = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found);
  MTREC_CHECK(resolved == 0, "cannot listen on {}:{}: {}", options_.host, options_.port, gai_strerror(resolved));
  std::string failure;
  for (addrinfo* a = found; a && listen_fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR only (no SO_REUSEPORT, which would let a second server share the port): a taken port is an error.
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      listen_fd_ = fd;
    } else {
      failure = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  MTREC_CHECK(listen_fd_ >= 0, "cannot listen on {}:{} ({})", options_.host, options_.port, failure);
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  const int bound = address.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
                                                  : ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);

  // Every connection is a descriptor: raise the soft limit towards the hard one when the cap needs it.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t want = static_cast<rlim_t>(options_.max_connections) + 64;
    if (files.rlim_cur < want) {
      files.rlim_cur = std::min(want, files.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  MTREC_CHECK(epoll_fd_ >= 0 && wake_fd_ >= 0, "cannot set up the server's event loop: {}", std::strerror(errno));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listen_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &event);
  event.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
  return bound;
}

void HttpServer::Loop::Watch(Connection& c, uint32_t events) {
  if (c.events == events) return;
  epoll_event event{};
  event.events = events;
  event.data.fd = c.fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
  c.events = events;
}

void HttpServer::Loop::Accept() {
  while (true) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of descriptors: take the connection off the queue with the spare one and refuse it, instead of
        // leaving it there to wake the loop again and again.
        ::close(spare_fd_);
        fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) ::close(fd);
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: none left
    }
    if (static_cast<int>(connections_.size()) >= options_.max_connections || stopping_) {
      const std::string refusal = Serialize(
          server_.error_handler_(
              503, fmt::format("the server has {} connections open, its limit; retry later", connections_.size())),
          /*close=*/true);
      [[maybe_unused]] auto sent = ::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      continue;
    }
    // Each answer goes out in one write, but without this the kernel may hold its last segment for an ACK.
    const int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    auto connection = std::make_unique<Connection>(options_.limits);
    connection->fd = fd;
    connection->id = next_id_++;
    connection->deadline = Clock::now() + milliseconds(options_.idle_timeout_ms);
    connection->events = EPOLLIN;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    connections_[fd] = std::move(connection);
  }
}

void HttpServer::Loop::Read(Connection& c) {
  char buffer[1 << 16];
  for (int i = 0; i < kReadsPerWakeup && c.phase == Phase::kReading; ++i) {
    const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      Input(c, std::string_view(buffer, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    Close(c);  // the client closed (a half-sent request is dropped) or the connection failed
    return;
  }
}

void HttpServer::Loop::Input(Connection& c, std::string_view input) {
  const Clock::time_point now = Clock::now();
  if (!c.parser.started() && !spare_requests_.empty()) {
    // A request begins: it is read into one recycled from an earlier answer, with its strings' capacity.
    std::swap(c.parser.request(), spare_requests_.back());
    spare_requests_.pop_back();
  }
  if (!c.parser.started()) {
    c.request_start = now;
    c.deadline = now + milliseconds(options_.header_timeout_ms);
  }
  c.parser.Consume(&input);
  if (c.parser.awaiting_body() && !c.head_done) {
    c.head_done = true;
    c.deadline = c.request_start + milliseconds(options_.body_timeout_ms);
    if (c.parser.expects_continue() && !c.continue_sent) {
      // A client that sent "Expect: 100-continue" waits for this before it sends the body. Best effort: when
      // the socket cannot take these 25 bytes now, the client sends its body after its own wait.
      constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      [[maybe_unused]] auto sent = ::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      c.continue_sent = true;
    }
  }
  switch (c.parser.state()) {
    case HttpRequestParser::State::kComplete:
      c.pending.assign(input);
      Dispatch(c);
      break;
    case HttpRequestParser::State::kError:
      Refuse(c, c.parser.error_status(), c.parser.error_message());
      break;
    default:
      break;
  }
}

void HttpServer::Loop::Dispatch(Connection& c) {
  c.phase = Phase::kWorking;
  ++busy_;
  Watch(c, 0);  // nothing read while the request is answered; a hang-up is still reported
  Job job{c.fd, c.id, HttpRequest(), Clock::now()};
  std::swap(job.request, c.parser.request());  // the parser keeps an empty request: an idle connection holds none
  c.parser.Reset();
  c.head_done = false;
  c.continue_sent = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  queued_.notify_one();
}

void HttpServer::Loop::Answer(Connection& c, std::string out, size_t sent, bool close) {
  if (c.phase == Phase::kWorking || c.phase == Phase::kWriting) --busy_;
  c.out = std::move(out);
  c.sent = sent;
  c.close_after_write = close;
  c.phase = Phase::kWriting;
  ++busy_;
  c.deadline = Clock::now() + milliseconds(options_.write_timeout_ms);
  Write(c);
}

void HttpServer::Loop::Write(Connection& c) {
  switch (SendFrom(c.fd, c.out, &c.sent)) {
    case Sent::kBlocked:
      Watch(c, EPOLLOUT);
      return;
    case Sent::kFailed:
      Close(c);
      return;
    case Sent::kAll:
      break;
  }
  --busy_;
  std::string().swap(c.out);
  if (c.close_after_write) {
    ::shutdown(c.fd, SHUT_WR);
    c.phase = Phase::kDraining;
    c.deadline = Clock::now() + kLinger;
    Watch(c, EPOLLIN);
    return;
  }
  c.phase = Phase::kReading;
  c.deadline = Clock::now() + milliseconds(options_.idle_timeout_ms);
  Watch(c, EPOLLIN);
  if (!c.pending.empty()) {
    const std::string pending = std::move(c.pending);
    c.pending.clear();
    Input(c, pending);
  }
}

void HttpServer::Loop::Drain(Connection& c) {
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      c.drained += n;
      if (c.drained <= kLingerBytes) continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return;
    }
    Close(c);
    return;
  }
}

void HttpServer::Loop::Close(Connection& c) {
  if (c.phase == Phase::kClosed) return;
  if (c.phase == Phase::kWorking || c.phase == Phase::kWriting) --busy_;
  c.phase = Phase::kClosed;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  // Kept alive until the end of this round of events: callers up the stack may still hold `c`.
  auto it = connections_.find(c.fd);
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
}

void HttpServer::Loop::Sweep(Clock::time_point now) {
  std::vector<int> expired;
  for (const auto& [fd, connection] : connections_) {
    if (connection->phase != Phase::kWorking && now >= connection->deadline) expired.push_back(fd);
  }
  for (int fd : expired) {
    Connection& c = *connections_.at(fd);
    if (c.phase == Phase::kReading && c.parser.started()) {
      Refuse(
          c, 408,
          c.head_done
              ? fmt::format("request body not complete within {} ms of the request's start", options_.body_timeout_ms)
              : fmt::format("request head not complete within {} ms of its first byte", options_.header_timeout_ms));
    } else {
      Close(c);  // idle, or an answer the client does not read, or the linger after a closing answer
    }
  }
}

void HttpServer::Loop::Finished() {
  std::vector<Done>& done = finished_;
  done.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(done_);
  }
  for (Done& d : done) {
    if (spare_requests_.size() < static_cast<size_t>(options_.worker_threads)) {
      HttpRequestParser::Recycle(&d.request);
      spare_requests_.push_back(std::move(d.request));
    }
    auto it = connections_.find(d.fd);
    if (it == connections_.end() || it->second->id != d.id || it->second->phase != Phase::kWorking) {
      LogInfo("serve: internal error: an answer for connection {} (descriptor {}), which is not waiting for one", d.id,
              d.fd);
      continue;
    }
    Connection& c = *it->second;
    if (c.hung_up || d.failed) {
      Close(c);
      continue;
    }
    // A Stop() since the worker chose: the connection still closes after this answer (no pipelined request is
    // taken up after Stop); a client told keep-alive sees the close.
    Answer(c, std::move(d.out), d.sent, d.close || stopping_);
  }
  done.clear();  // the requests not recycled go now, not at the next wake-up
}

void HttpServer::Loop::Work() {
  HttpResponse response;  // this worker's, reused: the handler's body and the answer's bytes keep their capacity
  std::string out;
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      queued_.wait(lock, [&] { return workers_stop_ || jobs_head_ < jobs_.size(); });
      if (jobs_head_ == jobs_.size()) return;
      job = std::move(jobs_[jobs_head_++]);
      if (jobs_head_ == jobs_.size()) {
        jobs_.clear();
        jobs_head_ = 0;
      } else if (jobs_head_ >= 64 && 2 * jobs_head_ >= jobs_.size()) {  // a backlog that never empties
        jobs_.erase(jobs_.begin(), jobs_.begin() + static_cast<std::ptrdiff_t>(jobs_head_));
        jobs_head_ = 0;
      }
    }
    response.status = 200;
    response.content_type.assign("application/json");
    response.body.clear();
    try {
      server_.handler_(job.request, job.arrival, &response);
    } catch (const std::exception& error) {
      LogInfo("serve: internal error: {}", error.what());
      response = server_.error_handler_(500, std::string("internal error: ") + error.what());
    }
    // Written here rather than by the loop, which would first have to wake: the client has its answer one
    // hand-off sooner. The loop keeps the descriptor open until it has this Done, even if the client hangs up.
    const bool close = !job.request.keep_alive || stopping_;
    SerializeInto(response, close, &out);
    size_t sent = 0;
    const Sent result = SendFrom(job.fd, out, &sent);
    Done done{job.fd, job.id, std::string(), 0, close, result == Sent::kFailed, std::move(job.request)};
    if (result == Sent::kBlocked) {  // the loop writes the rest (the worker's buffer goes with it)
      done.out = std::move(out);
      done.sent = sent;
      out = std::string();
    }
    LetGoIfLarge(&out);
    LetGoIfLarge(&response.body);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.push_back(std::move(done));
    }
    Wake();
  }
}

void HttpServer::Loop::Run() {
  std::vector<std::thread> workers;
  for (int i = 0; i < options_.worker_threads; ++i) workers.emplace_back([this] { Work(); });
  std::vector<epoll_event> events(256);
  Clock::time_point last_sweep = Clock::now();
  bool listening = true;
  while (true) {
    if (stopping_ && listening) {
      // Stop: no new connections; those without a request being answered are closed, the others answered.
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      ::close(listen_fd_);
      listen_fd_ = -1;
      listening = false;
      std::vector<int> idle;
      for (const auto& [fd, connection] : connections_) {
        if (connection->phase == Phase::kReading || connection->phase == Phase::kDraining) idle.push_back(fd);
      }
      for (int fd : idle) Close(*connections_.at(fd));
    }
    // Answers written, and every closing connection past its linger (Sweep closes them): closing one whose
    // client still sends would reset it and could destroy the answer.
    if (!listening && busy_ == 0 && std::none_of(connections_.begin(), connections_.end(), [](const auto& entry) {
          return entry.second->phase == Phase::kDraining;
        })) {
      break;
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), kSweepMs);
    if (n < 0 && errno != EINTR) {
      LogInfo("serve: epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        Accept();
        continue;
      }
      if (fd == wake_fd_) {
        uint64_t count = 0;
        [[maybe_unused]] auto got = ::read(wake_fd_, &count, sizeof count);
        Finished();
        continue;
      }
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      Connection& c = *it->second;
      const uint32_t what = events[i].events;
      switch (c.phase) {
        case Phase::kReading:
          Read(c);
          break;
        case Phase::kWorking:
          if (what & (EPOLLHUP | EPOLLERR)) {
            c.hung_up = true;
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);  // else reported again at every wait
            c.events = 0;
          }
          break;
        case Phase::kWriting:
          Write(c);
          break;
        case Phase::kDraining:
          Drain(c);
          break;
        case Phase::kClosed:
          break;
      }
      if (stopping_ && connections_.count(fd) && connections_[fd]->phase == Phase::kReading) {
        Close(*connections_[fd]);
      }
    }
    const Clock::time_point now = Clock::now();
    if (now - last_sweep >= milliseconds(kSweepMs)) {
      Sweep(now);
      last_sweep = now;
    }
    closed_.clear();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers_stop_ = true;
  }
  queued_.notify_all();
  for (auto& worker : workers) worker.join();
  // Only now: a worker may write to a connection until it is done with it.
  for (auto& [fd, connection] : connections_) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
  }
  connections_.clear();
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler, ErrorHandler error_handler)
    : options_(std::move(options)), handler_(std::move(handler)), error_handler_(std::move(error_handler)) {
  MTREC_CHECK(options_.worker_threads > 0, "--http-threads must be at least 1, got {}", options_.worker_threads);
  MTREC_CHECK(options_.max_connections > 0, "--max-connections must be at least 1, got {}", options_.max_connections);
  MTREC_CHECK(options_.idle_timeout_ms > 0 && options_.header_timeout_ms > 0 && options_.body_timeout_ms > 0 &&
                  options_.write_timeout_ms > 0,
              "the server's timeouts must be at least 1 ms, got idle {}, header {}, body {}, write {}",
              options_.idle_timeout_ms, options_.header_timeout_ms, options_.body_timeout_ms,
              options_.write_timeout_ms);
  loop_ = std::make_unique<Loop>(*this);
}

HttpServer::~HttpServer() = default;

int HttpServer::Bind() { return loop_->Bind(); }

void HttpServer::Run() { loop_->Run(); }

void HttpServer::Stop() { loop_->Stop(); }

}  // namespace mtrec
