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

#include "common/dates.h"
#include "common/error.h"
#include "common/files.h"
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

Parts MakeParts(std::vector<const ColumnTable*> tables) {
  Parts parts;
  parts.tables = std::move(tables);
  parts.offsets = {0};
  for (const ColumnTable* part : parts.tables) parts.offsets.push_back(parts.offsets.back() + part->rows());
  MTREC_CHECK(parts.rows() < (int64_t{1} << 32), "{}: {} rows with their history; time series take at most 2^32",
              parts.tables.empty() ? "" : parts.tables.back()->path(), parts.rows());
  return parts;
}

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

// The rows of one daily point, in row order (history first).
DaySum SumOfPoint(const DailyPoints& points, const std::vector<float>& values, size_t point) {
  DaySum day;
  for (int64_t i = points.point_begin[point]; i < points.point_begin[point + 1]; ++i) day.Add(values[points.order[i]]);
  return day;
}

// An entity's value on each of its days: the mean of its rows' values that day, missing ones left out.
std::vector<double> DailyValues(const DailyPoints& points, const std::vector<float>& values) {
  std::vector<double> daily(points.point_day.size());
  for (size_t p = 0; p < daily.size(); ++p) daily[p] = SumOfPoint(points, values, p).Value();
  return daily;
}

// The distinct entity definitions and sources of the derived columns, and the (entity, source) pairs with daily
// values: each grouped or gathered once for every column that uses it.
struct ColumnPlan {
  std::vector<std::vector<std::string>> entities;
  std::vector<std::string> sources;
  std::vector<size_t> entity_of;                 // per derived column
  std::vector<std::pair<size_t, size_t>> daily;  // (entity, source)
  std::vector<size_t> daily_of;                  // per derived column
};

ColumnPlan PlanColumns(const TimeSeriesConfig& ts) {
  ColumnPlan plan;
  plan.entity_of.resize(ts.columns.size());
  plan.daily_of.resize(ts.columns.size());
  for (size_t c = 0; c < ts.columns.size(); ++c) {
    const auto& entity = ts.EntityOf(ts.columns[c]);
    plan.entity_of[c] = std::find(plan.entities.begin(), plan.entities.end(), entity) - plan.entities.begin();
    if (plan.entity_of[c] == plan.entities.size()) plan.entities.push_back(entity);
    const size_t source =
        std::find(plan.sources.begin(), plan.sources.end(), ts.columns[c].column) - plan.sources.begin();
    if (source == plan.sources.size()) plan.sources.push_back(ts.columns[c].column);
    const std::pair<size_t, size_t> pair = {plan.entity_of[c], source};
    plan.daily_of[c] = std::find(plan.daily.begin(), plan.daily.end(), pair) - plan.daily.begin();
    if (plan.daily_of[c] == plan.daily.size()) plan.daily.push_back(pair);
  }
  return plan;
}

// Each source's values over every row of the parts.
std::vector<std::vector<float>> GatherSources(const Parts& parts, const std::vector<std::string>& sources) {
  std::vector<std::vector<float>> values(sources.size(), std::vector<float>(parts.rows()));
  for (size_t s = 0; s < sources.size(); ++s) {
    for (size_t p = 0; p < parts.tables.size(); ++p) {
      const Column& column = parts.tables[p]->Get(sources[s], ColumnType::kNumeric);
      std::copy(column.numbers.begin(), column.numbers.end(), values[s].begin() + parts.offsets[p]);
    }
  }
  return values;
}

// An entity key of several columns: each column's key (TimeSeriesIndex::TextKey / NumberKey) behind its length, so
// that no two value combinations share a key.
void AppendKeyPart(std::string& key, std::string_view part) {
  const uint32_t size = static_cast<uint32_t>(part.size());
  key.append(reinterpret_cast<const char*>(&size), sizeof size);
  key.append(part);
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
                                      const std::vector<const ColumnTable*>& history,
                                      std::optional<int32_t> known_until) {
  const TimeSeriesConfig& ts = config.time_series;
  TimeSeriesReport report;
  report.rows = table.rows();
  if (ts.columns.empty()) return report;
  const auto start = std::chrono::steady_clock::now();
  std::vector<const ColumnTable*> tables = history;
  tables.push_back(&table);
  const Parts parts = MakeParts(std::move(tables));
  report.history_rows = parts.offsets[history.size()];
  const std::vector<int32_t> days = DaysOf(parts, ts.date);

  const ColumnPlan plan = PlanColumns(ts);
  const std::vector<std::vector<float>> source_values = GatherSources(parts, plan.sources);
  std::vector<DailyPoints> points(plan.entities.size());
  ParallelForBlocks(plan.entities.size(),
                    [&](size_t e, int) { points[e] = GroupByEntityAndDay(parts, plan.entities[e], days); });
  std::vector<std::vector<double>> daily(plan.daily.size());
  ParallelForBlocks(plan.daily.size(), [&](size_t d, int) {
    daily[d] = DailyValues(points[plan.daily[d].first], source_values[plan.daily[d].second]);
    // Days past the cutoff stay as points, so a lag onto one reads a missing value rather than an older day.
    if (!known_until) return;
    const std::vector<int32_t>& point_day = points[plan.daily[d].first].point_day;
    for (size_t p = 0; p < point_day.size(); ++p) {
      if (point_day[p] > *known_until) daily[d][p] = kNaN;
    }
  });

  // Each derived column over every segment, then scattered to the rows of the table (the history only feeds it).
  const int64_t own_begin = report.history_rows;
  std::vector<std::vector<float>> derived(ts.columns.size());
  report.missing.assign(ts.columns.size(), 0);
  ParallelForBlocks(ts.columns.size(), [&](size_t c, int) {
    const DailyPoints& at = points[plan.entity_of[c]];
    const std::vector<double>& values = daily[plan.daily_of[c]];
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
  LogInfo("time series: {} derived columns for the {} rows of {} over {} history rows{} in {:.2f} s; missing values: "
          "{}",
          ts.columns.size(), table.rows(), table.path(), report.history_rows,
          known_until ? fmt::format(" known until {}", FormatIsoDate(*known_until)) : "", report.seconds,
          missing.empty() ? "none" : missing);
  return report;
}

std::vector<ColumnTable> LoadTimeSeriesHistory(const Config& config, const DataConfig& data,
                                               const std::vector<std::string>& paths) {
  std::vector<ColumnRequest> requests;
  AddTimeSeriesRequests(config, /*labels_required=*/false, requests);
  std::vector<ColumnTable> history;
  for (const auto& path : paths) {
    MTREC_CHECK(FileExists(path), "--history {}: file not found", path);
    history.push_back(LoadTable(path, data, requests));
  }
  return history;
}

namespace {

// The key of an entity column's value in row `row` of the parts (their text, or their number when read as one).
std::string KeyPartOfRow(const Parts& parts, const std::string& column, int64_t row) {
  const size_t p = std::upper_bound(parts.offsets.begin(), parts.offsets.end(), row) - parts.offsets.begin() - 1;
  const ColumnTable& table = *parts.tables[p];
  const int64_t local = row - parts.offsets[p];
  if (const Column* text = table.Find(column, ColumnType::kCategorical)) {
    return TimeSeriesIndex::TextKey(text->Value(text->codes[local]));
  }
  return TimeSeriesIndex::NumberKey(table.Get(column, ColumnType::kNumeric).numbers[local]);
}

// The first of an entity's history points (days[0, before), all before `first`, the request's first day) that
// `column` reads for a row on `first` or later: lag + window days back, or the last nonzero day for days_since.
template <typename ValueAt>
size_t FirstPointRead(const TimeSeriesColumnConfig& column, const int32_t* days, size_t before, int32_t first,
                      ValueAt value_at) {
  if (column.op == TimeSeriesOp::kDaysSince) {
    for (size_t p = before; p > 0; --p) {
      const double value = value_at(p - 1).Value();
      if (!std::isnan(value) && value != 0) return p - 1;
    }
    return before;
  }
  const int64_t reach = column.op == TimeSeriesOp::kLag ? column.lag : column.lag + column.window - 1;
  const int64_t oldest = std::max<int64_t>(static_cast<int64_t>(first) - reach, std::numeric_limits<int32_t>::min());
  return std::lower_bound(days, days + before, static_cast<int32_t>(oldest)) - days;
}

}  // namespace

std::string TimeSeriesIndex::TextKey(std::string_view text) { return std::string(text); }

std::string TimeSeriesIndex::NumberKey(float number) {
  // By its bits, as the files' path tells entities apart; every NaN is one missing value.
  const uint32_t bits = std::isnan(number) ? 0x7fc00000u : std::bit_cast<uint32_t>(number);
  return std::string(reinterpret_cast<const char*>(&bits), sizeof bits);
}

DaySum TimeSeriesIndex::Daily::At(size_t point) const {
  if (sums.empty()) {
    DaySum day;
    day.Add(single[point]);
    return day;
  }
  return sums[point];
}

TimeSeriesIndex::TimeSeriesIndex(const Config& config, const std::vector<const ColumnTable*>& history)
    : ts_(config.time_series) {
  const ColumnPlan plan = PlanColumns(ts_);
  sources_ = plan.sources;
  entities_.resize(plan.entities.size());
  for (size_t e = 0; e < plan.entities.size(); ++e) {
    for (const auto& column : plan.entities[e]) {
      const size_t k = std::find(key_columns_.begin(), key_columns_.end(), column) - key_columns_.begin();
      if (k == key_columns_.size()) {
        key_columns_.push_back(column);
        key_is_number_.push_back(!history.empty() && history[0]->Find(column, ColumnType::kCategorical) == nullptr);
      }
      entities_[e].keys.push_back(k);
    }
  }
  daily_.resize(plan.daily.size());
  for (size_t d = 0; d < plan.daily.size(); ++d) {
    daily_[d].entity = plan.daily[d].first;
    daily_[d].source = plan.daily[d].second;
  }
  for (size_t c = 0; c < ts_.columns.size(); ++c) daily_[plan.daily_of[c]].columns.push_back(c);
  if (history.empty()) return;

  const Parts parts = MakeParts(history);
  history_rows_ = parts.rows();
  const std::vector<int32_t> days = DaysOf(parts, ts_.date);
  const std::vector<std::vector<float>> source_values = GatherSources(parts, sources_);
  // One entity definition at a time: the rows' grouping is the large transient, the points kept are far fewer.
  for (size_t e = 0; e < entities_.size(); ++e) {
    Entity& entity = entities_[e];
    const DailyPoints points = GroupByEntityAndDay(parts, plan.entities[e], days);
    entity.days = points.point_day;
    const size_t segments = points.segment_begin.size() - 1;
    entity.segment_begin.assign(points.segment_begin.begin(), points.segment_begin.end());
    entity.segments.reserve(segments);
    for (size_t s = 0; s < segments; ++s) {
      const int64_t row = points.order[points.point_begin[points.segment_begin[s]]];
      std::string key;
      for (const auto& column : plan.entities[e]) AppendKeyPart(key, KeyPartOfRow(parts, column, row));
      entity.segments.emplace(std::move(key), static_cast<uint32_t>(s));
    }
    ParallelForBlocks(daily_.size(), [&](size_t d, int) {
      Daily& daily = daily_[d];
      if (daily.entity != e) return;
      const std::vector<float>& values = source_values[daily.source];
      std::vector<DaySum> sums(entity.days.size());
      bool single = true;
      for (size_t p = 0; p < sums.size(); ++p) {
        sums[p] = SumOfPoint(points, values, p);
        single = single && sums[p].count <= 1;
      }
      if (!single) {
        daily.sums = std::move(sums);
        return;
      }
      // One value a day at most: the float it was read as (0 + value, exactly).
      daily.single.resize(sums.size());
      for (size_t p = 0; p < sums.size(); ++p) daily.single[p] = sums[p].count ? static_cast<float>(sums[p].sum) : NAN;
    });
  }
}

TimeSeriesRows TimeSeriesIndex::NewRows(int64_t rows) const {
  TimeSeriesRows out;
  out.rows = rows;
  out.days.assign(rows, TimeSeriesRows::kNoDay);
  out.keys.assign(rows * key_columns_.size(), std::string());
  out.sources.assign(rows * sources_.size(), NAN);
  return out;
}

std::vector<float> TimeSeriesIndex::Derive(const TimeSeriesRows& rows) const {
  const size_t columns = ts_.columns.size();
  const size_t keys = key_columns_.size();
  const size_t sources = sources_.size();
  std::vector<float> out(rows.rows * columns, NAN);
  std::vector<int32_t> days;  // one entity's merged series: its history days read, and the request's days
  std::vector<double> values;
  std::vector<double> derived;
  std::vector<size_t> point_of;  // per request row of the entity: its point in the merged series
  for (size_t e = 0; e < entities_.size(); ++e) {
    const Entity& entity = entities_[e];
    // The request's rows by entity, each entity's rows by (day, request order): the files' order of rows in a day.
    std::unordered_map<std::string, std::vector<uint32_t>> groups;
    std::string key;
    for (int64_t r = 0; r < rows.rows; ++r) {
      if (rows.days[r] == TimeSeriesRows::kNoDay) continue;
      key.clear();
      for (size_t k : entity.keys) AppendKeyPart(key, rows.keys[r * keys + k]);
      groups[key].push_back(static_cast<uint32_t>(r));
    }
    for (auto& [entity_key, members] : groups) {
      std::stable_sort(members.begin(), members.end(),
                       [&](uint32_t a, uint32_t b) { return rows.days[a] < rows.days[b]; });
      size_t offset = 0;  // the entity's history points: [offset, offset + length) of entity.days
      size_t length = 0;
      if (auto it = entity.segments.find(entity_key); it != entity.segments.end()) {
        offset = entity.segment_begin[it->second];
        length = entity.segment_begin[it->second + 1] - offset;
      }
      const int32_t* history_days = entity.days.data() + offset;
      const int32_t first = rows.days[members.front()];
      const size_t before = std::lower_bound(history_days, history_days + length, first) - history_days;
      // No column reads a day after its row's.
      const size_t end =
          std::upper_bound(history_days, history_days + length, rows.days[members.back()]) - history_days;
      point_of.resize(members.size());
      for (const Daily& daily : daily_) {
        if (daily.entity != e) continue;
        auto value_at = [&](size_t p) { return daily.At(offset + p); };
        size_t start = before;
        for (size_t c : daily.columns) {
          start = std::min(start, FirstPointRead(ts_.columns[c], history_days, before, first, value_at));
        }
        days.clear();
        values.clear();
        size_t h = start;
        for (size_t m = 0; m < members.size();) {
          const int32_t day = rows.days[members[m]];
          for (; h < end && history_days[h] < day; ++h) {
            days.push_back(history_days[h]);
            values.push_back(value_at(h).Value());
          }
          // A request day the history also has: the request's rows join that day's rows, after them.
          DaySum sum;
          if (h < end && history_days[h] == day) sum = value_at(h++);
          for (; m < members.size() && rows.days[members[m]] == day; ++m) {
            sum.Add(rows.sources[members[m] * sources + daily.source]);
            point_of[m] = days.size();
          }
          days.push_back(day);
          values.push_back(sum.Value());
        }
        derived.resize(days.size());
        for (size_t c : daily.columns) {
          ComputeDerivedSeries(ts_.columns[c], days.data(), values.data(), days.size(), derived.data());
          for (size_t m = 0; m < members.size(); ++m) {
            out[members[m] * columns + c] = static_cast<float>(derived[point_of[m]]);
          }
        }
      }
    }
  }
  return out;
}

int64_t TimeSeriesIndex::entities() const {
  int64_t total = 0;
  for (const auto& entity : entities_) total += static_cast<int64_t>(entity.segments.size());
  return total;
}

int64_t TimeSeriesIndex::points() const {
  int64_t total = 0;
  for (const auto& entity : entities_) total += static_cast<int64_t>(entity.days.size());
  return total;
}

size_t TimeSeriesIndex::bytes() const {
  size_t total = sizeof(*this);
  for (const auto& entity : entities_) {
    total += entity.days.capacity() * sizeof(int32_t) + entity.segment_begin.capacity() * sizeof(uint32_t);
    // A hash node: the key's bytes beside the string and the node's pointers, and a bucket.
    for (const auto& [key, segment] : entity.segments) {
      total += sizeof(std::string) + (key.size() > 15 ? key.capacity() + 1 : 0) + 2 * sizeof(void*) + sizeof(segment);
    }
    total += entity.segments.bucket_count() * sizeof(void*);
  }
  for (const auto& daily : daily_) total += daily.single.capacity() * sizeof(float) + daily.sums.capacity() * sizeof(DaySum);
  return total;
}

}  // namespace mtrec
