#include "models/predict.h"

#include <cmath>

#include "common/math.h"
#include "features/batcher.h"
#include "models/output_link.h"
#include "models/task_outputs.h"

namespace mtrec {

std::vector<std::vector<float>> Predict(Model& model, const Config& config, const EncodedData& data,
                                        std::vector<std::vector<float>>* conditional,
                                        std::vector<std::vector<float>>* outputs) {
  const TaskOutputs task_outputs(config);
  const auto& columns = task_outputs.prediction_columns();
  const auto tasks = static_cast<int64_t>(config.tasks.size());
  std::vector<std::vector<float>> predictions(columns.size(), std::vector<float>(data.rows));
  if (conditional) conditional->assign(tasks, std::vector<float>(data.rows));
  if (outputs) outputs->assign(task_outputs.columns(), std::vector<float>(data.rows));
  BatchStream stream(data, model.max_batch(), SequentialOrder(data.rows));
  int64_t row = 0;
  while (const Batch* batch = stream.Next()) {
    Tensor forward = model.Forward(*batch, Mode::kInfer);
    Tensor body = model.Conditional(batch->size);
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::vector<float>* treatment =
          columns[c].task < std::ssize(batch->treatment) && !batch->treatment[columns[c].task].empty()
              ? &batch->treatment[columns[c].task]
              : nullptr;
      for (int64_t b = 0; b < batch->size; ++b) {
        predictions[c][row + b] =
            static_cast<float>(task_outputs.Predict(c, forward.Row(b), treatment ? (*treatment)[b] : NAN));
      }
    }
    if (outputs) {
      for (int64_t j = 0; j < task_outputs.columns(); ++j) {
        for (int64_t b = 0; b < batch->size; ++b) (*outputs)[j][row + b] = forward.At(b, j);
      }
    }
    if (conditional) {
      for (int64_t k = 0; k < tasks; ++k) {
        const int64_t column = task_outputs.first(k);
        const bool chain = model.graph().IsChain(column);  // other tasks' body outputs are not predictions
        for (int64_t b = 0; b < batch->size; ++b) {
          (*conditional)[k][row + b] = chain ? Sigmoid(body.At(b, column)) : predictions[k][row + b];
        }
      }
    }
    row += batch->size;
  }
  return predictions;
}

}  // namespace mtrec
