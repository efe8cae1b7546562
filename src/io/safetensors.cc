#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "common/binary.h"
#include "common/error.h"
#include "common/files.h"
#include "io/model_file.h"
#include "models/weights.h"

#ifndef MTREC_VERSION
#error "MTREC_VERSION is defined by src/CMakeLists.txt from the CMake project version"
#endif

namespace mtrec {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kMetadataKey[] = "__metadata__";
constexpr uint64_t kFloatBytes = sizeof(float);
// The reference implementation refuses longer headers; so do we, before allocating anything for one.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

// product(shape), or false when a dimension is negative or the byte count overflows.
bool ElementCount(const std::vector<int64_t>& shape, uint64_t* count) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return false;
    const auto dim = static_cast<uint64_t>(d);
    if (dim != 0 && n > std::numeric_limits<uint64_t>::max() / kFloatBytes / dim) return false;
    n *= dim;
  }
  *count = n;
  return true;
}

std::string ShapeString(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Tensor ranges of a header, checked one by one, before the ranges are checked against each other.
struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

std::vector<int64_t> ParseShape(const Json& value, const std::string& path, const std::string& name) {
  MTREC_CHECK(value.is_array(), "'{}': tensor '{}': 'shape' is {}, expected an array of dimensions", path, name,
              value.dump());
  std::vector<int64_t> shape;
  for (const Json& dim : value) {
    MTREC_CHECK(dim.is_number_unsigned() && dim.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()},
                "'{}': tensor '{}': shape {} holds {}, expected non-negative integers", path, name, value.dump(),
                dim.dump());
    shape.push_back(dim.get<int64_t>());
  }
  return shape;
}

Entry ParseEntry(const std::string& name, const Json& value, const std::string& path) {
  MTREC_CHECK(value.is_object(), "'{}': tensor '{}' is {}, expected an object with dtype, shape and data_offsets", path,
              name, value.dump());
  for (const auto& [key, field] : value.items()) {
    MTREC_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
                "'{}': tensor '{}' has an unknown field '{}'; expected dtype, shape and data_offsets", path, name, key);
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    MTREC_CHECK(value.contains(key), "'{}': tensor '{}' has no '{}'", path, name, key);
  }
  const Json& dtype = value["dtype"];
  MTREC_CHECK(dtype.is_string() && dtype.get<std::string>() == "F32",
              "'{}': tensor '{}' has dtype {}; mtrec reads only F32 tensors", path, name, dtype.dump());
  Entry entry;
  entry.name = name;
  entry.shape = ParseShape(value["shape"], path, name);
  const Json& offsets = value["data_offsets"];
  MTREC_CHECK(
      offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
      "'{}': tensor '{}': data_offsets is {}, expected [begin, end] as non-negative integers", path, name,
      offsets.dump());
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  MTREC_CHECK(entry.begin <= entry.end, "'{}': tensor '{}': data_offsets [{}, {}] end before they begin", path, name,
              entry.begin, entry.end);
  uint64_t count = 0;
  MTREC_CHECK(ElementCount(entry.shape, &count), "'{}': tensor '{}': shape {} is too large", path, name,
              ShapeString(entry.shape));
  MTREC_CHECK(entry.end - entry.begin == count * kFloatBytes,
              "'{}': tensor '{}': data_offsets [{}, {}] hold {} bytes, but shape {} of F32 needs {}", path, name,
              entry.begin, entry.end, entry.end - entry.begin, ShapeString(entry.shape), count * kFloatBytes);
  return entry;
}

// JSON parsers keep one of two equal keys silently, so a file could show one reader a tensor that another reader
// does not see. This callback refuses a repeated key in any object of the header.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& path) : path_(path) {}
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        keys_.pop_back();
        break;
      case Json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        MTREC_CHECK(keys_.back().insert(key).second, "'{}': the header holds the key '{}' twice", path_, key);
        break;
      }
      default:
        break;
    }
    return true;
  }

 private:
  const std::string& path_;
  std::vector<std::set<std::string>> keys_;
};

// The model's weights as TensorRefs in PyTorch's layouts; `storage` owns the transposed copies the refs point to.
std::vector<TensorRef> PyTorchRefs(const Model& model, std::vector<std::vector<float>>* storage) {
  const std::vector<WeightView> weights = ListWeights(model);
  std::vector<TensorRef> refs;
  refs.reserve(weights.size());
  storage->reserve(weights.size());  // the refs point into its elements' buffers, which moves would keep anyway
  for (const WeightView& w : weights) {
    TensorRef ref{std::string(w.name), {w.rows, w.cols}, w.data};
    const ParameterInfo* info = w.info;
    if (info != nullptr && info->linear_weight) {
      // Stored: G blocks of in × out stacked by rows. PyTorch: y = x · Wᵀ + b with W out × in, per block.
      const int64_t groups = info->groups;
      const int64_t in = w.rows / groups;
      const int64_t out = w.cols;
      std::vector<float>& t = storage->emplace_back(static_cast<size_t>(w.rows * w.cols));
      for (int64_t g = 0; g < groups; ++g) {
        const float* block = w.data + g * in * out;
        float* dst = t.data() + g * out * in;
        for (int64_t i = 0; i < in; ++i) {
          for (int64_t o = 0; o < out; ++o) dst[o * in + i] = block[i * out + o];
        }
      }
      ref.shape = groups == 1 ? std::vector<int64_t>{out, in} : std::vector<int64_t>{groups, out, in};
      ref.data = t.data();
    } else if (info != nullptr && w.rows == 1 && w.name.ends_with(".bias")) {
      ref.shape = {w.cols};
    }
    refs.push_back(std::move(ref));
  }
  return refs;
}

}  // namespace

std::string SerializeSafetensors(std::span<const TensorRef> tensors, const SafetensorsMetadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json& meta = header[kMetadataKey];
    for (const auto& [key, value] : metadata) meta[key] = value;
  }
  uint64_t offset = 0;
  std::vector<uint64_t> bytes_of;
  for (const TensorRef& t : tensors) {
    MTREC_CHECK(!t.name.empty() && t.name != kMetadataKey, "cannot write a tensor named '{}' to safetensors", t.name);
    MTREC_CHECK(!header.contains(t.name), "tensor '{}' is written twice", t.name);
    uint64_t count = 0;
    MTREC_CHECK(ElementCount(t.shape, &count), "tensor '{}' has shape {}; expected non-negative dimensions", t.name,
                ShapeString(t.shape));
    MTREC_CHECK(count == 0 || t.data != nullptr, "tensor '{}' has no data", t.name);
    const uint64_t bytes = count * kFloatBytes;
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    bytes_of.push_back(bytes);
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {  // a name or metadata value that is not UTF-8
    Fail("cannot write the safetensors header: {}", e.what());
  }
  while ((sizeof(uint64_t) + text.size()) % 8 != 0) text.push_back(' ');  // data 8-byte aligned in the file

  BinaryWriter w;
  w.str().reserve(sizeof(uint64_t) + text.size() + offset);
  w.Pod<uint64_t>(text.size());
  w.Bytes(text);
  for (size_t i = 0; i < tensors.size(); ++i) {
    w.Bytes(std::string_view(reinterpret_cast<const char*>(tensors[i].data), bytes_of[i]));
  }
  return std::move(w.str());
}

void WriteSafetensors(const std::string& path, std::span<const TensorRef> tensors,
                      const SafetensorsMetadata& metadata) {
  WriteFileAtomic(path, SerializeSafetensors(tensors, metadata));
}

std::vector<NamedTensor> ParseSafetensors(std::string_view bytes, const std::string& path,
                                          SafetensorsMetadata* metadata) {
  MTREC_CHECK(bytes.size() >= sizeof(uint64_t),
              "'{}' is not a safetensors file: {} bytes, too short for the 8-byte header length", path, bytes.size());
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), sizeof(header_bytes));
  const uint64_t after_length = bytes.size() - sizeof(uint64_t);
  MTREC_CHECK(header_bytes <= after_length,
              "'{}' is truncated or not a safetensors file: its header length is {} bytes, but only {} bytes follow",
              path, header_bytes, after_length);
  MTREC_CHECK(header_bytes <= kMaxHeaderBytes, "'{}': header length {} is above the safetensors limit of {} bytes",
              path, header_bytes, kMaxHeaderBytes);
  const std::string_view text = bytes.substr(sizeof(uint64_t), header_bytes);
  MTREC_CHECK(!text.empty() && text.front() == '{',
              "'{}' is not a safetensors file: its header does not start with '{{'", path);

  Json header;
  try {
    header = Json::parse(text, DuplicateKeyCheck(path));
  } catch (const Json::exception& e) {
    Fail("'{}': the safetensors header is not valid JSON: {}", path, e.what());
  }
  MTREC_CHECK(header.is_object(), "'{}': the safetensors header is not a JSON object", path);

  const std::string_view data = bytes.substr(sizeof(uint64_t) + header_bytes);
  std::vector<Entry> entries;
  SafetensorsMetadata meta;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      MTREC_CHECK(value.is_object(), "'{}': __metadata__ is {}, expected an object of strings", path, value.dump());
      for (const auto& [key, text_value] : value.items()) {
        MTREC_CHECK(text_value.is_string(), "'{}': __metadata__ key '{}' is {}, expected a string", path, key,
                    text_value.dump());
        meta[key] = text_value.get<std::string>();
      }
      continue;
    }
    Entry entry = ParseEntry(name, value, path);
    MTREC_CHECK(entry.end <= data.size(),
                "'{}' is truncated: tensor '{}' ends at byte {} of the data, which holds {} bytes", path, name,
                entry.end, data.size());
    entries.push_back(std::move(entry));
  }

  // The ranges must tile the data exactly: sorted by position, each starts where the previous one ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t position = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < position) {
      Fail("'{}': tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", path, previous->name, previous->begin,
           previous->end, e.name, e.begin, e.end);
    }
    if (e.begin > position) {
      Fail("'{}': data bytes [{}, {}) before tensor '{}' belong to no tensor", path, position, e.begin, e.name);
    }
    position = e.end;
    previous = &e;
  }
  MTREC_CHECK(position == data.size(), "'{}': data bytes [{}, {}) after the last tensor belong to no tensor", path,
              position, data.size());

  std::vector<NamedTensor> tensors;
  tensors.reserve(entries.size());
  for (Entry& e : entries) {
    NamedTensor& t = tensors.emplace_back();
    t.name = std::move(e.name);
    t.shape = std::move(e.shape);
    t.data.resize((e.end - e.begin) / kFloatBytes);
    if (!t.data.empty()) std::memcpy(t.data.data(), data.data() + e.begin, e.end - e.begin);
  }
  if (metadata != nullptr) *metadata = std::move(meta);
  return tensors;
}

std::vector<NamedTensor> ReadSafetensors(const std::string& path, SafetensorsMetadata* metadata) {
  return ParseSafetensors(ReadFileBytes(path), path, metadata);
}

std::vector<NamedTensor> PyTorchTensors(const Model& model) {
  std::vector<std::vector<float>> storage;
  std::vector<NamedTensor> tensors;
  for (TensorRef& ref : PyTorchRefs(model, &storage)) {
    uint64_t count = 0;
    ElementCount(ref.shape, &count);
    tensors.push_back({std::move(ref.name), std::move(ref.shape), std::vector<float>(ref.data, ref.data + count)});
  }
  return tensors;
}

std::string FeaturesJson(const FeaturePipeline& pipeline) {
  const Config& config = pipeline.config();
  const InputLayout& layout = pipeline.layout();
  Json out = Json::object();
  out["version"] = 1;
  out["na_values"] = config.data.na_values;
  out["trim"] = config.data.trim;
  out["single_slots"] = layout.single_slots.size();
  out["multi_slots"] = layout.multi_slots.size();
  out["numeric_columns"] = layout.numeric_names;
  Json& features = out["features"] = Json::array();
  for (size_t i = 0; i < config.features.size(); ++i) {
    const FeatureConfig& feature = config.features[i];
    const FeaturePipeline::Placement placement = pipeline.PlacementOf(i);
    Json f = Json::object();
    f["name"] = feature.name;
    f["column"] = feature.column;
    f["kind"] = std::string(NameOf(feature.kind));
    const char* block = placement.kind == FeaturePipeline::Placement::kSingle  ? "single"
                        : placement.kind == FeaturePipeline::Placement::kMulti ? "multi"
                                                                               : "numeric";
    f["input"] = {{"block", block}, {"index", placement.index}};
    if (placement.kind == FeaturePipeline::Placement::kNumeric) {
      f["table"] = nullptr;
    } else {
      const int table = placement.kind == FeaturePipeline::Placement::kSingle
                            ? layout.single_slots[placement.index].table
                            : layout.multi_slots[placement.index].table;
      f["table"] = layout.tables[table].name;
    }
    if (feature.kind == FeatureKind::kNumeric) {
      const NumericTransform& t = pipeline.numeric(i);
      f["fill"] = t.fill();
      f["clip"] = t.clips() ? Json::array({t.clip_lo(), t.clip_hi()}) : Json(nullptr);
      f["log1p"] = t.log1p();
      f["standardize"] = t.standardizes();
      f["mean"] = t.mean();
      f["std"] = t.std();
      f["missing_flag"] = t.has_missing_flag();
      f["bucketised"] = t.bucketized();  // the export's documented key (docs/model_format.md)
      f["bounds"] = t.bounds();
    } else {
      f["share_with"] = feature.share_with.empty() ? Json(nullptr) : Json(feature.share_with);
      const FeatureConfig* owner = feature.share_with.empty() ? &feature : config.FindFeature(feature.share_with);
      if (owner->hash_buckets > 0) {
        f["hash_buckets"] = owner->hash_buckets;
      } else {
        f["vocabulary"] = pipeline.vocabulary(i).values();
      }
      if (feature.kind == FeatureKind::kMultiCategorical) {
        f["separator"] = feature.separator;
        f["pooling"] = std::string(NameOf(feature.pooling));
      }
    }
    features.push_back(std::move(f));
  }
  try {
    return out.dump();
  } catch (const Json::exception& e) {  // a vocabulary value that is not UTF-8
    Fail("cannot write the features metadata: {}", e.what());
  }
}

SafetensorsMetadata ExportMetadata(const Config& config, const FeaturePipeline& pipeline) {
  std::vector<std::string> tasks;
  for (const auto& task : config.tasks) tasks.push_back(task.name);
  return {
      {"format", "pt"},
      {"mtrec_version", MTREC_VERSION},
      {"model_format_version", std::to_string(kModelFormatVersion)},
      {"arch", std::string(NameOf(config.model.arch))},
      {"tasks", fmt::format("{}", fmt::join(tasks, ","))},
      {"config", ConfigToToml(config)},
      {"features", FeaturesJson(pipeline)},
  };
}

void ExportSafetensors(const std::string& path, const Config& config, const FeaturePipeline& pipeline,
                       const Model& model) {
  std::vector<std::vector<float>> storage;  // only the transposed weights are copied; the rest is written in place
  WriteSafetensors(path, PyTorchRefs(model, &storage), ExportMetadata(config, pipeline));
}

}  // namespace mtrec
