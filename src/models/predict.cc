#include "models/predict.h"

#include "common/math.h"
#include "features/batcher.h"
#include "models/output_link.h"

namespace mtrec {

std::vector<std::vector<float>> Predict(Model& model, const Config& config, const EncodedData& data,
                                        std::vector<std::vector<float>>* conditional) {
  const int64_t tasks = model.tasks();
  std::vector<std::vector<float>> predictions(tasks, std::vector<float>(data.rows));
  if (conditional) conditional->assign(tasks, std::vector<float>(data.rows));
  BatchStream stream(data, model.max_batch(), SequentialOrder(data.rows));
  int64_t row = 0;
  while (const Batch* batch = stream.Next()) {
    Tensor outputs = model.Forward(*batch, Mode::kInfer);
    Tensor body = model.Conditional(batch->size);
    for (int64_t k = 0; k < tasks; ++k) {
      const OutputLink link = LinkOf(config.tasks[k]);
      const bool chain = model.graph().IsChain(k);  // other tasks' body outputs are not predictions (a ladder's)
      for (int64_t b = 0; b < batch->size; ++b) {
        predictions[k][row + b] = ApplyLink(link, outputs.At(b, k));
        if (conditional) (*conditional)[k][row + b] = chain ? Sigmoid(body.At(b, k)) : predictions[k][row + b];
      }
    }
    row += batch->size;
  }
  return predictions;
}

}  // namespace mtrec
