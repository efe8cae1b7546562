// End-to-end: train a tiny model, export it as safetensors, read the export back and hold it against the model
// file (through LoadModel and `mtrec inspect`); re-encode rows from the export's `features` entry alone and hold
// the result against FeaturePipeline::Encode.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "cli_runner.h"
#include "common/files.h"
#include "data/column_table.h"
#include "io/model_io.h"
#include "io/safetensors.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

class ExportTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("export");
    RunResult sim = RunMtrec("simulate --rows 2000 --seed 5 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
    RunResult train = RunMtrec("-q train --config " + (dir_ / "config.toml").string() + " --out " + Model() +
                               " train.epochs=1 train.threads=2");
    ASSERT_EQ(train.exit_code, 0) << train.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string Model() { return (dir_ / "model.mtrec").string(); }
  static fs::path dir_;
};
fs::path ExportTest::dir_;

// "embedding tables: embeddings.user_id 1001x16 ..." from `mtrec inspect` as name -> {rows, dim}.
std::map<std::string, std::vector<int64_t>> InspectedTables(const std::string& output) {
  std::map<std::string, std::vector<int64_t>> tables;
  const std::string label = "embedding tables:";
  const size_t start = output.find(label);
  if (start == std::string::npos) return tables;
  std::istringstream line(output.substr(start + label.size(), output.find('\n', start) - start - label.size()));
  std::string name;
  std::string shape;
  while (line >> name >> shape) {
    const size_t x = shape.find('x');
    tables[name] = {std::stoll(shape.substr(0, x)), std::stoll(shape.substr(x + 1))};
  }
  return tables;
}

TEST_F(ExportTest, ExportHoldsEveryWeightOfTheModel) {
  const std::string out = (dir_ / "model.safetensors").string();
  RunResult exported = RunMtrec("export --model " + Model() + " --format safetensors --out " + out);
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find(out), std::string::npos) << exported.output;

  SafetensorsMetadata metadata;
  std::vector<NamedTensor> tensors = ReadSafetensors(out, &metadata);
  LoadedModel loaded = LoadModel(Model());
  const size_t parameters = loaded.model->arena().Infos().size();
  ASSERT_EQ(tensors.size(), parameters + loaded.model->input().tables().size());
  std::map<std::string, const NamedTensor*> by_name;
  for (const auto& t : tensors) EXPECT_TRUE(by_name.emplace(t.name, &t).second) << t.name;
  for (const auto& info : loaded.model->arena().Infos()) EXPECT_TRUE(by_name.count(info.name)) << info.name;
  EXPECT_TRUE(by_name.count("bottom.0.weight"));
  EXPECT_TRUE(by_name.count("towers.click.0.bias"));
  EXPECT_EQ(metadata["arch"], "shared_bottom");
  EXPECT_EQ(metadata["tasks"], "click,cart,purchase,gmv");
  EXPECT_EQ(metadata["format"], "pt");

  // The tables `mtrec inspect` lists (by their full weight names), with their shapes.
  RunResult inspect = RunMtrec("inspect " + Model());
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  const auto tables = InspectedTables(inspect.output);
  ASSERT_FALSE(tables.empty()) << inspect.output;
  EXPECT_EQ(tables.size(), tensors.size() - parameters);
  for (const auto& [name, shape] : tables) {
    auto found = by_name.find(name);
    ASSERT_NE(found, by_name.end()) << name;
    EXPECT_EQ(found->second->shape, shape) << name;
  }

  // A second export of the same model is the same file.
  const std::string again = (dir_ / "again.safetensors").string();
  ASSERT_EQ(RunMtrec("-q export --model " + Model() + " --out " + again).exit_code, 0);
  EXPECT_TRUE(ReadFileBytes(out) == ReadFileBytes(again));
}

TEST_F(ExportTest, UnknownFormatAndMissingOptionsFail) {
  const std::string out = (dir_ / "model.onnx").string();
  RunResult onnx = RunMtrec("export --model " + Model() + " --format onnx --out " + out);
  EXPECT_NE(onnx.exit_code, 0);
  EXPECT_NE(onnx.output.find("--format 'onnx' is not an export format; supported: safetensors"), std::string::npos)
      << onnx.output;
  EXPECT_FALSE(fs::exists(out));

  RunResult no_out = RunMtrec("export --model " + Model());
  EXPECT_NE(no_out.exit_code, 0);
  EXPECT_NE(no_out.output.find("--out is required"), std::string::npos) << no_out.output;
  RunResult no_model = RunMtrec("export --out " + out);
  EXPECT_NE(no_model.exit_code, 0);
  EXPECT_NE(no_model.output.find("--model is required"), std::string::npos) << no_model.output;

  RunResult missing = RunMtrec("export --model " + (dir_ / "absent.mtrec").string() + " --out " + out);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("absent.mtrec"), std::string::npos) << missing.output;

  RunResult help = RunMtrec("export --help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find("Example"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--format"), std::string::npos) << help.output;
}

// A reference encoder written from docs/model_format.md ("The features entry") and nothing of mtrec: one CSV row of
// raw text in, the model input's single-slot ids, multi-slot ids and numeric block out.
class ReferenceEncoder {
 public:
  struct Row {
    std::vector<int32_t> single;
    std::vector<std::vector<int32_t>> multi;
    std::vector<float> numeric;
  };

  explicit ReferenceEncoder(const nlohmann::json& spec) : spec_(spec) {
    for (const auto& f : spec_.at("features")) {
      std::map<std::string, int32_t> ids;
      if (f.contains("vocabulary")) {
        int32_t id = 1;
        for (const auto& value : f.at("vocabulary")) ids[value.get<std::string>()] = id++;
      }
      vocabularies_.push_back(std::move(ids));
    }
  }

  // fields: the row's raw fields by column name.
  Row Encode(const std::map<std::string, std::string>& fields) const {
    Row row;
    row.single.assign(spec_.at("single_slots").get<size_t>(), -1);
    row.multi.assign(spec_.at("multi_slots").get<size_t>(), {});
    row.numeric.assign(spec_.at("numeric_columns").size(), NAN);
    const bool trim = spec_.at("trim");
    for (size_t i = 0; i < spec_.at("features").size(); ++i) {
      const auto& f = spec_.at("features")[i];
      std::string field = fields.at(f.at("column"));
      if (trim) field = Strip(field, " \t");
      const std::string block = f.at("input").at("block");
      const auto index = f.at("input").at("index").get<size_t>();
      const std::string kind = f.at("kind");
      if (kind == "categorical") {
        row.single.at(index) = Id(i, field);
      } else if (kind == "multi_categorical") {
        if (IsNa(field)) continue;
        const std::string separator = f.at("separator");
        size_t start = 0;
        while (true) {
          const size_t end = field.find(separator, start);
          const std::string part = Strip(field.substr(start, end - start), " \t\r");
          if (!part.empty()) row.multi.at(index).push_back(Id(i, part));
          if (end == std::string::npos) break;
          start = end + separator.size();
        }
      } else {
        const bool missing = IsNa(field);
        // The raw value is read as a double and rounded to float32 first.
        const float raw = missing ? NAN : static_cast<float>(std::stod(field));
        double x = missing ? f.at("fill").get<double>() : static_cast<double>(raw);
        if (!f.at("clip").is_null()) {
          x = std::clamp(x, f.at("clip")[0].get<double>(), f.at("clip")[1].get<double>());
        }
        if (f.at("log1p")) x = std::log1p(x);
        if (block == "single") {  // bucketised: the count of bounds <= x (as float32); missing: len(bounds) + 1
          const auto bounds = f.at("bounds").get<std::vector<float>>();
          const auto xf = static_cast<float>(x);
          row.single.at(index) = missing ? static_cast<int32_t>(bounds.size()) + 1
                                         : static_cast<int32_t>(std::count_if(bounds.begin(), bounds.end(),
                                                                              [&](float b) { return b <= xf; }));
          continue;
        }
        if (f.at("standardize")) x = (x - f.at("mean").get<double>()) / f.at("std").get<double>();
        row.numeric.at(index) = static_cast<float>(x);
        if (f.at("missing_flag")) row.numeric.at(index + 1) = missing ? 1.f : 0.f;
      }
    }
    return row;
  }

  // FNV-1a 64 over the bytes, SplitMix64's finaliser, modulo the bucket count.
  static int32_t Hash(const std::string& value, uint64_t buckets) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : value) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
    h += 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return static_cast<int32_t>(h % buckets);
  }

 private:
  static std::string Strip(const std::string& text, const char* blanks) {
    const size_t begin = text.find_first_not_of(blanks);
    if (begin == std::string::npos) return "";
    return text.substr(begin, text.find_last_not_of(blanks) - begin + 1);
  }
  bool IsNa(const std::string& field) const {
    for (const auto& na : spec_.at("na_values")) {
      if (field == na.get<std::string>()) return true;
    }
    return false;
  }
  int32_t Id(size_t feature, const std::string& value) const {
    const auto& f = spec_.at("features")[feature];
    if (f.contains("hash_buckets")) return Hash(value, f.at("hash_buckets").get<uint64_t>());
    auto found = vocabularies_[feature].find(value);
    return found == vocabularies_[feature].end() ? 0 : found->second;
  }

  nlohmann::json spec_;
  std::vector<std::map<std::string, int32_t>> vocabularies_;
};

std::vector<std::string> SplitLine(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// Every encoding path: vocabularies (user_id, min_count 2, unseen ids), hashing (item_id), a multi-valued feature
// on a table it shares (recent_categories on category's vocabulary), quantile buckets (price), clipping, log1p,
// no standardisation, a missing flag (item_rating) and missing values, fields with blanks around them.
TEST(ExportFeaturesTest, ReferenceEncoderFromTheExportMatchesThePipeline) {
  const fs::path dir = FreshDir("export_features");
  ASSERT_EQ(RunMtrec("-q simulate --rows 3000 --seed 9 --out " + dir.string()).exit_code, 0);
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                             " train.epochs=1 train.threads=2 features.item_id.hash_buckets=97"
                             " features.recent_categories.share_with=category features.price.buckets=8"
                             " features.item_sales.clip=[1,40] features.user_activity.standardize=false"
                             " features.position.missing_flag=always");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string out = (dir / "model.safetensors").string();
  RunResult exported = RunMtrec("-q export --model " + model + " --out " + out);
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  SafetensorsMetadata metadata;
  ReadSafetensors(out, &metadata);
  ASSERT_TRUE(metadata.count("features"));
  const nlohmann::json spec = nlohmann::json::parse(metadata.at("features"));

  // Rows of the test file, then rows edited to reach the other cases.
  std::istringstream test(ReadFileBytes(dir / "test.csv"));
  std::string header;
  std::getline(test, header);
  const std::vector<std::string> columns = SplitLine(header);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (rows.size() < 60 && std::getline(test, line)) rows.push_back(SplitLine(line));
  ASSERT_EQ(rows.size(), 60u);
  auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(columns.begin(), columns.end(), name) - columns.begin());
  };
  const std::vector<std::vector<std::pair<std::string, std::string>>> edits = {
      {{"user_id", "u_never_seen"}, {"recent_categories", ""}, {"item_rating", ""}, {"price", "NA"}},
      {{"recent_categories", " c1 | c2 ||c_unknown"}, {"item_sales", "100000"}, {"city", " city1 "}},
      {{"item_id", "i_never_seen"}, {"user_activity", "0"}, {"item_sales", "0.2"}, {"position", "null"}},
      {{"price", "1e9"}, {"item_rating", "NaN"}, {"recent_categories", "NA"}, {"category", "c_unknown"}},
      {{"price", "0"}, {"user_activity", "NULL"}, {"hour", ""}, {"recent_categories", "c3"}},
  };
  for (const auto& edit : edits) {
    std::vector<std::string> row = rows[rows.size() % 60];
    for (const auto& [name, value] : edit) row.at(column(name)) = value;
    rows.push_back(row);
  }
  std::string csv = header + "\n";
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) csv += (c ? "," : "") + row[c];
    csv += "\n";
  }
  const fs::path data = dir / "rows.csv";
  WriteText(data, csv);

  LoadedModel loaded = LoadModel(model);
  DataConfig data_config = loaded.config.data;
  data_config.cache = false;
  ColumnTable table = LoadTable(data.string(), data_config, FeaturePipeline::Requests(loaded.config, false));
  const EncodedData encoded = loaded.pipeline->Encode(table);
  ASSERT_EQ(encoded.rows, static_cast<int64_t>(rows.size()));
  const InputLayout& layout = loaded.pipeline->layout();
  ASSERT_EQ(spec.at("single_slots").get<size_t>(), layout.single_slots.size());
  ASSERT_EQ(spec.at("multi_slots").get<size_t>(), layout.multi_slots.size());
  ASSERT_EQ(spec.at("numeric_columns").get<std::vector<std::string>>(), layout.numeric_names);
  ASSERT_EQ(layout.multi_slots.size(), 1u);
  ASSERT_EQ(layout.multi_slots[0].table, layout.single_slots[6].table);  // category's table

  const ReferenceEncoder reference(spec);
  const int64_t width = layout.NumericWidth();
  for (size_t r = 0; r < rows.size(); ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    std::map<std::string, std::string> fields;
    for (size_t c = 0; c < columns.size(); ++c) fields[columns[c]] = rows[r][c];
    const ReferenceEncoder::Row expected = reference.Encode(fields);
    for (size_t s = 0; s < layout.single_slots.size(); ++s) {
      EXPECT_EQ(expected.single[s], encoded.single_ids[s][r]) << layout.single_slots[s].feature;
    }
    for (size_t m = 0; m < layout.multi_slots.size(); ++m) {
      const auto& multi = encoded.multi_ids[m];
      std::vector<int32_t> ids(multi.ids.begin() + multi.offsets[r], multi.ids.begin() + multi.offsets[r + 1]);
      EXPECT_EQ(expected.multi[m], ids) << layout.multi_slots[m].feature;
    }
    for (int64_t c = 0; c < width; ++c) {
      EXPECT_EQ(expected.numeric[c], encoded.numeric[r * width + c]) << layout.numeric_names[c];
    }
  }
  // The edited rows reach what they were written for.
  const size_t first_edit = 60;
  EXPECT_EQ(encoded.single_ids[0][first_edit], 0);  // unseen user_id: out of vocabulary
  EXPECT_EQ(encoded.multi_ids[0].offsets[first_edit + 1] - encoded.multi_ids[0].offsets[first_edit], 0);
  EXPECT_EQ(encoded.multi_ids[0].offsets[first_edit + 2] - encoded.multi_ids[0].offsets[first_edit + 1], 3);
  const auto price = std::find_if(spec.at("features").begin(), spec.at("features").end(),
                                  [](const auto& f) { return f.at("name") == "price"; });
  ASSERT_NE(price, spec.at("features").end());
  EXPECT_EQ((*price).at("input").at("block"), "single");
  EXPECT_EQ((*price).at("bounds").size(), 7u);
  const auto item = std::find_if(spec.at("features").begin(), spec.at("features").end(),
                                 [](const auto& f) { return f.at("name") == "item_id"; });
  EXPECT_EQ((*item).at("hash_buckets"), 97);
  EXPECT_EQ(ReferenceEncoder::Hash("u123", 1 << 20), HashBucket("u123", 1 << 20));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mtrec::e2e
