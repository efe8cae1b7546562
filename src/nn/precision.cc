#include "nn/precision.h"

#include <atomic>

#include "common/cpu_features.h"
#include "common/error.h"

namespace mtrec {
namespace {

std::atomic<Precision> current_precision{Precision::kF32};

}  // namespace

bool Bf16MatmulSupported() { return DetectCpu().Bf16Matmul(); }
bool Int8MatmulSupported() { return DetectCpu().Int8Matmul(); }

void SetMatmulPrecision(Precision precision, const std::string& where) {
  if (precision == Precision::kBf16 && !Bf16MatmulSupported()) {
    Fail("{} = \"bf16\": bf16: not supported by this CPU ({})", where, DetectCpu().Describe());
  }
  if (precision == Precision::kInt8 && !Int8MatmulSupported()) {
    Fail("{} = \"int8\": int8: not supported by this CPU, which has no VNNI or AMX-INT8 ({})", where,
         DetectCpu().Describe());
  }
  current_precision.store(precision, std::memory_order_relaxed);
}

Precision MatmulPrecision() { return current_precision.load(std::memory_order_relaxed); }

}  // namespace mtrec
