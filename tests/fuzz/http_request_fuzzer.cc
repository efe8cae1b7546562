// libFuzzer target: the server's HTTP request parser (request line, headers, Content-Length and chunked framing,
// trailers, pipelined requests). Each input's first byte picks a piece size; the rest is the bytes a client sends
// on one connection. They are parsed twice, all at once and in pieces of that size (as recv would return them),
// and both must give the same requests or the same refusal: a parser that depends on where the reads split is a
// smuggling bug. Every request must respect the limits; every refusal must be one of the statuses the server
// answers, with a short message (echoes of the client's bytes are cut).
//
//   build-fuzz/tests/fuzz/http_request_fuzzer -dict=tests/fuzz/http.dict CORPUS_DIR tests/fuzz/corpus/http
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "serve/http_parser.h"

namespace {

using mtrec::HttpRequestParser;
using State = HttpRequestParser::State;

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_EXPECT(cond, ...)                                                                  \
  do {                                                                                          \
    if (!(cond)) Finding(fmt::format("{} ({}:{})", fmt::format(__VA_ARGS__), #cond, __LINE__)); \
  } while (0)

mtrec::HttpLimits Limits() {
  mtrec::HttpLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;
  limits.max_chunk_line_bytes = 64;
  return limits;
}

// What one connection's bytes parse to: each complete request in words, then the refusal if any.
std::vector<std::string> Parse(std::string_view bytes, size_t piece) {
  const mtrec::HttpLimits limits = Limits();
  HttpRequestParser parser(limits);
  std::vector<std::string> out;
  std::string carry;  // bytes of a piece left after a complete request, read again after Reset
  size_t offset = 0;
  while (out.size() < 64) {
    std::string chunk = carry;
    if (offset < bytes.size()) {
      const size_t take = std::min(piece, bytes.size() - offset);
      chunk.append(bytes.substr(offset, take));
      offset += take;
    }
    carry.clear();
    if (chunk.empty()) break;
    std::string_view input = chunk;
    const size_t before = input.size();
    const State state = parser.Consume(&input);
    FUZZ_EXPECT(state == State::kComplete || state == State::kError || input.empty(),
                "parser stopped with {} of {} bytes unread in state {}", input.size(), before, static_cast<int>(state));
    if (state == State::kError) {
      const int status = parser.error_status();
      FUZZ_EXPECT(status == 400 || status == 413 || status == 431 || status == 501 || status == 505,
                  "refusal with status {}: {}", status, parser.error_message());
      FUZZ_EXPECT(!parser.error_message().empty() && parser.error_message().size() < 400,
                  "refusal message of {} bytes", parser.error_message().size());
      out.push_back(fmt::format("error {} {}", status, parser.error_message()));
      break;
    }
    if (state == State::kComplete) {
      const mtrec::HttpRequest& request = parser.request();
      FUZZ_EXPECT(static_cast<int64_t>(request.body.size()) <= limits.max_body_bytes, "body of {} bytes",
                  request.body.size());
      FUZZ_EXPECT(static_cast<int64_t>(request.headers.size()) <= limits.max_headers, "{} headers",
                  request.headers.size());
      FUZZ_EXPECT(!request.method.empty() && !request.target.empty(), "a request without method or target");
      FUZZ_EXPECT(request.path == request.target.substr(0, request.target.find('?')), "path {} of target {}",
                  request.path, request.target);
      if (const std::string* length = request.Header("content-length"); length && !request.chunked) {
        FUZZ_EXPECT(std::strtoull(length->c_str(), nullptr, 10) == request.body.size(),
                    "body of {} bytes for Content-Length {}", request.body.size(), *length);
      }
      std::string words = fmt::format("{} {} 1.{} keep-alive={} chunked={} body={}", request.method, request.target,
                                      request.minor_version, request.keep_alive, request.chunked, request.body);
      for (const auto& [name, value] : request.headers) words += fmt::format(" [{}: {}]", name, value);
      out.push_back(std::move(words));
      carry.assign(input);
      parser.Reset();
      continue;
    }
  }
  // What is left unparsed at the end (a request not yet complete) does not matter: the server waits for more.
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 17;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string> whole = Parse(bytes, bytes.size() + 1);
  const std::vector<std::string> pieces = Parse(bytes, piece);
  FUZZ_EXPECT(whole == pieces, "{} results read at once, {} in pieces of {}; first difference: '{}' vs '{}'",
              whole.size(), pieces.size(), piece, whole.empty() ? "" : whole.back(),
              pieces.empty() ? "" : pieces.back());
  return 0;
}
