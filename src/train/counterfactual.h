// ESCM²'s counterfactual regulariser (Wang et al., SIGIR 2022) on a chain task: besides its loss on p(task) over
// every row (ESMM), the conditional p(task | parent) is fitted to the risk it would have had if every row had
// reached the parent — if every impression had been clicked. The rows that did reach it stand for the others,
// each weighted by the inverse of the model's own p(parent) ô (the propensity; no gradient flows into it), clipped
// below at `clip`. Over the N rows with a parent label, with s the conditional logit, ŷ = σ(s), o the parent's
// label, r the task's, e = logloss(r, s) = softplus(s) − r·s:
//
//   ips:  R = (1/N)·Σ o·e/ô                                   dR/ds = (1/N)·(o/ô)·(ŷ − r)
//   dr:   R = (1/N)·Σ [ê + o·(e − ê)/ô],  ê = logloss(r̃, s)
//                                                           dR/ds = (1/N)·[(ŷ − r̃) + (o/ô)·(r̃ − r)]
//         I = (1/N)·Σ (o/ô)·logloss(r, u)                     dI/du = (1/N)·(o/ô)·(σ(u) − r)
//
// dr's imputed label r̃ = σ(u) comes from an imputation tower (the task's extra output column u, TaskOutputs), held
// constant in R and fitted by I on the parent's positives, inverse-propensity weighted. ê is the error the
// imputation expects, so the rows that never reached the parent pull ŷ towards r̃, and the reached ones correct
// by their weighted residual: R is unbiased when either ô or r̃ is right (logloss is linear in the label). Both
// terms are multiplied by the task's counterfactual_weight.
//
//   CounterfactualLink link = ...;                                     // from the config and TaskOutputs
//   CounterfactualValue v = CounterfactualRisk(link, conditional, outputs, parent_labels, labels, rows, diff);
#pragma once

#include <cstdint>

#include "common/names.h"
#include "nn/tensor.h"

namespace mtrec {

struct CounterfactualLink {
  CounterfactualKind kind = CounterfactualKind::kIps;
  int64_t column = 0;             // the task's conditional logit s (Model::Conditional)
  int64_t parent_column = 0;      // the parent's output, the logit of p(parent)
  int64_t imputation_column = -1;  // dr: the imputation tower's logit u
  float weight = 1.f;
  float clip = 0.05f;
};

struct CounterfactualValue {
  double risk_sum = 0;        // of the per-row terms of R, unscaled by the weight
  double imputation_sum = 0;  // of I's, likewise (dr)
  int64_t count = 0;          // rows with a parent label: N
};

// `conditional` and `outputs` are the model's (batch × columns); a NaN parent label leaves its row out, as does a
// NaN task label where the parent's is 1. Adds weight · dR/ds into diff's column `column` and weight · dI/du into
// `imputation_column` (diff is the gradient of the conditional outputs, Model::Backward's diff_conditional); with
// `normaliser` > 0 it replaces 1/N (the whole step's, across ranks).
CounterfactualValue CounterfactualRisk(const CounterfactualLink& link, const Tensor& conditional,
                                       const Tensor& outputs, const float* parent_labels, const float* labels,
                                       int64_t rows, const Tensor* diff, double normaliser = 0);

}  // namespace mtrec
