// End-to-end: `mtrec serve --history` on a small retail model, whose 13 derived time-series columns the requests
// leave out. The served scores equal `mtrec predict --history` on the same rows: all test rows in one request, and
// one request per date (each then reads the history files only, as its date's rows scored as a file alone do, or,
// with each day's rows added to a history file and the model touched, as in the whole file).
// Explicit derived values win over computed ones; a history file without a needed column and a request row with a
// bad date are refused by name; without --history the server says that requests give the derived values.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "common/config.h"
#include "common/files.h"
#include "common/strings.h"
#include "server_process.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A CSV file as its header line and its rows, each a field list.
struct CsvRows {
  std::string header;
  std::vector<std::string> names;
  std::vector<std::string> lines;
  std::vector<std::vector<std::string>> fields;
};

CsvRows ReadCsv(const fs::path& path) {
  CsvRows csv;
  std::istringstream in(ReadFileBytes(path));
  std::getline(in, csv.header);
  for (auto name : Split(csv.header, ",")) csv.names.emplace_back(name);
  std::string line;
  while (std::getline(in, line)) {
    csv.lines.push_back(line);
    std::vector<std::string> row;
    for (auto field : Split(line, ",")) row.emplace_back(field);
    csv.fields.push_back(std::move(row));
  }
  return csv;
}

std::vector<std::vector<double>> ReadPredictions(const fs::path& path) {
  std::vector<std::vector<double>> rows;
  const CsvRows csv = ReadCsv(path);
  for (const auto& row : csv.fields) {
    std::vector<double> values;
    for (const auto& field : row) values.push_back(std::stod(field));
    rows.push_back(values);
  }
  return rows;
}

class ServeHistoryTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("serve_history");
    RunResult sim =
        RunMtrec("simulate --preset retail --stores 3 --items 10 --days 120 --seed 3 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
    RunResult train = RunMtrec("-q train --config " + (dir_ / "config.toml").string() + " --out " + Model() +
                               " train.epochs=1 train.threads=2");
    ASSERT_EQ(train.exit_code, 0) << train.output;
    config_ = ParseConfig(ReadFileBytes(dir_ / "config.toml"), "config.toml");
    test_ = ReadCsv(dir_ / "test.csv");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string Model() { return (dir_ / "model.mtrec").string(); }
  static std::string History() {
    return " --history " + (dir_ / "train.csv").string() + " --history " + (dir_ / "valid.csv").string();
  }

  // A test row as a request row: the inputs no derived column is, the date, and the derived columns' sources.
  // A derived column some feature reads (the config also derives the horizon target's naive forecast, for eval).
  static bool IsInput(const TimeSeriesColumnConfig& derived) {
    for (const auto& feature : config_.features) {
      if (feature.column == derived.name) return true;
    }
    return false;
  }

  static json RequestRow(size_t r) {
    std::map<std::string, std::string> field;
    for (size_t c = 0; c < test_.names.size(); ++c) field[test_.names[c]] = test_.fields[r][c];
    auto number = [&](const std::string& column) {
      const std::string& text = field.at(column);
      return text.empty() ? json(nullptr) : json(std::stod(text));
    };
    json row = json::object();
    for (const auto& feature : config_.features) {
      if (config_.time_series.Find(feature.column)) continue;
      row[feature.column] = feature.kind == FeatureKind::kNumeric ? number(feature.column) : json(field.at(feature.column));
    }
    row[config_.time_series.date] = field.at(config_.time_series.date);
    for (const auto& derived : config_.time_series.columns) {
      if (IsInput(derived)) row[derived.column] = number(derived.column);
    }
    return row;
  }

  // `mtrec predict --history` on some test rows, written as a file of their own.
  static std::vector<std::vector<double>> Predict(const std::vector<size_t>& rows, const std::string& name) {
    std::string csv = test_.header + "\n";
    for (size_t r : rows) csv += test_.lines[r] + "\n";
    WriteText(dir_ / (name + ".csv"), csv);
    RunResult predict = RunMtrec("predict --model " + Model() + " --data " + (dir_ / (name + ".csv")).string() +
                                 History() + " --out " + (dir_ / (name + "_predictions.csv")).string());
    EXPECT_EQ(predict.exit_code, 0) << predict.output;
    return ReadPredictions(dir_ / (name + "_predictions.csv"));
  }

  static json PostRows(httplib::Client& client, const json& rows) {
    auto answer = client.Post("/v1/predict", json({{"rows", rows}}).dump(), "application/json");
    EXPECT_TRUE(answer);
    if (!answer) return json();
    EXPECT_EQ(answer->status, 200) << answer->body;
    return json::parse(answer->body, nullptr, false);
  }

  static void ExpectScores(const json& answer, const std::vector<std::vector<double>>& expected,
                           const std::string& what) {
    ASSERT_TRUE(answer.is_object()) << what;
    ASSERT_EQ(answer["rows"].size(), expected.size()) << what;
    for (size_t r = 0; r < expected.size(); ++r) {
      for (size_t k = 0; k < config_.tasks.size(); ++k) {
        const double want = expected[r][k];
        EXPECT_NEAR(answer["rows"][r][config_.tasks[k].name].get<double>(), want, 2e-6 + 1e-5 * std::abs(want))
            << what << " row " << r << " task " << config_.tasks[k].name;
      }
    }
  }

  static fs::path dir_;
  static Config config_;
  static CsvRows test_;
};
fs::path ServeHistoryTest::dir_;
Config ServeHistoryTest::config_;
CsvRows ServeHistoryTest::test_;

TEST_F(ServeHistoryTest, ScoresEqualPredictWithTheSameHistory) {
  ServerProcess server("--port 0 --model " + Model() + History());
  ASSERT_GT(server.port(), 0) << server.first_line();
  httplib::Client client("127.0.0.1", server.port());

  // Every test row in one request: each reads the history and the request's rows of earlier days, as the rows of
  // test.csv read train.csv, valid.csv and test.csv's earlier days.
  std::vector<size_t> all(test_.lines.size());
  for (size_t r = 0; r < all.size(); ++r) all[r] = r;
  const std::vector<std::vector<double>> whole = Predict(all, "test_all");
  json rows = json::array();
  for (size_t r : all) rows.push_back(RequestRow(r));
  ExpectScores(PostRows(client, rows), whole, "one request");

  // One request per date, in order. The server keeps nothing between requests, so each date's rows read the
  // history files alone: the scores of its rows scored as a file of their own. The first date's rows read no
  // earlier test day either way.
  std::map<std::string, std::vector<size_t>> by_date;
  const size_t date_column = std::find(test_.names.begin(), test_.names.end(), config_.time_series.date) -
                             test_.names.begin();
  for (size_t r : all) by_date[test_.fields[r][date_column]].push_back(r);
  ASSERT_GT(by_date.size(), 5u);
  int64_t moved = 0;  // rows of later dates whose scores the earlier test days move
  for (const auto& [date, members] : by_date) {
    json day = json::array();
    for (size_t r : members) day.push_back(RequestRow(r));
    const json answer = PostRows(client, day);
    const std::vector<std::vector<double>> alone = Predict(members, "test_" + date);
    ExpectScores(answer, alone, date);
    for (size_t i = 0; i < members.size(); ++i) moved += std::abs(alone[i][0] - whole[members[i]][0]) > 1e-4;
    if (date == by_date.begin()->first) {
      std::vector<std::vector<double>> first;
      for (size_t r : members) first.push_back(whole[r]);
      ExpectScores(answer, first, date + " against the whole file");
    }
  }
  EXPECT_GT(moved, static_cast<int64_t>(all.size()) / 4);
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

// Day by day in order, with each day's actuals taken in: a history file grows by the day scored, the model file is
// touched, and the next day's rows then score as in the whole test file.
TEST_F(ServeHistoryTest, TouchingTheModelTakesInTheHistoryAsItIsNow) {
  const fs::path recent = dir_ / "recent.csv";
  fs::copy_file(dir_ / "valid.csv", recent, fs::copy_options::overwrite_existing);
  ServerProcess server("--port 0 --reload-interval-ms 50 --model " + Model() + " --history " +
                       (dir_ / "train.csv").string() + " --history " + recent.string());
  ASSERT_GT(server.port(), 0) << server.first_line();
  httplib::Client client("127.0.0.1", server.port());
  std::vector<size_t> all(test_.lines.size());
  for (size_t r = 0; r < all.size(); ++r) all[r] = r;
  const std::vector<std::vector<double>> whole = Predict(all, "test_all_for_touch");
  std::map<std::string, std::vector<size_t>> by_date;
  for (size_t r : all) by_date[test_.fields[r][0]].push_back(r);
  ASSERT_EQ(test_.names[0], config_.time_series.date);
  std::string history = ReadFileBytes(recent);
  int reloads = 0;
  for (const auto& [date, members] : by_date) {
    if (reloads == 3) break;
    json day = json::array();
    std::vector<std::vector<double>> expected;
    for (size_t r : members) {
      day.push_back(RequestRow(r));
      expected.push_back(whole[r]);
    }
    ExpectScores(PostRows(client, day), expected, date);
    // The day's actuals join the history; a rename, so the server never reads a half-written file.
    for (size_t r : members) history += test_.lines[r] + "\n";
    WriteText(dir_ / "recent.tmp", history);
    fs::rename(dir_ / "recent.tmp", recent);
    fs::last_write_time(Model(), fs::file_time_type::clock::now());
    ++reloads;
    const std::string metric = "mtrec_model_reloads_total " + std::to_string(reloads);
    bool reloaded = false;
    for (int wait = 0; wait < 200 && !reloaded; ++wait) {
      auto metrics = client.Get("/metrics");
      reloaded = metrics && metrics->body.find(metric) != std::string::npos;
      if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_TRUE(reloaded) << "no reload after touching the model for " << date;
  }
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

// A derived value the row gives is used as it is, null (missing) included: the row scores as on a server without
// --history given the same values. Without --history the log says that requests give the derived values.
TEST_F(ServeHistoryTest, GivenDerivedValuesWinAndWithoutHistoryTheRequestGivesThem) {
  const std::string log = (dir_ / "serve_without_history.log").string();
  ServerProcess with_history("--port 0 --model " + Model() + History());
  ServerProcess without("--port 0 --model " + Model() + " 2> " + log);
  ASSERT_GT(with_history.port(), 0) << with_history.first_line();
  ASSERT_GT(without.port(), 0) << without.first_line();
  EXPECT_NE(ReadFileBytes(log).find("no --history is given: a request gives their values as inputs"), std::string::npos)
      << ReadFileBytes(log);
  httplib::Client client("127.0.0.1", with_history.port());
  httplib::Client plain("127.0.0.1", without.port());

  json row = RequestRow(40);
  for (const auto& derived : config_.time_series.columns) {
    if (IsInput(derived)) row[derived.name] = nullptr;
  }
  row["sales_lag1"] = 3;
  const json given = PostRows(client, json::array({row}));
  // The server without history reads no date or source: only the features' inputs.
  json features_only = row;
  features_only.erase(config_.time_series.date);
  features_only.erase("sales");
  features_only.erase("stockout");
  const json expected = PostRows(plain, json::array({features_only}));
  ASSERT_TRUE(given.is_object() && expected.is_object());
  for (const auto& task : config_.tasks) {
    EXPECT_EQ(given["rows"][0][task.name], expected["rows"][0][task.name]) << task.name;
  }
  // Left out, the same row's values are computed, and its scores move.
  const json computed = PostRows(client, json::array({RequestRow(40)}));
  ASSERT_TRUE(computed.is_object());
  EXPECT_NE(computed["rows"][0]["sales"], given["rows"][0]["sales"]);
  EXPECT_EQ(with_history.Terminate(std::chrono::seconds(10)), 0);
  EXPECT_EQ(without.Terminate(std::chrono::seconds(10)), 0);
}

TEST_F(ServeHistoryTest, BadHistoryFilesAndBadDatesAreRefusedByName) {
  // A history file without the promo column, which days_since_promo reads.
  const CsvRows valid = ReadCsv(dir_ / "valid.csv");
  const size_t promo = std::find(valid.names.begin(), valid.names.end(), "promo") - valid.names.begin();
  auto without_promo = [&](const std::vector<std::string>& fields) {
    std::string line;
    for (size_t c = 0; c < fields.size(); ++c) {
      if (c != promo) line += (line.empty() ? "" : ",") + fields[c];
    }
    return line + "\n";
  };
  std::string csv = without_promo(valid.names);
  for (const auto& row : valid.fields) csv += without_promo(row);
  const fs::path bad = dir_ / "valid_without_promo.csv";
  WriteText(bad, csv);
  RunResult refused =
      RunMtrecWithin(60, "serve --port 0 --model " + Model() + " --history " + (dir_ / "train.csv").string() +
                             " --history " + bad.string());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("'" + bad.string() + "' has no column 'promo'"), std::string::npos)
      << refused.output;
  RunResult missing = RunMtrecWithin(60, "serve --port 0 --model " + Model() + " --history " +
                                             (dir_ / "nowhere.csv").string());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("--history " + (dir_ / "nowhere.csv").string() + ": file not found"),
            std::string::npos)
      << missing.output;

  ServerProcess server("--port 0 --model " + Model() + History());
  ASSERT_GT(server.port(), 0) << server.first_line();
  httplib::Client client("127.0.0.1", server.port());
  auto expect_error = [&](const json& rows, const std::string& message) {
    auto answer = client.Post("/v1/predict", json({{"rows", rows}}).dump(), "application/json");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400) << answer->body;
    EXPECT_NE(json::parse(answer->body).value("error", "").find(message), std::string::npos) << answer->body;
  };
  json bad_date = RequestRow(1);
  bad_date["date"] = "2022-13-01";
  expect_error(json::array({RequestRow(0), bad_date}),
               "rows[1].date: '2022-13-01' is not a date yyyy-mm-dd (time_series.date)");
  json number_date = RequestRow(0);
  number_date["date"] = 20220421;
  expect_error(json::array({number_date}), "rows[0].date: expected a date yyyy-mm-dd (time_series.date), found number");
  // A row that leaves derived columns out needs its date.
  json no_date = RequestRow(0);
  no_date.erase("date");
  expect_error(json::array({no_date}), "rows[0]: missing input 'date'");
  EXPECT_EQ(server.Terminate(std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace mtrec::e2e
