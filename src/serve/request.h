// The server's request bodies: JSON checked against the model's inputs and encoded straight into a batch, with
// the same transforms as training (the fitted pipeline of the model file). Keys are the raw input columns, as in
// the data files; a value is a string or integer (categorical), a number or null (numeric; null = missing), an
// array of strings/integers or one separator-joined string (multi-valued).
//
//   RequestSchema schema(pipeline);
//   EncodedRequest rank = ParseRankRequest(R"({"context": {"user_id": "u1"}, "items": [{"item_id": "i9"}]})",
//                                          schema, limits);             // throws RequestError (a 4xx answer)
//   rank.batch;   // one row per item, one group; the context's slots are shared (embedded once per request)
//
// With a time-series history (`serve --history`), a derived [time_series] column a row leaves out is computed from
// the row's date, entity columns and the sources of the history and of the request's rows (TimeSeriesIndex); a
// value the row gives is used as it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/strings.h"
#include "eval/blend.h"
#include "features/batcher.h"
#include "features/pipeline.h"
#include "features/time_series.h"

namespace mtrec {

// A request the server refuses, with the HTTP status to answer (400, 413, 415, 422, 503) and a message naming the
// field.
class RequestError : public Error {
 public:
  RequestError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

struct RequestLimits {
  int64_t max_items = 1000;  // candidates of a /v1/rank request, rows of a /v1/predict request
  int max_depth = 8;         // JSON nesting (the valid bodies need 4)
  // Parsing and encoding stop with a 503 when this passes (the server's --timeout-ms from the request's arrival).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct EncodedRequest {
  Batch batch;
  std::vector<float> blend_feature;  // the raw value of serve.blend_feature per row; empty when not blended by one
  Blend blend;                       // the request's own weights, or the model's [serve] blend
  int64_t top_k = 0;                 // answer only the k best items; 0 = all
  // Where the time went: the body's JSON into a value, then the value checked and encoded into the batch.
  double parse_seconds = 0;
  double encode_seconds = 0;
  // The encoder's working lists, kept with their capacity when another request is parsed into this one.
  struct Scratch {
    std::vector<std::vector<int64_t>> multi_counts;  // [multi slot][row]
    std::vector<uint8_t> in_context;                 // per schema column
    std::vector<uint8_t> seen;                       // per schema column, for the current row
  } scratch;
};

class RequestSchema {
  friend void ParseRankRequest(std::string_view, const RequestSchema&, const RequestLimits&, EncodedRequest*);
  friend void ParsePredictRequest(std::string_view, const RequestSchema&, const RequestLimits&, EncodedRequest*);

 public:
  // `history`: the model's derived time-series columns are computed from it when a row leaves them out (it must
  // outlive the schema); null: a row gives them as any other input.
  explicit RequestSchema(const FeaturePipeline& pipeline, const TimeSeriesIndex* history = nullptr);

  const FeaturePipeline& pipeline() const { return *pipeline_; }
  // The input columns a request gives, sorted (for messages and docs); with a history, the derived columns and
  // the sources that no feature reads may be left out.
  const std::vector<std::string>& columns() const { return column_names_; }

 private:
  friend class RequestEncoder;
  struct ColumnUse {
    std::string name;
    std::vector<size_t> features;  // indices into config().features reading this column
    // With a history, what the column is to the derived time-series columns (-1 / false: nothing).
    bool date = false;
    int key = -1;      // an entity column: its index in history->key_columns()
    int source = -1;   // a source: its index in history->sources()
    int derived = -1;  // a derived column: its index in time_series.columns, computed when a row leaves it out
  };
  const FeaturePipeline* pipeline_;
  const TimeSeriesIndex* history_ = nullptr;
  std::vector<int> derived_columns_;  // with a history: per time_series column, its columns_ index (-1: not read)
  std::vector<ColumnUse> columns_;
  std::vector<FeaturePipeline::Placement> placements_;                          // per config feature, computed once
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> index_;  // column name -> columns_ index
  std::vector<std::string> column_names_;
  Blend default_blend_;
  int blend_column_ = -1;  // columns_ index of serve.blend_feature's column
};

// `{"context": {...}, "items": [{...}, ...], "blend": {"task": weight, ...}, "top_k": k}`: context and blend
// optional; every input column in the context or in every item, not both.
EncodedRequest ParseRankRequest(std::string_view body, const RequestSchema& schema, const RequestLimits& limits);
// `{"rows": [{...}, ...]}`: every input column in every row.
EncodedRequest ParsePredictRequest(std::string_view body, const RequestSchema& schema, const RequestLimits& limits);

// The same, into `out`, whose vectors keep their capacity: a server thread that parses every request into one
// EncodedRequest allocates nothing for it once the vectors have grown to its requests' size (except with a
// history, whose time-series rows are made per request). On a RequestError `out` is left partly filled.
void ParseRankRequest(std::string_view body, const RequestSchema& schema, const RequestLimits& limits,
                      EncodedRequest* out);
void ParsePredictRequest(std::string_view body, const RequestSchema& schema, const RequestLimits& limits,
                         EncodedRequest* out);
// Either of the two, to pass one as a value.
using ParseInto = void (*)(std::string_view body, const RequestSchema& schema, const RequestLimits& limits,
                           EncodedRequest* out);

}  // namespace mtrec
