// CRC-32 (the zlib / PNG polynomial) of a byte range; guards every section of mtrec's files.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mtrec {
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);
}
