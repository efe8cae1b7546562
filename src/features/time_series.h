// Derived columns of [time_series]: lags, rolling means / std / zero shares, days since the last nonzero day and a
// value's ratio to its recent mean, computed per series from the past only, by calendar date. A file's values
// come from its history (the files before it, oldest first) and its own earlier rows; no value reads the row's
// own day or a later one, except ratio_to_mean, which reads its (non-label) source on the row's day. The exact
// semantics are in docs/time_series.md; training, `predict`, `eval` and the server all call the functions here.
//
//   std::vector<ColumnRequest> requests = FeaturePipeline::Requests(config, true);  // includes what they read
//   ColumnTable valid = LoadTable(path, config.data, requests);
//   AddTimeSeriesColumns(config, valid, {&train});    // valid gains sales_lag7, ... over train + valid
#pragma once

#include <cstdint>
#include <string>
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
TimeSeriesReport AddTimeSeriesColumns(const Config& config, ColumnTable& table,
                                      const std::vector<const ColumnTable*>& history);

// One derived column over one entity's daily series: `days` strictly increasing, `values` the entity's value on
// each (NaN = missing); out[i] is the column's value on day days[i]. Exposed for the server and the tests.
void ComputeDerivedSeries(const TimeSeriesColumnConfig& column, const int32_t* days, const double* values, size_t n,
                          double* out);

}  // namespace mtrec
