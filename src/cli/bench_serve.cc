#include "cli/bench_serve.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/files.h"
#include "common/profiler.h"
#include "common/threads.h"
#include "nn/matmul_bound.h"
#include "nn/precision.h"
#include "serve/server.h"

namespace mtrec {
namespace {

using Clock = std::chrono::steady_clock;

// The bodies named: files as they are, folders by their *.json files in name order.
std::vector<std::string> ReadBodies(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") found.push_back(entry.path().string());
      }
      MTREC_CHECK(!found.empty(), "--bodies {}: the folder has no .json files", path);
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
  }
  MTREC_CHECK(!files.empty(), "bench serve needs --bodies: files of /v1/rank request bodies, or folders of them");
  std::vector<std::string> bodies;
  for (const std::string& file : files) bodies.push_back(ReadFileBytes(file));
  return bodies;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

}  // namespace

int RunBenchServe(const BenchServeOptions& options) {
  SetThreads(options.threads);
  fmt::print("cpu: {}\n", DetectCpu().Describe());
  const Precision precision = *ParseName<Precision>(options.precision);
  SetMatmulPrecision(precision, "--precision");
  MTREC_CHECK(options.clients >= 1, "--clients must be at least 1, got {}", options.clients);
  const std::vector<std::string> bodies = ReadBodies(options.bodies);

  ServerOptions server_options;
  server_options.model = options.model;
  server_options.reload_interval_ms = 0;
  server_options.scorers = options.scorers;
  server_options.timeout_ms = 60000;  // a benchmark on a busy machine waits rather than failing
  RankingServer server(server_options);
  // Every body once: a bad one stops the benchmark with its message before anything is timed.
  for (size_t b = 0; b < bodies.size(); ++b) {
    try {
      server.Rank(bodies[b], Clock::now());
    } catch (const Error& error) {
      Fail("bench serve: body {} of --bodies is refused: {}", b + 1, error.what());
    }
  }
  // One request's matmuls, for the bound: scored whole, as one product per layer over all its rows.
  server.scorer().SetSplitting(false);
  StartRecordingMatmuls();
  server.Rank(bodies[0], Clock::now());
  const std::vector<MatmulShape> shapes = StopRecordingMatmuls();
  server.scorer().SetSplitting(true);

  // Warm-up, then the measured run; each client cycles through the bodies from its own starting point.
  std::vector<std::vector<double>> latencies(options.clients);
  auto run = [&](double seconds, bool keep) {
    const auto stop =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> clients;
    for (int c = 0; c < options.clients; ++c) {
      clients.emplace_back([&, c] {
        size_t next = static_cast<size_t>(c) * bodies.size() / static_cast<size_t>(options.clients);
        std::string answer;  // kept, as a server thread keeps its answer's buffer
        while (Clock::now() < stop) {
          const auto start = Clock::now();
          server.Rank(bodies[next], start, &answer);
          if (keep) latencies[c].push_back(std::chrono::duration<double>(Clock::now() - start).count());
          next = (next + 1) % bodies.size();
        }
      });
    }
    for (std::thread& client : clients) client.join();
  };
  run(options.warmup_seconds, false);
  const auto [stages_before, requests_before] = server.metrics().Stages(Endpoint::kRank);
  Profiler::Reset();
  Profiler::Enable(options.profile);
  const auto start = Clock::now();
  run(options.seconds, true);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Profiler::Enable(false);
  const auto [stages_after, requests_after] = server.metrics().Stages(Endpoint::kRank);

  std::vector<double> all;
  for (const auto& client : latencies) all.insert(all.end(), client.begin(), client.end());
  const double requests = static_cast<double>(all.size());
  const double rps = requests / elapsed;
  const double n = static_cast<double>(requests_after - requests_before);
  fmt::print("bench serve: model {}, {} bodies, {} client{}, {} scoring threads in {} scorer{}, {}\n", options.model,
             bodies.size(), options.clients, options.clients == 1 ? "" : "s", Threads(), server.scorers(),
             server.scorers() == 1 ? "" : "s", precision);
  fmt::print(
      "stages, ms per request: parse {:.3f}  encode {:.3f}  score {:.3f}  write {:.3f}\n",
      1e3 * (stages_after.parse - stages_before.parse) / n, 1e3 * (stages_after.encode - stages_before.encode) / n,
      1e3 * (stages_after.score - stages_before.score) / n, 1e3 * (stages_after.write - stages_before.write) / n);
  if (options.profile) {
    fmt::print("profile of the forward passes, ms per request:\n");
    for (const ProfileEntry& e : Profiler::Entries()) {
      fmt::print("  {:<44} {:>8.4f}\n", e.name, 1e3 * e.seconds / std::max(1.0, n));
    }
  }
  const MatmulBound bound = MeasureMatmulBound(shapes, precision, options.bound_seconds);
  fmt::print("matmul bound: {} matmuls a request, {:.1f} MFLOP, {:.3f} ms alone at their best ({:.0f} GFLOP/s, {})\n",
             shapes.size(), bound.flops / 1e6, 1e3 * bound.seconds, bound.FlopsPerSecond() / 1e9, precision);
  fmt::print("requests: {:.0f} in {:.2f} s  p50_ms: {:.3f}\n", requests, elapsed, 1e3 * Percentile(all, 0.5));
  fmt::print("requests/s: {:.1f}  p99_ms: {:.3f}  fraction_of_bound: {:.3f}\n", rps, 1e3 * Percentile(all, 0.99),
             bound.seconds * rps);
  return 0;
}

}  // namespace mtrec
