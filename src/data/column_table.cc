#include "data/column_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <deque>
#include <filesystem>
#include <limits>
#include <optional>
#include <unordered_map>

#include "common/binary.h"
#include "common/checksum.h"
#include "common/communicator.h"
#include "common/dates.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/strings.h"
#include "common/threads.h"
#include "data/csv.h"
#include "data/input_file.h"
#include "data/string_index.h"

namespace mtrec {
namespace {

constexpr char kCacheMagic[8] = {'M', 'T', 'R', 'C', 'C', 'O', 'L', '1'};
constexpr uint32_t kCacheVersion = 1;

// Where one requested column sits in the file, and its parsed values for one chunk of rows.
struct ChunkColumn {
  std::vector<float> numbers;
  std::vector<uint32_t> codes;
  std::vector<uint64_t> counts;  // multi-valued: values per row
  StringIndex dictionary;  // local dictionary in first-appearance order
};

struct ChunkResult {
  std::vector<ChunkColumn> columns;
  std::vector<uint32_t> lines;
  std::deque<std::string> owned;  // text of fields that do not point into the file (unescaped quotes)
  int64_t skipped = 0;
  std::vector<std::string> skipped_examples;
  std::string error;  // first fatal error (on_error = "fail")
  int text_label = -1;  // the request whose binary label held text, when that is the error
};

// data.na_values, asked about every numeric and multi-valued field: a field whose first byte (or emptiness) no
// missing-value spelling shares is answered without a string comparison, which is nearly every number.
class NaValues {
 public:
  explicit NaValues(const std::vector<std::string>& values) : values_(values) {
    for (const std::string& value : values) {
      if (value.empty()) {
        empty_ = true;
      } else {
        first_[static_cast<unsigned char>(value[0])] = true;
      }
    }
  }
  bool Contains(std::string_view field) const {
    if (field.empty()) return empty_;
    if (!first_[static_cast<unsigned char>(field[0])]) return false;
    for (const std::string& value : values_) {
      if (field == value) return true;
    }
    return false;
  }

 private:
  const std::vector<std::string>& values_;
  bool empty_ = false;
  std::array<bool, 256> first_{};
};

uint32_t Intern(ChunkColumn& column, ChunkResult& chunk, std::string_view value, std::string_view text) {
  const bool inside = value.data() >= text.data() && value.data() + value.size() <= text.data() + text.size();
  if (inside) return column.dictionary.Intern(value);
  // Unescaped text lives in a temporary: keep a copy the dictionary can point to, unless the value is known.
  const uint32_t known = column.dictionary.Find(value);
  if (known != StringIndex::kAbsent) return known;
  chunk.owned.emplace_back(value);
  return column.dictionary.Intern(chunk.owned.back());
}

// Why `value` cannot be a value of the requested column (a binary label other than 0 or 1, a negative label of a
// count loss), or nullptr when it can: the reason without the value, which each reader shows as it read it.
const char* LabelValueProblem(const ColumnRequest& request, double value) {
  if (request.binary_label && value != 0.0 && value != 1.0) return "a binary label must be 0 or 1";
  if (request.count_label && value < 0.0) return "its loss needs values >= 0";
  return nullptr;
}

// Spellings of "unknown" common in public data sets (the UCI files write "?"): a numeric field holding one that
// data.na_values lacks is most likely a missing value, and the message says how to read it as one.
std::string MissingValueHint(std::string_view field, const std::vector<std::string>& na_values) {
  static constexpr std::string_view kSpellings[] = {"?",    "-",       "--",      ".",         "na",    "n/a",
                                                    "nan",  "null",    "none",    "nil",       "#n/a",  "(null)",
                                                    "missing", "unknown", "undefined", "not available"};
  if (std::find(std::begin(kSpellings), std::end(kSpellings), AsciiLower(field)) == std::end(kSpellings)) return "";
  std::string now;
  for (const auto& value : na_values) now += fmt::format("{}\"{}\"", now.empty() ? "" : ", ", value);
  return fmt::format("; if it marks a missing value, add \"{}\" to data.na_values (now [{}])", field, now);
}

// The hint of a text label on a binary task without a rule: the rule that would read it, and the values the
// column holds, counted over the whole file (this runs only on the way to the error).
std::string TextLabelHint(std::string_view body, size_t body_start, const CsvDialect& dialect, size_t position,
                          size_t fields) {
  // Owned strings: a field with doubled quotes lives in the reader's scratch only until the next record.
  std::unordered_map<std::string, size_t> index;
  std::vector<ValueCount> counts;
  CsvReader reader(body, CsvChunk{body_start, body.size(), 1}, dialect);
  try {
    while (reader.Next()) {
      if (reader.fields().size() != fields) continue;
      auto [it, added] = index.emplace(reader.fields()[position], counts.size());
      if (added) counts.push_back({it->first, 0});
      ++counts[it->second].rows;
    }
  } catch (const Error&) {
    // A malformed record later in the file ends the count early; the values seen so far still help.
  }
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.rows > b.rows; });
  // The rarer of the two most frequent values is the likelier positive class (income > 50K, a purchase).
  const std::string example = counts.size() > 1 ? counts[1].value : counts.empty() ? "..." : counts[0].value;
  return fmt::format("; a binary label is 0 or 1: to read text, give the task a rule, positive = [\"{}\"] or "
                     "equals = \"{}\" (the values that mean 1); the column's most frequent values: {}",
                     example, example, FormatValueCounts(counts));
}

uint64_t CacheKey(const std::string& path, const DataConfig& data, const std::vector<ColumnRequest>& requests) {
  struct stat st;
  // A FIFO or device has no stable content to key a cache on: no cache.
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  BinaryWriter w;
  w.Pod<uint64_t>(static_cast<uint64_t>(st.st_size));
  w.Pod<int64_t>(st.st_mtim.tv_sec);
  w.Pod<int64_t>(st.st_mtim.tv_nsec);
  w.Pod<uint32_t>(kCacheVersion);
  w.String(data.delimiter);
  w.Pod<uint8_t>(data.header);
  w.Pod<uint8_t>(data.trim);
  w.String(NameOf(data.on_error));  // the name, as caches written before the enum keyed on
  for (const auto& c : data.columns) w.String(c);
  w.Pod<uint8_t>(0xff);
  for (const auto& na : data.na_values) w.String(na);
  w.Pod<uint8_t>(0xfe);
  for (const auto& r : requests) {
    w.String(r.name);
    w.Pod<uint8_t>(static_cast<uint8_t>(r.type));
    w.String(r.separator);
    w.Pod<uint8_t>(r.required);
    w.Pod<uint8_t>(r.binary_label | (r.count_label << 1));  // the same byte as before for requests without counts
  }
  uint64_t h = Crc32(w.str().data(), w.size());
  return Mix64(h ^ (static_cast<uint64_t>(Crc32(w.str().data(), w.size(), 0x5bd1e995u)) << 32));
}

std::string CachePath(const std::string& path, const DataConfig& data, uint64_t key) {
  namespace fs = std::filesystem;
  fs::path source(path);
  fs::path dir = data.cache_dir.empty() ? source.parent_path() / ".mtrec-cache" : fs::path(data.cache_dir);
  return (dir / fmt::format("{}.{:016x}.mtcol", source.filename().string(), key)).string();
}

// Whether a cache may be created under `folder`: its mode must allow writing. Checked on the mode bits rather
// than with access(), which says yes to root even for a folder deliberately made read-only (shared datasets).
bool FolderIsWritable(const std::filesystem::path& folder) {
  struct stat st;
  const std::string path = folder.empty() ? std::string(".") : folder.string();
  if (::stat(path.c_str(), &st) != 0) return true;  // does not exist yet: create_directories will tell
  return (st.st_mode & 0222) != 0 && ::access(path.c_str(), W_OK) == 0;
}

// Maps a cache file read-only; nullptr when it cannot.
std::shared_ptr<const void> MapFile(const std::string& path, size_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return nullptr;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size == 0) {
    ::close(fd);
    return nullptr;
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return nullptr;
  *size = static_cast<size_t>(st.st_size);
  size_t length = *size;
  return std::shared_ptr<const void>(p, [length](const void* q) { ::munmap(const_cast<void*>(q), length); });
}

// The column names of a file without a header. A file to score usually lacks the label columns that data.columns
// names for training: when its first record is short by exactly the optional columns (labels, oracles), or by the
// labels alone, those columns are taken to be absent from the file and read as missing.
std::vector<std::string> ColumnsOfHeaderlessFile(std::string_view text, const CsvDialect& dialect,
                                                 const std::string& path, const std::vector<std::string>& names,
                                                 const std::vector<ColumnRequest>& requests) {
  const size_t fields = ReadHeader(text, dialect, nullptr, path).size();
  if (fields == names.size()) return names;
  auto without = [&](bool oracles) {
    std::vector<std::string> kept;
    std::vector<std::string> dropped;
    for (const auto& name : names) {
      bool absent = false;
      for (const auto& request : requests) {
        if (request.name != name) continue;
        if (request.required) {
          absent = false;
          break;
        }
        absent = absent || oracles || request.label;
      }
      (absent ? dropped : kept).push_back(name);
    }
    return std::make_pair(kept, dropped);
  };
  for (bool oracles : {true, false}) {
    auto [kept, dropped] = without(oracles);
    if (!dropped.empty() && kept.size() == fields) {
      LogInfo("'{}' has {} fields a row, not the {} of data.columns: read without {}", path, fields, names.size(),
              QuotedList(dropped));
      return kept;
    }
  }
  const auto [kept, dropped] = without(true);
  Fail("'{}':1: expected {} fields (data.columns){}, found {}", path, names.size(),
       dropped.empty() ? std::string()
                       : fmt::format(" or {} (without the columns {})", kept.size(), QuotedList(dropped)),
       fields);
}

}  // namespace

void AddColumnRequest(std::vector<ColumnRequest>& requests, const std::string& column, const char* role) {
  if (column.empty()) return;
  for (const auto& request : requests) {
    if (request.name == column && request.type != ColumnType::kMultiCategorical) return;
  }
  ColumnRequest request;
  request.name = column;
  request.type = ColumnType::kCategorical;
  request.role = role;
  requests.push_back(std::move(request));
}

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kNumeric:
      return "numeric";
    case ColumnType::kCategorical:
      return "categorical";
    case ColumnType::kMultiCategorical:
      return "multi_categorical";
  }
  return "?";
}

const Column* ColumnTable::Find(const std::string& name, ColumnType type) const {
  for (const auto& column : columns_) {
    if (column.name == name && column.type == type) return &column;
  }
  return nullptr;
}

const Column& ColumnTable::Get(const std::string& name, ColumnType type) const {
  const Column* column = Find(name, type);
  MTREC_CHECK(column != nullptr, "'{}': column '{}' was not read as {}", path_, name, ColumnTypeName(type));
  return *column;
}

void ColumnTable::AddNumeric(const std::string& name, std::vector<float> values) {
  MTREC_CHECK(static_cast<int64_t>(values.size()) == rows_, "'{}': column '{}' has {} values for {} rows", path_, name,
              values.size(), rows_);
  MTREC_CHECK(Find(name, ColumnType::kNumeric) == nullptr, "'{}': column '{}' is read as a number already", path_,
              name);
  Column column;
  column.name = name;
  column.type = ColumnType::kNumeric;
  column.numbers.Own(std::move(values));
  columns_.push_back(std::move(column));
}

std::vector<int32_t> DaysOfColumn(const ColumnTable& table, const std::string& column, const std::string& role) {
  const Column* text = table.Find(column, ColumnType::kCategorical);
  MTREC_CHECK(text != nullptr, "{}: {} column '{}' must be read as text yyyy-mm-dd, but a feature reads it as {}",
              table.path(), role, column, table.Find(column, ColumnType::kNumeric) ? "a number" : "several values");
  constexpr int32_t kInvalid = std::numeric_limits<int32_t>::min();
  std::vector<int32_t> of_code(text->DictionarySize());
  for (size_t code = 0; code < of_code.size(); ++code) {
    of_code[code] = ParseIsoDate(text->Value(static_cast<uint32_t>(code))).value_or(kInvalid);
  }
  std::vector<int32_t> days(table.rows());
  for (int64_t r = 0; r < table.rows(); ++r) {
    days[r] = of_code[text->codes[r]];
    if (days[r] == kInvalid) {
      Fail("{}:{}: column '{}' ({}) is {}; expected a date yyyy-mm-dd", table.path(), table.lines()[r], column, role,
           Quoted(text->Value(text->codes[r])));
    }
  }
  return days;
}

std::vector<ValueCount> ValueCountsOf(const Column& column) {
  std::vector<int64_t> rows(column.DictionarySize(), 0);
  for (uint32_t code : column.codes) ++rows[code];
  std::vector<ValueCount> counts;
  for (size_t code = 0; code < rows.size(); ++code) {
    if (rows[code] > 0) counts.push_back({std::string(column.Value(static_cast<uint32_t>(code))), rows[code]});
  }
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.rows > b.rows; });
  return counts;
}

std::vector<ValueCount> SumOverRanks(std::vector<ValueCount> counts, Communicator& world) {
  if (!world.distributed()) return counts;
  BinaryWriter out;
  out.Pod<uint64_t>(counts.size());
  for (const auto& value : counts) {
    out.String(value.value);
    out.Pod(value.rows);
  }
  std::vector<ValueCount> sums;
  std::unordered_map<std::string, size_t> index;
  for (const std::string& part : world.AllGather(out.str())) {
    BinaryReader in(part.data(), part.size(), "a rank's value counts");
    for (uint64_t i = in.Pod<uint64_t>(); i > 0; --i) {
      std::string value = in.String();
      const int64_t rows = in.Pod<int64_t>();
      auto [it, added] = index.emplace(value, sums.size());
      if (added) sums.push_back({std::move(value), 0});
      sums[it->second].rows += rows;
    }
  }
  return sums;
}

std::string FormatValueCounts(const std::vector<ValueCount>& counts, size_t limit) {
  std::string out;
  for (size_t i = 0; i < counts.size() && i < limit; ++i) {
    out += fmt::format("{}\"{}\" ({})", i ? ", " : "", counts[i].value, counts[i].rows);
  }
  if (counts.size() > limit) out += fmt::format(", ... ({} values in all)", counts.size());
  return out.empty() ? "none" : out;
}

ColumnTable ColumnTable::Select(const std::vector<int64_t>& rows) const {
  ColumnTable out;
  out.rows_ = static_cast<int64_t>(rows.size());
  out.path_ = path_;
  out.report_ = report_;
  out.report_.rows = out.rows_;
  std::vector<uint32_t> lines;
  for (int64_t r : rows) lines.push_back(lines_[r]);
  out.lines_.Own(std::move(lines));
  for (const auto& column : columns_) {
    Column c;
    c.name = column.name;
    c.type = column.type;
    c.present = column.present;
    c.dictionary_offsets.Own(std::vector<uint64_t>(column.dictionary_offsets.begin(), column.dictionary_offsets.end()));
    c.dictionary_blob.Own(std::vector<char>(column.dictionary_blob.begin(), column.dictionary_blob.end()));
    if (column.type == ColumnType::kNumeric) {
      std::vector<float> numbers;
      for (int64_t r : rows) numbers.push_back(column.numbers[r]);
      c.numbers.Own(std::move(numbers));
    } else if (column.type == ColumnType::kCategorical) {
      std::vector<uint32_t> codes;
      for (int64_t r : rows) codes.push_back(column.codes[r]);
      c.codes.Own(std::move(codes));
    } else {
      std::vector<uint32_t> codes;
      std::vector<uint64_t> offsets = {0};
      for (int64_t r : rows) {
        for (uint64_t i = column.offsets[r]; i < column.offsets[r + 1]; ++i) codes.push_back(column.codes[i]);
        offsets.push_back(codes.size());
      }
      c.codes.Own(std::move(codes));
      c.offsets.Own(std::move(offsets));
    }
    out.columns_.push_back(std::move(c));
  }
  return out;
}

namespace {

// A text column's codes (and a multi-valued one's row offsets) with the dictionary they index.
void SetTextColumn(Column& column, const StringIndex& dictionary, std::vector<uint32_t> codes,
                   std::vector<uint64_t> offsets) {
  std::vector<uint64_t> dictionary_offsets = {0};
  std::vector<char> blob;
  for (std::string_view value : dictionary.values()) {
    blob.insert(blob.end(), value.begin(), value.end());
    dictionary_offsets.push_back(blob.size());
  }
  column.codes.Own(std::move(codes));
  column.offsets.Own(std::move(offsets));
  column.dictionary_offsets.Own(std::move(dictionary_offsets));
  column.dictionary_blob.Own(std::move(blob));
}

}  // namespace

ColumnTable ColumnTable::Concat(const std::vector<const ColumnTable*>& tables,
                                const std::vector<std::pair<uint32_t, int64_t>>& rows, const std::string& path) {
  MTREC_CHECK(!tables.empty(), "{}: no tables to join", path);
  const ColumnTable& first = *tables.front();
  for (const ColumnTable* table : tables) {
    MTREC_CHECK(table->columns_.size() == first.columns_.size(), "{} and {}: read with other columns, cannot be joined",
                first.path_, table->path_);
    for (size_t c = 0; c < first.columns_.size(); ++c) {
      MTREC_CHECK(table->columns_[c].name == first.columns_[c].name && table->columns_[c].type == first.columns_[c].type,
                  "{} and {}: column {} is '{}' in one and '{}' in the other, cannot be joined", first.path_,
                  table->path_, c, first.columns_[c].name, table->columns_[c].name);
    }
  }
  ColumnTable out;
  out.rows_ = static_cast<int64_t>(rows.size());
  out.path_ = path;
  out.report_.path = path;
  out.report_.rows = out.rows_;
  std::vector<uint32_t> lines;
  lines.reserve(rows.size());
  for (const auto& [t, r] : rows) lines.push_back(tables[t]->lines_[r]);
  out.lines_.Own(std::move(lines));
  for (const ColumnTable* table : tables) {
    out.report_.skipped += table->report_.skipped;
    out.report_.from_cache = out.report_.from_cache || table->report_.from_cache;
  }
  for (size_t c = 0; c < first.columns_.size(); ++c) {
    Column column;
    column.name = first.columns_[c].name;
    column.type = first.columns_[c].type;
    column.present = true;
    for (const ColumnTable* table : tables) column.present = column.present && table->columns_[c].present;
    if (column.type == ColumnType::kNumeric) {
      std::vector<float> numbers;
      numbers.reserve(rows.size());
      for (const auto& [t, r] : rows) numbers.push_back(column.present ? tables[t]->columns_[c].numbers[r] : NAN);
      column.numbers.Own(std::move(numbers));
      out.columns_.push_back(std::move(column));
      continue;
    }
    // Each table's codes mapped into one dictionary, in the order the rows first use them.
    StringIndex merged;
    if (!column.present) merged.Intern("");
    std::vector<std::vector<uint32_t>> remap(tables.size());
    for (size_t t = 0; t < tables.size(); ++t) {
      remap[t].assign(tables[t]->columns_[c].DictionarySize(), StringIndex::kAbsent);
    }
    auto code_of = [&](uint32_t t, uint32_t code) {
      if (!column.present) return uint32_t{0};
      uint32_t& to = remap[t][code];
      if (to == StringIndex::kAbsent) to = merged.Intern(tables[t]->columns_[c].Value(code));
      return to;
    };
    std::vector<uint32_t> codes;
    std::vector<uint64_t> offsets;
    if (column.type == ColumnType::kCategorical) {
      for (const auto& [t, r] : rows) codes.push_back(code_of(t, tables[t]->columns_[c].codes[r]));
    } else {
      offsets.push_back(0);
      for (const auto& [t, r] : rows) {
        const Column& from = tables[t]->columns_[c];
        for (uint64_t i = from.offsets[r]; i < from.offsets[r + 1]; ++i) codes.push_back(code_of(t, from.codes[i]));
        offsets.push_back(codes.size());
      }
    }
    SetTextColumn(column, merged, std::move(codes), std::move(offsets));
    out.columns_.push_back(std::move(column));
  }
  return out;
}

std::string SerializeTable(const ColumnTable& table) {
  BinaryWriter w;
  w.Bytes(std::string_view(kCacheMagic, sizeof(kCacheMagic)));
  w.Pod<uint32_t>(kCacheVersion);
  w.Pod<int64_t>(table.rows_);
  w.Pod<int64_t>(table.report_.skipped);
  w.Pod<uint32_t>(static_cast<uint32_t>(table.report_.skipped_examples.size()));
  for (const auto& example : table.report_.skipped_examples) w.String(example);
  w.Array(table.lines_.data(), table.lines_.size());
  w.Pod<uint32_t>(static_cast<uint32_t>(table.columns_.size()));
  for (const auto& column : table.columns_) {
    w.String(column.name);
    w.Pod<uint8_t>(static_cast<uint8_t>(column.type));
    w.Pod<uint8_t>(column.present);
    w.Array(column.numbers.data(), column.numbers.size());
    w.Array(column.codes.data(), column.codes.size());
    w.Array(column.offsets.data(), column.offsets.size());
    w.Array(column.dictionary_offsets.data(), column.dictionary_offsets.size());
    w.Array(column.dictionary_blob.data(), column.dictionary_blob.size());
  }
  w.Align(8);
  uint32_t crc = Crc32(w.str().data(), w.size());
  w.Pod<uint32_t>(crc);
  return std::move(w.str());
}

ColumnTable DeserializeTable(std::shared_ptr<const void> backing, const char* bytes, size_t size,
                             const std::string& path) {
  MTREC_CHECK(size >= sizeof(kCacheMagic) + 4 && std::memcmp(bytes, kCacheMagic, sizeof(kCacheMagic)) == 0,
              "'{}' is not an mtrec dataset cache", path);
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes + size - 4, 4);
  MTREC_CHECK(Crc32(bytes, size - 4) == stored_crc, "'{}' is damaged (checksum mismatch)", path);
  BinaryReader r(bytes, size - 4, path);
  r.Bytes(sizeof(kCacheMagic));
  uint32_t version = r.Pod<uint32_t>();
  MTREC_CHECK(version == kCacheVersion, "'{}' has cache format {}, this mtrec reads {}", path, version, kCacheVersion);
  ColumnTable table;
  table.backing_ = std::move(backing);
  table.rows_ = r.Pod<int64_t>();
  table.report_.skipped = r.Pod<int64_t>();
  uint32_t examples = r.Pod<uint32_t>();
  for (uint32_t i = 0; i < examples; ++i) table.report_.skipped_examples.push_back(r.String());
  size_t n = 0;
  const uint32_t* lines = r.Array<uint32_t>(&n);
  table.lines_.View(lines, n);
  uint32_t columns = r.Pod<uint32_t>();
  for (uint32_t i = 0; i < columns; ++i) {
    Column c;
    c.name = r.String();
    c.type = static_cast<ColumnType>(r.Pod<uint8_t>());
    c.present = r.Pod<uint8_t>() != 0;
    const float* numbers = r.Array<float>(&n);
    c.numbers.View(numbers, n);
    const uint32_t* codes = r.Array<uint32_t>(&n);
    c.codes.View(codes, n);
    const uint64_t* offsets = r.Array<uint64_t>(&n);
    c.offsets.View(offsets, n);
    const uint64_t* dictionary_offsets = r.Array<uint64_t>(&n);
    c.dictionary_offsets.View(dictionary_offsets, n);
    const char* blob = r.Array<char>(&n);
    c.dictionary_blob.View(blob, n);
    table.columns_.push_back(std::move(c));
  }
  table.report_.rows = table.rows_;
  table.report_.path = path;
  return table;
}

// Parses CSV text into a table; a struct so that it may fill ColumnTable's private members.
struct TableParser {
  // A file's column names, where each requested column sits among them (-1: an absent optional column), and the
  // byte where its records start.
  struct Layout {
    CsvDialect dialect;
    std::vector<std::string> names;
    std::vector<int> positions;
    size_t body_start = 0;
  };
  static Layout ReadLayout(std::string_view text, const std::string& path, const DataConfig& data,
                           const std::vector<ColumnRequest>& requests);
  // The records of text[body.begin, body.end), whose first line is body.first_line (0: counted from the start).
  // `allow_empty`: no rows is a result (one rank's share of a short file), not an error.
  static ColumnTable ParseBody(std::string_view text, const Layout& layout, CsvChunk body, const std::string& path,
                               const DataConfig& data, const std::vector<ColumnRequest>& requests, bool allow_empty);
  static ColumnTable Parse(const std::string& path, const DataConfig& data, const std::vector<ColumnRequest>& requests);
  static ColumnTable ParseShare(const std::string& path, const DataConfig& data,
                                const std::vector<ColumnRequest>& requests, Communicator& world);
};

bool IsLargeCache(uint64_t data_file_bytes, uint64_t cache_bytes) {
  return cache_bytes > kLargeCacheBytes && cache_bytes / kLargeCacheRatio > data_file_bytes;
}

// The table from the dataset cache of `path`, when data.cache is on and a valid cache exists; `*cache_path` is set
// to where the cache belongs whenever there can be one.
std::optional<ColumnTable> LoadCachedTable(const std::string& path, const DataConfig& data,
                                           const std::vector<ColumnRequest>& requests, std::string* cache_path) {
  if (!data.cache) return std::nullopt;
  const uint64_t key = CacheKey(path, data, requests);
  if (key == 0) return std::nullopt;
  *cache_path = CachePath(path, data, key);
  size_t size = 0;
  auto mapped = MapFile(*cache_path, &size);
  if (!mapped) return std::nullopt;
  try {
    const char* bytes = static_cast<const char*>(mapped.get());
    ColumnTable table = DeserializeTable(mapped, bytes, size, *cache_path);
    table.path_ = path;
    table.report_.path = path;
    table.report_.from_cache = true;
    LogDebug("{}: {} rows from the dataset cache {}", path, table.rows(), *cache_path);
    return table;
  } catch (const Error& error) {
    LogInfo("ignoring the dataset cache: {}", error.what());
    return std::nullopt;
  }
}

ColumnTable LoadTable(const std::string& path, const DataConfig& data, const std::vector<ColumnRequest>& requests) {
  std::string cache_path;
  if (auto cached = LoadCachedTable(path, data, requests, &cache_path)) return std::move(*cached);
  ColumnTable table = TableParser::Parse(path, data, requests);
  if (!cache_path.empty() && FolderIsWritable(std::filesystem::path(cache_path).parent_path().parent_path())) {
    try {
      std::filesystem::create_directories(std::filesystem::path(cache_path).parent_path());
      const std::string cache = SerializeTable(table);
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && IsLargeCache(static_cast<uint64_t>(st.st_size), cache.size())) {
        LogInfo(
            "'{}' ({:.1f} MB) inflates to a {:.1f} MB dataset cache, written to '{}' (data.cache = false avoids it)",
            path, static_cast<double>(st.st_size) / 1e6, static_cast<double>(cache.size()) / 1e6, cache_path);
      }
      WriteFileAtomic(cache_path, cache);
    } catch (const std::exception& error) {
      // A read-only data folder is normal (shared datasets); the run goes on without a cache.
      LogDebug("no dataset cache for '{}': {}", path, error.what());
    }
  }
  return table;
}

TableParser::Layout TableParser::ReadLayout(std::string_view text, const std::string& path, const DataConfig& data,
                                            const std::vector<ColumnRequest>& requests) {
  Layout layout;
  CsvDialect& dialect = layout.dialect;
  dialect.delimiter = data.delimiter == "\\t" ? "\t" : data.delimiter;
  dialect.trim = data.trim;

  std::vector<std::string>& names = layout.names;
  size_t& body_start = layout.body_start;
  if (data.header) {
    try {
      names = ReadHeader(text, dialect, &body_start, path);
    } catch (const Error& error) {
      Fail("{}", error.what());
    }
  } else {
    names = data.columns;
    MTREC_CHECK(!text.empty(), "'{}': file is empty", path);
    names = ColumnsOfHeaderlessFile(text, dialect, path, names, requests);
  }

  // A header that names none of the configured columns but holds numbers is the first data row of a file
  // without a header (the UCI files): "did you mean" would only suggest one of its values.
  const bool any_known = std::any_of(requests.begin(), requests.end(), [&](const ColumnRequest& request) {
    return std::find(names.begin(), names.end(), request.name) != names.end();
  });
  const auto numbers = std::count_if(names.begin(), names.end(), [](const std::string& name) {
    return ParseDouble(name).has_value();
  });
  if (data.header && !any_known && numbers > 0 && !requests.empty()) {
    const std::vector<std::string> first(names.begin(), names.begin() + std::min<size_t>(names.size(), 6));
    Fail("'{}' has no column '{}' (needed as {}), nor any other configured column: its first line looks like data, "
         "not column names ({} of its {} fields are numbers: {}{}); if the file has no header, set data.header = "
         "false and name its {} columns in data.columns",
         path, requests[0].name, requests[0].role, numbers, names.size(), QuotedList(first),
         names.size() > first.size() ? ", ..." : "", names.size());
  }

  std::vector<int>& positions = layout.positions;
  for (const auto& request : requests) {
    auto it = std::find(names.begin(), names.end(), request.name);
    if (it == names.end()) {
      MTREC_CHECK(!request.required, "'{}' has no column '{}' (needed as {}){}; its columns are: {}", path,
                  request.name, request.role, DidYouMeanSuffix(request.name, names), QuotedList(names));
      positions.push_back(-1);
    } else {
      positions.push_back(static_cast<int>(it - names.begin()));
    }
  }
  return layout;
}

ColumnTable TableParser::Parse(const std::string& path, const DataConfig& data,
                               const std::vector<ColumnRequest>& requests) {
  const std::string text = ReadInput(path);
  const Layout layout = ReadLayout(text, path, data, requests);
  return ParseBody(text, layout, {layout.body_start, text.size(), 0}, path, data, requests, /*allow_empty=*/false);
}

ColumnTable TableParser::ParseBody(std::string_view text, const Layout& layout, CsvChunk body_range,
                                   const std::string& path, const DataConfig& data,
                                   const std::vector<ColumnRequest>& requests, bool allow_empty) {
  const CsvDialect& dialect = layout.dialect;
  const std::vector<std::string>& names = layout.names;
  const std::vector<int>& positions = layout.positions;
  const size_t body_start = body_range.begin;
  const std::string_view body = text.substr(0, body_range.end);
  const NaValues na_values(data.na_values);
  const bool skip_bad_rows = data.on_error == OnError::kSkip;
  const size_t max_examples = static_cast<size_t>(data.max_reported_errors);
  std::vector<CsvChunk> chunks =
      SplitRecords(body, static_cast<size_t>(Threads()) * 4, dialect.quote, body_start, body_range.first_line);
  std::vector<ChunkResult> results(chunks.size());

  ParallelForBlocks(chunks.size(), [&](size_t block, int) {
    ChunkResult& chunk = results[block];
    chunk.columns.resize(requests.size());
    const CsvChunk range = chunks[block];
    std::vector<float> row_numbers(requests.size());
    auto bad_row = [&](size_t line, const std::string& message) {
      std::string where = fmt::format("{}:{}: {}", path, line, message);
      if (!skip_bad_rows) {
        chunk.error = where;
        return false;
      }
      ++chunk.skipped;
      if (chunk.skipped_examples.size() < max_examples) chunk.skipped_examples.push_back(where);
      return true;
    };
    try {
      CsvReader reader(body, range, dialect, path);
      while (reader.Next()) {
        const auto& fields = reader.fields();
        const size_t line = reader.line();
        if (fields.size() != names.size()) {
          if (!bad_row(line, fmt::format("expected {} fields, found {}", names.size(), fields.size()))) return;
          continue;
        }
        // Check every numeric field before appending anything, so a bad row leaves no partial values.
        bool ok = true;
        for (size_t c = 0; c < requests.size() && ok; ++c) {
          if (requests[c].type != ColumnType::kNumeric || positions[c] < 0) continue;
          std::string_view field = fields[positions[c]];
          if (na_values.Contains(field)) {
            row_numbers[c] = NAN;
            continue;
          }
          std::optional<double> value = ParseDouble(field);
          if (!value) {
            ok = false;
            const std::string hint = MissingValueHint(field, data.na_values);
            if (!bad_row(line, fmt::format("column '{}' ({}): expected a number, found {}{}", requests[c].name,
                                           requests[c].role, Quoted(field), hint))) {
              if (requests[c].binary_label && hint.empty()) chunk.text_label = static_cast<int>(c);
              return;
            }
          } else if (const char* problem = LabelValueProblem(requests[c], *value)) {
            ok = false;
            if (!bad_row(line, fmt::format("column '{}' ({}): {}, found {}", requests[c].name, requests[c].role,
                                           problem, Quoted(field)))) {
              return;
            }
          } else {
            row_numbers[c] = static_cast<float>(*value);
          }
        }
        if (!ok) continue;
        for (size_t c = 0; c < requests.size(); ++c) {
          ChunkColumn& column = chunk.columns[c];
          if (positions[c] < 0) {
            if (requests[c].type == ColumnType::kNumeric) column.numbers.push_back(NAN);
            if (requests[c].type == ColumnType::kCategorical) column.codes.push_back(0);
            if (requests[c].type == ColumnType::kMultiCategorical) column.counts.push_back(0);
            continue;
          }
          std::string_view field = fields[positions[c]];
          switch (requests[c].type) {
            case ColumnType::kNumeric:
              column.numbers.push_back(row_numbers[c]);
              break;
            case ColumnType::kCategorical:
              column.codes.push_back(Intern(column, chunk, field, body));
              break;
            case ColumnType::kMultiCategorical: {
              uint64_t count = 0;
              if (!na_values.Contains(field)) {
                ForEachPart(field, requests[c].separator, [&](std::string_view part) {
                  part = Trim(part);
                  if (part.empty()) return;
                  column.codes.push_back(Intern(column, chunk, part, body));
                  ++count;
                });
              }
              column.counts.push_back(count);
              break;
            }
          }
        }
        chunk.lines.push_back(static_cast<uint32_t>(line));
      }
    } catch (const Error& error) {
      chunk.error = error.what();
    }
  });

  for (const auto& chunk : results) {
    if (chunk.error.empty()) continue;
    if (chunk.text_label >= 0) {
      Fail("{}{}", chunk.error,
           TextLabelHint(body, body_start, dialect, static_cast<size_t>(positions[chunk.text_label]), names.size()));
    }
    Fail("{}", chunk.error);
  }

  ColumnTable table;
  table.path_ = path;
  table.report_.path = path;
  std::vector<uint32_t> lines;
  for (const auto& chunk : results) {
    lines.insert(lines.end(), chunk.lines.begin(), chunk.lines.end());
    table.report_.skipped += chunk.skipped;
    for (const auto& example : chunk.skipped_examples) {
      if (table.report_.skipped_examples.size() < max_examples) table.report_.skipped_examples.push_back(example);
    }
  }
  table.rows_ = static_cast<int64_t>(lines.size());
  table.report_.rows = table.rows_;
  MTREC_CHECK(allow_empty || table.rows_ > 0, "'{}' has no data rows{}", path,
              table.report_.skipped ? fmt::format(" ({} bad rows skipped)", table.report_.skipped) : "");
  table.lines_.Own(std::move(lines));

  for (size_t c = 0; c < requests.size(); ++c) {
    Column column;
    column.name = requests[c].name;
    column.type = requests[c].type;
    column.present = positions[c] >= 0;
    if (column.type == ColumnType::kNumeric) {
      std::vector<float> numbers;
      numbers.reserve(table.rows_);
      for (const auto& chunk : results) {
        numbers.insert(numbers.end(), chunk.columns[c].numbers.begin(), chunk.columns[c].numbers.end());
      }
      column.numbers.Own(std::move(numbers));
    } else {
      // Merge the chunks' dictionaries in chunk order: codes follow first appearance in the file.
      StringIndex merged;
      std::vector<uint32_t> codes;
      std::vector<uint64_t> offsets;
      if (column.type == ColumnType::kMultiCategorical) offsets.push_back(0);
      if (!column.present) merged.Intern("");
      for (const auto& chunk : results) {
        const ChunkColumn& local = chunk.columns[c];
        const std::vector<std::string_view>& local_values = local.dictionary.values();
        std::vector<uint32_t> remap(local_values.size());
        for (size_t i = 0; i < local_values.size(); ++i) remap[i] = merged.Intern(local_values[i]);
        // An absent column has no local dictionary: its rows all take code 0, the "" entry added above.
        for (uint32_t code : local.codes) codes.push_back(column.present ? remap[code] : 0);
        for (uint64_t count : local.counts) offsets.push_back(offsets.back() + count);
      }
      SetTextColumn(column, merged, std::move(codes), std::move(offsets));
    }
    table.columns_.push_back(std::move(column));
  }
  if (table.report_.skipped > 0) {
    LogInfo("{}: skipped {} bad rows (data.on_error = \"skip\"); first: {}", path, table.report_.skipped,
            table.report_.skipped_examples.empty() ? "" : table.report_.skipped_examples.front());
  }
  return table;
}

ColumnTable TableParser::ParseShare(const std::string& path, const DataConfig& data,
                                    const std::vector<ColumnRequest>& requests, Communicator& world) {
  // A stream cannot be read by every rank: each would get some of its bytes, none all of them.
  struct stat st;
  MTREC_CHECK(::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode),
              "'{}' is {}: under mpirun every rank reads its own range of the training file, which a stream does "
              "not have; write it to a file first",
              path, FileKindName(st.st_mode));
  const InputText input(path);
  const std::string_view text = input.view();
  const Layout layout = ReadLayout(text, path, data, requests);
  const char quote = layout.dialect.quote;
  const int ranks = world.size();
  const int rank = world.rank();
  // The body's bytes cut into equal ranges; each rank counts the newlines and quotes of its own, and the sums of
  // the ranges before a cut say on which line it lies and whether it falls inside a quoted field.
  const size_t begin = layout.body_start;
  const size_t size = text.size();
  const size_t length = size - begin;
  const size_t n = static_cast<size_t>(ranks);
  auto cut = [&](int k) {  // begin + length * k / n without overflow
    const size_t kk = static_cast<size_t>(k);
    return begin + length / n * kk + length % n * kk / n;
  };
  const size_t low = cut(rank);
  const size_t high = cut(rank + 1);
  const CsvScanCounts own = CountNewlinesAndQuotes(text, low, high, quote);
  std::vector<int64_t> counts(2 * static_cast<size_t>(ranks), 0);
  counts[2 * rank] = own.newlines;
  counts[2 * rank + 1] = own.quotes;
  world.AllReduceSum(counts.data(), counts.size());
  int64_t newlines = CountNewlinesAndQuotes(text, 0, begin, quote).newlines;
  int64_t quotes = 0;  // the header ends at a record boundary, outside quotes
  for (int k = 0; k < rank; ++k) {
    newlines += counts[2 * k];
    quotes += counts[2 * k + 1];
  }
  // A rank's records are those that start in [its cut, the next cut), each cut moved on to a record boundary: the
  // same boundary for the rank that ends there and the one that starts there.
  size_t line = 1 + static_cast<size_t>(newlines);
  const size_t start = rank == 0 ? begin : RecordStartFrom(text, low, (quotes & 1) != 0, quote, &line);
  size_t end_line = 1 + static_cast<size_t>(newlines + own.newlines);
  const size_t end = rank + 1 == ranks ? size
                                       : RecordStartFrom(text, high, ((quotes + own.quotes) & 1) != 0, quote, &end_line);
  return ParseBody(text, layout, {start, end, line}, path, data, requests, /*allow_empty=*/true);
}

namespace {

// A number as a CSV file would hold it: whole numbers without a decimal point, others in their shortest exact form.
std::string NumberText(double value) {
  if (std::isnan(value)) return "";
  if (std::abs(value) < 9007199254740992.0 && value == std::floor(value)) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

}  // namespace

ColumnTable TableFromColumns(const std::vector<InputColumn>& columns, const std::string& name, const DataConfig& data,
                             const std::vector<ColumnRequest>& requests) {
  std::vector<std::string> names;
  for (const InputColumn& column : columns) names.push_back(column.name);
  MTREC_CHECK(!columns.empty(), "{}: no columns", name);
  const size_t rows = columns.front().size();
  for (const InputColumn& column : columns) {
    MTREC_CHECK(column.size() == rows, "{}: column '{}' has {} values, column '{}' {}", name, column.name,
                column.size(), columns.front().name, rows);
  }
  std::vector<const InputColumn*> sources;
  for (const ColumnRequest& request : requests) {
    auto it = std::find_if(columns.begin(), columns.end(), [&](const InputColumn& c) { return c.name == request.name; });
    MTREC_CHECK(it != columns.end() || !request.required, "{} has no column '{}' (needed as {}){}; its columns are: {}",
                name, request.name, request.role, DidYouMeanSuffix(request.name, names), QuotedList(names));
    sources.push_back(it == columns.end() ? nullptr : &*it);
  }
  const NaValues na_values(data.na_values);
  auto text_of = [&](const InputColumn& column, size_t r) {
    return column.is_text ? (data.trim ? std::string(Trim(column.texts[r])) : column.texts[r])
                          : NumberText(column.numbers[r]);
  };
  // The numeric requests' values, each row checked before any of it is kept (as the CSV reader does).
  std::vector<std::vector<float>> numbers(requests.size());
  std::vector<bool> keep(rows, true);
  ReadReport report;
  report.path = name;
  for (size_t c = 0; c < requests.size(); ++c) {
    if (requests[c].type != ColumnType::kNumeric || sources[c] == nullptr) continue;
    numbers[c].resize(rows);
    for (size_t r = 0; r < rows; ++r) {
      double value = NAN;
      std::string problem;
      if (sources[c]->is_text) {
        const std::string text = text_of(*sources[c], r);
        if (!na_values.Contains(text)) {
          const std::optional<double> parsed = ParseDouble(text);
          if (parsed) {
            value = *parsed;
          } else {
            problem = fmt::format("expected a number, found {}{}", Quoted(text), MissingValueHint(text, data.na_values));
          }
        }
      } else {
        value = sources[c]->numbers[r];
      }
      if (problem.empty() && !std::isnan(value)) {
        if (const char* reason = LabelValueProblem(requests[c], value)) {
          problem = fmt::format("{}, found {}", reason, NumberText(value));
        }
      }
      if (!problem.empty() && keep[r]) {
        const std::string where =
            fmt::format("{}:{}: column '{}' ({}): {}", name, r + 1, requests[c].name, requests[c].role, problem);
        MTREC_CHECK(data.on_error == OnError::kSkip, "{}", where);
        keep[r] = false;
        ++report.skipped;
        if (report.skipped_examples.size() < static_cast<size_t>(data.max_reported_errors)) {
          report.skipped_examples.push_back(where);
        }
      }
      numbers[c][r] = static_cast<float>(value);
    }
  }
  ColumnTable table;
  table.path_ = name;
  std::vector<uint32_t> lines;
  for (size_t r = 0; r < rows; ++r) {
    if (keep[r]) lines.push_back(static_cast<uint32_t>(r + 1));
  }
  table.rows_ = static_cast<int64_t>(lines.size());
  MTREC_CHECK(table.rows_ > 0, "{} has no rows{}", name,
              report.skipped ? fmt::format(" ({} bad rows skipped)", report.skipped) : "");
  for (size_t c = 0; c < requests.size(); ++c) {
    Column column;
    column.name = requests[c].name;
    column.type = requests[c].type;
    column.present = sources[c] != nullptr;
    if (column.type == ColumnType::kNumeric) {
      std::vector<float> kept;
      kept.reserve(lines.size());
      for (size_t r = 0; r < rows; ++r) {
        if (keep[r]) kept.push_back(column.present ? numbers[c][r] : NAN);
      }
      column.numbers.Own(std::move(kept));
    } else {
      StringIndex dictionary;
      std::vector<std::string> owned;  // the interned views point into these
      owned.reserve(rows);
      std::vector<uint32_t> codes;
      std::vector<uint64_t> offsets;
      if (column.type == ColumnType::kMultiCategorical) offsets.push_back(0);
      if (!column.present) dictionary.Intern("");
      for (size_t r = 0; r < rows; ++r) {
        if (!keep[r]) continue;
        if (!column.present) {
          if (column.type == ColumnType::kCategorical) codes.push_back(0);
          if (column.type == ColumnType::kMultiCategorical) offsets.push_back(codes.size());
          continue;
        }
        owned.push_back(text_of(*sources[c], r));
        const std::string& text = owned.back();
        if (column.type == ColumnType::kCategorical) {
          codes.push_back(dictionary.Intern(text));
          continue;
        }
        if (!na_values.Contains(text)) {
          ForEachPart(text, requests[c].separator, [&](std::string_view part) {
            part = Trim(part);
            if (!part.empty()) codes.push_back(dictionary.Intern(part));
          });
        }
        offsets.push_back(codes.size());
      }
      SetTextColumn(column, dictionary, std::move(codes), std::move(offsets));
    }
    table.columns_.push_back(std::move(column));
  }
  table.lines_.Own(std::move(lines));
  report.rows = table.rows_;
  table.report_ = std::move(report);
  return table;
}

ColumnTable LoadTableShare(const std::string& path, const DataConfig& data, const std::vector<ColumnRequest>& requests,
                           Communicator& world) {
  // The dataset cache is mapped, not copied: from it a rank keeps its range of rows. Every rank must take the same
  // way (a cache that one rank finds and another does not, being written meanwhile, would split the rows unalike).
  std::string cache_path;
  std::optional<ColumnTable> cached = LoadCachedTable(path, data, requests, &cache_path);
  int64_t without_cache = cached ? 0 : 1;
  world.AllReduceSum(&without_cache, 1);
  ColumnTable share;
  if (without_cache == 0) {
    const int64_t rows = cached->rows();
    std::vector<int64_t> mine;
    for (int64_t row = rows * world.rank() / world.size(); row < rows * (world.rank() + 1) / world.size(); ++row) {
      mine.push_back(row);
    }
    share = cached->Select(mine);
    if (!world.is_root()) {  // the cache's report is the whole file's: counted once
      share.report_.skipped = 0;
      share.report_.skipped_examples.clear();
    }
  } else {
    share = TableParser::ParseShare(path, data, requests, world);
  }
  // The file's rows and skipped rows in all, for the report; every rank's skipped examples, the first ones kept.
  int64_t totals[2] = {share.report_.rows, share.report_.skipped};
  world.AllReduceSum(totals, 2);
  BinaryWriter examples;
  examples.Pod<uint64_t>(share.report_.skipped_examples.size());
  for (const auto& example : share.report_.skipped_examples) examples.String(example);
  std::vector<std::string> all;
  for (const std::string& part : world.AllGather(examples.str())) {
    BinaryReader in(part.data(), part.size(), "a rank's skipped rows");
    for (uint64_t i = in.Pod<uint64_t>(); i > 0; --i) {
      std::string example = in.String();
      if (all.size() < static_cast<size_t>(data.max_reported_errors)) all.push_back(std::move(example));
    }
  }
  MTREC_CHECK(totals[0] > 0, "'{}' has no data rows{}", path,
              totals[1] ? fmt::format(" ({} bad rows skipped)", totals[1]) : "");
  share.report_.rows = totals[0];
  share.report_.skipped = totals[1];
  share.report_.skipped_examples = std::move(all);
  return share;
}

}  // namespace mtrec
