// The files of a run, read as the config says: train, valid and test, with valid and test cut from the test file
// when data.valid_from_test is set, or held out of the training file under data.valid_fraction / test_fraction or
// data.split_by = "date". Each file gains its derived time-series columns, with the files before it as history.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"
#include "data/column_table.h"

namespace mtrec {

class Communicator;

struct DataSets {
  std::optional<ColumnTable> train;
  std::optional<ColumnTable> valid;
  std::optional<ColumnTable> test;
};

// Reads the train file (when `with_train`) and the valid/test files named in the config, each with its derived
// time-series columns (features/time_series.h): the validation file's history is the training file, the test
// file's the training and validation files.
DataSets LoadDataSets(const Config& config, bool with_train);

// Under mpirun, whether each rank reads only its share of the training file: not when rows are held out of it
// (the split needs every row) or derived time-series columns read each row's past (the whole file).
bool ReadsTrainingShare(const Config& config);

// This rank's consecutive range of the training file (LoadTableShare), its read report logged for the whole file.
ColumnTable LoadTrainingShare(const Config& config, Communicator& world);

// Reads the file a data.KEY setting names (`key`: "train", "valid", "test"); a missing one is reported with the
// setting, since a path relative to the config's folder is easy to misread.
ColumnTable LoadDataFile(const Config& config, const char* key, const std::string& value,
                         const std::vector<ColumnRequest>& requests);

// Splits a table into (valid, test) with a seeded shuffle: the first `fraction` of the shuffled rows are the
// validation rows; both keep the file's order.
std::pair<ColumnTable, ColumnTable> SplitValidTest(const ColumnTable& table, double fraction, uint64_t seed);

// Replaces sets.train by its training part and sets the valid / test sets held out of it (data.valid_fraction,
// data.test_fraction, or data.split_by = "date"), logging how many rows went where and any dropped.
void SplitTrainingFile(const Config& config, DataSets& sets);

// The --history files of `predict` and `eval` (oldest first), read for what the derived time-series columns need
// (their date, entity and source columns; a label source may be absent), with `data`'s settings. None when the
// config has no derived columns (a note is logged if files were given).
std::vector<ColumnTable> LoadHistory(const Config& config, const DataConfig& data,
                                     const std::vector<std::string>& paths);

// `table` gains its derived time-series columns, computed over `history` and its own rows.
void AddDerivedColumns(const Config& config, ColumnTable& table, const std::vector<ColumnTable>& history);

// Logs rows and skipped bad rows of a file.
void LogReadReport(const ColumnTable& table, const std::string& role);

}  // namespace mtrec
