// libFuzzer target: the server's request parser. Each input is one HTTP body, parsed as a /v1/rank and as a
// /v1/predict request against the schema of a small model whose config has every kind of input (vocabulary,
// hashed, multi-valued with its own separator, numeric with log1p and a missing flag, bucketised numeric, a
// shared table, two features reading one column, a blend feature).
//
// The only acceptable failure is RequestError (a 4xx answer). Any other exception, a crash, a sanitizer report
// or a leak is a finding; so is an accepted request whose batch breaks the model's expectations (an id outside
// its table, offsets out of order, a block of the wrong size).
//
//   build-fuzz/tests/fuzz/request_fuzzer -dict=tests/fuzz/request.dict CORPUS_DIR tests/fuzz/corpus/request
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/threads.h"
#include "data/column_table.h"
#include "features/pipeline.h"
#include "serve/request.h"

namespace {

using mtrec::Batch;
using mtrec::EncodedRequest;

const char* kConfig = R"(
[data]
cache = false

[[features]]
name = "user"
min_count = 2

[[features]]
name = "user_hash"
column = "user"
hash_buckets = 16

[[features]]
name = "city"
hash_buckets = 8

[[features]]
name = "tags"
kind = "multi_categorical"
separator = ";"
pooling = "sum"

[[features]]
name = "age"
kind = "numeric"
buckets = 3

[[features]]
name = "item"

[[features]]
name = "seller"
share_with = "item"

[[features]]
name = "price"
kind = "numeric"
log1p = true
missing_flag = "always"

[[features]]
name = "price_bucket"
column = "price"
kind = "numeric"
buckets = 4
log1p = true

[[features]]
name = "rating"
kind = "numeric"
clip = [0.0, 5.0]
fill = 2.5
standardize = false

[[tasks]]
name = "click"

[[tasks]]
name = "purchase"

[[tasks]]
name = "gmv"
kind = "regression"

[model]
embedding_dim = 4
bottom = [8]
tower = [4]

[serve]
blend = { click = 1, purchase = 2 }
blend_feature = "price"
)";

const char* kData =
    "user,city,tags,age,item,seller,price,rating,click,purchase,gmv\n"
    "u1,paris,a;b,31,i1,i2,10,4.5,1,0,2.5\n"
    "u2,rome,b,,i2,i1,,3,0,0,0\n"
    "u1,oslo,,45,i3,i3,30,,0,1,1\n"
    "u3,paris,c;a,22,i1,i9,20,5,1,1,4\n"
    "u2,lima,a,60,i2,i2,15,1,0,0,0\n"
    "u4,rome,b;c;a,19,i4,i1,5,2,0,0,0.5\n"
    "u1,paris,c,38,i2,i4,25,4,1,0,3\n";

struct Fixture {
  mtrec::Config config;
  std::unique_ptr<mtrec::FeaturePipeline> pipeline;
  std::unique_ptr<mtrec::RequestSchema> schema;
  mtrec::RequestLimits limits;
};

Fixture* g_fixture = nullptr;

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_EXPECT(cond, ...)                                                                  \
  do {                                                                                          \
    if (!(cond)) Finding(fmt::format("{} ({}:{})", fmt::format(__VA_ARGS__), #cond, __LINE__)); \
  } while (0)

// The invariants of an accepted request: what the scorer and the model's input layer rely on.
void CheckBatch(const EncodedRequest& request, int64_t rows, bool rank, const char* kind) {
  const Fixture& f = *g_fixture;
  const mtrec::InputLayout& layout = f.pipeline->layout();
  const Batch& batch = request.batch;
  FUZZ_EXPECT(batch.size == rows, "{}: batch.size {} for {} rows", kind, batch.size, rows);

  FUZZ_EXPECT(batch.single_ids.size() == layout.single_slots.size(), "{}: {} single slots, layout {}", kind,
              batch.single_ids.size(), layout.single_slots.size());
  for (size_t s = 0; s < batch.single_ids.size(); ++s) {
    const auto& ids = batch.single_ids[s];
    const int64_t table_rows = layout.tables[layout.single_slots[s].table].rows;
    FUZZ_EXPECT(static_cast<int64_t>(ids.size()) == rows, "{}: single slot {} has {} ids", kind, s, ids.size());
    for (int32_t id : ids) {
      FUZZ_EXPECT(id >= 0 && id < table_rows, "{}: single slot {} id {} outside its table of {} rows", kind, s, id,
                  table_rows);
    }
  }

  FUZZ_EXPECT(
      batch.multi_offsets.size() == layout.multi_slots.size() && batch.multi_ids.size() == layout.multi_slots.size(),
      "{}: multi slots {} / {}, layout {}", kind, batch.multi_offsets.size(), batch.multi_ids.size(),
      layout.multi_slots.size());
  for (size_t m = 0; m < batch.multi_offsets.size(); ++m) {
    const auto& offsets = batch.multi_offsets[m];
    const auto& ids = batch.multi_ids[m];
    const int64_t table_rows = layout.tables[layout.multi_slots[m].table].rows;
    FUZZ_EXPECT(static_cast<int64_t>(offsets.size()) == rows + 1, "{}: multi slot {} has {} offsets for {} rows", kind,
                m, offsets.size(), rows);
    FUZZ_EXPECT(offsets.front() == 0, "{}: multi slot {} starts at {}", kind, m, offsets.front());
    for (size_t r = 1; r < offsets.size(); ++r) {
      FUZZ_EXPECT(offsets[r] >= offsets[r - 1], "{}: multi slot {} offsets decrease at row {}", kind, m, r);
    }
    FUZZ_EXPECT(offsets.back() == static_cast<int64_t>(ids.size()), "{}: multi slot {} ends at {}, holds {} ids", kind,
                m, offsets.back(), ids.size());
    for (int32_t id : ids) {
      FUZZ_EXPECT(id >= 0 && id < table_rows, "{}: multi slot {} id {} outside its table of {} rows", kind, m, id,
                  table_rows);
    }
  }

  FUZZ_EXPECT(static_cast<int64_t>(batch.numeric.size()) == rows * layout.NumericWidth(),
              "{}: numeric block of {} values for {} rows x {}", kind, batch.numeric.size(), rows,
              layout.NumericWidth());
  for (float x : batch.numeric) FUZZ_EXPECT(!std::isnan(x), "{}: NaN in the numeric block", kind);

  const bool blended = !f.config.serve.blend_feature.empty();
  FUZZ_EXPECT(static_cast<int64_t>(request.blend_feature.size()) == (blended ? rows : 0),
              "{}: {} blend feature values for {} rows", kind, request.blend_feature.size(), rows);

  const size_t slots = layout.single_slots.size() + layout.multi_slots.size();
  if (rank && rows > 0) {
    FUZZ_EXPECT(batch.group_starts == std::vector<int64_t>{0}, "{}: {} groups", kind, batch.group_starts.size());
    FUZZ_EXPECT(batch.shared.size() == slots, "{}: {} shared flags for {} slots", kind, batch.shared.size(), slots);
    // A shared multi slot holds its ids at the group's first row only.
    for (size_t m = 0; m < layout.multi_slots.size(); ++m) {
      if (!batch.shared[layout.single_slots.size() + m]) continue;
      const auto& offsets = batch.multi_offsets[m];
      for (size_t r = 2; r < offsets.size(); ++r) {
        FUZZ_EXPECT(offsets[r] == offsets[1], "{}: shared multi slot {} has ids at row {}", kind, m, r - 1);
      }
    }
  } else {
    FUZZ_EXPECT(batch.group_starts.empty() && batch.shared.empty(), "{}: groups in an ungrouped batch", kind);
  }
  FUZZ_EXPECT(request.top_k >= 0, "{}: top_k {}", kind, request.top_k);
  for (const auto& term : request.blend.terms) {
    FUZZ_EXPECT(term.task >= 0 && term.task < static_cast<int>(f.config.tasks.size()), "{}: blend task {}", kind,
                term.task);
    FUZZ_EXPECT(std::isfinite(term.weight), "{}: blend weight {}", kind, term.weight);
  }
}

// Rows of an accepted body, read again with plain nlohmann (the parser accepted it, so it is a JSON object).
int64_t RowsOf(std::string_view body, const char* key) {
  const nlohmann::json json = nlohmann::json::parse(body.begin(), body.end());
  return static_cast<int64_t>(json.at(key).size());
}

// Float lists equal bit for bit (NaN, a missing value, equals itself).
bool SameFloats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Everything a parse fills, equal.
bool SameEncoding(const EncodedRequest& a, const EncodedRequest& b) {
  const mtrec::Batch& x = a.batch;
  const mtrec::Batch& y = b.batch;
  bool same = x.size == y.size && x.single_ids == y.single_ids && x.multi_offsets == y.multi_offsets &&
              x.multi_ids == y.multi_ids && SameFloats(x.numeric, y.numeric) && x.group_starts == y.group_starts &&
              x.shared == y.shared && SameFloats(a.blend_feature, b.blend_feature) && a.top_k == b.top_k &&
              a.blend.product == b.blend.product && a.blend.uses_feature == b.blend.uses_feature &&
              a.blend.terms.size() == b.blend.terms.size();
  for (size_t t = 0; same && t < a.blend.terms.size(); ++t) {
    same = a.blend.terms[t].task == b.blend.terms[t].task && a.blend.terms[t].weight == b.blend.terms[t].weight;
  }
  return same;
}


// The body parsed into a fresh EncodedRequest, then into `reused`, which every earlier input (accepted or refused)
// was parsed into as well, as a server thread parses its requests: both must refuse alike or encode alike.
void Try(std::string_view body, mtrec::ParseInto parse, EncodedRequest* reused, const char* kind, const char* key,
         bool rank) {
  EncodedRequest request;
  int status = 0;
  try {
    parse(body, *g_fixture->schema, g_fixture->limits, &request);
  } catch (const mtrec::RequestError& error) {
    if (error.status() != 400 && error.status() != 413 && error.status() != 422) {
      Finding(fmt::format("{}: RequestError with status {}: {}", kind, error.status(), error.what()));
    }
    status = error.status();
  } catch (const mtrec::Error& error) {
    Finding(fmt::format("{}: mtrec::Error that is not a RequestError: {}", kind, error.what()));
  } catch (const std::exception& error) {
    Finding(fmt::format("{}: {} exception: {}", kind, typeid(error).name(), error.what()));
  }
  int reused_status = 0;
  try {
    parse(body, *g_fixture->schema, g_fixture->limits, reused);
  } catch (const mtrec::RequestError& error) {
    reused_status = error.status();
  } catch (const std::exception& error) {
    Finding(fmt::format("{}: into a reused request: {} exception: {}", kind, typeid(error).name(), error.what()));
  }
  if (reused_status != status) {
    Finding(fmt::format("{}: status {} parsed afresh but {} into a reused request", kind, status, reused_status));
  }
  if (status != 0) return;
  CheckBatch(request, RowsOf(body, key), rank, kind);
  if (!SameEncoding(request, *reused)) Finding(fmt::format("{}: a reused request encodes differently", kind));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mtrec::SetThreads(1);
  auto* f = new Fixture;
  f->config = mtrec::ParseConfig(kConfig, "request_fuzzer.toml");
  // LoadTable reads files: the training table goes through a private temporary folder, removed at once.
  char dir_template[] = "/tmp/mtrec-request-fuzzer-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (!dir) Finding("cannot create a temporary folder");
  const std::string path = std::string(dir) + "/train.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << kData;
  }
  mtrec::ColumnTable table = mtrec::LoadTable(path, f->config.data, mtrec::FeaturePipeline::Requests(f->config, true));
  std::filesystem::remove_all(dir);
  f->pipeline = std::make_unique<mtrec::FeaturePipeline>(mtrec::FeaturePipeline::Fit(f->config, table));
  f->schema = std::make_unique<mtrec::RequestSchema>(*f->pipeline);
  f->limits.max_items = 64;
  g_fixture = f;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static EncodedRequest reused_rank, reused_predict;  // kept from input to input
  Try(body, mtrec::ParseRankRequest, &reused_rank, "rank", "items", /*rank=*/true);
  Try(body, mtrec::ParsePredictRequest, &reused_predict, "predict", "rows", /*rank=*/false);
  return 0;
}
