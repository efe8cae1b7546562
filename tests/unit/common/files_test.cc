#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "support/test_files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

fs::path Dir() { return TestDir("files_test"); }

// Times the call: reading a FIFO must not wait for a writer that never comes.
template <typename Fn>
std::string TimedErrorOf(Fn fn, double* seconds) {
  const auto start = std::chrono::steady_clock::now();
  std::string error = ErrorOf(fn);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return error;
}

TEST(FilesTest, ReadFileBytesReadsARegularFile) {
  const std::string path = WriteFile(Dir(), "plain.bin", std::string("a\0b", 3));
  EXPECT_EQ(ReadFileBytes(path), std::string("a\0b", 3));
  EXPECT_EQ(ReadFileBytes(WriteFile(Dir(), "empty.bin", "")), "");
}

TEST(FilesTest, ReadFileBytesRefusesAFifoWithoutWaiting) {
  const std::string path = (Dir() / "model.fifo").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  double seconds = 0;
  EXPECT_EQ(TimedErrorOf([&] { ReadFileBytes(path); }, &seconds),
            "cannot read '" + path + "': it is a FIFO (named pipe), not a regular file");
  EXPECT_LT(seconds, 5.0);
}

TEST(FilesTest, ReadFileBytesRefusesFoldersDevicesAndProcFiles) {
  const std::string dir = Dir().string();
  EXPECT_EQ(ErrorOf([&] { ReadFileBytes(dir); }), "cannot read '" + dir + "': it is a folder, not a regular file");
  EXPECT_EQ(ErrorOf([] { ReadFileBytes("/dev/zero"); }),
            "cannot read '/dev/zero': it is a character device, not a regular file");
  // /proc files say they hold 0 bytes and then hold more.
  EXPECT_EQ(ErrorOf([] { ReadFileBytes("/proc/self/status"); }),
            "cannot read '/proc/self/status': it holds more than the 0 bytes its size says (a /proc file, or one "
            "being written)");
  EXPECT_EQ(ErrorOf([&] { ReadFileBytes(dir + "/absent"); }),
            "cannot open '" + dir + "/absent': No such file or directory");
}

// A temporary file named as WriteFileAtomic names them, by process `pid`.
std::string TempFile(const fs::path& dir, const std::string& target, const std::string& owner) {
  return WriteFile(dir, "." + target + ".tmp-" + owner, "partial");
}

// The pid of a process that has exited (and been reaped), so that it is not alive.
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

TEST(FilesTest, WriteFileAtomicRemovesWhatAKilledWriterLeftOfTheSamePath) {
  const fs::path dir = Dir() / "stale";
  fs::create_directories(dir);
  const std::string dead = TempFile(dir, "model.mtrec", std::to_string(DeadPid()) + "-abcdef");
  const std::string live = TempFile(dir, "model.mtrec", std::to_string(::getppid()) + "-abcdef");
  const std::string other = TempFile(dir, "other.mtrec", std::to_string(DeadPid()) + "-abcdef");
  // Written by an mtrec without pids in the names: removed once an hour old, kept before.
  const std::string old_style = TempFile(dir, "model.mtrec", "Xy12zQ");
  const std::string recent_style = TempFile(dir, "model.mtrec", "Ab34cD");
  fs::last_write_time(old_style, fs::file_time_type::clock::now() - std::chrono::hours(2));

  WriteFileAtomic((dir / "model.mtrec").string(), "complete");
  EXPECT_EQ(ReadFileBytes((dir / "model.mtrec").string()), "complete");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(old_style));
  EXPECT_TRUE(fs::exists(live));          // its writer is alive
  EXPECT_TRUE(fs::exists(recent_style));  // may still be written
  EXPECT_TRUE(fs::exists(other));         // another file's: left to that file's next save
  // Nothing of this save is left behind.
  int temporaries = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    temporaries += entry.path().filename().string().find(".tmp-") != std::string::npos;
  }
  EXPECT_EQ(temporaries, 3);
}

TEST(FilesTest, CheckWritableRefusesUnusableFoldersForRootToo) {
  const fs::path dir = Dir() / "writable";
  fs::create_directories(dir);
  EXPECT_EQ(ErrorOf([&] { CheckWritable((dir / "model.mtrec").string(), "--out"); }), "");
  EXPECT_TRUE(fs::is_empty(dir));  // the probe file is gone
  // A path under a regular file: no one can create it, root included.
  const std::string file = WriteFile(Dir(), "a_file", "x");
  EXPECT_EQ(ErrorOf([&] { CheckWritable(file + "/model.mtrec", "--out"); }),
            "--out '" + file + "/model.mtrec': '" + file + "' is a regular file, not a folder");
  EXPECT_EQ(ErrorOf([&] { CheckWritable((dir / "missing" / "m.mtrec").string(), "--out"); }),
            "--out '" + (dir / "missing" / "m.mtrec").string() + "': its folder '" + (dir / "missing").string() +
                "' cannot be used: No such file or directory");
  EXPECT_EQ(ErrorOf([&] { CheckWritable(dir.string(), "--out"); }),
            "--out '" + dir.string() + "' is a folder; give a file name inside it");
}

}  // namespace
}  // namespace mtrec
