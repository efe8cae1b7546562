// Expert utilisation: the mean weight each gate gives each of its experts over the inference rows since the last
// reset, which `eval` and the training log print (with the effective number of experts, eval/gate_report.h). An
// architecture with gates adds each gate once when it is built and records each inference batch's weights:
//
//   int usage = gate_usage_.AddGate("level0.click", {"shared.0", "shared.1", "click.0"});
//   if (mode == Mode::kInfer) gate_usage_.Record(usage, weights);   // rows × the gate's experts
//   if (mode == Mode::kInfer) gate_usage_.AddRows(n);               // once per batch, after every gate
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/tensor.h"

namespace mtrec {

// One gate's utilisation: which gate (e.g. "click" or "level1.click"), the experts it weighs, and the mean weight
// it gave each of them.
struct GateUsage {
  std::string gate;
  std::vector<std::string> experts;
  std::vector<double> mean_weight;
};

class GateUsageLog {
 public:
  // Adds a gate that weighs `experts`; returns its index for Record. Gates are reported in the order added.
  int AddGate(std::string gate, std::vector<std::string> experts);
  // Adds weights' column sums to gates first, ..., first + gates - 1, whose experts weights holds side by side (rows ×
  // their experts, exactly).
  void Record(int first, const Tensor& weights, int gates = 1);
  void AddRows(int64_t rows) { rows_ += rows; }
  // Each gate's sums divided by the rows counted (0 before any row).
  std::vector<GateUsage> Usages() const;
  void Reset();

 private:
  std::vector<GateUsage> gates_;           // mean_weight empty here: Usages() fills it from sums_
  std::vector<std::vector<double>> sums_;  // per gate, per expert
  int64_t rows_ = 0;
};

}  // namespace mtrec
