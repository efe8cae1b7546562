#include "features/time_series.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/threads.h"

namespace mtrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The tables of one computation, history first, as one run of rows: row r of part p is row offsets[p] + r.
struct Parts {
  std::vector<const ColumnTable*> tables;
  std::vector<int64_t> offsets;  // parts + 1
  int64_t rows() const { return offsets.back(); }
};

// Each row's day; a row whose date is missing or not a date stops the run with its file:line.
std::vector<int32_t> DaysOf(const Parts& parts, const std::string& column) {
  std::vector<int32_t> days(parts.rows());
  for (size_t p = 0; p < parts.tables.size(); ++p) {
    const std::vector<int32_t> part = DaysOfColumn(*parts.tables[p], column, "time_series.date");
    std::copy(part.begin(), part.end(), days.begin() + parts.offsets[p]);
  }
  return days;
}

// Each row's value of an entity column as a small id shared by every part: text by its bytes, a number by its bits.
std::vector<uint32_t> EntityIds(const Parts& parts, const std::string& column, uint64_t* distinct) {
  std::vector<uint32_t> ids(parts.rows());
  std::unordered_map<std::string, uint32_t> of_text;
  std::unordered_map<uint32_t, uint32_t> of_bits;
  for (size_t p = 0; p < parts.tables.size(); ++p) {
    const ColumnTable& table = *parts.tables[p];
    uint32_t* out = ids.data() + parts.offsets[p];
    if (const Column* text = table.Find(column, ColumnType::kCategorical)) {
      std::vector<uint32_t> of_code(text->DictionarySize());
      for (size_t code = 0; code < of_code.size(); ++code) {
        auto [it, added] = of_text.try_emplace(std::string(text->Value(static_cast<uint32_t>(code))),
                                               static_cast<uint32_t>(of_text.size() + of_bits.size()));
        of_code[code] = it->second;
      }
      for (int64_t r = 0; r < table.rows(); ++r) out[r] = of_code[text->codes[r]];
      continue;
    }
    const Column* numbers = table.Find(column, ColumnType::kNumeric);
    MTREC_CHECK(numbers != nullptr, "{}: time-series entity column '{}' was not read", table.path(), column);
    for (int64_t r = 0; r < table.rows(); ++r) {
      const float value = numbers->numbers[r];
      const uint32_t bits = std::isnan(value) ? 0x7fc00000u : std::bit_cast<uint32_t>(value);
      auto [it, added] = of_bits.try_emplace(bits, static_cast<uint32_t>(of_text.size() + of_bits.size()));
      out[r] = it->second;
    }
  }
  *distinct = of_text.size() + of_bits.size();
  return ids;
}

// The rows of one entity definition (the series, or a `by`) grouped into daily points: the rows sorted by
// (entity, date), each point one entity's rows on one day, each segment one entity's points by date.
struct DailyPoints {
  std::vector<uint32_t> order;         // row indices, by (entity, day, row)
  std::vector<int64_t> point_begin;    // points + 1, into order
  std::vector<int32_t> point_day;      // per point
  std::vector<int64_t> segment_begin;  // segments + 1, into the points
};

DailyPoints GroupByEntityAndDay(const Parts& parts, const std::vector<std::string>& entity,
                                const std::vector<int32_t>& days) {
  const int64_t rows = parts.rows();
  // One key per row: the entity columns' ids in mixed radix, renumbered densely before it could overflow.
  std::vector<uint64_t> key(rows, 0);
  uint64_t radix = 1;
  for (const auto& column : entity) {
    uint64_t distinct = 0;
    const std::vector<uint32_t> ids = EntityIds(parts, column, &distinct);
    if (radix > (uint64_t{1} << 62) / std::max<uint64_t>(distinct, 1)) {
      std::unordered_map<uint64_t, uint64_t> dense;
      for (auto& k : key) k = dense.try_emplace(k, dense.size()).first->second;
      radix = dense.size();
    }
    for (int64_t r = 0; r < rows; ++r) key[r] = key[r] * distinct + ids[r];
    radix *= std::max<uint64_t>(distinct, 1);
  }
  int32_t first_day = 0;
  int32_t last_day = 0;
  if (rows > 0) {
    const auto [lo, hi] = std::minmax_element(days.begin(), days.end());
    first_day = *lo;
    last_day = *hi;
  }
  const uint64_t span = static_cast<uint64_t>(last_day - first_day) + 1;
  if (radix > (uint64_t{1} << 62) / span) {
    std::unordered_map<uint64_t, uint64_t> dense;
    for (auto& k : key) k = dense.try_emplace(k, dense.size()).first->second;
  }
  std::vector<std::pair<uint64_t, uint32_t>> sorted(rows);
  for (int64_t r = 0; r < rows; ++r) {
    sorted[r] = {key[r] * span + static_cast<uint64_t>(days[r] - first_day), static_cast<uint32_t>(r)};
  }
  std::sort(sorted.begin(), sorted.end());

  DailyPoints points;
  points.order.resize(rows);
  for (int64_t i = 0; i < rows; ++i) {
    points.order[i] = sorted[i].second;
    if (i == 0 || sorted[i].first != sorted[i - 1].first) {
      if (i == 0 || sorted[i].first / span != sorted[i - 1].first / span) {
        points.segment_begin.push_back(static_cast<int64_t>(points.point_day.size()));
      }
      points.point_begin.push_back(i);
      points.point_day.push_back(days[sorted[i].second]);
    }
  }
  points.point_begin.push_back(rows);
  points.segment_begin.push_back(static_cast<int64_t>(points.point_day.size()));
  return points;
}

// An entity's value on each of its days: the mean of its rows' values that day, missing ones left out.
std::vector<double> DailyValues(const DailyPoints& points, const std::vector<float>& values) {
  const size_t n = points.point_day.size();
  std::vector<double> daily(n);
  for (size_t p = 0; p < n; ++p) {
    double sum = 0;
    int64_t count = 0;
    for (int64_t i = points.point_begin[p]; i < points.point_begin[p + 1]; ++i) {
      const float value = values[points.order[i]];
      if (std::isnan(value)) continue;
      sum += value;
      ++count;
    }
    daily[p] = count > 0 ? sum / static_cast<double>(count) : kNaN;
  }
  return daily;
}

// The values of the window [days[i] - lag - window + 1, days[i] - lag] as running sums: a value enters when the
// window's end reaches its day and leaves when its start passes it. Sums are of value - ref (the series' first
// value), so a long series of similar values keeps its precision.
struct RunningWindow {
  double ref = 0;
  double sum = 0;
  double squares = 0;
  int64_t count = 0;
  int64_t zeros = 0;

  void Add(double value, int sign) {
    if (std::isnan(value)) return;
    const double x = value - ref;
    sum += sign * x;
    squares += sign * x * x;
    count += sign;
    zeros += sign * (value == 0);
  }
  double Mean() const { return count > 0 ? ref + sum / static_cast<double>(count) : kNaN; }
  double Std() const {
    if (count < 2) return kNaN;
    const double mean = sum / static_cast<double>(count);
    return std::sqrt(std::max(0.0, squares / static_cast<double>(count) - mean * mean));
  }
  double ZeroShare() const { return count > 0 ? static_cast<double>(zeros) / static_cast<double>(count) : kNaN; }
};

}  // namespace

void ComputeDerivedSeries(const TimeSeriesColumnConfig& column, const int32_t* days, const double* values, size_t n,
                          double* out) {
  switch (column.op) {
    case TimeSeriesOp::kLag: {
      size_t j = 0;
      for (size_t i = 0; i < n; ++i) {
        const int64_t target = static_cast<int64_t>(days[i]) - column.lag;
        while (j < i && days[j] < target) ++j;
        out[i] = j < i && days[j] == target ? values[j] : kNaN;
      }
      return;
    }
    case TimeSeriesOp::kDaysSince: {
      int64_t last = -1;
      for (size_t i = 0; i < n; ++i) {
        out[i] = last >= 0 ? static_cast<double>(days[i] - days[last]) : kNaN;
        if (!std::isnan(values[i]) && values[i] != 0) last = static_cast<int64_t>(i);
      }
      return;
    }
    case TimeSeriesOp::kMean:
    case TimeSeriesOp::kStd:
    case TimeSeriesOp::kZeroShare:
    case TimeSeriesOp::kRatioToMean: {
      RunningWindow window;
      for (size_t i = 0; i < n; ++i) {
        if (!std::isnan(values[i])) {
          window.ref = values[i];
          break;
        }
      }
      size_t lo = 0;
      size_t hi = 0;  // the window holds the days [lo, hi)
      for (size_t i = 0; i < n; ++i) {
        const int64_t newest = static_cast<int64_t>(days[i]) - column.lag;
        const int64_t oldest = newest - column.window + 1;
        while (hi < i && days[hi] <= newest) window.Add(values[hi++], +1);
        while (lo < hi && days[lo] < oldest) window.Add(values[lo++], -1);
        switch (column.op) {
          case TimeSeriesOp::kMean:
            out[i] = window.Mean();
            break;
          case TimeSeriesOp::kStd:
            out[i] = window.Std();
            break;
          case TimeSeriesOp::kZeroShare:
            out[i] = window.ZeroShare();
            break;
          default: {
            const double mean = window.Mean();
            out[i] = std::isnan(mean) || mean == 0 ? kNaN : values[i] / mean;
          }
        }
      }
      return;
    }
  }
}

void AddTimeSeriesRequests(const Config& config, bool labels_required, std::vector<ColumnRequest>& requests) {
  const TimeSeriesConfig& ts = config.time_series;
  if (ts.columns.empty()) return;
  AddColumnRequest(requests, ts.date, "time_series.date column");
  for (const auto& column : ts.series) AddColumnRequest(requests, column, "time_series.series column");
  for (const auto& derived : ts.columns) {
    for (const auto& column : derived.by) AddColumnRequest(requests, column, "time_series 'by' column");
  }
  for (const auto& derived : ts.columns) {
    bool label = false;
    for (const auto& task : config.tasks) label = label || task.column == derived.column;
    auto same = [&](const ColumnRequest& r) { return r.name == derived.column && r.type == ColumnType::kNumeric; };
    if (auto it = std::find_if(requests.begin(), requests.end(), same); it != requests.end()) {
      it->required = it->required || !label || labels_required;
      continue;
    }
    ColumnRequest request;
    request.name = derived.column;
    request.type = ColumnType::kNumeric;
    request.required = !label || labels_required;
    request.label = label;
    request.role = fmt::format("source of time_series column '{}'", derived.name);
    requests.push_back(std::move(request));
  }
}

TimeSeriesReport AddTimeSeriesColumns(const Config& config, ColumnTable& table,
                                      const std::vector<const ColumnTable*>& history) {
  const TimeSeriesConfig& ts = config.time_series;
  TimeSeriesReport report;
  report.rows = table.rows();
  if (ts.columns.empty()) return report;
  const auto start = std::chrono::steady_clock::now();
  Parts parts;
  parts.tables = history;
  parts.tables.push_back(&table);
  parts.offsets = {0};
  for (const ColumnTable* part : parts.tables) parts.offsets.push_back(parts.offsets.back() + part->rows());
  report.history_rows = parts.offsets[history.size()];
  MTREC_CHECK(parts.rows() < (int64_t{1} << 32), "{}: {} rows with their history; time series take at most 2^32",
              table.path(), parts.rows());
  const std::vector<int32_t> days = DaysOf(parts, ts.date);

  // The distinct entities and sources, each grouped or gathered once for every column that uses it.
  std::vector<std::vector<std::string>> entities;
  std::vector<std::string> sources;
  std::vector<size_t> entity_of(ts.columns.size());
  std::vector<size_t> source_of(ts.columns.size());
  std::vector<std::pair<size_t, size_t>> daily_keys;  // (entity, source) pairs with daily values
  std::vector<size_t> daily_of(ts.columns.size());
  for (size_t c = 0; c < ts.columns.size(); ++c) {
    const auto& entity = ts.EntityOf(ts.columns[c]);
    entity_of[c] = std::find(entities.begin(), entities.end(), entity) - entities.begin();
    if (entity_of[c] == entities.size()) entities.push_back(entity);
    source_of[c] = std::find(sources.begin(), sources.end(), ts.columns[c].column) - sources.begin();
    if (source_of[c] == sources.size()) sources.push_back(ts.columns[c].column);
    const std::pair<size_t, size_t> pair = {entity_of[c], source_of[c]};
    daily_of[c] = std::find(daily_keys.begin(), daily_keys.end(), pair) - daily_keys.begin();
    if (daily_of[c] == daily_keys.size()) daily_keys.push_back(pair);
  }
  std::vector<std::vector<float>> source_values(sources.size(), std::vector<float>(parts.rows()));
  for (size_t s = 0; s < sources.size(); ++s) {
    for (size_t p = 0; p < parts.tables.size(); ++p) {
      const Column& column = parts.tables[p]->Get(sources[s], ColumnType::kNumeric);
      std::copy(column.numbers.begin(), column.numbers.end(), source_values[s].begin() + parts.offsets[p]);
    }
  }
  std::vector<DailyPoints> points(entities.size());
  ParallelForBlocks(entities.size(), [&](size_t e, int) { points[e] = GroupByEntityAndDay(parts, entities[e], days); });
  std::vector<std::vector<double>> daily(daily_keys.size());
  ParallelForBlocks(daily_keys.size(), [&](size_t d, int) {
    daily[d] = DailyValues(points[daily_keys[d].first], source_values[daily_keys[d].second]);
  });

  // Each derived column over every segment, then scattered to the rows of the table (the history only feeds it).
  const int64_t own_begin = report.history_rows;
  std::vector<std::vector<float>> derived(ts.columns.size());
  report.missing.assign(ts.columns.size(), 0);
  ParallelForBlocks(ts.columns.size(), [&](size_t c, int) {
    const DailyPoints& at = points[entity_of[c]];
    const std::vector<double>& values = daily[daily_of[c]];
    std::vector<double> series(values.size());
    for (size_t s = 0; s + 1 < at.segment_begin.size(); ++s) {
      const int64_t begin = at.segment_begin[s];
      ComputeDerivedSeries(ts.columns[c], at.point_day.data() + begin, values.data() + begin,
                           static_cast<size_t>(at.segment_begin[s + 1] - begin), series.data() + begin);
    }
    std::vector<float> out(static_cast<size_t>(table.rows()), NAN);
    for (size_t p = 0; p < series.size(); ++p) {
      for (int64_t i = at.point_begin[p]; i < at.point_begin[p + 1]; ++i) {
        const int64_t row = static_cast<int64_t>(at.order[i]) - own_begin;
        if (row >= 0) out[row] = static_cast<float>(series[p]);
      }
    }
    report.missing[c] = std::count_if(out.begin(), out.end(), [](float x) { return std::isnan(x); });
    derived[c] = std::move(out);
  });
  for (size_t c = 0; c < ts.columns.size(); ++c) table.AddNumeric(ts.columns[c].name, std::move(derived[c]));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string missing;
  for (size_t c = 0; c < ts.columns.size(); ++c) {
    if (report.missing[c] == 0) continue;
    missing += fmt::format("{}{} {} ({:.1f}%)", missing.empty() ? "" : ", ", ts.columns[c].name, report.missing[c],
                           100.0 * static_cast<double>(report.missing[c]) / static_cast<double>(table.rows()));
  }
  LogInfo("time series: {} derived columns for the {} rows of {} over {} history rows in {:.2f} s; missing values: {}",
          ts.columns.size(), table.rows(), table.path(), report.history_rows, report.seconds,
          missing.empty() ? "none" : missing);
  return report;
}

}  // namespace mtrec
