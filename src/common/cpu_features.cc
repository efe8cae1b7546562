#include "common/cpu_features.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MTREC_X86 1
#endif

namespace mtrec {
namespace {

#ifdef MTREC_X86
struct Registers {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Registers Cpuid(unsigned leaf, unsigned subleaf) {
  Registers r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return Registers{};
  return r;
}

bool Bit(unsigned value, int bit) { return (value >> bit) & 1u; }

// The state components the operating system saves on a context switch (XCR0); 0 without OSXSAVE.
uint64_t EnabledState() {
  if (!Bit(Cpuid(1, 0).ecx, 27)) return 0;
  unsigned low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (static_cast<uint64_t>(high) << 32) | low;
}

CpuFeatures Detect() {
  CpuFeatures cpu;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  const unsigned max_extended = __get_cpuid_max(0x80000000u, nullptr);
  if (max_extended >= 0x80000004u) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      const Registers r = Cpuid(0x80000002u + i, 0);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    cpu.brand = brand;
    const size_t first = cpu.brand.find_first_not_of(' ');
    cpu.brand = first == std::string::npos ? "" : cpu.brand.substr(first);
  }
  if (max_leaf < 7) return cpu;
  const uint64_t state = EnabledState();
  const bool ymm = (state & 0x6) == 0x6;             // SSE and AVX state
  const bool zmm = ymm && (state & 0xe0) == 0xe0;    // opmask, upper ZMM, high ZMM
  const bool tiles = (state & 0x60000) == 0x60000;   // XTILECFG, XTILEDATA
  const Registers leaf7 = Cpuid(7, 0);
  const Registers leaf7_1 = leaf7.eax >= 1 ? Cpuid(7, 1) : Registers{};
  cpu.avx2 = ymm && Bit(leaf7.ebx, 5);
  cpu.avx512f = zmm && Bit(leaf7.ebx, 16);
  cpu.avx512bw = zmm && Bit(leaf7.ebx, 30);
  cpu.avx512_vnni = zmm && Bit(leaf7.ecx, 11);
  cpu.avx_vnni = ymm && Bit(leaf7_1.eax, 4);
  cpu.avx512_bf16 = zmm && Bit(leaf7_1.eax, 5);
  cpu.amx_bf16 = tiles && Bit(leaf7.edx, 22);
  cpu.amx_tile = tiles && Bit(leaf7.edx, 24);
  cpu.amx_int8 = tiles && Bit(leaf7.edx, 25);
  return cpu;
}
#else
CpuFeatures Detect() { return CpuFeatures{}; }
#endif

}  // namespace

std::string CpuFeatures::Flags() const {
  std::vector<std::string> flags;
  const std::pair<bool, const char*> all[] = {{avx2, "avx2"},           {avx512f, "avx512f"},
                                              {avx512bw, "avx512bw"},   {avx512_vnni, "avx512_vnni"},
                                              {avx_vnni, "avx_vnni"},   {avx512_bf16, "avx512_bf16"},
                                              {amx_tile, "amx_tile"},   {amx_bf16, "amx_bf16"},
                                              {amx_int8, "amx_int8"}};
  for (const auto& [present, name] : all) {
    if (present) flags.emplace_back(name);
  }
  return fmt::format("{}", fmt::join(flags, " "));
}

std::string CpuFeatures::Describe() const {
  std::vector<std::string> bf16, int8;
  if (amx_bf16) bf16.emplace_back("amx_bf16");
  if (avx512_bf16) bf16.emplace_back("avx512_bf16");
  if (amx_int8) int8.emplace_back("amx_int8");
  if (avx512_vnni) int8.emplace_back("avx512_vnni");
  if (avx_vnni) int8.emplace_back("avx_vnni");
  const std::string flags = Flags();
  return fmt::format("{}; flags: {}; bf16 matmuls: {}; int8 matmuls: {}", brand.empty() ? "unnamed CPU" : brand,
                     flags.empty() ? "none beyond the baseline" : flags,
                     bf16.empty() ? "not supported by this CPU (no avx512_bf16 or amx_bf16)"
                                  : fmt::format("yes ({})", fmt::join(bf16, ", ")),
                     int8.empty() ? "not supported by this CPU (no VNNI or amx_int8)"
                                  : fmt::format("yes ({})", fmt::join(int8, ", ")));
}

const CpuFeatures& DetectCpu() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace mtrec
