// `mtrec eval --report`: a self-contained HTML file that a browser renders with its charts, checked by rendering
// it in headless Chromium (Debian's chromium, which `make setup` installs) and looking at the picture; and the
// metrics of `--group-by` (GAUC, ranking by the blended score), the sample spaces and `--slice-by` in the eval JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "cli_runner.h"
#include "common/files.h"
#include "png_image.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

class ReportTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("report");
    RunResult sim = RunMtrec("simulate --rows 20000 --seed 5 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
    model_ = (dir_ / "mmoe.mtrec").string();
    RunResult train = RunMtrec("-q train --config " + (dir_ / "config.toml").string() + " --out " + model_ +
                               " model.arch=mmoe train.epochs=3 train.patience=0 train.threads=2 train.batch_size=256 "
                               "model.experts=3 model.expert=[32,16] model.tower=[8] model.embedding_dim=8 "
                               "train.conflict_every=5 serve.blend={click=1,purchase=3}");
    ASSERT_EQ(train.exit_code, 0) << train.output;
    report_ = dir_ / "report.html";
    json_ = dir_ / "metrics.json";
    RunResult eval = RunMtrec("-q eval --model " + model_ + " --data " + (dir_ / "test.csv").string() +
                              " --group-by user_id --json " + json_.string() + " --report " + report_.string());
    ASSERT_EQ(eval.exit_code, 0) << eval.output;
    eval_output_ = eval.output;
  }
  static fs::path dir_, report_, json_;
  static std::string model_, eval_output_;
};
fs::path ReportTest::dir_, ReportTest::report_, ReportTest::json_;
std::string ReportTest::model_, ReportTest::eval_output_;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST_F(ReportTest, HtmlIsSelfContained) {
  const std::string html = ReadFileBytes(report_);
  ASSERT_FALSE(html.empty());
  EXPECT_EQ(Count(html, "<script"), 0);
  EXPECT_EQ(Count(html, "<link"), 0);
  EXPECT_EQ(Count(html, "@import"), 0);
  EXPECT_EQ(Count(html, "url("), 0);
  // The only address is the SVG namespace name, which is an identifier, never fetched.
  const std::regex address(R"(https?://[^"]*)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), address); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg");
  }
  for (const char* chart : {"roc", "reliability", "train_loss", "valid_click", "valid_gmv", "task_weights",
                            "expert_usage", "conflict"}) {
    EXPECT_EQ(Count(html, std::string("data-chart=\"") + chart + "\""), 1) << chart;
  }
  for (const char* section : {"Metrics", "Curves", "Training", "Multi-task diagnostics", "Data"}) {
    EXPECT_EQ(Count(html, std::string("<h2>") + section + "</h2>"), 1) << section;
  }
  // Every task and the chain tasks' sample spaces have a ROC line.
  for (const char* series : {"click", "cart", "purchase", "cart|click", "purchase|click"}) {
    EXPECT_GE(Count(html, std::string("data-series=\"") + series + "\""), 1) << series;
  }
}

std::string Chromium() {
  if (const char* path = std::getenv("MTREC_CHROMIUM")) return path;
  return "/usr/bin/chromium";
}

// Runs headless Chromium on the report; returns its stdout.
std::string RunChromium(const std::string& args, const fs::path& profile) {
  const std::string command = Chromium() + " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run "
                              "--user-data-dir=" + profile.string() + " " + args + " 2>/dev/null";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  pclose(pipe);
  return output;
}

TEST_F(ReportTest, RendersInHeadlessChromium) {
  ASSERT_TRUE(fs::exists(Chromium())) << Chromium() << " not found: `make setup` installs Debian's chromium "
                                      << "(or point MTREC_CHROMIUM at a Chromium binary)";
  const std::string url = "file://" + fs::absolute(report_).string();
  // The DOM after parsing and layout: every chart made it in as an SVG element.
  const std::string dom = RunChromium("--dump-dom " + url, dir_ / "profile-dom");
  EXPECT_EQ(Count(dom, "<svg class=\"chart\""), 10) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("Expert utilisation"), std::string::npos);

  // The picture: not blank, and the charts' colours are painted.
  const fs::path shot = dir_ / "report.png";
  const int width = 1300, height = 3400;
  RunChromium("--screenshot=" + shot.string() + " --window-size=" + std::to_string(width) + "," + std::to_string(height) +
                  " " + url,
              dir_ / "profile-shot");
  ASSERT_TRUE(fs::exists(shot)) << "chromium wrote no screenshot";
  const PngImage image = DecodePng(ReadFileBytes(shot));
  ASSERT_EQ(image.width, width);
  ASSERT_EQ(image.height, height);
  int64_t ink = 0, first_series = 0, heat_red = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = image.Pixel(x, y);
      if (p[0] < 235 || p[1] < 235 || p[2] < 235) ++ink;
      // The first series' colour, #1f77b4 (click's lines and markers, the utilisation heatmap's strongest cells).
      if (std::abs(p[0] - 0x1f) < 12 && std::abs(p[1] - 0x77) < 12 && std::abs(p[2] - 0xb4) < 12) ++first_series;
      // The conflict matrix's diagonal (cosine 1): #d62728.
      if (std::abs(p[0] - 0xd6) < 12 && std::abs(p[1] - 0x27) < 12 && std::abs(p[2] - 0x28) < 12) ++heat_red;
    }
  }
  const double pixels = static_cast<double>(image.width) * image.height;
  EXPECT_GT(ink / pixels, 0.03) << "the page looks blank";
  EXPECT_GT(first_series, 2000) << "the charts' lines are not painted";
  EXPECT_GT(heat_red, 4 * 64 * 30 / 2) << "the conflict matrix's diagonal cells are not painted";
}

TEST_F(ReportTest, JsonHasGroupedRankingAndSampleSpaceMetrics) {
  const nlohmann::json json = nlohmann::json::parse(ReadFileBytes(json_));
  const auto& click = json["tasks"]["click"];
  for (const char* key : {"auc", "gauc", "gauc_pos", "pr_auc", "logloss", "ece", "calibration", "best_f1"}) {
    ASSERT_TRUE(click[key].is_number()) << key;
  }
  EXPECT_GT(click["gauc_groups"].get<int64_t>(), 0);
  EXPECT_GT(click["gauc_skipped"].get<int64_t>(), 0);  // most users have no click in the test split
  for (const char* key : {"r2", "poisson_deviance", "tweedie_deviance"}) {
    EXPECT_TRUE(json["tasks"]["gmv"][key].is_number()) << key;
  }
  const auto& conversion = json["sample_spaces"]["purchase|click"];
  const auto& clicks = json["data"]["labels"]["click"];
  EXPECT_EQ(conversion["rows"].get<int64_t>(),
            std::llround(clicks["labelled"].get<double>() * clicks["positive_rate"].get<double>()))
      << "CVR is measured on the clicked rows";
  EXPECT_TRUE(conversion["oracle_auc"].is_number());
  const auto& ranking = json["ranking"];
  EXPECT_EQ(ranking["group_by"], "user_id");
  EXPECT_EQ(ranking["blend"], "1 click + 3 purchase");
  for (const char* key : {"ndcg_at_5", "ndcg_at_10", "recall_at_5", "recall_at_10", "value_share_at_10"}) {
    const double value = ranking[key].get<double>();
    EXPECT_TRUE(value > 0 && value <= 1) << key << " " << value;
  }
  EXPECT_LE(ranking["recall_at_5"].get<double>(), ranking["recall_at_10"].get<double>());
  EXPECT_EQ(json["curves"]["click"]["reliability"].size(), 10u);
  EXPECT_GT(json["curves"]["click"]["roc"].size(), 10u);
  EXPECT_NE(eval_output_.find("ranking by 1 click + 3 purchase within each user_id"), std::string::npos) << eval_output_;
}

TEST_F(ReportTest, SliceByGivesEachTaskPerValueAndSharesOfItsError) {
  const fs::path json_path = dir_ / "slices.json";
  const fs::path report = dir_ / "slices.html";
  RunResult eval = RunMtrec("-q eval --model " + model_ + " --data " + (dir_ / "test.csv").string() +
                            " --slice-by device --json " + json_path.string() + " --report " + report.string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("click by device (share: of the mis-ordered positive-negative pairs"), std::string::npos)
      << eval.output;
  const nlohmann::json json = nlohmann::json::parse(ReadFileBytes(json_path));
  ASSERT_EQ(json["slices"]["column"], "device");
  for (const char* task : {"click", "cart", "purchase", "gmv"}) {
    const auto& slices = json["slices"]["tasks"][task];
    ASSERT_EQ(slices.size(), 3u) << task;  // three devices
    int64_t rows = 0;
    double share = 0;
    for (const auto& slice : slices) {
      rows += slice["rows"].get<int64_t>();
      share += slice["error_share"].get<double>();
      if (std::string(task) == "gmv") {
        EXPECT_GT(slice["rmse"].get<double>(), 0) << slice;
      } else {
        EXPECT_GT(slice["auc"].get<double>(), 0.5) << task << " " << slice;
      }
    }
    EXPECT_NEAR(share, 1.0, 1e-9) << task;
    // Every labelled row is in one slice; a chain task is measured on its parent's positives, as in "tasks".
    EXPECT_EQ(rows, json["tasks"][task]["rows"].get<int64_t>()) << task;
    EXPECT_GE(slices[0]["rows"].get<int64_t>(), slices[2]["rows"].get<int64_t>()) << "most rows first";
  }
  EXPECT_EQ(Count(ReadFileBytes(report), "<h2>Slices</h2>"), 1);

  // A numeric column slices by ascending ranges of about equal rows (an item's price is never split between two).
  RunResult prices = RunMtrec("-q eval --model " + model_ + " --data " + (dir_ / "test.csv").string() +
                              " --slice-by price --json " + json_path.string());
  ASSERT_EQ(prices.exit_code, 0) << prices.output;
  const nlohmann::json price_json = nlohmann::json::parse(ReadFileBytes(json_path));
  const auto& by_price = price_json["slices"]["tasks"]["click"];
  ASSERT_GE(by_price.size(), 10u);
  ASSERT_LE(by_price.size(), 20u);  // eval.max_slices
  int64_t rows = 0;
  double last_low = -1;
  for (const auto& slice : by_price) {
    const std::string range = slice["value"].get<std::string>();  // "[lo, hi]"
    ASSERT_EQ(range.front(), '[') << range;
    const double low = std::stod(range.substr(1));
    EXPECT_GT(low, last_low) << range;
    last_low = low;
    rows += slice["rows"].get<int64_t>();
  }
  EXPECT_EQ(rows, price_json["tasks"]["click"]["rows"].get<int64_t>());

  // A column the model does not read, written as numbers, slices by number (ascending), not as text.
  std::istringstream in(ReadFileBytes(dir_ / "test.csv"));
  std::string line, extended;
  for (int row = 0; std::getline(in, line); ++row) {
    extended += line + "," + (row == 0 ? std::string("visits") : std::to_string((row * 7) % 12)) + "\n";
  }
  WriteText(dir_ / "test_visits.csv", extended);
  RunResult visits = RunMtrec("-q eval --model " + model_ + " --data " + (dir_ / "test_visits.csv").string() +
                              " --slice-by visits --json " + json_path.string());
  ASSERT_EQ(visits.exit_code, 0) << visits.output;
  const nlohmann::json visits_json = nlohmann::json::parse(ReadFileBytes(json_path));
  const auto& by_visits = visits_json["slices"]["tasks"]["click"];
  ASSERT_EQ(by_visits.size(), 12u);
  for (int v = 0; v < 12; ++v) EXPECT_EQ(by_visits[v]["value"], std::to_string(v));  // 0, 1, ..., 10, 11

  RunResult unknown = RunMtrec("-q eval --model " + model_ + " --data " + (dir_ / "test.csv").string() +
                               " --slice-by devise");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("devise"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("eval.slice_by"), std::string::npos) << unknown.output;
}

}  // namespace
}  // namespace mtrec::e2e
