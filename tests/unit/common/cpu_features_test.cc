// Run-time CPU detection (common/cpu_features.h) against the kernel's own view: every flag mtrec detects is the
// one /proc/cpuinfo lists (the kernel, too, lists only what the operating system enables).
#include "common/cpu_features.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace mtrec {
namespace {

// The first "flags" line of /proc/cpuinfo as a set; empty where there is none (not Linux, not x86).
std::set<std::string> KernelFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string word; words >> word;) flags.insert(word);
    break;
  }
  return flags;
}

TEST(CpuFeaturesTest, EveryFlagAgreesWithTheKernel) {
  const std::set<std::string> kernel = KernelFlags();
  if (kernel.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo on this system";
  const CpuFeatures& cpu = DetectCpu();
  const std::pair<bool, const char*> detected[] = {
      {cpu.avx2, "avx2"},         {cpu.avx512f, "avx512f"},         {cpu.avx512bw, "avx512bw"},
      {cpu.avx512_vnni, "avx512_vnni"}, {cpu.avx_vnni, "avx_vnni"}, {cpu.avx512_bf16, "avx512_bf16"},
      {cpu.amx_tile, "amx_tile"}, {cpu.amx_bf16, "amx_bf16"},       {cpu.amx_int8, "amx_int8"}};
  for (const auto& [present, name] : detected) {
    EXPECT_EQ(present, kernel.count(name) == 1) << name << "; mtrec sees " << cpu.Describe();
  }
}

TEST(CpuFeaturesTest, DescribeSaysWhatThePrecisionsCanUse) {
  CpuFeatures plain;
  plain.brand = "Test CPU";
  plain.avx2 = plain.avx512f = true;
  EXPECT_EQ(plain.Describe(),
            "Test CPU; flags: avx2 avx512f; bf16 matmuls: not supported by this CPU (no avx512_bf16 or amx_bf16); "
            "int8 matmuls: not supported by this CPU (no VNNI or amx_int8)");
  EXPECT_FALSE(plain.Bf16Matmul());
  CpuFeatures amx = plain;
  amx.amx_tile = amx.amx_bf16 = amx.avx512_bf16 = amx.avx512_vnni = true;
  EXPECT_TRUE(amx.Bf16Matmul());
  EXPECT_TRUE(amx.Int8Matmul());
  EXPECT_EQ(amx.Describe(),
            "Test CPU; flags: avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16; bf16 matmuls: yes (amx_bf16, "
            "avx512_bf16); int8 matmuls: yes (avx512_vnni)");
}

}  // namespace
}  // namespace mtrec
