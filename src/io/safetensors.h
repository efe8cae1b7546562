// Weights in the safetensors format (https://github.com/huggingface/safetensors), so that a model trained by mtrec
// loads in PyTorch with `safetensors.torch.load_file`. Only F32 tensors are written and read.
//
// The file: an 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// padded with spaces so that the data starts 8-byte aligned, then each tensor's row-major little-endian values, in
// header order, without gaps; offsets count from the start of the data. See docs/model_format.md.
//
//   ExportSafetensors("model.safetensors", loaded.config, *loaded.pipeline, *loaded.model);   // atomic
//   SafetensorsMetadata metadata;
//   std::vector<NamedTensor> tensors = ReadSafetensors("model.safetensors", &metadata);
//   tensors[0].name;  tensors[0].shape;  tensors[0].data;               // e.g. "bottom.0.weight", {out, in}
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "features/pipeline.h"
#include "models/model.h"

namespace mtrec {

// __metadata__: string to string. A std::map, so the header lists its keys in one order whatever the caller did.
using SafetensorsMetadata = std::map<std::string, std::string>;

// A tensor to write: row-major values in their final layout, product(shape) floats at `data` (not owned).
struct TensorRef {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};

// A tensor read back, owning its values.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// The whole file as bytes; tensors in the given order. Error on an empty or duplicate name, the reserved name
// "__metadata__", or a negative dimension.
std::string SerializeSafetensors(std::span<const TensorRef> tensors, const SafetensorsMetadata& metadata);
void WriteSafetensors(const std::string& path, std::span<const TensorRef> tensors,
                      const SafetensorsMetadata& metadata);  // atomic

// Validates everything before returning anything: the header length against the file size, the JSON (an object,
// no duplicate keys, string metadata), each tensor's dtype (F32 only), shape and data_offsets (in range, matching
// the shape, tiling the data without gaps or overlaps, ending at the end of the file). Errors name `path` and,
// where there is one, the tensor. Tensors come back in the order of their data.
std::vector<NamedTensor> ParseSafetensors(std::string_view bytes, const std::string& path,
                                          SafetensorsMetadata* metadata = nullptr);
std::vector<NamedTensor> ReadSafetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// Every weight of `model` in PyTorch's layouts, under the names of the model file (models/weights.h), dense
// parameters in arena order, then the embedding tables:
//   linear weight (stored in × out)   groups = 1: [out, in] (nn.Linear);  groups = G: [G, out, in], block g being
//                                     stored rows [g·in, (g+1)·in) transposed
//   "*.bias"                          rows = 1: [cols];  otherwise [rows, cols]
//   any other parameter               [rows, cols], as stored
//   embedding table                   [rows, dim] (nn.Embedding)
std::vector<NamedTensor> PyTorchTensors(const Model& model);

// The fitted feature transforms as JSON, enough for a program without mtrec to encode raw input exactly as
// FeaturePipeline::Encode does: per feature (config order) its column, kind, place in the model input, embedding
// table, vocabulary or hashing, separator and pooling, numeric parameters; and the strings read as missing. The
// shape is documented in docs/model_format.md ("The features entry").
std::string FeaturesJson(const FeaturePipeline& pipeline);

// format = "pt", mtrec_version, model_format_version, arch, tasks (names in output order, comma-separated), config
// (the resolved config as TOML) and features (FeaturesJson).
SafetensorsMetadata ExportMetadata(const Config& config, const FeaturePipeline& pipeline);

// WriteSafetensors of PyTorchTensors(model) with ExportMetadata(config, pipeline).
void ExportSafetensors(const std::string& path, const Config& config, const FeaturePipeline& pipeline,
                       const Model& model);

}  // namespace mtrec
