#include "io/model_file.h"

#include <gtest/gtest.h>

#include "support/test_files.h"
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "common/binary.h"
#include "common/checksum.h"
#include "common/error.h"
#include "common/files.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

SectionFile Sample() {
  SectionFile file;
  file.Add("meta", "{\"kind\":\"model\"}");
  file.Add("config", "[train]\nepochs = 2\n");
  file.Add("empty", "");
  file.Add("weights", std::string("\0\1\2\3\4\5\6\7 binary weights!", 24));  // fills its 8-byte blocks
  return file;
}

// Sections written piece by piece (fields, viewed arrays and strings, bytes handed over) give the file that
// SectionFile writes from the joined bytes: the same header, checksums, padding and content.
TEST(SectionWriterTest, WritesTheSectionFileOfTheJoinedBytes) {
  const std::vector<float> values = {1.5f, -2.f, 3.25f};
  const std::string big(1000, 'x');
  BinaryWriter joined;
  joined.Pod<uint32_t>(7);
  joined.String("name");
  joined.Array(values.data(), values.size());
  joined.String(big);
  joined.Pod<uint8_t>(1);
  joined.Align(8);
  joined.Array(values.data(), 0);
  PieceWriter pieces;
  pieces.Pod<uint32_t>(7);
  pieces.String("name");
  pieces.ArrayView(values.data(), values.size());
  pieces.StringView(big);
  pieces.Pod<uint8_t>(1);
  pieces.Align(8);
  pieces.ArrayView(values.data(), 0);
  EXPECT_EQ(pieces.size(), joined.size());
  EXPECT_EQ(pieces.Join(), joined.str());

  SectionFile file;
  file.Add("meta", "{}");
  file.Add("weights", joined.str());
  file.Add("odd", "abc");
  SectionWriter writer;
  writer.Add("meta", "{}");
  writer.Add("weights", std::move(pieces));
  writer.Add("odd", "abc");
  const std::string path =
      (fs::path(testing::TempDir()) / ("section_writer_test." + std::to_string(::getpid()) + ".mtrec")).string();
  writer.Write(path);
  EXPECT_EQ(ReadFileBytes(path), file.Serialize());
  EXPECT_EQ(SectionFile::Read(path).Get("weights"), joined.str());
  fs::remove(path);
}

TEST(SectionFileTest, RoundTrip) {
  SectionFile file = Sample();
  EXPECT_TRUE(file.Has("config"));
  EXPECT_FALSE(file.Has("trainer"));
  const std::string path =
      (fs::path(testing::TempDir()) / ("model_file_test." + std::to_string(::getpid()) + ".mtrec")).string();
  file.Write(path);
  SectionFile loaded = SectionFile::Read(path);
  EXPECT_EQ(loaded.version(), kModelFormatVersion);
  ASSERT_EQ(loaded.sections().size(), 4u);
  EXPECT_EQ(loaded.sections()[0].first, "meta");
  EXPECT_EQ(loaded.sections()[2].first, "empty");
  EXPECT_EQ(loaded.sections(), file.sections());
  EXPECT_EQ(loaded.Get("config"), "[train]\nepochs = 2\n");
  EXPECT_EQ(loaded.Get("empty"), "");
  EXPECT_EQ(loaded.Get("weights"), file.Get("weights"));
  EXPECT_EQ(loaded.Serialize(), file.Serialize());
  std::string error = ErrorOf([&] { loaded.Get("trainer"); });
  EXPECT_NE(error.find("'" + path + "' has no 'trainer' section"), std::string::npos) << error;
  fs::remove(path);
}

TEST(SectionFileTest, LayoutFollowsTheDocumentedFormat) {
  const std::string bytes = Sample().Serialize();
  EXPECT_EQ(bytes.substr(0, 8), std::string(kModelMagic, 8));
  uint32_t version = 0;
  uint32_t count = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&count, bytes.data() + 12, 4);
  EXPECT_EQ(version, kModelFormatVersion);
  EXPECT_EQ(count, 4u);
  // Header 16 bytes, 4 entries of 24 + 8 + 8 + 4 + 4 bytes, header CRC and padding 8: the first section at 216.
  uint64_t offset = 0;
  std::memcpy(&offset, bytes.data() + 16 + kSectionNameBytes, 8);
  EXPECT_EQ(offset, 216u);
  EXPECT_EQ(bytes.substr(216, 16), "{\"kind\":\"model\"}");
  // Sections start 8-aligned: config (20 bytes) at 232, the empty one and weights at 256.
  std::memcpy(&offset, bytes.data() + 16 + 48 + kSectionNameBytes, 8);
  EXPECT_EQ(offset, 232u);
  std::memcpy(&offset, bytes.data() + 16 + 3 * 48 + kSectionNameBytes, 8);
  EXPECT_EQ(offset, 256u);
  EXPECT_EQ(bytes.size(), 280u);
  EXPECT_EQ(bytes.size() % 8, 0u);
}

TEST(SectionFileTest, SectionNamesMustFit) {
  SectionFile file;
  EXPECT_NO_THROW(file.Add(std::string(kSectionNameBytes - 1, 'x'), "a"));
  EXPECT_THROW(file.Add(std::string(kSectionNameBytes, 'x'), "a"), Error);
}

TEST(SectionFileTest, FlippedByteInASectionIsDamageNamingTheSection) {
  const std::string bytes = Sample().Serialize();
  const size_t at = bytes.find("epochs");
  ASSERT_NE(at, std::string::npos);
  std::string damaged = bytes;
  damaged[at] ^= 0x20;
  std::string error = ErrorOf([&] { SectionFile::Parse(damaged, "m.mtrec"); });
  EXPECT_NE(error.find("'m.mtrec' is damaged: section 'config' fails its checksum"), std::string::npos) << error;

  damaged = bytes;
  damaged[bytes.find("binary weights")] ^= 1;
  error = ErrorOf([&] { SectionFile::Parse(damaged, "m.mtrec"); });
  EXPECT_NE(error.find("damaged"), std::string::npos) << error;
  EXPECT_NE(error.find("'weights'"), std::string::npos) << error;
}

TEST(SectionFileTest, FlippedByteInTheHeaderIsDamage) {
  const std::string bytes = Sample().Serialize();
  for (size_t at : {size_t{16}, size_t{16 + 48 + 34}, size_t{12}}) {  // a section name, a size, the count
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    std::string error = ErrorOf([&] { SectionFile::Parse(damaged, "m.mtrec"); });
    EXPECT_NE(error.find("damaged"), std::string::npos) << "byte " << at << ": " << error;
  }
}

// A section that does not start at a multiple of 8 (its checksums right) is refused: the arrays in it would not be
// aligned where a served model reads its tables.
TEST(SectionFileTest, ASectionOffTheEightByteGridIsDamage) {
  std::string bytes = Sample().Serialize();
  uint64_t offset = 0;
  std::memcpy(&offset, bytes.data() + 16 + kSectionNameBytes, 8);
  offset += 4;
  std::memcpy(bytes.data() + 16 + kSectionNameBytes, &offset, 8);
  const uint32_t header_crc = Crc32(bytes.data(), 16 + 4 * 48);
  std::memcpy(bytes.data() + 16 + 4 * 48, &header_crc, 4);
  const std::string error = ErrorOf([&] { SectionFile::Parse(bytes, "m.mtrec"); });
  EXPECT_NE(error.find("'m.mtrec' is damaged: section 'meta' starts at byte 220, not at a multiple of 8"),
            std::string::npos)
      << error;
}

TEST(SectionFileTest, TruncatedFileIsRefused) {
  const std::string bytes = Sample().Serialize();
  // Every cut from the end of the fixed header on; the last section fills its 8-byte block exactly, so any cut
  // loses data.
  for (size_t size = 16; size < bytes.size(); ++size) {
    std::string error = ErrorOf([&] { SectionFile::Parse(bytes.substr(0, size), "m.mtrec"); });
    EXPECT_NE(error.find("'m.mtrec' is truncated"), std::string::npos) << "size " << size << ": " << error;
  }
  std::string error = ErrorOf([&] { SectionFile::Parse(bytes.substr(0, bytes.size() - 5), "m.mtrec"); });
  EXPECT_NE(error.find("section 'weights' needs bytes"), std::string::npos) << error;
}

TEST(SectionFileTest, NewerVersionIsRefused) {
  std::string bytes = Sample().Serialize();
  const uint32_t newer = kModelFormatVersion + 1;
  std::memcpy(bytes.data() + 8, &newer, 4);
  std::string error = ErrorOf([&] { SectionFile::Parse(bytes, "m.mtrec"); });
  EXPECT_NE(error.find("has model format version 2"), std::string::npos) << error;
  EXPECT_NE(error.find("newer"), std::string::npos) << error;
}

TEST(SectionFileTest, WrongMagicIsNotAModelFile) {
  std::string bytes = Sample().Serialize();
  bytes[3] = 'x';
  std::string error = ErrorOf([&] { SectionFile::Parse(bytes, "m.mtrec"); });
  EXPECT_NE(error.find("'m.mtrec' is not an mtrec model file"), std::string::npos) << error;
  error = ErrorOf([&] { SectionFile::Parse("user,click\n1,0\n", "data.csv"); });
  EXPECT_NE(error.find("'data.csv' is not an mtrec model file"), std::string::npos) << error;
  error = ErrorOf([&] { SectionFile::Parse("", "empty.mtrec"); });
  EXPECT_NE(error.find("not an mtrec model file"), std::string::npos) << error;
}

TEST(SectionFileTest, MissingFileIsAnError) {
  const std::string path = (fs::path(testing::TempDir()) / "no_such_model.mtrec").string();
  std::string error = ErrorOf([&] { SectionFile::Read(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

}  // namespace
}  // namespace mtrec
