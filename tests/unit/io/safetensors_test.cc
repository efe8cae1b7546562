#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/threads.h"
#include "io/model_file.h"
#include "models/weights.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

constexpr char kConfig[] = R"(
[data]
cache = false

[[features]]
name = "user"

[[features]]
name = "item"
embedding_dim = 3

[[features]]
name = "price"
kind = "numeric"

[[tasks]]
name = "click"

[[tasks]]
name = "gmv"
kind = "regression"

[model]
embedding_dim = 4
bottom = [8, 5]
tower = [4]
)";

constexpr char kData[] =
    "user,item,price,click,gmv\n"
    "u1,i1,10,1,2.5\n"
    "u2,i2,,0,0\n"
    "u1,i3,30,0,1\n"
    "u3,i1,20,1,4\n";

// A model with the layouts shared_bottom does not have (yet): a grouped linear weight, a bias per group, a
// parameter that is neither, and two sets of embedding tables. Its body is never run.
class LayoutModel : public Model {
 public:
  static constexpr int64_t kGroups = 3;
  static constexpr int64_t kIn = 4;
  static constexpr int64_t kOut = 2;

  LayoutModel(const Config& config, const InputLayout& layout)
      : Model(config, layout, /*max_batch=*/4, {"embeddings", "task_embeddings"}) {
    arena_.ReserveLinearWeight("experts.0.weight", kGroups * kIn, kOut, Init::kHeUniform, kGroups);
    arena_.Reserve("experts.0.bias", kGroups, kOut, Init::kHeUniform, /*decay=*/false);
    arena_.Reserve("stitch.0", kGroups, kGroups, Init::kStitch, /*decay=*/true);
    arena_.Reserve("gate.scale", 1, kOut, Init::kHeUniform, /*decay=*/true);
  }

 protected:
  void BodyForward(const Tensor&, const Tensor&, Mode) override {}
  void BodyBackward(const Tensor&, const Tensor&, const Tensor&) override {}
};

class SafetensorsTest : public testing::Test {
 protected:
  void SetUp() override {
    SetThreads(1);
    dir_ = TestDir("safetensors_test");
    config_ = ParseConfig(kConfig, "safetensors.toml");
    const std::string path = WriteFile(dir_, "train.csv", kData);
    ColumnTable table = LoadTable(path, config_.data, FeaturePipeline::Requests(config_, true));
    pipeline_ = std::make_unique<FeaturePipeline>(FeaturePipeline::Fit(config_, table));
    model_ = CreateModel(config_, pipeline_->layout(), 16);
    model_->Initialize(11);
  }
  void TearDown() override {
    SetThreads(0);
    fs::remove_all(dir_);
  }
  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  Config config_;
  std::unique_ptr<FeaturePipeline> pipeline_;
  std::unique_ptr<Model> model_;
};

std::map<std::string, const NamedTensor*> ByName(const std::vector<NamedTensor>& tensors) {
  std::map<std::string, const NamedTensor*> by_name;
  for (const auto& t : tensors) EXPECT_TRUE(by_name.emplace(t.name, &t).second) << t.name << " appears twice";
  return by_name;
}

// Every weight of `model` appears once in `tensors`, in the layout docs/model_format.md gives, with its values.
void ExpectPyTorchLayout(const Model& model, const std::vector<NamedTensor>& tensors) {
  const std::vector<WeightView> weights = ListWeights(model);
  ASSERT_EQ(tensors.size(), weights.size());
  ASSERT_EQ(weights.size(), model.arena().Infos().size() + model.input().tables().size());
  std::map<std::string, const NamedTensor*> by_name = ByName(tensors);
  for (const WeightView& w : weights) {
    SCOPED_TRACE(std::string(w.name));
    auto found = by_name.find(std::string(w.name));
    ASSERT_NE(found, by_name.end());
    const NamedTensor& t = *found->second;
    ASSERT_EQ(t.data.size(), static_cast<size_t>(w.rows * w.cols));
    if (w.info != nullptr && w.info->linear_weight) {
      const int64_t groups = w.info->groups;
      const int64_t in = w.rows / groups;
      const int64_t out = w.cols;
      EXPECT_EQ(t.shape, groups == 1 ? std::vector<int64_t>({out, in}) : std::vector<int64_t>({groups, out, in}));
      for (int64_t g = 0; g < groups; ++g) {
        for (int64_t o = 0; o < out; ++o) {
          for (int64_t i = 0; i < in; ++i) {
            ASSERT_EQ(t.data[(g * out + o) * in + i], w.data[(g * in + i) * out + o]) << g << " " << o << " " << i;
          }
        }
      }
      continue;
    }
    if (w.info != nullptr && w.name.ends_with(".bias") && w.rows == 1) {
      EXPECT_EQ(t.shape, std::vector<int64_t>({w.cols}));
    } else {
      EXPECT_EQ(t.shape, std::vector<int64_t>({w.rows, w.cols}));
    }
    EXPECT_EQ(std::memcmp(t.data.data(), w.data, t.data.size() * sizeof(float)), 0);
  }
}

TEST_F(SafetensorsTest, ExportHoldsEveryWeightOnceInPyTorchLayout) {
  const std::string path = PathOf("model.safetensors");
  ExportSafetensors(path, config_, *pipeline_, *model_);
  SafetensorsMetadata metadata;
  std::vector<NamedTensor> tensors = ReadSafetensors(path, &metadata);
  ExpectPyTorchLayout(*model_, tensors);

  // The names and shapes docs/model_format.md promises for shared_bottom, in arena order, tables last. Input width:
  // user 4 + item 3 + price and its missing flag.
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"bottom.0.weight", {8, 9}},       {"bottom.0.bias", {8}},
      {"bottom.1.weight", {5, 8}},       {"bottom.1.bias", {5}},
      {"towers.click.0.weight", {4, 5}}, {"towers.click.0.bias", {4}},
      {"towers.click.1.weight", {1, 4}}, {"towers.click.1.bias", {1}},
      {"towers.gmv.0.weight", {4, 5}},   {"towers.gmv.0.bias", {4}},
      {"towers.gmv.1.weight", {1, 4}},   {"towers.gmv.1.bias", {1}},
      {"embeddings.user", {4, 4}},       {"embeddings.item", {4, 3}},  // 3 values + the OOV row
  };
  ASSERT_EQ(tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(tensors[i].name, expected[i].first);
    EXPECT_EQ(tensors[i].shape, expected[i].second) << expected[i].first;
  }

  EXPECT_EQ(metadata.at("format"), "pt");
  EXPECT_EQ(metadata.at("mtrec_version"), MTREC_VERSION);
  EXPECT_EQ(metadata.at("model_format_version"), std::to_string(kModelFormatVersion));
  EXPECT_EQ(metadata.at("arch"), "shared_bottom");
  EXPECT_EQ(metadata.at("tasks"), "click,gmv");
  EXPECT_EQ(metadata.at("config"), ConfigToToml(config_));
  EXPECT_EQ(metadata.at("features"), FeaturesJson(*pipeline_));
  EXPECT_EQ(metadata.size(), 7u);
  // The stored config describes the model: it parses back to the same resolved config.
  EXPECT_EQ(ConfigToToml(ParseConfig(metadata.at("config"), "metadata")), ConfigToToml(config_));
}

// The features entry of the small config, field by field (docs/model_format.md, "The features entry"): values in
// id order (u1 twice, then by value), price standardised over its three present values and flagged as missing once.
TEST_F(SafetensorsTest, FeaturesEntryHoldsTheFittedTransforms) {
  using Json = nlohmann::json;
  const Json f = Json::parse(FeaturesJson(*pipeline_));
  EXPECT_EQ(f.at("version"), 1);
  EXPECT_EQ(f.at("na_values"), Json(config_.data.na_values));
  EXPECT_EQ(f.at("trim"), true);
  EXPECT_EQ(f.at("single_slots"), 2);
  EXPECT_EQ(f.at("multi_slots"), 0);
  EXPECT_EQ(f.at("numeric_columns"), Json({"price", "price.missing"}));
  const Json& features = f.at("features");
  ASSERT_EQ(features.size(), 3u);
  const Json& user = features[0];
  EXPECT_EQ(user.at("name"), "user");
  EXPECT_EQ(user.at("column"), "user");
  EXPECT_EQ(user.at("kind"), "categorical");
  EXPECT_EQ(user.at("input"), Json({{"block", "single"}, {"index", 0}}));
  EXPECT_EQ(user.at("table"), "user");
  EXPECT_EQ(user.at("share_with"), nullptr);
  EXPECT_EQ(user.at("vocabulary"), Json({"u1", "u2", "u3"}));
  EXPECT_FALSE(user.contains("hash_buckets"));
  EXPECT_EQ(features[1].at("input"), Json({{"block", "single"}, {"index", 1}}));
  EXPECT_EQ(features[1].at("vocabulary"), Json({"i1", "i2", "i3"}));
  const Json& price = features[2];
  EXPECT_EQ(price.at("kind"), "numeric");
  EXPECT_EQ(price.at("input"), Json({{"block", "numeric"}, {"index", 0}}));
  EXPECT_EQ(price.at("table"), nullptr);
  EXPECT_EQ(price.at("fill"), 0.0);
  EXPECT_EQ(price.at("clip"), nullptr);
  EXPECT_EQ(price.at("log1p"), false);
  EXPECT_EQ(price.at("standardize"), true);
  EXPECT_DOUBLE_EQ(price.at("mean").get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(price.at("std").get<double>(), std::sqrt(200.0 / 3.0));
  EXPECT_EQ(price.at("missing_flag"), true);
  EXPECT_EQ(price.at("bucketised"), false);
  EXPECT_EQ(price.at("bounds"), Json::array());
  // Exactly the transform's parameters: mean and std round-trip through the JSON text.
  EXPECT_EQ(price.at("mean").get<double>(), pipeline_->numeric(2).mean());
  EXPECT_EQ(price.at("std").get<double>(), pipeline_->numeric(2).std());
}

TEST_F(SafetensorsTest, GroupedWeightsBiasesAndOtherParametersFollowTheirLayouts) {
  std::unique_ptr<LayoutModel> built = Model::Build<LayoutModel>(config_, pipeline_->layout());
  LayoutModel& model = *built;
  model.Initialize(5);
  std::vector<NamedTensor> tensors = PyTorchTensors(model);
  ExpectPyTorchLayout(model, tensors);
  std::map<std::string, const NamedTensor*> by_name = ByName(tensors);
  using M = LayoutModel;
  EXPECT_EQ(by_name.at("experts.0.weight")->shape, std::vector<int64_t>({M::kGroups, M::kOut, M::kIn}));
  EXPECT_EQ(by_name.at("experts.0.bias")->shape, std::vector<int64_t>({M::kGroups, M::kOut}));
  EXPECT_EQ(by_name.at("stitch.0")->shape, std::vector<int64_t>({M::kGroups, M::kGroups}));
  EXPECT_EQ(by_name.at("gate.scale")->shape, std::vector<int64_t>({1, M::kOut}));
  EXPECT_EQ(by_name.at("embeddings.user")->shape, std::vector<int64_t>({4, 4}));
  EXPECT_EQ(by_name.at("task_embeddings.item")->shape, std::vector<int64_t>({4, 3}));
  // One element by hand: group 1, output 0, input 3 is stored at row 1·in + 3, column 0.
  const ParameterInfo& info = model.arena().Info(0);
  EXPECT_EQ(by_name.at("experts.0.weight")->data[(1 * M::kOut + 0) * M::kIn + 3],
            model.arena().values()[info.offset + (1 * M::kIn + 3) * M::kOut + 0]);

  // Through a file, the same tensors.
  const std::string path = PathOf("layout.safetensors");
  ExportSafetensors(path, config_, *pipeline_, model);
  std::vector<NamedTensor> back = ReadSafetensors(path);
  ASSERT_EQ(back.size(), tensors.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].name, tensors[i].name);
    EXPECT_EQ(back[i].shape, tensors[i].shape);
    EXPECT_EQ(back[i].data, tensors[i].data);
  }
}

TEST_F(SafetensorsTest, FileFollowsTheFormatAndIsDeterministic) {
  const std::string a = PathOf("a.safetensors");
  const std::string b = PathOf("b.safetensors");
  ExportSafetensors(a, config_, *pipeline_, *model_);
  auto copy = CreateModel(config_, pipeline_->layout(), 64);  // another batch size: no effect on the weights
  LoadWeights(*copy, SerializeWeights(*model_));
  ExportSafetensors(b, config_, *pipeline_, *copy);
  const std::string bytes = ReadFileBytes(a);
  EXPECT_TRUE(bytes == ReadFileBytes(b));

  uint64_t header_bytes = 0;
  ASSERT_GT(bytes.size(), 8u);
  std::memcpy(&header_bytes, bytes.data(), 8);
  EXPECT_EQ((8 + header_bytes) % 8, 0u);  // data 8-byte aligned
  const std::string header_text = bytes.substr(8, header_bytes);
  EXPECT_EQ(header_text.front(), '{');
  const nlohmann::ordered_json header = nlohmann::ordered_json::parse(header_text);
  auto item = header.items().begin();
  EXPECT_EQ(item.key(), "__metadata__");
  uint64_t offset = 0;
  size_t index = 0;
  const std::vector<WeightView> weights = ListWeights(*model_);
  for (++item; item != header.items().end(); ++item, ++index) {
    ASSERT_LT(index, weights.size());
    EXPECT_EQ(item.key(), weights[index].name);  // the model's order
    EXPECT_EQ(item.value()["dtype"], "F32");
    EXPECT_EQ(item.value()["data_offsets"][0].get<uint64_t>(), offset);
    offset = item.value()["data_offsets"][1].get<uint64_t>();
  }
  EXPECT_EQ(index, weights.size());
  EXPECT_EQ(8 + header_bytes + offset, bytes.size());
}

TEST(SafetensorsWriterTest, EmptyTensorsAndNoMetadataRoundTrip) {
  const std::vector<float> values = {1.f, -2.f, 3.5f};
  std::vector<TensorRef> refs = {{"empty", {0, 4}, nullptr}, {"v", {3}, values.data()}, {"scalar", {}, values.data()}};
  const std::string bytes = SerializeSafetensors(refs, {});
  EXPECT_EQ(bytes.find("__metadata__"), std::string::npos);
  SafetensorsMetadata metadata = {{"stale", "x"}};
  std::vector<NamedTensor> back = ParseSafetensors(bytes, "mem", &metadata);
  EXPECT_TRUE(metadata.empty());
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].name, "empty");
  EXPECT_EQ(back[0].shape, std::vector<int64_t>({0, 4}));
  EXPECT_TRUE(back[0].data.empty());
  EXPECT_EQ(back[1].data, values);
  EXPECT_EQ(back[2].shape, std::vector<int64_t>{});
  EXPECT_EQ(back[2].data, std::vector<float>({1.f}));
}

TEST(SafetensorsWriterTest, RefusesDuplicateAndReservedNames) {
  const float value = 1.f;
  std::vector<TensorRef> twice = {{"a", {1}, &value}, {"a", {1}, &value}};
  std::string error = ErrorOf([&] { SerializeSafetensors(twice, {}); });
  EXPECT_NE(error.find("tensor 'a' is written twice"), std::string::npos) << error;
  std::vector<TensorRef> reserved = {{"__metadata__", {1}, &value}};
  error = ErrorOf([&] { SerializeSafetensors(reserved, {}); });
  EXPECT_NE(error.find("cannot write a tensor named '__metadata__'"), std::string::npos) << error;
  std::vector<TensorRef> negative = {{"n", {2, -1}, &value}};
  error = ErrorOf([&] { SerializeSafetensors(negative, {}); });
  EXPECT_NE(error.find("tensor 'n' has shape [2, -1]"), std::string::npos) << error;
}

// A file from a header text and data, the header padded to 8 bytes like a real writer's.
std::string Assemble(std::string header, std::string_view data, bool pad = true) {
  while (pad && header.size() % 8 != 0) header.push_back(' ');
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  return bytes + header + std::string(data);
}

class SafetensorsReaderTest : public testing::Test {
 protected:
  // The message of reading `bytes` from a file, with the path checked in it.
  std::string ReadError(const std::string& bytes) {
    const std::string path = WriteFile(TestDir("safetensors_reader_test"), "bad.safetensors", bytes);
    std::string error = ErrorOf([&] { ReadSafetensors(path); });
    EXPECT_NE(error.find(path), std::string::npos) << "the message names the file: " << error;
    return error;
  }
  void TearDown() override { fs::remove_all(TestDir("safetensors_reader_test")); }

  const std::string data_ = std::string(16, '\x01');  // 4 floats
};

TEST_F(SafetensorsReaderTest, AcceptsAHandWrittenFile) {
  const std::string bytes = Assemble(
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
      R"("__metadata__":{"k":"v"}})",
      data_, /*pad=*/false);
  SafetensorsMetadata metadata;
  std::vector<NamedTensor> tensors = ParseSafetensors(bytes, "hand.safetensors", &metadata);
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, "a");  // in the order of the data
  EXPECT_EQ(tensors[1].name, "b");
  EXPECT_EQ(metadata, SafetensorsMetadata({{"k", "v"}}));
}

TEST_F(SafetensorsReaderTest, RefusesTruncatedFiles) {
  const std::string good = Assemble(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", data_);
  std::string error = ReadError(good.substr(0, good.size() - 4));
  EXPECT_NE(error.find("is truncated: tensor 'w' ends at byte 16 of the data, which holds 12 bytes"), std::string::npos)
      << error;
  error = ReadError(good.substr(0, 5));
  EXPECT_NE(error.find("5 bytes, too short for the 8-byte header length"), std::string::npos) << error;
  error = ReadError("");
  EXPECT_NE(error.find("0 bytes, too short"), std::string::npos) << error;
}

TEST_F(SafetensorsReaderTest, RefusesAHeaderLengthBeyondTheFile) {
  std::string bytes = Assemble(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data_);
  const uint64_t huge = bytes.size();  // more than what follows the length
  std::memcpy(bytes.data(), &huge, 8);
  std::string error = ReadError(bytes);
  EXPECT_NE(error.find(fmt::format("its header length is {} bytes, but only {} bytes follow", huge, huge - 8)),
            std::string::npos)
      << error;
  const uint64_t absurd = ~uint64_t{0};
  std::memcpy(bytes.data(), &absurd, 8);
  error = ReadError(bytes);
  EXPECT_NE(error.find("is truncated or not a safetensors file"), std::string::npos) << error;
}

TEST_F(SafetensorsReaderTest, RefusesBadJson) {
  std::string error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", data_));
  EXPECT_NE(error.find("the safetensors header is not valid JSON"), std::string::npos) << error;
  error = ReadError(Assemble(R"([1, 2])", data_));
  EXPECT_NE(error.find("its header does not start with '{'"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                             R"("w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                             data_));
  EXPECT_NE(error.find("the header holds the key 'w' twice"), std::string::npos) << error;
  error =
      ReadError(Assemble(R"({"__metadata__":{"n":1},"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data_));
  EXPECT_NE(error.find("__metadata__ key 'n' is 1, expected a string"), std::string::npos) << error;
}

TEST_F(SafetensorsReaderTest, RefusesOverlapsGapsAndTrailingBytes) {
  std::string error = ReadError(Assemble(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                         data_));
  EXPECT_NE(error.find("tensors 'a' [0, 12) and 'b' [8, 16) overlap"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                             data_));
  EXPECT_NE(error.find("data bytes [4, 8) before tensor 'b' belong to no tensor"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})", data_));
  EXPECT_NE(error.find("data bytes [12, 16) after the last tensor belong to no tensor"), std::string::npos) << error;
}

TEST_F(SafetensorsReaderTest, RefusesOtherDtypesAndMismatchedShapes) {
  std::string error = ReadError(Assemble(R"({"half":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}})", data_));
  EXPECT_NE(error.find("tensor 'half' has dtype \"F16\"; mtrec reads only F32 tensors"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data_));
  EXPECT_NE(error.find("tensor 'w': data_offsets [0, 16] hold 16 bytes, but shape [3] of F32 needs 12"),
            std::string::npos)
      << error;
  error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data_));
  EXPECT_NE(error.find("tensor 'w': shape [-4] holds -4, expected non-negative integers"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})", data_));
  EXPECT_NE(error.find("tensor 'w': data_offsets [16, 0] end before they begin"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[4]}})", data_));
  EXPECT_NE(error.find("tensor 'w' has no 'data_offsets'"), std::string::npos) << error;
  error = ReadError(Assemble(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"extra":1}})", data_));
  EXPECT_NE(error.find("tensor 'w' has an unknown field 'extra'"), std::string::npos) << error;
  error = ReadError(
      Assemble(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})", data_));
  EXPECT_NE(error.find("tensor 'w': shape [4294967296, 4294967296, 4294967296] is too large"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace mtrec
