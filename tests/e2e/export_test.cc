// End-to-end: train a tiny model, export it as safetensors, read the export back and hold it against the model
// file (through LoadModel and `mtrec inspect`).
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "cli_runner.h"
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
  EXPECT_TRUE(ReadText(out) == ReadText(again));
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

}  // namespace
}  // namespace mtrec::e2e
