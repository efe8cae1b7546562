#include "models/output_link.h"

#include <cmath>

namespace mtrec {

OutputLink LinkOf(const TaskConfig& task) {
  if (task.kind == TaskKind::kBinary) return OutputLink::kSigmoid;
  return IsCountLoss(task.loss) ? OutputLink::kExp : OutputLink::kIdentity;
}

float ApplyLink(OutputLink link, float output) {
  switch (link) {
    case OutputLink::kSigmoid:
      return Sigmoid(output);
    case OutputLink::kExp:
      return std::exp(output);
    case OutputLink::kIdentity:
      return output;
  }
  return output;
}

double InverseLink(OutputLink link, double prediction) {
  switch (link) {
    case OutputLink::kSigmoid:
      return std::log(prediction) - std::log1p(-prediction);
    case OutputLink::kExp:
      return std::log(prediction);
    case OutputLink::kIdentity:
      return prediction;
  }
  return prediction;
}

}  // namespace mtrec
