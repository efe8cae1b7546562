// Small numeric helpers shared by training, prediction and serving, so that a module which only scores (serve/)
// does not depend on the one that trains.
//
//   float p = Sigmoid(logit);   // a binary task's probability from its output
#pragma once

namespace mtrec {

// 1 / (1 + e^-x) without overflow for large |x|.
float Sigmoid(float x);

}  // namespace mtrec
