#include "data/config_draft.h"

#include <algorithm>
#include <set>

#include "common/error.h"
#include "common/strings.h"

namespace mtrec {
namespace {

constexpr size_t kCommentWidth = 118;
// Below this many rows a batch of 512 leaves too few steps per epoch.
constexpr int64_t kSmallFileRows = 50000;

bool IsMissingValue(const std::set<std::string, std::less<>>& na, std::string_view value) {
  return na.count(value) > 0;
}

// "# " lines of at most kCommentWidth columns. Line breaks inside (a quoted value in a reason) become spaces, so
// that nothing in the text can end the comment.
void Comment(std::string& out, std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  std::string line = "#";
  for (std::string_view word : Split(text, " ")) {
    if (word.empty()) continue;
    if (line.size() + 1 + word.size() > kCommentWidth && line.size() > 1) {
      out += line + "\n";
      line = "#";
    }
    line += " ";
    line += word;
  }
  out += line + "\n";
}

// A TOML array of strings on one line when it fits, else one value a line.
std::string TomlList(const std::vector<std::string>& values, size_t indent) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + QuoteToml(values[i]);
  out += "]";
  if (indent + out.size() <= kCommentWidth) return out;
  out = "[\n";
  for (const std::string& value : values) out += "  " + QuoteToml(value) + ",\n";
  return out + "]";
}

std::string Share(int64_t part, int64_t whole) {
  return fmt::format("{:.1f}%", whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
}

// "'- 50000.' (93.8%), '50000+.' (6.2%)": the most frequent values of a column, for label messages.
std::string MostFrequent(const ColumnSample& column, size_t n = 5) {
  std::string out;
  for (size_t i = 0; i < std::min(n, column.values.size()); ++i) {
    out +=
        fmt::format("{}'{}' ({})", i ? ", " : "", column.values[i].first, Share(column.values[i].second, column.rows));
  }
  return out;
}

struct Task {
  std::string name;
  std::string column;
  TaskKind kind = TaskKind::kBinary;
  std::vector<std::string> positive;
  std::string reason;
};

// Resolves one --label against the sample: which column, which task, and checks that it makes a label.
Task ResolveLabel(const LabelSpec& label, const CsvSample& sample, const std::set<std::string, std::less<>>& na) {
  std::vector<std::string> names;
  for (const ColumnSample& column : sample.columns) names.push_back(column.name);
  auto find = [&](std::string_view name) -> const ColumnSample* {
    for (const ColumnSample& column : sample.columns) {
      if (column.name == name) return &column;
    }
    return nullptr;
  };
  Task task;
  const ColumnSample* column = find(label.target);
  if (column != nullptr) {
    task.name = FeatureNameOf(label.target);
  } else if (size_t colon = label.target.find(':'); colon != std::string::npos) {
    column = find(label.target.substr(colon + 1));
    task.name = label.target.substr(0, colon);
  }
  if (column == nullptr) {
    const std::string wanted = label.target.substr(label.target.find(':') + 1);
    Fail("--label '{}': '{}' has no column '{}'{}; its columns: {}{}", label.text, sample.path, wanted,
         DidYouMeanSuffix(wanted, names),
         QuotedList(std::vector<std::string>(names.begin(), names.begin() + std::min<size_t>(names.size(), 12))),
         names.size() > 12 ? ", ..." : "");
  }
  MTREC_CHECK(!task.name.empty(), "--label '{}': the task name before ':' is empty", label.text);
  task.column = column->name;

  int64_t present = 0;
  for (const auto& [value, count] : column->values) present += IsMissingValue(na, value) ? 0 : count;
  if (!label.positive.empty()) {
    std::vector<std::string> values;
    for (const auto& v : column->values) values.push_back(v.first);
    int64_t positive_rows = 0;
    for (const std::string& wanted : label.positive) {
      auto found =
          std::find_if(column->values.begin(), column->values.end(), [&](const auto& v) { return v.first == wanted; });
      MTREC_CHECK(found != column->values.end(),
                  "--label '{}': no sampled row of '{}' has '{}' = '{}'{}; its most frequent values: {}", label.text,
                  sample.path, column->name, wanted, DidYouMeanSuffix(wanted, values), MostFrequent(*column));
      positive_rows += found->second;
    }
    MTREC_CHECK(positive_rows < present,
                "--label '{}': every sampled row with a value has '{}' in {}: the task would have no negatives; its "
                "most frequent values: {}",
                label.text, column->name, QuotedList(label.positive), MostFrequent(*column));
    task.kind = TaskKind::kBinary;
    task.positive = label.positive;
    task.reason = fmt::format("binary: 1 where '{}' is {} ({} of sampled rows), else 0", column->name,
                              QuotedList(label.positive), Share(positive_rows, column->rows));
    return task;
  }

  // The column read as a number.
  bool binary = true;
  int64_t ones = 0;
  std::set<double> distinct;
  for (const auto& [value, count] : column->values) {
    if (IsMissingValue(na, value)) continue;
    const std::optional<double> number = ParseDouble(value);
    if (!number) {
      // The least frequent of the common values is the likelier positive class ("50000+." rather than "- 50000.").
      const std::string example = column->values.size() > 1 ? column->values[1].first : value;
      Fail(
          "--label '{}': '{}' holds text ('{}'), not numbers: give the values that count as positive, e.g. "
          "--label '{}={}'; its most frequent values: {}",
          label.text, column->name, value, label.target, example, MostFrequent(*column));
    }
    distinct.insert(*number);
    binary = binary && (*number == 0.0 || *number == 1.0);
    ones += *number == 1.0 ? count : 0;
  }
  MTREC_CHECK(distinct.size() >= 2, "--label '{}': '{}' has {} in the sample, nothing to learn; its values: {}",
              label.text, column->name, distinct.empty() ? "no value" : "a single value", MostFrequent(*column));
  if (binary) {
    task.kind = TaskKind::kBinary;
    task.reason = fmt::format("binary: the column's 0/1 ({} of sampled rows are 1)", Share(ones, column->rows));
  } else {
    task.kind = TaskKind::kRegression;
    task.reason = fmt::format("regression on the column's numbers, {} to {} (mean squared error)", *distinct.begin(),
                              *distinct.rbegin());
  }
  return task;
}

struct Feature {
  std::string name;
  std::string column;
  FeatureKind kind = FeatureKind::kCategorical;
  bool log1p = false;
  int64_t buckets = 0;
  int64_t min_count = 1;
  int64_t hash_buckets = 0;
  std::string separator;
  std::string comment;  // over the feature, when it is not the column's first
};

std::vector<Feature> FeaturesOf(const ColumnSchema& schema, const std::string& name) {
  std::vector<Feature> features;
  Feature base;
  base.name = name;
  base.column = schema.name;
  switch (schema.kind) {
    case ColumnKind::kNumeric: {
      base.kind = FeatureKind::kNumeric;
      base.log1p = schema.log1p;
      features.push_back(base);
      Feature copy;
      copy.column = schema.name;
      if (schema.buckets > 0 && schema.integer && schema.buckets == schema.distinct) {
        copy.name = name + "_value";
        copy.kind = FeatureKind::kCategorical;
        copy.comment = "Each value of the same column its own embedding row.";
        features.push_back(copy);
      } else if (schema.buckets > 0) {
        copy.name = name + "_bucket";
        copy.kind = FeatureKind::kNumeric;
        copy.buckets = schema.buckets;
        copy.comment =
            "The same column as equal-frequency buckets with an embedding each: a non-linear effect or a "
            "threshold that a standardised number hides.";
        features.push_back(copy);
      }
      break;
    }
    case ColumnKind::kCategorical:
    case ColumnKind::kId:
      base.kind = FeatureKind::kCategorical;
      base.min_count = schema.min_count;
      base.hash_buckets = schema.hash_buckets;
      features.push_back(base);
      break;
    case ColumnKind::kMultiValued:
      base.kind = FeatureKind::kMultiCategorical;
      base.min_count = schema.min_count;
      base.separator = schema.separator;
      features.push_back(base);
      break;
    case ColumnKind::kDate:
    case ColumnKind::kConstant:
    case ColumnKind::kUnique:
    case ColumnKind::kEmpty:
      break;
  }
  return features;
}

void WriteFeature(std::string& out, const Feature& feature) {
  out += "[[features]]\n";
  out += "name = " + QuoteToml(feature.name) + "\n";
  if (feature.column != feature.name) out += "column = " + QuoteToml(feature.column) + "\n";
  out += "kind = " + QuoteToml(std::string(NameOf(feature.kind))) + "\n";
  if (feature.log1p) out += "log1p = true\n";
  if (feature.buckets > 0) out += fmt::format("buckets = {}\n", feature.buckets);
  if (feature.min_count > 1) out += fmt::format("min_count = {}\n", feature.min_count);
  if (feature.hash_buckets > 0) out += fmt::format("hash_buckets = {}\n", feature.hash_buckets);
  if (!feature.separator.empty() && feature.separator != FeatureConfig().separator) {
    out += "separator = " + QuoteToml(feature.separator) + "\n";
  }
  out += "\n";
}

}  // namespace

LabelSpec ParseLabelSpec(std::string_view text) {
  LabelSpec label;
  label.text = std::string(text);
  const size_t equals = text.find('=');
  label.target = std::string(Trim(text.substr(0, equals)));
  MTREC_CHECK(!label.target.empty(), "--label '{}': no column before '=' (expected [TASK:]COLUMN[=VALUE,...])", text);
  if (equals == std::string_view::npos) return label;
  ForEachPart(text.substr(equals + 1), ",", [&](std::string_view value) {
    value = Trim(value);
    if (!value.empty()) label.positive.emplace_back(value);
  });
  MTREC_CHECK(!label.positive.empty(), "--label '{}': no value after '=' (expected [TASK:]COLUMN=VALUE[,VALUE...])",
              text);
  return label;
}

ConfigDraft DraftConfig(const CsvSample& sample, const std::vector<LabelSpec>& labels, const DraftOptions& options) {
  MTREC_CHECK(!labels.empty(), "no label: give at least one --label COLUMN (or COLUMN=VALUE) to learn");
  std::vector<std::string> na_values = DataConfig().na_values;
  InferenceContext context{.file_rows = sample.file_rows, .delimiter = sample.delimiter, .na_values = na_values};
  ConfigDraft draft;
  std::vector<Task> tasks;
  {
    const std::set<std::string, std::less<>> na(na_values.begin(), na_values.end());
    std::set<std::string> task_names;
    for (const LabelSpec& label : labels) {
      Task task = ResolveLabel(label, sample, na);
      MTREC_CHECK(task_names.insert(task.name).second,
                  "--label '{}': a task named '{}' is already defined; name it with --label NAME:{}", label.text,
                  task.name, label.target.substr(label.target.find(':') + 1));
      tasks.push_back(std::move(task));
    }
  }
  for (const ColumnSample& column : sample.columns) {
    ColumnDecision decision;
    decision.schema = InferColumn(column, context);
    for (const Task& task : tasks) {
      if (task.column != column.name) continue;
      decision.task += (decision.task.empty() ? "" : ", ") + task.name;
      decision.label_reason += (decision.label_reason.empty() ? "" : "; ") + task.reason;
    }
    draft.columns.push_back(std::move(decision));
  }
  // NA-like spellings found among a feature's numbers join data.na_values: the reader applies them to every column.
  std::set<std::string> spellings;
  for (const ColumnDecision& decision : draft.columns) {
    if (!decision.task.empty()) continue;
    spellings.insert(decision.schema.na_spellings.begin(), decision.schema.na_spellings.end());
  }
  for (const std::string& spelling : spellings) {
    if (std::find(na_values.begin(), na_values.end(), spelling) == na_values.end()) na_values.push_back(spelling);
  }

  // Features, named after their columns in snake_case, unique.
  std::set<std::string> used;
  std::vector<std::pair<const ColumnDecision*, std::vector<Feature>>> features;
  std::vector<const ColumnDecision*> left_out;
  for (ColumnDecision& decision : draft.columns) {
    if (!decision.task.empty()) continue;
    if (IsLeftOut(decision.schema.kind)) {
      left_out.push_back(&decision);
      continue;
    }
    std::string name = FeatureNameOf(decision.schema.name);
    for (int k = 2; used.count(name) || used.count(name + "_value") || used.count(name + "_bucket"); ++k) {
      name = fmt::format("{}_{}", FeatureNameOf(decision.schema.name), k);
    }
    std::vector<Feature> made = FeaturesOf(decision.schema, name);
    for (const Feature& feature : made) {
      used.insert(feature.name);
      decision.features.push_back(feature.name);
    }
    features.emplace_back(&decision, std::move(made));
  }
  MTREC_CHECK(!features.empty(), "'{}': no column is left to learn from: every column is a label or left out",
              sample.path);

  int binary_tasks = 0;
  for (const Task& task : tasks) binary_tasks += task.kind == TaskKind::kBinary;
  const bool several = tasks.size() > 1;
  const bool small = sample.file_rows < kSmallFileRows;

  std::string out;
  Comment(out, fmt::format("Written by `mtrec init` from a sample of {} rows of '{}' (about {} rows). Every choice "
                           "below says why; change what you know better.",
                           sample.sampled_rows, sample.path, sample.file_rows));
  out += "\n";
  // [data]
  if (sample.header) {
    Comment(out, "The first line holds the column names (" + sample.header_reason + ").");
  } else {
    Comment(out, "No header line (" + sample.header_reason + ")" +
                     (sample.names_generated ? ": the columns are named c0, c1, ... here; rename them in "
                                               "data.columns (and below), or rerun mtrec init with --columns a,b,c."
                                             : ": the names come from --columns."));
  }
  out += "[data]\n";
  out += "train = " + QuoteToml(options.train) + "\n";
  std::string validation;
  if (!options.valid.empty()) {
    out += "valid = " + QuoteToml(options.valid) + "\n";
    validation = fmt::format("validation: '{}', each epoch; the epoch with the best validation {} is kept",
                             options.valid, binary_tasks ? "AUC" : "loss");
  }
  if (!options.test.empty()) {
    out += "test = " + QuoteToml(options.test) + "\n";
    if (options.valid.empty()) {
      Comment(out,
              "No validation file: half of the test file's rows (a seeded shuffle) validate each epoch and "
              "choose the kept epoch, the other half is the test.");
      out += "valid_from_test = 0.5\nsplit_seed = 1\n";
      validation = fmt::format("validation: half of '{}' (data.valid_from_test = 0.5), the other half is the test",
                               options.test);
    }
  }
  if (validation.empty()) {
    Comment(out,
            "No held-out file: 10% of the training file's rows (a seeded shuffle) validate each epoch and choose "
            "the kept epoch, another 10% are the test; vocabularies and scalers see the rest only. `mtrec eval "
            "--part test --data` on the training file scores the same test rows again.");
    out += "valid_fraction = 0.1\ntest_fraction = 0.1\nsplit_seed = 1\n";
    validation =
        "validation: 10% of the training file (data.valid_fraction = 0.1) and 10% more as the test "
        "(data.test_fraction = 0.1); --valid FILE or --test FILE to hold out files instead";
  }
  out += "delimiter = " + QuoteToml(sample.delimiter) + "\n";
  if (!sample.header) {
    out += "header = false\n";
    out += "columns = " +
           TomlList(
               [&] {
                 std::vector<std::string> names;
                 for (const ColumnSample& column : sample.columns) names.push_back(column.name);
                 return names;
               }(),
               10) +
           "\n";
  }
  if (!spellings.empty()) {
    Comment(out, fmt::format("{} stand for a missing number in this file.",
                             QuotedList(std::vector<std::string>(spellings.begin(), spellings.end()))));
    out += "na_values = " + TomlList(na_values, 12) + "\n";
  }
  out += "\n";

  // [[features]]
  for (const auto& [decision, made] : features) {
    Comment(out, fmt::format("'{}': {}: {}.", decision->schema.name, ColumnKindName(decision->schema.kind),
                             decision->schema.reason));
    for (const Feature& feature : made) {
      if (!feature.comment.empty()) Comment(out, feature.comment);
      WriteFeature(out, feature);
    }
  }
  if (!left_out.empty()) {
    Comment(out, "Columns left out:");
    for (const ColumnDecision* decision : left_out) {
      Comment(out, fmt::format("  '{}': {}: {}.", decision->schema.name, ColumnKindName(decision->schema.kind),
                               decision->schema.reason));
    }
    out += "\n";
  }

  // [[tasks]]
  for (const Task& task : tasks) {
    Comment(out, fmt::format("--label {}: {}.",
                             task.name == FeatureNameOf(task.column) ? task.column : task.name + ":" + task.column,
                             task.reason));
    out += "[[tasks]]\n";
    out += "name = " + QuoteToml(task.name) + "\n";
    if (task.column != task.name) out += "column = " + QuoteToml(task.column) + "\n";
    out += "kind = " + QuoteToml(std::string(NameOf(task.kind))) + "\n";
    if (!task.positive.empty()) out += "positive = " + TomlList(task.positive, 11) + "\n";
    out += "\n";
  }

  // [model]
  std::string arch_note;
  if (several) {
    Comment(out,
            "Several tasks: MMoE, experts shared by the tasks with a gate per task, so that tasks that disagree "
            "do not have to share one representation (on Census-Income the gated architectures led shared-bottom "
            "on income AUC, examples/census/README.md). Embeddings 8 wide, as there.");
    out +=
        "[model]\narch = \"mmoe\"\nembedding_dim = 8\nexperts = 4\nexpert = [256, 128]\ntower = [32]\n"
        "dropout = 0.1\n\n";
    arch_note =
        fmt::format("model: mmoe ({} tasks: 4 shared experts with a gate per task), embeddings 8 wide", tasks.size());
  } else {
    Comment(out,
            "One task: a shared-bottom network is a plain MLP under the task's tower; experts and gates would "
            "have nothing to arbitrate. Embeddings 8 wide, as in examples/census.");
    out += "[model]\narch = \"shared_bottom\"\nembedding_dim = 8\nbottom = [256, 128]\ntower = [32]\ndropout = 0.1\n\n";
    arch_note = "model: shared_bottom (one task: an MLP under its tower), embeddings 8 wide";
  }

  // [train]
  Comment(out,
          fmt::format(
              "10 epochs with both learning rates on a cosine down to 5% of their start (on "
              "Census-Income it beat a constant rate); batches of {}.{}",
              small ? 128 : 512,
              small ? fmt::format(" Small batches: about {} rows give few steps per epoch.", sample.file_rows) : ""));
  out += fmt::format(
      "[train]\nepochs = 10\nbatch_size = {}\nlr = 0.001\nlr_schedule = \"cosine\"\n"
      "final_lr_ratio = 0.05\n",
      small ? 128 : 512);
  if (binary_tasks == 0) {
    Comment(out, "No binary task: the kept epoch is the one with the lowest validation loss.");
    out += "early_stop_metric = \"loss\"\n";
  }
  if (binary_tasks > 0 && binary_tasks < static_cast<int>(tasks.size())) {
    Comment(out,
            "Binary and regression tasks together: each loss divided by its constant predictor's, so that a "
            "regression in large units does not drown the logloss.");
    out += "normalize_losses = true\n";
  }
  out += "seed = 1\n";

  draft.toml = std::move(out);
  draft.notes.push_back(arch_note);
  draft.notes.push_back(validation);
  draft.config = ParseConfig(draft.toml, "mtrec init");
  return draft;
}

}  // namespace mtrec
