#include "serve/request.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/dates.h"
#include "common/strings.h"

namespace mtrec {

using json = nlohmann::json;  // the diagnostic reading of a body simdjson refuses
using Value = simdjson::dom::element;
using Object = simdjson::dom::object;
using Array = simdjson::dom::array;

RequestSchema::RequestSchema(const FeaturePipeline& pipeline, const TimeSeriesIndex* history) : pipeline_(&pipeline) {
  const Config& config = pipeline.config();
  auto use = [&](const std::string& column) -> ColumnUse& {
    auto [it, added] = index_.emplace(column, columns_.size());
    if (added) columns_.push_back({column, {}});
    return columns_[it->second];
  };
  for (size_t i = 0; i < config.features.size(); ++i) {
    use(config.features[i].column).features.push_back(i);
    placements_.push_back(pipeline.PlacementOf(i));
  }
  const TimeSeriesConfig& ts = config.time_series;
  if (history != nullptr && !ts.columns.empty()) {
    // A derived column no feature reads is not an input; the date, entity and source columns become ones.
    history_ = history;
    derived_columns_.assign(ts.columns.size(), -1);
    for (size_t c = 0; c < ts.columns.size(); ++c) {
      auto it = index_.find(ts.columns[c].name);
      if (it == index_.end()) continue;
      derived_columns_[c] = static_cast<int>(it->second);
      columns_[it->second].derived = static_cast<int>(c);
    }
    use(ts.date).date = true;
    for (size_t k = 0; k < history->key_columns().size(); ++k) use(history->key_columns()[k]).key = static_cast<int>(k);
    for (size_t s = 0; s < history->sources().size(); ++s) use(history->sources()[s]).source = static_cast<int>(s);
  }
  for (const auto& use : columns_) column_names_.push_back(use.name);
  std::sort(column_names_.begin(), column_names_.end());
  default_blend_ = ResolveBlend(config, config.serve.blend);
  if (!config.serve.blend_feature.empty()) {
    for (const auto& feature : config.features) {
      if (feature.name == config.serve.blend_feature) blend_column_ = static_cast<int>(index_.at(feature.column));
    }
  }
}

namespace {

using Clock = std::chrono::steady_clock;

void CheckDeadline(const RequestLimits& limits) {
  if (Clock::now() > limits.deadline) {
    throw RequestError(503, "the request was not parsed within the server's time limit; retry or send a smaller body");
  }
}

// nlohmann's SAX reading of a body simdjson refused, for its message: the value built in one pass, nesting limited
// as it opens (linear in the body), a key given twice in one object refused with its place, the deadline checked
// every few thousand values, so the first fault in the text is the one reported.
class BodyBuilder {
 public:
  explicit BodyBuilder(const RequestLimits& limits) : limits_(limits) {}

  bool null() { return Add(nullptr); }
  bool boolean(bool value) { return Add(value); }
  bool number_integer(json::number_integer_t value) { return Add(value); }
  bool number_unsigned(json::number_unsigned_t value) { return Add(value); }
  bool number_float(json::number_float_t value, const std::string&) { return Add(value); }
  bool string(std::string& value) { return Add(std::move(value)); }
  bool binary(json::binary_t& value) { return Add(std::move(value)); }
  bool start_object(size_t) { return Open(json::object()); }
  bool start_array(size_t) { return Open(json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(std::string& key) {
    json& object = *open_.back();
    if (object.contains(key)) {
      throw RequestError(400, fmt::format("{}: duplicate key {}; give each key once", Path(), Quoted(key)));
    }
    slot_ = &object[key];
    keys_.back() = std::move(key);
    return true;
  }
  bool parse_error(size_t, const std::string& last_token, const json::exception& error) {
    // nlohmann's message starts with "[json.exception.parse_error.101] "; the rest says where and what, and
    // quotes the last token read, which can be the whole body (a string without its closing quote).
    std::string what = error.what();
    const size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what.erase(0, bracket + 2);
    if (last_token.size() > 64) {
      const std::string token = "'" + last_token + "'";
      const size_t at = what.find(token);
      if (at != std::string::npos) what.replace(at, token.size(), Quoted(last_token));
    }
    throw RequestError(400, fmt::format("malformed JSON: {}", what));
  }

 private:
  // Where the next value goes: the root, the end of the innermost array, or the slot of the object's last key.
  json* Place(json value) {
    if ((++values_ & 4095) == 0) CheckDeadline(limits_);
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }
  template <typename Value>
  bool Add(Value&& value) {
    Place(json(std::forward<Value>(value)));
    return true;
  }
  bool Open(json container) {
    if (static_cast<int>(open_.size()) >= limits_.max_depth) {
      throw RequestError(400, fmt::format("JSON nested deeper than {} levels", limits_.max_depth));
    }
    // A container's address stays valid while it is open: nothing is added to its parent until it closes.
    open_.push_back(Place(std::move(container)));
    keys_.emplace_back();
    return true;
  }
  bool Close() {
    open_.pop_back();
    keys_.pop_back();
    return true;
  }
  // "request body", "items[3]", "context": the innermost open object, for a message.
  std::string Path() const {
    std::string path;
    for (size_t i = 1; i < open_.size(); ++i) {
      const json& parent = *open_[i - 1];
      if (parent.is_array()) {
        path += fmt::format("[{}]", parent.size() - 1);
      } else {
        const std::string& key = keys_[i - 1];
        if (!path.empty()) path += '.';
        path += key.size() <= 64 ? key : Quoted(key);
      }
    }
    return path.empty() ? "request body" : path;
  }

  const RequestLimits& limits_;
  json root_;
  std::vector<json*> open_;        // the containers being read, outermost first
  std::vector<std::string> keys_;  // per open container: its last key (objects)
  json* slot_ = nullptr;           // the value of the innermost object's last key
  int64_t values_ = 0;
};

// nlohmann's reading of a body simdjson refused: its messages say where (line, column) and what; it throws the
// RequestError of the first fault in the text, or returns when it finds none.
void DiagnoseBody(std::string_view body, const RequestLimits& limits) {
  BodyBuilder builder(limits);
  try {
    json::sax_parse(body.begin(), body.end(), &builder);
  } catch (const json::exception& error) {
    // Anything nlohmann throws past the SAX events (it reports syntax errors and numbers out of range, 1e309,
    // through parse_error) is still a malformed body, not a fault of the server.
    std::string_view what = error.what();
    const size_t bracket = what.find("] ");
    if (bracket != std::string_view::npos) what.remove_prefix(bracket + 2);
    throw RequestError(400, fmt::format("malformed JSON: {}", what));
  }
}

const char* TypeName(Value value) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "number";
  }
}

bool IsNumber(Value value) {
  const auto type = value.type();
  return type == simdjson::dom::element_type::INT64 || type == simdjson::dom::element_type::UINT64 ||
         type == simdjson::dom::element_type::DOUBLE;
}

bool IsInteger(Value value) {
  const auto type = value.type();
  return type == simdjson::dom::element_type::INT64 || type == simdjson::dom::element_type::UINT64;
}

// A value as JSON text, for a message that echoes it.
std::string Dump(Value value) {
  if (value.type() == simdjson::dom::element_type::DOUBLE) return fmt::format("{}", double(value));
  return simdjson::minify(value);
}

// Where a container sits in the body, as a chain up to the root, put into words only for a message:
// "request body", "items[3]", "context", "blend".
struct Location {
  const Location* parent = nullptr;
  std::string_view key;  // in an object
  int64_t index = -1;    // in an array

  std::string Str() const {
    std::vector<const Location*> chain;
    for (const Location* p = this; p->parent != nullptr; p = p->parent) chain.push_back(p);
    std::string path;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if ((*it)->index >= 0) {
        path += fmt::format("[{}]", (*it)->index);
      } else {
        if (!path.empty()) path += '.';
        path += (*it)->key.size() <= 64 ? std::string((*it)->key) : Quoted((*it)->key);
      }
    }
    return path.empty() ? "request body" : path;
  }
};

// simdjson keeps every key of an object; a key given twice is refused here, with its place, in every object of
// the body. An object's keys are few (a row's inputs): pairs are compared, the longer ones sorted.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const RequestLimits& limits) : limits_(limits), keys_(Keys()), sorted_(Sorted()) {}
  // The lists are kept for the thread's next request only while small: one body with an object of a million keys
  // must not leave megabytes on every worker thread.
  ~DuplicateKeyCheck() {
    constexpr size_t kKeptKeys = 4096;
    if (keys_.capacity() > kKeptKeys) std::vector<std::string_view>().swap(keys_);
    if (sorted_.capacity() > kKeptKeys) std::vector<std::pair<std::string_view, size_t>>().swap(sorted_);
  }
  DuplicateKeyCheck(const DuplicateKeyCheck&) = delete;
  DuplicateKeyCheck& operator=(const DuplicateKeyCheck&) = delete;

  void Check(Value value, const Location& place) {
    if ((++values_ & 4095) == 0) CheckDeadline(limits_);
    if (value.type() == simdjson::dom::element_type::OBJECT) {
      const Object object(value);
      CheckKeys(object, place);
      for (auto [key, child] : object) {
        if (IsContainer(child)) Check(child, Location{&place, key, -1});
      }
    } else if (value.type() == simdjson::dom::element_type::ARRAY) {
      int64_t index = 0;
      for (Value child : Array(value)) {
        if (IsContainer(child)) Check(child, Location{&place, {}, index});
        ++index;
      }
    }
  }

 private:
  static bool IsContainer(Value value) {
    return value.type() == simdjson::dom::element_type::OBJECT || value.type() == simdjson::dom::element_type::ARRAY;
  }

  void CheckKeys(const Object& object, const Location& place) {
    keys_.clear();
    for (auto [key, child] : object) keys_.push_back(key);
    // The first key that comes again, in the order of the text, as a streaming parser reports it.
    size_t repeated = keys_.size();
    constexpr size_t kPairwise = 24;
    if (keys_.size() <= kPairwise) {
      for (size_t j = 1; j < keys_.size() && repeated == keys_.size(); ++j) {
        for (size_t i = 0; i < j; ++i) {
          if (keys_[i] == keys_[j]) {
            repeated = j;
            break;
          }
        }
      }
    } else {
      sorted_.resize(keys_.size());
      for (size_t i = 0; i < keys_.size(); ++i) sorted_[i] = {keys_[i], i};
      std::sort(sorted_.begin(), sorted_.end());
      for (size_t i = 1; i < sorted_.size(); ++i) {
        if (sorted_[i].first == sorted_[i - 1].first) repeated = std::min(repeated, sorted_[i].second);
      }
    }
    if (repeated < keys_.size()) {
      throw RequestError(400,
                         fmt::format("{}: duplicate key {}; give each key once", place.Str(), Quoted(keys_[repeated])));
    }
  }

  // The thread's own, their capacity kept from one request to the next (the keys of one object at a time).
  static std::vector<std::string_view>& Keys() {
    thread_local std::vector<std::string_view> keys;
    return keys;
  }
  static std::vector<std::pair<std::string_view, size_t>>& Sorted() {
    thread_local std::vector<std::pair<std::string_view, size_t>> sorted;
    return sorted;
  }

  const RequestLimits& limits_;
  std::vector<std::string_view>& keys_;
  std::vector<std::pair<std::string_view, size_t>>& sorted_;
  int64_t values_ = 0;
};

// The body's JSON through simdjson, every object checked for keys given twice. A body simdjson refuses is read
// again by nlohmann for a message that says where. The parser is the thread's own, its buffers reused from request
// to request, or for a body over kOwnParserBytes one of this object's, freed with it (a parser keeps buffers of
// about ten times the largest body it read, which a rare large request would leave on every worker thread). The
// values stay valid while this object lives and the thread parses nothing else.
class BodyParser {
 public:
  Value Parse(std::string_view body, const RequestLimits& limits);

 private:
  static constexpr size_t kOwnParserBytes = size_t{1} << 20;
  std::optional<simdjson::dom::parser> own_;
};

Value BodyParser::Parse(std::string_view body, const RequestLimits& limits) {
  // A UTF-8 byte order mark, which nlohmann skipped and simdjson 3.0 does not.
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  if (body.empty()) throw RequestError(400, "empty body; expected a JSON object");
  thread_local simdjson::dom::parser thread_parser;
  simdjson::dom::parser& parser = body.size() > kOwnParserBytes ? own_.emplace() : thread_parser;
  // simdjson counts the levels it opens as nlohmann's limit here does: max_depth levels pass, one more does not.
  const size_t depth = static_cast<size_t>(limits.max_depth);
  if (parser.max_depth() != depth || parser.capacity() < body.size()) {
    const simdjson::error_code allocated = parser.allocate(std::max(body.size(), parser.capacity()), depth);
    if (allocated != simdjson::SUCCESS) throw std::bad_alloc();
  }
  Value root;
  const simdjson::error_code error = parser.parse(body.data(), body.size()).get(root);
  if (error == simdjson::DEPTH_ERROR) {
    throw RequestError(400, fmt::format("JSON nested deeper than {} levels", limits.max_depth));
  }
  if (error == simdjson::MEMALLOC) throw std::bad_alloc();
  if (error != simdjson::SUCCESS) {
    DiagnoseBody(body, limits);
    // What nlohmann reads and simdjson does not: an integer beyond 64 bits.
    if (error == simdjson::NUMBER_ERROR) {
      throw RequestError(400,
                         "malformed JSON: an integer beyond 64 bits; write such a number with a decimal point "
                         "or an exponent (1.5e20)");
    }
    throw RequestError(400, fmt::format("malformed JSON: {}", simdjson::error_message(error)));
  }
  CheckDeadline(limits);
  DuplicateKeyCheck(limits).Check(root, Location{});
  return root;
}

// Where a value sits in the body, put into words only for a message: "context.user_id", "items[3].price".
struct Field {
  explicit Field(const char* list, int64_t index = -1, std::string_view key = {})
      : list(list), index(index), key(key) {}

  const char* list;      // "context", "items", "rows", or a top-level key
  int64_t index;         // position in the list; -1: not in a list
  std::string_view key;  // empty: the object itself

  std::string Str() const {
    std::string text = list;
    if (index >= 0) text += fmt::format("[{}]", index);
    if (!key.empty()) text += fmt::format(".{}", key);
    return text;
  }
  Field At(std::string_view k) const { return Field(list, index, k); }
};

Object ObjectAt(Value value, const Field& where) {
  if (value.type() != simdjson::dom::element_type::OBJECT) {
    throw RequestError(400, fmt::format("{}: expected an object, found {}", where.Str(), TypeName(value)));
  }
  return Object(value);
}

// `lists` becomes `count` lists of `length` copies of `value`, each list keeping the capacity it had.
template <typename T>
void AssignEach(std::vector<std::vector<T>>* lists, size_t count, size_t length, T value) {
  lists->resize(count);
  for (std::vector<T>& list : *lists) list.assign(length, value);
}

}  // namespace

// Fills one request's batch: context values once (shared by every row), item values per row.
class RequestEncoder {
 public:
  RequestEncoder(const RequestSchema& schema, int64_t rows, EncodedRequest* out)
      : schema_(schema),
        pipeline_(schema.pipeline()),
        rows_(rows),
        out_(out),
        multi_counts_(out->scratch.multi_counts),
        in_context_(out->scratch.in_context),
        seen_(out->scratch.seen) {
    // Every list is sized with assign/resize, never replaced: a reused EncodedRequest keeps its capacity.
    const InputLayout& layout = pipeline_.layout();
    Batch& batch = out_->batch;
    batch.size = rows;
    AssignEach(&batch.single_ids, layout.single_slots.size(), static_cast<size_t>(rows), int32_t{0});
    AssignEach(&batch.multi_ids, layout.multi_slots.size(), 0, int32_t{0});
    AssignEach(&batch.multi_offsets, layout.multi_slots.size(), static_cast<size_t>(rows + 1), int64_t{0});
    batch.numeric.assign(rows * layout.NumericWidth(), 0.f);
    batch.group_starts.clear();
    batch.shared.clear();
    // A request has no file rows, labels or treatment (a batch lent to a scorer may come back with another's).
    batch.rows.clear();
    batch.labels.clear();
    batch.censored.clear();
    batch.treatment.clear();
    // One count even without rows: a context is checked (and encoded) whether or not there are items.
    AssignEach(&multi_counts_, layout.multi_slots.size(), static_cast<size_t>(std::max<int64_t>(rows, 1)), int64_t{0});
    slots_ = layout.single_slots.size() + layout.multi_slots.size();
    in_context_.assign(schema.columns_.size(), 0);
    seen_.assign(schema.columns_.size(), 0);
    if (schema.blend_column_ >= 0) {
      out_->blend_feature.assign(rows, NAN);
    } else {
      out_->blend_feature.clear();
    }
    if (schema.history_ != nullptr) {
      series_ = schema.history_->NewRows(rows);
      derived_given_.assign(rows * schema.derived_columns_.size(), 0);
    }
  }

  // A request without a context: none.
  void Context(std::optional<Value> context) {
    const Field where("context");
    Batch& batch = out_->batch;
    batch.group_starts.assign(1, 0);
    batch.shared.assign(slots_, 0);
    if (!context) return;
    for (auto [key, value] : ObjectAt(*context, where)) {
      const size_t column = ColumnOf(key, where);
      if (column == kUnknown) continue;
      in_context_[column] = 1;
      Encode(column, value, where.At(key), /*row=*/-1);
    }
  }

  // One item (rank) or row (predict); `list` is "items" or "rows".
  void Row(int64_t row, Value item, const char* list) {
    list_ = list;
    const Field where(list, row);
    std::fill(seen_.begin(), seen_.end(), 0);
    for (auto [key, value] : ObjectAt(item, where)) {
      const size_t column = ColumnOf(key, where);
      if (column == kUnknown) continue;
      if (in_context_[column]) {
        throw RequestError(
            400, fmt::format("{}: {} is also in the context; give each input in one place", where.Str(), Quoted(key)));
      }
      seen_[column] = 1;
      Encode(column, value, where.At(key), row);
    }
    // A misspelt input is also a missing one; the unknown names, all of them at the end, say more.
    if (!unknown_.empty()) return;
    // With a history, a row that leaves a derived column out has it computed, and then needs its date and entity.
    bool derives = false;
    bool complete = true;  // the date and every entity column given: the row takes part in the time series
    for (size_t c = 0; c < seen_.size(); ++c) {
      const RequestSchema::ColumnUse& use = schema_.columns_[c];
      const bool given = seen_[c] || in_context_[c];
      derives = derives || (!given && use.derived >= 0);
      complete = complete && (given || (!use.date && use.key < 0));
    }
    for (size_t c = 0; c < seen_.size(); ++c) {
      if (seen_[c] || in_context_[c]) continue;
      const RequestSchema::ColumnUse& use = schema_.columns_[c];
      if (use.derived < 0 && !use.features.empty()) {
        throw RequestError(
            400, fmt::format("{}: missing input {} (null gives a missing value)", where.Str(), Quoted(use.name)));
      }
      if (derives && (use.date || use.key >= 0)) {
        throw RequestError(400, fmt::format("{}: missing input {}: the row leaves out derived time-series columns, "
                                            "computed from its date and entity (or give them all)",
                                            where.Str(), Quoted(use.name)));
      }
    }
    if (!complete && schema_.history_ != nullptr) series_.days[row] = TimeSeriesRows::kNoDay;
  }

  void Finish() {
    if (!unknown_.empty()) ThrowUnknownInputs();
    if (schema_.history_ != nullptr && rows_ > 0) DeriveLeftOut();
    Batch& batch = out_->batch;
    for (size_t m = 0; m < multi_counts_.size(); ++m) {
      for (int64_t r = 0; r < rows_; ++r)
        batch.multi_offsets[m][r + 1] = batch.multi_offsets[m][r] + multi_counts_[m][r];
    }
    if (rows_ == 0) {  // nothing to score: drop what the context left
      batch.group_starts.clear();
      batch.shared.clear();
      for (auto& ids : batch.multi_ids) ids.clear();
    }
  }

 private:
  static constexpr size_t kUnknown = static_cast<size_t>(-1);

  // The schema column of an input key; kUnknown for a key the model does not read, which is noted so that the
  // request is refused once, naming every unknown key rather than the first.
  size_t ColumnOf(std::string_view key, const Field& where) {
    auto it = schema_.index_.find(key);
    if (it != schema_.index_.end()) return it->second;
    auto [known, added] = unknown_index_.emplace(std::string(key), unknown_.size());
    if (added) {
      unknown_.push_back({std::string(key), where.Str(), 0});
    }
    ++unknown_[known->second].places;
    return kUnknown;
  }

  [[noreturn]] void ThrowUnknownInputs() const {
    const std::vector<std::string>& names = schema_.column_names_;
    if (unknown_.size() == 1 && unknown_[0].places == 1) {
      const UnknownInput& input = unknown_[0];
      throw RequestError(400, fmt::format("{}: unknown input {}{}; the model reads {}", input.first_where,
                                          Quoted(input.key), DidYouMeanSuffix(input.key, names), QuotedList(names)));
    }
    constexpr size_t kListed = 10;  // a hostile request may hold thousands
    std::string list;
    for (size_t i = 0; i < unknown_.size() && i < kListed; ++i) {
      const UnknownInput& input = unknown_[i];
      const std::string suggestion = DidYouMean(input.key, names);
      list += fmt::format("{}{} ({}{}{})", i ? ", " : "", Quoted(input.key), input.first_where,
                          input.places > 1 ? fmt::format(" and {} more", input.places - 1) : "",
                          suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion));
    }
    if (unknown_.size() > kListed) list += fmt::format(" and {} more", unknown_.size() - kListed);
    throw RequestError(400, fmt::format("unknown input{} {}; the model reads {}", unknown_.size() > 1 ? "s" : "", list,
                                        QuotedList(names)));
  }

  // The text of a categorical value; integers are written into `buffer` as a data file would hold them.
  using IntegerText = std::array<char, 24>;
  static std::string_view CategoricalText(Value value, const Field& where, IntegerText* buffer) {
    switch (value.type()) {
      case simdjson::dom::element_type::STRING:
        return std::string_view(value);
      case simdjson::dom::element_type::UINT64:
        return {buffer->data(),
                static_cast<size_t>(fmt::format_to(buffer->data(), "{}", uint64_t(value)) - buffer->data())};
      case simdjson::dom::element_type::INT64:
        return {buffer->data(),
                static_cast<size_t>(fmt::format_to(buffer->data(), "{}", int64_t(value)) - buffer->data())};
      case simdjson::dom::element_type::NULL_VALUE:
        return "";  // an empty field
      default:
        throw RequestError(400,
                           fmt::format("{}: expected a string or an integer, found {}", where.Str(), TypeName(value)));
    }
  }

  static float Number(Value value, const Field& where) {
    if (value.is_null()) return NAN;
    if (!IsNumber(value)) {
      throw RequestError(400, fmt::format("{}: expected a number or null, found {}", where.Str(), TypeName(value)));
    }
    const float number = static_cast<float>(double(value));
    if (!std::isfinite(number)) {
      throw RequestError(400, fmt::format("{}: {} is out of range", where.Str(), Dump(value)));
    }
    return number;
  }

  // row -1: the context (every row).
  void Encode(size_t column, Value value, const Field& where, int64_t row) {
    const Config& config = pipeline_.config();
    Batch& batch = out_->batch;
    const int64_t first = row < 0 ? 0 : row;
    const int64_t end = row < 0 ? rows_ : row + 1;
    const size_t singles = batch.single_ids.size();
    for (size_t feature : schema_.columns_[column].features) {
      const FeatureConfig& spec = config.features[feature];
      const FeaturePipeline::Placement place = schema_.placements_[feature];
      try {
        if (spec.kind == FeatureKind::kCategorical) {
          IntegerText buffer;
          const int32_t id = pipeline_.CategoricalId(feature, CategoricalText(value, where, &buffer));
          std::fill(batch.single_ids[place.index].begin() + first, batch.single_ids[place.index].begin() + end, id);
          if (row < 0) batch.shared[place.index] = 1;
        } else if (spec.kind == FeatureKind::kMultiCategorical) {
          AppendMulti(feature, place.index, value, where, first);
          if (row < 0) batch.shared[singles + place.index] = 1;
        } else {
          EncodeNumber(column, feature, Number(value, where), row);
        }
      } catch (const RequestError&) {
        throw;
      } catch (const Error& error) {  // a transform refusing the value, e.g. log1p of a negative number
        throw RequestError(400, fmt::format("{}: {}", where.Str(), error.what()));
      }
    }
    if (schema_.history_ != nullptr) KeepForTimeSeries(column, value, where, first, end);
  }

  // A numeric feature's raw value into rows [first, end) (row -1: the context, every row).
  void EncodeNumber(size_t column, size_t feature, float raw, int64_t row) {
    Batch& batch = out_->batch;
    const int64_t first = row < 0 ? 0 : row;
    const int64_t end = row < 0 ? rows_ : row + 1;
    const FeaturePipeline::Placement place = schema_.placements_[feature];
    const NumericTransform& transform = pipeline_.numeric(feature);
    if (transform.bucketized()) {
      const int32_t id = transform.Bucket(raw);
      std::fill(batch.single_ids[place.index].begin() + first, batch.single_ids[place.index].begin() + end, id);
      if (row < 0) batch.shared[place.index] = 1;
    } else {
      const int64_t width = pipeline_.layout().NumericWidth();
      const float x = transform.Apply(raw);  // transformed once, copied to the rows
      for (int64_t r = first; r < end; ++r) {
        batch.numeric[r * width + place.index] = x;
        if (transform.has_missing_flag()) batch.numeric[r * width + place.index + 1] = std::isnan(raw) ? 1.f : 0.f;
      }
    }
    if (static_cast<int>(column) == schema_.blend_column_) {
      std::fill(out_->blend_feature.begin() + first, out_->blend_feature.begin() + end, raw);
    }
  }

  // What a value is to the derived time-series columns: the rows' day, entity, source, or a derived value given.
  void KeepForTimeSeries(size_t column, Value value, const Field& where, int64_t first, int64_t end) {
    const RequestSchema::ColumnUse& use = schema_.columns_[column];
    const TimeSeriesIndex& history = *schema_.history_;
    if (use.date) {
      if (!value.is_string()) {
        throw RequestError(400, fmt::format("{}: expected a date yyyy-mm-dd (time_series.date), found {}", where.Str(),
                                            TypeName(value)));
      }
      const std::string_view text(value);
      const std::optional<int32_t> day = ParseIsoDate(text);
      if (!day) {
        throw RequestError(
            400, fmt::format("{}: {} is not a date yyyy-mm-dd (time_series.date)", where.Str(), Quoted(text)));
      }
      std::fill(series_.days.begin() + first, series_.days.begin() + end, *day);
    }
    if (use.key >= 0) {
      std::string key;
      if (history.key_is_number(use.key)) {
        key = TimeSeriesIndex::NumberKey(Number(value, where));
      } else {
        IntegerText buffer;
        key = TimeSeriesIndex::TextKey(CategoricalText(value, where, &buffer));
      }
      const size_t keys = history.key_columns().size();
      for (int64_t r = first; r < end; ++r) series_.keys[r * keys + use.key] = key;
    }
    if (use.source >= 0) {
      const float number = Number(value, where);
      const size_t sources = history.sources().size();
      for (int64_t r = first; r < end; ++r) series_.sources[r * sources + use.source] = number;
    }
    if (use.derived >= 0) {
      const size_t derived = schema_.derived_columns_.size();
      for (int64_t r = first; r < end; ++r) derived_given_[r * derived + use.derived] = 1;
    }
  }

  // The derived columns the rows left out, computed over the history and the request's rows, then encoded as if
  // the rows had given them.
  void DeriveLeftOut() {
    const std::vector<int>& columns = schema_.derived_columns_;
    const size_t derived = columns.size();
    bool any = false;
    for (size_t c = 0; c < derived && !any; ++c) {
      for (int64_t r = 0; r < rows_ && !any && columns[c] >= 0; ++r) any = !derived_given_[r * derived + c];
    }
    if (!any) return;
    const std::vector<float> values = schema_.history_->Derive(series_);
    for (size_t c = 0; c < derived; ++c) {
      if (columns[c] < 0) continue;
      const size_t column = static_cast<size_t>(columns[c]);
      for (int64_t r = 0; r < rows_; ++r) {
        if (derived_given_[r * derived + c]) continue;
        for (size_t feature : schema_.columns_[column].features) {
          try {
            EncodeNumber(column, feature, values[r * derived + c], r);
          } catch (const Error& error) {  // a transform refusing a derived value, e.g. log1p of negative sales
            throw RequestError(400, fmt::format("{}: {} (derived from the history): {}", Field(list_, r).Str(),
                                                Quoted(schema_.columns_[column].name), error.what()));
          }
        }
      }
    }
  }

  void AppendMulti(size_t feature, int64_t slot, Value value, const Field& where, int64_t row) {
    std::vector<int32_t>& ids = out_->batch.multi_ids[slot];
    int64_t& count = multi_counts_[slot][row];
    auto add = [&](std::string_view text) {
      text = Trim(text);
      if (text.empty()) return;
      ids.push_back(pipeline_.CategoricalId(feature, text));
      ++count;
    };
    if (value.is_null()) return;
    if (value.is_string()) {
      ForEachPart(std::string_view(value), pipeline_.config().features[feature].separator, add);
      return;
    }
    if (!value.is_array()) {
      throw RequestError(400, fmt::format("{}: expected an array of strings or integers, a string or null, found {}",
                                          where.Str(), TypeName(value)));
    }
    size_t i = 0;
    for (Value element : Array(value)) {
      if (element.is_string()) {
        add(std::string_view(element));
      } else if (IsInteger(element)) {
        IntegerText buffer;
        add(CategoricalText(element, where, &buffer));
      } else {
        throw RequestError(
            400, fmt::format("{}[{}]: expected a string or an integer, found {}", where.Str(), i, TypeName(element)));
      }
      ++i;
    }
  }

  const RequestSchema& schema_;
  const FeaturePipeline& pipeline_;
  const int64_t rows_;
  EncodedRequest* out_;
  size_t slots_ = 0;
  // The EncodedRequest's scratch (see EncodedRequest::Scratch).
  std::vector<std::vector<int64_t>>& multi_counts_;  // [multi slot][row]
  std::vector<uint8_t>& in_context_;                 // per schema column
  std::vector<uint8_t>& seen_;                       // per schema column, for the current row
  struct UnknownInput {
    std::string key;
    std::string first_where;  // "context", "items[3]"
    int64_t places = 0;       // objects holding it
  };
  std::vector<UnknownInput> unknown_;  // in the order first seen
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> unknown_index_;
  // With a history: the rows' days, entities and sources, and which derived values each row gave.
  TimeSeriesRows series_;
  std::vector<uint8_t> derived_given_;  // [row][time_series column]
  const char* list_ = "rows";           // "items" or "rows", for messages
};

namespace {

Array RowsArray(Object body, const char* key, const RequestLimits& limits) {
  Value rows;
  if (body.at_key(key).get(rows) != simdjson::SUCCESS) {
    throw RequestError(400, fmt::format("missing '{}': expected an array of objects", key));
  }
  if (!rows.is_array()) throw RequestError(400, fmt::format("{}: expected an array, found {}", key, TypeName(rows)));
  const Array array(rows);
  if (static_cast<int64_t>(array.size()) > limits.max_items) {
    throw RequestError(413,
                       fmt::format("{}: {} entries, more than the limit of {}", key, array.size(), limits.max_items));
  }
  return array;
}

// The keys a body may have (a list of literals: checking allocates nothing, only a refusal does).
void CheckKeys(Object body, std::initializer_list<std::string_view> allowed) {
  for (auto [key, value] : body) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      const std::vector<std::string> names(allowed.begin(), allowed.end());
      throw RequestError(400, fmt::format("unknown key {}{}; a request has {}", Quoted(key),
                                          DidYouMeanSuffix(key, names), QuotedList(names)));
    }
  }
}

// The value of an optional key.
std::optional<Value> Find(Object object, std::string_view key) {
  Value value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

}  // namespace

void ParseRankRequest(std::string_view body_text, const RequestSchema& schema, const RequestLimits& limits,
                      EncodedRequest* out) {
  const auto start = Clock::now();
  BodyParser parser;
  const Value root = parser.Parse(body_text, limits);
  const auto parsed = Clock::now();
  const Object body = ObjectAt(root, Field("request body"));
  CheckKeys(body, {"context", "items", "blend", "top_k"});
  const Array items = RowsArray(body, "items", limits);
  EncodedRequest& request = *out;
  request.blend = schema.default_blend_;  // copied into the vectors it has
  request.top_k = 0;
  if (std::optional<Value> blend = Find(body, "blend")) {
    NamedWeights weights;
    for (auto [task, weight] : ObjectAt(*blend, Field("blend"))) {
      if (!IsNumber(weight)) {
        throw RequestError(400, fmt::format("blend.{}: expected a number, found {}",
                                            task.size() <= 64 ? std::string(task) : Quoted(task), TypeName(weight)));
      }
      weights.emplace_back(std::string(task), double(weight));
    }
    if (weights.empty()) throw RequestError(400, "blend: no task weights; leave blend out for the model's default");
    // The blend's own message echoes an unknown name whole; a long one is cut here first.
    for (const auto& named : weights) {
      const std::string& task = named.first;  // not a structured binding: clang 14 cannot capture those
      const auto& tasks = schema.pipeline().config().tasks;
      const bool known = std::any_of(tasks.begin(), tasks.end(), [&](const auto& t) { return t.name == task; });
      if (!known && task.size() > 64) {
        throw RequestError(400, fmt::format("blend: blend names no task {}", Quoted(task)));
      }
    }
    try {
      request.blend = ResolveBlend(schema.pipeline().config(), weights);
    } catch (const Error& error) {
      throw RequestError(400, fmt::format("blend: {}", error.what()));
    }
  }
  if (std::optional<Value> top_k = Find(body, "top_k")) {
    const bool negative = top_k->type() == simdjson::dom::element_type::INT64 && int64_t(*top_k) < 0;
    if (!IsInteger(*top_k) || negative) {
      const std::string found = Dump(*top_k);
      throw RequestError(
          400, fmt::format("top_k: expected an integer >= 0, found {}", found.size() <= 64 ? found : Quoted(found)));
    }
    // Beyond int64: more than any request holds, i.e. all.
    request.top_k = top_k->type() == simdjson::dom::element_type::UINT64 ? INT64_MAX : int64_t(*top_k);
  }
  RequestEncoder encoder(schema, static_cast<int64_t>(items.size()), &request);
  encoder.Context(Find(body, "context"));
  int64_t i = 0;
  for (Value item : items) {
    if ((i & 63) == 0) CheckDeadline(limits);
    encoder.Row(i++, item, "items");
  }
  encoder.Finish();
  request.parse_seconds = std::chrono::duration<double>(parsed - start).count();
  request.encode_seconds = std::chrono::duration<double>(Clock::now() - parsed).count();
}

void ParsePredictRequest(std::string_view body_text, const RequestSchema& schema, const RequestLimits& limits,
                         EncodedRequest* out) {
  const auto start = Clock::now();
  BodyParser parser;
  const Value root = parser.Parse(body_text, limits);
  const auto parsed = Clock::now();
  const Object body = ObjectAt(root, Field("request body"));
  CheckKeys(body, {"rows"});
  const Array rows = RowsArray(body, "rows", limits);
  EncodedRequest& request = *out;
  request.blend = schema.default_blend_;
  request.top_k = 0;
  RequestEncoder encoder(schema, static_cast<int64_t>(rows.size()), &request);
  int64_t i = 0;
  for (Value row : rows) {
    if ((i & 63) == 0) CheckDeadline(limits);
    encoder.Row(i++, row, "rows");
  }
  encoder.Finish();
  request.parse_seconds = std::chrono::duration<double>(parsed - start).count();
  request.encode_seconds = std::chrono::duration<double>(Clock::now() - parsed).count();
}

EncodedRequest ParseRankRequest(std::string_view body, const RequestSchema& schema, const RequestLimits& limits) {
  EncodedRequest request;
  ParseRankRequest(body, schema, limits, &request);
  return request;
}

EncodedRequest ParsePredictRequest(std::string_view body, const RequestSchema& schema, const RequestLimits& limits) {
  EncodedRequest request;
  ParsePredictRequest(body, schema, limits, &request);
  return request;
}

}  // namespace mtrec
