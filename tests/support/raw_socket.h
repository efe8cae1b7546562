// A raw loopback connection, for what an HTTP client library would not send or would hide (partial heads, a
// hang-up while the server works, the bytes exactly as they came).
//
//   RawSocket client(port);
//   client.Send("GET /healthz HTTP/1.1\r\n\r\n");
//   std::string answer = client.ReadUntilClosed(std::chrono::milliseconds(500));
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

namespace mtrec {

class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Closes with a reset rather than an orderly end (the server sees a hang-up, not just the end of the input).
  void Reset() {
    const linger abort{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    close(fd_);
    fd_ = -1;
  }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Whether something (data or the end) can be read within `wait`.
  bool Readable(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }
  // What arrives until the server closes, or until `limit` passes; *closed says whether it closed.
  std::string ReadUntilClosed(std::chrono::milliseconds limit, bool* closed = nullptr) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + limit;
    if (closed) *closed = false;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !Readable(left)) break;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  // One answer: its head and a Content-Length body; less when `limit` passes or the server closes first.
  std::string ReadAnswer(std::chrono::milliseconds limit) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + limit;
    while (true) {
      const size_t head = out.find("\r\n\r\n");
      if (head != std::string::npos) {
        const size_t field = out.find("Content-Length: ");
        if (field != std::string::npos && field < head &&
            out.size() >= head + 4 + std::stoul(out.substr(field + 16, out.find("\r\n", field) - field - 16))) {
          return out;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !Readable(left)) return out;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return out;
      out.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace mtrec
