// Predictions of a model over a whole encoded file, and the batch size a model that predicts is built for.
//
//   std::unique_ptr<Model> model = CreateModel(config, pipeline.layout(), InferenceBatch(config));
//   std::vector<std::vector<float>> scores = Predict(*model, config, test);   // [task][row]
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/config.h"
#include "features/pipeline.h"
#include "models/model.h"

namespace mtrec {

// The fewest rows per forward pass of a model that predicts files or serves requests: prediction goes through a
// file in batches of the model's size, and a small training batch would make that many short passes.
inline constexpr int64_t kMinInferenceBatch = 4096;

// The batch size of a model built or loaded for training and prediction: the training batch (which it must hold),
// at least kMinInferenceBatch.
inline int64_t InferenceBatch(const Config& config) {
  return std::max<int64_t>(config.train.batch_size, kMinInferenceBatch);
}

// The prediction columns of TaskOutputs(config) in row order: first each task's prediction (column k is task k's:
// probabilities for binary tasks, values for regression tasks, e^output for the count losses, a ziln task's expected
// value, a treated task's for the row's arm), then the extras (ziln quantiles, uplift, ...; models/task_outputs.h);
// a chain task's is its unconditional probability. `conditional`, when given, receives p(task | parent) for chain tasks (the
// same as the prediction for other tasks; a masked task's prediction is already conditional). `outputs`, when given,
// receives the model's output columns as they are (logits, a ziln task's s, mu and r, per arm), [column][row].
std::vector<std::vector<float>> Predict(Model& model, const Config& config, const EncodedData& data,
                                        std::vector<std::vector<float>>* conditional = nullptr,
                                        std::vector<std::vector<float>>* outputs = nullptr);

}  // namespace mtrec
