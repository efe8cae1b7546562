// A model's life through the command line: trained on day 1, warm-started on day 2 with a task added and parts
// frozen (`train --init-from`, train.freeze), and the refusals of what cannot be warm-started; trained on a stream
// of daily partitions (`train --follow`), killed at random moments and restarted into the very model an unbroken
// run writes, and served while it publishes.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "common/checksum.h"
#include "common/files.h"
#include "server_process.h"

namespace mtrec::e2e {
namespace {

// The simulated config without its gmv task (the base model of a transfer to a new task).
std::string WithoutGmv(std::string config) {
  const size_t begin = config.find("# Revenue per impression");
  const size_t end = config.find("# A shared-bottom network");
  return config.erase(begin, end - begin);
}

class LifecycleTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(FreshDir("lifecycle"));
    const RunResult sim = RunMtrec("-q simulate --days 4 --rows 20000 --seed 5 --out " + dir_->string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
    WriteText(*dir_ / "base.toml", WithoutGmv(ReadFileBytes(*dir_ / "config.toml")));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }
  static const std::string kFast;

  static std::filesystem::path* dir_;
};

std::filesystem::path* LifecycleTest::dir_ = nullptr;
const std::string LifecycleTest::kFast = " train.epochs=2 train.threads=2 model.bottom=[32] model.tower=[8]";

TEST_F(LifecycleTest, ANewTaskOnADayLaterWithTheBodyFrozen) {
  RunResult base = RunMtrec("train --config " + Path("base.toml") + " --out " + Path("base.mtrec") +
                            " data.train=days/day-001.csv data.valid=days/day-002.csv" + kFast);
  ASSERT_EQ(base.exit_code, 0) << base.output;

  RunResult warm = RunMtrec("train --config " + Path("config.toml") + " --init-from " + Path("base.mtrec") +
                            " --out " + Path("warm.mtrec") +
                            " data.train=days/day-002.csv data.valid=days/day-003.csv" + kFast +
                            " 'train.freeze=[\"embeddings\", \"bottom\"]'");
  ASSERT_EQ(warm.exit_code, 0) << warm.output;
  EXPECT_NE(warm.output.find("warm start from " + Path("base.mtrec") + ":"), std::string::npos) << warm.output;
  EXPECT_NE(warm.output.find("new outputs, trained from scratch: gmv"), std::string::npos) << warm.output;
  EXPECT_NE(warm.output.find("feature item_id: "), std::string::npos) << warm.output;  // new items admitted
  EXPECT_NE(warm.output.find("frozen: "), std::string::npos) << warm.output;

  const std::string json = Path("warm.json");
  RunResult eval = RunMtrec("-q eval --model " + Path("warm.mtrec") + " --data " + Path("days/day-004.csv") +
                            " --json " + json);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
  EXPECT_GT(metrics["tasks"]["click"]["auc"].get<double>(), 0.6) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["gmv"].contains("rmse")) << eval.output;
}

TEST_F(LifecycleTest, WhatCannotBeWarmStartedIsRefusedByName) {
  RunResult base = RunMtrec("-q train --config " + Path("config.toml") + " --out " + Path("mmoe.mtrec") +
                            " data.train=days/day-001.csv model.arch=mmoe model.expert=[8] model.experts=2" + kFast);
  ASSERT_EQ(base.exit_code, 0) << base.output;

  RunResult wider = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("mmoe.mtrec") +
                             " --out " + Path("x.mtrec") +
                             " data.train=days/day-002.csv model.arch=mmoe model.expert=[12] model.experts=2" + kFast);
  EXPECT_NE(wider.exit_code, 0);
  EXPECT_NE(wider.output.find("--init-from " + Path("mmoe.mtrec") + ": tensor 'experts."), std::string::npos)
      << wider.output;

  RunResult freeze = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("mmoe.mtrec") +
                              " --out " + Path("x.mtrec") + " data.train=days/day-002.csv model.arch=mmoe "
                              "model.expert=[8] model.experts=2 'train.freeze=[\"expert\"]'" + kFast);
  EXPECT_NE(freeze.exit_code, 0);
  EXPECT_NE(freeze.output.find("train.freeze: 'expert' names no part of this model"), std::string::npos)
      << freeze.output;

  RunResult both = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("mmoe.mtrec") +
                            " --resume " + Path("mmoe.mtrec") + ".ckpt");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("--init-from and --resume"), std::string::npos) << both.output;

  RunResult missing = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("none.mtrec"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find(Path("none.mtrec")), std::string::npos) << missing.output;
}

// Six small days, a small model; every run of the stream tests uses these settings.
class FollowTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(FreshDir("follow"));
    const RunResult sim = RunMtrec("-q simulate --days 6 --rows 3000 --seed 8 --out " + dir_->string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }
  // Copies days first..last into `folder` (created), as a writer publishing partitions would.
  static void Deliver(const std::string& folder, int first, int last) {
    std::filesystem::create_directories(*dir_ / folder);
    for (int day = first; day <= last; ++day) {
      const std::string name = fmt::format("day-{:03d}.csv", day);
      std::filesystem::copy_file(*dir_ / "days" / name, *dir_ / folder / name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
  static std::string Follow(const std::string& folder, const std::string& out, const std::string& extra = "") {
    return "train --config " + Path("config.toml") + " --follow " + Path(folder) + " --out " + Path(out) +
           " train.threads=2 model.bottom=[32] model.tower=[8] stream.evict_after=2 " + extra;
  }

  static std::filesystem::path* dir_;
};

std::filesystem::path* FollowTest::dir_ = nullptr;

// Killed at any moment (here: after 0.01 s to 0.3 s, over and over) and restarted with the same command, the stream
// ends with the very bytes an unbroken run writes: nothing trained twice, nothing skipped.
TEST_F(FollowTest, AKilledStreamGoesOnFromItsLastPartitionExactly) {
  Deliver("all", 1, 6);
  RunResult unbroken = RunMtrec(Follow("all", "unbroken.mtrec"));
  ASSERT_EQ(unbroken.exit_code, 0) << unbroken.output;
  for (int day = 1; day <= 6; ++day) {
    EXPECT_NE(unbroken.output.find(fmt::format("partition day-{:03d}.csv (3000 rows, #{})", day, day)),
              std::string::npos)
        << unbroken.output;
  }
  EXPECT_NE(unbroken.output.find("partition day-002.csv (3000 rows, #2): progressive click auc "), std::string::npos)
      << unbroken.output;
  EXPECT_NE(unbroken.output.find("stream caught up: 6 partitions trained"), std::string::npos) << unbroken.output;

  Deliver("killed", 1, 3);  // half the stream has arrived; the rest comes while it runs
  int kills = 0;
  bool finished = false;
  for (int attempt = 0; attempt < 60 && !finished; ++attempt) {
    if (attempt == 2) Deliver("killed", 4, 6);
    const double seconds = 0.01 + 0.025 * (attempt % 12);
    RunResult run = RunShell(fmt::format("timeout -s KILL {:.2f} {} -q {}", seconds, MTREC_BINARY,
                                         Follow("killed", "killed.mtrec")));
    if (run.exit_code == 0 && attempt >= 2) {
      finished = true;
    } else if (run.exit_code != 0) {
      ASSERT_EQ(run.exit_code, 137) << run.output;  // killed, not failed
      ++kills;
    }
  }
  ASSERT_TRUE(finished);
  EXPECT_GE(kills, 2);
  RecordProperty("kills", kills);
  EXPECT_EQ(ReadFileBytes(Path("killed.mtrec")), ReadFileBytes(Path("unbroken.mtrec")));
  EXPECT_EQ(ReadFileBytes(Path("killed.mtrec.ckpt")), ReadFileBytes(Path("unbroken.mtrec.ckpt")));

  // Run again with nothing new: nothing is trained, the model stays.
  RunResult again = RunMtrec(Follow("killed", "killed.mtrec"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("resuming the stream of " + Path("killed") + " after 6 partitions (the last: "
                              "day-006.csv)"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(again.output.find("partition day-"), std::string::npos) << again.output;
  EXPECT_EQ(ReadFileBytes(Path("killed.mtrec")), ReadFileBytes(Path("unbroken.mtrec")));
}

// The first rows of a day's file as /v1/predict rows (numbers as numbers, an empty cell as null).
nlohmann::json PredictRows(const std::string& csv, size_t count) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream head(line);
  for (std::string cell; std::getline(head, cell, ',');) header.push_back(cell);
  const std::set<std::string> numeric = {"price", "item_rating", "item_sales", "user_activity", "position"};
  const std::set<std::string> categorical = {"user_id", "age_bucket", "gender",   "city",   "user_level",
                                             "item_id", "category",   "brand",    "hour",   "device",
                                             "recent_categories"};
  nlohmann::json rows = nlohmann::json::array();
  while (rows.size() < count && std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    cells.resize(header.size());
    nlohmann::json object;
    for (size_t c = 0; c < header.size(); ++c) {
      if (categorical.count(header[c])) {
        object[header[c]] = cells[c];
      } else if (!numeric.count(header[c])) {
        continue;  // labels and the simulator's truth
      } else if (cells[c].empty()) {
        object[header[c]] = nullptr;
      } else {
        object[header[c]] = std::stod(cells[c]);
      }
    }
    rows.push_back(object);
  }
  return rows;
}

// A server watching the stream's --out answers every request while the stream publishes a model per partition.
TEST_F(FollowTest, AServerFollowsTheStreamWithoutAFailedRequest) {
  Deliver("served", 1, 2);
  RunResult first = RunMtrec("-q " + Follow("served", "served.mtrec"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ServerProcess server("--port 0 --model " + Path("served.mtrec") + " --reload-interval-ms 20");
  ASSERT_GT(server.port(), 0) << server.first_line();
  const std::string body =
      nlohmann::json({{"rows", PredictRows(ReadFileBytes(*dir_ / "days" / "day-003.csv"), 20)}}).dump();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::string failure;
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", server.port());
      while (!stop) {
        auto answer = client.Post("/v1/predict", body, "application/json");
        if (answer && answer->status == 200) {
          ++ok;
        } else {
          if (failed++ == 0) failure = answer ? answer->body : "no answer";
        }
      }
    });
  }
  Deliver("served", 3, 6);
  RunResult rest = RunMtrec(Follow("served", "served.mtrec", "stream.publish_every=1"));
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_NE(rest.output.find("published " + Path("served.mtrec") + " after 6 partitions"), std::string::npos)
      << rest.output;
  // Publishes closer together than the poll interval are taken in as one reload, so the server is waited for
  // until it serves the last file's version (the CRC-32 of its bytes), not for a count of reloads.
  const std::string published = ReadFileBytes(Path("served.mtrec"));
  const std::string last_version = fmt::format("{:08x}", Crc32(published.data(), published.size()));
  std::string metrics;
  httplib::Client client("127.0.0.1", server.port());
  for (int wait = 0; wait < 400; ++wait) {
    auto answer = client.Get("/metrics");
    if (answer && answer->body.find("version=\"" + last_version + "\"") != std::string::npos) {
      metrics = answer->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  stop = true;
  for (auto& thread : clients) thread.join();
  ASSERT_FALSE(metrics.empty()) << "the server did not take in the last publish (version " << last_version << ")";
  EXPECT_EQ(metrics.find("mtrec_model_reloads_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("mtrec_model_reload_failures_total 0\n"), std::string::npos) << metrics;
  EXPECT_EQ(failed, 0) << failure;
  EXPECT_GT(ok, 20);
}

TEST_F(FollowTest, BadStreamsAreRefusedWithTheirReason) {
  RunResult missing = RunMtrec(Follow("no-such-folder", "x.mtrec"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("--follow " + Path("no-such-folder") + ": no such folder"), std::string::npos)
      << missing.output;

  Deliver("plain", 1, 1);
  RunResult plain = RunMtrec("-q train --config " + Path("config.toml") + " --out " + Path("plain.mtrec") +
                             " data.train=days/day-001.csv train.epochs=1 model.bottom=[32] model.tower=[8]");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  RunResult not_stream = RunMtrec(Follow("plain", "plain.mtrec"));
  EXPECT_NE(not_stream.exit_code, 0);
  EXPECT_NE(not_stream.output.find("plain.mtrec.ckpt is not a stream's checkpoint"), std::string::npos)
      << not_stream.output;

  // A damaged partition stops the stream with the file's name; what was committed before it stays.
  Deliver("damaged", 1, 1);
  WriteText(*dir_ / "damaged" / "day-002.csv", "day,market,user_id\n1,a\n");
  RunResult damaged = RunMtrec(Follow("damaged", "damaged.mtrec"));
  EXPECT_NE(damaged.exit_code, 0);
  EXPECT_NE(damaged.output.find("day-002.csv"), std::string::npos) << damaged.output;
  EXPECT_NE(damaged.output.find("partition day-001.csv"), std::string::npos) << damaged.output;
  EXPECT_TRUE(std::filesystem::exists(Path("damaged.mtrec.ckpt")));

  RunResult ema = RunMtrec(Follow("plain", "ema.mtrec", "train.ema_decay=0.99"));
  EXPECT_NE(ema.exit_code, 0);
  EXPECT_NE(ema.output.find("set train.ema_decay = 0 for --follow"), std::string::npos) << ema.output;
}

}  // namespace
}  // namespace mtrec::e2e
