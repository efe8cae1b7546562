#include "data/input_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "common/error.h"
#include "support/gzip.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

std::string Xz(std::string_view src) {
  std::string dst(lzma_stream_buffer_bound(src.size()), '\0');
  size_t used = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t*>(src.data()),
                                    src.size(), reinterpret_cast<uint8_t*>(dst.data()), &used, dst.size()),
            LZMA_OK);
  dst.resize(used);
  return dst;
}

// With a content checksum, as the zstd command writes by default, so that damage is detectable.
std::string Zstd(std::string_view src) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string dst(ZSTD_compressBound(src.size()), '\0');
  size_t used = ZSTD_compress2(cctx, dst.data(), dst.size(), src.data(), src.size());
  EXPECT_FALSE(ZSTD_isError(used));
  ZSTD_freeCCtx(cctx);
  dst.resize(used);
  return dst;
}

// Text that compresses well but is not trivially repetitive.
std::string SampleCsv(size_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string text = "user_id,item_id,price,click,buy\n";
  for (size_t i = 0; i < rows; ++i) {
    text += std::to_string(rng() % 5000) + "," + std::to_string(rng() % 100000) + "," +
            std::to_string(rng() % 10000 / 100.0) + "," + std::to_string(rng() % 2) + "," +
            std::to_string(rng() % 7 == 0) + "\n";
  }
  return text;
}

std::string ErrorOf(const std::string& path) {
  try {
    ReadInput(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class InputFileTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mtrec_input_test_" + std::to_string(::getpid()) + "_" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, std::string_view bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good());
    return path;
  }

  fs::path dir_;
};

TEST_F(InputFileTest, PlainFileAsItIs) {
  const std::string text = SampleCsv(100, 1) + std::string("\0\xff", 2);
  EXPECT_EQ(ReadInput(Write("plain.csv", text)), text);
  EXPECT_EQ(ReadInput(Write("empty.csv", "")), "");
  // The name does not matter: a plain file called .gz is read as it is.
  EXPECT_EQ(ReadInput(Write("plain.csv.gz", "a,b\n1,2\n")), "a,b\n1,2\n");
}

TEST_F(InputFileTest, GzipRoundTrip) {
  const std::string text = SampleCsv(2000, 2);
  const std::string gz = Gzip(text);
  ASSERT_LT(gz.size(), text.size());
  EXPECT_EQ(ReadInput(Write("data.csv.gz", gz)), text);
  // Detected by content, not by name.
  EXPECT_EQ(ReadInput(Write("data.csv", gz)), text);
}

TEST_F(InputFileTest, GzipMultiMember) {
  const std::string a = SampleCsv(500, 3);
  const std::string b = SampleCsv(700, 4);
  EXPECT_EQ(ReadInput(Write("joined.gz", Gzip(a) + Gzip(b) + Gzip(""))), a + b);
  // Zero padding after the last member, as some writers leave, is accepted.
  EXPECT_EQ(ReadInput(Write("padded.gz", Gzip(a) + std::string(512, '\0'))), a);
}

TEST_F(InputFileTest, XzMultiStream) {
  const std::string a = SampleCsv(600, 5);
  const std::string b = SampleCsv(300, 6);
  EXPECT_EQ(ReadInput(Write("one.xz", Xz(a))), a);
  // Stream padding (a multiple of four zero bytes) may sit between streams.
  EXPECT_EQ(ReadInput(Write("joined.xz", Xz(a) + std::string(8, '\0') + Xz(b))), a + b);
}

TEST_F(InputFileTest, ZstdMultiFrame) {
  const std::string a = SampleCsv(800, 7);
  const std::string b = SampleCsv(100, 8);
  EXPECT_EQ(ReadInput(Write("one.zst", Zstd(a))), a);
  EXPECT_EQ(ReadInput(Write("joined.zst", Zstd(a) + Zstd(b) + Zstd(""))), a + b);
}

TEST_F(InputFileTest, OutputLargerThanAnyFirstGuess) {
  // Compresses by far more than the decoder's first output guess, so the output must grow many times.
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "same,row,again\n";
  text += SampleCsv(10, 9);
  EXPECT_EQ(ReadInput(Write("big.gz", Gzip(text))), text);
  EXPECT_EQ(ReadInput(Write("big.xz", Xz(text))), text);
  EXPECT_EQ(ReadInput(Write("big.zst", Zstd(text))), text);
}

TEST_F(InputFileTest, TruncatedFilesAreErrors) {
  const std::string text = SampleCsv(3000, 10);
  struct Case {
    std::string name;
    std::string bytes;
    std::string format;
    size_t magic_size;
  };
  const Case cases[] = {
      {"cut.csv.gz", Gzip(text), "gzip", 2}, {"cut.csv.xz", Xz(text), "xz", 6}, {"cut.csv.zst", Zstd(text), "zstd", 4}};
  for (const Case& c : cases) {
    for (size_t keep : {c.bytes.size() - 1, c.bytes.size() - 4, c.bytes.size() / 2, size_t{12}}) {
      SCOPED_TRACE(c.name + " cut to " + std::to_string(keep));
      const std::string path = Write(c.name, c.bytes.substr(0, keep));
      EXPECT_EQ(ErrorOf(path), "'" + path + "' is damaged: " + c.format + " data ends early");
    }
    // Only the signature, nothing after it.
    const std::string path = Write(c.name, c.bytes.substr(0, c.magic_size));
    EXPECT_EQ(ErrorOf(path), "'" + path + "' is damaged: " + c.format + " data ends early");
  }
}

TEST_F(InputFileTest, CorruptFilesAreErrors) {
  const std::string text = SampleCsv(3000, 11);
  for (auto [name, bytes] :
       {std::pair<std::string, std::string>{"bad.gz", Gzip(text)}, {"bad.xz", Xz(text)}, {"bad.zst", Zstd(text)}}) {
    SCOPED_TRACE(name);
    bytes[bytes.size() / 2] ^= 0x55;
    const std::string path = Write(name, bytes);
    EXPECT_NE(ErrorOf(path).find("'" + path + "' is damaged: "), std::string::npos) << ErrorOf(path);
  }
  const std::string path = Write("garbage.gz", Gzip(text) + "trailing text");
  EXPECT_EQ(ErrorOf(path),
            "'" + path + "' is damaged: 13 bytes that are not gzip data follow the end of the gzip data");
}

TEST_F(InputFileTest, MissingFileNamesThePath) {
  const std::string path = (dir_ / "no_such.csv.gz").string();
  EXPECT_EQ(ErrorOf(path), "cannot open '" + path + "': No such file or directory");
  EXPECT_EQ(ErrorOf(dir_.string()), "cannot read '" + dir_.string() + "': it is a folder, not a data file");
}

TEST_F(InputFileTest, FifoIsReadAsAStreamAndDevicesAreRefused) {
  const std::string path = (dir_ / "rows.fifo").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // The writer opens without blocking and gives up after 20 s, so a reader that never comes fails the test
  // instead of hanging it.
  std::thread writer([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int fd = -1;
    while (fd < 0 && std::chrono::steady_clock::now() < deadline) {
      fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fd < 0) return;
    ::fcntl(fd, F_SETFL, 0);
    const std::string rows = "a,b\n1,2\n";
    EXPECT_EQ(::write(fd, rows.data(), rows.size()), static_cast<ssize_t>(rows.size()));
    ::close(fd);
  });
  EXPECT_EQ(ReadInput(path), "a,b\n1,2\n");
  writer.join();
  EXPECT_EQ(ErrorOf("/dev/null"), "cannot read '/dev/null': it is a character device, not a data file");
}

TEST_F(InputFileTest, UnsupportedFormatsSaySo) {
  const std::string path = Write("data.zip", std::string("PK\x03\x04", 4) + "rest of a zip");
  EXPECT_EQ(ErrorOf(path),
            "'" + path + "' is a zip archive, which mtrec does not read; extract the file inside it first");
  // Text that merely starts like a bzip2 signature is still text.
  EXPECT_EQ(ReadInput(Write("bzh.csv", "BZh9,x\n1,2\n")), "BZh9,x\n1,2\n");
}

}  // namespace
}  // namespace mtrec
