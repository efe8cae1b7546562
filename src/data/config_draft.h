// The first config of `mtrec init`: from a sample of the training file (schema_inference.h) and the label
// definitions, a feature for every column worth reading (and the reason for every one left out), the tasks, the
// model and the training, written as commented TOML that `mtrec train` reads as it is.
//
//   CsvSample sample = ReadCsvSample("census.data.xz", SampleOptions{});
//   std::vector<LabelSpec> labels = {ParseLabelSpec("income:c41=50000+.")};
//   ConfigDraft draft = DraftConfig(sample, labels, DraftOptions{.train = "census.data.xz"});
//   WriteFileAtomic("config.toml", draft.toml);   // draft.config is the same text parsed
//
// Label syntax (--label): "COLUMN" reads the column as a number (binary when every value is 0 or 1, regression
// otherwise); "COLUMN=VALUE[,VALUE...]" makes a binary task that is 1 where the column holds one of the values;
// "TASK:COLUMN..." names the task (by default the column's name in snake_case).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "data/schema_inference.h"

namespace mtrec {

struct LabelSpec {
  std::string text;                   // as given, for messages
  std::string target;                 // before '=': "COLUMN" or "TASK:COLUMN", resolved against the file's columns
  std::vector<std::string> positive;  // after '=', split at ','; empty: the column read as a number
};

// Splits "[TASK:]COLUMN[=VALUE,...]" at the first '='; values are trimmed as the CSV reader trims fields. Throws
// Error for an empty column or an '=' with no value after it.
LabelSpec ParseLabelSpec(std::string_view text);

struct DraftOptions {
  std::string train;  // the data files as the config names them (relative to the config's folder)
  std::string valid;
  std::string test;
};

// What became of one column of the file.
struct ColumnDecision {
  ColumnSchema schema;
  std::string task;                   // non-empty: the label of this task (and no feature)
  std::string label_reason;           // what the task learns from the column
  std::vector<std::string> features;  // names of the features read from it
};

struct ConfigDraft {
  std::vector<ColumnDecision> columns;  // one per column of the file, in order
  std::vector<std::string> notes;       // the choices that are not about one column: model, validation
  std::string toml;
  Config config;  // toml, parsed and validated
};

// Infers every column, resolves the labels (Error: an unknown column with a "did you mean", a rule value that no
// sampled row holds, naming the most frequent values, a text column without a rule, a label without two classes)
// and writes the config.
ConfigDraft DraftConfig(const CsvSample& sample, const std::vector<LabelSpec>& labels, const DraftOptions& options);

}  // namespace mtrec
