// End-to-end: `mtrec serve` as a process, over HTTP — scores equal `mtrec predict`'s, ranking by the blend, error
// answers, metrics, hot reload under concurrent load (including a damaged file), shutdown on SIGTERM, and hostile
// clients (idle and slow sockets, chunked bodies over the limit, conflicting framing, bodies that are expensive
// to parse), all on loopback with bounded socket counts and durations.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#include "server_process.h"
#include "support/raw_socket.h"
#include "common/config.h"
#include "common/files.h"
#include "common/strings.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The simulator's user-side columns (the rest describe the item or the impression).
const std::set<std::string> kContextColumns = {"user_id",    "age_bucket",    "gender",           "city",
                                               "user_level", "user_activity", "recent_categories"};

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
    config_ = ParseConfig(ReadFileBytes(dir_ / "config.toml"), "config.toml");
    // The test file's first rows, as CSV fields by column name.
    std::istringstream csv(ReadFileBytes(dir_ / "test.csv"));
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
      if (feature.kind == FeatureKind::kNumeric) {
        out[feature.column] = text.empty() ? json(nullptr) : json(std::stod(text));
      } else {
        out[feature.column] = text;
      }
    }
    return out;
  }

  static std::string Model(int seed) { return (dir_ / ("model" + std::to_string(seed) + ".mtrec")).string(); }

  // A /v1/predict body of every test row, each with the context of row 0.
  static std::string PredictBody() {
    json rows = json::array();
    for (size_t r = 0; r < rows_.size(); ++r) {
      json row = Inputs(0, true, false);
      row.update(Inputs(r, false, true));
      rows.push_back(row);
    }
    return json({{"rows", rows}}).dump();
  }

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
  const auto expected = ReadPredictions(ReadFileBytes(dir_ / "predictions.csv"));
  ASSERT_EQ(expected.size(), rows_.size());

  // Two threads: by default two scorers, each with its own copy of the model and one thread.
  ServerProcess server("--port 0 --threads 2 --model " + Model(1));
  ASSERT_GT(server.port(), 0) << server.first_line();
  EXPECT_NE(server.first_line().find(", 2 scorers, 2 threads)"), std::string::npos) << server.first_line();
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

// `/v1/predict` of every test row (the context of row 0) by a server scoring in `precision`; {"refused": its
// first line} when it does not start. With `metrics`, /metrics after that request.
json PredictAllIn(const std::string& precision, const std::string& model, const std::string& body,
                  std::string* metrics) {
  ServerProcess server("--port 0 --model " + model + " --precision " + precision);
  json out;
  if (server.port() <= 0) {
    out["refused"] = server.first_line();
    return out;
  }
  httplib::Client client("127.0.0.1", server.port());
  auto answer = client.Post("/v1/predict", body, "application/json");
  if (answer && answer->status == 200) out = json::parse(answer->body);
  if (metrics) {
    auto text = client.Get("/metrics");
    if (text) *metrics = text->body;
  }
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
  return out;
}

// `scores` (from a server scoring in `precision`) against `f32`'s, row by row: every probability within
// `probability_bound`, every gmv value within `value_share` of itself (+ the same absolute), and some score
// different (else the precision's path was not taken).
void ExpectNearF32(const json& f32, const json& scores, const std::string& precision, double probability_bound,
                   double value_share) {
  double largest = 0, differing = 0;
  for (size_t r = 0; r < f32["rows"].size(); ++r) {
    for (const char* task : {"click", "cart", "purchase", "gmv"}) {
      const double a = f32["rows"][r][task], b = scores["rows"][r][task];
      const bool value = std::string(task) == "gmv";
      EXPECT_NEAR(b, a, value ? value_share + value_share * std::abs(a) : probability_bound) << task << " row " << r;
      if (!value) largest = std::max(largest, std::abs(a - b));
      differing += a != b;
    }
  }
  EXPECT_GT(differing, 0) << precision << " scores equal f32's everywhere: the " << precision << " path was not taken";
  std::printf("%s against f32 over %zu rows: largest difference of a probability %.2e\n", precision.c_str(),
              f32["rows"].size(), largest);
}

// Scoring in bf16 (`serve --precision bf16`, where the CPU has it) stays within the stated bound of f32's scores,
// and /metrics tells where each scoring request's time went.
TEST_F(ServeTest, Bf16ScoringStaysNearF32AndMetricsShowTheStages) {
  const std::string body = PredictBody();
  auto scores = [&](const std::string& precision, std::string* metrics) {
    return PredictAllIn(precision, Model(1), body, metrics);
  };
  std::string metrics;
  const json f32 = scores("f32", &metrics);
  ASSERT_EQ(f32["rows"].size(), rows_.size()) << f32.dump();
  for (const char* stage : {"parse", "encode", "score", "write"}) {
    EXPECT_NE(metrics.find(fmt::format("mtrec_request_stage_seconds_total{{endpoint=\"/v1/predict\",stage=\"{}\"}} ",
                                       stage)),
              std::string::npos)
        << stage << "\n" << metrics;
  }
  EXPECT_NE(metrics.find("mtrec_request_stage_requests_total{endpoint=\"/v1/predict\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("mtrec_request_stage_requests_total{endpoint=\"/v1/rank\"} 0\n"), std::string::npos)
      << metrics;

  const json bf16 = scores("bf16", nullptr);
  if (bf16.contains("refused")) {
    const std::string refusal = bf16["refused"];
    ASSERT_NE(refusal.find("bf16: not supported by this CPU"), std::string::npos) << refusal;
    GTEST_SKIP() << refusal;
  }
  ASSERT_EQ(bf16["rows"].size(), rows_.size()) << bf16.dump();
  // The bound of docs/serving.md: probabilities within 0.01 of f32's, values within 1% (+0.01).
  ExpectNearF32(f32, bf16, "bf16", 0.01, 0.01);
}

// Scoring in int8 (`serve --precision int8`, where the CPU has VNNI or AMX-INT8) stays within the bound
// docs/serving.md states: probabilities within 0.02 of f32's, values within 5% (+0.05).
TEST_F(ServeTest, Int8ScoringStaysWithinItsBoundOfF32) {
  const std::string body = PredictBody();
  const json f32 = PredictAllIn("f32", Model(1), body, nullptr);
  ASSERT_EQ(f32["rows"].size(), rows_.size()) << f32.dump();
  const json int8 = PredictAllIn("int8", Model(1), body, nullptr);
  if (int8.contains("refused")) {
    const std::string refusal = int8["refused"];
    ASSERT_NE(refusal.find("int8: not supported by this CPU"), std::string::npos) << refusal;
    GTEST_SKIP() << refusal;
  }
  ASSERT_EQ(int8["rows"].size(), rows_.size()) << int8.dump();
  ExpectNearF32(f32, int8, "int8", 0.02, 0.05);
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
  std::string bytes = ReadFileBytes(Model(1));
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
  const std::string logged = ReadFileBytes(log);
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
  RunResult scorers = RunMtrec("serve --port 0 --threads 2 --scorers 3 --model " + Model(1));
  EXPECT_EQ(scorers.exit_code, 1) << scorers.output;
  EXPECT_NE(scorers.output.find("--scorers must be between 0 (automatic) and the scoring threads (2), got 3"),
            std::string::npos)
      << scorers.output;
  ServerProcess server("--port 0 --model " + Model(1));
  ASSERT_GT(server.port(), 0);
  // A second server on the same port must fail, not share the port with the first.
  ServerProcess taken("--model " + Model(1) + " --port " + std::to_string(server.port()) + " 2>&1");
  EXPECT_EQ(taken.port(), 0);
  EXPECT_NE(taken.first_line().find("cannot listen on 127.0.0.1:" + std::to_string(server.port())), std::string::npos)
      << taken.first_line();
  EXPECT_EQ(taken.Terminate(std::chrono::seconds(10)), 1);
}

// The JSON "error" of a raw HTTP answer.
std::string ErrorOf(const std::string& answer) {
  const size_t body = answer.find("\r\n\r\n");
  if (body == std::string::npos) return "";
  const json parsed = json::parse(answer.substr(body + 4), nullptr, false);
  return parsed.is_object() ? parsed.value("error", "") : "";
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

TEST_F(ServeTest, IdleAndSlowClientsDoNotHoldOthersUp) {
  // 800 idle sockets and 100 clients sending their head one byte at a time, beside a well-behaved client.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const rlim_t want = 1200;
  if (files.rlim_cur < want && files.rlim_max >= want) {
    files.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  getrlimit(RLIMIT_NOFILE, &files);
  const int idle_count = files.rlim_cur >= want ? 800 : static_cast<int>(files.rlim_cur) / 2 - 100;
  ASSERT_GT(idle_count, 100) << "descriptor limit " << files.rlim_cur;
  ServerProcess server("--port 0 --model " + Model(1) +
                       " --idle-timeout-ms 4000 --header-timeout-ms 2000 --max-connections 2000");
  ASSERT_GT(server.port(), 0) << server.first_line();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<RawSocket>> idle, slow;
  for (int i = 0; i < idle_count; ++i) {
    idle.push_back(std::make_unique<RawSocket>(server.port()));
    ASSERT_TRUE(idle.back()->ok()) << i;
  }
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawSocket>(server.port()));
    ASSERT_TRUE(slow.back()->ok()) << i;
  }
  // The slow clients: one more byte of an endless header every 100 ms each, until the server answers.
  const std::string dribble = "GET /healthz HTTP/1.1\r\nX-Slow: " + std::string(1000, 'a');
  std::vector<std::string> answers(slow.size());
  std::atomic<bool> stop{false};
  std::thread slow_clients([&] {
    for (size_t step = 0; step < dribble.size() && !stop && Seconds(start) < 8; ++step) {
      bool all_answered = true;
      for (size_t i = 0; i < slow.size(); ++i) {
        if (!answers[i].empty()) continue;
        all_answered = false;
        if (slow[i]->Readable(std::chrono::milliseconds(0))) {
          answers[i] = slow[i]->ReadUntilClosed(std::chrono::milliseconds(2000));
          if (answers[i].empty()) answers[i] = "(closed without an answer)";
        } else {
          slow[i]->Send(dribble.substr(step, 1));
        }
      }
      if (all_answered) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  struct JoinOnExit {  // also when an assertion below returns early
    std::thread& thread;
    std::atomic<bool>& stop;
    ~JoinOnExit() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } join_on_exit{slow_clients, stop};

  // Meanwhile a well-behaved client is answered as usual, on a kept-alive connection and on fresh ones.
  const std::string body =
      json({{"context", Inputs(1, true, false)}, {"items", {Inputs(1, false, true), Inputs(2, false, true)}}}).dump();
  httplib::Client client("127.0.0.1", server.port());
  double slowest = 0;
  for (int i = 0; i < 10; ++i) {
    auto t = std::chrono::steady_clock::now();
    auto health = client.Get("/healthz");
    ASSERT_TRUE(health) << i;
    EXPECT_EQ(health->status, 200);
    auto rank = client.Post("/v1/rank", body, "application/json");
    ASSERT_TRUE(rank) << i;
    EXPECT_EQ(rank->status, 200) << rank->body;
    httplib::Client fresh("127.0.0.1", server.port());
    auto again = fresh.Get("/healthz");
    ASSERT_TRUE(again) << i;
    EXPECT_EQ(again->status, 200);
    slowest = std::max(slowest, Seconds(t));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LT(slowest, 1.0) << "a well-behaved client waited " << slowest << " s";

  // The slow clients are cut off at the header deadline (2 s from their first byte) with a 408, not held.
  slow_clients.join();
  for (size_t i = 0; i < slow.size(); ++i) {
    EXPECT_EQ(answers[i].rfind("HTTP/1.1 408", 0), 0u) << i << ": " << answers[i];
    EXPECT_NE(ErrorOf(answers[i]).find("request head not complete within 2000 ms"), std::string::npos) << answers[i];
  }
  EXPECT_LT(Seconds(start), 6.0);
  // The idle sockets are closed at the idle timeout (4 s), without an answer.
  int closed_count = 0;
  for (auto& socket : idle) {
    bool closed = false;
    const std::string got = socket->ReadUntilClosed(std::chrono::milliseconds(4000), &closed);
    closed_count += closed && got.empty();
  }
  EXPECT_EQ(closed_count, idle_count);
  EXPECT_LT(Seconds(start), 9.0);
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

TEST_F(ServeTest, ConnectionsPastTheCapAreRefusedWith503) {
  ServerProcess server("--port 0 --model " + Model(1) + " --max-connections 4");
  ASSERT_GT(server.port(), 0) << server.first_line();
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<RawSocket>(server.port()));
  // Accepted in order: give the server a moment to take the four before the fifth comes.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawSocket fifth(server.port());
  ASSERT_TRUE(fifth.ok());
  const std::string answer = fifth.ReadUntilClosed(std::chrono::milliseconds(3000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(ErrorOf(answer).find("the server has 4 connections open, its limit; retry later"), std::string::npos)
      << answer;
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  httplib::Client client("127.0.0.1", server.port());
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

TEST_F(ServeTest, LimitsHoldForEveryFramingAndBadFramingIsClosedAtOnce) {
  ServerProcess server("--port 0 --model " + Model(1) + " --max-body-bytes 1000000");
  ASSERT_GT(server.port(), 0) << server.first_line();

  // A chunked body is counted as it arrives: refused once past the limit, long before its 20 MB are sent.
  {
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.Send("POST /v1/rank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "10000\r\n" + std::string(1 << 16, ' ') + "\r\n";  // 64 KiB
    int sent = 0;
    while (sent < 320 && !socket.Readable(std::chrono::milliseconds(0)) && socket.Send(chunk)) ++sent;
    const std::string answer = socket.ReadUntilClosed(std::chrono::milliseconds(5000));
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
    EXPECT_EQ(ErrorOf(answer), "chunked request body over the limit of 1000000 bytes");
    EXPECT_LT(sent, 320);
  }
  // Framing the server cannot trust: answered 400 and closed at once, not held for a timeout.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"POST /v1/rank HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}",
       "conflicting Content-Length headers: 2 and 30"},
      {"POST /v1/rank HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
       "both Transfer-Encoding and Content-Length"},
      {"GARBAGE\r\n\r\n", "malformed request line 'GARBAGE'"},
      {"GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'h') + "\r\n\r\n", "request head over the limit"},
  };
  for (const auto& [bytes, message] : refused) {
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.Send(bytes));
    const auto t = std::chrono::steady_clock::now();
    bool closed = false;
    const std::string answer = socket.ReadUntilClosed(std::chrono::milliseconds(4000), &closed);
    EXPECT_NE(ErrorOf(answer).find(message), std::string::npos) << answer.substr(0, 300);
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer.substr(0, 300);
    EXPECT_TRUE(closed);
    EXPECT_LT(Seconds(t), 2.5);  // closed after the answer (and a short linger), not after a timeout
  }

  httplib::Client client("127.0.0.1", server.port());
  json items = json::array();
  for (size_t r = 0; r < rows_.size(); ++r) items.push_back(Inputs(r, false, true));
  const std::string valid = json({{"context", Inputs(0, true, false)}, {"items", items}}).dump();
  ASSERT_GT(valid.size(), 5000u);
  // curl's default content type for -d: refused with what to send, not a wrong 413.
  auto form = client.Post("/v1/rank", valid, "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415) << form->body;
  EXPECT_NE(form->body.find("Content-Type 'application/x-www-form-urlencoded' is not JSON; send the body as "
                            "Content-Type: application/json"),
            std::string::npos)
      << form->body;
  auto with_charset = client.Post("/v1/rank", valid, "application/json; charset=utf-8");
  ASSERT_TRUE(with_charset);
  EXPECT_EQ(with_charset->status, 200) << with_charset->body;

  // 200000 empty objects (600 KB, under the body limit): refused by the item limit at once, not after seconds of
  // parsing.
  std::string many = "{\"items\":[{}";
  for (int i = 1; i < 200000; ++i) many += ",{}";
  many += "]}";
  auto t = std::chrono::steady_clock::now();
  auto big = client.Post("/v1/rank", many, "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413) << big->body;
  EXPECT_NE(big->body.find("items: 200000 entries, more than the limit of 1000"), std::string::npos) << big->body;
  EXPECT_LT(Seconds(t), 2.0);

  // A key given twice is refused by its place, not silently replaced.
  json item = Inputs(0, true, true);
  std::string twice = json({{"items", {item}}}).dump();
  twice.insert(twice.size() - 3, ",\"price\":1");  // into the item, before its "}]}"
  auto duplicate = client.Post("/v1/rank", twice, "application/json");
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->status, 400);
  EXPECT_NE(duplicate->body.find("items[0]: duplicate key 'price'"), std::string::npos) << duplicate->body;
  duplicate = client.Post("/v1/rank", R"({"items": [], "items": [{}]})", "application/json");
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->status, 400);
  EXPECT_NE(duplicate->body.find("request body: duplicate key 'items'"), std::string::npos) << duplicate->body;
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace mtrec::e2e
