#include "features/labels.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

#include "common/communicator.h"
#include "common/error.h"
#include "common/strings.h"

namespace mtrec {
namespace {

// Values of a column compared with a rule's spelling: the most frequent ones, enough for any real label column.
constexpr size_t kSpellingCandidates = 1000;

// The value a rule's spelling most likely means ("Never married" for "Never-married", ">50K" for ">50K."), or "".
// Letter case does not count; a short value needs a close match, so that "1" does not suggest "0".
std::string SimilarValue(const std::string& word, const std::vector<ValueCount>& values) {
  const std::string lower = AsciiLower(word);
  std::string best;
  size_t best_distance = std::string::npos;
  for (size_t i = 0; i < values.size() && i < kSpellingCandidates; ++i) {
    const size_t d = EditDistance(lower, AsciiLower(values[i].value));
    if (d < best_distance) {
      best_distance = d;
      best = values[i].value;
    }
  }
  const bool close =
      best_distance == 0 || (best_distance <= std::max<size_t>(2, word.size() / 3) && 2 * best_distance < word.size());
  return close ? best : std::string();
}

std::string Percent(int64_t part, int64_t whole) {
  return whole > 0 ? fmt::format("{:.2f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole)) : "-";
}

// "\"a\" (12), \"b\" (3), ... (9 values in all)"
std::string ValuesText(const LabelCounts& counts) {
  std::string text = FormatValueCounts(counts.values, kLabelValuesKept);
  if (counts.distinct > static_cast<int64_t>(counts.values.size())) {
    text += fmt::format(", ... ({} values in all)", counts.distinct);
  }
  return text;
}

// " (did you mean \"Never-married\"?)", or with several rule values " (did you mean \"b\" for \"B\", ...?)".
std::string SuggestionText(const LabelCounts& counts) {
  std::vector<std::string> parts;
  for (const auto& [value, similar] : counts.unmatched) {
    if (similar.empty()) continue;
    parts.push_back(counts.unmatched.size() == 1 ? fmt::format("\"{}\"", similar)
                                                 : fmt::format("\"{}\" for \"{}\"", similar, value));
  }
  if (parts.empty()) return "";
  std::string text = " (did you mean ";
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? ", " : "") + parts[i];
  return text + "?)";
}

// "rule positive = [\">50K\"] on column 'income'" or "column 'click'".
std::string SourceText(const TaskConfig& task) {
  return HasLabelRule(task) ? fmt::format("rule {} on column '{}'", LabelRuleText(task), task.column)
                            : fmt::format("column '{}'", task.column);
}

const LabelCounts* Find(const std::vector<LabelCounts>& counts, const std::string& task) {
  for (const auto& c : counts) {
    if (c.task == task) return &c;
  }
  return nullptr;
}

bool OneClass(const LabelCounts& counts) { return counts.positives == 0 || counts.positives == counts.rows; }

}  // namespace

bool HasLabelRule(const TaskConfig& task) { return !task.positive.empty() || !task.equals.empty(); }

std::string LabelRuleText(const TaskConfig& task) {
  if (!task.equals.empty()) return fmt::format("equals = \"{}\"", task.equals);
  std::string text = "positive = [";
  for (size_t i = 0; i < task.positive.size(); ++i) text += fmt::format("{}\"{}\"", i ? ", " : "", task.positive[i]);
  return text + "]";
}

namespace {

// A rule task's label of each value of its column: 1 when the rule names it, NaN for a data.na_values spelling
// (missing), else 0.
class RuleMatcher {
 public:
  RuleMatcher(const TaskConfig& task, const std::vector<std::string>& na_values)
      : positive_(task.positive.begin(), task.positive.end()), na_(na_values.begin(), na_values.end()) {
    if (!task.equals.empty()) positive_.insert(task.equals);
  }
  float Label(std::string_view value) const { return na_.count(value) ? NAN : (positive_.count(value) ? 1.f : 0.f); }

 private:
  std::unordered_set<std::string_view> positive_;
  std::unordered_set<std::string_view> na_;
};

}  // namespace

std::vector<float> RuleLabels(const TaskConfig& task, const std::vector<std::string>& na_values, const Column& column) {
  const RuleMatcher rule(task, na_values);
  std::vector<float> labels(column.DictionarySize());
  for (size_t code = 0; code < labels.size(); ++code) labels[code] = rule.Label(column.Value(static_cast<uint32_t>(code)));
  return labels;
}

namespace {

// A text column's values with their rows, in first-appearance order; under mpirun those of every rank's table, the
// tables being consecutive parts of one file in rank order.
std::vector<ValueCount> ValuesInOrder(const Column& column, Communicator* world) {
  std::vector<int64_t> rows(column.DictionarySize(), 0);
  for (uint32_t code : column.codes) ++rows[code];
  std::vector<ValueCount> values;
  for (size_t code = 0; code < rows.size(); ++code) {
    if (rows[code] > 0) values.push_back({std::string(column.Value(static_cast<uint32_t>(code))), rows[code]});
  }
  return world != nullptr ? SumOverRanks(std::move(values), *world) : values;
}

std::vector<LabelCounts> CountLabelsOver(const Config& config, const ColumnTable& table, Communicator* world) {
  std::vector<LabelCounts> out;
  for (const auto& task : config.tasks) {
    if (task.kind != TaskKind::kBinary) continue;
    LabelCounts counts;
    counts.task = task.name;
    if (HasLabelRule(task)) {
      const Column& column = table.Get(task.column, ColumnType::kCategorical);
      if (column.present) {
        const RuleMatcher matcher(task, config.data.na_values);
        std::vector<ValueCount> values = ValuesInOrder(column, world);
        for (const auto& value : values) {
          const float label = matcher.Label(value.value);
          if (std::isnan(label)) continue;
          counts.rows += value.rows;
          counts.positives += label == 1.f ? value.rows : 0;
        }
        // Most rows first, ties in first-appearance order (ValueCountsOf).
        std::stable_sort(values.begin(), values.end(), [](const auto& a, const auto& b) { return a.rows > b.rows; });
        std::unordered_set<std::string_view> seen;
        for (const auto& value : values) seen.insert(value.value);
        std::vector<std::string> rule = task.positive;
        if (!task.equals.empty()) rule.push_back(task.equals);
        for (const auto& value : rule) {
          if (!seen.count(value)) counts.unmatched.emplace_back(value, SimilarValue(value, values));
        }
        counts.distinct = static_cast<int64_t>(values.size());
        values.resize(std::min(values.size(), kLabelValuesKept));
        counts.values = std::move(values);
      }
    } else {
      const Column& column = table.Get(task.column, ColumnType::kNumeric);
      if (column.present) {
        for (float label : column.numbers) {
          counts.rows += !std::isnan(label);
          counts.positives += label == 1.f;
        }
      }
      if (world != nullptr) {
        int64_t sums[2] = {counts.rows, counts.positives};
        world->AllReduceSum(sums, 2);
        counts.rows = sums[0];
        counts.positives = sums[1];
      }
    }
    out.push_back(std::move(counts));
  }
  return out;
}

}  // namespace

std::vector<LabelCounts> CountLabels(const Config& config, const ColumnTable& table) {
  return CountLabelsOver(config, table, nullptr);
}

std::vector<LabelCounts> CountLabels(const Config& config, const ColumnTable& part, Communicator& world) {
  return CountLabelsOver(config, part, &world);
}

std::vector<std::string> CheckTrainingLabels(const Config& config, const std::vector<LabelCounts>& train,
                                             const std::string& path) {
  std::vector<std::string> warnings;
  for (const auto& task : config.tasks) {
    const LabelCounts* counts = Find(train, task.name);
    if (counts == nullptr) continue;
    const bool rule = HasLabelRule(task);
    // A rule that matches nothing is a misspelling far more often than a data set without positives.
    MTREC_CHECK(!rule || counts->positives > 0,
                "task '{}': {} matches no row of column '{}' in {}{}; its most frequent values: {}", task.name,
                LabelRuleText(task), task.column, path, SuggestionText(*counts), ValuesText(*counts));
    if (rule && !counts->unmatched.empty()) {
      for (const auto& [value, similar] : counts->unmatched) {
        warnings.push_back(fmt::format("task '{}': positive value \"{}\" matches no row of column '{}' in {}{}",
                                       task.name, value, task.column, path,
                                       similar.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", similar)));
      }
    }
    if (counts->rows == 0) {
      warnings.push_back(
          fmt::format("task '{}' has no label in {}: every value of column '{}' is missing "
                      "(data.na_values); it learns nothing",
                      task.name, path, task.column));
    } else if (OneClass(*counts)) {
      warnings.push_back(fmt::format(
          "task '{}': every label in {} is {} ({} rows; {}): the task cannot learn to tell rows apart, and its AUC "
          "is undefined{}",
          task.name, path, counts->positives == 0 ? 0 : 1, counts->rows, SourceText(task),
          rule ? fmt::format("; the column's most frequent values: {}", ValuesText(*counts)) : ""));
    }
  }
  return warnings;
}

std::vector<std::string> LabelShiftWarnings(const Config& config, const std::vector<LabelCounts>& train,
                                            const std::vector<LabelCounts>& file, const std::string& path) {
  std::vector<std::string> warnings;
  for (const auto& task : config.tasks) {
    const LabelCounts* counts = Find(file, task.name);
    if (counts == nullptr || counts->rows == 0 || !OneClass(*counts)) continue;
    const LabelCounts* trained = Find(train, task.name);
    if (trained != nullptr && OneClass(*trained)) continue;  // training was warned about already
    std::string message = fmt::format("task '{}': every label in {} is {} ({} rows; {})", task.name, path,
                                      counts->positives == 0 ? 0 : 1, counts->rows, SourceText(task));
    if (trained != nullptr) {
      message += fmt::format(", where the training file had both: {} positives in {} rows ({})", trained->positives,
                             trained->rows, Percent(trained->positives, trained->rows));
    }
    if (HasLabelRule(task)) {
      for (const auto& [value, similar] : counts->unmatched) {
        message += fmt::format("; \"{}\" matches no row here{}", value,
                               similar.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", similar));
      }
      message += fmt::format("; the column's most frequent values here: {}", ValuesText(*counts));
      if (trained != nullptr && !trained->values.empty()) {
        message += fmt::format("; in training: {}", ValuesText(*trained));
      }
    }
    warnings.push_back(message + ". Its AUC on this file is undefined");
  }
  return warnings;
}

}  // namespace mtrec
