#include "data/schema_inference.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <deque>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "common/strings.h"
#include "data/csv.h"
#include "data/input_file.h"

namespace mtrec {
namespace {

constexpr const char* kColumnKindNames[] = {"numeric", "categorical", "id",     "multi_valued",
                                            "date",    "constant",    "unique", "empty"};
static_assert(std::size(kColumnKindNames) == kColumnKindCount);

// Spellings of "unknown" seen in numeric columns of public data sets beyond data.na_values' defaults; any value made
// only of punctuation ("?", "-", "--", ".") counts too.
const std::set<std::string, std::less<>> kNaLikeSpellings = {"NA",      "N/A",     "n/a",     "na",   "NaN",  "nan",
                                                             "null",    "NULL",    "Null",    "None", "none", "missing",
                                                             "MISSING", "unknown", "Unknown", "#N/A", "nil"};

// The sample is read from this many equal parts of the file, so that a file sorted by time, user or label is
// seen from its beginning to its end.
constexpr size_t kSampleParts = 32;
// Lines the delimiter is sniffed on.
constexpr size_t kSniffLines = 20;
// A text column with more values than this is an id column (users, items, queries) rather than a category.
constexpr int64_t kMaxCategories = 1000;
// With an id-like name (user_id, sku) the bar is lower: such columns grow with the data.
constexpr int64_t kMaxNamedIdCategories = 100;
// An id column with more values than this in the whole file is hashed: its vocabulary would be a large table of
// mostly rare rows.
constexpr int64_t kMaxVocabulary = 100000;
constexpr int64_t kMaxHashBuckets = int64_t{1} << 20;
// Integer columns with at most this many values get a categorical copy (each value its own embedding row: codes and
// small counts alike); numbers with more get equal-frequency buckets.
constexpr int64_t kMaxIntegerLevels = 64;
constexpr int64_t kNumericBuckets = 20;
// A long right tail gets log1p: a maximum this many times above the 90th percentile (at least 1), as money columns
// that are 0 on most rows have, or a skewness above kLongTailSkewness with a maximum this many times above the median
// (a count from 0 to 2 can be skewed, yet has no tail to compress).
constexpr double kLongTailRatio = 10.0;
constexpr double kLongTailSkewness = 2.0;
// Share of a column's rows that must agree for a reading (numbers, dates, near-unique values).
constexpr double kMostRows = 0.9;

bool IsNaLike(std::string_view value) {
  if (kNaLikeSpellings.count(value)) return true;
  return !value.empty() && std::all_of(value.begin(), value.end(),
                                       [](char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; });
}

// Lowercase words of a column name, split at non-alphanumerics and at lower-to-upper steps ("userId" -> user, id).
std::vector<std::string> NameWords(std::string_view name) {
  std::vector<std::string> words;
  std::string word;
  char previous = '\0';
  for (char c : name) {
    const bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0;
    const bool step = std::isupper(static_cast<unsigned char>(c)) && std::islower(static_cast<unsigned char>(previous));
    if ((!alnum || step) && !word.empty()) words.push_back(std::move(word)), word.clear();
    if (alnum) word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    previous = c;
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// The word of the name that says its values are identifiers or codes rather than amounts; empty if none does.
std::string IdWord(std::string_view name) {
  static const std::set<std::string> kIdWords = {"id", "uid", "uuid", "key", "sku", "zip", "zipcode", "postcode"};
  for (const std::string& word : NameWords(name)) {
    if (kIdWords.count(word)) return word;
  }
  return "";
}
std::string CodeWord(std::string_view name) {
  static const std::set<std::string> kCodeWords = {"code", "recode", "category", "type", "class", "group", "cluster"};
  for (const std::string& word : NameWords(name)) {
    if (kCodeWords.count(word)) return word;
  }
  return "";
}

std::string Percent(int64_t part, int64_t whole) {
  return fmt::format("{:.1f}%", whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
}

// "'a', 'b', 'c', ...": the first few values, for reasons.
std::string FirstValues(const ValueCounts& values, size_t n = 3) {
  std::string out;
  for (size_t i = 0; i < std::min(n, values.size()); ++i) out += (i ? ", '" : "'") + values[i].first + "'";
  if (values.size() > n) out += ", ...";
  return out;
}

std::string FormatNumber(double value) { return fmt::format("{:.6g}", value); }

int64_t NextPowerOfTwo(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

void SortCounts(ValueCounts& values) {
  std::sort(values.begin(), values.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
}

bool IsMissing(const std::set<std::string, std::less<>>& na, std::string_view value) { return na.count(value) > 0; }

// The separator that splits the values of a text column into parts that repeat across rows ("a|b", "b|c"), or ""
// when none does.
std::string MultiValueSeparator(const ValueCounts& texts, int64_t rows, const std::string& delimiter) {
  std::string best;
  int64_t best_rows = 0;
  for (const char* candidate : {"|", ";", ","}) {
    if (delimiter.find(candidate) != std::string::npos) continue;
    int64_t with = 0;
    std::unordered_map<std::string, int64_t> parts;
    int64_t part_rows = 0;
    for (const auto& entry : texts) {  // not a structured binding: clang 14 cannot capture those
      const std::string& value = entry.first;
      const int64_t count = entry.second;
      if (value.find(candidate) != std::string::npos) with += count;
      ForEachPart(value, candidate, [&](std::string_view part) {
        part = Trim(part);
        if (part.empty()) return;
        parts[std::string(part)] += count;
        part_rows += count;
      });
    }
    // Each part must recur on a few rows on average: a tag vocabulary, not free text that happens to hold commas.
    const bool repeats = part_rows >= 2 * static_cast<int64_t>(parts.size());
    if (with * 10 >= rows && repeats && with > best_rows) {
      best = candidate;
      best_rows = with;
    }
  }
  return best;
}

// Estimated distinct values of the whole file from a sample of it: the values seen once in the sample stand for the
// rate at which new values keep appearing (Good-Turing).
int64_t EstimateDistinct(int64_t distinct, int64_t seen_once, int64_t sampled_rows, int64_t file_rows) {
  if (file_rows <= sampled_rows || sampled_rows == 0) return distinct;
  const double more =
      static_cast<double>(seen_once) * (static_cast<double>(file_rows) / static_cast<double>(sampled_rows) - 1.0);
  return distinct + static_cast<int64_t>(std::llround(more));
}

// An id column (many values): a vocabulary with a minimum count, or hashing when the vocabulary would be huge.
void ReadAsId(ColumnSchema& schema, const ValueCounts& values, const InferenceContext& context,
              const std::string& why) {
  int64_t seen_once = 0;
  for (const auto& [value, count] : values) seen_once += count == 1;
  const int64_t estimate = EstimateDistinct(schema.distinct, seen_once, schema.rows, context.file_rows);
  schema.kind = ColumnKind::kId;
  if (estimate > kMaxVocabulary) {
    schema.hash_buckets = std::min(kMaxHashBuckets, NextPowerOfTwo(estimate));
    schema.reason = fmt::format(
        "{}: {} values in the sample, about {} in the file ({} seen once): too many for a vocabulary, hashed into "
        "{} buckets (no table of rare values; a new id at serving time still gets a row)",
        why, schema.distinct, estimate, seen_once, schema.hash_buckets);
  } else {
    schema.min_count = 2;
    schema.reason = fmt::format(
        "{}: {} values in the sample, about {} in the file ({} seen once): a vocabulary with min_count = 2, so ids "
        "seen once share the out-of-vocabulary row (one row cannot train an embedding; new ids land there too)",
        why, schema.distinct, estimate, seen_once);
  }
}

void ReadAsNumbers(ColumnSchema& schema, std::vector<std::pair<double, int64_t>> numbers) {
  std::sort(numbers.begin(), numbers.end());
  int64_t present = 0;
  for (const auto& n : numbers) present += n.second;
  schema.distinct = static_cast<int64_t>(numbers.size());
  schema.min = numbers.front().first;
  schema.max = numbers.back().first;
  schema.integer = std::all_of(numbers.begin(), numbers.end(), [](const auto& n) {
    return std::floor(n.first) == n.first && std::fabs(n.first) < 1e15;
  });
  double mean = 0.0;
  for (const auto& [value, count] : numbers) mean += value * static_cast<double>(count);
  mean /= static_cast<double>(present);
  double m2 = 0.0;
  double m3 = 0.0;
  for (const auto& [value, count] : numbers) {
    const double d = value - mean;
    m2 += d * d * static_cast<double>(count);
    m3 += d * d * d * static_cast<double>(count);
  }
  m2 /= static_cast<double>(present);
  m3 /= static_cast<double>(present);
  const double skewness = m2 > 0 ? m3 / std::pow(m2, 1.5) : 0.0;
  // The value below which a share of the rows lies.
  auto percentile = [&](int64_t share) {
    int64_t seen = 0;
    for (const auto& [value, count] : numbers) {
      seen += count;
      if (seen * 100 >= present * share) return value;
    }
    return schema.max;
  };
  const double p50 = percentile(50);
  const double p90 = percentile(90);
  std::string reason = fmt::format("{} from {} to {}", schema.integer ? "integers" : "numbers",
                                   FormatNumber(schema.min), FormatNumber(schema.max));
  if (!schema.na_spellings.empty()) {
    reason += fmt::format(", missing spelled {} on {} rows (added to data.na_values)", QuotedList(schema.na_spellings),
                          schema.na_spelling_rows);
  }
  schema.kind = ColumnKind::kNumeric;
  const bool skewed = skewness > kLongTailSkewness && schema.max > kLongTailRatio * std::max(p50, 1.0);
  if (schema.min >= 0 && (schema.max > kLongTailRatio * std::max(p90, 1.0) || skewed)) {
    schema.log1p = true;
    reason += fmt::format("; log1p: a long right tail (max {}, 90th percentile {}, skewness {:.1f})",
                          FormatNumber(schema.max), FormatNumber(p90), skewness);
  }
  if (schema.integer && schema.distinct >= 3 && schema.distinct <= kMaxIntegerLevels) {
    schema.buckets = schema.distinct;
    reason += fmt::format("; {} values: also a categorical copy, one embedding per value", schema.distinct);
  } else if (schema.distinct >= 3) {
    schema.buckets = std::min(kNumericBuckets, schema.distinct);
    reason += fmt::format("; also {} equal-frequency buckets", schema.buckets);
  }
  schema.reason = std::move(reason);
}

}  // namespace

const char* ColumnKindName(ColumnKind kind) { return kColumnKindNames[static_cast<int>(kind)]; }

bool IsLeftOut(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kNumeric:
    case ColumnKind::kCategorical:
    case ColumnKind::kId:
    case ColumnKind::kMultiValued:
      return false;
    case ColumnKind::kDate:
    case ColumnKind::kConstant:
    case ColumnKind::kUnique:
    case ColumnKind::kEmpty:
      return true;
  }
  return true;
}

bool LooksLikeDate(std::string_view text) {
  size_t pos = 0;
  auto digits = [&]() {
    const size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    return pos - start;
  };
  auto time = [&]() {
    const size_t hours = digits();
    if (hours < 1 || hours > 2 || pos >= text.size() || text[pos] != ':') return false;
    ++pos;
    if (digits() != 2) return false;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (digits() != 2) return false;
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        if (digits() == 0) return false;
      }
    }
    if (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      ++pos;
      if (digits() < 2) return false;
      if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (digits() != 2) return false;
      }
    }
    return pos == text.size();
  };
  const size_t first = digits();
  if (first == 0) return false;
  if (pos < text.size() && text[pos] == ':') {
    pos = 0;
    return time();
  }
  if (pos >= text.size() || (text[pos] != '-' && text[pos] != '/' && text[pos] != '.')) return false;
  const char separator = text[pos++];
  const size_t second = digits();
  if (second < 1 || second > 2 || pos >= text.size() || text[pos] != separator) return false;
  ++pos;
  const size_t third = digits();
  const bool year_first = first == 4 && third >= 1 && third <= 2;
  const bool year_last = first <= 2 && third == 4;
  if (!year_first && !year_last) return false;
  if (pos == text.size()) return true;
  if (text[pos] != 'T' && text[pos] != ' ') return false;
  ++pos;
  return time();
}

std::string FeatureNameOf(std::string_view column) {
  std::string name;
  for (char c : column) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!name.empty() && name.back() != '_') {
      name += '_';
    }
  }
  while (!name.empty() && name.back() == '_') name.pop_back();
  return name.empty() ? "column" : name;
}

std::string SniffDelimiter(std::string_view text) {
  size_t end = 0;
  for (size_t lines = 0; lines < kSniffLines && end < text.size(); ++lines) {
    const size_t newline = text.find('\n', end);
    end = newline == std::string_view::npos ? text.size() : newline + 1;
  }
  std::string best = ",";
  size_t best_fields = 0;
  for (const char* candidate : {",", "\t", ";", "|"}) {
    size_t fields = 0;
    bool even = true;
    try {
      CsvReader reader(text, CsvChunk{0, end, 1}, CsvDialect{.delimiter = candidate});
      while (reader.Next() && even) {
        if (fields == 0) fields = reader.fields().size();
        even = reader.fields().size() == fields;
      }
    } catch (const Error&) {
      even = false;  // a stray quote under this delimiter: not it
    }
    if (even && fields > 1 && fields > best_fields) {
      best = candidate;
      best_fields = fields;
    }
  }
  return best;
}

HeaderGuess GuessHeader(const std::vector<std::string>& first_row, const std::vector<ColumnSample>& below,
                        const std::vector<std::string>& na_values) {
  const std::set<std::string, std::less<>> na(na_values.begin(), na_values.end());
  int header_votes = 0;
  int data_votes = 0;
  std::string header_example;
  std::string data_example;
  std::set<std::string> seen_in_first;
  bool repeated = false;
  for (size_t c = 0; c < first_row.size() && c < below.size(); ++c) {
    const std::string& first = first_row[c];
    if (!seen_in_first.insert(first).second && !first.empty() && !repeated) {
      repeated = true;
      ++data_votes;  // column names are unique; data repeats
      if (data_example.empty()) data_example = fmt::format("'{}' appears twice in it", first);
    }
    if (IsMissing(na, first) || IsNaLike(first)) continue;
    int64_t numeric = 0;
    int64_t present = 0;
    bool first_seen_below = false;
    for (const auto& [value, count] : below[c].values) {
      if (IsMissing(na, value) || IsNaLike(value)) continue;
      present += count;
      numeric += ParseDouble(value).has_value() ? count : 0;
      first_seen_below = first_seen_below || value == first;
    }
    if (present == 0) continue;
    const bool numbers_below = numeric >= kMostRows * static_cast<double>(present);
    if (numbers_below) {
      if (ParseDouble(first)) {
        ++data_votes;
        if (data_example.empty()) data_example = fmt::format("'{}' tops a column of numbers", first);
      } else {
        ++header_votes;
        if (header_example.empty()) header_example = fmt::format("'{}' tops a column of numbers", first);
      }
    } else if (first_seen_below) {
      ++data_votes;
      if (data_example.empty()) data_example = fmt::format("'{}' occurs again below it", first);
    } else if (static_cast<int64_t>(below[c].values.size()) * 2 <= present) {
      ++header_votes;  // values repeat in this column, yet the first row's never does
      if (header_example.empty()) header_example = fmt::format("'{}' never occurs below it", first);
    }
  }
  HeaderGuess guess;
  if (header_votes == 0 && data_votes == 0) {
    guess.header = true;
    guess.reason = "nothing in the first row tells names from data; read as the header (say --header false if not)";
  } else if (header_votes >= data_votes) {
    guess.header = true;
    guess.reason = fmt::format("the first row names the columns: {} ({} of {} columns say so)", header_example,
                               header_votes, first_row.size());
  } else {
    guess.header = false;
    guess.reason =
        fmt::format("the first row is data: {} ({} of {} columns say so)", data_example, data_votes, first_row.size());
  }
  return guess;
}

CsvSample ReadCsvSample(const std::string& path, const SampleOptions& options) {
  MTREC_CHECK(options.sample_rows > 0, "the sample must have at least one row, got {}", options.sample_rows);
  const std::string text = ReadInput(path);
  CsvSample sample;
  sample.path = path;
  sample.delimiter_sniffed = options.delimiter.empty();
  sample.delimiter = sample.delimiter_sniffed ? SniffDelimiter(text) : options.delimiter;
  const CsvDialect dialect{.delimiter = sample.delimiter};
  size_t header_end = 0;
  const std::vector<std::string> first_row = ReadHeader(text, dialect, &header_end, path);
  const size_t width = first_row.size();

  // Values are views into the text; the rare field unescaped by the reader is copied into `owned`.
  std::vector<std::unordered_map<std::string_view, int64_t>> counts(width);
  std::deque<std::string> owned;
  auto add = [&](size_t column, std::string_view value) {
    auto& map = counts[column];
    auto found = map.find(value);
    if (found != map.end()) {
      ++found->second;
      return;
    }
    const bool in_text = value.data() >= text.data() && value.data() + value.size() <= text.data() + text.size();
    if (!in_text) value = owned.emplace_back(value);
    map.emplace(value, 1);
  };

  sample.file_rows =
      static_cast<int64_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(header_end), text.end(), '\n'));
  if (!text.empty() && text.back() != '\n' && header_end < text.size()) ++sample.file_rows;
  const bool whole_file = sample.file_rows <= options.sample_rows;
  const std::vector<CsvChunk> parts = SplitRecords(text, whole_file ? 1 : kSampleParts, dialect.quote, header_end);
  const int64_t per_part =
      whole_file ? options.sample_rows
                 : (options.sample_rows + static_cast<int64_t>(parts.size()) - 1) / static_cast<int64_t>(parts.size());
  for (const CsvChunk& part : parts) {
    CsvReader reader(text, part, dialect, path);
    for (int64_t row = 0; row < per_part && sample.sampled_rows < options.sample_rows && reader.Next(); ++row) {
      const auto& fields = reader.fields();
      MTREC_CHECK(fields.size() == width, "{}:{}: expected {} fields, found {}", path, reader.line(), width,
                  fields.size());
      for (size_t c = 0; c < width; ++c) add(c, fields[c]);
      ++sample.sampled_rows;
    }
  }

  auto to_samples = [&](const std::vector<std::string>& names) {
    std::vector<ColumnSample> columns(width);
    for (size_t c = 0; c < width; ++c) {
      columns[c].name = names[c];
      for (const auto& [value, count] : counts[c]) {
        columns[c].values.emplace_back(std::string(value), count);
        columns[c].rows += count;
      }
      SortCounts(columns[c].values);
    }
    return columns;
  };

  switch (options.header) {
    case HeaderMode::kYes:
      sample.header = true;
      sample.header_reason = "--header true";
      break;
    case HeaderMode::kNo:
      sample.header = false;
      sample.header_reason = "--header false";
      break;
    case HeaderMode::kAuto: {
      const HeaderGuess guess = GuessHeader(first_row, to_samples(first_row), options.na_values);
      sample.header = guess.header;
      sample.header_reason = guess.reason;
      break;
    }
  }

  std::vector<std::string> names;
  if (sample.header) {
    MTREC_CHECK(options.columns.empty(),
                "--columns names the columns of a file without a header, but the first row of '{}' is its header ({}); "
                "add --header false to read that row as data",
                path, sample.header_reason);
    names = first_row;
    std::set<std::string> unique;
    for (size_t c = 0; c < width; ++c) {
      MTREC_CHECK(!names[c].empty(), "{}:1: the header leaves column {} without a name", path, c + 1);
      MTREC_CHECK(unique.insert(names[c]).second, "{}:1: the header names two columns '{}'", path, names[c]);
    }
  } else {
    if (options.columns.empty()) {
      for (size_t c = 0; c < width; ++c) names.push_back(fmt::format("c{}", c));
      sample.names_generated = true;
    } else {
      MTREC_CHECK(options.columns.size() == width, "--columns gives {} names, but '{}' has {} columns",
                  options.columns.size(), path, width);
      names = options.columns;
    }
    // The first row is data: count it too (it lies outside the parts).
    if (sample.sampled_rows < options.sample_rows || whole_file) {
      for (size_t c = 0; c < width; ++c) add(c, first_row[c]);
      ++sample.sampled_rows;
    }
    ++sample.file_rows;
  }
  sample.columns = to_samples(names);
  return sample;
}

ColumnSchema InferColumn(const ColumnSample& column, const InferenceContext& context) {
  const std::set<std::string, std::less<>> na(context.na_values.begin(), context.na_values.end());
  ColumnSchema schema;
  schema.name = column.name;
  schema.rows = column.rows;

  std::vector<std::pair<double, int64_t>> numbers;
  ValueCounts present;     // every non-missing value, as text
  ValueCounts not_number;  // the non-missing values that are no number
  for (const auto& [value, count] : column.values) {
    if (IsMissing(na, value)) {
      schema.missing += count;
      continue;
    }
    present.emplace_back(value, count);
    if (std::optional<double> number = ParseDouble(value)) {
      numbers.emplace_back(*number, count);
    } else {
      not_number.emplace_back(value, count);
    }
  }
  const bool na_like_only =
      std::all_of(not_number.begin(), not_number.end(), [](const auto& v) { return IsNaLike(v.first); });
  const bool numeric = !numbers.empty() && na_like_only;
  if (numeric) {
    // The NA-like text is missing, not a value: the numbers are what the column holds.
    for (const auto& [value, count] : not_number) {
      schema.na_spellings.push_back(value);
      schema.na_spelling_rows += count;
      schema.missing += count;
    }
    present.erase(
        std::remove_if(present.begin(), present.end(), [](const auto& v) { return !ParseDouble(v.first).has_value(); }),
        present.end());
  }
  int64_t present_rows = 0;
  for (const auto& v : present) present_rows += v.second;
  schema.distinct = static_cast<int64_t>(present.size());
  const std::string missing_note =
      schema.missing > 0 ? fmt::format(" (missing on {} of rows)", Percent(schema.missing, schema.rows)) : "";

  if (present.empty()) {
    schema.kind = ColumnKind::kEmpty;
    schema.reason = fmt::format("missing on every sampled row: left out");
    return schema;
  }
  if (present.size() == 1) {
    if (schema.missing == 0) {
      schema.kind = ColumnKind::kConstant;
      schema.reason = fmt::format("'{}' on every sampled row: nothing to learn from, left out", present[0].first);
    } else {
      schema.kind = ColumnKind::kCategorical;
      schema.reason = fmt::format("'{}' or missing{}: a category, whether it is there is what it tells",
                                  present[0].first, missing_note);
    }
    return schema;
  }

  const std::string id_word = IdWord(column.name);
  const std::string code_word = CodeWord(column.name);
  if (numeric) {
    bool integer = std::all_of(numbers.begin(), numbers.end(), [](const auto& n) {
      return std::floor(n.first) == n.first && std::fabs(n.first) < 1e15;
    });
    if (integer && !id_word.empty()) {
      if (schema.distinct >= kMostRows * static_cast<double>(present_rows) && present_rows >= 20) {
        schema.kind = ColumnKind::kUnique;
        schema.reason = fmt::format("integer ids (the name says '{}'), {} different in {} rows: a row key, left out",
                                    id_word, schema.distinct, present_rows);
        return schema;
      }
      if (schema.distinct > kMaxNamedIdCategories) {
        ReadAsId(schema, present, context, fmt::format("integer ids (the name says '{}')", id_word));
        return schema;
      }
    }
    if (integer && (!id_word.empty() || !code_word.empty())) {
      if (schema.distinct > kMaxCategories) {
        ReadAsId(schema, present, context, fmt::format("integer codes (the name says '{}')", code_word));
      } else {
        schema.kind = ColumnKind::kCategorical;
        schema.reason = fmt::format("integer codes (the name says '{}'): {} values read as categories, not amounts{}",
                                    id_word.empty() ? code_word : id_word, schema.distinct, missing_note);
      }
      return schema;
    }
    ReadAsNumbers(schema, std::move(numbers));
    return schema;
  }

  // Text, or numbers mixed with text that is not a missing-value spelling.
  const std::string mixed = numbers.empty()
                                ? ""
                                : fmt::format(
                                      " (numbers too, but also text such as '{}': if that means missing, add it to "
                                      "data.na_values and make the feature numeric)",
                                      not_number.front().first);
  int64_t date_rows = 0;
  for (const auto& [value, count] : present) date_rows += LooksLikeDate(value) ? count : 0;
  if (date_rows >= kMostRows * static_cast<double>(present_rows)) {
    schema.kind = ColumnKind::kDate;
    schema.reason = fmt::format(
        "dates or times ({}): left out, the config has no calendar features; to use it, add columns derived from it "
        "(day of week, hour, days since an event) to the file",
        FirstValues(present, 2));
    return schema;
  }
  const std::string separator = MultiValueSeparator(present, present_rows, context.delimiter);
  if (!separator.empty()) {
    std::unordered_set<std::string> parts;
    int64_t several = 0;
    for (const auto& [value, count] : present) {
      several += value.find(separator) != std::string::npos ? count : 0;
      ForEachPart(value, separator, [&](std::string_view part) {
        if (!Trim(part).empty()) parts.emplace(Trim(part));
      });
    }
    schema.kind = ColumnKind::kMultiValued;
    schema.separator = separator;
    schema.distinct = static_cast<int64_t>(parts.size());
    if (schema.distinct > kMaxCategories) schema.min_count = 2;
    schema.reason = fmt::format(
        "several values in one field, split at '{}' ({} of rows hold more than one; {} "
        "distinct values{}), their embeddings averaged{}",
        separator, Percent(several, present_rows), schema.distinct, schema.min_count > 1 ? ", min_count = 2" : "",
        missing_note);
    return schema;
  }
  if (present_rows >= 20 && schema.distinct >= kMostRows * static_cast<double>(present_rows)) {
    schema.kind = ColumnKind::kUnique;
    schema.reason = fmt::format(
        "{} different values in {} rows ({}): a row key or free text, nothing that carries "
        "over to new rows, left out",
        schema.distinct, present_rows, FirstValues(present, 2));
    return schema;
  }
  if (schema.distinct > kMaxCategories || (!id_word.empty() && schema.distinct > kMaxNamedIdCategories)) {
    ReadAsId(schema, present, context,
             id_word.empty() ? std::string("many values") : fmt::format("ids (the name says '{}')", id_word));
    return schema;
  }
  schema.kind = ColumnKind::kCategorical;
  schema.reason =
      fmt::format("text, {} values, most frequent {}{}{}", schema.distinct, FirstValues(present), missing_note, mixed);
  return schema;
}

}  // namespace mtrec
