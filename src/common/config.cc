#include "common/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "common/dates.h"
#include "common/error.h"
#include "common/files.h"
#include "common/metric_info.h"
#include "common/strings.h"

namespace mtrec {
namespace {

std::string Locate(const toml::source_region& source) {
  std::string path = source.path ? *source.path : std::string("<config>");
  if (source.begin.line == 0) return path;
  return fmt::format("{}:{}:{}", path, source.begin.line, source.begin.column);
}

std::string Locate(const toml::node& node) { return Locate(node.source()); }

}  // namespace

std::string QuoteToml(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

namespace {

std::string FormatDouble(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (std::isnan(value)) return "nan";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

// One config key of a section struct S: how to read it from TOML, how to write it back, what it means.
template <typename S>
struct Field {
  std::string key;
  std::string doc;
  std::vector<std::string> kinds;  // for features/tasks: the kinds the key applies to (empty: all)
  std::function<void(S&, const toml::node&)> read;
  std::function<std::string(const S&)> write;
};

[[noreturn]] void FailAt(const toml::node& node, const std::string& key, const std::string& message) {
  Fail("{}: '{}' {}", Locate(node), key, message);
}

template <typename T>
T ReadValue(const toml::node& node, const std::string& key);

template <>
bool ReadValue<bool>(const toml::node& node, const std::string& key) {
  if (!node.is_boolean()) FailAt(node, key, "expects true or false");
  return node.as_boolean()->get();
}
template <>
int64_t ReadValue<int64_t>(const toml::node& node, const std::string& key) {
  if (!node.is_integer()) FailAt(node, key, "expects an integer");
  return node.as_integer()->get();
}
template <>
uint64_t ReadValue<uint64_t>(const toml::node& node, const std::string& key) {
  int64_t value = ReadValue<int64_t>(node, key);
  if (value < 0) FailAt(node, key, "expects a non-negative integer");
  return static_cast<uint64_t>(value);
}
template <>
double ReadValue<double>(const toml::node& node, const std::string& key) {
  if (node.is_integer()) return static_cast<double>(node.as_integer()->get());
  if (!node.is_floating_point()) FailAt(node, key, "expects a number");
  return node.as_floating_point()->get();
}
template <>
std::string ReadValue<std::string>(const toml::node& node, const std::string& key) {
  if (!node.is_string()) FailAt(node, key, "expects a string");
  return node.as_string()->get();
}

template <typename T>
std::vector<T> ReadList(const toml::node& node, const std::string& key);
// A list of lists of names (model.task_groups).
template <>
std::vector<std::string> ReadValue<std::vector<std::string>>(const toml::node& node, const std::string& key) {
  if (!node.is_array()) FailAt(node, key, "expects a list of lists, e.g. [[\"click\", \"cart\"], [\"gmv\"]]");
  return ReadList<std::string>(node, key);
}

template <typename T>
std::vector<T> ReadList(const toml::node& node, const std::string& key) {
  const toml::array* array = node.as_array();
  if (!array) FailAt(node, key, "expects a list, e.g. [1, 2]");
  std::vector<T> out;
  for (const auto& item : *array) out.push_back(ReadValue<T>(item, key));
  return out;
}

std::string WriteValue(bool value) { return value ? "true" : "false"; }
std::string WriteValue(int64_t value) { return fmt::format("{}", value); }
std::string WriteValue(uint64_t value) { return fmt::format("{}", value); }
std::string WriteValue(double value) { return FormatDouble(value); }
std::string WriteValue(const std::string& value) { return QuoteToml(value); }
template <typename E>
  requires kHasNameTable<E>
std::string WriteValue(E value) {
  return QuoteToml(std::string(NameOf(value)));
}
template <typename T>
std::string WriteValue(const std::vector<T>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + WriteValue(values[i]);
  return out + "]";
}

NamedWeights ReadNamedWeights(const toml::node& node, const std::string& key) {
  const toml::table* table = node.as_table();
  if (!table) FailAt(node, key, "expects a table of task weights, e.g. { click = 1, purchase = 3 }");
  NamedWeights out;
  for (auto&& [name, value] : *table) out.emplace_back(std::string(name.str()), ReadValue<double>(value, key));
  return out;
}

std::string WriteValue(const NamedWeights& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i ? ", " : " ") + QuoteToml(values[i].first) + " = " + WriteValue(values[i].second);
  }
  return out + (values.empty() ? "}" : " }");
}

template <typename T>
struct Reader {
  static T Read(const toml::node& node, const std::string& key) { return ReadValue<T>(node, key); }
};
template <typename T>
struct Reader<std::vector<T>> {
  static std::vector<T> Read(const toml::node& node, const std::string& key) { return ReadList<T>(node, key); }
};
template <>
struct Reader<NamedWeights> {
  static NamedWeights Read(const toml::node& node, const std::string& key) { return ReadNamedWeights(node, key); }
};

template <typename S, typename T>
Field<S> MakeField(const std::string& key, T S::*member, const std::string& doc, std::vector<std::string> choices = {},
                   std::vector<std::string> kinds = {}) {
  Field<S> field;
  field.key = key;
  field.doc = doc;
  field.kinds = std::move(kinds);
  // A named enum is read as its name, and its name table is the list of choices.
  if constexpr (kHasNameTable<T>) choices = Names<T>();
  field.read = [key, member, choices](S& section, const toml::node& node) {
    using Stored = std::conditional_t<kHasNameTable<T>, std::string, T>;
    Stored value = Reader<Stored>::Read(node, key);
    if constexpr (std::is_same_v<Stored, std::string>) {
      if (!choices.empty() && std::find(choices.begin(), choices.end(), value) == choices.end()) {
        FailAt(node, key,
               fmt::format("is {}, expected one of {}{}", Quoted(value), QuotedList(choices),
                           DidYouMeanSuffix(value, choices)));
      }
    }
    if constexpr (kHasNameTable<T>) {
      section.*member = *ParseName<T>(value);  // one of the choices, so in the table
    } else {
      section.*member = std::move(value);
    }
  };
  field.write = [member](const S& section) { return WriteValue(section.*member); };
  if (!choices.empty()) field.doc += " One of: " + QuotedList(choices) + ".";
  return field;
}

// The names of the feature or task kinds a key applies to (Field::kinds).
template <typename E>
std::vector<std::string> KindNames(std::initializer_list<E> kinds) {
  std::vector<std::string> names;
  for (E kind : kinds) names.emplace_back(NameOf(kind));
  return names;
}

// A "yyyy-mm-dd..yyyy-mm-dd" key: a bad date is refused where the file writes it.
Field<DataConfig> MakeDateRangeField(const std::string& key, std::string DataConfig::*member, const std::string& doc) {
  Field<DataConfig> field = MakeField(key, member, doc);
  field.read = [key, member](DataConfig& data, const toml::node& node) {
    std::string value = ReadValue<std::string>(node, key);
    std::string why;
    if (!value.empty() && !ParseDateRange(value, &why)) FailAt(node, key, fmt::format("is {}: {}", Quoted(value), why));
    data.*member = std::move(value);
  };
  return field;
}

const std::vector<Field<DataConfig>>& DataFields() {
  using D = DataConfig;
  static const std::vector<Field<D>> fields = {
      MakeField("train", &D::train, "Training file (CSV/TSV, optionally .gz/.xz/.zst), relative to this config file."),
      MakeField("valid", &D::valid, "Validation file, used each epoch for early stopping. Optional."),
      MakeField("test", &D::test, "Test file, evaluated once after training. Optional."),
      MakeField("valid_from_test", &D::valid_from_test,
                "When > 0 and no valid file is given: this fraction of the test file's rows, chosen by a seeded "
                "shuffle (split_seed), is the validation set and the rest the test set."),
      MakeField("valid_fraction", &D::valid_fraction,
                "When > 0: this fraction of the training file's rows is held out as the validation set (no valid "
                "file then); feature transforms are fitted on the rest. Chosen by a seeded shuffle (split_seed), by "
                "group (split_group) or by time (split_time)."),
      MakeField("test_fraction", &D::test_fraction,
                "When > 0: this fraction of the training file's rows is held out as the test set (no test file "
                "then), chosen as for valid_fraction; valid_fraction + test_fraction < 1."),
      MakeField("split_group", &D::split_group,
                "valid_fraction/test_fraction: column whose value keeps its rows together (e.g. user_id): each value "
                "goes to one side by a seeded hash of the value, so the fractions hold only roughly. Empty = rows "
                "one by one."),
      MakeField("split_time", &D::split_time,
                "valid_fraction/test_fraction: column ordering the rows in time (numbers, or text such as ISO dates "
                "that sorts as text): the latest test_fraction of the rows are the test set, the valid_fraction "
                "before them the validation set (ties in file order). Empty = a seeded random split."),
      MakeField("split_by", &D::split_by,
                "How the training file's validation and test rows are chosen: fraction = by valid_fraction / "
                "test_fraction (with split_group or split_time); date = by the date ranges valid_dates and "
                "test_dates of the time_series.date column (docs/time_series.md)."),
      MakeDateRangeField("valid_dates", &D::valid_dates,
                         "split_by = \"date\": the validation days, \"yyyy-mm-dd..yyyy-mm-dd\" (both ends included). "
                         "The training rows are the days before the first held-out range; rows after it in neither "
                         "range are dropped, with a log line."),
      MakeDateRangeField("test_dates", &D::test_dates,
                         "split_by = \"date\": the test days, as valid_dates; the two ranges must not overlap."),
      MakeField("split_seed", &D::split_seed,
                "Seed of the splits (valid_from_test, valid_fraction, test_fraction): the same seed and file give "
                "the same split."),
      MakeField("delimiter", &D::delimiter,
                "Field separator; may be several characters (e.g. \", \"). \"\\t\" for TSV."),
      MakeField("header", &D::header, "Whether the first line holds the column names."),
      MakeField("columns", &D::columns, "Column names, in order, when header = false."),
      MakeField("trim", &D::trim, "Remove spaces around unquoted fields."),
      MakeField("na_values", &D::na_values,
                "Field values that mean 'missing' (numeric features and labels; categorical features map them to "
                "their missing id)."),
      MakeField("on_error", &D::on_error,
                "What to do with a bad row: stop with its file:line, or skip it and report how many were skipped."),
      MakeField("max_reported_errors", &D::max_reported_errors, "How many skipped rows are described one by one."),
      MakeField("cache", &D::cache,
                "Keep a columnar binary copy of each parsed file (memory-mapped), keyed by the file's size, mtime and "
                "the schema, so later runs skip CSV parsing."),
      MakeField("cache_dir", &D::cache_dir,
                "Folder of the dataset cache; default: .mtrec-cache beside each data file."),
  };
  return fields;
}

const std::vector<Field<TimeSeriesConfig>>& TimeSeriesFields() {
  using S = TimeSeriesConfig;
  static const std::vector<Field<S>> fields = {
      MakeField("date", &S::date,
                "Column of each row's date, yyyy-mm-dd; derived columns read by date, not by row position. Empty = "
                "no time series."),
      MakeField("series", &S::series,
                "Columns whose values together name one series (e.g. [\"store_id\", \"item_id\"]): the entity of "
                "every derived column without its own 'by'."),
  };
  return fields;
}

const std::vector<Field<TimeSeriesColumnConfig>>& TimeSeriesColumnFields() {
  using C = TimeSeriesColumnConfig;
  const std::vector<std::string> lagged = KindNames({TimeSeriesOp::kLag, TimeSeriesOp::kMean, TimeSeriesOp::kStd,
                                                     TimeSeriesOp::kZeroShare, TimeSeriesOp::kRatioToMean});
  const std::vector<std::string> windowed =
      KindNames({TimeSeriesOp::kMean, TimeSeriesOp::kStd, TimeSeriesOp::kZeroShare, TimeSeriesOp::kRatioToMean});
  static const std::vector<Field<C>> fields = {
      MakeField("name", &C::name,
                "Name of the derived numeric column (unique); a [[features]] entry reads it by this name."),
      MakeField("column", &C::column, "Source column, read as a number (0/1 flags too)."),
      MakeField("op", &C::op,
                "lag = the source L days back; mean, std (population), zero_share = over the W days ending L days "
                "back; days_since = days since the last earlier day the source was nonzero; ratio_to_mean = the "
                "source on the row's own day over its mean as for 'mean' (not on a label column). "
                "docs/time_series.md gives each exactly."),
      MakeField("lag", &C::lag, "Days back of the newest day read, >= 1: the row's own day is never read.", {}, lagged),
      MakeField("window", &C::window, "Days read, >= 1, ending 'lag' days back.", {}, windowed),
      MakeField("by", &C::by,
                "Entity columns instead of time_series.series (e.g. [\"item_id\"]): the entity's value on a day is "
                "the mean over its rows that day (an item's mean over the stores), then the op runs on that daily "
                "series. Empty = the series."),
  };
  return fields;
}

const std::vector<Field<FeatureConfig>>& FeatureFields() {
  using F = FeatureConfig;
  const std::vector<std::string> cat = KindNames({FeatureKind::kCategorical});
  const std::vector<std::string> num = KindNames({FeatureKind::kNumeric});
  const std::vector<std::string> multi = KindNames({FeatureKind::kMultiCategorical});
  const std::vector<std::string> cat_multi = KindNames({FeatureKind::kCategorical, FeatureKind::kMultiCategorical});
  const std::vector<std::string> embedded =
      KindNames({FeatureKind::kCategorical, FeatureKind::kMultiCategorical, FeatureKind::kNumeric});
  static const std::vector<Field<F>> fields = {
      MakeField("name", &F::name, "Feature name (unique)."),
      MakeField("column", &F::column, "Input column; default: the name."),
      MakeField("kind", &F::kind, "How the column is read."),
      MakeField("min_count", &F::min_count,
                "Values seen fewer times in the training file share the out-of-vocabulary id.", {}, cat_multi),
      MakeField("hash_buckets", &F::hash_buckets,
                "When > 0: hash values into this many ids instead of building a vocabulary.", {}, cat_multi),
      MakeField("embedding_dim", &F::embedding_dim, "Embedding width; 0 = model.embedding_dim.", {}, embedded),
      MakeField("log1p", &F::log1p, "Apply log(1 + x) (x < 0 is an error) before standardising.", {}, num),
      MakeField("standardize", &F::standardize, "Subtract the training mean and divide by the training std.", {}, num),
      MakeField("clip", &F::clip, "[lo, hi]: clip the raw value into this range first.", {}, num),
      MakeField("fill", &F::fill, "Raw value used where the field is missing.", {}, num),
      MakeField(
          "missing_flag", &F::missing_flag,
          "Add a 0/1 input telling whether the value was missing; auto = when the training file has missing values.",
          {}, num),
      MakeField("buckets", &F::buckets,
                "When > 0: replace the value by its bucket among at most this many of about equal rows (fitted on the "
                "training file; a value repeated on many rows, such as 0, gets a bucket of its own), embedded like "
                "a categorical feature.",
                {}, num),
      MakeField("separator", &F::separator, "Separator between the values inside the field.", {}, multi),
      MakeField("pooling", &F::pooling, "How the embeddings of the values are pooled.", {}, multi),
      MakeField("share_with", &F::share_with,
                "Name of another categorical or multi_categorical feature whose vocabulary and embedding table this "
                "feature uses.",
                {}, cat_multi),
      MakeField("embedding_l2", &F::embedding_l2,
                "L2 penalty on this feature's embedding rows (see train.embedding_l2); -1 = train.embedding_l2. A "
                "table shared through share_with takes its owner's.",
                {}, embedded),
  };
  return fields;
}

const std::vector<Field<TaskConfig>>& TaskFields() {
  using T = TaskConfig;
  const std::vector<std::string> binary = KindNames({TaskKind::kBinary});
  const std::vector<std::string> regression = KindNames({TaskKind::kRegression});
  static const std::vector<Field<T>> fields = {
      MakeField("name", &T::name, "Task name (unique); names the prediction column and the metrics."),
      MakeField("column", &T::column, "Label column; default: the name."),
      MakeField("kind", &T::kind, "Task kind."),
      MakeField("loss", &T::loss,
                "Loss; default logloss for binary and mse for regression. A regression may instead take a count "
                "likelihood on the log of its mean, predicting e^output (poisson, tweedie, negbin: labels >= 0), "
                "pinball for a quantile, or ziln, the zero-inflated log-normal of a value that is zero for most rows "
                "(customer value: a purchase probability and a log-normal amount, predicting their expected value); "
                "their math is in docs/losses.md."),
      MakeField("weight", &T::weight, "Weight of the task's loss in the total loss."),
      MakeField("positive", &T::positive,
                "Label rule: the label is 1 when the column's value is one of these, else 0 (data.na_values: "
                "missing). A rule that matches no row of the training file is an error.",
                {}, binary),
      MakeField("equals", &T::equals,
                "Label rule: the label is 1 when the column's value equals this, else 0. A rule that matches no row "
                "of the training file is an error.",
                {}, binary),
      MakeField("huber_delta", &T::huber_delta, "Delta of the huber loss.", {}, regression),
      MakeField("tweedie_power", &T::tweedie_power,
                "Power p in (1, 2) of the tweedie loss: the variance grows as mu^p, between Poisson (1) and gamma (2); "
                "docs/losses.md.",
                {}, regression),
      MakeField("negbin_alpha", &T::negbin_alpha,
                "Dispersion alpha > 0 of the negbin loss (NB2): Var = mu + alpha mu^2; docs/losses.md.", {},
                regression),
      MakeField("quantile", &T::quantile,
                "Quantile tau in (0, 1) a pinball task predicts. Pinball tasks on the same column form a ladder "
                "whose predictions never cross (docs/losses.md).",
                {}, regression),
      MakeField("censored", &T::censored,
                "Column of 0/1 flags (missing reads as 0), 1 where the label is only a lower bound of the count "
                "(demand on a stock-out day, when sales = stock): those rows' loss is -log P(Y >= label). For the "
                "poisson and negbin losses; read like a label, never an input.",
                {}, regression),
      MakeField("quantiles", &T::quantiles,
                "Loss ziln: the quantiles of the predicted distribution that predict and serve write beside its "
                "expected value, as <task>_q10, <task>_q50, ... (each in (0, 1)).",
                {}, regression),
      MakeField("treatment", &T::treatment,
                "Campaign effect: a 0/1 column (1: the row was treated, e.g. got the offer), read like a label. The task "
                "gets one set of outputs per arm (control, treated), each with its own tower over the shared body "
                "(TARNet), trained on the rows of its arm; the prediction is the row's arm's (control where the column "
                "is missing), and predict and serve add <task>_uplift (treated minus control), <task>_treated and "
                "<task>_control. eval adds the uplift metrics (qini, auuc, ...; docs/evaluation.md)."),
      MakeField("propensity", &T::propensity,
                "With a treatment: the binary task whose label is the treatment (a propensity head, as DragonNet's). "
                "Its predictions e weight this task's rows by inverse propensity in training, 1/e treated and "
                "1/(1 - e) control, so each arm's outputs learn the whole population when assignment was targeted; "
                "eval's policy values use them too. Empty: no weighting."),
      MakeField("propensity_clip", &T::propensity_clip,
                "With a propensity: propensities are clipped to [clip, 1 - clip] before weighting, bounding a row's "
                "weight at 1/clip."),
      MakeField("oracle_uplift", &T::oracle_uplift,
                "With a treatment: column holding the true uplift (simulated data): eval prints the true-uplift "
                "metrics (true_qini, pehe, ...) and the oracle's qini beside the model's."),
      MakeField("pos_weight", &T::pos_weight,
                "Weight of the positive rows in the logloss, as PyTorch's BCEWithLogitsLoss pos_weight: a row's loss "
                "is -(pos_weight y log p + (1 - y) log(1 - p)), still divided by the number of labelled rows. For "
                "rare positives (e.g. negatives / positives); the predictions then overstate p (odds about "
                "pos_weight times too high).",
                {}, binary),
      MakeField("oracle", &T::oracle,
                "Column holding the true probability / expectation (simulated data): eval prints its metrics beside "
                "the model's."),
      MakeField("horizon", &T::horizon,
                "Forecasting: how many days the label looks ahead (1: the row's own day, 7: it and the six after). "
                "Carried to the evaluation and its by-horizon chart; 0 for a task that is not a forecast."),
      MakeField("naive", &T::naive,
                "Forecasting: column holding a naive forecast of the label, e.g. a [time_series] lag of it (the same "
                "weekday a week earlier: the seasonal naive). eval reports the model's MAE in units of the naive's "
                "(mase) and the naive's own wape, over the rows the naive forecasts.",
                {}, regression),
      MakeField("parent", &T::parent,
                "Task graph: the task this one follows (e.g. purchase follows click); how is set by 'mode'."),
      MakeField("mode", &T::mode,
                "With a parent: 'chain' predicts p(task) = p(parent) x p(task | parent) over every row (ESMM); "
                "'masked' learns p(task | parent) only on rows whose parent label is 1 (and evaluates there); "
                "'direct' predicts p(task) itself, the link only feeds AITM's transfer and the calibrator loss."),
      MakeField("oracle_given_parent", &T::oracle_given_parent,
                "Column holding the true p(task | parent) (simulated data): eval compares the model's conditional "
                "prediction with it over every row (cond_mae, cond_auc)."),
      MakeField("counterfactual", &T::counterfactual,
                "ESCM² (Wang et al. 2022), for a chain task: besides its loss on p(task) over every row, its "
                "conditional p(task | parent) is fitted to the risk it would have had if every row had reached the "
                "parent (every impression clicked). 'ips': the parent's positives' logloss, each divided by the "
                "model's own p(parent) (no gradient through it), summed and divided by all the rows. 'dr': doubly "
                "robust, adding an imputation tower (an extra output column) that predicts the task on every row, "
                "so the rows that never reached the parent are fitted too (docs/models.md). A term of its own, "
                "outside train.weighting.",
                {}, binary),
      MakeField("counterfactual_weight", &T::counterfactual_weight,
                "With counterfactual: the weight of that term (lambda_g of the paper) against the task's own loss.",
                {}, binary),
      MakeField("counterfactual_clip", &T::counterfactual_clip,
                "With counterfactual: p(parent) is clipped below at this before it divides, bounding a row's weight "
                "at 1/clip.",
                {}, binary),
      MakeField("warm_start_from", &T::warm_start_from,
                "`mtrec train --init-from`: a task the base model lacks starts its tower (and gate) from the base "
                "model's tower of this task, a related one (purchase from cart), instead of from random weights; its "
                "output bias still starts at its own best constant. Empty = a fresh tower."),
      MakeField("auxiliary", &T::auxiliary,
                "An auxiliary task: trained with its weight to help the others learn (e.g. a finer label of the same "
                "column) and evaluated, but left out of the validation mean that early stopping and the kept epoch "
                "watch, of the default serve.blend and of the default eval.relevance."),
  };
  return fields;
}

const std::vector<Field<ModelConfig>>& ModelFields() {
  using M = ModelConfig;
  static const std::vector<Field<M>> fields = {
      MakeField("arch", &M::arch,
                "Architecture: single_task (one network per task, own embeddings), shared_bottom, omoe (experts, one "
                "gate), mmoe (experts, one gate per task), ple (progressive layered extraction), cross_stitch, esmm "
                "(per-task towers over shared embeddings), aitm (adaptive information transfer along parent links), adatt "
                "(adaptive task-to-task fusion: every task gates over every task's experts, plus its own), stem (shared "
                "and per-task embeddings; every task gates over every expert, trains only the shared ones and its own), "
                "pepnet (multi-scenario: the scenario's features scale the embeddings, the prior features every "
                "task tower's layers), home (a hierarchy of normalised experts: shared, per task group and per task, "
                "with feature and self gates)."),
      MakeField("embedding_dim", &M::embedding_dim, "Default embedding width of categorical features."),
      MakeField("bottom", &M::bottom, "Widths of the shared bottom MLP's hidden layers."),
      MakeField("tower", &M::tower, "Widths of each task tower's hidden layers (then one output)."),
      MakeField("experts", &M::experts,
                "omoe/mmoe: number of experts; ple, home: shared experts per level; stem: shared experts."),
      MakeField("task_experts", &M::task_experts,
                "ple, adatt: experts of each task per level; stem: experts of each task; home: experts of each task at "
                "its task level."),
      MakeField("expert", &M::expert,
                "omoe/mmoe, stem: widths of each expert's hidden layers; ple, adatt: one level per entry, whose experts "
                "are one layer of that width; home: two entries, the meta level's and the task level's expert width."),
      MakeField("calibrator", &M::calibrator,
                "Weight of AITM's calibrator loss, mean of max(p(task) - p(parent), 0), on every 'direct' parent link "
                "(chain links satisfy it by construction)."),
      MakeField("dropout", &M::dropout, "Dropout rate after each hidden layer during training."),
      MakeField("batch_norm", &M::batch_norm,
                "Batch normalisation between each hidden layer's linear map and its ReLU (bottom, experts, towers), "
                "with running statistics for inference, as PyTorch's BatchNorm1d (momentum 0.1, eps 1e-5)."),
      MakeField("numeric_projection", &M::numeric_projection,
                "When > 0: a linear layer maps the numeric block (every numeric input and missing flag) to one vector "
                "of this width, which enters the model beside the embeddings (MTReclib's numerical layer); 0 = the "
                "numeric block enters as it is."),
      MakeField("embedding_init_std", &M::embedding_init_std, "Standard deviation of the initial embeddings."),
      MakeField("scenario_features", &M::scenario_features,
                "pepnet: the features that say which scenario a row is in (site, page, country). With the "
                "embeddings (through a stop-gradient) they feed EPNet's gate, which scales every input column by a "
                "factor in (0, gate_scale). Empty: the gate reads the embeddings alone."),
      MakeField("prior_features", &M::prior_features,
                "pepnet: the personalised priors (user and item ids) that, with the gated embeddings (through a "
                "stop-gradient), feed PPNet's gates, which scale the input of every layer of every task tower."),
      MakeField("gate_scale", &M::gate_scale, "pepnet: gamma, the upper bound of every gate's factor (the paper's 2)."),
      MakeField("task_groups", &M::task_groups,
                "home: groups of related tasks, e.g. [[\"click\", \"cart\"], [\"purchase\", \"gmv\"]] (the paper's "
                "task categories). Each group gets experts of its own at both levels, shared by its tasks only; a task "
                "in no group is a group of its own. Empty: every task its own group."),
      MakeField("group_experts", &M::group_experts,
                "home: experts of each task group per level (at the task level only for groups of two or more tasks)."),
      MakeField("feature_gate_rank", &M::feature_gate_rank,
                "home: rank of the low-rank feature gate that gives each meta-level expert its own view of the input, "
                "x * 2 sigmoid(A B x); 0: no feature gates, every expert reads x."),
  };
  return fields;
}

// train.early_stop_metric: a choice of the metric table's names, except that a metric eval reports without a
// better direction (bias, coverage) is refused for that reason rather than as an unknown name.
Field<TrainConfig> EarlyStopMetricField() {
  std::vector<std::string> undirected;
  for (const MetricInfo& metric : Metrics()) {
    if (!metric.early_stopping) undirected.emplace_back(metric.name);
  }
  Field<TrainConfig> field = MakeField(
      "early_stop_metric", &TrainConfig::early_stop_metric,
      "Validation metric watched each epoch; the best epoch's weights are kept. 'none' keeps the last. 'loss' is "
      "the validation loss in the objective's terms, summed with the task weights (logloss, squared error, or a "
      "count, pinball or ziln task's own loss). mase is measured where a naive forecast is given and pinball on "
      "quantile tasks; metrics without a better direction "
      "(" + QuotedList(undirected) + ": best at a target value) cannot be watched.",
      EarlyStopMetricChoices());
  field.read = [read = field.read](TrainConfig& train, const toml::node& node) {
    const MetricInfo* metric = node.is_string() ? FindMetric(node.as_string()->get()) : nullptr;
    if (metric != nullptr && !metric->early_stopping) {
      FailAt(node, "early_stop_metric",
             fmt::format("is '{}', which has no better direction (it is best at a target value, not at its highest "
                         "or lowest), so it cannot pick the epoch to keep (eval reports it beside the others); "
                         "expected one of {}",
                         metric->name, QuotedList(EarlyStopMetricChoices())));
    }
    read(train, node);
  };
  return field;
}

const std::vector<Field<TrainConfig>>& TrainFields() {
  using T = TrainConfig;
  static const std::vector<Field<T>> fields = {
      MakeField("epochs", &T::epochs, "Passes over the training file (at most; see patience)."),
      MakeField("stop_after_epochs", &T::stop_after_epochs,
                "When > 0: this run stops after that many epochs in all (a checkpoint to resume from, the model "
                "its best epoch so far), while the learning-rate schedule stays that of `epochs`; `mtrec tune "
                "--asha` trains its rungs this way, so a trial stopped early was trained as the full run would "
                "have been."),
      MakeField("batch_size", &T::batch_size, "Rows per step."),
      MakeField("optimizer", &T::optimizer, "Optimizer of the dense weights."),
      MakeField("lr", &T::lr, "Learning rate of the dense weights."),
      MakeField("beta1", &T::beta1, "Adam's beta1 (dense and lazy_adam)."),
      MakeField("beta2", &T::beta2, "Adam's beta2 (dense and lazy_adam)."),
      MakeField("eps", &T::eps, "Adam's / Adagrad's epsilon."),
      MakeField("weight_decay", &T::weight_decay,
                "L2 penalty (adam, sgd) or decoupled weight decay (adamw) on dense weights, not biases."),
      MakeField("momentum", &T::momentum, "SGD momentum."),
      MakeField("embedding_optimizer", &T::embedding_optimizer,
                "Sparse optimizer of the embedding tables: only the rows a batch touches are updated."),
      MakeField("embedding_lr", &T::embedding_lr, "Learning rate of the embedding tables."),
      MakeField("embedding_l2", &T::embedding_l2,
                "L2 penalty on the embedding rows a step looks up: their gradient gains embedding_l2 x the row. "
                "Keeps the rows of rare ids (users, items) from memorising their few training rows."),
      MakeField("lr_schedule", &T::lr_schedule,
                "How both learning rates change over the run: constant, or decayed from their value to "
                "value x final_lr_ratio at the last step of `epochs` epochs along a cosine or a straight line (a run "
                "resumed with other `epochs` follows the schedule of the new length)."),
      MakeField("warmup_steps", &T::warmup_steps,
                "Steps over which both learning rates rise linearly from 1/warmup_steps of their value to it."),
      MakeField("final_lr_ratio", &T::final_lr_ratio,
                "cosine, linear: the learning rates at the last step, as a fraction of their starting value."),
      MakeField("ema_decay", &T::ema_decay,
                "0 = off. Otherwise validation, early stopping and the saved model use an exponential moving average "
                "of the weights over the steps, each step weighing ema_decay times the next (e.g. 0.999: an average "
                "over the last ~1000 steps), instead of the last step's weights."),
      MakeField("seed", &T::seed, "Seed of initialisation, shuffling and dropout."),
      MakeField("shuffle", &T::shuffle,
                "Shuffle the training rows every epoch (seeded). false: batches in file order (under mpirun, each "
                "rank's batches in the order of its share), which makes a run on N ranks the same as one process "
                "with N times the batch."),
      MakeField("threads", &T::threads, "Threads for everything (oneDNN and mtrec's loops); 0 = all cores."),
      MakeField("shard_rows", &T::shard_rows,
                "Under mpirun: embedding tables of at least this many rows are row-sharded (each rank holds 1/N of "
                "the rows and their optimizer state; a step fetches the rows its batch reads from their owners and "
                "sends them the gradients), smaller ones replicated (every rank holds them; a step all-gathers the "
                "touched rows' gradients). 0 shards every table. Both train the same model (docs/distributed.md)."),
      EarlyStopMetricField(),
      MakeField("early_stop_task", &T::early_stop_task,
                "Task whose metric is watched; empty = the mean over the tasks that have the metric, auxiliary tasks "
                "left out."),
      MakeField("patience", &T::patience, "Stop after this many epochs without improvement; 0 = never stop early."),
      MakeField("checkpoint", &T::checkpoint,
                "Checkpoint file written atomically after every epoch (resume with `mtrec train --resume`); "
                "default: the model path + \".ckpt\"."),
      MakeField("normalize_losses", &T::normalize_losses,
                "Divide each task's loss by the loss of predicting its mean training label (binary: the entropy of "
                "its positive rate; regression: its variance; count and pinball losses: the loss of the best constant "
                "above each row's best possible loss, docs/losses.md), so that tasks of any scale start near 1 and a "
                "regression loss in currency units does not drown logloss."),
      MakeField("weighting", &T::weighting,
                "How task losses are balanced each step (docs/weighting.md): static (the tasks' weights), "
                "uncertainty (learned log-variances), gradnorm, dwa (dynamic weight average), rlw (random loss "
                "weights), pcgrad, mgda (min-norm point of the task gradients), cagrad."),
      MakeField("weighting_lr", &T::weighting_lr,
                "Adam step size of learned task weights (uncertainty's log-variances, gradnorm's weights)."),
      MakeField("gradnorm_alpha", &T::gradnorm_alpha,
                "GradNorm's asymmetry alpha: how strongly tasks that train slower get larger gradients."),
      MakeField("dwa_temperature", &T::dwa_temperature, "DWA's temperature T (larger: weights closer to 1)."),
      MakeField("cagrad_c", &T::cagrad_c, "CAGrad's c: how far the update may move from the mean gradient."),
      MakeField("gradient_space", &T::gradient_space,
                "Where task gradients are compared (gradient strategies, gradnorm, the conflict matrix): shared = "
                "every dense parameter two tasks reach plus the input layer's output (standing for the embedding "
                "rows), keeping K copies of the dense gradients; representation = the input layer's output only, "
                "memory bounded by the batch, one more backward pass per step. Embeddings keep sparse updates."),
      MakeField("conflict_every", &T::conflict_every,
                "Measure the task-gradient conflict matrix every this many steps under strategies that do not need "
                "the task gradients anyway (0 = never); gradient strategies measure it every step."),
      MakeField("baseline", &T::baseline,
                "Eval JSON (`mtrec eval --json`) of a single-task run: each epoch then logs the multi-task gain "
                "delta_m against it. Relative to this file."),
      MakeField("freeze", &T::freeze,
                "Parts of the model kept as they are while the rest trains (docs/lifecycle.md): \"embeddings\" or "
                "one table \"embeddings.<feature>\", a group of dense tensors by name (\"experts\", \"bottom\", "
                "\"gates\", \"towers\"), or one task's own tower \"towers.<task>\". Mostly with `mtrec train "
                "--init-from`."),
      MakeField("admit_new_ids", &T::admit_new_ids,
                "`mtrec train --init-from`: values of the new training file that the base model's vocabularies lack "
                "and that reach the feature's min_count get new embedding rows (initialised as new rows are); "
                "false: they stay out of vocabulary."),
      MakeField("refit_numeric", &T::refit_numeric,
                "`mtrec train --init-from`: fit the numeric transforms (scaling, buckets) again on the new training "
                "file instead of keeping the base model's; its weights were trained on the old scale."),
      MakeField("precision", &T::precision,
                "Number format of the dense layers' matmuls: f32, or bf16 (bf16 copies of the operands multiplied "
                "with f32 accumulation; weights, gradients and optimizer state stay f32, the saved model is f32). "
                "bf16 needs a CPU with avx512_bf16 or AMX (detected at run time; refused elsewhere, naming what the "
                "CPU has). Validation during training uses the same precision; predict, eval and serve score in f32 "
                "unless told otherwise. (int8 is for scoring only: `mtrec serve --precision int8`, `mtrec predict --precision "
                "int8`.)"),
  };
  return fields;
}

const std::vector<Field<EvalConfig>>& EvalFields() {
  using E = EvalConfig;
  static const std::vector<Field<E>> fields = {
      MakeField("threshold", &E::threshold, "Score threshold of accuracy, precision, recall and F1."),
      MakeField("calibration_bins", &E::calibration_bins,
                "Equal-width probability bins of the expected calibration error (ece) and the reliability curve."),
      MakeField("group_by", &E::group_by,
                "Column grouping rows into users or requests: GAUC per binary task and the ranking metrics (NDCG@k, "
                "recall@k, value share@k of the blended score) over these groups; empty = neither. `mtrec eval "
                "--group-by` overrides it."),
      MakeField("ranking_k", &E::ranking_k, "The cut-offs k of the ranking metrics."),
      MakeField("relevance", &E::relevance,
                "Binary tasks whose labels add up to a row's graded relevance in NDCG (click + cart + purchase: 0 to "
                "3); a missing label counts 0. Empty = every binary task but the auxiliary ones."),
      MakeField("value_task", &E::value_task,
                "Regression task whose label is a row's value in the ranking metrics' value share@k (GMV captured "
                "in the top k). Empty = the first regression task, if any."),
      MakeField("sample_spaces", &E::sample_spaces,
                "Extra evaluations \"TASK|CONDITION\": TASK's metrics on the rows where binary task CONDITION's label "
                "is 1 (\"purchase|click\": conversion on clicks). A chain task is measured on its parent's positives "
                "anyway, with its conditional prediction."),
      MakeField("slice_by", &E::slice_by,
                "Column whose values slice the rows for error analysis: each task's metrics within each value, and "
                "the share of its error there (binary: of the mis-ordered positive-negative pairs, 1 - AUC; "
                "regression: of the squared error). Empty = none. `mtrec eval --slice-by` overrides it."),
      MakeField("max_slices", &E::max_slices,
                "slice_by: how many slices. A text column: the values with the most rows get one each, the others "
                "share one; a numeric column: each value its own when there are this few, else ranges of about equal "
                "rows."),
      MakeField("top_percent", &E::top_percent,
                "The k of the customer-value and uplift metrics that look at the top k% of rows by prediction "
                "(revenue_share_top10, uplift_top10, policy_value_top10, ...); each in 1..100."),
      MakeField("importance", &E::importance,
                "Permutation importance: each feature's encoded values shuffled across the rows in turn (seeded by "
                "train.seed), and each task's AUC drop (binary) or RMSE rise (regression) reported; one prediction "
                "pass over the file per feature. `mtrec eval --importance` turns it on."),
  };
  return fields;
}

const std::vector<Field<StreamConfig>>& StreamFields() {
  using S = StreamConfig;
  static const std::vector<Field<S>> fields = {
      MakeField("passes", &S::passes, "`mtrec train --follow`: passes over each partition (at train.lr, constant)."),
      MakeField("publish_every", &S::publish_every,
                "Partitions between publishes of the model to --out (written beside it, then renamed over it, so a "
                "server that watches it reloads a whole model)."),
      MakeField("publish_minutes", &S::publish_minutes,
                "Also publish when this many minutes have passed since the last publish; 0 = by count only."),
      MakeField("evict_after", &S::evict_after,
                "An id no partition has used for this many partitions loses its embedding row and its optimizer "
                "state (its value goes back out of vocabulary, and is admitted anew if it returns); 0 = never."),
      MakeField("max_rows", &S::max_rows,
                "The most rows a vocabulary's embedding table keeps; beyond it the least frequently used ids are "
                "evicted after each partition (LFU); 0 = no cap."),
      MakeField("wait_seconds", &S::wait_seconds,
                "Once every partition in the folder is trained, how long to wait for a new one before finishing; "
                "negative = wait for ever (a service)."),
      MakeField("poll_seconds", &S::poll_seconds, "How often the folder is listed while waiting for a partition."),
  };
  return fields;
}

const std::vector<Field<ServeConfig>>& ServeFields() {
  using S = ServeConfig;
  static const std::vector<Field<S>> fields = {
      MakeField("blend", &S::blend,
                "Task weights of the blended ranking score, e.g. { click = 1, purchase = 3 }; empty = weight 1 on "
                "every binary task but the auxiliary ones. Used by `mtrec serve` (overridable per request) and by "
                "eval's ranking metrics."),
      MakeField("blend_mode", &S::blend_mode,
                "How task scores combine: sum = Σ w_k s_k; product = Π max(s_k, 0)^{w_k}."),
      MakeField("blend_feature", &S::blend_feature,
                "Numeric feature whose raw value multiplies the blended score (e.g. price, for expected revenue); "
                "empty = none."),
  };
  return fields;
}

template <typename S>
std::vector<std::string> Keys(const std::vector<Field<S>>& fields) {
  std::vector<std::string> keys;
  for (const auto& f : fields) keys.push_back(f.key);
  return keys;
}

// Reads the keys of one table into `section`; returns the keys that were present.
template <typename S>
std::set<std::string> ReadTable(const toml::table& table, const std::vector<Field<S>>& fields, S& section,
                                const std::string& section_name) {
  std::set<std::string> present;
  for (auto&& [key, node] : table) {
    std::string name(key.str());
    auto it = std::find_if(fields.begin(), fields.end(), [&](const Field<S>& f) { return f.key == name; });
    if (it == fields.end()) {
      Fail("{}: unknown key '{}' in [{}]{}", Locate(key.source()), name, section_name,
           DidYouMeanSuffix(name, Keys(fields)));
    }
    it->read(section, node);
    present.insert(name);
  }
  return present;
}

template <typename S>
void CheckKinds(const toml::table& table, const std::vector<Field<S>>& fields, const std::string& kind,
                const std::string& what, const std::string& name) {
  for (auto&& [key, node] : table) {
    // Named outside the structured binding: clang before 16 cannot capture one in a lambda.
    const std::string_view key_text = key.str();
    auto it = std::find_if(fields.begin(), fields.end(), [&](const Field<S>& f) { return f.key == key_text; });
    if (it != fields.end() && !it->kinds.empty() &&
        std::find(it->kinds.begin(), it->kinds.end(), kind) == it->kinds.end()) {
      Fail("{}: key '{}' of {} '{}' applies only to kind {}, not '{}'", Locate(node), key.str(), what, name,
           QuotedList(it->kinds), kind);
    }
  }
}

const toml::table& ExpectTable(const toml::node& node, const std::string& name) {
  const toml::table* table = node.as_table();
  if (!table) Fail("{}: '{}' must be a table ([{}])", Locate(node), name, name);
  return *table;
}

// The kind of a feature or task as the fields' `kinds` name it.
template <typename E>
std::string KindName(E kind) {
  return std::string(NameOf(kind));
}

// The kind an entry's keys are checked against (Field::kinds).
std::string KindOf(const FeatureConfig& feature) { return KindName(feature.kind); }
std::string KindOf(const TaskConfig& task) { return KindName(task.kind); }
std::string KindOf(const TimeSeriesColumnConfig& column) { return KindName(column.op); }

// Defaults that follow other keys of the entry: the column is the name, a task's loss follows its kind.
void FillDefaults(FeatureConfig& feature, const std::set<std::string>& /*present*/) {
  if (feature.column.empty()) feature.column = feature.name;
}
void FillDefaults(TimeSeriesColumnConfig& /*column*/, const std::set<std::string>& /*present*/) {}
void FillDefaults(TaskConfig& task, const std::set<std::string>& present) {
  if (task.column.empty()) task.column = task.name;
  if (!present.contains("loss")) task.loss = task.kind == TaskKind::kBinary ? LossKind::kLogloss : LossKind::kMse;
}

template <typename S>
std::vector<S> ReadArrayOfTables(const toml::node& node, const std::vector<Field<S>>& fields, const std::string& name,
                                 const std::string& what) {
  const toml::array* array = node.as_array();
  if (!array) Fail("{}: '{}' must be an array of tables ([[{}]])", Locate(node), name, name);
  std::vector<S> out;
  for (const auto& item : *array) {
    const toml::table& table = ExpectTable(item, name);
    S entry;
    const std::set<std::string> present = ReadTable(table, fields, entry, "[" + name + "]");
    if (entry.name.empty()) Fail("{}: a [[{}]] entry has no 'name'", Locate(item), name);
    FillDefaults(entry, present);
    CheckKinds(table, fields, KindOf(entry), what, entry.name);
    out.push_back(std::move(entry));
  }
  return out;
}

// [time_series]: its keys, and its [[time_series.columns]] entries.
void ReadTimeSeries(const toml::table& table, TimeSeriesConfig& time_series) {
  toml::table keys = table;
  keys.erase("columns");
  ReadTable(keys, TimeSeriesFields(), time_series, "time_series");
  if (const toml::node* columns = table.get("columns")) {
    time_series.columns =
        ReadArrayOfTables(*columns, TimeSeriesColumnFields(), "time_series.columns", "time-series column");
  }
}

// Applies "a.b=value" / "features.NAME.key=value" to the parsed document before it is read, so overrides get
// exactly the same checks as the file.
void ApplyOverride(toml::table& root, const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    Fail("override '{}' must look like section.key=value (e.g. train.epochs=3)", text);
  }
  std::string path(Trim(std::string_view(text).substr(0, eq)));
  std::string raw(Trim(std::string_view(text).substr(eq + 1)));
  std::vector<std::string_view> parts = Split(path, ".");
  const std::string source = fmt::format("command line '{}'", text);

  toml::table parsed;
  try {
    parsed = toml::parse("value = " + raw, source);
  } catch (const toml::parse_error&) {
    parsed = toml::table{};
    parsed.insert_or_assign("value", raw);  // a bare word is a string
  }
  toml::node& value = *parsed.get("value");

  const std::vector<std::string> sections = {"data",  "time_series", "features", "tasks",
                                             "model", "train",       "eval",     "serve", "stream"};
  std::string section(parts[0]);
  if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
    Fail("override '{}': unknown section '{}'{}", text, section, DidYouMeanSuffix(section, sections));
  }
  if (section == "features" || section == "tasks") {
    if (parts.size() != 3) Fail("override '{}' must look like {}.NAME.key=value", text, section);
    toml::array* array = root[section].as_array();
    std::vector<std::string> names;
    if (array) {
      for (auto& item : *array) {
        toml::table* table = item.as_table();
        if (!table) continue;
        std::string name = (*table)["name"].value_or(std::string());
        if (name == parts[1]) {
          table->insert_or_assign(std::string(parts[2]), value);
          return;
        }
        names.push_back(name);
      }
    }
    Fail("override '{}': no {} entry named '{}'{}", text, section, std::string(parts[1]),
         DidYouMeanSuffix(parts[1], names));
  }
  if (parts.size() != 2) Fail("override '{}' must look like {}.key=value", text, section);
  if (!root.contains(section)) root.insert_or_assign(section, toml::table{});
  toml::table* table = root[section].as_table();
  if (!table) Fail("override '{}': '{}' is not a table in the config", text, section);
  table->insert_or_assign(std::string(parts[1]), value);
}

template <typename S>
void WriteSection(std::string& out, const std::vector<Field<S>>& fields, const S& section, bool comments,
                  const std::string& kind = "") {
  for (const auto& field : fields) {
    if (!kind.empty() && !field.kinds.empty() &&
        std::find(field.kinds.begin(), field.kinds.end(), kind) == field.kinds.end()) {
      continue;
    }
    if (comments) out += "# " + field.doc + "\n";
    out += field.key + " = " + field.write(section) + "\n";
  }
}

template <typename S>
void WriteReference(std::string& out, const std::string& title, const std::vector<Field<S>>& fields) {
  S defaults;
  out += "\n## " + title + "\n\n| key | default | applies to | description |\n|---|---|---|---|\n";
  for (const auto& field : fields) {
    std::string kinds = field.kinds.empty() ? "" : QuotedList(field.kinds);
    std::string value = field.write(defaults);
    std::string doc = field.doc;
    for (auto* s : {&value, &doc}) {
      size_t pos = 0;
      while ((pos = s->find('|', pos)) != std::string::npos) {
        s->replace(pos, 1, "\\|");
        pos += 2;
      }
    }
    out += fmt::format("| `{}` | `{}` | {} | {} |\n", field.key, value, kinds, doc);
  }
}

}  // namespace

const TaskConfig* Config::FindTask(const std::string& name) const {
  for (const auto& task : tasks) {
    if (task.name == name) return &task;
  }
  return nullptr;
}

int Config::TaskIndex(const std::string& name) const {
  for (size_t k = 0; k < tasks.size(); ++k) {
    if (tasks[k].name == name) return static_cast<int>(k);
  }
  return -1;
}

const TimeSeriesColumnConfig* TimeSeriesConfig::Find(const std::string& name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

const FeatureConfig* Config::FindFeature(const std::string& name) const {
  for (const auto& feature : features) {
    if (feature.name == name) return &feature;
  }
  return nullptr;
}

Config ParseConfig(const std::string& text, const std::string& source_name, const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    Fail("{}:{}:{}: {}", source_name, error.source().begin.line, error.source().begin.column, error.description());
  }
  for (const auto& override_text : overrides) ApplyOverride(root, override_text);

  Config config;
  const std::vector<std::string> sections = {"data",  "time_series", "features", "tasks",
                                             "model", "train",       "eval",     "serve", "stream"};
  for (auto&& [key, node] : root) {
    std::string name(key.str());
    if (name == "data") {
      ReadTable(ExpectTable(node, name), DataFields(), config.data, name);
    } else if (name == "model") {
      ReadTable(ExpectTable(node, name), ModelFields(), config.model, name);
    } else if (name == "train") {
      ReadTable(ExpectTable(node, name), TrainFields(), config.train, name);
    } else if (name == "eval") {
      ReadTable(ExpectTable(node, name), EvalFields(), config.eval, name);
    } else if (name == "serve") {
      ReadTable(ExpectTable(node, name), ServeFields(), config.serve, name);
    } else if (name == "stream") {
      ReadTable(ExpectTable(node, name), StreamFields(), config.stream, name);
    } else if (name == "time_series") {
      ReadTimeSeries(ExpectTable(node, name), config.time_series);
    } else if (name == "features") {
      config.features = ReadArrayOfTables(node, FeatureFields(), name, "feature");
    } else if (name == "tasks") {
      config.tasks = ReadArrayOfTables(node, TaskFields(), name, "task");
    } else {
      Fail("{}: unknown section '{}'{}", Locate(key.source()), name, DidYouMeanSuffix(name, sections));
    }
  }
  try {
    ValidateConfig(config);
  } catch (const Error& error) {
    Fail("{}: {}", source_name, error.what());
  }
  return config;
}

Config LoadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  std::string text;
  try {
    text = ReadFileBytes(path);
  } catch (const Error& error) {
    Fail("cannot read the config: {}", error.what());
  }
  Config config = ParseConfig(text, path, overrides);
  config.source_path = path;
  return config;
}

namespace {

// Parents name other binary tasks, a chain's child is binary too, and following parents never loops.
void ValidateTaskGraph(const Config& config) {
  std::vector<std::string> names;
  for (const auto& task : config.tasks) names.push_back(task.name);
  for (const auto& task : config.tasks) {
    if (task.parent.empty()) {
      MTREC_CHECK(task.oracle_given_parent.empty(), "task '{}': oracle_given_parent needs a parent", task.name);
      continue;
    }
    const TaskConfig* parent = config.FindTask(task.parent);
    MTREC_CHECK(parent != nullptr, "task '{}': parent names no task '{}'{}", task.name, task.parent,
                DidYouMeanSuffix(task.parent, names));
    MTREC_CHECK(parent != &task, "task '{}' cannot be its own parent", task.name);
    MTREC_CHECK(parent->kind == TaskKind::kBinary, "task '{}': parent '{}' is a {} task; a parent must be binary",
                task.name, parent->name, parent->kind);
    MTREC_CHECK(task.mode != TaskMode::kChain || task.kind == TaskKind::kBinary,
                "task '{}' is a regression: mode = \"chain\" multiplies probabilities and needs a binary task (use "
                "\"masked\" or \"direct\")",
                task.name);
  }
  for (const auto& task : config.tasks) {
    if (task.counterfactual == CounterfactualKind::kNone) {
      MTREC_CHECK(task.counterfactual_weight == 1.0 && task.counterfactual_clip == 0.05,
                  "task '{}': counterfactual_weight and counterfactual_clip apply with counterfactual = \"ips\" or "
                  "\"dr\" only",
                  task.name);
      continue;
    }
    MTREC_CHECK(!task.parent.empty() && task.mode == TaskMode::kChain,
                "task '{}': counterfactual = \"{}\" regularises p(task | parent) of a chain: it needs a parent and "
                "mode = \"chain\"",
                task.name, task.counterfactual);
    MTREC_CHECK(task.loss == LossKind::kLogloss, "task '{}': counterfactual needs loss = \"logloss\", not \"{}\"",
                task.name, task.loss);
    MTREC_CHECK(task.treatment.empty(), "task '{}': counterfactual does not combine with treatment '{}'", task.name,
                task.treatment);
    MTREC_CHECK(task.counterfactual_weight > 0 && std::isfinite(task.counterfactual_weight),
                "task '{}': counterfactual_weight must be > 0, got {}", task.name, task.counterfactual_weight);
    MTREC_CHECK(task.counterfactual_clip > 0 && task.counterfactual_clip < 1,
                "task '{}': counterfactual_clip must be in (0, 1), got {}", task.name, task.counterfactual_clip);
  }
  for (const auto& task : config.tasks) {
    std::string path = task.name;
    const TaskConfig* at = &task;
    for (size_t steps = 0; !at->parent.empty(); ++steps) {
      at = config.FindTask(at->parent);
      path += " -> " + at->name;
      MTREC_CHECK(steps < config.tasks.size() && at != &task, "the task graph has a cycle: {}", path);
    }
  }
}

// The keys of one loss: in range for it, and left at their defaults by the other losses, where they would
// silently do nothing.
void ValidateLossKeys(const TaskConfig& task) {
  const std::string& name = task.name;
  MTREC_CHECK(task.tweedie_power > 1 && task.tweedie_power < 2, "task '{}': tweedie_power must be in (1, 2), got {}",
              name, task.tweedie_power);
  MTREC_CHECK(task.tweedie_power == 1.5 || task.loss == LossKind::kTweedie,
              "task '{}': tweedie_power applies to loss 'tweedie' only, not '{}'", name, task.loss);
  MTREC_CHECK(task.negbin_alpha > 0 && std::isfinite(task.negbin_alpha), "task '{}': negbin_alpha must be > 0, got {}",
              name, task.negbin_alpha);
  MTREC_CHECK(task.negbin_alpha == 0.5 || task.loss == LossKind::kNegbin,
              "task '{}': negbin_alpha applies to loss 'negbin' only, not '{}'", name, task.loss);
  MTREC_CHECK(task.quantile > 0 && task.quantile < 1, "task '{}': quantile must be in (0, 1), got {}", name,
              task.quantile);
  MTREC_CHECK(task.quantile == 0.5 || task.loss == LossKind::kPinball,
              "task '{}': quantile applies to loss 'pinball' only, not '{}'", name, task.loss);
  // The survival form -log P(Y >= y) needs a distribution over counts: Tweedie's density has no closed-form tail
  // and a quantile has no likelihood at all.
  MTREC_CHECK(task.censored.empty() || task.loss == LossKind::kPoisson || task.loss == LossKind::kNegbin,
              "task '{}': censored = \"{}\" needs loss 'poisson' or 'negbin' (their survival function gives the "
              "likelihood of a lower bound); loss '{}' has none",
              name, task.censored, task.loss);
  MTREC_CHECK(task.censored != task.column, "task '{}': censored names the label column '{}' itself", name,
              task.column);
  for (double q : task.quantiles) {
    MTREC_CHECK(q > 0 && q < 1, "task '{}': quantiles must each be in (0, 1), got {}", name, q);
  }
  MTREC_CHECK(task.quantiles == TaskConfig{}.quantiles || task.loss == LossKind::kZiln,
              "task '{}': quantiles applies to loss 'ziln' only, not '{}' (a pinball task predicts one quantile)",
              name, task.loss);
}

// A treatment splits a task's outputs by arm; its propensity names the binary task that predicts the treatment.
void ValidateTreatment(const Config& config, const TaskConfig& task) {
  const std::string& name = task.name;
  if (task.treatment.empty()) {
    MTREC_CHECK(task.propensity.empty(), "task '{}': propensity weights the arms of a treatment; set treatment too",
                name);
    MTREC_CHECK(task.oracle_uplift.empty(), "task '{}': oracle_uplift needs a treatment", name);
    return;
  }
  MTREC_CHECK(task.treatment != task.column, "task '{}': treatment names the label column '{}' itself", name,
              task.column);
  MTREC_CHECK(task.parent.empty() && task.loss != LossKind::kPinball,
              "task '{}': a task with a treatment can neither have a parent nor be a pinball rung (its outputs are "
              "per arm)",
              name);
  for (const auto& other : config.tasks) {
    MTREC_CHECK(other.parent != name, "task '{}' has a treatment, so it cannot be the parent of task '{}'", name,
                other.name);
  }
  MTREC_CHECK(task.propensity_clip > 0 && task.propensity_clip < 0.5,
              "task '{}': propensity_clip must be in (0, 0.5), got {}", name, task.propensity_clip);
  if (task.propensity.empty()) return;
  const TaskConfig* propensity = config.FindTask(task.propensity);
  MTREC_CHECK(propensity != nullptr, "task '{}': propensity names no task '{}'", name, task.propensity);
  MTREC_CHECK(propensity->kind == TaskKind::kBinary && propensity->column == task.treatment &&
                  propensity->treatment.empty() && propensity->parent.empty(),
              "task '{}': propensity task '{}' must be a binary task on the treatment column '{}' (column = \"{}\"), "
              "without a treatment or parent of its own",
              name, task.propensity, task.treatment, task.treatment);
}

// Pinball tasks on one column form a ladder ordered by quantile (models/task_graph.h): two on one quantile would
// be one rung twice.
void ValidateQuantileLadders(const Config& config) {
  std::map<std::pair<std::string, double>, std::string> rungs;  // (column, quantile) -> task
  for (const auto& task : config.tasks) {
    if (task.loss != LossKind::kPinball) continue;
    auto [it, fresh] = rungs.emplace(std::make_pair(task.column, task.quantile), task.name);
    MTREC_CHECK(fresh, "tasks '{}' and '{}' are both the {} quantile of column '{}': give each a different quantile",
                it->second, task.name, task.quantile, task.column);
  }
}

// The fractions of the training file held out, and what they combine with.
void ValidateSplit(const DataConfig& data) {
  MTREC_CHECK(data.valid_fraction >= 0 && data.valid_fraction < 1, "data.valid_fraction must be in [0, 1), got {}",
              data.valid_fraction);
  MTREC_CHECK(data.test_fraction >= 0 && data.test_fraction < 1, "data.test_fraction must be in [0, 1), got {}",
              data.test_fraction);
  MTREC_CHECK(data.valid_fraction + data.test_fraction < 1,
              "data.valid_fraction + data.test_fraction is {} + {}; it must stay below 1 to leave rows to train on",
              data.valid_fraction, data.test_fraction);
  MTREC_CHECK(data.valid_fraction == 0 || data.valid.empty(),
              "data.valid_fraction holds out validation rows of the training file, and data.valid names a "
              "validation file ('{}'): set one of them",
              data.valid);
  MTREC_CHECK(data.test_fraction == 0 || data.test.empty(),
              "data.test_fraction holds out test rows of the training file, and data.test names a test file "
              "('{}'): set one of them",
              data.test);
  const bool split = data.valid_fraction > 0 || data.test_fraction > 0;
  MTREC_CHECK(!split || data.valid_from_test == 0,
              "data.valid_from_test cuts the validation set from the test file, data.valid_fraction / "
              "data.test_fraction from the training file: set one of them");
  MTREC_CHECK(data.split_group.empty() || data.split_time.empty(),
              "data.split_group ('{}') and data.split_time ('{}') are both set; a split is by group or by time",
              data.split_group, data.split_time);
  MTREC_CHECK(split || (data.split_group.empty() && data.split_time.empty()),
              "data.{} is set but nothing is split: set data.valid_fraction or data.test_fraction",
              data.split_group.empty() ? "split_time" : "split_group");
}

// data.split_by = "date": the ranges parse (their text was checked where the file gives it), do not overlap, and
// nothing else splits the training file.
void ValidateDateSplit(const Config& config) {
  const DataConfig& data = config.data;
  if (data.split_by != SplitBy::kDate) {
    MTREC_CHECK(data.valid_dates.empty() && data.test_dates.empty(),
                "data.{} is set, but data.split_by is '{}': set data.split_by = \"date\" to split by date",
                data.valid_dates.empty() ? "test_dates" : "valid_dates", data.split_by);
    return;
  }
  MTREC_CHECK(!config.time_series.date.empty(),
              "data.split_by = \"date\" needs time_series.date, the column of the rows' dates");
  MTREC_CHECK(!data.valid_dates.empty() || !data.test_dates.empty(),
              "data.split_by = \"date\" needs data.valid_dates or data.test_dates (\"yyyy-mm-dd..yyyy-mm-dd\")");
  MTREC_CHECK(data.valid_fraction == 0 && data.test_fraction == 0 && data.split_group.empty() &&
                  data.split_time.empty() && data.valid_from_test == 0,
              "data.split_by = \"date\" splits by data.valid_dates / data.test_dates; valid_fraction, test_fraction, "
              "split_group, split_time and valid_from_test belong to the other splits: remove them");
  MTREC_CHECK(data.valid_dates.empty() || data.valid.empty(),
              "data.valid_dates holds out validation days of the training file, and data.valid names a validation "
              "file ('{}'): set one of them",
              data.valid);
  MTREC_CHECK(data.test_dates.empty() || data.test.empty(),
              "data.test_dates holds out test days of the training file, and data.test names a test file ('{}'): "
              "set one of them",
              data.test);
  std::optional<DateRange> valid;
  std::optional<DateRange> test;
  for (auto [text, range, key] : {std::tuple{&data.valid_dates, &valid, "valid_dates"},
                                  std::tuple{&data.test_dates, &test, "test_dates"}}) {
    if (text->empty()) continue;
    std::string why;
    *range = ParseDateRange(*text, &why);
    MTREC_CHECK(range->has_value(), "data.{} is {}: {}", key, Quoted(*text), why);
  }
  MTREC_CHECK(!valid || !test || !valid->Overlaps(*test),
              "data.valid_dates ({}) and data.test_dates ({}) overlap; a day is validation or test, not both",
              data.valid_dates, data.test_dates);
}

// [time_series]: the date and entity columns are given, each derived column has a source, an op's lag and window
// make sense, and nothing reads a label on the row's own day. `label_columns`: column -> task, as ValidateConfig
// collects them.
void ValidateTimeSeries(const Config& config, const std::map<std::string, std::string>& label_columns) {
  const TimeSeriesConfig& ts = config.time_series;
  constexpr int64_t kMaxDays = 100 * 366;  // a century back is far beyond any series; larger is a typo
  if (ts.date.empty()) {
    MTREC_CHECK(ts.columns.empty() && ts.series.empty(),
                "time_series.{} is set but time_series.date is not: which column holds the rows' dates?",
                ts.columns.empty() ? "series" : "columns");
    return;
  }
  std::set<std::string> used = {ts.date};  // the file columns the derived ones read
  used.insert(ts.series.begin(), ts.series.end());
  for (const auto& column : ts.columns) {
    used.insert(column.column);
    used.insert(column.by.begin(), column.by.end());
  }
  std::set<std::string> names;
  for (const auto& column : ts.columns) {
    const std::string what = fmt::format("time_series column '{}'", column.name);
    MTREC_CHECK(names.insert(column.name).second, "{} is declared twice", what);
    MTREC_CHECK(!column.column.empty(), "{} has no 'column': which source column does it read?", what);
    MTREC_CHECK(!ts.Find(column.column),
                "{} reads the derived column '{}'; a derived column reads file columns only", what, column.column);
    MTREC_CHECK(!used.contains(column.name),
                "{}: the name is a column the time series reads (date, series, by or a source); pick another name",
                what);
    MTREC_CHECK(!label_columns.contains(column.name),
                "{}: the name is the label column of task {}; pick another name", what,
                label_columns.contains(column.name) ? label_columns.at(column.name) : "");
    MTREC_CHECK(!ts.EntityOf(column).empty(),
                "{}: no entity; set time_series.series (e.g. [\"store_id\", \"item_id\"]) or the column's 'by'",
                what);
    const bool lagged = column.op != TimeSeriesOp::kDaysSince;
    const bool windowed = lagged && column.op != TimeSeriesOp::kLag;
    MTREC_CHECK(!lagged || (column.lag >= 1 && column.lag <= kMaxDays),
                "{}: lag must be from 1 to {} days (the row's own day is never read), got {}", what, kMaxDays,
                column.lag);
    MTREC_CHECK(!windowed || (column.window >= 1 && column.window <= kMaxDays),
                "{}: op '{}' needs window from 1 to {} days (the days read), got {}", what, column.op, kMaxDays,
                column.window);
    auto label = label_columns.find(column.column);
    MTREC_CHECK(column.op != TimeSeriesOp::kRatioToMean || label == label_columns.end(),
                "{}: op 'ratio_to_mean' reads its source on the row's own day, and '{}' is the label of task {}: a "
                "label is not known until the day is over",
                what, column.column, label == label_columns.end() ? "" : label->second);
  }
  for (const auto& feature : config.features) {
    MTREC_CHECK(!ts.Find(feature.column) || feature.kind == FeatureKind::kNumeric,
                "feature '{}' reads the derived column '{}', a number: its kind must be 'numeric', not '{}'",
                feature.name, feature.column, feature.kind);
  }
}

// The task names in [eval] and [serve] exist and have the kind their use needs.
void ValidateEvalAndServe(const Config& config) {
  std::vector<std::string> task_names;
  for (const auto& task : config.tasks) task_names.push_back(task.name);
  auto find = [&](const std::string& name, const std::string& key, std::optional<TaskKind> kind) {
    const TaskConfig* task = config.FindTask(name);
    MTREC_CHECK(task != nullptr, "{} names no task '{}'{}; the tasks are {}", key, name,
                DidYouMeanSuffix(name, task_names), QuotedList(task_names));
    MTREC_CHECK(!kind || task->kind == *kind, "{}: task '{}' is {}; expected a {} task", key, name, task->kind,
                *kind);
    return task;
  };
  const EvalConfig& eval = config.eval;
  MTREC_CHECK(eval.calibration_bins >= 1 && eval.calibration_bins <= 1000,
              "eval.calibration_bins is {}; expected 1 to 1000", eval.calibration_bins);
  for (int64_t k : eval.ranking_k) MTREC_CHECK(k >= 1, "eval.ranking_k holds {}; expected every k >= 1", k);
  for (int64_t k : eval.top_percent) {
    MTREC_CHECK(k >= 1 && k <= 100, "eval.top_percent holds {}; expected every k in 1..100", k);
  }
  MTREC_CHECK(eval.max_slices >= 1, "eval.max_slices is {}; expected at least 1", eval.max_slices);
  for (const auto& name : eval.relevance) find(name, "eval.relevance", TaskKind::kBinary);
  if (!eval.value_task.empty()) find(eval.value_task, "eval.value_task", TaskKind::kRegression);
  for (const auto& pair : eval.sample_spaces) {
    const size_t bar = pair.find('|');
    MTREC_CHECK(bar != std::string::npos && pair.find('|', bar + 1) == std::string::npos,
                "eval.sample_spaces entry '{}' must look like \"TASK|CONDITION\" (e.g. \"purchase|click\")", pair);
    find(pair.substr(0, bar), "eval.sample_spaces", std::nullopt);
    find(pair.substr(bar + 1), "eval.sample_spaces", TaskKind::kBinary);
    MTREC_CHECK(pair.substr(0, bar) != pair.substr(bar + 1),
                "eval.sample_spaces entry '{}' conditions a task on itself", pair);
  }
  for (const auto& [name, weight] : config.serve.blend) {
    find(name, "serve.blend", std::nullopt);
    MTREC_CHECK(std::isfinite(weight), "serve.blend weight of '{}' is {}; expected a finite number", name, weight);
    MTREC_CHECK(config.serve.blend_mode == BlendMode::kSum || weight >= 0,
                "serve.blend weight of '{}' is {}; a product blend needs weights >= 0", name, weight);
  }
  if (!config.serve.blend_feature.empty()) {
    const FeatureConfig* feature = config.FindFeature(config.serve.blend_feature);
    std::vector<std::string> numeric;
    for (const auto& f : config.features) {
      if (f.kind == FeatureKind::kNumeric) numeric.push_back(f.name);
    }
    MTREC_CHECK(feature != nullptr && feature->kind == FeatureKind::kNumeric,
                "serve.blend_feature '{}' is not a numeric feature{}", config.serve.blend_feature,
                DidYouMeanSuffix(config.serve.blend_feature, numeric));
  }
}

}  // namespace

// Bounds on the sizes a config can ask for, checked before anything is allocated: a model file's config is read
// before its weights, and a damaged or hostile one must be refused, not fed to the allocator. The bounds are far
// above real multi-task models (the AliExpress benchmark's MMoE has about 10 million dense parameters).
void ValidateModelSize(const Config& config) {
  constexpr int64_t kMaxWidth = int64_t{1} << 16;
  constexpr int64_t kMaxEmbeddingDim = int64_t{1} << 12;
  constexpr int64_t kMaxNetworks = int64_t{1} << 10;
  constexpr int64_t kMaxDenseParameters = int64_t{1} << 30;
  const ModelConfig& model = config.model;
  auto check_widths = [&](const std::vector<int64_t>& widths, const char* key) {
    for (int64_t width : widths) {
      MTREC_CHECK(width <= kMaxWidth, "model.{}: a layer of width {} is over the limit of {}", key, width, kMaxWidth);
    }
  };
  check_widths(model.bottom, "bottom");
  check_widths(model.tower, "tower");
  check_widths(model.expert, "expert");
  MTREC_CHECK(model.numeric_projection <= kMaxWidth, "model.numeric_projection {} is over the limit of {}",
              model.numeric_projection, kMaxWidth);
  MTREC_CHECK(model.embedding_dim <= kMaxEmbeddingDim, "model.embedding_dim {} is over the limit of {}",
              model.embedding_dim, kMaxEmbeddingDim);
  MTREC_CHECK(model.experts <= kMaxNetworks && model.task_experts <= kMaxNetworks,
              "model.experts and model.task_experts must be at most {}", kMaxNetworks);
  MTREC_CHECK(config.train.batch_size <= (int64_t{1} << 20), "train.batch_size {} is over the limit of {}",
              config.train.batch_size, int64_t{1} << 20);
  // An upper bound of the dense parameters: every network any architecture builds, each as wide as the widest list.
  int64_t input = model.numeric_projection;
  for (const auto& feature : config.features) {
    MTREC_CHECK(feature.embedding_dim <= kMaxEmbeddingDim, "feature '{}': embedding_dim {} is over the limit of {}",
                feature.name, feature.embedding_dim, kMaxEmbeddingDim);
    input += std::max(feature.embedding_dim > 0 ? feature.embedding_dim : model.embedding_dim, int64_t{2});
  }
  auto chain = [](const std::vector<int64_t>& widths, int64_t in) {
    int64_t parameters = 0;
    for (int64_t width : widths) {
      parameters += (in + 1) * width;
      in = width;
    }
    return parameters;
  };
  const int64_t tasks = static_cast<int64_t>(config.tasks.size());
  const int64_t networks = model.experts + tasks * (model.task_experts + 2) + 1;
  const int64_t widest = std::max({int64_t{1}, input, model.bottom.empty() ? 1 : model.bottom.back(),
                                   model.expert.empty() ? 1 : model.expert.back()});
  // Each term is at most 2^16 · 2^16 · (layers): no overflow before the multiplication by the network count.
  const double bound =
      static_cast<double>(networks) * static_cast<double>(chain(model.bottom, input) + chain(model.expert, input) +
                                                          chain(model.tower, widest) + widest * tasks);
  MTREC_CHECK(bound <= static_cast<double>(kMaxDenseParameters),
              "model: the configured layers could need up to {:.3g} dense parameters, over the limit of {:.3g}; "
              "narrow model.bottom / model.expert / model.tower or use fewer experts",
              bound, static_cast<double>(kMaxDenseParameters));
}

void ValidateConfig(const Config& config) {
  const DataConfig& data = config.data;
  MTREC_CHECK(!data.delimiter.empty(), "data.delimiter must not be empty");
  MTREC_CHECK(data.header || !data.columns.empty(), "data.header = false needs data.columns (the column names)");
  MTREC_CHECK(data.valid_from_test >= 0 && data.valid_from_test < 1, "data.valid_from_test must be in [0, 1), got {}",
              data.valid_from_test);
  MTREC_CHECK(data.max_reported_errors >= 0, "data.max_reported_errors must be >= 0");
  ValidateDateSplit(config);
  ValidateSplit(data);
  MTREC_CHECK(config.train.precision != Precision::kInt8,
              "train.precision = \"int8\": int8 is for scoring only (`mtrec serve --precision int8`, `mtrec bench serve "
              "--precision int8`); training takes f32 or bf16");
  const StreamConfig& stream = config.stream;
  MTREC_CHECK(stream.passes >= 1, "stream.passes must be >= 1, got {}", stream.passes);
  MTREC_CHECK(stream.publish_every >= 1, "stream.publish_every must be >= 1, got {}", stream.publish_every);
  MTREC_CHECK(stream.publish_minutes >= 0, "stream.publish_minutes must be >= 0, got {}", stream.publish_minutes);
  MTREC_CHECK(stream.evict_after >= 0, "stream.evict_after must be >= 0, got {}", stream.evict_after);
  MTREC_CHECK(stream.max_rows >= 0, "stream.max_rows must be >= 0, got {}", stream.max_rows);
  MTREC_CHECK(stream.poll_seconds > 0, "stream.poll_seconds must be > 0, got {}", stream.poll_seconds);

  std::set<std::string> names;
  std::map<std::string, std::string> label_columns;  // column -> task
  for (const auto& task : config.tasks) {
    MTREC_CHECK(names.insert(task.name).second, "task '{}' is declared twice", task.name);
    if (task.kind == TaskKind::kBinary) {
      MTREC_CHECK(task.loss == LossKind::kLogloss, "task '{}' is binary: its loss must be 'logloss', not '{}'",
                  task.name, task.loss);
    } else {
      MTREC_CHECK(task.loss != LossKind::kLogloss,
                  "task '{}' is a regression: its loss must be 'mse', 'huber', 'poisson', 'tweedie', 'negbin', "
                  "'pinball' or 'ziln', not 'logloss'",
                  task.name);
    }
    ValidateLossKeys(task);
    ValidateTreatment(config, task);
    MTREC_CHECK(task.positive.empty() || task.equals.empty(), "task '{}': give either 'positive' or 'equals', not both",
                task.name);
    MTREC_CHECK(task.weight >= 0 && std::isfinite(task.weight), "task '{}': weight must be >= 0, got {}", task.name,
                task.weight);
    MTREC_CHECK(task.huber_delta > 0, "task '{}': huber_delta must be > 0", task.name);
    MTREC_CHECK(task.horizon >= 0, "task '{}': horizon must be >= 0 days, got {}", task.name, task.horizon);
    MTREC_CHECK(task.naive != task.column, "task '{}': naive names the label column '{}' itself", task.name,
                task.column);
    MTREC_CHECK(task.pos_weight > 0 && std::isfinite(task.pos_weight), "task '{}': pos_weight must be > 0, got {}",
                task.name, task.pos_weight);
    MTREC_CHECK(task.pos_weight == 1.0 || task.kind == TaskKind::kBinary,
                "task '{}' is a regression: pos_weight applies to binary tasks only", task.name);
    label_columns[task.column] = task.name;
    if (!task.oracle.empty()) label_columns[task.oracle] = task.name + " (oracle)";
    if (!task.oracle_given_parent.empty())
      label_columns[task.oracle_given_parent] = task.name + " (oracle given parent)";
    if (!task.censored.empty()) label_columns[task.censored] = task.name + " (censored)";
    if (!task.treatment.empty()) label_columns[task.treatment] = task.name + " (treatment)";
    if (!task.oracle_uplift.empty()) label_columns[task.oracle_uplift] = task.name + " (oracle uplift)";
  }
  ValidateQuantileLadders(config);

  std::set<std::string> feature_names;
  for (const auto& feature : config.features) {
    MTREC_CHECK(feature_names.insert(feature.name).second, "feature '{}' is declared twice", feature.name);
    auto label = label_columns.find(feature.column);
    MTREC_CHECK(label == label_columns.end(),
                "feature '{}' reads column '{}', which is the label of task {}: a label must not be an input",
                feature.name, feature.column, label == label_columns.end() ? "" : label->second);
    MTREC_CHECK(feature.min_count >= 1, "feature '{}': min_count must be >= 1", feature.name);
    MTREC_CHECK(feature.embedding_l2 == -1.0 || (feature.embedding_l2 >= 0 && std::isfinite(feature.embedding_l2)),
                "feature '{}': embedding_l2 must be >= 0, or -1 for train.embedding_l2, got {}", feature.name,
                feature.embedding_l2);
    MTREC_CHECK(feature.hash_buckets >= 0, "feature '{}': hash_buckets must be >= 0", feature.name);
    MTREC_CHECK(feature.embedding_dim >= 0, "feature '{}': embedding_dim must be >= 0", feature.name);
    MTREC_CHECK(feature.buckets >= 0 && feature.buckets != 1, "feature '{}': buckets must be 0 or >= 2", feature.name);
    MTREC_CHECK(feature.clip.empty() || (feature.clip.size() == 2 && feature.clip[0] < feature.clip[1]),
                "feature '{}': clip must be [lo, hi] with lo < hi", feature.name);
    MTREC_CHECK(!feature.separator.empty(), "feature '{}': separator must not be empty", feature.name);
    // Settings of an embedding table on a feature that has none would silently do nothing.
    const bool embedded = feature.kind != FeatureKind::kNumeric || feature.buckets > 0;
    MTREC_CHECK(embedded || (feature.embedding_dim == 0 && feature.embedding_l2 == -1.0),
                "feature '{}' is numeric without buckets, so it has no embedding: embedding_dim and embedding_l2 do "
                "not apply (set buckets, or remove them)",
                feature.name);
    MTREC_CHECK(feature.share_with.empty() || feature.embedding_l2 == -1.0,
                "feature '{}' uses the table of '{}': set embedding_l2 on '{}', the table's owner", feature.name,
                feature.share_with, feature.share_with);
  }
  for (const auto& feature : config.features) {
    if (feature.share_with.empty()) continue;
    const FeatureConfig* other = config.FindFeature(feature.share_with);
    MTREC_CHECK(other != nullptr, "feature '{}': share_with names no feature '{}'", feature.name, feature.share_with);
    MTREC_CHECK(other != &feature, "feature '{}' cannot share with itself", feature.name);
    MTREC_CHECK(other->kind != FeatureKind::kNumeric && other->share_with.empty(),
                "feature '{}': share_with must name a categorical or multi_categorical feature that owns its table",
                feature.name);
  }

  ValidateTimeSeries(config, label_columns);
  ValidateTaskGraph(config);

  const ModelConfig& model = config.model;
  MTREC_CHECK(model.embedding_dim > 0, "model.embedding_dim must be > 0");
  ValidateModelSize(config);
  MTREC_CHECK(model.experts >= 1, "model.experts must be >= 1");
  MTREC_CHECK(model.task_experts >= 1, "model.task_experts must be >= 1");
  MTREC_CHECK(!model.expert.empty(), "model.expert needs at least one layer width");
  for (int64_t width : model.expert) MTREC_CHECK(width > 0, "model.expert widths must be > 0");
  MTREC_CHECK(model.calibrator >= 0 && std::isfinite(model.calibrator), "model.calibrator must be >= 0");
  MTREC_CHECK(!model.bottom.empty(), "model.bottom needs at least one layer width");
  for (int64_t width : model.bottom) MTREC_CHECK(width > 0, "model.bottom widths must be > 0");
  for (int64_t width : model.tower) MTREC_CHECK(width > 0, "model.tower widths must be > 0");
  MTREC_CHECK(model.dropout >= 0 && model.dropout < 1, "model.dropout must be in [0, 1), got {}", model.dropout);
  MTREC_CHECK(model.numeric_projection >= 0, "model.numeric_projection must be >= 0, got {}", model.numeric_projection);
  MTREC_CHECK(model.embedding_init_std > 0, "model.embedding_init_std must be > 0");
  MTREC_CHECK(model.gate_scale > 0 && std::isfinite(model.gate_scale), "model.gate_scale must be > 0, got {}",
              model.gate_scale);
  if (model.arch == Arch::kPepnet) {
    // A gate with one unit would read as a task's output layer (Model::SetOutputBias counts them).
    for (int64_t width : model.tower) {
      MTREC_CHECK(width >= 2, "pepnet: model.tower widths must be >= 2 (PPNet gates each layer's input), got {}",
                  width);
    }
  }
  MTREC_CHECK(model.group_experts >= 1, "model.group_experts must be >= 1, got {}", model.group_experts);
  MTREC_CHECK(model.feature_gate_rank >= 0, "model.feature_gate_rank must be >= 0 (0: no feature gates), got {}",
              model.feature_gate_rank);
  if (model.arch == Arch::kHome) {
    MTREC_CHECK(model.expert.size() == 2,
                "home: model.expert needs two widths, the meta level's and the task level's experts, got {}",
                model.expert.size());
    std::vector<std::string> grouped;
    for (size_t g = 0; g < model.task_groups.size(); ++g) {
      MTREC_CHECK(!model.task_groups[g].empty(), "model.task_groups: group {} is empty", g + 1);
      for (const std::string& name : model.task_groups[g]) {
        std::vector<std::string> names;
        for (const TaskConfig& task : config.tasks) names.push_back(task.name);
        MTREC_CHECK(config.FindTask(name) != nullptr, "model.task_groups: group {} names no task '{}'{}", g + 1, name,
                    DidYouMeanSuffix(name, names));
        MTREC_CHECK(std::find(grouped.begin(), grouped.end(), name) == grouped.end(),
                    "model.task_groups: task '{}' is in more than one group", name);
        grouped.push_back(name);
      }
    }
  }
  // Keys that one architecture alone reads: set for another, they would be ignored without a word.
  const ModelConfig defaults;
  const struct {
    const char* key;
    Arch arch;
    bool set;
  } one_arch_keys[] = {
      {"scenario_features", Arch::kPepnet, !model.scenario_features.empty()},
      {"prior_features", Arch::kPepnet, !model.prior_features.empty()},
      {"gate_scale", Arch::kPepnet, model.gate_scale != defaults.gate_scale},
      {"task_groups", Arch::kHome, !model.task_groups.empty()},
      {"group_experts", Arch::kHome, model.group_experts != defaults.group_experts},
      {"feature_gate_rank", Arch::kHome, model.feature_gate_rank != defaults.feature_gate_rank},
  };
  for (const auto& key : one_arch_keys) {
    MTREC_CHECK(!key.set || model.arch == key.arch, "model.{} applies to model.arch = \"{}\" only, not \"{}\"", key.key,
                key.arch, model.arch);
  }

  const TrainConfig& train = config.train;
  MTREC_CHECK(train.epochs >= 1, "train.epochs must be >= 1");
  MTREC_CHECK(train.stop_after_epochs >= 0, "train.stop_after_epochs must be >= 0 (0: run to train.epochs), got {}",
              train.stop_after_epochs);
  MTREC_CHECK(train.batch_size >= 1, "train.batch_size must be >= 1");
  MTREC_CHECK(train.lr > 0 && train.embedding_lr > 0, "train.lr and train.embedding_lr must be > 0");
  MTREC_CHECK(train.beta1 >= 0 && train.beta1 < 1 && train.beta2 >= 0 && train.beta2 < 1,
              "train.beta1 and train.beta2 must be in [0, 1)");
  MTREC_CHECK(train.eps > 0, "train.eps must be > 0");
  MTREC_CHECK(train.embedding_l2 >= 0 && std::isfinite(train.embedding_l2), "train.embedding_l2 must be >= 0, got {}",
              train.embedding_l2);
  MTREC_CHECK(train.warmup_steps >= 0, "train.warmup_steps must be >= 0, got {}", train.warmup_steps);
  MTREC_CHECK(train.final_lr_ratio >= 0 && train.final_lr_ratio <= 1,
              "train.final_lr_ratio must be in [0, 1], got {}", train.final_lr_ratio);
  MTREC_CHECK(train.ema_decay >= 0 && train.ema_decay < 1, "train.ema_decay must be in [0, 1) (0 = off), got {}",
              train.ema_decay);
  MTREC_CHECK(train.weight_decay >= 0 && train.momentum >= 0 && train.momentum < 1,
              "train.weight_decay must be >= 0 and train.momentum in [0, 1)");
  MTREC_CHECK(train.threads >= 0, "train.threads must be >= 0 (0 = all cores)");
  MTREC_CHECK(train.shard_rows >= 0, "train.shard_rows must be >= 0 (0 = shard every embedding table under mpirun)");
  MTREC_CHECK(train.patience >= 0, "train.patience must be >= 0");
  MTREC_CHECK(train.weighting_lr > 0 && std::isfinite(train.weighting_lr), "train.weighting_lr must be > 0");
  MTREC_CHECK(train.gradnorm_alpha >= 0 && std::isfinite(train.gradnorm_alpha), "train.gradnorm_alpha must be >= 0");
  MTREC_CHECK(train.dwa_temperature > 0 && std::isfinite(train.dwa_temperature), "train.dwa_temperature must be > 0");
  MTREC_CHECK(train.cagrad_c >= 0 && std::isfinite(train.cagrad_c), "train.cagrad_c must be >= 0");
  MTREC_CHECK(train.conflict_every >= 0, "train.conflict_every must be >= 0 (0 = never)");
  const auto is_main = [](const TaskConfig& task) { return !task.auxiliary; };
  MTREC_CHECK(config.tasks.empty() || std::any_of(config.tasks.begin(), config.tasks.end(), is_main),
              "every task is auxiliary; at least one task must be a main task (auxiliary = false)");
  if (!train.early_stop_task.empty()) {
    std::vector<std::string> task_names;
    for (const auto& task : config.tasks) task_names.push_back(task.name);
    MTREC_CHECK(config.FindTask(train.early_stop_task) != nullptr, "train.early_stop_task names no task '{}'{}",
                train.early_stop_task, DidYouMeanSuffix(train.early_stop_task, task_names));
  }
  MTREC_CHECK(config.eval.threshold > 0 && config.eval.threshold < 1, "eval.threshold must be in (0, 1)");
  ValidateEvalAndServe(config);
}

std::string ConfigToToml(const Config& config, bool comments) {
  std::string out;
  out += "[data]\n";
  WriteSection(out, DataFields(), config.data, comments);
  out += "\n[time_series]\n";
  WriteSection(out, TimeSeriesFields(), config.time_series, comments);
  for (const auto& column : config.time_series.columns) {
    out += "\n[[time_series.columns]]\n";
    WriteSection(out, TimeSeriesColumnFields(), column, comments, KindOf(column));
  }
  for (const auto& feature : config.features) {
    out += "\n[[features]]\n";
    WriteSection(out, FeatureFields(), feature, comments, KindOf(feature));
  }
  for (const auto& task : config.tasks) {
    out += "\n[[tasks]]\n";
    WriteSection(out, TaskFields(), task, comments, KindOf(task));
  }
  out += "\n[model]\n";
  WriteSection(out, ModelFields(), config.model, comments);
  out += "\n[train]\n";
  WriteSection(out, TrainFields(), config.train, comments);
  out += "\n[eval]\n";
  WriteSection(out, EvalFields(), config.eval, comments);
  out += "\n[serve]\n";
  WriteSection(out, ServeFields(), config.serve, comments);
  out += "\n[stream]\n";
  WriteSection(out, StreamFields(), config.stream, comments);
  return out;
}

std::string ConfigReferenceMarkdown() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated from the config declarations in `src/common/config.cc` (`mtrec train --print-config` prints a\n"
      "resolved config with these descriptions). A run is one TOML file; `section.key=value` on the command line\n"
      "overrides it (`features.NAME.key=value` and `tasks.NAME.key=value` for one feature or task). Unknown keys\n"
      "are errors with the file:line and a suggestion. Paths are relative to the config file.\n";
  WriteReference(out, "[data]", DataFields());
  WriteReference(out, "[time_series]", TimeSeriesFields());
  WriteReference(out, "[[time_series.columns]]", TimeSeriesColumnFields());
  WriteReference(out, "[[features]]", FeatureFields());
  WriteReference(out, "[[tasks]]", TaskFields());
  WriteReference(out, "[model]", ModelFields());
  WriteReference(out, "[train]", TrainFields());
  WriteReference(out, "[eval]", EvalFields());
  WriteReference(out, "[serve]", ServeFields());
  WriteReference(out, "[stream]", StreamFields());
  return out;
}

std::string DataPath(const Config& config, const std::string& path) { return ResolvePath(path, config.source_path); }

}  // namespace mtrec
