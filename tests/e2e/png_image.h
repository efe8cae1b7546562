// A small PNG reader for the report rendering test: 8-bit RGB or RGBA, non-interlaced (what Chromium's
// screenshots are), decompressed with zlib. Enough to look at a screenshot's pixels; nothing more.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace mtrec::e2e {

struct PngImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width × height × 3

  const uint8_t* Pixel(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

inline uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Throws std::runtime_error on anything it does not read.
inline PngImage DecodePng(const std::string& file) {
  const auto* data = reinterpret_cast<const uint8_t*>(file.data());
  static const uint8_t kSignature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (file.size() < 8 || !std::equal(kSignature, kSignature + 8, data)) throw std::runtime_error("not a PNG file");
  PngImage image;
  int color_type = -1;
  std::vector<uint8_t> compressed;
  for (size_t at = 8; at + 12 <= file.size();) {
    const uint32_t length = BigEndian32(data + at);
    const std::string type(reinterpret_cast<const char*>(data + at + 4), 4);
    const uint8_t* body = data + at + 8;
    if (at + 12 + length > file.size()) throw std::runtime_error("truncated PNG chunk " + type);
    if (type == "IHDR") {
      image.width = static_cast<int>(BigEndian32(body));
      image.height = static_cast<int>(BigEndian32(body + 4));
      color_type = body[9];
      if (body[8] != 8 || (color_type != 2 && color_type != 6) || body[12] != 0) {
        throw std::runtime_error("PNG is not 8-bit RGB/RGBA non-interlaced");
      }
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), body, body + length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (image.width <= 0 || image.height <= 0) throw std::runtime_error("PNG without a header");
  const size_t channels = color_type == 6 ? 4 : 3;
  const size_t stride = static_cast<size_t>(image.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(image.height));
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, compressed.data(), compressed.size()) != Z_OK || raw_size != raw.size()) {
    throw std::runtime_error("PNG image data does not inflate to its size");
  }
  // Undo the per-row filters (PNG spec, section 9), in place, each row against the already restored one above.
  std::vector<uint8_t> pixels(stride * image.height);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &pixels[y * stride];
    const uint8_t* above = y > 0 ? &pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= channels ? out[i - channels] : 0;
      const int b = above ? above[i] : 0;
      const int c = above && i >= channels ? above[i - channels] : 0;
      int predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
          break;
        }
        default: throw std::runtime_error("PNG row filter " + std::to_string(filter));
      }
      out[i] = static_cast<uint8_t>(in[i] + predictor);
    }
  }
  image.rgb.resize(static_cast<size_t>(image.width) * image.height * 3);
  for (size_t p = 0; p < static_cast<size_t>(image.width) * image.height; ++p) {
    for (int ch = 0; ch < 3; ++ch) image.rgb[p * 3 + ch] = pixels[p * channels + ch];
  }
  return image;
}

}  // namespace mtrec::e2e
