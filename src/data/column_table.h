// A data file parsed once into typed columns: numbers as float (NaN = missing), categorical text as codes into a
// per-column dictionary (first-appearance order, so the result does not depend on how many threads parsed it),
// multi-valued text as codes plus row offsets. Only the requested columns are kept. The table can be saved as a
// columnar binary cache and memory-mapped back, so a second run skips CSV parsing.
//
//   std::vector<ColumnRequest> requests = {{"price", ColumnType::kNumeric}, {"city", ColumnType::kCategorical}};
//   ColumnTable table = LoadTable("train.csv", config.data, requests);
//   const Column& price = table.Get("price", ColumnType::kNumeric);
//   float first = price.numbers[0];
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"

namespace mtrec {

class Communicator;

enum class ColumnType : uint8_t { kNumeric = 0, kCategorical = 1, kMultiCategorical = 2 };
const char* ColumnTypeName(ColumnType type);

struct ColumnRequest {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  std::string separator;      // kMultiCategorical: between the values of one field
  bool required = true;       // absent optional columns read as all-missing (labels at prediction time)
  bool binary_label = false;  // kNumeric: only 0, 1 or missing are valid
  std::string role;           // for messages: "feature 'price'", "label of task 'click'"
  bool label = false;         // a task's label column: a file to score may leave it out
  bool count_label = false;   // kNumeric: only values >= 0 or missing are valid (count and ziln losses)
};

// Adds a request to read `column` as text (a grouping or slicing column of a run), unless it is empty or already
// read as one value a row (a feature's or label's column serves as it is).
void AddColumnRequest(std::vector<ColumnRequest>& requests, const std::string& column, const char* role);

// A read-only array that either owns its elements or views memory owned by the table (a mapped cache file).
template <typename T>
class ColumnArray {
 public:
  void Own(std::vector<T> values) {
    owned_ = std::move(values);
    data_ = owned_.data();
    size_ = owned_.size();
  }
  void View(const T* data, size_t size) {
    owned_.clear();
    data_ = data;
    size_ = size;
  }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  std::vector<T> owned_;
  const T* data_ = nullptr;
  size_t size_ = 0;
};

struct Column {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  bool present = true;                // false: an optional column the file does not have
  ColumnArray<float> numbers;         // kNumeric: one per row
  ColumnArray<uint32_t> codes;        // kCategorical: one per row; kMultiCategorical: all values, row after row
  ColumnArray<uint64_t> offsets;      // kMultiCategorical: rows + 1
  ColumnArray<uint64_t> dictionary_offsets;  // dictionary entry i is blob[offsets[i], offsets[i+1])
  ColumnArray<char> dictionary_blob;

  size_t DictionarySize() const { return dictionary_offsets.size() ? dictionary_offsets.size() - 1 : 0; }
  std::string_view Value(uint32_t code) const {
    return std::string_view(dictionary_blob.data() + dictionary_offsets[code],
                            dictionary_offsets[code + 1] - dictionary_offsets[code]);
  }
};

// What reading a file found besides its rows: skipped bad rows (with on_error = "skip").
struct ReadReport {
  std::string path;
  int64_t rows = 0;
  int64_t skipped = 0;
  std::vector<std::string> skipped_examples;  // the first few, with file:line and reason
  bool from_cache = false;
};

// A column already in memory (the Python API's pandas DataFrame or dict of numpy arrays): numbers (NaN: missing)
// or text, one value a row.
struct InputColumn {
  std::string name;
  bool is_text = false;
  std::vector<double> numbers;
  std::vector<std::string> texts;
  size_t size() const { return is_text ? texts.size() : numbers.size(); }
};

class ColumnTable {
 public:
  int64_t rows() const { return rows_; }
  const Column& Get(const std::string& name, ColumnType type) const;
  const Column* Find(const std::string& name, ColumnType type) const;
  // Physical line of each row in its source file, for messages from later stages.
  const ColumnArray<uint32_t>& lines() const { return lines_; }
  const std::string& path() const { return path_; }
  const ReadReport& report() const { return report_; }

  // Keeps the rows listed (in that order); used to split one file into validation and test parts.
  ColumnTable Select(const std::vector<int64_t>& rows) const;
  // The rows of several tables read with the same requests as one table (`mtrec backtest`'s data: train, valid
  // and test files together): `rows` lists (table, row) pairs in the order wanted. Text columns get one merged
  // dictionary in first-appearance order; a column absent from one table is absent from the result. The result's
  // path is `path`; its lines are each row's line in its own file.
  static ColumnTable Concat(const std::vector<const ColumnTable*>& tables,
                            const std::vector<std::pair<uint32_t, int64_t>>& rows, const std::string& path);
  // Adds a numeric column computed from the others (features/time_series.h: derived columns); one value per row,
  // and no numeric column of that name yet.
  void AddNumeric(const std::string& name, std::vector<float> values);

 private:
  friend struct TableParser;
  friend ColumnTable LoadTable(const std::string&, const DataConfig&, const std::vector<ColumnRequest>&);
  friend ColumnTable TableFromColumns(const std::vector<InputColumn>&, const std::string&, const DataConfig&,
                                      const std::vector<ColumnRequest>&);
  friend ColumnTable DealBlocks(ColumnTable, int64_t, Communicator&, int64_t);
  friend ColumnTable LoadTableShare(const std::string&, const DataConfig&, const std::vector<ColumnRequest>&,
                                    Communicator&);
  friend std::optional<ColumnTable> LoadCachedTable(const std::string&, const DataConfig&,
                                                    const std::vector<ColumnRequest>&, std::string*);
  friend std::string SerializeTable(const ColumnTable&);
  friend ColumnTable DeserializeTable(std::shared_ptr<const void>, const char*, size_t, const std::string&);

  int64_t rows_ = 0;
  std::vector<Column> columns_;
  ColumnArray<uint32_t> lines_;
  std::string path_;
  ReadReport report_;
  std::shared_ptr<const void> backing_;  // keeps a mapped cache file alive while columns view it
};

// A value of a text column and how many rows hold it.
struct ValueCount {
  std::string value;
  int64_t rows = 0;
};

// Every value of a categorical column with its row count, most rows first (ties in first-appearance order).
std::vector<ValueCount> ValueCountsOf(const Column& column);

// Every rank's value counts summed, on every rank; the values in first-appearance order over the ranks' lists in
// rank order (each list in its own first-appearance order), so consecutive parts of one file give the whole file's
// order. A collective; a world of one returns `counts` as they are.
std::vector<ValueCount> SumOverRanks(std::vector<ValueCount> counts, Communicator& world);

// The first `limit` of `counts` for a message: "Never-married" (41), "Divorced" (7), ... (12 values in all).
std::string FormatValueCounts(const std::vector<ValueCount>& counts, size_t limit = 5);

// Each row's day (days since 1970-01-01, common/dates.h) from a column read as text yyyy-mm-dd; a row whose value
// is missing or not a date stops the run with its file:line, the column and `role` (e.g. "time_series.date").
std::vector<int32_t> DaysOfColumn(const ColumnTable& table, const std::string& column, const std::string& role);

// Parses `path` (CSV/TSV, compressed or not) in parallel into the requested columns; with data.cache, reuses or
// writes the columnar cache. Bad rows: an Error with file:line and column (on_error = "fail") or skipped and
// counted in the report (on_error = "skip").
ColumnTable LoadTable(const std::string& path, const DataConfig& data, const std::vector<ColumnRequest>& requests);

// The table LoadTable would read from a CSV file holding the same values, without one: a numeric request of a text
// column parses its text (data.na_values are missing), a text request of a numeric column takes each number as the
// file would spell it (whole numbers without a decimal point, others in their shortest exact form, NaN as an empty
// field); the same checks of labels and the same data.on_error for bad rows. `name` stands for the file in
// messages, and a row's "line" is its 1-based position ("DataFrame:12").
ColumnTable TableFromColumns(const std::vector<InputColumn>& columns, const std::string& name, const DataConfig& data,
                             const std::vector<ColumnRequest>& requests);

// This rank's share of `path` under mpirun, read without the rest of the file: the file's body cut into
// world.size() equal byte ranges, each moved on to the next record boundary (quoted newlines counted over the
// ranks), and the records that start in rank r's range parsed with their true line numbers. A plain file is mapped,
// so a rank brings only its range (and the header) into memory; a compressed one is decompressed whole by each
// rank, which still parses only its range. With a dataset cache, each rank keeps its range of the cache's rows; no
// cache is written. The ranges together hold the file's rows in order, as LoadTable reads them (bad rows skipped or
// failed alike). The report counts the whole file's rows and skipped rows, with examples from every rank. A
// collective: every rank calls it.
ColumnTable LoadTableShare(const std::string& path, const DataConfig& data, const std::vector<ColumnRequest>& requests,
                           Communicator& world);

// Whether a dataset cache is large enough next to its data file to be announced: a compressed file that inflates
// many times over writes a cache of about its decompressed size beside it (data.cache = false avoids it). Above
// kLargeCacheRatio times the file and kLargeCacheBytes, LoadTable logs the cache's size and path.
inline constexpr uint64_t kLargeCacheRatio = 4;
inline constexpr uint64_t kLargeCacheBytes = uint64_t{64} << 20;
bool IsLargeCache(uint64_t data_file_bytes, uint64_t cache_bytes);

// The columnar cache format (exposed for tests).
std::string SerializeTable(const ColumnTable& table);
ColumnTable DeserializeTable(std::shared_ptr<const void> backing, const char* bytes, size_t size,
                             const std::string& path);

}  // namespace mtrec
