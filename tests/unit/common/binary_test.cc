#include "common/binary.h"

#include <gtest/gtest.h>

#include "support/test_files.h"

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

TEST(BinaryTest, RoundTripOfEveryKind) {
  BinaryWriter w;
  w.Pod<uint8_t>(0xab);
  w.Pod<uint32_t>(7);
  w.Pod<double>(-2.5);
  w.String("click");
  w.String("");
  const std::vector<float> values = {1.f, -0.5f, 3.25f};
  w.Array(values.data(), values.size());
  w.Vector(std::vector<int64_t>{-1, 0, 1LL << 40});
  w.Vector(std::vector<uint32_t>{});
  w.Bytes("raw");

  const std::string bytes = w.str();
  BinaryReader r(bytes.data(), bytes.size(), "test.bin");
  EXPECT_EQ(r.Pod<uint8_t>(), 0xab);
  EXPECT_EQ(r.Pod<uint32_t>(), 7u);
  EXPECT_EQ(r.Pod<double>(), -2.5);
  EXPECT_EQ(r.String(), "click");
  EXPECT_EQ(r.String(), "");
  size_t n = 0;
  const float* p = r.Array<float>(&n);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(bytes.data()), r.offset() - 12);
  EXPECT_EQ((r.offset() - 12) % 8, 0u) << "arrays start 8-byte aligned";
  EXPECT_EQ(std::vector<float>(p, p + n), values);
  EXPECT_EQ(r.Vector<int64_t>(), (std::vector<int64_t>{-1, 0, 1LL << 40}));
  EXPECT_TRUE(r.Vector<uint32_t>().empty());
  EXPECT_EQ(r.Bytes(3), "raw");
  EXPECT_TRUE(r.AtEnd());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(BinaryTest, LayoutIsLittleEndianWithAlignedArrays) {
  BinaryWriter w;
  w.Pod<uint8_t>(1);
  const uint16_t array[2] = {0x0102, 0x0304};
  w.Array(array, 2);
  // 1 byte, the 8-byte count at offset 1, padding up to 16, then the elements.
  const std::string expected = std::string("\x01", 1) + std::string("\x02\0\0\0\0\0\0\0", 8) + std::string(7, '\0') +
                               std::string("\x02\x01\x04\x03", 4);
  EXPECT_EQ(w.str(), expected);
  EXPECT_EQ(w.size(), 20u);
}

TEST(BinaryTest, EveryTruncationThrowsNamingTheFile) {
  BinaryWriter w;
  w.Pod<uint32_t>(42);
  w.String("feature");
  w.Vector(std::vector<double>{1, 2, 3});
  const std::string bytes = w.str();
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::string error = ErrorOf([&] {
      BinaryReader r(bytes.data(), size, "model.mtrec");
      r.Pod<uint32_t>();
      r.String();
      r.Vector<double>();
    });
    EXPECT_NE(error.find("'model.mtrec' is truncated"), std::string::npos) << "size " << size << ": " << error;
  }
}

TEST(BinaryTest, AHugeCountIsRefusedNotFollowed) {
  BinaryWriter w;
  w.Pod<uint64_t>(~0ULL);  // a string or array length no file can hold
  w.Pod<uint64_t>(0);
  const std::string bytes = w.str();
  std::string error = ErrorOf([&] {
    BinaryReader r(bytes.data(), bytes.size(), "x.bin");
    r.String();
  });
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  error = ErrorOf([&] {
    BinaryReader r(bytes.data(), bytes.size(), "x.bin");
    size_t n = 0;
    r.Array<float>(&n);
  });
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  error = ErrorOf([&] {
    BinaryReader r(bytes.data(), bytes.size(), "x.bin");
    r.Bytes(17);
  });
  EXPECT_NE(error.find("a record at byte 0 runs past the end at byte 16"), std::string::npos) << error;
}

}  // namespace
}  // namespace mtrec
