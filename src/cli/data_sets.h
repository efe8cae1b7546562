// The files of a run, read as the config says: train, valid and test, with valid and test cut from the test file
// when data.valid_from_test is set, or held out of the training file under data.valid_fraction / test_fraction. Shared by `train` and `eval`.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"
#include "data/column_table.h"

namespace mtrec {

struct DataSets {
  std::optional<ColumnTable> train;
  std::optional<ColumnTable> valid;
  std::optional<ColumnTable> test;
};

// Reads the train file (when `with_train`) and the valid/test files named in the config.
DataSets LoadDataSets(const Config& config, bool with_train);

// Splits a table into (valid, test) with a seeded shuffle: the first `fraction` of the shuffled rows are the
// validation rows; both keep the file's order.
std::pair<ColumnTable, ColumnTable> SplitValidTest(const ColumnTable& table, double fraction, uint64_t seed);

// Replaces sets.train by its training part and sets the valid / test sets held out of it (data.valid_fraction,
// data.test_fraction), logging how many rows went where.
void SplitTrainingFile(const DataConfig& data, DataSets& sets);

// Logs rows and skipped bad rows of a file.
void LogReadReport(const ColumnTable& table, const std::string& role);

}  // namespace mtrec
