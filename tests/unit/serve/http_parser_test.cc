#include "serve/http_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtrec {
namespace {

using State = HttpRequestParser::State;

HttpLimits SmallLimits() {
  HttpLimits limits;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  limits.max_body_bytes = 32;
  return limits;
}

// Feeds `bytes` in pieces of `step` bytes (0: all at once); the state after the last piece, the rest unread.
State Feed(HttpRequestParser& parser, std::string_view bytes, size_t step = 0, std::string* rest = nullptr) {
  State state = parser.state();
  while (!bytes.empty()) {
    std::string_view piece = bytes.substr(0, step ? step : bytes.size());
    bytes.remove_prefix(piece.size());
    state = parser.Consume(&piece);
    if (state == State::kComplete || state == State::kError) {
      if (rest) *rest = std::string(piece) + std::string(bytes);
      return state;
    }
    EXPECT_TRUE(piece.empty());
  }
  return state;
}

TEST(HttpParserTest, ReadsAContentLengthRequestInAnyPieces) {
  const std::string bytes =
      "POST /v1/rank?debug=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
      "{\"items\":1}";
  for (size_t step : {0, 1, 3, 7}) {
    HttpRequestParser parser(SmallLimits());
    ASSERT_EQ(Feed(parser, bytes, step), State::kComplete) << step;
    const HttpRequest& request = parser.request();
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/v1/rank?debug=1");
    EXPECT_EQ(request.path, "/v1/rank");
    EXPECT_EQ(request.minor_version, 1);
    EXPECT_TRUE(request.keep_alive);
    EXPECT_FALSE(request.chunked);
    EXPECT_EQ(request.body, "{\"items\":1}");
    ASSERT_NE(request.Header("content-type"), nullptr);
    EXPECT_EQ(*request.Header("content-type"), "application/json");
    EXPECT_EQ(request.Header("accept"), nullptr);
  }
}

// Reset empties the request for the next one without replacing its strings: nothing of a longer, chunked HTTP/1.0
// -style request (its headers, body, version, flags) shows through a shorter one read after it, also when the
// request read into is another parser's, handed over with its strings (as the server does).
TEST(HttpParserTest, ARequestReadAfterResetKeepsNothingOfTheOneBefore) {
  HttpRequestParser parser(SmallLimits());
  HttpRequestParser other(SmallLimits());
  ASSERT_EQ(Feed(other, "POST /a/long/path?query=1 HTTP/1.1\r\nX-Long-Header: a value longer than inline\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            State::kComplete);
  ASSERT_EQ(Feed(parser, "GET /first HTTP/1.0\r\nAccept-Language: every language there is\r\n\r\n"),
            State::kComplete);
  EXPECT_FALSE(parser.request().keep_alive);
  std::swap(parser.request(), other.request());  // the server hands a finished request back this way
  parser.Reset();
  ASSERT_EQ(Feed(parser, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"), State::kComplete);
  const HttpRequest& request = parser.request();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/b");
  EXPECT_EQ(request.path, "/b");
  EXPECT_EQ(request.minor_version, 1);
  EXPECT_TRUE(request.keep_alive);
  EXPECT_FALSE(request.chunked);
  EXPECT_EQ(request.body, "");
  ASSERT_EQ(request.headers.size(), 1u);
  EXPECT_EQ(request.headers[0].first, "host");
  EXPECT_EQ(request.headers[0].second, "h");
  EXPECT_EQ(request.Header("x-long-header"), nullptr);
  EXPECT_EQ(request.Header("accept-language"), nullptr);
  // Once more, with a body and headers taken from those kept aside.
  parser.Reset();
  ASSERT_EQ(Feed(parser, "POST /c HTTP/1.1\r\nCONTENT-length: 2\r\nX-A: 1\r\n\r\nok"), State::kComplete);
  ASSERT_EQ(parser.request().headers.size(), 2u);
  EXPECT_EQ(parser.request().headers[0].first, "content-length");
  EXPECT_EQ(parser.request().headers[1].first, "x-a");
  EXPECT_EQ(parser.request().headers[1].second, "1");
  EXPECT_EQ(parser.request().body, "ok");
}

// What a recycled request keeps is bounded: a large body's buffer and long header lines go, small ones stay (a few
// large requests must not leave every recycled request in a server holding megabytes).
TEST(HttpParserTest, ARecycledRequestKeepsOnlySmallBuffers) {
  HttpLimits limits;
  limits.max_body_bytes = 4 << 20;
  HttpRequestParser parser(limits);
  const std::string big_body(1 << 20, 'x');
  const std::string long_value(5000, 'v');
  ASSERT_EQ(Feed(parser, "POST /a HTTP/1.1\r\nX-Long: " + long_value + "\r\nX-Short: small\r\nContent-Length: " +
                             std::to_string(big_body.size()) + "\r\n\r\n" + big_body),
            State::kComplete);
  ASSERT_EQ(parser.request().body.size(), big_body.size());
  HttpRequestParser::Recycle(&parser.request());
  EXPECT_LE(parser.request().body.capacity(), HttpRequestParser::kKeptBodyBytes);
  EXPECT_TRUE(parser.request().headers.empty());
  // Three header lines read into it: the two kept ones are taken first (the small ones), then a new one; none holds
  // the long value's buffer.
  parser.Reset();
  ASSERT_EQ(Feed(parser, "GET /b HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), State::kComplete);
  ASSERT_EQ(parser.request().headers.size(), 3u);
  for (const auto& [name, value] : parser.request().headers) EXPECT_LT(value.capacity(), 1024u) << name;
}

TEST(HttpParserTest, StopsAtTheEndOfARequestAndReadsThePipelinedNextOne) {
  HttpRequestParser parser(SmallLimits());
  std::string rest;
  ASSERT_EQ(Feed(parser, "GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n", 0, &rest), State::kComplete);
  EXPECT_EQ(parser.request().path, "/healthz");
  EXPECT_EQ(rest, "GET /metrics HTTP/1.0\r\n\r\n");
  parser.Reset();
  EXPECT_FALSE(parser.started());
  ASSERT_EQ(Feed(parser, rest), State::kComplete);
  EXPECT_EQ(parser.request().path, "/metrics");
  EXPECT_EQ(parser.request().minor_version, 0);
  EXPECT_FALSE(parser.request().keep_alive);  // HTTP/1.0 closes unless asked
}

TEST(HttpParserTest, ConnectionHeaderDecidesKeepAlive) {
  HttpRequestParser parser(SmallLimits());
  ASSERT_EQ(Feed(parser, "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"), State::kComplete);
  EXPECT_FALSE(parser.request().keep_alive);
  parser.Reset();
  ASSERT_EQ(Feed(parser, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), State::kComplete);
  EXPECT_TRUE(parser.request().keep_alive);
  // Bare LF line endings are accepted, and blank lines before a request line skipped.
  parser.Reset();
  ASSERT_EQ(Feed(parser, "\r\nGET /x HTTP/1.1\nA: b\n\n"), State::kComplete);
  EXPECT_EQ(parser.request().path, "/x");
  EXPECT_EQ(*parser.request().Header("a"), "b");
}

TEST(HttpParserTest, DecodesChunkedBodiesWithExtensionsAndTrailers) {
  const std::string bytes =
      "POST /v1/rank HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nGET";
  for (size_t step : {0, 1, 2, 5}) {
    HttpRequestParser parser(SmallLimits());
    std::string rest;
    ASSERT_EQ(Feed(parser, bytes, step, &rest), State::kComplete) << step;
    EXPECT_TRUE(parser.request().chunked);
    EXPECT_EQ(parser.request().body, "hello 0123456789");
    EXPECT_EQ(rest, "GET");
  }
}

TEST(HttpParserTest, AChunkedBodyOverTheLimitFailsAsSoonAsAChunkSizeSaysSo) {
  HttpRequestParser parser(SmallLimits());  // 32 bytes
  // 20 + 20 bytes: refused at the second size line, before its data arrives.
  const std::string head = "POST /v1/rank HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(Feed(parser, head + "14\r\n" + std::string(20, 'a') + "\r\n"), State::kChunkSize);
  ASSERT_EQ(Feed(parser, "14\r\n"), State::kError);
  EXPECT_EQ(parser.error_status(), 413);
  EXPECT_EQ(parser.error_message(), "chunked request body over the limit of 32 bytes");
  // A size too large for any integer is the same refusal, not an overflow.
  parser.Reset();
  ASSERT_EQ(Feed(parser, head + "ffffffffffffffffffffffffffffff\r\n"), State::kError);
  EXPECT_EQ(parser.error_status(), 413);
  // Exactly the limit is accepted.
  parser.Reset();
  ASSERT_EQ(Feed(parser, head + "20\r\n" + std::string(32, 'b') + "\r\n0\r\n\r\n"), State::kComplete);
  EXPECT_EQ(parser.request().body.size(), 32u);
}

TEST(HttpParserTest, RefusesMalformedChunks) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"xyz\r\n", "malformed chunk size line 'xyz'"},
      {"\r\n", "malformed chunk size line ''"},
      {"3\r\nabcd\r\n", "chunk data longer than its size line said"},
      {"3\r\nabc0\r\n", "chunk data longer than its size line said"},
      {"0\r\nno colon\r\n\r\n", "malformed trailer line 'no colon'"},
  };
  for (const auto& [chunks, message] : cases) {
    HttpRequestParser parser(SmallLimits());
    ASSERT_EQ(Feed(parser, head + chunks), State::kError) << chunks;
    EXPECT_EQ(parser.error_status(), 400) << chunks;
    EXPECT_NE(parser.error_message().find(message), std::string::npos) << parser.error_message();
  }
  // A chunk-size line is capped.
  HttpRequestParser parser(SmallLimits());
  ASSERT_EQ(Feed(parser, head + "1;" + std::string(2000, 'e')), State::kError);
  EXPECT_EQ(parser.error_status(), 400);
  EXPECT_EQ(parser.error_message(), "chunk size line longer than 1024 bytes");
}

TEST(HttpParserTest, FramingConflictsAndUnsupportedCodingsAreRefused) {
  struct Case {
    std::string head;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"Content-Length: 5\r\nContent-Length: 7\r\n", 400, "conflicting Content-Length headers: 5 and 7"},
      {"Content-Length: 5, 5\r\n", 400, "malformed Content-Length '5, 5'"},
      {"Content-Length: -1\r\n", 400, "malformed Content-Length '-1'"},
      {"Content-Length: 99999999999999999999\r\n", 400, "malformed Content-Length"},
      {"Content-Length: 33\r\n", 413, "request body of 33 bytes is over the limit of 32 bytes"},
      {"Transfer-Encoding: gzip\r\n", 501, "Transfer-Encoding 'gzip' is not supported"},
      {"Transfer-Encoding: gzip, chunked\r\n", 501, "Transfer-Encoding 'gzip, chunked' is not supported"},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 501, "'chunked, chunked' is not supported"},
      {"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", 400, "both Transfer-Encoding and Content-Length"},
  };
  for (const Case& c : cases) {
    HttpRequestParser parser(SmallLimits());
    ASSERT_EQ(Feed(parser, "POST /v1/rank HTTP/1.1\r\n" + c.head + "\r\nabc"), State::kError) << c.head;
    EXPECT_EQ(parser.error_status(), c.status) << c.head;
    EXPECT_NE(parser.error_message().find(c.message), std::string::npos) << parser.error_message();
  }
  // The same length twice is one length.
  HttpRequestParser parser(SmallLimits());
  ASSERT_EQ(Feed(parser, "POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc"), State::kComplete);
  EXPECT_EQ(parser.request().body, "abc");
}

TEST(HttpParserTest, RequestLinesAndHeaderLinesAreChecked) {
  struct Case {
    std::string bytes;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"GET\r\n\r\n", 400, "malformed request line 'GET'; expected METHOD TARGET HTTP/1.1"},
      {"GET /  HTTP/1.1\r\n\r\n", 400, "malformed request line"},
      {"GET / HTTP/1.1 x\r\n\r\n", 400, "malformed request line"},
      {"G(T / HTTP/1.1\r\n\r\n", 400, "malformed request line"},
      {"GET / HTTP/2.0\r\n\r\n", 505, "HTTP version 'HTTP/2.0' is not supported"},
      {"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 400, "malformed header line 'No-Colon'"},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed header line"},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "obsolete line folding"},
      {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400, "malformed header line"},
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431, "more than 4 header lines"},
      {"GET / HTTP/1.1\r\nA: " + std::string(300, 'x') + "\r\n\r\n", 431,
       "request head over the limit of 256 bytes"},
  };
  for (const Case& c : cases) {
    HttpRequestParser parser(SmallLimits());
    ASSERT_EQ(Feed(parser, c.bytes), State::kError) << c.bytes;
    EXPECT_EQ(parser.error_status(), c.status) << c.bytes;
    EXPECT_NE(parser.error_message().find(c.message), std::string::npos) << parser.error_message();
  }
}

TEST(HttpParserTest, AnOversizedHeadFailsBeforeItsEndArrives) {
  // No line end at all: refused once the bytes pass the limit, not held until a newline comes.
  HttpRequestParser parser(SmallLimits());
  EXPECT_EQ(Feed(parser, "GET /" + std::string(255, 'a')), State::kError);
  EXPECT_EQ(parser.error_status(), 431);
  // A long request line is echoed cut, with its length.
  HttpLimits limits;
  HttpRequestParser wide(limits);
  ASSERT_EQ(Feed(wide, std::string(5000, 'z') + "\r\n\r\n"), State::kError);
  EXPECT_EQ(wide.error_status(), 400);
  EXPECT_NE(wide.error_message().find("…' (5000 bytes)"), std::string::npos) << wide.error_message();
  EXPECT_LT(wide.error_message().size(), 200u);
}

TEST(HttpParserTest, ReportsTheHeadBeforeTheBodyForExpectContinue) {
  HttpRequestParser parser(SmallLimits());
  ASSERT_EQ(Feed(parser, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"), State::kBody);
  EXPECT_TRUE(parser.awaiting_body());
  EXPECT_TRUE(parser.expects_continue());
  ASSERT_EQ(Feed(parser, "abcd"), State::kComplete);
  EXPECT_EQ(parser.request().body, "abcd");
  // Without a body nothing is expected.
  parser.Reset();
  ASSERT_EQ(Feed(parser, "POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"), State::kComplete);
  EXPECT_FALSE(parser.expects_continue());
}

}  // namespace
}  // namespace mtrec
