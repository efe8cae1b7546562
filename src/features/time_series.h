// Derived columns of [time_series]: lags, rolling means / std / zero shares, days since the last nonzero day and a
// value's ratio to its recent mean, computed per series from the past only, by calendar date. A file's values
// come from its history (the files before it, oldest first) and its own earlier rows; no value reads the row's
// own day or a later one, except ratio_to_mean, which reads its (non-label) source on the row's day. The exact
// semantics are in docs/time_series.md; training, `predict`, `eval` and the server all call the functions here.
//
//   std::vector<ColumnRequest> requests = FeaturePipeline::Requests(config, true);  // includes what they read
//   ColumnTable valid = LoadTable(path, config.data, requests);
//   AddTimeSeriesColumns(config, valid, {&train});    // valid gains sales_lag7, ... over train + valid
//
//   TimeSeriesIndex index(config, {&train, &valid});  // the server's: each entity's daily values, tables dropped
//   TimeSeriesRows rows = index.NewRows(n);           // the rows of a request: day, entity columns, sources
//   std::vector<float> derived = index.Derive(rows);  // rows x derived columns, as if they were a file after them
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "data/column_table.h"

namespace mtrec {

// Adds to `requests` the columns the derived ones read: the date and entity columns as text (unless already read
// as one value a row), the sources as numbers, a task label's as required as the labels are.
void AddTimeSeriesRequests(const Config& config, bool labels_required, std::vector<ColumnRequest>& requests);

struct TimeSeriesReport {
  int64_t rows = 0;              // of the table
  int64_t history_rows = 0;      // of the history tables together
  std::vector<int64_t> missing;  // per derived column: the table's rows without a value
  double seconds = 0;
};

// Appends every derived column of config.time_series to `table`, computed over `history` and the table's own rows
// (rows at the same series and date in both are one day's rows together). A row without a valid date stops the
// run with its file:line. Logs how many values are missing; does nothing without derived columns.
// `known_until` (a day, common/dates.h): source values dated after it are unknown, read as missing wherever they
// are (the forecast from that origin of `mtrec backtest`: rows after it read no actual past the origin).
TimeSeriesReport AddTimeSeriesColumns(const Config& config, ColumnTable& table,
                                      const std::vector<const ColumnTable*>& history,
                                      std::optional<int32_t> known_until = std::nullopt);

// The history files of `predict`, `eval` and `serve` (--history, oldest first), read with `data`'s settings for what
// the derived columns need: the date, entity and source columns (a label source may be absent; its values are then
// missing). A file or a column that is not there stops the run with its name.
std::vector<ColumnTable> LoadTimeSeriesHistory(const Config& config, const DataConfig& data,
                                               const std::vector<std::string>& paths);

// One derived column over one entity's daily series: `days` strictly increasing, `values` the entity's value on
// each (NaN = missing); out[i] is the column's value on day days[i]. The one routine of both the files' path and
// the server's.
void ComputeDerivedSeries(const TimeSeriesColumnConfig& column, const int32_t* days, const double* values, size_t n,
                          double* out);

// An entity's rows on one day: their source values summed in row order (history first), missing ones left out.
// Its value that day is their mean.
struct DaySum {
  double sum = 0;
  uint32_t count = 0;

  void Add(float value) {
    if (std::isnan(value)) return;
    sum += value;
    ++count;
  }
  double Value() const {
    return count > 0 ? sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
  }
};

// Rows to derive (a server request's), in request order: each row's day, its entity columns' values as keys
// (TimeSeriesIndex::TextKey / NumberKey, per key_columns()) and its source values (per sources(), NaN = missing).
struct TimeSeriesRows {
  static constexpr int32_t kNoDay = std::numeric_limits<int32_t>::min();

  int64_t rows = 0;
  std::vector<int32_t> days;      // per row; kNoDay: the row takes no part (not derived, read by no other row)
  std::vector<std::string> keys;  // rows x key columns
  std::vector<float> sources;     // rows x sources
};

// Each entity's daily source values over history files, for the server: built once per model load, read by any
// number of threads. Derive computes a request's derived columns over the history and the request's own rows, as
// AddTimeSeriesColumns would for a file after the history holding those rows: the same daily points (a request row
// on a day of the history joins that day's rows), the same ComputeDerivedSeries, read over the days the column
// can reach (lag + window back; days_since back to the last nonzero day) rather than the whole series.
class TimeSeriesIndex {
 public:
  TimeSeriesIndex(const Config& config, const std::vector<const ColumnTable*>& history);

  // The entity columns (series and `by` columns, each once) and the source columns a request row gives.
  const std::vector<std::string>& key_columns() const { return key_columns_; }
  bool key_is_number(size_t k) const { return key_is_number_[k]; }
  const std::vector<std::string>& sources() const { return sources_; }

  // An entity column's value as a key: a text column's text, a numeric column's number.
  static std::string TextKey(std::string_view text);
  static std::string NumberKey(float number);

  TimeSeriesRows NewRows(int64_t rows) const;
  // rows x derived columns (config order), NaN = missing; NaN for the rows without a day.
  std::vector<float> Derive(const TimeSeriesRows& rows) const;

  int64_t history_rows() const { return history_rows_; }
  int64_t entities() const;  // entity values over every entity definition
  int64_t points() const;    // (entity, day) points over every entity definition
  size_t bytes() const;      // memory held, approximately

 private:
  struct Entity {
    std::vector<size_t> keys;                             // into key_columns_, per entity column
    std::unordered_map<std::string, uint32_t> segments;  // entity key -> segment
    std::vector<uint32_t> segment_begin;                  // segments + 1, into days
    std::vector<int32_t> days;                            // per point: each segment's days, increasing
  };
  // One entity definition's daily values of one source. A series with at most one row a day (the usual case)
  // keeps each day's value as the float it was read as; otherwise each day's sum and count.
  struct Daily {
    size_t entity = 0;
    size_t source = 0;
    std::vector<size_t> columns;  // the derived columns reading it
    std::vector<float> single;    // per point, when no day has two rows with a value
    std::vector<DaySum> sums;     // per point, otherwise
    DaySum At(size_t point) const;
  };

  TimeSeriesConfig ts_;
  int64_t history_rows_ = 0;
  std::vector<std::string> key_columns_;
  std::vector<uint8_t> key_is_number_;
  std::vector<std::string> sources_;
  std::vector<Entity> entities_;
  std::vector<Daily> daily_;
};

}  // namespace mtrec
