// A first schema from a sample of a CSV file, for `mtrec init`: the delimiter, whether the first row is a header,
// and how each column should be read (a number, a category, an id, several values in one field) or why it is
// left out (a date, one value on every row, a different value on nearly every row), each with its reason in words.
//
//   CsvSample sample = ReadCsvSample("your.csv.gz", SampleOptions{});   // delimiter and header found from the text
//   for (const ColumnSample& column : sample.columns) {
//     ColumnSchema schema = InferColumn(column, InferenceContext{.file_rows = sample.file_rows});
//     fmt::print("{}: {} ({})\n", schema.name, ColumnKindName(schema.kind), schema.reason);
//   }
//
// Everything is decided from each column's distinct values and their counts in the sample, so a sample spread
// over the file costs memory in distinct values, not in rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mtrec {

// How a column is read, or why it is not. A closed set with one name table (ColumnKindName).
enum class ColumnKind : uint8_t {
  kNumeric = 0,      // numbers: standardised (log1p for a long right tail), plus equal-frequency buckets
  kCategorical = 1,  // a vocabulary of its values
  kId = 2,           // many values (users, items): a min-count vocabulary or hashing
  kMultiValued = 3,  // several values in one field, split at a separator and pooled
  kDate = 4,         // dates or times: left out, the config has no calendar features
  kConstant = 5,     // one value on every row: left out
  kUnique = 6,       // a different value on (nearly) every row, a row key or free text: left out
  kEmpty = 7,        // missing on every row: left out
};
inline constexpr int kColumnKindCount = 8;
const char* ColumnKindName(ColumnKind kind);
// Whether columns of this kind become no feature.
bool IsLeftOut(ColumnKind kind);

// The distinct values of one column in the sample with their row counts, most frequent first (ties by value),
// as the CSV reader gives them (trimmed).
using ValueCounts = std::vector<std::pair<std::string, int64_t>>;

struct ColumnSample {
  std::string name;
  ValueCounts values;
  int64_t rows = 0;  // sampled rows, the sum of the counts
};

enum class HeaderMode : uint8_t { kAuto, kYes, kNo };

struct SampleOptions {
  std::string delimiter;  // empty: the one of ',', '\t', ';', '|' that splits the first lines evenly
  HeaderMode header = HeaderMode::kAuto;
  std::vector<std::string> columns;  // names of the columns when the file has no header; empty: c0, c1, ...
  int64_t sample_rows = 100000;      // rows read, spread over the file in equal parts
  std::vector<std::string> na_values = {"", "NA", "NaN", "nan", "null", "NULL"};  // data.na_values' default
};

struct CsvSample {
  std::string path;
  std::string delimiter;
  bool delimiter_sniffed = false;
  bool header = true;
  std::string header_reason;     // why the first row was or was not taken as the header
  bool names_generated = false;  // no header and no names given: c0, c1, ...
  std::vector<ColumnSample> columns;
  int64_t sampled_rows = 0;
  int64_t file_rows = 0;  // data rows in the whole file (line breaks counted, so about)
};

// Reads `path` (plain, .gz, .xz or .zst, as the rest of mtrec), finds the delimiter and the header as asked and
// counts each column's values over up to options.sample_rows rows taken from equal parts of the file. Throws Error
// for a missing or empty file, a ragged sampled row (file:line) or --columns of the wrong length.
CsvSample ReadCsvSample(const std::string& path, const SampleOptions& options);

// The delimiter among ',', '\t', ';' and '|' that cuts the first lines of `text` into the same number of fields (the
// most fields when several do); ',' when none does.
std::string SniffDelimiter(std::string_view text);

struct HeaderGuess {
  bool header = true;
  std::string reason;
};

// Whether `first_row` holds column names rather than data, judged against the values of the rows below it: a word
// above a column of numbers, or a word that never occurs in a column whose values repeat, says header; a number
// above numbers, or a value seen again below, says data. With no evidence either way: a header.
HeaderGuess GuessHeader(const std::vector<std::string>& first_row, const std::vector<ColumnSample>& below,
                        const std::vector<std::string>& na_values);

struct InferenceContext {
  int64_t file_rows = 0;        // rows of the whole file, to extrapolate distinct values from the sample
  std::string delimiter = ",";  // never taken as a separator inside a field
  std::vector<std::string> na_values = SampleOptions().na_values;
};

struct ColumnSchema {
  std::string name;
  ColumnKind kind = ColumnKind::kCategorical;
  std::string reason;  // one line: what was seen and what is done with it
  int64_t rows = 0;
  int64_t missing = 0;   // rows with an NA spelling (data.na_values or na_spellings)
  int64_t distinct = 0;  // distinct non-missing values in the sample
  // kNumeric
  bool integer = false;
  double min = 0.0;
  double max = 0.0;
  bool log1p = false;
  int64_t buckets = 0;                    // > 0: an equal-frequency bucket copy with this many buckets
  std::vector<std::string> na_spellings;  // NA-like text among the numbers ("?", "-"), for data.na_values
  int64_t na_spelling_rows = 0;
  // kCategorical, kId, kMultiValued
  int64_t min_count = 1;
  int64_t hash_buckets = 0;
  std::string separator;  // kMultiValued
};

// How to read one column, from its sampled values.
ColumnSchema InferColumn(const ColumnSample& column, const InferenceContext& context);

// Whether `text` reads as a date, a time or a date and time ("2024-03-01", "01/03/2024 10:15", "10:15:00").
bool LooksLikeDate(std::string_view text);

// A config-friendly name for a column: lowercase, runs of other characters than letters and digits as '_'
// ("marital stat" -> "marital_stat", "Veteran's admin" -> "veteran_s_admin").
std::string FeatureNameOf(std::string_view column);

}  // namespace mtrec
