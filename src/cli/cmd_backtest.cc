#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "cli/commands.h"
#include "cli/data_sets.h"
#include "cli/training.h"
#include "common/dates.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/threads.h"
#include "nn/precision.h"
#include "eval/evaluation.h"
#include "eval/evaluation_run.h"
#include "features/time_series.h"

namespace mtrec {
namespace {

struct BacktestOptions {
  std::string config_path;
  int folds = 0;
  int horizon = 0;
  int step = 0;        // 0: the horizon
  int valid_days = 0;  // 0: the horizon
  std::string json;
  std::vector<std::string> overrides;
};

// One rolling origin: the rows of each part, as indices into the joined data, and the origin's day.
struct Fold {
  int index = 0;  // 1 = the oldest
  int32_t origin = 0;
  std::vector<int64_t> train, valid, test;
};

// A part's rows and the dates they span, for the printed line and the JSON.
nlohmann::ordered_json PartJson(const std::vector<int64_t>& rows, const std::vector<int32_t>& days) {
  nlohmann::ordered_json part = {{"rows", rows.size()}};
  if (!rows.empty()) {
    part["first"] = FormatIsoDate(days[rows.front()]);
    part["last"] = FormatIsoDate(days[rows.back()]);
  }
  return part;
}

// The numbers a fold's line shows for a task: wape for regression, auc for binary, pinball and coverage for a
// quantile, mase beside them where the task has a naive forecast.
std::vector<std::string> HeadlineKeys(const TaskReport& report) {
  std::vector<std::string> keys;
  if (report.binary) {
    keys = {"auc"};
  } else if (report.Has("pinball")) {
    keys = {"pinball", "coverage"};
  } else {
    keys = {"wape"};
  }
  if (report.Has("mase")) keys.push_back("mase");
  return keys;
}

std::string FormatHeadlines(const std::vector<TaskReport>& reports) {
  std::string text;
  for (const auto& report : reports) {
    text += fmt::format("{}{}", text.empty() ? "" : "; ", report.name);
    for (const auto& key : HeadlineKeys(report)) text += fmt::format(" {} {:.4f}", key, report.Get(key));
  }
  return text;
}

// Each task's metrics averaged over the folds where they are defined (NaN where none is); keys in the first fold's
// order.
std::vector<TaskReport> MeanReports(const std::vector<std::vector<TaskReport>>& folds) {
  std::vector<TaskReport> mean = folds.front();
  for (size_t k = 0; k < mean.size(); ++k) {
    mean[k].roc.clear();
    mean[k].reliability.clear();
    for (auto& [key, value] : mean[k].metrics) {
      double sum = 0;
      int count = 0;
      for (const auto& fold : folds) {
        const double x = fold[k].Get(key);
        if (!std::isfinite(x)) continue;
        sum += x;
        ++count;
      }
      value = count > 0 ? sum / count : NAN;
    }
  }
  return mean;
}

int RunBacktest(const BacktestOptions& options) {
  MTREC_CHECK(!options.config_path.empty(), "backtest needs --config FILE");
  MTREC_CHECK(options.folds >= 1, "--folds {}: backtest needs at least 1 fold", options.folds);
  MTREC_CHECK(options.horizon >= 1, "--horizon {}: the forecast horizon is at least 1 day", options.horizon);
  MTREC_CHECK(options.step >= 0, "--step {}: the days between origins are at least 1 (0: the horizon)", options.step);
  MTREC_CHECK(options.valid_days >= 0, "--valid-days {}: the validation days are at least 1 (0: the horizon)",
              options.valid_days);
  const int32_t horizon = options.horizon;
  const int32_t step = options.step > 0 ? options.step : horizon;
  const int32_t valid_days = options.valid_days > 0 ? options.valid_days : horizon;
  Config config = LoadConfig(options.config_path, options.overrides);
  MTREC_CHECK(!config.time_series.date.empty(),
              "{}: backtest needs [time_series] date, the date column its folds cut by (docs/time_series.md)",
              options.config_path);
  MTREC_CHECK(!config.tasks.empty(), "{}: no [[tasks]]: declare at least one task", options.config_path);
  MTREC_CHECK(!config.features.empty(), "{}: no [[features]]: declare at least one input feature",
              options.config_path);
  MTREC_CHECK(!config.data.train.empty(), "{}: [data] train is not set: which file should be backtested?",
              options.config_path);
  SetThreads(static_cast<int>(config.train.threads));
  SetMatmulPrecision(config.train.precision, "train.precision in " + options.config_path);
  // Found now rather than after the last fold.
  if (!options.json.empty()) CheckWritable(options.json, "--json");

  // The config's files as one series of days: its own split settings give way to the folds.
  std::vector<ColumnRequest> requests = EvaluationRequests(config, config.eval);
  AddColumnRequest(requests, config.time_series.date, "time_series.date column");
  std::vector<ColumnTable> files;
  std::string path;
  const std::pair<const char*, std::string> keys[] = {
      {"train", config.data.train}, {"valid", config.data.valid}, {"test", config.data.test}};
  for (const auto& [key, value] : keys) {
    if (value.empty()) continue;
    files.push_back(LoadDataFile(config, key, value, requests));
    LogReadReport(files.back(), key);
    path += (path.empty() ? "" : " + ") + files.back().path();
  }
  std::vector<const ColumnTable*> parts;
  std::vector<std::tuple<int32_t, uint32_t, int64_t>> dated;  // (day, file, row)
  for (uint32_t f = 0; f < files.size(); ++f) {
    parts.push_back(&files[f]);
    const std::vector<int32_t> days = DaysOfColumn(files[f], config.time_series.date, "time_series.date");
    for (int64_t r = 0; r < files[f].rows(); ++r) dated.emplace_back(days[r], f, r);
  }
  std::sort(dated.begin(), dated.end());
  std::vector<std::pair<uint32_t, int64_t>> order;
  std::vector<int32_t> days;
  for (const auto& [day, f, r] : dated) {
    order.emplace_back(f, r);
    days.push_back(day);
  }
  dated = {};
  const ColumnTable raw = ColumnTable::Concat(parts, order, path);
  files.clear();
  // Training and validation rows read the days before their own, as training derives a file split by date.
  std::vector<int64_t> all(static_cast<size_t>(raw.rows()));
  for (size_t r = 0; r < all.size(); ++r) all[r] = static_cast<int64_t>(r);
  ColumnTable derived = raw.Select(all);
  AddTimeSeriesColumns(config, derived, {});

  const int32_t last = days.back();
  std::vector<Fold> folds(options.folds);
  for (int i = 1; i <= options.folds; ++i) {
    Fold& fold = folds[i - 1];
    fold.index = i;
    fold.origin = last - horizon - (options.folds - i) * step;
    for (int64_t r = 0; r < raw.rows(); ++r) {
      const int32_t day = days[r];
      if (day <= fold.origin - valid_days) {
        fold.train.push_back(r);
      } else if (day <= fold.origin) {
        fold.valid.push_back(r);
      } else if (day <= fold.origin + horizon) {
        fold.test.push_back(r);
      }
    }
    // Every fold is checked before the first one trains.
    MTREC_CHECK(!fold.train.empty(),
                "fold {} of {} (origin {}): no row is dated on or before {} to train on (the data run from {} to {}); "
                "use fewer --folds, a smaller --step, --horizon or --valid-days",
                i, options.folds, FormatIsoDate(fold.origin), FormatIsoDate(fold.origin - valid_days),
                FormatIsoDate(days.front()), FormatIsoDate(last));
    MTREC_CHECK(!fold.valid.empty(), "fold {} of {} (origin {}): no row is dated in {}..{} to validate on", i,
                options.folds, FormatIsoDate(fold.origin), FormatIsoDate(fold.origin - valid_days + 1),
                FormatIsoDate(fold.origin));
    MTREC_CHECK(!fold.test.empty(), "fold {} of {} (origin {}): no row is dated in {}..{} to forecast", i,
                options.folds, FormatIsoDate(fold.origin), FormatIsoDate(fold.origin + 1),
                FormatIsoDate(fold.origin + horizon));
  }
  LogInfo("backtest: {} folds over {} rows from {} to {}: horizon {} days, origins {} days apart, {} validation days",
          options.folds, raw.rows(), FormatIsoDate(days.front()), FormatIsoDate(last), horizon, step, valid_days);

  std::vector<std::vector<TaskReport>> reports;
  nlohmann::ordered_json folds_json = nlohmann::ordered_json::array();
  for (const Fold& fold : folds) {
    LogInfo("fold {} of {}: origin {}", fold.index, options.folds, FormatIsoDate(fold.origin));
    const ColumnTable train = derived.Select(fold.train);
    const ColumnTable valid = derived.Select(fold.valid);
    LoadedModel model = TrainModel(config, train, &valid, {});
    // An h-step forecast from the origin: the test rows' derived columns read no actual dated after it.
    ColumnTable test = raw.Select(fold.test);
    AddTimeSeriesColumns(config, test, {&raw}, fold.origin);
    const EvaluationRun run = RunEvaluation(model, test, config.eval, /*with_curves=*/false);
    fmt::print("fold {}: origin {}, train {} rows, valid {} rows, test {} rows ({}..{}): {}\n", fold.index,
               FormatIsoDate(fold.origin), fold.train.size(), fold.valid.size(), fold.test.size(),
               FormatIsoDate(days[fold.test.front()]), FormatIsoDate(days[fold.test.back()]),
               FormatHeadlines(run.tasks));
    nlohmann::ordered_json fold_json = {{"fold", fold.index},
                                        {"origin", FormatIsoDate(fold.origin)},
                                        {"train", PartJson(fold.train, days)},
                                        {"valid", PartJson(fold.valid, days)},
                                        {"test", PartJson(fold.test, days)},
                                        {"epochs", model.history.size()}};
    fold_json["tasks"] = ReportsToJson(run.tasks, run.data.rows)["tasks"];
    folds_json.push_back(std::move(fold_json));
    reports.push_back(run.tasks);
  }
  const std::vector<TaskReport> mean = MeanReports(reports);
  fmt::print("mean over {} folds: {}\n", options.folds, FormatHeadlines(mean));
  if (!options.json.empty()) {
    nlohmann::ordered_json json = {{"data", path},     {"first", FormatIsoDate(days.front())},
                                   {"last", FormatIsoDate(last)}, {"horizon", horizon},
                                   {"step", step},     {"valid_days", valid_days},
                                   {"folds", folds_json}};
    json["mean"] = ReportsToJson(mean, 0)["tasks"];
    WriteFileAtomic(options.json, json.dump(2) + "\n");
    LogInfo("wrote {}", options.json);
  }
  return 0;
}

}  // namespace

RunCommand AddBacktestCommand(CLI::App& app) {
  auto options = std::make_shared<BacktestOptions>();
  CLI::App* command = app.add_subcommand(
      "backtest",
      "Backtest a [time_series] config over rolling origins: each fold trains a fresh model on the days before its "
      "origin (the last --valid-days validating), forecasts the --horizon days after it with derived columns that "
      "read no actual past the origin, and is evaluated as eval does; prints each fold's headline metrics and their "
      "mean.\n\nExamples:\n"
      "  mtrec backtest --config data/retail/config.toml --folds 4 --horizon 14\n"
      "  mtrec backtest --config data/retail/config.toml --folds 3 --horizon 7 --step 28 --json backtest.json "
      "train.epochs=2");
  command->add_option("--config", options->config_path, "Config file (TOML) with a [time_series] date")->required();
  command->add_option("--folds", options->folds, "Rolling origins, the oldest first")->required();
  command->add_option("--horizon", options->horizon, "Days forecast after each origin")->required();
  command->add_option("--step", options->step, "Days between origins (default: the horizon)");
  command->add_option("--valid-days", options->valid_days,
                      "Days before each origin that validate (early stopping) rather than train (default: the "
                      "horizon)");
  command->add_option("--json", options->json, "Also write every fold's task reports and their mean as JSON");
  command->add_option("overrides", options->overrides, "section.key=value settings applied on top of the config");
  return [options] { return RunBacktest(*options); };
}

}  // namespace mtrec
