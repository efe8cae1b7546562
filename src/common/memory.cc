#include "common/memory.h"

#include <unistd.h>

#include <cstdio>

#include "common/aligned.h"

namespace mtrec {

int64_t ResidentBytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  long long size = 0, resident = 0;
  const int read = std::fscanf(file, "%lld %lld", &size, &resident);
  std::fclose(file);
  if (read != 2) return 0;
  return static_cast<int64_t>(resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

int64_t AlignedBytes() { return g_aligned_bytes.load(); }

}  // namespace mtrec
