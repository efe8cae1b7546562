#include "data/csv.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/error.h"
#include "common/strings.h"

namespace mtrec {
namespace {

constexpr std::string_view kUtf8Bom = "\xef\xbb\xbf";

// Counts the bytes equal to `a` and those equal to `b` in data[0, n) in one pass. SplitRecords runs this over
// the whole text on one thread before any parallel work starts, so it has to go at memory speed.
void CountTwoBytes(const char* data, size_t n, char a, char b, size_t* count_a, size_t* count_b) {
  size_t total_a = 0;
  size_t total_b = 0;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i match_a = _mm_set1_epi8(a);
  const __m128i match_b = _mm_set1_epi8(b);
  const __m128i zero = _mm_setzero_si128();
  while (n - i >= 16) {
    // Byte lanes count at most 255 matches before they are summed into the totals.
    const size_t blocks = std::min<size_t>((n - i) / 16, 255);
    __m128i lanes_a = zero;
    __m128i lanes_b = zero;
    for (size_t k = 0; k < blocks; ++k, i += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
      lanes_a = _mm_sub_epi8(lanes_a, _mm_cmpeq_epi8(bytes, match_a));  // a match is -1
      lanes_b = _mm_sub_epi8(lanes_b, _mm_cmpeq_epi8(bytes, match_b));
    }
    const __m128i sums_a = _mm_sad_epu8(lanes_a, zero);  // two 64-bit halves, each a sum of 8 lanes
    const __m128i sums_b = _mm_sad_epu8(lanes_b, zero);
    total_a += static_cast<size_t>(_mm_cvtsi128_si32(sums_a) + _mm_extract_epi16(sums_a, 4));
    total_b += static_cast<size_t>(_mm_cvtsi128_si32(sums_b) + _mm_extract_epi16(sums_b, 4));
  }
#endif
  for (; i < n; ++i) {
    total_a += data[i] == a;
    total_b += data[i] == b;
  }
  *count_a = total_a;
  *count_b = total_b;
}

size_t CountByte(std::string_view text, size_t begin, size_t end, char byte) {
  size_t count = 0;
  size_t unused = 0;
  CountTwoBytes(text.data() + begin, end - begin, byte, byte, &count, &unused);
  return count;
}

// First position in data[pos, size) that holds a, b or c; size when none does. Unquoted fields are short, so
// one 16-byte step usually finds the end of the field.
size_t FindAnyOf3(const char* data, size_t pos, size_t size, char a, char b, char c) {
#if defined(__SSE2__)
  const __m128i match_a = _mm_set1_epi8(a);
  const __m128i match_b = _mm_set1_epi8(b);
  const __m128i match_c = _mm_set1_epi8(c);
  for (; size - pos >= 16; pos += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + pos));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, match_a), _mm_cmpeq_epi8(bytes, match_b)),
                                      _mm_cmpeq_epi8(bytes, match_c));
    const int mask = _mm_movemask_epi8(hits);
    if (mask != 0) return pos + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; pos < size; ++pos) {
    if (data[pos] == a || data[pos] == b || data[pos] == c) return pos;
  }
  return size;
}

// First position of `byte` in text[begin, end), or `end`.
size_t FindByte(std::string_view text, size_t begin, size_t end, char byte) {
  const void* found = std::memchr(text.data() + begin, byte, end - begin);
  return found != nullptr ? static_cast<size_t>(static_cast<const char*>(found) - text.data()) : end;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimBlanks(std::string_view field) {
  while (!field.empty() && IsBlank(field.front())) field.remove_prefix(1);
  while (!field.empty() && IsBlank(field.back())) field.remove_suffix(1);
  return field;
}

}  // namespace

CsvScanCounts CountNewlinesAndQuotes(std::string_view text, size_t begin, size_t end, char quote) {
  size_t newlines = 0;
  size_t quotes = 0;
  CountTwoBytes(text.data() + begin, end - begin, '\n', quote != '\0' ? quote : '\n', &newlines, &quotes);
  return {static_cast<int64_t>(newlines), quote != '\0' ? static_cast<int64_t>(quotes) : 0};
}

size_t RecordStartFrom(std::string_view text, size_t pos, bool in_quote, char quote, size_t* line) {
  const bool quoting = quote != '\0';
  const size_t size = text.size();
  if (pos == 0) return 0;
  // Looking from the byte before lets a position that already starts a record be the boundary.
  pos -= 1;
  if (text[pos] == '\n') {
    if (!in_quote) return pos + 1;
    --*line;  // counted in *line already; the walk below counts it again
  }
  if (quoting && text[pos] == quote) in_quote = !in_quote;  // the walk reads this byte afresh
  while (pos < size) {
    if (in_quote) {
      const size_t close = FindByte(text, pos, size, quote);
      *line += CountByte(text, pos, close, '\n');
      pos = std::min(close + 1, size);
      in_quote = close == size;  // an unterminated quote runs to the end; the reader reports it
      continue;
    }
    const size_t newline = FindByte(text, pos, size, '\n');
    const size_t open = quoting ? FindByte(text, pos, newline, quote) : newline;
    if (open < newline) {
      pos = open + 1;
      in_quote = true;
      continue;
    }
    if (newline == size) return size;
    ++*line;
    return newline + 1;
  }
  return size;
}

std::vector<CsvChunk> SplitRecords(std::string_view text, size_t chunks, char quote, size_t begin, size_t first_line) {
  MTREC_CHECK(begin <= text.size(), "CSV split start {} is past the end of the text ({} bytes)", begin, text.size());
  const size_t size = text.size();
  // The scan state at `pos`: its line number, and whether it lies inside a quoted field. Because the reader
  // refuses quotes that do not open or close a field (or are doubled inside one), "inside" is simply the parity
  // of the quote characters seen so far, which a vectorised count and memchr find at memory speed.
  size_t pos = begin;
  size_t line = first_line != 0 ? first_line : 1 + CountByte(text, 0, begin, '\n');
  bool in_quote = false;
  std::vector<CsvChunk> out{{begin, size, line}};
  chunks = std::max<size_t>(chunks, 1);
  for (size_t k = 1; k < chunks; ++k) {
    const size_t target = begin + (size - begin) * k / chunks;
    if (target <= pos) continue;  // the previous record ran past this target
    const CsvScanCounts counts = CountNewlinesAndQuotes(text, pos, target, quote);
    line += static_cast<size_t>(counts.newlines);
    in_quote ^= (counts.quotes & 1) != 0;
    pos = RecordStartFrom(text, target, in_quote, quote, &line);
    in_quote = false;
    if (pos >= size) break;
    out.back().end = pos;
    out.push_back({pos, size, line});
  }
  return out;
}

CsvReader::CsvReader(std::string_view text, CsvChunk chunk, const CsvDialect& dialect, std::string_view file)
    : dialect_(dialect), quoting_(dialect.quote != '\0'), file_(file), pos_(chunk.begin), line_(chunk.first_line) {
  MTREC_CHECK(chunk.begin <= chunk.end && chunk.end <= text.size(),
              "CSV chunk [{}, {}) does not lie within the text of {} bytes", chunk.begin, chunk.end, text.size());
  const std::string& delimiter = dialect.delimiter;
  MTREC_CHECK(!delimiter.empty(), "the CSV delimiter is empty");
  MTREC_CHECK(delimiter.find_first_of("\r\n") == std::string::npos, "the CSV delimiter contains a line break");
  MTREC_CHECK(!quoting_ || delimiter.find(dialect.quote) == std::string::npos,
              "the CSV delimiter '{}' contains the quote character '{}'", delimiter, dialect.quote);
  text_ = text.substr(0, chunk.end);
  if (pos_ == 0 && text_.starts_with(kUtf8Bom)) pos_ = kUtf8Bom.size();
}

bool CsvReader::SkipBlankLine() {
  size_t p = pos_;
  // A delimiter makes the line a record of empty fields even when the delimiter is a tab.
  while (p < text_.size() && (IsBlank(text_[p]) || text_[p] == '\r') && !AtDelimiter(p)) ++p;
  if (p == text_.size()) {
    pos_ = p;
    return true;
  }
  if (text_[p] != '\n') return false;
  pos_ = p + 1;
  ++line_;
  return true;
}

bool CsvReader::Next() {
  fields_.clear();
  scratch_.clear();
  scratch_fields_.clear();
  while (true) {
    if (pos_ >= text_.size()) return false;
    if (!SkipBlankLine()) break;
  }
  record_line_ = line_;
  // The per-field loop works on locals: members would be reloaded after every store into fields_.
  const char* data = text_.data();
  const size_t size = text_.size();
  const size_t delimiter_size = dialect_.delimiter.size();
  size_t pos = pos_;
  while (true) {
    size_t p = pos;
    while (p < size && IsBlank(data[p]) && !AtDelimiter(p)) ++p;
    if (quoting_ && p < size && data[p] == dialect_.quote) {
      pos = ReadQuotedField(p);
    } else {
      pos = ReadUnquotedField(pos, p);
    }
    if (pos >= size) break;
    if (data[pos] == '\n') {
      ++pos;
      ++line_;
      break;
    }
    pos += delimiter_size;
  }
  pos_ = pos;
  for (const ScratchField& f : scratch_fields_) {
    fields_[f.field] = std::string_view(scratch_).substr(f.offset, f.size);
  }
  return true;
}

size_t CsvReader::ReadUnquotedField(size_t begin, size_t scan_from) {
  const char* data = text_.data();
  const size_t size = text_.size();
  const char delimiter = dialect_.delimiter[0];
  // Without quoting, '\n' stands in for the quote so that the search still looks for three bytes.
  const char quote = quoting_ ? dialect_.quote : '\n';
  size_t end = scan_from;
  while (true) {
    end = FindAnyOf3(data, end, size, '\n', delimiter, quote);
    if (end == size || data[end] == '\n' || AtDelimiter(end)) break;
    if (data[end] == quote) FailStrayQuote();
    ++end;  // the first byte of a multi-byte delimiter, without the rest
  }
  std::string_view field(data + begin, end - begin);
  const bool line_end = end == size || data[end] == '\n';
  if (line_end && !field.empty() && field.back() == '\r') field.remove_suffix(1);  // CRLF
  if (dialect_.trim) field = TrimBlanks(field);
  fields_.push_back(field);
  return end;
}

void CsvReader::FailStrayQuote() const {
  FailAt(line_, fmt::format("field {} has a quote inside it but does not start with one; put the whole field in "
                            "quotes and double each quote inside it",
                            fields_.size() + 1));
}

size_t CsvReader::ReadQuotedField(size_t quote_pos) {
  const size_t size = text_.size();
  const char quote = dialect_.quote;
  const size_t open_line = line_;
  size_t p = quote_pos + 1;
  size_t segment = p;  // start of the text not yet copied to scratch_
  bool doubled = false;
  const size_t scratch_begin = scratch_.size();
  while (true) {
    const size_t q = FindByte(text_, p, size, quote);
    if (q == size) FailAt(open_line, "a quoted field opened here is never closed");
    line_ += CountByte(text_, p, q, '\n');
    if (q + 1 < size && text_[q + 1] == quote) {
      doubled = true;
      scratch_.append(text_.substr(segment, q + 1 - segment));  // keeps one of the two quotes
      p = q + 2;
      segment = p;
      continue;
    }
    if (doubled) {
      scratch_.append(text_.substr(segment, q - segment));
      scratch_fields_.push_back({fields_.size(), scratch_begin, scratch_.size() - scratch_begin});
      fields_.emplace_back();
    } else {
      fields_.push_back(text_.substr(quote_pos + 1, q - quote_pos - 1));
    }
    p = q + 1;
    break;
  }
  while (p < size && IsBlank(text_[p]) && !AtDelimiter(p)) ++p;
  if (p < size && text_[p] == '\r' && (p + 1 == size || text_[p + 1] == '\n')) ++p;
  if (p < size && text_[p] != '\n' && !AtDelimiter(p)) {
    FailAt(line_, fmt::format("field {}: unexpected '{}' after the closing quote; a quote inside a quoted field "
                              "is written twice",
                              fields_.size(), text_[p]));
  }
  return p;
}

void CsvReader::FailAt(size_t line, std::string_view what) const {
  if (file_.empty()) Fail("line {}: {}", line, what);
  Fail("{}:{}: {}", file_, line, what);
}

std::vector<std::string> ReadHeader(std::string_view text, const CsvDialect& dialect, size_t* header_end,
                                    std::string_view file) {
  CsvReader reader(text, CsvChunk{0, text.size(), 1}, dialect, file);
  if (!reader.Next()) {
    if (file.empty()) Fail("file is empty");
    Fail("'{}': file is empty", file);
  }
  std::vector<std::string> names;
  names.reserve(reader.fields().size());
  for (std::string_view field : reader.fields()) names.emplace_back(Trim(field));
  if (header_end != nullptr) *header_end = reader.record_end();
  return names;
}

}  // namespace mtrec
