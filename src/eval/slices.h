// Error analysis by slice: a task's metrics within each value of a column (household status, device, country), and
// which slices the task's error comes from. A model at 0.995 AUC still mis-orders some pairs; this says whose.
//
//   Slicing slicing = SliceRows("device", values, /*max_slices=*/20);   // the column's value of each row
//   TaskSlices s = EvaluateSlices(scores, slicing);
//   for (const auto& slice : s.slices) fmt::print("{} {:.4f} {:.1%}\n", slice.value, slice.auc, slice.error_share);
//
// The error share of a binary task: each positive–negative pair the model orders wrongly (the negative scored
// higher; a tie counts 1/2) is one unit of 1 − AUC, split half to the slice of each of its two rows. The shares
// of all slices sum to 1. A regression task's share is its share of the summed squared error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "eval/evaluation.h"

namespace mtrec {

// Each row's slice: ids 0..names.size()-1, in descending order of rows.
struct Slicing {
  std::string column;
  std::vector<std::string> names;
  std::vector<int32_t> slice_of_row;
};

// Slices of rows by their value (any string; "" is a value like the others). The `max_slices` values with the most
// rows get a slice each (ties: by value); when there are more, the rest share one slice named "(N other values)".
Slicing SliceRows(std::string column, std::span<const std::string> values, int64_t max_slices);

// Slices of rows by a number, in ascending order: each distinct value its own slice when there are at most
// `max_slices` of them, else at most `max_slices` ranges of about equal rows (a value never split between two),
// named "[lo, hi]" after the smallest and largest value inside; NaN rows last, as "(missing)".
Slicing SliceNumbers(std::string column, std::span<const float> values, int64_t max_slices);

struct SliceReport {
  std::string value;
  int64_t rows = 0;            // rows with a label (inside the task's sample space)
  double label_mean = 0.0;     // positive rate / target mean
  double mean_prediction = 0.0;
  double auc = 0.0;            // binary: AUC within the slice, NaN with one class
  double logloss = 0.0;        // binary
  double rmse = 0.0;           // regression
  double error_share = 0.0;    // see above; NaN when the task has no error at all
};

struct TaskSlices {
  std::string task;
  bool binary = true;
  std::vector<SliceReport> slices;  // in the slicing's order; slices without labelled rows are left out
};

// Rows with a NaN label, or outside the task's sample space when it has one, are left out.
TaskSlices EvaluateSlices(const TaskScores& task, const Slicing& slicing);

// For each row: a positive, the number of negatives scored above it; a negative, the number of positives scored
// below it; a tie counts 1/2; rows with a NaN label 0. The sum over rows is twice the mis-ordered pairs,
// (1 − AUC) · 2 · n+ · n−. O(n log n).
std::vector<double> MisorderedPairsPerRow(std::span<const float> scores, std::span<const float> labels);

}  // namespace mtrec
