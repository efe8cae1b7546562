#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "data/config_draft.h"
#include "data/schema_inference.h"

namespace mtrec {
namespace {

struct InitOptions {
  std::string data;
  std::vector<std::string> labels;
  std::string out;
  bool force = false;
  std::string delimiter;
  std::string header = "auto";
  std::string columns;
  int64_t sample_rows = 100000;
  std::string valid;
  std::string test;
};

// A data file as the config names it: relative to the config's folder, as data paths in a config are. Without --out
// the config goes to stdout and paths stay as given, relative to where mtrec runs. Absolute paths stay absolute.
std::string PathFromConfig(const std::string& file, const std::string& out) {
  namespace fs = std::filesystem;
  if (out.empty() || fs::path(file).is_absolute()) return file;
  const fs::path base = fs::absolute(fs::path(out)).parent_path().lexically_normal();
  const fs::path relative = fs::absolute(file).lexically_normal().lexically_relative(base);
  return relative.empty() ? file : relative.string();
}

// "\t" typed on the command line is two characters; the config means a tab.
std::string Unescape(std::string text) {
  for (size_t pos = 0; (pos = text.find("\\t", pos)) != std::string::npos;) text.replace(pos, 2, "\t");
  return text;
}

std::string Shown(const std::string& delimiter) { return delimiter == "\t" ? "\\t" : delimiter; }

int RunInit(const InitOptions& options) {
  MTREC_CHECK(options.out.empty() || options.force || !FileExists(options.out),
              "'{}' exists: mtrec init does not overwrite it (add --force, or choose another --out)", options.out);
  for (const std::string* file : {&options.valid, &options.test}) {
    MTREC_CHECK(file->empty() || FileExists(*file), "cannot open '{}': No such file or directory", *file);
  }
  std::vector<LabelSpec> labels;
  for (const std::string& text : options.labels) labels.push_back(ParseLabelSpec(text));

  SampleOptions sample_options;
  sample_options.delimiter = Unescape(options.delimiter);
  sample_options.header = options.header == "true"    ? HeaderMode::kYes
                          : options.header == "false" ? HeaderMode::kNo
                                                      : HeaderMode::kAuto;
  ForEachPart(options.columns, ",", [&](std::string_view name) {
    if (!options.columns.empty()) sample_options.columns.emplace_back(Trim(name));
  });
  sample_options.sample_rows = options.sample_rows;
  const CsvSample sample = ReadCsvSample(options.data, sample_options);

  DraftOptions draft_options;
  draft_options.train = PathFromConfig(options.data, options.out);
  if (!options.valid.empty()) draft_options.valid = PathFromConfig(options.valid, options.out);
  if (!options.test.empty()) draft_options.test = PathFromConfig(options.test, options.out);
  const ConfigDraft draft = DraftConfig(sample, labels, draft_options);

  // With --out the report is the result on stdout; without, stdout carries the config and the report goes to stderr.
  std::FILE* report = options.out.empty() ? stderr : stdout;
  fmt::print(report, "read {} of about {} rows of {}: delimiter '{}'{}\n", sample.sampled_rows, sample.file_rows,
             options.data, Shown(sample.delimiter), sample.delimiter_sniffed ? " (found from the first lines)" : "");
  fmt::print(report, "{}: {}\n", sample.header ? "header" : "no header", sample.header_reason);
  if (sample.names_generated) {
    fmt::print(report, "columns named c0..c{}; give them names with --columns a,b,c (or edit data.columns)\n",
               sample.columns.size() - 1);
  }
  size_t width = 0;
  for (const ColumnDecision& column : draft.columns) width = std::max(width, column.schema.name.size());
  width = std::min<size_t>(width, 32);
  for (const ColumnDecision& column : draft.columns) {
    if (!column.task.empty()) {
      fmt::print(report, "  {:<{}}  {:<12}  task '{}': {}\n", column.schema.name, width, "label", column.task,
                 column.label_reason);
    } else {
      fmt::print(report, "  {:<{}}  {:<12}  {}\n", column.schema.name, width, ColumnKindName(column.schema.kind),
                 column.schema.reason);
    }
  }
  for (const std::string& note : draft.notes) fmt::print(report, "{}\n", note);
  if (options.out.empty()) {
    fmt::print("{}", draft.toml);
    return 0;
  }
  WriteFileAtomic(options.out, draft.toml);
  const size_t tasks = draft.config.tasks.size();
  fmt::print(report, "wrote {}: {} features, {} task{}; train it with: mtrec train --config {}\n", options.out,
             draft.config.features.size(), tasks, tasks == 1 ? "" : "s", options.out);
  return 0;
}

}  // namespace

RunCommand AddInitCommand(CLI::App& app) {
  auto options = std::make_shared<InitOptions>();
  CLI::App* command = app.add_subcommand(
      "init",
      "Write a first config for a CSV file: reads a sample of it, decides how each column is read (numbers, "
      "categories, ids, multi-valued fields; dates, constant and near-unique columns left out), prints each choice "
      "with its reason and writes a commented config that `mtrec train` trains as it is. Without --out the config "
      "goes to stdout and the report to stderr.\n\n"
      "--label COLUMN reads the column as a number (binary when it holds only 0 and 1, regression otherwise);\n"
      "--label COLUMN=VALUE[,VALUE...] is a binary task, 1 where the column holds one of the values;\n"
      "--label TASK:COLUMN[=...] names the task (default: the column's name in snake_case).\n\n"
      "Examples:\n"
      "  mtrec init --data train.csv --label click --label purchase --out config.toml\n"
      "  mtrec init --data census-income.data.xz --label 'income:c41=50000+.' --label 'never_married:c7=Never "
      "married' --out census.toml\n"
      "  mtrec init --data log.tsv.gz --delimiter '\\t' --header false --columns user,item,price,click "
      "--label click > config.toml");
  command->add_option("--data", options->data, "Training file (CSV/TSV, plain or .gz/.xz/.zst)")->required();
  command->add_option("--label", options->labels, "[TASK:]COLUMN[=VALUE,...]: a task's label; repeat for more tasks")
      ->required();
  command->add_option("--out", options->out, "Config file to write (default: print the config on stdout)");
  command->add_flag("--force", options->force, "Overwrite an existing --out");
  command->add_option("--delimiter", options->delimiter,
                      "Field separator, '\\t' for tab (default: the one of , tab ; | that splits the first lines "
                      "evenly)");
  command
      ->add_option("--header", options->header,
                   "Whether the first row names the columns; auto: decided from its values against the rows below")
      ->check(CLI::IsMember({"auto", "true", "false"}))
      ->capture_default_str();
  command->add_option("--columns", options->columns,
                      "Comma-separated column names of a file without a header (default: c0, c1, ...)");
  command->add_option("--sample-rows", options->sample_rows, "Rows read, spread over the file")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--valid", options->valid, "Validation file, read each epoch to keep the best one");
  command->add_option("--test", options->test,
                      "Test file; without --valid half of its rows validate (data.valid_from_test = 0.5)");
  return [options] { return RunInit(*options); };
}

}  // namespace mtrec
