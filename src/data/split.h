// Validation and test sets held out of the training file (data.valid_fraction, data.test_fraction): rows chosen by
// a seeded shuffle, whole groups by a seeded hash of their value (data.split_group), or the latest rows by a time
// column (data.split_time); or by date ranges (data.split_by = "date": data.valid_dates, data.test_dates). The same
// file, config and seed give the same split, in `train` and in `eval --part`.
//
//   ColumnTable table = LoadTable(path, config.data, SplitRequests(config, requests));
//   RowSplit split = SplitRows(table, config);
//   ColumnTable valid = table.Select(split.valid);
#pragma once

#include <cstdint>
#include <vector>

#include "common/config.h"
#include "data/column_table.h"

namespace mtrec {

class Communicator;

struct RowSplit {
  std::vector<int64_t> train;  // row indices, each part in file order
  std::vector<int64_t> valid;
  std::vector<int64_t> test;
  int64_t groups = 0;  // with split_group: the distinct values
  std::vector<int64_t> dropped;  // by date: rows after the first held-out day in neither range
};

// Whether the config holds rows of the training file out.
bool SplitsTrainingFile(const DataConfig& data);

// `requests` plus the split_group / split_time column (or, by date, time_series.date) when no request reads it yet
// (read as text).
std::vector<ColumnRequest> SplitRequests(const DataConfig& data, std::vector<ColumnRequest> requests);
std::vector<ColumnRequest> SplitRequests(const Config& config, std::vector<ColumnRequest> requests);

// The rows of each part. Without a group or time column the parts hold round(rows × fraction) rows exactly; by
// group, each group lands on one side with probability equal to the fractions. By time, the latest rows are the
// test set and the ones just before them the validation set; a row without a time is an error.
RowSplit SplitRows(const ColumnTable& table, const DataConfig& data);
// The split the config asks for: by date (the training rows are the days before the first held-out range, rows
// after it in neither range are dropped; a row without a valid date is an error naming its file:line), or as
// above.
RowSplit SplitRows(const ColumnTable& table, const Config& config);

// The training rows rank `rank` of `ranks` keeps under mpirun: blocks of `block` rows (one rank's batch) dealt to
// the ranks in turn, so that without shuffling the ranks' k-th batches together are the rows of the k-th batch of
// one process whose batch is `ranks` blocks long.
std::vector<int64_t> ShardRows(int64_t rows, int64_t block, int rank, int ranks);

// The same share when each rank read its own consecutive range of the file (LoadTableShare): the ranks' rows are
// renumbered in rank order as one file's, and each block is sent to the rank ShardRows deals it to (one all-to-all
// of the rows). Every rank then holds, in file order, exactly the rows ShardRows would have kept of the whole file.
// The range is released once its rows are packed, so a rank holds about two copies of its share at most. A
// collective: every rank calls it.
// The most bytes a rank sends in one exchange of DealBlocks (MPI counts in int; a share can be larger).
inline constexpr int64_t kDealRoundBytes = int64_t{256} << 20;
ColumnTable DealBlocks(ColumnTable range, int64_t block, Communicator& world, int64_t round_bytes = kDealRoundBytes);

}  // namespace mtrec
