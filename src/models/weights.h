// All weights of a model (dense parameters and embedding tables) as one binary blob, each tensor under its
// name and shape, so a blob only loads into a model of the same structure. Used by model files, checkpoints and
// the trainer's best-epoch snapshot.
//
//   std::string blob = SerializeWeights(model);
//   LoadWeights(other_model, blob);          // Error naming the first tensor that differs in name or shape
#pragma once

#include <string>
#include <string_view>

#include "models/model.h"

namespace mtrec {

std::string SerializeWeights(const Model& model);
void LoadWeights(Model& model, std::string_view blob);

}  // namespace mtrec
