// What a task's output column stands for, in one place for `predict`, evaluation, the server and training: a
// binary task's output is a logit (its prediction σ(s)), a count loss's is s = log μ (its prediction e^s, never
// negative), any other regression's is the prediction itself.
//
//   const OutputLink link = LinkOf(task);
//   float prediction = ApplyLink(link, output);        // what `predict` writes and the server answers
//   double output = InverseLink(link, prediction);     // back: the output a prediction stands for
#pragma once

#include <cstdint>

#include "common/config.h"
#include "common/math.h"

namespace mtrec {

enum class OutputLink : uint8_t { kIdentity, kSigmoid, kExp };

OutputLink LinkOf(const TaskConfig& task);
float ApplyLink(OutputLink link, float output);
// The inverse of ApplyLink; a probability of 0 or 1, or a mean of 0, maps to an infinite output.
double InverseLink(OutputLink link, double prediction);

}  // namespace mtrec
