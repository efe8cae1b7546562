// How the embeddings of a multi-valued feature are combined into one vector; shared by the feature layout
// (features/) and the embedding layer (nn/).
#pragma once

#include <cstdint>

namespace mtrec {

enum class Pooling : uint8_t { kSum = 0, kMean = 1 };

}  // namespace mtrec
