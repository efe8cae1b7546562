// Files that are not what they seem: a FIFO, a folder or a /proc file where a model or data file belongs, an output
// folder that cannot be written, a header line of megabytes, the leftovers of a save that was killed. Each must be
// refused (or handled) at once with a message that names the path, never hang or echo megabytes. Runs that could
// hang are killed after a generous time (exit code 137), which fails the test instead of stalling it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_runner.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

const char* kConfig = R"(
[data]
train = "train.csv"
cache = false

[[features]]
name = "city"

[[features]]
name = "price"
kind = "numeric"

[[tasks]]
name = "click"

[model]
bottom = [8]
tower = [4]

[train]
epochs = 2
batch_size = 4
threads = 1
)";

std::string Rows(int n) {
  std::string rows = "city,price,click\n";
  for (int i = 0; i < n; ++i)
    rows += (i % 3 ? "paris," : "lyon,") + std::to_string(10 + i) + "," + std::to_string(i % 2) + "\n";
  return rows;
}

class FilesTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(testing::UnitTest::GetInstance()->current_test_info()->name());
    WriteText(dir_ / "config.toml", kConfig);
    WriteText(dir_ / "train.csv", Rows(40));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  RunResult Train(const std::string& extra) {
    return RunMtrecWithin(120, "train --config " + Path("config.toml") + " " + extra);
  }
  fs::path dir_;
};

TEST_F(FilesTest, ModelPathsThatAreNotRegularFilesAreRefusedAtOnce) {
  ASSERT_EQ(::mkfifo(Path("model.fifo").c_str(), 0600), 0);
  fs::create_directories(dir_ / "model_folder");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Path("model.fifo"), "it is a FIFO (named pipe), not a regular file"},
      {Path("model_folder"), "it is a folder, not a regular file"},
      {"/dev/zero", "it is a character device, not a regular file"},
      {"/proc/self/status", "it holds more than the 0 bytes its size says"},
  };
  for (const auto& [model, why] : cases) {
    SCOPED_TRACE(model);
    RunResult inspect = RunMtrecWithin(30, "inspect " + model);
    EXPECT_EQ(inspect.exit_code, 1) << inspect.output;
    EXPECT_NE(inspect.output.find("cannot read '" + model + "': " + why), std::string::npos) << inspect.output;
    RunResult predict =
        RunMtrecWithin(30, "predict --model " + model + " --data " + Path("train.csv") + " --out " + Path("p.csv"));
    EXPECT_EQ(predict.exit_code, 1) << predict.output;
    EXPECT_NE(predict.output.find("cannot read '" + model + "': " + why), std::string::npos) << predict.output;
  }
}

TEST_F(FilesTest, DataFromAFifoIsReadAsAStreamAndADeviceIsRefused) {
  ASSERT_EQ(::mkfifo(Path("rows.fifo").c_str(), 0600), 0);
  // The writer runs beside mtrec, as `<(...)` would; `timeout` ends it if mtrec never reads.
  RunResult streamed = RunShell("(timeout 60 cp " + Path("train.csv") + " " + Path("rows.fifo") +
                                " &) ; timeout -s KILL 120 " + std::string(MTREC_BINARY) + " train --config " +
                                Path("config.toml") + " --out " + Path("m.mtrec") + " data.train=" + Path("rows.fifo"));
  EXPECT_EQ(streamed.exit_code, 0) << streamed.output;
  EXPECT_NE(streamed.output.find("is a FIFO: reading it as a stream to its end"), std::string::npos) << streamed.output;
  EXPECT_TRUE(fs::exists(dir_ / "m.mtrec"));

  RunResult device = Train("--out " + Path("m2.mtrec") + " data.train=/dev/zero");
  EXPECT_EQ(device.exit_code, 1) << device.output;
  EXPECT_NE(device.output.find("cannot read '/dev/zero': it is a character device, not a data file"), std::string::npos)
      << device.output;
}

TEST_F(FilesTest, AnUnwritableOutputIsReportedBeforeAnyWork) {
  // A path under a regular file cannot be created by anyone, root included.
  WriteText(dir_ / "afile", "x");
  const std::string out = Path("afile") + "/model.mtrec";
  RunResult train = Train("--out " + out);
  EXPECT_EQ(train.exit_code, 1) << train.output;
  EXPECT_NE(train.output.find("--out '" + out + "': '" + Path("afile") + "' is a regular file, not a folder"),
            std::string::npos)
      << train.output;
  EXPECT_EQ(train.output.find("epoch"), std::string::npos) << "trained before finding out:\n" << train.output;

  RunResult checkpoint = Train("--out " + Path("m.mtrec") + " train.checkpoint=" + Path("afile") + "/m.ckpt");
  EXPECT_EQ(checkpoint.exit_code, 1) << checkpoint.output;
  EXPECT_NE(checkpoint.output.find("train.checkpoint '" + Path("afile") + "/m.ckpt'"), std::string::npos)
      << checkpoint.output;
  EXPECT_EQ(checkpoint.output.find("epoch"), std::string::npos) << checkpoint.output;

  ASSERT_EQ(Train("--out " + Path("m.mtrec") + " train.epochs=1").exit_code, 0);
  RunResult predict = RunMtrecWithin(
      60, "predict --model " + Path("m.mtrec") + " --data " + Path("train.csv") + " --out " + Path("afile") + "/p.csv");
  EXPECT_EQ(predict.exit_code, 1) << predict.output;
  EXPECT_NE(predict.output.find("--out '" + Path("afile") + "/p.csv'"), std::string::npos) << predict.output;
  for (const char* option : {"--json", "--report"}) {
    RunResult eval = RunMtrecWithin(60, "eval --model " + Path("m.mtrec") + " --data " + Path("train.csv") + " " +
                                            option + " " + Path("afile") + "/e.out");
    EXPECT_EQ(eval.exit_code, 1) << eval.output;
    EXPECT_NE(eval.output.find(std::string(option) + " '" + Path("afile") + "/e.out'"), std::string::npos)
        << eval.output;
  }
}

TEST_F(FilesTest, AHugeHeaderLineOrFieldIsNotEchoedWhole) {
  // 2 MB of header without a newline: the column list in the message is cut to a prefix and a length.
  WriteText(dir_ / "train.csv", std::string(2 << 20, 'h'));
  RunResult header = Train("--out " + Path("m.mtrec"));
  EXPECT_EQ(header.exit_code, 1);
  EXPECT_LT(header.output.size(), 1024u) << header.output.substr(0, 2000);
  EXPECT_NE(header.output.find("'" + Path("train.csv") + "' has no column 'city'"), std::string::npos) << header.output;
  EXPECT_NE(header.output.find("(2097152 bytes)"), std::string::npos) << header.output;

  // A 2 MB value in a numeric column.
  WriteText(dir_ / "train.csv", Rows(5) + "paris," + std::string(2 << 20, '9') + "x,1\n");
  RunResult field = Train("--out " + Path("m.mtrec"));
  EXPECT_EQ(field.exit_code, 1);
  EXPECT_LT(field.output.size(), 1024u) << field.output.substr(0, 2000);
  EXPECT_NE(
      field.output.find(Path("train.csv") + ":7: column 'price' (feature 'price'): expected a number, found '999"),
      std::string::npos)
      << field.output;
  EXPECT_NE(field.output.find("…' (2097153 bytes)"), std::string::npos) << field.output;
}

// The pid of a process that has exited, so that no live process has it.
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST_F(FilesTest, TheNextSaveRemovesWhatAKilledSaveLeftBehind) {
  const std::string dead = std::to_string(DeadPid());
  WriteText(dir_ / (".m.mtrec.tmp-" + dead + "-a1b2c3"), "partial model");
  WriteText(dir_ / (".m.mtrec.ckpt.tmp-" + dead + "-d4e5f6"), "partial checkpoint");
  WriteText(dir_ / (".other.mtrec.tmp-" + dead + "-a1b2c3"), "not ours");
  RunResult train = Train("--out " + Path("m.mtrec"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) left.push_back(entry.path().filename());
  }
  EXPECT_EQ(left, std::vector<std::string>{".other.mtrec.tmp-" + dead + "-a1b2c3"});
}

}  // namespace
}  // namespace mtrec::e2e
