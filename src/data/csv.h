// CSV/TSV parsing over text already in memory (see ReadInput), built to run one reader per thread:
// SplitRecords cuts the text at record boundaries, and each CsvReader walks its own chunk.
//
//   CsvDialect dialect{.delimiter = ", "};                    // the Census files; "\t" for TSV
//   size_t header_end = 0;
//   std::vector<std::string> names = ReadHeader(text, dialect, &header_end);
//   std::vector<CsvChunk> chunks = SplitRecords(text, 4 * Threads(), dialect.quote, header_end);
//   ParallelForBlocks(chunks.size(), [&](size_t block, int thread) {
//     CsvReader reader(text, chunks[block], dialect, path);
//     while (reader.Next()) Use(reader.fields(), reader.line());
//   });
//
// Quoting follows RFC 4180: a field that starts with the quote character (blanks before it are ignored) runs to
// the matching closing quote and may hold delimiters, newlines and doubled quotes ("" stands for "). A quote
// anywhere else is refused with an error rather than read as a literal: only then is "inside a quoted field"
// the same as "after an odd number of quote characters", which is what lets SplitRecords find record
// boundaries with a fast scan instead of parsing the whole text on one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mtrec {

struct CsvDialect {
  std::string delimiter = ",";  // may be several characters: the Census files separate fields with ", "
  char quote = '"';             // '\0' turns quoting off: every quote character is then ordinary text
  bool trim = true;             // drop spaces and tabs around unquoted fields
};

// Bytes [begin, end) of the text, starting at the beginning of a record; first_line is the 1-based physical line
// number of `begin` (one more than the count of '\n' before it).
struct CsvChunk {
  size_t begin = 0;
  size_t end = 0;
  size_t first_line = 1;
};

// Splits text[begin, size) into about `chunks` consecutive ranges that each start at a record boundary (just
// after a newline that is outside quotes) and together cover it; at least one chunk, empty for empty text.
// Fewer come back when records are too long to cut that finely. `begin` must itself be a record boundary, such
// as the header_end from ReadHeader; offsets and line numbers stay those of the whole text.
// `first_line`, when not 0, is the line number of `begin`, which is then not counted from the start of the text (a
// rank that reads one range of a file knows it from the others' counts).
std::vector<CsvChunk> SplitRecords(std::string_view text, size_t chunks, char quote, size_t begin = 0,
                                   size_t first_line = 0);

// The state of a scan through CSV text: the newlines and quote characters counted in bytes [begin, end). Summed
// over consecutive ranges, the quotes' parity says whether a position lies inside a quoted field (see above).
struct CsvScanCounts {
  int64_t newlines = 0;
  int64_t quotes = 0;
};
CsvScanCounts CountNewlinesAndQuotes(std::string_view text, size_t begin, size_t end, char quote);

// The first record boundary at or after `pos` (just after a newline outside quotes, or text.size() when none comes
// before the end), given whether `pos` lies inside a quoted field; `*line` (the line number of `pos`) is moved on
// to the boundary's. A boundary is found by looking from pos - 1, so a `pos` that starts a record is its own.
size_t RecordStartFrom(std::string_view text, size_t pos, bool in_quote, char quote, size_t* line);

// Reads the records of one chunk. Readers share nothing mutable, so one per thread may read the same text.
class CsvReader {
 public:
  // `file` only names the input in error messages ("data.csv:12: ..."; "line 12: ..." without it).
  CsvReader(std::string_view text, CsvChunk chunk, const CsvDialect& dialect, std::string_view file = {});

  // Moves to the next record; false at the end of the chunk. Blank lines (nothing but spaces, tabs or '\r')
  // are skipped. Throws Error for an unterminated quoted field or a stray quote.
  bool Next();

  // The fields of the current record. They point into the text, or into this reader's scratch storage for
  // quoted fields with doubled quotes, and stay valid until the next call of Next().
  const std::vector<std::string_view>& fields() const { return fields_; }

  // 1-based physical line on which the current record starts.
  size_t line() const { return record_line_; }

  // Byte offset just after the current record and its line break.
  size_t record_end() const { return pos_; }

 private:
  // Whether the delimiter starts at `pos` (< text size). Inline: it runs once per field and per blank.
  bool AtDelimiter(size_t pos) const {
    return text_[pos] == dialect_.delimiter[0] &&
           (dialect_.delimiter.size() == 1 || text_.substr(pos, dialect_.delimiter.size()) == dialect_.delimiter);
  }
  bool SkipBlankLine();
  // Each reads one field and returns the position of what ends it (delimiter, newline or the end). An unquoted
  // field is text[begin, end); the search for its end may start later, at scan_from, past leading blanks.
  size_t ReadQuotedField(size_t quote_pos);
  size_t ReadUnquotedField(size_t begin, size_t scan_from);
  // Out of line so that the hot loop does not carry the message formatting.
  [[noreturn, gnu::cold, gnu::noinline]] void FailStrayQuote() const;
  [[noreturn]] void FailAt(size_t line, std::string_view what) const;

  std::string_view text_;  // the text up to the chunk's end, so that nothing reads past it
  CsvDialect dialect_;
  bool quoting_;
  std::string file_;
  size_t pos_;
  size_t line_;  // physical line of pos_
  size_t record_line_ = 0;
  std::vector<std::string_view> fields_;
  // Unescaped text of quoted fields with doubled quotes; fields_ points into it only after the record is
  // complete, since appending may move it.
  std::string scratch_;
  struct ScratchField {
    size_t field;
    size_t offset;
    size_t size;
  };
  std::vector<ScratchField> scratch_fields_;
};

// Parses the first record as column names (each trimmed) and sets *header_end to the byte after it. Throws
// Error "file is empty" when there is no record.
std::vector<std::string> ReadHeader(std::string_view text, const CsvDialect& dialect, size_t* header_end,
                                    std::string_view file = {});

}  // namespace mtrec
