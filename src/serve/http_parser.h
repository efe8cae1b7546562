// An incremental HTTP/1.1 request parser: bytes go in as they arrive from a socket, complete requests come out.
// No sockets and no clocks here (the server owns the deadlines), so every framing rule can be tested and fuzzed
// on byte strings. Limits are enforced as the bytes arrive: header bytes and header count while the head is read,
// the body size as soon as a Content-Length or a chunk size declares more than the limit.
//
//   HttpRequestParser parser(limits);
//   std::string_view input = bytes_read;
//   if (parser.Consume(&input) == HttpRequestParser::State::kComplete) {
//     Answer(parser.request());    // input now holds what follows the request (a pipelined next one)
//     parser.Reset();
//   } else if (parser.state() == HttpRequestParser::State::kError) {
//     AnswerAndClose(parser.error_status(), parser.error_message());
//   }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mtrec {

struct HttpLimits {
  int64_t max_header_bytes = 16384;     // request line, header lines and chunked trailers together
  int64_t max_headers = 64;             // header lines (and trailer lines)
  int64_t max_body_bytes = 2 << 20;     // the body after chunked decoding
  int64_t max_chunk_line_bytes = 1024;  // a chunk-size line with its extensions
};

struct HttpRequest {
  std::string method;                                        // as sent: "GET", "POST"
  std::string target;                                        // as sent: "/v1/rank?x=1"
  std::string path;                                          // the target before '?'
  int minor_version = 1;                                     // HTTP/1.<minor_version>
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;                                          // decoded (without chunk framing)
  bool keep_alive = true;
  bool chunked = false;

  // The value of the first header of that (lower-case) name; nullptr when absent.
  const std::string* Header(std::string_view name) const;

 private:
  friend class HttpRequestParser;
  // Header lines of an earlier request read into this one, their strings kept for the next (HttpRequestParser).
  std::vector<std::pair<std::string, std::string>> kept_headers_;
};

class HttpRequestParser {
 public:
  enum class State { kStart, kHead, kBody, kChunkSize, kChunkData, kChunkEnd, kTrailer, kComplete, kError };

  explicit HttpRequestParser(const HttpLimits& limits) : limits_(limits) {}

  // Reads from the front of *input as far as the end of one request (or all of it, when the request is not yet
  // complete), removing what it read; returns the state after. kComplete and kError stay until Reset().
  State Consume(std::string_view* input);
  // Ready for the next request on the same connection. The request is emptied, not replaced (Recycle).
  void Reset();
  // Empties `request` for another to be read into it, keeping its strings' capacity (its header lines kept aside
  // in it): a server reads its requests into ones it recycles (with std::swap on request()) and allocates nothing
  // for them once warm. What is kept is bounded, so that a few large requests do not leave every recycled one
  // holding megabytes: a body's buffer up to kKeptBodyBytes, up to kKeptHeaderLines header lines of at most 1 KiB.
  static void Recycle(HttpRequest* request);
  static constexpr size_t kKeptBodyBytes = size_t{256} << 10;  // 1,000 candidates take about 120 KB
  static constexpr size_t kKeptHeaderLines = 64;

  State state() const { return state_; }
  // At least one byte of the current request has arrived.
  bool started() const { return state_ != State::kStart; }
  // The head is complete and the request waits for its body (after "Expect: 100-continue", the client waits for
  // an interim answer before it sends the body).
  bool awaiting_body() const {
    return state_ == State::kBody || state_ == State::kChunkSize || state_ == State::kChunkData;
  }
  bool expects_continue() const { return expects_continue_; }
  const HttpRequest& request() const { return request_; }
  HttpRequest& request() { return request_; }
  // kError: the status to answer (400, 413, 431, 501, 505) and a message saying what was wrong.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  // Each returns false on an error (state_ is then kError).
  bool Fail(int status, std::string message);
  bool HeadLine(std::string_view line);
  bool RequestLine(std::string_view line);
  bool HeaderLine(std::string_view line);
  bool HeadComplete();
  bool ChunkSizeLine(std::string_view line);
  bool TrailerLine(std::string_view line);
  // Gathers one line ending in "\n" from *input into line_ (at most `limit` bytes with its ending); true when
  // complete, with the line (without "\r\n" or "\n") in *line.
  bool TakeLine(std::string_view* input, int64_t limit, const char* what, std::string_view* line);

  const HttpLimits limits_;
  State state_ = State::kStart;
  HttpRequest request_;
  std::string line_;          // a line not yet complete
  int64_t head_bytes_ = 0;    // of the request line, headers and trailers so far
  int64_t header_count_ = 0;  // header and trailer lines so far
  int64_t content_length_ = -1;
  int64_t chunk_left_ = 0;  // bytes of the current chunk still to come
  bool expects_continue_ = false;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace mtrec
