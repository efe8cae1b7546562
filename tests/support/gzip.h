// gzip in memory for tests that read compressed input: Gzip(text) is what `gzip -c` would write.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

namespace mtrec {

inline std::string Gzip(std::string_view src) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string dst(deflateBound(&zs, src.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(src.data()));
  zs.avail_in = static_cast<uInt>(src.size());
  zs.next_out = reinterpret_cast<Bytef*>(dst.data());
  zs.avail_out = static_cast<uInt>(dst.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  dst.resize(zs.total_out);
  deflateEnd(&zs);
  return dst;
}

}  // namespace mtrec
