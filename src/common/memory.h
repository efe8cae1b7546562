// The process's memory as the kernel counts it, for decisions that depend on what something really took (a served
// model's copy holds its weights, packed weights and every layer's buffers, far more than its file's size).
//
//   const int64_t before = ResidentBytes();
//   auto model = Load(...);
//   const int64_t took = ResidentBytes() - before;
#pragma once

#include <cstdint>

namespace mtrec {

// Resident bytes of this process now (/proc/self/statm); 0 where that cannot be read.
int64_t ResidentBytes();
// Bytes of the aligned arrays alive (weights, activations, gradients: common/aligned.h), written or not: large
// ones take memory only where written, so this is what they may come to take, not what they take.
int64_t AlignedBytes();

}  // namespace mtrec
