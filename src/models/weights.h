// All weights of a model (dense parameters and embedding tables) as one binary blob, each tensor under its
// name and shape, so a blob only loads into a model of the same structure. Used by model files, checkpoints and
// the trainer's best-epoch snapshot.
//
//   std::string blob = SerializeWeights(model);
//   LoadWeights(other_model, blob);          // Error naming the first tensor that differs in name or shape
//   for (const WeightView& w : ListWeights(model)) Use(w.name, w.rows, w.cols, w.data);   // the same tensors
#pragma once

#include <memory>

#include "common/binary.h"
#include <string>
#include <string_view>
#include <vector>

#include "models/model.h"

namespace mtrec {

std::string SerializeWeights(const Model& model);
// The same bytes as pieces, the weights viewed in the model (which must not change until they are written): a model
// file is written without a copy of a large embedding table.
void WriteWeights(const Model& model, PieceWriter& w);
void LoadWeights(Model& model, std::string_view blob);
// The same, but the embedding tables read their rows where they lie in `blob`, inside memory `owner` keeps alive
// (a served model file's bytes), instead of copies: a served model holds its tables once, and loading one takes
// the file's size, not twice it. The tables must not be written then.
void LoadWeightsInPlace(Model& model, std::string_view blob, std::shared_ptr<const void> owner);
// The name and shape of every tensor in a blob, in order, read without copying values; Error when the blob is
// truncated or a tensor holds other than rows × cols values. For checking a config against a file's weights
// before the model it describes is built (see ExpectedParameters).
std::vector<ParameterShape> ReadWeightShapes(std::string_view blob);

// One weight of a model as stored (rows × cols, row-major), for exports and comparisons.
struct WeightView {
  std::string_view name;
  int64_t rows;
  int64_t cols;
  const float* data;
  const ParameterInfo* info;  // a dense parameter's metadata (layout of linear weights); null for an embedding table
};

// Every weight in the order of SerializeWeights: the dense parameters in arena order, then the embedding tables.
// The views point into `model`.
std::vector<WeightView> ListWeights(const Model& model);

}  // namespace mtrec
