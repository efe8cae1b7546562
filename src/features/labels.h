// What the labels of each binary task look like in one file, and the checks built on that. A label rule that
// matches no training row, or a file that spells its labels unlike the training file, would otherwise train or
// evaluate a task of one class in silence (AUC nan, exit 0). The training file's counts are kept in the model file,
// so that `eval` compares a new file with them.
//
//   std::vector<LabelCounts> train_counts = CountLabels(config, train_table);
//   for (const auto& w : CheckTrainingLabels(config, train_counts, train_table.path())) LogWarning("{}", w);
//   for (const auto& w : LabelShiftWarnings(config, train_counts, CountLabels(config, test), test.path())) ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/column_table.h"

namespace mtrec {

class Communicator;

// Values of a label column kept per task (in the model file too) for messages.
inline constexpr size_t kLabelValuesKept = 5;

struct LabelCounts {
  std::string task;
  int64_t rows = 0;       // rows with a label, missing ones left out
  int64_t positives = 0;  // rows labelled 1
  // A rule task's column: its most frequent values (at most kLabelValuesKept, most rows first) and how many
  // distinct values it has.
  std::vector<ValueCount> values;
  int64_t distinct = 0;
  // The rule's values that no row of this file holds, each with the file's value it most likely misspells ("" when
  // none is close). Not kept in the model file.
  std::vector<std::pair<std::string, std::string>> unmatched;
};

bool HasLabelRule(const TaskConfig& task);

// The rule as the config writes it: `positive = ["a", "b"]` or `equals = "a"`.
std::string LabelRuleText(const TaskConfig& task);

// The label each value of a rule task's column stands for, by dictionary code: 1 when the rule names the value,
// NaN for a data.na_values spelling (missing), else 0.
std::vector<float> RuleLabels(const TaskConfig& task, const std::vector<std::string>& na_values, const Column& column);

// The counts of every binary task, in config order, from the label columns of `table` (read with
// FeaturePipeline::Requests).
std::vector<LabelCounts> CountLabels(const Config& config, const ColumnTable& table);
// The counts of the file whose consecutive parts the ranks of `world` hold, in rank order (LoadTableShare): the
// same on every rank as CountLabels of the whole file. A collective.
std::vector<LabelCounts> CountLabels(const Config& config, const ColumnTable& part, Communicator& world);

// Throws Error when a task's rule matches no row of the training file, naming the task, the rule, the column and its
// most frequent values; returns warnings for a rule value that matches nothing while others do, and for a task whose
// labels are all 0 or all 1 (it cannot learn, and its AUC is undefined).
std::vector<std::string> CheckTrainingLabels(const Config& config, const std::vector<LabelCounts>& train,
                                             const std::string& path);

// Warnings for the tasks whose labels in a validation, test or eval file (`path`) are all 0 or all 1 where the
// training file had both classes (or where its counts are unknown: `train` is empty for a model file written
// before they were kept).
std::vector<std::string> LabelShiftWarnings(const Config& config, const std::vector<LabelCounts>& train,
                                            const std::vector<LabelCounts>& file, const std::string& path);

}  // namespace mtrec
