#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <string_view>
#include <unordered_set>

#include "common/communicator.h"
#include "common/dates.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/strings.h"

namespace mtrec {
namespace {

// A group value's place in [0, 1): FNV-1a of its bytes mixed with the seed, so a value lands on the same side
// whichever file, row order or dictionary it comes from.
double GroupPosition(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return static_cast<double>(Mix64(h ^ Mix64(seed)) >> 11) * 0x1.0p-53;
}

// Each row's place in [0, 1) by its group; counts the groups.
std::vector<double> GroupPositions(const ColumnTable& table, const std::string& column, uint64_t seed,
                                   int64_t* groups) {
  std::vector<double> positions(table.rows());
  if (const Column* text = table.Find(column, ColumnType::kCategorical)) {
    std::vector<double> of_code(text->DictionarySize());
    for (size_t code = 0; code < of_code.size(); ++code) {
      of_code[code] = GroupPosition(text->Value(static_cast<uint32_t>(code)), seed);
    }
    std::vector<uint8_t> seen(of_code.size(), 0);
    for (int64_t i = 0; i < table.rows(); ++i) {
      positions[i] = of_code[text->codes[i]];
      *groups += seen[text->codes[i]] ? 0 : 1;
      seen[text->codes[i]] = 1;
    }
    return positions;
  }
  // A column some feature reads as a number: its value's bits are the group.
  const Column& numbers = table.Get(column, ColumnType::kNumeric);
  std::unordered_set<uint32_t> distinct;
  for (int64_t i = 0; i < table.rows(); ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, &numbers.numbers[i], sizeof bits);
    positions[i] = GroupPosition(std::string_view(reinterpret_cast<const char*>(&bits), sizeof bits), seed);
    distinct.insert(bits);
  }
  *groups = static_cast<int64_t>(distinct.size());
  return positions;
}

[[noreturn]] void FailMissingTime(const ColumnTable& table, int64_t row, const std::string& column) {
  Fail("{}:{}: column '{}' is missing; data.split_time needs the time of every row", table.path(),
       table.lines()[row], column);
}

// Each row's time as a number to sort by: the column's number, or the rank of its text among the column's values
// (numerically when every value is a number, so "9" comes before "10"; else as text, as ISO dates sort).
std::vector<double> TimeKeys(const ColumnTable& table, const std::string& column,
                             const std::vector<std::string>& na_values) {
  std::vector<double> keys(table.rows());
  if (const Column* text = table.Find(column, ColumnType::kCategorical)) {
    const size_t size = text->DictionarySize();
    std::vector<std::string_view> values(size);
    std::vector<double> numbers(size);
    std::vector<uint8_t> missing(size, 0);
    bool numeric = true;
    for (size_t code = 0; code < size; ++code) {
      values[code] = text->Value(static_cast<uint32_t>(code));
      missing[code] = std::find(na_values.begin(), na_values.end(), values[code]) != na_values.end();
      const std::optional<double> x = ParseDouble(values[code]);
      numeric = numeric && (missing[code] || x.has_value());
      numbers[code] = x.value_or(NAN);
    }
    std::vector<double> of_code = numbers;
    if (!numeric) {
      std::vector<uint32_t> by_text(size);
      std::iota(by_text.begin(), by_text.end(), 0u);
      std::sort(by_text.begin(), by_text.end(), [&](uint32_t a, uint32_t b) { return values[a] < values[b]; });
      for (size_t rank = 0; rank < size; ++rank) of_code[by_text[rank]] = static_cast<double>(rank);
    }
    for (int64_t i = 0; i < table.rows(); ++i) {
      if (missing[text->codes[i]]) FailMissingTime(table, i, column);
      keys[i] = of_code[text->codes[i]];
    }
    return keys;
  }
  const Column& numbers = table.Get(column, ColumnType::kNumeric);
  for (int64_t i = 0; i < table.rows(); ++i) {
    if (std::isnan(numbers.numbers[i])) FailMissingTime(table, i, column);
    keys[i] = numbers.numbers[i];
  }
  return keys;
}

}  // namespace

bool SplitsTrainingFile(const DataConfig& data) {
  return data.valid_fraction > 0 || data.test_fraction > 0 || data.split_by == SplitBy::kDate;
}

std::vector<ColumnRequest> SplitRequests(const DataConfig& data, std::vector<ColumnRequest> requests) {
  AddColumnRequest(requests, data.split_group, "data.split_group column");
  AddColumnRequest(requests, data.split_time, "data.split_time column");
  return requests;
}

std::vector<ColumnRequest> SplitRequests(const Config& config, std::vector<ColumnRequest> requests) {
  if (config.data.split_by == SplitBy::kDate) {
    AddColumnRequest(requests, config.time_series.date, "time_series.date column");
    return requests;
  }
  return SplitRequests(config.data, std::move(requests));
}

RowSplit SplitRows(const ColumnTable& table, const Config& config) {
  const DataConfig& data = config.data;
  if (data.split_by != SplitBy::kDate) return SplitRows(table, data);
  const std::optional<DateRange> valid = data.valid_dates.empty() ? std::nullopt : ParseDateRange(data.valid_dates);
  const std::optional<DateRange> test = data.test_dates.empty() ? std::nullopt : ParseDateRange(data.test_dates);
  // The config reader requires at least one of the ranges.
  int32_t held_out = std::numeric_limits<int32_t>::max();
  for (const std::optional<DateRange>& range : {valid, test}) {
    if (range) held_out = std::min(held_out, range->first);
  }
  const std::vector<int32_t> days =
      DaysOfColumn(table, config.time_series.date, "time_series.date, read by data.split_by = \"date\"");
  RowSplit split;
  for (int64_t i = 0; i < table.rows(); ++i) {
    const int32_t day = days[i];
    auto& part = valid && valid->Contains(day) ? split.valid
                 : test && test->Contains(day) ? split.test
                 : day < held_out              ? split.train
                                               : split.dropped;
    part.push_back(i);
  }
  return split;
}

RowSplit SplitRows(const ColumnTable& table, const DataConfig& data) {
  const int64_t rows = table.rows();
  RowSplit split;
  if (!data.split_group.empty()) {
    const std::vector<double> positions = GroupPositions(table, data.split_group, data.split_seed, &split.groups);
    for (int64_t i = 0; i < rows; ++i) {
      const double u = positions[i];
      auto& part = u < data.test_fraction                        ? split.test
                   : u < data.test_fraction + data.valid_fraction ? split.valid
                                                                  : split.train;
      part.push_back(i);
    }
    return split;
  }
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!data.split_time.empty()) {
    // Latest first, ties in file order: the test rows are the latest, the validation rows the ones before them.
    const std::vector<double> keys = TimeKeys(table, data.split_time, data.na_values);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return keys[a] > keys[b] || (keys[a] == keys[b] && a > b);
    });
  } else {
    Rng rng(data.split_seed);
    for (int64_t i = rows - 1; i > 0; --i) std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  const auto count = [&](double fraction) {
    return std::min<int64_t>(rows, std::llround(static_cast<double>(rows) * fraction));
  };
  const int64_t tests = count(data.test_fraction);
  const int64_t valids = std::min(rows - tests, count(data.valid_fraction));
  split.test.assign(order.begin(), order.begin() + tests);
  split.valid.assign(order.begin() + tests, order.begin() + tests + valids);
  split.train.assign(order.begin() + tests + valids, order.end());
  for (auto* part : {&split.train, &split.valid, &split.test}) std::sort(part->begin(), part->end());
  return split;
}

std::vector<int64_t> ShardRows(int64_t rows, int64_t block, int rank, int ranks) {
  MTREC_CHECK(block > 0 && ranks > 0 && rank >= 0 && rank < ranks, "ShardRows: block {}, rank {} of {}", block, rank,
              ranks);
  std::vector<int64_t> kept;
  for (int64_t start = block * rank; start < rows; start += block * ranks) {
    for (int64_t r = start; r < std::min(rows, start + block); ++r) kept.push_back(r);
  }
  return kept;
}

ColumnTable DealBlocks(ColumnTable range, int64_t block, Communicator& world, int64_t round_bytes) {
  MTREC_CHECK(block > 0, "DealBlocks: block {}", block);
  const int ranks = world.size();
  std::vector<int64_t> rows(static_cast<size_t>(ranks), 0);
  rows[world.rank()] = range.rows();
  world.AllReduceSum(rows.data(), rows.size());
  const int64_t first = std::accumulate(rows.begin(), rows.begin() + world.rank(), int64_t{0});
  const std::string path = range.path();
  const ReadReport report = range.report();
  // The rows for each rank as a table of their own (the dataset cache's format, the dictionaries cut to the values
  // those rows use), framed by its size and padded to 8 bytes, so that the receiver's tables can view their arrays
  // in place, aligned.
  std::vector<std::string> out(static_cast<size_t>(ranks));
  {
    std::vector<std::vector<std::pair<uint32_t, int64_t>>> to(static_cast<size_t>(ranks));
    for (int64_t i = 0; i < range.rows(); ++i) to[((first + i) / block) % ranks].emplace_back(0, i);
    for (int p = 0; p < ranks; ++p) {
      const std::string piece = SerializeTable(ColumnTable::Concat({&range}, to[p], path));
      const uint64_t size = piece.size();
      out[p].reserve(8 + (size + 7) / 8 * 8);
      out[p].append(reinterpret_cast<const char*>(&size), 8);
      out[p] += piece;
      out[p].resize(8 + (size + 7) / 8 * 8, '\0');
    }
    range = ColumnTable();
  }
  // Sent in rounds of at most round_bytes a rank: round k carries bytes [k R, (k + 1) R) of every piece,
  // R = round_bytes / ranks.
  const size_t round = std::max<size_t>(8, static_cast<size_t>(round_bytes / ranks));
  int64_t longest = 0;
  for (const std::string& piece : out) longest = std::max(longest, static_cast<int64_t>(piece.size()));
  world.AllReduceMax(&longest, 1);
  std::vector<std::shared_ptr<std::string>> in(static_cast<size_t>(ranks));
  for (auto& piece : in) piece = std::make_shared<std::string>();
  std::string sent, received;
  std::vector<size_t> sent_offsets, received_offsets;
  for (size_t at = 0; at < static_cast<size_t>(longest); at += round) {
    sent.clear();
    sent_offsets.assign(1, 0);
    for (std::string& piece : out) {
      if (at < piece.size()) sent.append(piece, at, std::min(round, piece.size() - at));
      sent_offsets.push_back(sent.size());
      if (at + round >= piece.size()) piece = std::string();  // sent in full
    }
    world.AllToAll(sent, sent_offsets, received, received_offsets);
    for (int p = 0; p < ranks; ++p) {
      in[p]->append(received, received_offsets[p], received_offsets[p + 1] - received_offsets[p]);
    }
  }
  sent = std::string();
  received = std::string();
  std::vector<ColumnTable> pieces;
  for (int p = 0; p < ranks; ++p) {
    uint64_t size = 0;
    MTREC_CHECK(in[p]->size() >= 8, "rank {} sent no rows' table", p);
    std::memcpy(&size, in[p]->data(), 8);
    MTREC_CHECK(size <= in[p]->size() - 8, "rank {} sent {} bytes of a table of {}", p, in[p]->size() - 8, size);
    pieces.push_back(DeserializeTable(in[p], in[p]->data() + 8, size, path));
  }
  // The pieces come from consecutive ranges of the file in rank order, each in file order: joined in rank order
  // they are in file order.
  std::vector<const ColumnTable*> tables;
  std::vector<std::pair<uint32_t, int64_t>> order;
  for (size_t p = 0; p < pieces.size(); ++p) {
    tables.push_back(&pieces[p]);
    for (int64_t r = 0; r < pieces[p].rows(); ++r) order.emplace_back(static_cast<uint32_t>(p), r);
  }
  ColumnTable share = ColumnTable::Concat(tables, order, path);
  share.report_ = report;  // the file's, as LoadTableShare counted it
  return share;
}

}  // namespace mtrec
