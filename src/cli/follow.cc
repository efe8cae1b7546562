#include "cli/follow.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/training.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metric_info.h"
#include "data/column_table.h"
#include "io/model_io.h"
#include "models/predict.h"
#include "train/streaming.h"

namespace mtrec {
namespace {

using Clock = std::chrono::steady_clock;

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "click auc 0.7123  gmv rmse 3.21"; empty without metrics.
std::string Summary(const std::vector<TaskReport>& reports) {
  std::string summary;
  for (const TaskReport& report : reports) {
    const char* metric = HeadlineMetric(report.binary).name;
    summary += fmt::format("{}{} {} {:.4f}", summary.empty() ? "" : "  ", report.name, metric, report.Get(metric));
  }
  return summary;
}

std::string Tables(const StreamLearner& learner) {
  std::string text;
  for (const auto& [name, rows] : learner.TableRows()) {
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", name, rows);
  }
  return text;
}

}  // namespace

std::vector<std::string> ListPartitions(const std::string& dir) {
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  MTREC_CHECK(!error, "--follow {}: cannot list the folder: {}", dir, error.message());
  std::vector<std::string> names;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.starts_with('.') || name.starts_with('_')) continue;
    if (EndsWith(name, ".tmp") || EndsWith(name, ".part") || EndsWith(name, ".partial")) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

int FollowStream(const Config& config, const FollowOptions& options) {
  MTREC_CHECK(std::filesystem::is_directory(options.dir), "--follow {}: no such folder", options.dir);
  StreamLearner learner(config);
  if (std::filesystem::exists(options.checkpoint)) {
    LoadedModel resumed = LoadModel(options.checkpoint, InferenceBatch(config));
    MTREC_CHECK(resumed.trainer.has_value() && !resumed.trainer->stream.empty(),
                "{} is not a stream's checkpoint (a run without --follow wrote it): move it away or name another "
                "--out", options.checkpoint);
    MTREC_CHECK(StructureOf(resumed.config) == StructureOf(config),
                "{} was written by a stream with other features, tasks or model settings than this config's",
                options.checkpoint);
    learner.ResumeFrom(std::move(resumed.pipeline), std::move(resumed.model), *resumed.trainer);
    LogInfo("resuming the stream of {} after {} partitions (the last: {})", options.dir, learner.done().size(),
            learner.done().empty() ? "none" : learner.done().back());
    if (!options.init_from.empty()) LogInfo("--init-from {} is ignored: the stream has started", options.init_from);
  } else if (!options.init_from.empty()) {
    LoadedModel base = LoadModel(options.init_from);
    learner.WarmStartFrom(base.config, std::move(base.pipeline), std::move(base.model), options.init_from);
  }

  Clock::time_point last_publish = Clock::now();
  auto publish = [&](const char* why) {
    SaveModel(options.out, config, learner.pipeline(), learner.model(), learner.history());
    learner.set_published(static_cast<int64_t>(learner.done().size()));
    SaveCheckpoint(options.checkpoint, config, learner.pipeline(), learner.model(), learner.Checkpoint());
    last_publish = Clock::now();
    LogInfo("published {} after {} partitions ({}); embedding rows: {}", options.out, learner.done().size(), why,
            Tables(learner));
  };
  if (learner.started() && learner.published() < std::ssize(learner.done())) publish("left unpublished");

  const StreamConfig& stream = config.stream;
  double waited = 0;
  while (true) {
    std::vector<std::string> pending;
    for (const std::string& name : ListPartitions(options.dir)) {
      if (!learner.Done(name)) pending.push_back(name);
    }
    if (pending.empty()) {
      if (stream.wait_seconds >= 0 && waited >= stream.wait_seconds) break;
      std::this_thread::sleep_for(std::chrono::duration<double>(stream.poll_seconds));
      waited += stream.poll_seconds;
      continue;
    }
    waited = 0;
    for (const std::string& name : pending) {
      const std::string path = (std::filesystem::path(options.dir) / name).string();
      const ColumnTable table = LoadTable(path, config.data, FeaturePipeline::Requests(config, true));
      const EpochRecord record = learner.Learn(table, name);
      SaveCheckpoint(options.checkpoint, config, learner.pipeline(), learner.model(), learner.Checkpoint());
      const std::string progressive = Summary(record.valid);
      LogInfo("partition {} ({} rows, #{}){}{}; evicted {} rows", name, table.rows(), learner.done().size(),
              progressive.empty() ? "" : ": progressive ", progressive, learner.evicted());
      const bool by_count = std::ssize(learner.done()) - learner.published() >= stream.publish_every;
      const bool by_time =
          stream.publish_minutes > 0 &&
          std::chrono::duration<double>(Clock::now() - last_publish).count() >= stream.publish_minutes * 60;
      if (by_count || by_time) publish(by_count ? "every stream.publish_every" : "stream.publish_minutes");
    }
  }
  if (!learner.started()) {
    LogWarning("--follow {}: no partition arrived; nothing was trained or written", options.dir);
    return 0;
  }
  if (learner.published() < std::ssize(learner.done())) publish("the stream is caught up");
  LogInfo("stream caught up: {} partitions trained, model in {}", learner.done().size(), options.out);
  return 0;
}

}  // namespace mtrec
