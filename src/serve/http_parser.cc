#include "serve/http_parser.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"

namespace mtrec {
namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view text) { return !text.empty() && std::all_of(text.begin(), text.end(), IsTokenChar); }

// Control characters other than tab (a CR inside a line is one: a bare CR is a classic smuggling trick).
bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls `each` with every trimmed, non-empty element of a comma-separated header value.
template <typename Each>
void ForEachListElement(std::string_view value, Each each) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view element = TrimBlanks(value.substr(0, comma));
    if (!element.empty()) each(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// A non-negative decimal of at most 18 digits (so that it fits int64_t); -1 otherwise.
int64_t ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 18) return -1;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

void HttpRequestParser::Recycle(HttpRequest* request) {
  // A header line's strings are kept when small: a client sending huge header values must not leave every
  // recycled request holding them (a line is at most the head's limit, 16 KiB by default).
  constexpr size_t kKeptHeaderBytes = 1024;
  for (auto& header : request->headers) {
    if (header.first.capacity() + header.second.capacity() <= kKeptHeaderBytes &&
        request->kept_headers_.size() < kKeptHeaderLines) {
      request->kept_headers_.push_back(std::move(header));
    }
  }
  request->headers.clear();
  request->method.clear();
  request->target.clear();
  request->path.clear();
  request->minor_version = 1;
  request->body.clear();
  if (request->body.capacity() > kKeptBodyBytes) std::string().swap(request->body);
  request->keep_alive = true;
  request->chunked = false;
}

void HttpRequestParser::Reset() {
  state_ = State::kStart;
  Recycle(&request_);
  line_.clear();
  head_bytes_ = 0;
  header_count_ = 0;
  content_length_ = -1;
  chunk_left_ = 0;
  expects_continue_ = false;
  error_status_ = 0;
  error_message_.clear();
}

bool HttpRequestParser::Fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
  return false;
}

bool HttpRequestParser::TakeLine(std::string_view* input, int64_t limit, const char* what, std::string_view* line) {
  const size_t end = input->find('\n');
  const size_t take = end == std::string_view::npos ? input->size() : end + 1;
  if (static_cast<int64_t>(line_.size() + take) > limit) {
    if (state_ == State::kHead || state_ == State::kTrailer) {
      return Fail(431, fmt::format("{} over the limit of {} bytes for the request line and headers together", what,
                                   limits_.max_header_bytes));
    }
    return Fail(400, fmt::format("{} longer than {} bytes", what, limit));
  }
  if (end == std::string_view::npos) {
    line_.append(*input);
    input->remove_prefix(take);
    return false;
  }
  if (line_.empty()) {
    *line = input->substr(0, end);
  } else {
    line_.append(input->substr(0, end));
    *line = line_;
  }
  input->remove_prefix(take);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  return true;
}

HttpRequestParser::State HttpRequestParser::Consume(std::string_view* input) {
  while (!input->empty() && state_ != State::kComplete && state_ != State::kError) {
    switch (state_) {
      case State::kStart:
        state_ = State::kHead;
        break;
      case State::kHead:
      case State::kTrailer: {
        std::string_view line;
        const bool head = state_ == State::kHead;
        if (!TakeLine(input, limits_.max_header_bytes - head_bytes_, head ? "request head" : "chunked trailer",
                      &line)) {
          break;
        }
        head_bytes_ += static_cast<int64_t>(line.size()) + 2;
        const bool ok = head ? HeadLine(line) : TrailerLine(line);
        line_.clear();
        if (!ok) return state_;
        break;
      }
      case State::kBody: {
        const size_t take = std::min<size_t>(input->size(), content_length_ - request_.body.size());
        request_.body.append(input->substr(0, take));
        input->remove_prefix(take);
        if (static_cast<int64_t>(request_.body.size()) == content_length_) state_ = State::kComplete;
        break;
      }
      case State::kChunkSize: {
        std::string_view line;
        if (!TakeLine(input, limits_.max_chunk_line_bytes, "chunk size line", &line)) break;
        const bool ok = ChunkSizeLine(line);
        line_.clear();
        if (!ok) return state_;
        break;
      }
      case State::kChunkData: {
        const size_t take = std::min<size_t>(input->size(), chunk_left_);
        request_.body.append(input->substr(0, take));
        input->remove_prefix(take);
        chunk_left_ -= static_cast<int64_t>(take);
        if (chunk_left_ == 0) state_ = State::kChunkEnd;
        break;
      }
      case State::kChunkEnd: {
        std::string_view line;
        const bool complete = TakeLine(input, 2, "the line ending after a chunk's data", &line);
        if (state_ == State::kError || (complete && !line.empty())) {
          Fail(400, "chunk data longer than its size line said");
          return state_;
        }
        if (complete) {
          line_.clear();
          state_ = State::kChunkSize;
        }
        break;
      }
      case State::kComplete:
      case State::kError:
        break;
    }
  }
  return state_;
}

bool HttpRequestParser::HeadLine(std::string_view line) {
  if (request_.method.empty()) {
    if (line.empty()) return true;  // blank lines before a request line are allowed (RFC 9112, 2.2)
    return RequestLine(line);
  }
  if (line.empty()) return HeadComplete();
  return HeaderLine(line);
}

bool HttpRequestParser::RequestLine(std::string_view line) {
  auto malformed = [&] {
    return Fail(400, fmt::format("malformed request line {}; expected METHOD TARGET HTTP/1.1", Quoted(line)));
  };
  const size_t first = line.find(' ');
  if (first == std::string_view::npos) return malformed();
  const size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return malformed();
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!IsToken(method) || target.empty() || HasControl(target)) return malformed();
  if (version == "HTTP/1.1") {
    request_.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    request_.minor_version = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.') {
    return Fail(505, fmt::format("HTTP version {} is not supported; send HTTP/1.1", Quoted(version)));
  } else {
    return malformed();
  }
  request_.method = method;
  request_.target = target;
  request_.path = target.substr(0, target.find('?'));
  request_.keep_alive = request_.minor_version == 1;
  return true;
}

bool HttpRequestParser::HeaderLine(std::string_view line) {
  if (++header_count_ > limits_.max_headers) {
    return Fail(431, fmt::format("more than {} header lines", limits_.max_headers));
  }
  if (line.front() == ' ' || line.front() == '\t') {
    return Fail(400, fmt::format("header line {} continues the previous one (obsolete line folding)", Quoted(line)));
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)) || HasControl(line)) {
    return Fail(400, fmt::format("malformed header line {}; expected Name: value", Quoted(line)));
  }
  auto& kept = request_.kept_headers_;
  if (kept.empty()) {
    request_.headers.emplace_back();
  } else {
    request_.headers.push_back(std::move(kept.back()));
    kept.pop_back();
  }
  auto& [name, value] = request_.headers.back();
  name.assign(line.substr(0, colon));
  AsciiLowerInPlace(&name);
  value.assign(TrimBlanks(line.substr(colon + 1)));
  return true;
}

bool HttpRequestParser::HeadComplete() {
  std::string transfer_encoding;
  for (const auto& [name, value] : request_.headers) {
    if (name == "content-length") {
      const int64_t length = ParseDecimal(value);
      if (length < 0) return Fail(400, fmt::format("malformed Content-Length {}", Quoted(value)));
      if (content_length_ >= 0 && length != content_length_) {
        return Fail(400, fmt::format("conflicting Content-Length headers: {} and {}", content_length_, length));
      }
      content_length_ = length;
    } else if (name == "transfer-encoding") {
      if (!transfer_encoding.empty()) transfer_encoding += ", ";
      transfer_encoding += value;
    } else if (name == "connection") {
      ForEachListElement(value, [&](std::string_view option) {
        if (AsciiEqualsIgnoringCase(option, "close")) request_.keep_alive = false;
        if (AsciiEqualsIgnoringCase(option, "keep-alive") && request_.minor_version == 0) request_.keep_alive = true;
      });
    } else if (name == "expect") {
      expects_continue_ = AsciiEqualsIgnoringCase(value, "100-continue") && request_.minor_version == 1;
    }
  }
  if (!transfer_encoding.empty()) {
    int codings = 0;
    bool chunked = false;
    ForEachListElement(transfer_encoding, [&](std::string_view coding) {
      ++codings;
      chunked = AsciiEqualsIgnoringCase(coding, "chunked");
    });
    if (codings != 1 || !chunked) {
      return Fail(501, fmt::format("Transfer-Encoding {} is not supported; send the body with Content-Length or "
                                   "Transfer-Encoding: chunked",
                                   Quoted(transfer_encoding)));
    }
    if (content_length_ >= 0) {
      return Fail(400, "both Transfer-Encoding and Content-Length; a request gives one of them");
    }
    if (request_.minor_version == 0) return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    request_.chunked = true;
    state_ = State::kChunkSize;
    return true;
  }
  if (content_length_ > limits_.max_body_bytes) {
    return Fail(413, fmt::format("request body of {} bytes is over the limit of {} bytes", content_length_,
                                 limits_.max_body_bytes));
  }
  if (content_length_ > 0) {
    // Reserved only up to a modest size: a client that declares a large body and sends nothing costs nothing.
    request_.body.reserve(static_cast<size_t>(std::min<int64_t>(content_length_, 1 << 16)));
    state_ = State::kBody;
  } else {
    expects_continue_ = false;
    state_ = State::kComplete;
  }
  return true;
}

bool HttpRequestParser::ChunkSizeLine(std::string_view line) {
  // chunk-size [ BWS ";" chunk-ext ], the extensions ignored.
  const std::string_view digits = TrimBlanks(line.substr(0, line.find(';')));
  int64_t size = 0;
  for (char c : digits) {
    const int digit = HexDigit(c);
    if (digit < 0) {
      return Fail(400, fmt::format("malformed chunk size line {}; expected a hexadecimal size", Quoted(line)));
    }
    // Past the body limit already: no need to read further digits (and no overflow).
    if (size > limits_.max_body_bytes) break;
    size = size * 16 + digit;
  }
  if (digits.empty() || HasControl(line)) {
    return Fail(400, fmt::format("malformed chunk size line {}; expected a hexadecimal size", Quoted(line)));
  }
  if (size > limits_.max_body_bytes - static_cast<int64_t>(request_.body.size())) {
    return Fail(413, fmt::format("chunked request body over the limit of {} bytes", limits_.max_body_bytes));
  }
  if (size == 0) {
    state_ = State::kTrailer;
  } else {
    chunk_left_ = size;
    state_ = State::kChunkData;
  }
  return true;
}

bool HttpRequestParser::TrailerLine(std::string_view line) {
  if (line.empty()) {
    state_ = State::kComplete;
    return true;
  }
  if (++header_count_ > limits_.max_headers) {
    return Fail(431, fmt::format("more than {} header and trailer lines", limits_.max_headers));
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)) || HasControl(line)) {
    return Fail(400, fmt::format("malformed trailer line {}; expected Name: value", Quoted(line)));
  }
  return true;  // trailers are read and dropped: nothing the server uses may come from them
}

}  // namespace mtrec
