#include "serve/request.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "allocation_counter.h"
#include "common/threads.h"
#include "models/model.h"
#include "serve/scorer.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Every kind of input: a vocabulary, a hashed and a multi-valued categorical, a numeric with log1p and a missing
// flag, a bucketised numeric, a feature sharing another's table; user-side columns first.
const char* kConfig = R"(
[data]
cache = false

[[features]]
name = "user"

[[features]]
name = "city"
hash_buckets = 8

[[features]]
name = "tags"
kind = "multi_categorical"

[[features]]
name = "age"
kind = "numeric"
buckets = 3

[[features]]
name = "item"

[[features]]
name = "seller"
share_with = "item"

[[features]]
name = "price"
kind = "numeric"
log1p = true

[[tasks]]
name = "click"

[[tasks]]
name = "purchase"

[[tasks]]
name = "gmv"
kind = "regression"

[model]
arch = "mmoe"
embedding_dim = 4
experts = 2
expert = [8]
tower = [4]
batch_norm = true

[serve]
blend = { click = 1, purchase = 2 }
blend_feature = "price"
)";

const char* kData =
    "user,city,tags,age,item,seller,price,click,purchase,gmv\n"
    "u1,paris,a|b,31,i1,i2,10,1,0,2.5\n"
    "u2,rome,b,,i2,i1,,0,0,0\n"
    "u1,oslo,,45,i3,i3,30,0,1,1\n"
    "u3,paris,c|a,22,i1,i9,20,1,1,4\n"
    "u2,lima,a,60,i2,i2,15,0,0,0\n"
    "u4,rome,b|c|a,19,i4,i1,5,0,0,0.5\n"
    "u1,paris,c,38,i2,i4,25,1,0,3\n";

const std::vector<std::string> kUserColumns = {"user", "city", "tags", "age"};
const std::vector<std::string> kItemColumns = {"item", "seller", "price"};

class RequestTest : public testing::Test {
 protected:
  void SetUp() override {
    SetThreads(1);
    config_ = ParseConfig(kConfig, "request_test.toml");
    const std::string path = WriteFile(TestDir("request_test"), "train.csv", kData);
    table_ = std::make_unique<ColumnTable>(LoadTable(path, config_.data, FeaturePipeline::Requests(config_, true)));
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config_, *table_));
    schema_ = std::make_unique<RequestSchema>(*pipeline_);
    model_ = MakeModel(3);
  }
  std::unique_ptr<Model> MakeModel(uint64_t seed) const {
    std::unique_ptr<Model> model = CreateModel(config_, pipeline_->layout(), 64);
    model->Initialize(seed);
    // Inference batch norm with statistics far from (0, 1), so that a wrong row would show.
    ParameterArena& arena = model->arena();
    for (size_t id = 0; id < arena.Infos().size(); ++id) {
      if (arena.Info(id).trainable) continue;
      const bool variance = arena.Info(id).name.find("var") != std::string::npos;
      for (size_t i = 0; i < arena.Info(id).size(); ++i) {
        arena.Value(id)[i] = (variance ? 0.5f : -0.02f) + 0.01f * static_cast<float>(i % 7);
      }
    }
    return model;
  }
  void TearDown() override {
    SetThreads(0);
    fs::remove_all(TestDir("request_test"));
  }

  // Row r of the training file as JSON values, the way a client sends them.
  json Value(int64_t r, const std::string& column) const {
    if (column == "age" || column == "price") {
      const float x = table_->Get(column, ColumnType::kNumeric).numbers[r];
      return std::isnan(x) ? json(nullptr) : json(x);
    }
    if (column == "tags") {
      const Column& tags = table_->Get("tags", ColumnType::kMultiCategorical);
      json values = json::array();
      for (uint64_t k = tags.offsets[r]; k < tags.offsets[r + 1]; ++k) values.push_back(tags.Value(tags.codes[k]));
      return values;
    }
    const Column& column_data = table_->Get(column, ColumnType::kCategorical);
    return std::string(column_data.Value(column_data.codes[r]));
  }
  json Row(int64_t r, const std::vector<std::string>& columns) const {
    json row = json::object();
    for (const auto& c : columns) row[c] = Value(r, c);
    return row;
  }

  // model_ served as a scorer serves it, with a second copy initialised from `replica_seed` where given.
  std::shared_ptr<ServingModel> Serving(std::optional<uint64_t> replica_seed = std::nullopt) {
    auto serving = std::make_shared<ServingModel>();
    serving->loaded.config = config_;
    serving->loaded.pipeline = std::make_unique<FeaturePipeline>(*pipeline_);
    serving->loaded.model = std::move(model_);
    if (replica_seed) serving->replicas.push_back(MakeModel(*replica_seed));
    serving->outputs = std::make_unique<TaskOutputs>(config_);
    serving->task_json = {"\"click\"", "\"purchase\"", "\"gmv\""};
    return serving;
  }
  // What a scorer answers for `batch` scored by `model` alone: click and purchase as probabilities, gmv as it is.
  static std::vector<float> Answers(Model& model, const Batch& batch) {
    Tensor out = model.Forward(batch, Mode::kInfer);
    std::vector<float> values;
    for (int64_t row = 0; row < out.rows; ++row) {
      for (int64_t k = 0; k < 3; ++k)
        values.push_back(k < 2 ? 1.f / (1.f + std::exp(-out.At(row, k))) : out.At(row, k));
    }
    return values;
  }

  std::vector<float> Outputs(const Batch& batch) {
    Tensor out = model_->Forward(batch, Mode::kInfer);
    std::vector<float> values;
    for (int64_t r = 0; r < batch.size; ++r) {
      for (int64_t k = 0; k < out.cols; ++k) values.push_back(out.At(r, k));
    }
    return values;
  }

  EncodedRequest Predict(const json& body) { return ParsePredictRequest(body.dump(), *schema_, limits_); }
  EncodedRequest Rank(const json& body) { return ParseRankRequest(body.dump(), *schema_, limits_); }

  // The status and message of a refused request body.
  std::pair<int, std::string> Refusal(const std::string& body, bool rank = true) {
    try {
      rank ? ParseRankRequest(body, *schema_, limits_) : ParsePredictRequest(body, *schema_, limits_);
    } catch (const RequestError& error) {
      return {error.status(), error.what()};
    }
    return {0, ""};
  }

  Config config_;
  std::unique_ptr<ColumnTable> table_;
  std::unique_ptr<FeaturePipeline> pipeline_;
  std::unique_ptr<RequestSchema> schema_;
  std::unique_ptr<Model> model_;
  RequestLimits limits_;
};

TEST_F(RequestTest, PredictRowsEncodeExactlyAsTheFilePipeline) {
  const EncodedData encoded = pipeline_->Encode(*table_);
  Batch expected;
  const std::vector<int64_t> order = SequentialOrder(encoded.rows);
  GatherBatch(encoded, order.data(), encoded.rows, &expected);

  json rows = json::array();
  std::vector<std::string> all = kUserColumns;
  all.insert(all.end(), kItemColumns.begin(), kItemColumns.end());
  for (int64_t r = 0; r < table_->rows(); ++r) rows.push_back(Row(r, all));
  const EncodedRequest request = Predict({{"rows", rows}});

  ASSERT_EQ(request.batch.size, expected.size);
  EXPECT_EQ(request.batch.single_ids, expected.single_ids);
  EXPECT_EQ(request.batch.multi_offsets, expected.multi_offsets);
  EXPECT_EQ(request.batch.multi_ids, expected.multi_ids);
  ASSERT_EQ(request.batch.numeric.size(), expected.numeric.size());
  for (size_t i = 0; i < expected.numeric.size(); ++i) EXPECT_EQ(request.batch.numeric[i], expected.numeric[i]) << i;
  EXPECT_TRUE(request.batch.group_starts.empty());
  // The blend feature is the raw price, NaN where it is missing.
  ASSERT_EQ(request.blend_feature.size(), 7u);
  EXPECT_FLOAT_EQ(request.blend_feature[0], 10.f);
  EXPECT_TRUE(std::isnan(request.blend_feature[1]));
  EXPECT_EQ(Outputs(request.batch), Outputs(expected));
}

TEST_F(RequestTest, ValuesInEveryAcceptedForm) {
  // Integers for categorical ids, a separator-joined string or null for multi-valued, null for a missing number.
  json as_text = {{"user", "7"},  {"city", "12"},   {"tags", "a| b||c"}, {"age", nullptr},
                  {"item", "i1"}, {"seller", "i2"}, {"price", 3}};
  json as_values = {{"user", 7},      {"city", 12},  {"tags", {"a", "b", "c"}}, {"age", nullptr}, {"item", "i1"},
                    {"seller", "i2"}, {"price", 3.0}};
  const EncodedRequest a = Predict({{"rows", {as_text}}});
  const EncodedRequest b = Predict({{"rows", {as_values}}});
  EXPECT_EQ(a.batch.single_ids, b.batch.single_ids);
  EXPECT_EQ(a.batch.multi_ids, b.batch.multi_ids);
  EXPECT_EQ(a.batch.multi_ids[0].size(), 3u);
  EXPECT_EQ(a.batch.numeric, b.batch.numeric);
  as_values["tags"] = nullptr;
  EXPECT_TRUE(Predict({{"rows", {as_values}}}).batch.multi_ids[0].empty());
}

TEST_F(RequestTest, ContextIsEncodedOnceAndScoresAsIfRepeatedInEveryItem) {
  // Rows 0, 2 and 6 are user u1; the context carries row 0's user side, the items their own item side.
  json items = json::array();
  json full = json::array();
  for (int64_t r : {0, 2, 6, 3}) {
    items.push_back(Row(r, kItemColumns));
    json row = Row(0, kUserColumns);
    row.update(Row(r, kItemColumns));
    full.push_back(row);
  }
  const EncodedRequest rank = Rank({{"context", Row(0, kUserColumns)}, {"items", items}});
  const EncodedRequest predict = Predict({{"rows", full}});
  ASSERT_EQ(rank.batch.group_starts, std::vector<int64_t>{0});
  // Single slots: user, city (hashed), age (bucketised) shared; item and seller per item. The multi slot (tags) is
  // shared: its ids sit at the first row only.
  EXPECT_EQ(rank.batch.shared, (std::vector<uint8_t>{1, 1, 1, 0, 0, 1}));
  EXPECT_EQ(rank.batch.multi_ids[0].size(), 2u);
  EXPECT_EQ(rank.batch.multi_offsets[0], (std::vector<int64_t>{0, 2, 2, 2, 2}));
  EXPECT_EQ(predict.batch.multi_ids[0].size(), 8u);
  const std::vector<float> a = Outputs(rank.batch);
  const std::vector<float> b = Outputs(predict.batch);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NE(a[0], a[3]);  // the items score differently

  for (size_t i = 0; i < a.size(); ++i) EXPECT_FLOAT_EQ(a[i], b[i]) << i;
}

TEST_F(RequestTest, MicroBatchOfSeveralRequestsScoresEachAsAlone) {
  std::vector<EncodedRequest> requests;
  requests.push_back(
      Rank({{"context", Row(1, kUserColumns)}, {"items", {Row(1, kItemColumns), Row(4, kItemColumns)}}}));
  json rows = json::array();
  for (int64_t r : {5, 3}) {
    json row = Row(r, kUserColumns);
    row.update(Row(r, kItemColumns));
    rows.push_back(row);
  }
  requests.push_back(Predict({{"rows", rows}}));
  requests.push_back(Rank({{"context", Row(3, kUserColumns)}, {"items", {Row(0, kItemColumns)}}}));
  requests.push_back(Rank({{"context", Row(5, kUserColumns)},
                           {"items", {Row(6, kItemColumns), Row(2, kItemColumns), Row(1, kItemColumns)}}}));

  Batch merged;
  std::vector<float> alone;
  for (const auto& request : requests) {
    AppendBatch(request.batch, &merged);
    const std::vector<float> outputs = Outputs(request.batch);
    alone.insert(alone.end(), outputs.begin(), outputs.end());
  }
  EXPECT_EQ(merged.size, 8);
  EXPECT_EQ(merged.group_starts, (std::vector<int64_t>{0, 2, 4, 5}));
  const std::vector<float> together = Outputs(merged);
  ASSERT_EQ(together.size(), alone.size());
  for (size_t i = 0; i < alone.size(); ++i) EXPECT_FLOAT_EQ(together[i], alone[i]) << i;
}

// Every run of rows of a micro-batch, cut anywhere (within a group, across groups, a request without groups), scores
// as those rows do in the whole: a group cut short keeps its shared context (a single slot, a multi slot) on the
// part's first row.
TEST_F(RequestTest, ASliceOfRowsScoresAsInTheWholeBatch) {
  json rows = json::array();
  for (int64_t r : {5, 3}) {
    json row = Row(r, kUserColumns);
    row.update(Row(r, kItemColumns));
    rows.push_back(row);
  }
  Batch merged;
  AppendBatch(Rank({{"context", Row(1, kUserColumns)}, {"items", {Row(1, kItemColumns), Row(4, kItemColumns)}}}).batch,
              &merged);
  AppendBatch(Predict({{"rows", rows}}).batch, &merged);
  AppendBatch(Rank({{"context", Row(5, kUserColumns)},
                    {"items", {Row(6, kItemColumns), Row(2, kItemColumns), Row(1, kItemColumns)}}})
                  .batch,
              &merged);
  ASSERT_EQ(merged.size, 7);
  const std::vector<float> whole = Outputs(merged);
  const int64_t columns = static_cast<int64_t>(whole.size()) / merged.size;
  Batch part;
  for (int64_t begin = 0; begin < merged.size; ++begin) {
    for (int64_t end = begin + 1; end <= merged.size; ++end) {
      SliceBatch(merged, begin, end, &part);  // reused, as a scorer reuses its batches
      ASSERT_EQ(part.size, end - begin);
      const std::vector<float> got = Outputs(part);
      ASSERT_EQ(static_cast<int64_t>(got.size()), (end - begin) * columns);
      for (int64_t i = 0; i < (end - begin) * columns; ++i) {
        EXPECT_NEAR(got[i], whole[begin * columns + i], 1e-5) << "rows [" << begin << ", " << end << ") value " << i;
      }
    }
  }
  SliceBatch(merged, 5, 7, &part);
  EXPECT_EQ(part.group_starts, (std::vector<int64_t>{0}));  // the last request, cut after its first item
  // A batch without groups (a /v1/predict request alone): its rows sliced stay without groups.
  const Batch plain = Predict({{"rows", rows}}).batch;
  ASSERT_TRUE(plain.group_starts.empty());
  const std::vector<float> plain_whole = Outputs(plain);
  SliceBatch(plain, 1, 2, &part);
  EXPECT_TRUE(part.group_starts.empty());
  const std::vector<float> second = Outputs(part);
  ASSERT_EQ(static_cast<int64_t>(second.size()), columns);
  for (int64_t i = 0; i < columns; ++i) EXPECT_NEAR(second[i], plain_whole[columns + i], 1e-5) << i;
  EXPECT_THROW(SliceBatch(merged, 3, 3, &part), Error);
  EXPECT_THROW(SliceBatch(merged, 2, 8, &part), Error);
}

TEST_F(RequestTest, BlendAndTopK) {
  json items = {Row(0, kItemColumns), Row(3, kItemColumns)};
  EncodedRequest request = Rank({{"context", Row(0, kUserColumns)}, {"items", items}});
  ASSERT_EQ(request.blend.terms.size(), 2u);  // the config's click = 1, purchase = 2
  EXPECT_EQ(request.blend.terms[1].task, 1);
  EXPECT_EQ(request.blend.terms[1].weight, 2.0);
  EXPECT_TRUE(request.blend.uses_feature);
  EXPECT_EQ(request.top_k, 0);
  request = Rank({{"context", Row(0, kUserColumns)}, {"items", items}, {"blend", {{"gmv", 1}}}, {"top_k", 1}});
  ASSERT_EQ(request.blend.terms.size(), 1u);
  EXPECT_EQ(request.blend.terms[0].task, 2);
  EXPECT_EQ(request.top_k, 1);
  // A top_k beyond int64 (simdjson's unsigned integers) is more than any request holds: all of them.
  request = Rank({{"context", Row(0, kUserColumns)}, {"items", items}, {"top_k", uint64_t{18446744073709551615u}}});
  EXPECT_EQ(request.top_k, INT64_MAX);
  // No items: an empty batch, no groups — with a context too (its values are still checked).
  request = Rank({{"items", json::array()}});
  EXPECT_EQ(request.batch.size, 0);
  EXPECT_TRUE(request.batch.group_starts.empty());
  request = Rank({{"context", Row(0, kUserColumns)}, {"items", json::array()}});
  EXPECT_EQ(request.batch.size, 0);
  EXPECT_TRUE(request.batch.multi_ids[0].empty());
  EXPECT_EQ(request.batch.multi_offsets[0], std::vector<int64_t>{0});
  json bad_context = Row(0, kUserColumns);
  bad_context["age"] = "old";
  EXPECT_THROW(Rank({{"context", bad_context}, {"items", json::array()}}), RequestError);
}

TEST_F(RequestTest, BadRequestsNameTheField) {
  const std::string user = R"("user": "u1", "city": "paris", "tags": "a", "age": 30)";
  const std::string item = R"("item": "i1", "seller": "i2", "price": 10)";
  auto rank = [&](const std::string& context, const std::string& items, const std::string& more = "") {
    return "{\"context\": {" + context + "}, \"items\": [" + items + "]" + more + "}";
  };
  struct Case {
    std::string body;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", 400, "empty body"},
      {"{\"items\": [", 400, "malformed JSON"},
      {"[1, 2]", 400, "request body: expected an object, found array"},
      {R"({"items": [], "top_k": 1e309})", 400, "malformed JSON: number overflow"},
      {"{\"itemz\": []}", 400, "unknown key 'itemz' (did you mean 'items'?)"},
      {"{\"context\": {}}", 400, "missing 'items'"},
      {"{\"items\": {}}", 400, "items: expected an array, found object"},
      {"{\"items\": [1]}", 400, "items[0]: expected an object, found number"},
      {rank(user, "{" + item + "}, {\"item\": \"i1\", \"seller\": \"i2\"}"), 400,
       "items[1]: missing input 'price' (null gives a missing value)"},
      {rank(user, "{" + item + ", \"pricee\": 3}"), 400, "items[0]: unknown input 'pricee' (did you mean 'price'?)"},
      {rank(user, "{" + item + ", \"user\": \"u2\"}"), 400, "items[0]: 'user' is also in the context"},
      {rank(user, "{\"item\": 1.5, \"seller\": \"i2\", \"price\": 10}"), 400,
       "items[0].item: expected a string or an integer, found number"},
      {rank(user, "{\"item\": true, \"seller\": \"i2\", \"price\": 10}"), 400,
       "items[0].item: expected a string or an integer, found boolean"},
      {rank(user, "{\"item\": \"i1\", \"seller\": \"i2\", \"price\": \"10\"}"), 400,
       "items[0].price: expected a number or null, found string"},
      {rank(user, "{\"item\": \"i1\", \"seller\": \"i2\", \"price\": 1e300}"), 400,
       "items[0].price: 1e+300 is out of range"},
      {rank(user, "{\"item\": \"i1\", \"seller\": \"i2\", \"price\": -5}"), 400, "items[0].price: "},
      {rank(R"("user": "u1", "city": "paris", "tags": {"a": 1}, "age": 30)", "{" + item + "}"), 400,
       "context.tags: expected an array of strings or integers, a string or null, found object"},
      {rank(R"("user": "u1", "city": "paris", "tags": ["a", null], "age": 30)", "{" + item + "}"), 400,
       "context.tags[1]: expected a string or an integer, found null"},
      {rank(user, "{" + item + "}", R"(, "blend": {"clik": 1})"), 400,
       "blend: blend names no task 'clik' (did you mean 'click'?); the model's tasks are 'click', 'purchase', 'gmv'"},
      {rank(user, "{" + item + "}", R"(, "blend": {"click": "1"})"), 400,
       "blend.click: expected a number, found string"},
      {rank(user, "{" + item + "}", R"(, "blend": {})"), 400, "blend: no task weights"},
      {rank(user, "{" + item + "}", R"(, "top_k": -1)"), 400, "top_k: expected an integer >= 0, found -1"},
      {"{\"items\": [[[[[[[[[[1]]]]]]]]]]}", 400, "JSON nested deeper than 8 levels"},
      // nlohmann reads an integer beyond 64 bits as a double; simdjson refuses it, and the message says why.
      {rank(user, "{\"item\": \"i1\", \"seller\": \"i2\", \"price\": 123456789012345678901234567890}"), 400,
       "malformed JSON: an integer beyond 64 bits; write such a number with a decimal point or an exponent"},
      {"{\"items\": [], \"top_k\": tru}", 400, "malformed JSON: parse error at line 1, column 27: syntax error"},
  };
  for (const Case& c : cases) {
    const auto [status, message] = Refusal(c.body);
    EXPECT_EQ(status, c.status) << c.body << " -> " << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << c.body << "\n  got: " << message;
  }
  // Predict has no context; and every body is limited in size.
  EXPECT_NE(Refusal(R"({"rows": [{}], "context": {}})", false).second.find("unknown key 'context'"), std::string::npos);
  limits_.max_items = 2;
  const auto [status, message] = Refusal(rank(user, "{" + item + "},{" + item + "},{" + item + "}"));
  EXPECT_EQ(status, 413);
  EXPECT_NE(message.find("items: 3 entries, more than the limit of 2"), std::string::npos) << message;
  // A key of a megabyte is cut in the message.
  const std::string huge(1 << 20, 'k');
  const std::string cut = Refusal("{\"" + huge + "\": 1}").second;
  EXPECT_LT(cut.size(), 300u);
  EXPECT_NE(cut.find("(1048576 bytes)"), std::string::npos);
}

TEST_F(RequestTest, KeysGivenTwiceAreRefusedByTheirPlace) {
  const std::string user = R"("user": "u1", "city": "paris", "tags": "a", "age": 30)";
  const std::string item = R"("item": "i1", "seller": "i2", "price": 10)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"items": [], "items": []})", "request body: duplicate key 'items'; give each key once"},
      {"{\"context\": {" + user + ", \"city\": \"rome\"}, \"items\": []}", "context: duplicate key 'city'"},
      {"{\"context\": {" + user + "}, \"items\": [{" + item + "}, {" + item + ", \"price\": 3}]}",
       "items[1]: duplicate key 'price'"},
      {"{\"context\": {" + user + "}, \"items\": [{" + item + "}], \"blend\": {\"click\": 1, \"click\": 2}}",
       "blend: duplicate key 'click'"},
  };
  for (const auto& [body, message] : cases) {
    const auto [status, got] = Refusal(body);
    EXPECT_EQ(status, 400) << body;
    EXPECT_NE(got.find(message), std::string::npos) << body << "\n  got: " << got;
  }
  // Objects of many keys are checked by sorting them; the key reported is the first one to come again in the text,
  // wherever the object sits; the empty key counts as any other.
  std::string many_keys;
  for (int k = 0; k < 40; ++k) many_keys += fmt::format("\"k{}\": 1, ", k);
  EXPECT_EQ(Refusal("{\"items\": [], \"top_k\": [{" + many_keys + "\"k30\": 2, \"k7\": 3}]}").second,
            "top_k[0]: duplicate key 'k30'; give each key once");
  EXPECT_EQ(Refusal("{\"items\": [], \"top_k\": [1, {\"a\": {\"\": 1, \"b\": 1, \"\": 2}}]}").second,
            "top_k[1].a: duplicate key ''; give each key once");
  // A long key is cut in the path and in the message.
  const std::string long_key(100000, 'q');
  const std::string got = Refusal("{\"" + long_key + "\": {\"a\": 1, \"a\": 2}}").second;
  EXPECT_NE(got.find("…' (100000 bytes): duplicate key 'a'"), std::string::npos) << got.substr(0, 300);
  EXPECT_LT(got.size(), 300u);
}

TEST_F(RequestTest, ParsingIsLinearAndEchoesAreCut) {
  // 200000 empty objects: refused by the item limit after one pass (the nesting check once scanned the parent
  // array again at the end of every object: seconds of CPU). Generous bound: it only shows nothing quadratic.
  std::string many = "{\"items\":[{}";
  for (int i = 1; i < 200000; ++i) many += ",{}";
  many += "]}";
  const auto start = std::chrono::steady_clock::now();
  const auto [status, message] = Refusal(many);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status, 413);
  EXPECT_EQ(message, "items: 200000 entries, more than the limit of 1000");
  EXPECT_LT(seconds, 2.0);
  // Nesting: 8 levels pass, 9 do not, whatever is inside.
  EXPECT_EQ(Refusal(R"({"items": [], "top_k": [[[[[[[]]]]]]]})").second.find("nested"), std::string::npos);
  EXPECT_EQ(Refusal(R"({"items": [], "top_k": [[[[[[[[]]]]]]]]})").second, "JSON nested deeper than 8 levels");
  // A string without its closing quote: nlohmann quotes what it read, cut here.
  const std::string open_string = "{\"items\": \"" + std::string(150000, 'x');
  const std::string cut = Refusal(open_string).second;
  EXPECT_NE(cut.find("malformed JSON: "), std::string::npos) << cut.substr(0, 300);
  EXPECT_NE(cut.find("…' (150001 bytes)"), std::string::npos) << cut.substr(0, 300);
  EXPECT_LT(cut.size(), 400u);
  // Long values echoed by the blend and top_k checks are cut too.
  const std::string long_task(5000, 't');
  EXPECT_LT(Refusal("{\"items\": [], \"blend\": {\"" + long_task + "\": 1}}").second.size(), 300u);
  EXPECT_LT(Refusal("{\"items\": [], \"blend\": {\"" + long_task + "\": \"1\"}}").second.size(), 300u);
  EXPECT_LT(Refusal("{\"items\": [], \"top_k\": \"" + long_task + "\"}").second.size(), 300u);
}

// A UTF-8 byte order mark before the JSON is skipped, as before simdjson; a body over a megabyte (its own parser)
// reads as any other.
TEST_F(RequestTest, AByteOrderMarkAndLargeBodiesReadAsAnyOther) {
  const json value = {{"context", Row(0, kUserColumns)}, {"items", {Row(1, kItemColumns)}}};
  const std::string body = value.dump();
  EXPECT_EQ(Refusal("\xEF\xBB\xBF" + body).first, 0) << Refusal("\xEF\xBB\xBF" + body).second;
  EXPECT_EQ(Refusal("\xEF\xBB\xBF").second, "empty body; expected a JSON object");
  std::string large = body;
  large.insert(1, std::string(1 << 21, ' '));  // blanks after the opening brace
  EXPECT_EQ(Refusal(large).first, 0) << Refusal(large).second;
}

TEST_F(RequestTest, TheDeadlineCoversParsing) {
  limits_.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  std::string many = "{\"items\":[0";
  for (int i = 1; i < 10000; ++i) many += ",0";
  many += "]}";
  const auto [status, message] = Refusal(many);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(message, "the request was not parsed within the server's time limit; retry or send a smaller body");
}

TEST_F(RequestTest, EveryUnknownInputIsNamedAtOnce) {
  // Misspelt in the context, in every item, and one only in the second item: one refusal names all three, where
  // they are and what they may mean, instead of a "missing input" for the key the misspelling stands for.
  const std::string body =
      R"({"context": {"usr": "u1", "city": "paris", "tags": "a", "age": 30},
          "items": [{"item": "i1", "seller": "i2", "prise": 10},
                    {"item": "i1", "seller": "i2", "prise": 10, "colour": "red"},
                    {"item": "i1", "seller": "i2", "prise": 10}]})";
  const auto [status, message] = Refusal(body);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(message,
            "unknown inputs 'usr' (context; did you mean 'user'?), 'prise' (items[0] and 2 more; did you mean "
            "'price'?), 'colour' (items[1]); the model reads 'age', 'city', 'item', 'price', 'seller', 'tags', 'user'");
  // In /v1/predict too; one unknown key in one place keeps the short form.
  const auto predict = Refusal(R"({"rows": [{"user": "u1", "city": "paris", "tags": "a", "age": 30,
                                             "item": "i1", "seller": "i2", "prise": 10}]})",
                               false);
  EXPECT_EQ(predict.first, 400);
  EXPECT_NE(predict.second.find("rows[0]: unknown input 'prise' (did you mean 'price'?); the model reads"),
            std::string::npos)
      << predict.second;
}

// The server's path for one request on its thread: the body parsed and encoded into a kept EncodedRequest, the
// batch lent to the scorer and the scores taken into a kept vector. Once warm, none of it allocates on the
// requesting thread, and the answers are the model's.
TEST_F(RequestTest, AWarmThreadParsesAndScoresWithoutAllocating) {
  auto serving = Serving(/*replica_seed=*/3);  // a second copy with the same weights, for two scorers
  const std::string rank = json{{"context", Row(0, kUserColumns)},
                                {"items", {Row(0, kItemColumns), Row(3, kItemColumns), Row(5, kItemColumns)}}}
                               .dump();
  json rows = json::array();
  for (int64_t r = 0; r < 4; ++r) {
    json row = Row(r, kUserColumns);
    row.update(Row(r, kItemColumns));
    rows.push_back(row);
  }
  const std::string predict = json{{"rows", rows}}.dump();
  const std::vector<float> rank_expected = Answers(*serving->loaded.model, Rank(json::parse(rank)).batch);
  const std::vector<float> predict_expected = Answers(*serving->loaded.model, Predict(json::parse(predict)).batch);
  // One scorer, and two that split every request in parts of at least 1 row.
  for (const int scorers : {1, 2}) {
    Scorer scorer(64, scorers, 0, /*min_part_rows=*/1);
    EncodedRequest request;
    std::vector<float> scores;
    const auto deadline = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(30); };
    auto serve = [&](const std::string& body, ParseInto parse) {
      parse(body, *schema_, limits_, &request);
      scorer.Score(serving, &request.batch, deadline(), &scores);
    };
    for (int warm = 0; warm < 3; ++warm) {
      serve(rank, ParseRankRequest);
      serve(predict, ParsePredictRequest);
    }
    const int64_t before = AllocationsOnThisThread();
    for (int round = 0; round < 10; ++round) {
      serve(rank, ParseRankRequest);
      ASSERT_EQ(scores.size(), rank_expected.size());
      for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(scores[i], rank_expected[i], 1e-6) << i;
      serve(predict, ParsePredictRequest);
      ASSERT_EQ(scores.size(), predict_expected.size());
      for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(scores[i], predict_expected[i], 1e-6) << i;
    }
    EXPECT_EQ(AllocationsOnThisThread() - before, 0) << scorers << " scorers";
    EXPECT_EQ(request.batch.size, 4);  // the batch lent to the scorer came back
  }
}

TEST_F(RequestTest, ScorerAnswersConcurrentRequestsWithTheirOwnRows) {
  auto serving = Serving();
  std::vector<EncodedRequest> requests;
  for (int64_t r = 0; r < table_->rows(); ++r) {
    requests.push_back(
        Rank({{"context", Row(r, kUserColumns)}, {"items", {Row(r, kItemColumns), Row(6 - r, kItemColumns)}}}));
  }
  // Expected: each alone, through the same model.
  std::vector<std::vector<float>> expected;
  for (const auto& request : requests) expected.push_back(Answers(*serving->loaded.model, request.batch));
  Scorer scorer(64);
  std::vector<std::vector<float>> got(requests.size());
  std::vector<std::thread> threads;
  for (int round = 0; round < 20; ++round) {
    threads.clear();
    for (size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] {
        got[i] = scorer.Score(serving, requests[i].batch, std::chrono::steady_clock::now() + std::chrono::seconds(30));
      });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < requests.size(); ++i) {
      ASSERT_EQ(got[i].size(), expected[i].size());
      for (size_t j = 0; j < got[i].size(); ++j) EXPECT_NEAR(got[i][j], expected[i][j], 1e-6) << i << " " << j;
    }
  }
  const ScorerStats stats = scorer.stats();
  EXPECT_EQ(stats.requests, 20 * 7);
  EXPECT_EQ(stats.rows, 20 * 14);
  EXPECT_LE(stats.batches, stats.requests);
  // A deadline already past: 503, never a score.
  try {
    scorer.Score(serving, requests[0].batch, std::chrono::steady_clock::now() - std::chrono::seconds(1));
    ADD_FAILURE() << "expected a time-out";
  } catch (const RequestError& error) {
    EXPECT_EQ(error.status(), 503);
  }
}

// Two scorers side by side, each on its own copy of the model. The copies here differ (another seed), so that every
// answer shows which copy scored it: each request gets its own rows as one copy scores them, and both copies serve.
TEST_F(RequestTest, ScorersSideBySideEachScoreWithTheirOwnCopy) {
  auto serving = Serving(/*replica_seed=*/4);
  ASSERT_EQ(serving->Copies(), 2u);
  std::vector<EncodedRequest> requests;
  for (int64_t r = 0; r < table_->rows(); ++r) {
    requests.push_back(
        Rank({{"context", Row(r, kUserColumns)}, {"items", {Row(r, kItemColumns), Row(6 - r, kItemColumns)}}}));
  }
  // What each copy answers for each request alone.
  std::vector<std::vector<float>> expected[2];
  for (size_t copy = 0; copy < 2; ++copy) {
    for (const auto& request : requests) expected[copy].push_back(Answers(serving->ForScorer(copy), request.batch));
  }
  auto matches = [](const std::vector<float>& got, const std::vector<float>& want) {
    if (got.size() != want.size()) return false;
    for (size_t j = 0; j < got.size(); ++j) {
      if (std::abs(got[j] - want[j]) > 1e-6) return false;
    }
    return true;
  };
  for (size_t i = 0; i < requests.size(); ++i) ASSERT_FALSE(matches(expected[0][i], expected[1][i])) << i;

  Scorer scorer(64, /*scorers=*/2, /*threads=*/2);
  int by_copy[2] = {0, 0};
  std::vector<std::vector<float>> got(requests.size());
  for (int round = 0; round < 50; ++round) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] {
        got[i] = scorer.Score(serving, requests[i].batch, std::chrono::steady_clock::now() + std::chrono::seconds(30));
      });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < requests.size(); ++i) {
      const bool first = matches(got[i], expected[0][i]);
      const bool second = matches(got[i], expected[1][i]);
      ASSERT_TRUE(first || second) << "request " << i << " of round " << round << " has rows neither copy gives";
      ++by_copy[first ? 0 : 1];
    }
  }
  EXPECT_GT(by_copy[0], 0);
  EXPECT_GT(by_copy[1], 0);
  EXPECT_EQ(scorer.stats().requests, 50 * 7);
}

// A request that comes alone while the other scorer is idle is scored in two parts side by side, one on each copy,
// and answers as if scored whole; a request too small for two parts is scored whole.
TEST_F(RequestTest, ALoneRequestIsSplitAcrossIdleScorers) {
  auto serving = Serving(/*replica_seed=*/3);  // the same weights: a split answer must equal the whole one
  const EncodedRequest request = Rank({{"context", Row(2, kUserColumns)},
                                       {"items", {Row(6, kItemColumns), Row(2, kItemColumns), Row(1, kItemColumns)}}});
  const EncodedRequest single = Rank({{"context", Row(4, kUserColumns)}, {"items", {Row(0, kItemColumns)}}});
  // Another shape in between, so that a part kept from one split and taken again for the next holds other rows.
  const EncodedRequest longer = Rank({{"context", Row(5, kUserColumns)},
                                      {"items",
                                       {Row(3, kItemColumns), Row(0, kItemColumns), Row(4, kItemColumns),
                                        Row(6, kItemColumns), Row(1, kItemColumns)}}});
  const std::vector<float> expected = Answers(*serving->loaded.model, request.batch);
  const std::vector<float> longer_expected = Answers(*serving->loaded.model, longer.batch);
  const auto deadline = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(30); };

  Scorer scorer(64, /*scorers=*/2, /*threads=*/2, /*min_part_rows=*/1);
  scorer.Score(serving, single.batch, deadline());  // both scorers are waiting once this is answered
  for (int i = 0; i < 10; ++i) {
    const bool is_longer = i % 3 == 2;
    const std::vector<float> got = scorer.Score(serving, (is_longer ? longer : request).batch, deadline());
    const std::vector<float>& want = is_longer ? longer_expected : expected;
    ASSERT_EQ(got.size(), want.size());
    for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-5) << i << " " << j;
  }
  const std::vector<float> alone = scorer.Score(serving, single.batch, deadline());
  const std::vector<float> alone_expected = Answers(*serving->loaded.model, single.batch);
  ASSERT_EQ(alone.size(), alone_expected.size());
  for (size_t j = 0; j < alone.size(); ++j) EXPECT_NEAR(alone[j], alone_expected[j], 1e-5) << j;
  const ScorerStats stats = scorer.stats();
  EXPECT_EQ(stats.requests, 12);
  EXPECT_EQ(stats.split_requests, 10);
  EXPECT_EQ(stats.batches, 1 + 10 * 2 + 1);  // two parts each: rows 0 and 1-2 (0-1 and 2-4 of the longer)
  EXPECT_EQ(stats.rows, 1 + 7 * 3 + 3 * 5 + 1);
  // Parts are kept and taken again: the two made for the first split serve every later one (both are back, each
  // put back by its scorer in the same hold of the lock as its Finish, before the requester can ask again).
  EXPECT_EQ(stats.parts_made, 2);

  // Parts of at least 2 rows: 3 rows make one part.
  Scorer whole_only(64, /*scorers=*/2, /*threads=*/2, /*min_part_rows=*/2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(whole_only.Score(serving, request.batch, deadline()).size(), expected.size());
  EXPECT_EQ(whole_only.stats().split_requests, 0);
  EXPECT_EQ(whole_only.stats().batches, 3);
}

}  // namespace
}  // namespace mtrec
