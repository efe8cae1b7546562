// `mtrec bench serve`: the server's scoring path in process, without HTTP — each request body parsed, encoded,
// scored through the server's micro-batching scorer and answered, exactly as POST /v1/rank does — so that the
// time of the stages and the fraction of the machine's matmul bound reached can be told apart from the HTTP side
// (bench/serve/run.sh measures that one).
//
//   BenchServeOptions options{.model = "mmoe.mtrec", .bodies = {"bodies/"}};
//   return RunBenchServe(options);   // last line: requests/s: N  p99_ms: X  fraction_of_bound: F
#pragma once

#include <string>
#include <vector>

namespace mtrec {

struct BenchServeOptions {
  std::string model;
  std::vector<std::string> bodies;  // files of one /v1/rank body each, or folders of *.json bodies
  std::string precision = "f32";
  double seconds = 10;
  double warmup_seconds = 1;
  int clients = 1;   // threads posting requests at once (their requests share the scorer's micro-batches)
  int threads = 0;   // scoring threads (0 = all cores)
  int scorers = 0;   // micro-batches scored at once (ServerOptions::scorers; 0: automatic)
  double bound_seconds = 0.2;
  bool profile = false;  // where the scorer's forward passes spend their time, per request
};

int RunBenchServe(const BenchServeOptions& options);

}  // namespace mtrec
