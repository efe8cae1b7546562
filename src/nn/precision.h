// The number format of the dense layers' matmuls, process-wide: f32, or bf16 where the CPU multiplies bf16 in
// hardware. Under bf16 each matmul converts its f32 operands to bf16 copies owned by its plan (nn/matmul.h) and
// accumulates in f32 into f32 outputs, so weights, gradients, optimizer state and the saved model stay f32.
// int8 is for scoring only (serve, and predict --precision, whose weights are frozen) on a CPU with VNNI or
// AMX-INT8: each weight column is quantised once to int8 with its own scale, each row of a product's input per
// call with its own, the integer product accumulated exactly and scaled back to f32 (nn/matmul.h).
// Products over weights that may change (training) stay f32 under int8.
//
//   SetMatmulPrecision(config.train.precision);   // fails on a CPU without avx512_bf16 or AMX, saying so
//   ScopedMatmulPrecision f32(Precision::kF32);    // e.g. a final evaluation in f32, restored on scope exit
#pragma once

#include <string>

#include "common/names.h"

namespace mtrec {

// Fails, naming the CPU and what it has, when bf16 is asked for and the CPU lacks bf16 dot products (oneDNN
// would emulate them, slower than f32). `where` names the setting in the message ("train.precision in c.toml").
void SetMatmulPrecision(Precision precision, const std::string& where = "precision");
Precision MatmulPrecision();
// Whether this CPU has bf16 dot products (avx512_bf16 or AMX); DetectCpu().Describe() says which.
bool Bf16MatmulSupported();
// Whether this CPU has int8 dot products (avx512_vnni, avx_vnni or AMX-INT8) and oneDNN a kernel that uses them
// (one that adds int8 pairs in 16 bits first can saturate, and is refused).
bool Int8MatmulSupported();
// The name of oneDNN's int8 matmul kernel on this CPU (e.g. "brg:avx512_core_vnni").
std::string Int8MatmulKernel();
bool Int8KernelAddsIn32Bits(const std::string& kernel);

class ScopedMatmulPrecision {
 public:
  explicit ScopedMatmulPrecision(Precision precision) : previous_(MatmulPrecision()) { SetMatmulPrecision(precision); }
  ~ScopedMatmulPrecision() { SetMatmulPrecision(previous_); }
  ScopedMatmulPrecision(const ScopedMatmulPrecision&) = delete;
  ScopedMatmulPrecision& operator=(const ScopedMatmulPrecision&) = delete;

 private:
  Precision previous_;
};

}  // namespace mtrec
