#include "cli/data_sets.h"

#include <algorithm>
#include <filesystem>

#include "common/communicator.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/split.h"
#include "features/batcher.h"
#include "features/pipeline.h"
#include "features/time_series.h"

namespace mtrec {

std::pair<ColumnTable, ColumnTable> SplitValidTest(const ColumnTable& table, double fraction, uint64_t seed) {
  std::vector<int64_t> order = ShuffledOrder(table.rows(), seed);
  const size_t cut = static_cast<size_t>(static_cast<double>(order.size()) * fraction);
  std::vector<int64_t> valid(order.begin(), order.begin() + cut);
  std::vector<int64_t> test(order.begin() + cut, order.end());
  std::sort(valid.begin(), valid.end());
  std::sort(test.begin(), test.end());
  return {table.Select(valid), table.Select(test)};
}

void SplitTrainingFile(const Config& config, DataSets& sets) {
  const DataConfig& data = config.data;
  const ColumnTable& table = *sets.train;
  const RowSplit split = SplitRows(table, config);
  if (data.split_by == SplitBy::kDate) {
    LogInfo("split the training file {} by date: {} training rows (the days before the first held-out one), {} "
            "validation rows (data.valid_dates = \"{}\"), {} test rows (data.test_dates = \"{}\")",
            table.path(), split.train.size(), split.valid.size(), data.valid_dates, split.test.size(),
            data.test_dates);
    if (!split.dropped.empty()) {
      LogWarning("{}: dropped {} rows dated after the first held-out day but in neither data.valid_dates nor "
                 "data.test_dates (the first at line {})",
                 table.path(), split.dropped.size(), table.lines()[split.dropped.front()]);
    }
    MTREC_CHECK(!split.train.empty(), "{}: no row is dated before the first held-out day of data.valid_dates = "
                "\"{}\" / data.test_dates = \"{}\"; nothing is left to train on",
                table.path(), data.valid_dates, data.test_dates);
    MTREC_CHECK(data.valid_dates.empty() || !split.valid.empty(),
                "{}: no row is dated in data.valid_dates = \"{}\"", table.path(), data.valid_dates);
    MTREC_CHECK(data.test_dates.empty() || !split.test.empty(), "{}: no row is dated in data.test_dates = \"{}\"",
                table.path(), data.test_dates);
    if (!data.valid_dates.empty()) sets.valid = table.Select(split.valid);
    if (!data.test_dates.empty()) sets.test = table.Select(split.test);
    sets.train = table.Select(split.train);
    return;
  }
  std::string how = fmt::format("a seeded shuffle, seed {}", data.split_seed);
  if (!data.split_group.empty()) {
    how = fmt::format("{} groups of '{}' by a seeded hash, seed {}", split.groups, data.split_group, data.split_seed);
  }
  if (!data.split_time.empty()) how = fmt::format("the latest rows by '{}'", data.split_time);
  LogInfo("split the training file {}: {} training, {} validation, {} test rows (data.valid_fraction = {}, "
          "data.test_fraction = {}; {})",
          table.path(), split.train.size(), split.valid.size(), split.test.size(), data.valid_fraction,
          data.test_fraction, how);
  MTREC_CHECK(!split.train.empty(), "{}: the split left no training rows of {}", table.path(), table.rows());
  MTREC_CHECK(data.valid_fraction == 0 || !split.valid.empty(),
              "{}: data.valid_fraction = {} of {} rows{} left no validation rows; raise it", table.path(),
              data.valid_fraction, table.rows(),
              data.split_group.empty() ? "" : fmt::format(" ({} groups)", split.groups));
  MTREC_CHECK(data.test_fraction == 0 || !split.test.empty(),
              "{}: data.test_fraction = {} of {} rows{} left no test rows; raise it", table.path(), data.test_fraction,
              table.rows(), data.split_group.empty() ? "" : fmt::format(" ({} groups)", split.groups));
  if (data.valid_fraction > 0) sets.valid = table.Select(split.valid);
  if (data.test_fraction > 0) sets.test = table.Select(split.test);
  sets.train = table.Select(split.train);
}

void LogReadReport(const ColumnTable& table, const std::string& role) {
  const ReadReport& report = table.report();
  LogInfo("{} data: {} rows from {}{}{}", role, report.rows, report.path, report.from_cache ? " (dataset cache)" : "",
          report.skipped ? fmt::format(", {} bad rows skipped", report.skipped) : "");
  for (const auto& example : report.skipped_examples) LogInfo("  skipped {}", example);
}

std::vector<ColumnTable> LoadHistory(const Config& config, const DataConfig& data,
                                     const std::vector<std::string>& paths) {
  std::vector<ColumnTable> history;
  if (paths.empty()) return history;
  if (config.time_series.columns.empty()) {
    LogInfo("--history: the model has no derived time-series columns; the history files are not read");
    return history;
  }
  history = LoadTimeSeriesHistory(config, data, paths);
  for (const auto& table : history) LogReadReport(table, "history");
  return history;
}

void AddDerivedColumns(const Config& config, ColumnTable& table, const std::vector<ColumnTable>& history) {
  std::vector<const ColumnTable*> tables;
  for (const auto& part : history) tables.push_back(&part);
  AddTimeSeriesColumns(config, table, tables);
}

ColumnTable LoadDataFile(const Config& config, const char* key, const std::string& value,
                         const std::vector<ColumnRequest>& requests) {
  const std::string path = DataPath(config, value);
  MTREC_CHECK(FileExists(path), "data.{} = \"{}\" in {}: file not found at {}", key, value,
              config.source_path.empty() ? "the config" : config.source_path,
              std::filesystem::absolute(path).lexically_normal().string());
  return LoadTable(path, config.data, requests);
}

bool ReadsTrainingShare(const Config& config) {
  return !SplitsTrainingFile(config.data) && config.time_series.columns.empty();
}

ColumnTable LoadTrainingShare(const Config& config, Communicator& world) {
  MTREC_CHECK(!config.data.train.empty(), "{}: [data] train is not set: which file should be trained on?",
              config.source_path);
  const std::string path = DataPath(config, config.data.train);
  MTREC_CHECK(FileExists(path), "data.train = \"{}\" in {}: file not found at {}", config.data.train,
              config.source_path.empty() ? "the config" : config.source_path,
              std::filesystem::absolute(path).lexically_normal().string());
  ColumnTable share =
      LoadTableShare(path, config.data, SplitRequests(config, FeaturePipeline::Requests(config, true)), world);
  LogReadReport(share, "train");
  return share;
}

DataSets LoadDataSets(const Config& config, bool with_train) {
  DataSets sets;
  const auto requests = FeaturePipeline::Requests(config, /*labels_required=*/true);
  // Each file's derived time-series columns read the files before it: valid follows train, test follows both.
  std::vector<const ColumnTable*> history;
  if (with_train) {
    MTREC_CHECK(!config.data.train.empty(), "{}: [data] train is not set: which file should be trained on?",
                config.source_path);
    sets.train = LoadDataFile(config, "train", config.data.train, SplitRequests(config, requests));
    LogReadReport(*sets.train, "train");
    AddTimeSeriesColumns(config, *sets.train, history);
    history.push_back(&*sets.train);
  }
  if (!config.data.valid.empty()) {
    sets.valid = LoadDataFile(config, "valid", config.data.valid, requests);
    LogReadReport(*sets.valid, "valid");
    AddTimeSeriesColumns(config, *sets.valid, history);
    history.push_back(&*sets.valid);
  }
  if (!config.data.test.empty()) {
    ColumnTable test = LoadDataFile(config, "test", config.data.test, requests);
    AddTimeSeriesColumns(config, test, history);
    if (config.data.valid_from_test > 0 && !sets.valid) {
      auto [valid, rest] = SplitValidTest(test, config.data.valid_from_test, config.data.split_seed);
      LogInfo("split the test file: {} validation rows, {} test rows (data.valid_from_test = {}, seed {})",
              valid.rows(), rest.rows(), config.data.valid_from_test, config.data.split_seed);
      sets.valid = std::move(valid);
      sets.test = std::move(rest);
    } else {
      sets.test = std::move(test);
    }
    LogReadReport(*sets.test, "test");
  }
  // Split after the other files took the whole training file as their history; a split file's derived columns were
  // computed over the whole file, so each held-out row read only the days before its own.
  if (with_train && SplitsTrainingFile(config.data)) SplitTrainingFile(config, sets);
  return sets;
}

}  // namespace mtrec
