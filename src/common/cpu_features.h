// What this CPU can do beyond the portable baseline, detected at run time (the binaries are built without
// -march=native): the wide vectors of our own hot loops, and the bf16 and int8 matmul instructions that the
// precision options need. An instruction counts only when the operating system also saves its registers (XCR0),
// as the kernel's /proc/cpuinfo flags do.
//
//   const CpuFeatures& cpu = DetectCpu();
//   if (!cpu.Bf16Matmul()) Fail("bf16: not supported by this CPU ({})", cpu.Describe());
#pragma once

#include <string>

namespace mtrec {

struct CpuFeatures {
  std::string brand;  // "Intel(R) Xeon(R) ..." as the CPU names itself; empty when it does not
  bool avx2 = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512_vnni = false;
  bool avx_vnni = false;
  bool avx512_bf16 = false;
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;

  // bf16 dot products in hardware (avx512_bf16 or AMX), what bf16 matmuls need to be faster than f32.
  bool Bf16Matmul() const { return avx512_bf16 || amx_bf16; }
  // int8 dot products in hardware (VNNI or AMX).
  bool Int8Matmul() const { return avx512_vnni || avx_vnni || amx_int8; }
  // The flags present, space-separated in /proc/cpuinfo's names ("avx2 avx512f ... amx_bf16").
  std::string Flags() const;
  // One line: the brand, the flags, and what the precisions can use ("bf16 matmuls: yes (amx_bf16, avx512_bf16)").
  std::string Describe() const;
};

// Detected once, on first use.
const CpuFeatures& DetectCpu();

}  // namespace mtrec
