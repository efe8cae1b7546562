// `mtrec bench train`: training throughput on random in-memory data of a published benchmark's shape, timing the
// same Trainer::Step that `mtrec train` runs (forward, losses, backward, optimizer steps; batches assembled by the
// prefetching BatchStream), so that the number compares with the peers' scripts in ../bench.
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <filesystem>

#include "cli/bench_serve.h"
#include "cli/commands.h"
#include "cli/scoring_precision.h"
#include "common/communicator.h"
#include "common/config.h"
#include "common/cpu_features.h"
#include "common/error.h"
#include "common/profiler.h"
#include "common/rng.h"
#include "common/threads.h"
#include "data/column_table.h"
#include "features/batcher.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "nn/matmul_bound.h"
#include "nn/precision.h"
#include "train/trainer.h"

namespace mtrec {
namespace {

struct BenchOptions {
  std::string shape = "aliexpress";
  std::string arch = "mmoe";
  std::string precision_name = "f32";
  double bound_seconds = 0.2;
  double seconds = 20;
  int64_t warmup = 3;
  bool profile = false;
  int threads = 0;
  int64_t shard_rows = 1'000'000;
};

// The AliExpress benchmark as MTReclib runs it: 16 categorical fields of 10,000 ids embedded in 128 dimensions, 63
// numeric features mapped by one linear layer to one more 128-wide vector, batch 2048, two binary tasks (click and
// purchase, trained independently), hidden layers Linear → BatchNorm → ReLU → Dropout(0.2), Adam at lr 1e-3.
// MMoE: 8 experts of 512-256 and a softmax gate per task over the input; shared-bottom: one 512-256 bottom; PLE: 2
// levels (512, 256) of 4 shared and 4 task-specific experts; towers 128-64-1. MTReclib's Adam updates the
// embedding tables densely; here they get lazy Adam on the rows a batch touches, the same update for those rows.
struct Shape {
  int64_t fields = 16;
  int64_t ids = 10000;
  int64_t dim = 128;
  int64_t numeric = 63;
  int64_t batch = 2048;
  double positive_rate = 0.1;
};

std::string AliExpressConfig(const Shape& shape, const std::string& arch, int64_t shard_rows) {
  std::string toml = "[model]\n";
  toml += fmt::format("arch = \"{}\"\nembedding_dim = {}\nnumeric_projection = {}\n", arch, shape.dim, shape.dim);
  toml += "batch_norm = true\ndropout = 0.2\ntower = [128, 64]\nbottom = [512, 256]\nexpert = [512, 256]\n";
  toml += arch == "ple" || arch == "adatt" || arch == "home" ? "experts = 4\ntask_experts = 4\n" : "experts = 8\n";
  toml += fmt::format(
      "[train]\nbatch_size = {}\noptimizer = \"adam\"\nlr = 0.001\nembedding_optimizer = \"lazy_adam\"\n"
      "embedding_lr = 0.001\nconflict_every = 0\nthreads = 0\nshard_rows = {}\n",
      shape.batch, shard_rows);
  for (const char* task : {"click", "purchase"}) toml += fmt::format("[[tasks]]\nname = \"{}\"\n", task);
  return toml;
}

InputLayout AliExpressLayout(const Shape& shape) {
  InputLayout layout;
  for (int64_t f = 0; f < shape.fields; ++f) {
    const std::string name = fmt::format("field{}", f);
    layout.tables.push_back({name, shape.ids, shape.dim});
    layout.single_slots.push_back({name, static_cast<int>(f), Pooling::kSum});
  }
  for (int64_t j = 0; j < shape.numeric; ++j) layout.numeric_names.push_back(fmt::format("numeric{}", j));
  return layout;
}

// `rows` random examples: uniform ids and numbers in [0, 1), labels positive with the shape's rate.
EncodedData RandomData(const Shape& shape, int64_t rows, uint64_t seed) {
  Rng rng(seed);
  EncodedData data;
  data.rows = rows;
  data.single_ids.assign(shape.fields, std::vector<int32_t>(rows));
  for (auto& column : data.single_ids) {
    for (auto& id : column) id = static_cast<int32_t>(rng.Below(static_cast<uint64_t>(shape.ids)));
  }
  data.numeric.resize(rows * shape.numeric);
  for (float& x : data.numeric) x = static_cast<float>(rng.Uniform());
  data.labels.assign(2, std::vector<float>(rows));
  for (auto& column : data.labels) {
    for (float& y : column) y = rng.Uniform() < shape.positive_rate ? 1.f : 0.f;
  }
  data.oracle.assign(2, {});
  return data;
}

double PeakMemoryMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// "cpu: <brand>; flags: ...; bf16 matmuls: ...": the first line of every benchmark, since figures are only
// comparable within one machine.
void PrintCpu() { fmt::print("cpu: {}\n", DetectCpu().Describe()); }

// Under mpirun every rank trains on its own random rows with the trainer's reductions (docs/distributed.md), as
// many steps as the others, and rank 0 reports: samples/s then counts every rank's batch.
int RunBenchTrain(const BenchOptions& options) {
  Communicator& world = World();
  const bool root = world.is_root();
  SetThreads(options.threads);
  if (root) PrintCpu();
  const Precision precision = *ParseName<Precision>(options.precision_name);
  MTREC_CHECK(precision != Precision::kInt8,
              "--precision int8: int8 is for scoring only (`mtrec bench serve --precision int8`); training takes f32 "
              "or bf16");
  SetMatmulPrecision(precision, "--precision");
  const Shape shape;
  const Config config =
      ParseConfig(AliExpressConfig(shape, options.arch, options.shard_rows), "bench " + options.shape);
  const InputLayout layout = AliExpressLayout(shape);
  std::unique_ptr<Model> model = CreateModel(config, layout, shape.batch);
  model->Initialize(1);
  Trainer trainer(config, *model);
  trainer.ShardTables();
  // Eight batches of distinct rows, cycled: the ids a step touches vary as they would over an epoch.
  const EncodedData data = RandomData(shape, 8 * shape.batch, 7 + static_cast<uint64_t>(world.rank()));
  if (root) {
    fmt::print("bench train: shape {} ({} fields x {} ids x {}, {} numeric -> {}, batch {}), arch {}, {}, {} threads, "
               "{} dense parameters{}\n",
               options.shape, shape.fields, shape.ids, shape.dim, shape.numeric, shape.dim, shape.batch, options.arch,
               precision, Threads(), model->arena().size(),
               world.distributed() ? fmt::format(", {} ranks (a batch each)", world.size()) : "");
  }

  auto stream = std::make_unique<BatchStream>(data, shape.batch, SequentialOrder(data.rows));
  auto next = [&]() -> const Batch* {
    ProfileScope scope("data (waiting for the next batch)");
    const Batch* batch = stream->Next();
    if (!batch) {
      stream = std::make_unique<BatchStream>(data, shape.batch, SequentialOrder(data.rows));
      batch = stream->Next();
    }
    return batch;
  };
  for (int64_t i = 0; i < options.warmup; ++i) trainer.Step(*next());
  StartRecordingMatmuls();
  trainer.Step(*next());
  const std::vector<MatmulShape> shapes = StopRecordingMatmuls();
  Profiler::Enable(options.profile);
  Profiler::Reset();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t steps = 0;
  double elapsed = 0;
  int64_t more = 1;
  do {
    trainer.Step(*next());
    ++steps;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    more = elapsed < options.seconds || steps < 3;
    world.AllReduceMax(&more, 1);  // the ranks take the same steps: on while any of them would go on
  } while (more != 0);
  Profiler::Enable(false);
  if (!root) return 0;

  if (options.profile) fmt::print("{}", ProfileTable(elapsed, steps, shape.batch));
  fmt::print("steps: {}  seconds: {:.2f}  peak memory: {:.0f} MiB\n", steps, elapsed, PeakMemoryMiB());
  const double step_seconds = elapsed / static_cast<double>(steps);
  const MatmulBound bound = MeasureMatmulBound(shapes, precision, options.bound_seconds);
  fmt::print("matmul bound: {} matmuls a step, {:.1f} GFLOP, {:.1f} ms alone at their best ({:.0f} GFLOP/s, {}); "
             "the step: {:.1f} ms, {:.0f} GFLOP/s of matmul\n",
             shapes.size(), bound.flops / 1e9, 1e3 * bound.seconds, bound.FlopsPerSecond() / 1e9, precision,
             1e3 * step_seconds, bound.flops / step_seconds / 1e9);
  fmt::print("samples/s: {:.0f}  fraction_of_bound: {:.3f}\n",
             static_cast<double>(shape.batch * world.size()) / step_seconds, bound.seconds / step_seconds);
  return 0;
}

struct ReadOptions {
  std::string config;
  std::string data;
  int threads = 0;
};

// Parsing a file into typed columns and writing its columnar cache (what `mtrec train` does on first sight of a
// file), then loading it back from that cache (every later run). The cache goes to a fresh folder, so the first
// load always parses.
int RunBenchRead(const ReadOptions& options) {
  namespace fs = std::filesystem;
  SetThreads(options.threads);
  Config config = LoadConfig(options.config);
  const std::string path = options.data.empty() ? DataPath(config, config.data.train) : options.data;
  const fs::path cache = fs::temp_directory_path() / fmt::format("mtrec-bench-read-{}", ::getpid());
  fs::remove_all(cache);
  struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{cache};
  config.data.cache = true;
  config.data.cache_dir = cache.string();
  const auto requests = FeaturePipeline::Requests(config, /*labels_required=*/true);
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  int64_t rows = LoadTable(path, config.data, requests).rows();
  const double parse = std::chrono::duration<double>(Clock::now() - start).count();
  start = Clock::now();
  const ColumnTable cached = LoadTable(path, config.data, requests);
  const double reload = std::chrono::duration<double>(Clock::now() - start).count();
  MTREC_CHECK(cached.report().from_cache, "bench read: the second load of {} did not come from the cache", path);
  fmt::print("{}: {} rows, {} columns, {:.1f} MB, {} threads\n", path, rows, requests.size(),
             static_cast<double>(fs::file_size(path)) / 1e6, Threads());
  fmt::print("parse + write cache: {:.3f} s ({:.0f} rows/s); load from cache: {:.3f} s\n", parse,
             static_cast<double>(rows) / parse, reload);
  fmt::print("rows/s: {:.0f}\n", static_cast<double>(rows) / parse);
  return 0;
}

}  // namespace

RunCommand AddBenchCommand(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench", "Measure speed: training on random data of a benchmark's shape and scoring request bodies in process "
               "(each against this machine's matmul bound for the same shapes), reading a CSV file.\n\n"
               "Examples:\n"
               "  mtrec bench train --shape aliexpress --arch mmoe\n"
               "  mtrec bench train --shape aliexpress --arch ple --seconds 30 --profile\n"
               "  mtrec bench train --arch mmoe --precision bf16\n"
               "  mtrec bench serve --model mmoe.mtrec --bodies out/bench-serve/bodies\n"
               "  mtrec bench read --config data/sim/config.toml");
  command->require_subcommand(1);
  CLI::App* train = command->add_subcommand(
      "train",
      "Training samples/s (forward, backward and optimizer step at steady state), and the fraction of the "
      "machine's matmul bound for the model's own shapes that a step reaches; last line "
      "'samples/s: N  fraction_of_bound: F'");
  train->add_option("--shape", options->shape, "Benchmark shape")->check(CLI::IsMember({"aliexpress"}))->capture_default_str();
  train->add_option("--arch", options->arch, "Architecture (model.arch)")
      ->check(CLI::IsMember(Names<Arch>()))
      ->capture_default_str();
  train->add_option("--precision", options->precision_name,
                    "Matmul precision: f32, or bf16 where the CPU has avx512_bf16 or AMX (train.precision)")
      ->check(CLI::IsMember(Names<Precision>()))
      ->capture_default_str();
  train->add_option("--bound-seconds", options->bound_seconds,
                    "Time to spend on each distinct matmul shape when measuring the bound")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--seconds", options->seconds, "Time to measure for, after the warm-up steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--warmup", options->warmup, "Untimed steps first")->check(CLI::NonNegativeNumber)->capture_default_str();
  train->add_flag("--profile", options->profile, "Print where the time of a step goes (per layer, optimizer, data)");
  train->add_option("--threads", options->threads, "Threads (0 = all cores)")->capture_default_str();
  train->add_option("--shard-rows", options->shard_rows,
                    "Under mpirun: tables of at least this many rows are row-sharded, the others replicated "
                    "(train.shard_rows; 0 shards every table)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto serve_options = std::make_shared<BenchServeOptions>();
  CLI::App* serve = command->add_subcommand(
      "serve",
      "The server's scoring path in process, without HTTP: each /v1/rank body parsed, encoded, scored through the "
      "micro-batching scorer and answered; prints the time of each stage and the fraction of the matmul bound (the "
      "request's matmuls alone at their best, times requests/s); last line "
      "'requests/s: N  p99_ms: X  fraction_of_bound: F'");
  serve->add_option("--model", serve_options->model, "Model file")->required();
  serve->add_option("--bodies", serve_options->bodies, "Request body files, or folders of *.json bodies (repeatable)")
      ->required();
  AddScoringPrecisionOption(serve, &serve_options->precision);
  serve->add_option("--seconds", serve_options->seconds, "Time to measure for, after the warm-up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--warmup", serve_options->warmup_seconds, "Seconds of untimed requests first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--clients", serve_options->clients, "Threads sending requests at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--threads", serve_options->threads, "Scoring threads (0 = all cores)")->capture_default_str();
  serve->add_option("--scorers", serve_options->scorers, "Micro-batches scored at once (as mtrec serve --scorers; 0: automatic)")
      ->capture_default_str();
  serve->add_flag("--profile", serve_options->profile, "Print where the forward passes' time goes (per layer)");
  serve->add_option("--bound-seconds", serve_options->bound_seconds,
                    "Time to spend on each distinct matmul shape when measuring the bound")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto read_options = std::make_shared<ReadOptions>();
  CLI::App* read = command->add_subcommand(
      "read", "CSV reading speed: parse a file into typed columns and the dataset cache, then load it back from the "
              "cache; last line 'rows/s: N' (of the parse)");
  read->add_option("--config", read_options->config, "Config whose [data] and columns say how to read")->required();
  read->add_option("--data", read_options->data, "File to read (default: the config's train file)");
  read->add_option("--threads", read_options->threads, "Threads (0 = all cores)")->capture_default_str();
  return [options, read_options, serve_options, train, read, serve] {
    if (read->parsed()) return RunBenchRead(*read_options);
    if (serve->parsed()) return RunBenchServe(*serve_options);
    return RunBenchTrain(*options);
  };
}

}  // namespace mtrec
