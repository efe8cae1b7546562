#include "data/csv.h"

#include <gtest/gtest.h>

#include "support/test_files.h"

#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

struct Record {
  size_t line = 0;
  std::vector<std::string> fields;

  bool operator==(const Record&) const = default;
};

void PrintTo(const Record& record, std::ostream* os) {
  *os << "line " << record.line << ": [";
  for (size_t i = 0; i < record.fields.size(); ++i) *os << (i ? "|" : "") << record.fields[i];
  *os << "]";
}

std::vector<Record> ReadChunk(std::string_view text, CsvChunk chunk, const CsvDialect& dialect) {
  std::vector<Record> records;
  CsvReader reader(text, chunk, dialect);
  while (reader.Next()) {
    Record record;
    record.line = reader.line();
    for (std::string_view field : reader.fields()) record.fields.emplace_back(field);
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Record> ReadAll(std::string_view text, const CsvDialect& dialect = {}) {
  return ReadChunk(text, CsvChunk{0, text.size(), 1}, dialect);
}

TEST(CsvReaderTest, PlainRecords) {
  EXPECT_EQ(ReadAll("a,b,c\n1,2,3\n"), (std::vector<Record>{{1, {"a", "b", "c"}}, {2, {"1", "2", "3"}}}));
}

TEST(CsvReaderTest, QuotedFieldsHoldDelimitersNewlinesAndDoubledQuotes) {
  const std::string text =
      "id,text,n\n"
      "1,\"a, b\",2\n"
      "2,\"two\nlines\",3\n"
      "3,\"say \"\"hi\"\"\",\"\"\"\"\n"
      "4,\"\",5\n";
  EXPECT_EQ(ReadAll(text), (std::vector<Record>{{1, {"id", "text", "n"}},
                                                {2, {"1", "a, b", "2"}},
                                                {3, {"2", "two\nlines", "3"}},
                                                {5, {"3", "say \"hi\"", "\""}},
                                                {6, {"4", "", "5"}}}));
}

TEST(CsvReaderTest, FieldsPointIntoTheTextUnlessUnescaped) {
  const std::string text = "plain,\"quoted\",\"dou\"\"bled\",\"again\"\"\"\n";
  CsvReader reader(text, CsvChunk{0, text.size(), 1}, CsvDialect{});
  ASSERT_TRUE(reader.Next());
  const auto& fields = reader.fields();
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].data(), text.data());
  EXPECT_EQ(fields[1].data(), text.data() + 7);
  // Two unescaped fields in one record: the first must survive the scratch growing for the second.
  EXPECT_EQ(fields[2], "dou\"bled");
  EXPECT_EQ(fields[3], "again\"");
  EXPECT_FALSE(reader.Next());
}

TEST(CsvReaderTest, FieldsOfEveryLengthAroundTheSearchWidth) {
  // The field search looks at 16 bytes at a time: field ends at every offset within and across those steps.
  for (size_t size = 0; size <= 40; ++size) {
    SCOPED_TRACE(size);
    const std::string value(size, 'x');
    EXPECT_EQ(ReadAll(value + ",y\n" + value + ",\n,"),
              (std::vector<Record>{{1, {value, "y"}}, {2, {value, ""}}, {3, {"", ""}}}));
    if (size > 0) {
      EXPECT_EQ(ReadAll("y;;" + value, CsvDialect{.delimiter = ";;"}), (std::vector<Record>{{1, {"y", value}}}));
      EXPECT_EQ(ReadAll(value + ";x;;z", CsvDialect{.delimiter = ";;"}),
                (std::vector<Record>{{1, {value + ";x", "z"}}}));
    }
  }
}

TEST(CsvReaderTest, MultiCharacterDelimiter) {
  CsvDialect census{.delimiter = ", "};
  const std::string text =
      "39, State-gov, 77516, Bachelors, Never-married, <=50K\n"
      "50, Self-emp-not-inc, , \"Doe, J\", x,y, >50K\n";
  EXPECT_EQ(ReadAll(text, census),
            (std::vector<Record>{{1, {"39", "State-gov", "77516", "Bachelors", "Never-married", "<=50K"}},
                                 {2, {"50", "Self-emp-not-inc", "", "Doe, J", "x,y", ">50K"}}}));
}

TEST(CsvReaderTest, TabDelimiterKeepsEmptyFields) {
  CsvDialect tsv{.delimiter = "\t"};
  EXPECT_EQ(ReadAll("a\t\tc\n\t\n", tsv), (std::vector<Record>{{1, {"a", "", "c"}}, {2, {"", ""}}}));
}

TEST(CsvReaderTest, TrimRemovesBlanksAroundUnquotedFieldsOnly) {
  const std::string text = "  a ,\tb\t, \" c \" ,d e\n";
  EXPECT_EQ(ReadAll(text), (std::vector<Record>{{1, {"a", "b", " c ", "d e"}}}));
  CsvDialect keep{.trim = false};
  EXPECT_EQ(ReadAll(text, keep), (std::vector<Record>{{1, {"  a ", "\tb\t", " c ", "d e"}}}));
}

TEST(CsvReaderTest, CrLfLineEnds) {
  const std::string text = "a,b\r\n1,\"x\r\ny\"\r\n2, 3 \r\n";
  EXPECT_EQ(ReadAll(text), (std::vector<Record>{{1, {"a", "b"}}, {2, {"1", "x\r\ny"}}, {4, {"2", "3"}}}));
  CsvDialect keep{.trim = false};
  EXPECT_EQ(ReadAll(text, keep).back(), (Record{4, {"2", " 3 "}}));
  // Only the '\r' of a line end goes; one inside the line is data.
  EXPECT_EQ(ReadAll("a\r,b\r"), (std::vector<Record>{{1, {"a\r", "b"}}}));
}

TEST(CsvReaderTest, BlankLinesAreSkippedButCounted) {
  const std::string text = "\na,b\n\n   \n\t\r\n1,2\n\n";
  EXPECT_EQ(ReadAll(text), (std::vector<Record>{{2, {"a", "b"}}, {6, {"1", "2"}}}));
  EXPECT_TRUE(ReadAll("\n \n\r\n").empty());
  EXPECT_TRUE(ReadAll("").empty());
}

TEST(CsvReaderTest, LastRecordWithoutNewline) {
  EXPECT_EQ(ReadAll("a,b\n1,2"), (std::vector<Record>{{1, {"a", "b"}}, {2, {"1", "2"}}}));
  EXPECT_EQ(ReadAll("a,b\n1,\"2\""), (std::vector<Record>{{1, {"a", "b"}}, {2, {"1", "2"}}}));
  EXPECT_EQ(ReadAll("a,"), (std::vector<Record>{{1, {"a", ""}}}));
}

TEST(CsvReaderTest, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(ReadAll("\xef\xbb\xbfid,x\n1,2\n"), (std::vector<Record>{{1, {"id", "x"}}, {2, {"1", "2"}}}));
  EXPECT_EQ(ReadAll("\xef\xbb\xbf\"id\",x\n"), (std::vector<Record>{{1, {"id", "x"}}}));
}

TEST(CsvReaderTest, UnterminatedQuoteNamesTheLineWhereItOpened) {
  const std::string text = "a,b\n1,2\n3,\"open\nstill open\n";
  EXPECT_EQ(ErrorOf([&] { ReadAll(text); }), "line 3: a quoted field opened here is never closed");
  EXPECT_EQ(ErrorOf([&] {
              CsvReader reader(text, CsvChunk{0, text.size(), 1}, CsvDialect{}, "data.csv");
              while (reader.Next()) {
              }
            }),
            "data.csv:3: a quoted field opened here is never closed");
}

TEST(CsvReaderTest, StrayQuotesAreRefused) {
  EXPECT_EQ(ErrorOf([] { ReadAll("a,b\n1,12\" screen\n"); }),
            "line 2: field 2 has a quote inside it but does not start with one; put the whole field in quotes "
            "and double each quote inside it");
  EXPECT_EQ(ErrorOf([] { ReadAll("a,\"b\"c\n"); }),
            "line 1: field 2: unexpected 'c' after the closing quote; a quote inside a quoted field is written "
            "twice");
}

TEST(CsvReaderTest, QuotingCanBeTurnedOff) {
  CsvDialect no_quotes{.quote = '\0'};
  EXPECT_EQ(ReadAll("12\" screen,\"a\n", no_quotes), (std::vector<Record>{{1, {"12\" screen", "\"a"}}}));
  EXPECT_EQ(SplitRecords("\"a\n\"b\n", 2, '\0').size(), 2u);
}

TEST(CsvReaderTest, ReadsOnlyItsChunk) {
  const std::string text = "a,b\n1,2\n3,4\n";
  EXPECT_EQ(ReadChunk(text, CsvChunk{4, 8, 2}, CsvDialect{}), (std::vector<Record>{{2, {"1", "2"}}}));
  EXPECT_EQ(ErrorOf([&] {
              CsvReader(text, CsvChunk{4, 99, 2}, CsvDialect{});
            }),
            "CSV chunk [4, 99) does not lie within the text of 12 bytes");
}

TEST(CsvReaderTest, RejectsUnusableDialects) {
  const CsvChunk chunk{0, 1, 1};
  EXPECT_EQ(ErrorOf([&] { CsvReader("a", chunk, CsvDialect{.delimiter = ""}); }), "the CSV delimiter is empty");
  EXPECT_EQ(ErrorOf([&] { CsvReader("a", chunk, CsvDialect{.delimiter = "\""}); }),
            "the CSV delimiter '\"' contains the quote character '\"'");
  EXPECT_EQ(ErrorOf([&] { CsvReader("a", chunk, CsvDialect{.delimiter = ",\n"}); }),
            "the CSV delimiter contains a line break");
}

TEST(CsvHeaderTest, NamesAreTrimmedAndHeaderEndIsAfterTheRecord) {
  const std::string text = "\xef\xbb\xbf id , \"two\nlines\" ,x\r\n1,2,3\n";
  size_t header_end = 0;
  EXPECT_EQ(ReadHeader(text, CsvDialect{}, &header_end), (std::vector<std::string>{"id", "two\nlines", "x"}));
  EXPECT_EQ(header_end, text.find("1,2,3"));
  CsvDialect keep{.trim = false};
  EXPECT_EQ(ReadHeader(text, keep, &header_end), (std::vector<std::string>{"id", "two\nlines", "x"}));
}

TEST(CsvHeaderTest, HeaderWithoutNewline) {
  size_t header_end = 0;
  EXPECT_EQ(ReadHeader("a;b", CsvDialect{.delimiter = ";"}, &header_end), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(header_end, 3u);
}

TEST(CsvHeaderTest, EmptyFileIsAnError) {
  size_t header_end = 0;
  EXPECT_EQ(ErrorOf([&] { ReadHeader("", CsvDialect{}, &header_end); }), "file is empty");
  EXPECT_EQ(ErrorOf([&] { ReadHeader("\n  \r\n", CsvDialect{}, &header_end, "x.csv"); }), "'x.csv': file is empty");
}

TEST(CsvSplitTest, ChunksStartAtRecordsAndCoverTheText) {
  const std::string text = "h1,h2\n\"a\nb\nc\",1\n\"x,\"\"\ny\",2\n3,4\n5,\"6\n\"\n7,8";
  for (size_t n = 1; n <= 12; ++n) {
    SCOPED_TRACE(n);
    auto chunks = SplitRecords(text, n, '"');
    ASSERT_FALSE(chunks.empty());
    EXPECT_LE(chunks.size(), n);
    EXPECT_EQ(chunks.front().begin, 0u);
    EXPECT_EQ(chunks.back().end, text.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_LT(chunks[i].begin, chunks[i].end);
      if (i > 0) {
        EXPECT_EQ(chunks[i].begin, chunks[i - 1].end);
        // Only these offsets start records; the others follow newlines inside quotes.
        EXPECT_TRUE(chunks[i].begin == 6 || chunks[i].begin == 16 || chunks[i].begin == 27 || chunks[i].begin == 31 ||
                    chunks[i].begin == 38)
            << chunks[i].begin;
      }
      size_t newlines = 0;
      for (size_t j = 0; j < chunks[i].begin; ++j) newlines += text[j] == '\n';
      EXPECT_EQ(chunks[i].first_line, newlines + 1);
    }
  }
  EXPECT_EQ(SplitRecords(text, 1000, '"').size(), 6u);
}

TEST(CsvSplitTest, EmptyTextAndStartOffset) {
  auto empty = SplitRecords("", 4, '"');
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].begin, 0u);
  EXPECT_EQ(empty[0].end, 0u);
  EXPECT_EQ(empty[0].first_line, 1u);

  const std::string text = "a,\"b\nc\"\n1,2\n3,4\n5,6\n";
  size_t header_end = 0;
  ReadHeader(text, CsvDialect{}, &header_end);
  auto chunks = SplitRecords(text, 3, '"', header_end);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].begin, header_end);
  EXPECT_EQ(chunks[0].first_line, 3u);
  EXPECT_EQ(ReadChunk(text, chunks[1], CsvDialect{}), (std::vector<Record>{{4, {"3", "4"}}}));
  EXPECT_EQ(ReadChunk(text, chunks[2], CsvDialect{}), (std::vector<Record>{{5, {"5", "6"}}}));
}

TEST(CsvSplitTest, UnterminatedQuoteIsReportedFromTheLastChunk) {
  const std::string text = "1,2\n3,4\n5,\"6\n7,8\n9,10\n";
  auto chunks = SplitRecords(text, 4, '"');
  ASSERT_EQ(chunks.size(), 2u);  // nothing after the open quote can start a record
  EXPECT_EQ(chunks[1].begin, 8u);
  EXPECT_EQ(chunks[1].end, text.size());
  EXPECT_EQ(ErrorOf([&] { ReadChunk(text, chunks[1], CsvDialect{}); }),
            "line 3: a quoted field opened here is never closed");
}

// Random CSV with every construct the reader handles, together with the records it must produce.
struct GeneratedCsv {
  std::string text;
  std::vector<Record> records;
};

GeneratedCsv GenerateCsv(uint32_t seed, size_t rows, const std::string& delimiter) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::string plain_chars = "abcxyz0123456789.-_ ";
  const std::vector<std::string> quoted_pieces = {"a", "b", "7", ",", ", ", "\n", "\r\n", "\"", " ", "\t", "'"};
  GeneratedCsv csv;
  size_t line = 1;
  for (size_t r = 0; r < rows; ++r) {
    // Blank lines between records, of every kind the reader skips.
    while (pick(6) == 0) {
      const char* blanks[] = {"\n", "\r\n", "  \n", "\t \r\n"};
      csv.text += blanks[pick(4)];
      ++line;
    }
    Record record;
    record.line = line;
    const size_t fields = 1 + pick(5);
    for (size_t f = 0; f < fields; ++f) {
      if (f > 0) csv.text += delimiter;
      std::string value;
      if (pick(3) == 0 || fields == 1) {
        // Quoted: anything goes inside; blanks outside the quotes are ignored.
        const size_t pieces = pick(6);
        for (size_t i = 0; i < pieces; ++i) value += quoted_pieces[pick(quoted_pieces.size())];
        std::string escaped;
        for (char c : value) {
          escaped += c;
          if (c == '"') escaped += '"';
          if (c == '\n') ++line;
        }
        csv.text += std::string(pick(2), ' ') + "\"" + escaped + "\"" + std::string(pick(2), ' ');
      } else {
        const size_t size = pick(8);
        for (size_t i = 0; i < size; ++i) value += plain_chars[pick(plain_chars.size())];
        // Blanks around the value are trimmed away, but spaces inside it stay.
        csv.text += std::string(pick(3), ' ') + value + std::string(pick(2), '\t');
        while (!value.empty() && value.back() == ' ') value.pop_back();
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      }
      record.fields.push_back(value);
    }
    csv.records.push_back(std::move(record));
    const bool last = r + 1 == rows;
    if (!last || pick(2) == 0) {
      csv.text += pick(2) == 0 ? "\r\n" : "\n";
      ++line;
    }
  }
  return csv;
}

TEST(CsvSplitTest, AnySplitReadsTheSameRecordsAsOneChunk) {
  SetThreads(3);
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const std::string delimiter = seed % 4 == 0 ? ", " : seed % 4 == 1 ? ";" : ",";
    CsvDialect dialect{.delimiter = delimiter};
    GeneratedCsv csv = GenerateCsv(seed, 20 + seed * 7, delimiter);
    SCOPED_TRACE(testing::Message() << "seed " << seed << "\n" << csv.text);
    const std::vector<Record> whole = ReadAll(csv.text, dialect);
    ASSERT_EQ(whole, csv.records);
    for (size_t n = 1; n <= 7; ++n) {
      SCOPED_TRACE(n);
      auto chunks = SplitRecords(csv.text, n, dialect.quote);
      ASSERT_GE(chunks.size(), 1u);
      ASSERT_LE(chunks.size(), n);
      if (n > 1) {
        EXPECT_GT(chunks.size(), 1u);
      }
      // One reader per chunk, in parallel as callers use them.
      std::vector<std::vector<Record>> parts(chunks.size());
      ParallelForBlocks(chunks.size(),
                        [&](size_t block, int) { parts[block] = ReadChunk(csv.text, chunks[block], dialect); });
      std::vector<Record> joined;
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (i > 0) {
          ASSERT_EQ(chunks[i].begin, chunks[i - 1].end);
        }
        joined.insert(joined.end(), parts[i].begin(), parts[i].end());
      }
      EXPECT_EQ(chunks.back().end, csv.text.size());
      EXPECT_EQ(joined, whole);
    }
  }
}

}  // namespace
}  // namespace mtrec
