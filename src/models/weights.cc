#include "models/weights.h"

#include <algorithm>
#include <cstring>

#include "common/binary.h"
#include "common/error.h"

namespace mtrec {

void WriteWeights(const Model& model, PieceWriter& w) {
  const ParameterArena& arena = model.arena();
  const auto& tables = model.input().tables();
  w.Pod<uint32_t>(static_cast<uint32_t>(arena.Infos().size() + tables.size()));
  for (const auto& info : arena.Infos()) {
    w.String(info.name);
    w.Pod<int64_t>(info.rows);
    w.Pod<int64_t>(info.cols);
    w.ArrayView(arena.values() + info.offset, info.size());
  }
  for (const auto& table : tables) {
    w.String(table.name());
    w.Pod<int64_t>(table.rows());
    w.Pod<int64_t>(table.dim());
    w.ArrayView(table.data(), static_cast<size_t>(table.rows() * table.dim()));
  }
}

std::string SerializeWeights(const Model& model) {
  PieceWriter w;
  WriteWeights(model, w);
  return w.Join();
}

namespace {

// owner: null to copy the tables' rows, else what keeps `blob` alive for tables that view them in place.
void ReadWeights(Model& model, std::string_view blob, std::shared_ptr<const void> owner) {
  BinaryReader r(blob.data(), blob.size(), "weights");
  ParameterArena& arena = model.arena();
  auto& tables = model.input().tables();
  uint32_t count = r.Pod<uint32_t>();
  MTREC_CHECK(count == arena.Infos().size() + tables.size(), "the weights hold {} tensors, the model has {}", count,
              arena.Infos().size() + tables.size());
  // Into `into`, or (into null) the values' place in the blob into *in_place.
  auto load = [&](const std::string& name, int64_t rows, int64_t cols, float* into,
                  const float** in_place = nullptr) {
    std::string stored = r.String();
    int64_t stored_rows = r.Pod<int64_t>();
    int64_t stored_cols = r.Pod<int64_t>();
    MTREC_CHECK(stored == name && stored_rows == rows && stored_cols == cols,
                "the weights hold '{}' ({} × {}) where the model has '{}' ({} × {})", stored, stored_rows, stored_cols,
                name, rows, cols);
    size_t n = 0;
    const float* values = r.Array<float>(&n);
    MTREC_CHECK(n == static_cast<size_t>(rows * cols), "tensor '{}' holds {} values, expected {}", name, n, rows * cols);
    if (into) {
      std::memcpy(into, values, n * sizeof(float));
    } else {
      *in_place = values;
    }
  };
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    const auto& info = arena.Info(i);
    load(info.name, info.rows, info.cols, arena.Value(i));
  }
  for (auto& table : tables) {
    if (!owner) {
      load(table.name(), table.rows(), table.dim(), table.data());
      continue;
    }
    const float* values = nullptr;
    load(table.name(), table.rows(), table.dim(), nullptr, &values);
    table.ViewRowsIn(owner, values);
  }
}

}  // namespace

void LoadWeights(Model& model, std::string_view blob) { ReadWeights(model, blob, nullptr); }

void LoadWeightsInPlace(Model& model, std::string_view blob, std::shared_ptr<const void> owner) {
  MTREC_CHECK(owner != nullptr, "weights read in place need what keeps them alive");
  ReadWeights(model, blob, std::move(owner));
}

std::vector<ParameterShape> ReadWeightShapes(std::string_view blob) {
  BinaryReader r(blob.data(), blob.size(), "weights");
  const uint32_t count = r.Pod<uint32_t>();
  std::vector<ParameterShape> shapes;  // grown as read: `count` itself is not to be trusted with an allocation
  for (uint32_t i = 0; i < count; ++i) {
    ParameterShape shape;
    shape.name = r.String();
    shape.rows = r.Pod<int64_t>();
    shape.cols = r.Pod<int64_t>();
    size_t n = 0;
    r.Array<float>(&n);
    MTREC_CHECK(shape.rows > 0 && shape.cols > 0 && static_cast<uint64_t>(shape.rows) <= n / shape.cols &&
                    n == static_cast<size_t>(shape.rows) * static_cast<size_t>(shape.cols),
                "tensor '{}' ({} × {}) holds {} values", shape.name, shape.rows, shape.cols, n);
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

std::vector<WeightView> ListWeights(const Model& model) {
  const ParameterArena& arena = model.arena();
  std::vector<WeightView> weights;
  for (const auto& info : arena.Infos()) {
    weights.push_back({info.name, info.rows, info.cols, arena.values() + info.offset, &info});
  }
  for (const auto& table : model.input().tables()) {
    weights.push_back({table.name(), table.rows(), table.dim(), table.data(), nullptr});
  }
  return weights;
}

}  // namespace mtrec
