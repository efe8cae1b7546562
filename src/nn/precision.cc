#include "nn/precision.h"

#include <atomic>

#include <dnnl.hpp>
#include <string>

#include "common/cpu_features.h"
#include "common/error.h"
#include "nn/dnnl_context.h"

namespace mtrec {
namespace {

std::atomic<Precision> current_precision{Precision::kF32};

}  // namespace

bool Bf16MatmulSupported() { return DetectCpu().Bf16Matmul(); }
std::string Int8MatmulKernel() {
  static const std::string kernel = [] {
    using dnnl::memory;
    const memory::desc a({4, 64}, memory::data_type::s8, memory::format_tag::ab);
    const memory::desc b({64, 64}, memory::data_type::s8, memory::format_tag::any);
    const memory::desc c({4, 64}, memory::data_type::f32, memory::format_tag::ab);
    try {
      return std::string(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), DnnlEngine()).impl_info_str());
    } catch (const dnnl::error&) {
      return std::string("none");
    }
  }();
  return kernel;
}

bool Int8KernelAddsIn32Bits(const std::string& kernel) {
  return kernel.find("vnni") != std::string::npos || kernel.find("amx") != std::string::npos;
}

// The CPU's flags, and oneDNN's kernel for them (one that adds int8 pairs in 16 bits can saturate).
bool Int8MatmulSupported() { return DetectCpu().Int8Matmul() && Int8KernelAddsIn32Bits(Int8MatmulKernel()); }

void SetMatmulPrecision(Precision precision, const std::string& where) {
  if (precision == Precision::kBf16 && !Bf16MatmulSupported()) {
    Fail("{} = \"bf16\": bf16: not supported by this CPU ({})", where, DetectCpu().Describe());
  }
  if (precision == Precision::kInt8 && !Int8MatmulSupported()) {
    Fail("{} = \"int8\": int8: not supported by this CPU ({}; oneDNN's int8 kernel here: {}); int8 needs VNNI or "
         "AMX-INT8",
         where, DetectCpu().Describe(), Int8MatmulKernel());
  }
  current_precision.store(precision, std::memory_order_relaxed);
}

Precision MatmulPrecision() { return current_precision.load(std::memory_order_relaxed); }

}  // namespace mtrec
