// End-to-end: `mtrec serve` as a process, over HTTP — scores equal `mtrec predict`'s, ranking by the blend, error
// answers, metrics, hot reload under concurrent load (including a damaged file), and shutdown on SIGTERM.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli_runner.h"
#include "common/config.h"
#include "common/strings.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The simulator's user-side columns (the rest describe the item or the impression).
const std::set<std::string> kContextColumns = {"user_id",    "age_bucket",    "gender",           "city",
                                               "user_level", "user_activity", "recent_categories"};

// A server process (`mtrec serve ARGS`), its port read from the first line it prints.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      const std::string command = std::string(MTREC_BINARY) + " serve " + args;
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* stream = fdopen(out[0], "r");
    char line[512] = {0};
    if (fgets(line, sizeof line, stream)) first_line_ = line;
    fclose(stream);
    const size_t model = first_line_.find(" (model");
    if (first_line_.rfind("mtrec serve: listening on http://", 0) == 0 && model != std::string::npos) {
      port_ = std::atoi(first_line_.c_str() + first_line_.rfind(':', model) + 1);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  // Sends SIGTERM and waits; the exit code, or -1 when it did not exit normally within the time.
  int Terminate(std::chrono::seconds limit) {
    kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool reaped_ = false;
  std::string first_line_;
};

class ServeTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("serve");
    RunResult sim = RunMtrec("simulate --rows 3000 --seed 4 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
    for (const char* seed : {"1", "2"}) {
      RunResult train = RunMtrec("-q train --config " + (dir_ / "config.toml").string() + " --out " +
                                 (dir_ / (std::string("model") + seed + ".mtrec")).string() +
                                 " model.arch=mmoe train.epochs=1 train.threads=2 train.seed=" + seed);
      ASSERT_EQ(train.exit_code, 0) << train.output;
    }
    config_ = ParseConfig(ReadText(dir_ / "config.toml"), "config.toml");
    // The test file's first rows, as CSV fields by column name.
    std::istringstream csv(ReadText(dir_ / "test.csv"));
    std::string line;
    std::getline(csv, line);
    std::vector<std::string> header;
    for (auto field : Split(line, ",")) header.emplace_back(field);
    while (rows_.size() < 40 && std::getline(csv, line)) {
      std::map<std::string, std::string> row;
      auto fields = Split(line, ",");
      for (size_t c = 0; c < header.size(); ++c) row[header[c]] = std::string(fields[c]);
      rows_.push_back(row);
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // A test row's input columns as JSON values; `columns` filters (context or item side).
  static json Inputs(size_t r, bool context_side, bool item_side) {
    json out = json::object();
    for (const auto& feature : config_.features) {
      const bool context = kContextColumns.count(feature.column) > 0;
      if ((context && !context_side) || (!context && !item_side)) continue;
      const std::string& text = rows_[r].at(feature.column);
      if (feature.kind == "numeric") {
        out[feature.column] = text.empty() ? json(nullptr) : json(std::stod(text));
      } else {
        out[feature.column] = text;
      }
    }
    return out;
  }

  static std::string Model(int seed) { return (dir_ / ("model" + std::to_string(seed) + ".mtrec")).string(); }

  static fs::path dir_;
  static Config config_;
  static std::vector<std::map<std::string, std::string>> rows_;
};
fs::path ServeTest::dir_;
Config ServeTest::config_;
std::vector<std::map<std::string, std::string>> ServeTest::rows_;

std::vector<std::vector<double>> ReadPredictions(const std::string& text) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<double> values;
    for (auto field : Split(line, ",")) values.push_back(std::stod(std::string(field)));
    rows.push_back(values);
  }
  return rows;
}

TEST_F(ServeTest, ScoresMatchPredictAndRankSortsByTheBlend) {
  // `mtrec predict` on the rows where every row has row 0's user side: the same inputs as one rank request.
  std::ostringstream csv;
  std::vector<std::string> header;
  for (const auto& [name, value] : rows_[0]) header.push_back(name);
  for (size_t c = 0; c < header.size(); ++c) csv << (c ? "," : "") << header[c];
  csv << "\n";
  for (size_t r = 0; r < rows_.size(); ++r) {
    for (size_t c = 0; c < header.size(); ++c) {
      const std::string& column = header[c];
      csv << (c ? "," : "") << (kContextColumns.count(column) ? rows_[0].at(column) : rows_[r].at(column));
    }
    csv << "\n";
  }
  WriteText(dir_ / "rank_rows.csv", csv.str());
  RunResult predict = RunMtrec("predict --model " + Model(1) + " --data " + (dir_ / "rank_rows.csv").string() +
                               " --out " + (dir_ / "predictions.csv").string());
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  const auto expected = ReadPredictions(ReadText(dir_ / "predictions.csv"));
  ASSERT_EQ(expected.size(), rows_.size());

  ServerProcess server("--port 0 --model " + Model(1));
  ASSERT_GT(server.port(), 0) << server.first_line();
  httplib::Client client("127.0.0.1", server.port());

  json items = json::array();
  for (size_t r = 0; r < rows_.size(); ++r) items.push_back(Inputs(r, false, true));
  auto answer =
      client.Post("/v1/rank", json({{"context", Inputs(0, true, false)}, {"items", items}}).dump(), "application/json");
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  const json ranked = json::parse(answer->body);
  EXPECT_EQ(ranked["model"].get<std::string>().size(), 8u);
  ASSERT_EQ(ranked["items"].size(), rows_.size());
  std::set<int64_t> seen;
  double previous = INFINITY;
  for (const auto& item : ranked["items"]) {
    const int64_t index = item["index"];
    seen.insert(index);
    const auto& tasks = item["tasks"];
    const std::vector<double>& want = expected[index];
    EXPECT_NEAR(tasks["click"].get<double>(), want[0], 2e-6 + 1e-5 * want[0]) << index;
    EXPECT_NEAR(tasks["cart"].get<double>(), want[1], 2e-6 + 1e-5 * want[1]) << index;
    EXPECT_NEAR(tasks["purchase"].get<double>(), want[2], 2e-6 + 1e-5 * want[2]) << index;
    EXPECT_NEAR(tasks["gmv"].get<double>(), want[3], 2e-6 + 1e-5 * std::abs(want[3])) << index;
    // The simulated config's blend: click + 3 · purchase, best first.
    const double score = item["score"];
    EXPECT_NEAR(score, tasks["click"].get<double>() + 3 * tasks["purchase"].get<double>(), 1e-5);
    EXPECT_LE(score, previous + 1e-7);
    previous = score;
  }
  EXPECT_EQ(seen.size(), rows_.size());

  // The request's own blend and top_k.
  answer = client.Post(
      "/v1/rank",
      json({{"context", Inputs(0, true, false)}, {"items", items}, {"blend", {{"gmv", 1}}}, {"top_k", 3}}).dump(),
      "application/json");
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  const json top = json::parse(answer->body);
  ASSERT_EQ(top["items"].size(), 3u);
  double best_gmv = -INFINITY;
  for (const auto& row : expected) best_gmv = std::max(best_gmv, row[3]);
  EXPECT_NEAR(top["items"][0]["score"].get<double>(), best_gmv, 1e-4);

  // /v1/predict: the rows in order.
  json rows = json::array();
  for (size_t r = 0; r < 5; ++r) {
    json row = Inputs(0, true, false);
    row.update(Inputs(r, false, true));
    rows.push_back(row);
  }
  answer = client.Post("/v1/predict", json({{"rows", rows}}).dump(), "application/json");
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  const json predicted = json::parse(answer->body);
  ASSERT_EQ(predicted["rows"].size(), 5u);
  for (size_t r = 0; r < 5; ++r) EXPECT_NEAR(predicted["rows"][r]["click"].get<double>(), expected[r][0], 1e-5);
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

TEST_F(ServeTest, BadRequestsGetJsonErrorsAndCountInMetrics) {
  ServerProcess server("--port 0 --model " + Model(1) + " --max-body-bytes 4000 --max-items 5");
  ASSERT_GT(server.port(), 0) << server.first_line();
  httplib::Client client("127.0.0.1", server.port());
  auto expect_error = [&](httplib::Result result, int status, const std::string& message) {
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, status) << result->body;
    const json body = json::parse(result->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << result->body;
    EXPECT_NE(body.value("error", "").find(message), std::string::npos) << result->body;
  };
  expect_error(client.Post("/v1/rank", "{\"items\": [", "application/json"), 400, "malformed JSON");
  json item = Inputs(0, true, true);
  item.erase("price");
  expect_error(client.Post("/v1/rank", json({{"items", {item}}}).dump(), "application/json"), 400,
               "items[0]: missing input 'price'");
  item["price"] = "cheap";
  expect_error(client.Post("/v1/rank", json({{"items", {item}}}).dump(), "application/json"), 400,
               "items[0].price: expected a number or null, found string");
  expect_error(client.Post("/v1/rank", std::string(5000, ' '), "application/json"), 413, "over the limit of 4000");
  json six = json::array();
  for (int i = 0; i < 6; ++i) six.push_back(json::object());
  expect_error(client.Post("/v1/rank", json({{"items", six}}).dump(), "application/json"), 413, "limit of 5");
  expect_error(client.Get("/v1/ranks"), 404, "no endpoint GET /v1/ranks");
  // The server is unharmed.
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("mtrec_requests_total{endpoint=\"/v1/rank\",code=\"400\"} 3"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("mtrec_request_errors_total{endpoint=\"/v1/rank\"} 4"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("mtrec_requests_total{endpoint=\"other\",code=\"404\"} 1"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("mtrec_model_info{version=\""), std::string::npos);
  EXPECT_NE(metrics->body.find("mtrec_request_duration_seconds_count{endpoint=\"/v1/rank\"} 4"), std::string::npos);
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

TEST_F(ServeTest, HotReloadUnderLoadLosesNoRequestAndRefusesADamagedFile) {
  const fs::path served = dir_ / "served.mtrec";
  fs::copy_file(Model(1), served, fs::copy_options::overwrite_existing);
  ServerProcess server("--port 0 --model " + served.string() + " --reload-interval-ms 50");
  ASSERT_GT(server.port(), 0) << server.first_line();
  auto version_of = [&](httplib::Client& client) {
    auto health = client.Get("/healthz");
    return health && health->status == 200 ? json::parse(health->body)["model"].get<std::string>() : "";
  };
  httplib::Client client("127.0.0.1", server.port());
  const std::string first = version_of(client);
  ASSERT_EQ(first.size(), 8u);

  // Clients rank continuously while the file is replaced.
  const std::string body = json({{"context", Inputs(1, true, false)},
                                 {"items", {Inputs(1, false, true), Inputs(2, false, true), Inputs(3, false, true)}}})
                               .dump();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::mutex versions_mutex;
  std::set<std::string> versions;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", server.port());
      while (!stop) {
        auto answer = c.Post("/v1/rank", body, "application/json");
        if (answer && answer->status == 200) {
          ++ok;
          std::lock_guard<std::mutex> lock(versions_mutex);
          versions.insert(json::parse(answer->body)["model"].get<std::string>());
        } else {
          ++failed;
        }
      }
    });
  }
  std::string current = first;
  for (int replacement = 0; replacement < 6; ++replacement) {
    const fs::path next = dir_ / "next.mtrec";
    fs::copy_file(Model(replacement % 2 == 0 ? 2 : 1), next, fs::copy_options::overwrite_existing);
    fs::rename(next, served);  // atomic, as a deployment would do it
    std::string now;
    for (int wait = 0; wait < 200 && (now = version_of(client)) == current; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_NE(now, current) << "replacement " << replacement << " was not picked up";
    current = now;
  }
  // A damaged file: refused, the current model keeps serving.
  std::string bytes = ReadText(Model(1));
  bytes[bytes.size() / 2] ^= 0x5a;
  WriteText(dir_ / "bad.mtrec", bytes);
  fs::rename(dir_ / "bad.mtrec", served);
  std::string metrics;
  for (int wait = 0; wait < 200; ++wait) {
    auto answer = client.Get("/metrics");
    if (answer && answer->body.find("mtrec_model_reload_failures_total 1") != std::string::npos) {
      metrics = answer->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_FALSE(metrics.empty()) << "the damaged file was not noticed";
  EXPECT_NE(metrics.find("mtrec_model_reloads_total 6"), std::string::npos) << metrics;
  EXPECT_EQ(version_of(client), current);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(ok, 20);
  EXPECT_EQ(versions.size(), 2u);  // both models answered, nothing else
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

// A FIFO moved over the model: opening it to read would wait for a writer that never comes, and the watcher would
// hold up shutdown. It must be refused at once, the old model keep serving, and SIGTERM end the server promptly.
TEST_F(ServeTest, AFifoMovedOverTheModelIsRefusedAndSigtermStillEndsTheServer) {
  const fs::path served = dir_ / "fifo_served.mtrec";
  const fs::path log = dir_ / "fifo_serve.log";
  fs::copy_file(Model(1), served, fs::copy_options::overwrite_existing);
  ServerProcess server("--port 0 --model " + served.string() + " --reload-interval-ms 50 2>" + log.string());
  ASSERT_GT(server.port(), 0) << server.first_line();
  httplib::Client client("127.0.0.1", server.port());
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health && health->status == 200);
  const std::string version = json::parse(health->body)["model"].get<std::string>();

  ASSERT_EQ(::mkfifo((dir_ / "model.fifo").c_str(), 0600), 0);
  fs::rename(dir_ / "model.fifo", served);
  std::string metrics;
  for (int wait = 0; wait < 400 && metrics.empty(); ++wait) {
    auto answer = client.Get("/metrics");
    if (answer && answer->body.find("mtrec_model_reload_failures_total 1") != std::string::npos) metrics = answer->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_FALSE(metrics.empty()) << "the FIFO was not refused";
  const std::string body =
      json({{"context", Inputs(1, true, false)}, {"items", {Inputs(1, false, true), Inputs(2, false, true)}}}).dump();
  auto ranked = client.Post("/v1/rank", body, "application/json");
  ASSERT_TRUE(ranked);
  EXPECT_EQ(ranked->status, 200) << ranked->body;
  EXPECT_EQ(json::parse(ranked->body)["model"].get<std::string>(), version);

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  const std::string logged = ReadText(log);
  EXPECT_NE(logged.find("changed but was refused, the previous model keeps serving: cannot read '" + served.string() +
                        "': it is a FIFO (named pipe), not a regular file"),
            std::string::npos)
      << logged;
  EXPECT_NE(logged.find("serve: stopped"), std::string::npos) << logged;
}

TEST_F(ServeTest, RefusesToStartOnABadModelOrATakenPort) {
  WriteText(dir_ / "not_a_model.mtrec", "hello");
  RunResult bad = RunMtrec("serve --port 0 --model " + (dir_ / "not_a_model.mtrec").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("not an mtrec model file"), std::string::npos) << bad.output;
  const fs::path fifo = dir_ / "start.fifo";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  RunResult on_fifo = RunMtrecWithin(30, "serve --port 0 --model " + fifo.string());
  EXPECT_EQ(on_fifo.exit_code, 1) << on_fifo.output;
  EXPECT_NE(on_fifo.output.find("cannot read '" + fifo.string() + "': it is a FIFO (named pipe), not a regular file"),
            std::string::npos)
      << on_fifo.output;
  ServerProcess server("--port 0 --model " + Model(1));
  ASSERT_GT(server.port(), 0);
  // A second server on the same port must fail, not share the port with the first.
  ServerProcess taken("--model " + Model(1) + " --port " + std::to_string(server.port()) + " 2>&1");
  EXPECT_EQ(taken.port(), 0);
  EXPECT_NE(taken.first_line().find("cannot listen on 127.0.0.1:" + std::to_string(server.port())), std::string::npos)
      << taken.first_line();
  EXPECT_EQ(taken.Terminate(std::chrono::seconds(10)), 1);
}

}  // namespace
}  // namespace mtrec::e2e
