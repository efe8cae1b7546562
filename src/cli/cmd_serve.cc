#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/scoring_precision.h"
#include "common/log.h"
#include "common/threads.h"
#include "nn/precision.h"
#include "serve/server.h"

namespace mtrec {
namespace {

struct ServeCommandOptions {
  ServerOptions server;
  int threads = 0;
  std::string precision = "f32";
};

int RunServe(const ServeCommandOptions& options) {
  SetThreads(options.threads);
  SetMatmulPrecision(*ParseName<Precision>(options.precision), "--precision");
  // SIGTERM / SIGINT are taken by one thread with sigwait, blocked everywhere else (threads inherit the mask),
  // so shutdown runs as ordinary code: stop accepting, let the requests in flight finish, exit 0.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  RankingServer server(options.server);
  const int port = server.Bind();
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    LogInfo("serve: {} received, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    server.Stop();
  });
  std::printf("mtrec serve: listening on http://%s:%d (model %s, version %s, %d scorer%s, %d thread%s)\n",
              options.server.host.c_str(), port, options.server.model.c_str(),
              server.store().Current()->version.c_str(), server.scorers(), server.scorers() == 1 ? "" : "s",
              Threads(), Threads() == 1 ? "" : "s");
  std::fflush(stdout);
  server.Listen();
  // Listen also returns when the socket fails; wake the stopper so that it can be joined.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  // A reload in progress may be reading a model from storage that does not answer: a signal must still end the
  // server, so it is given a moment and then left behind (the process exits without destroying the store).
  if (!server.store().StopWatching(std::chrono::seconds(2))) {
    LogInfo("serve: stopped (without waiting for the reload of {} in progress)", options.server.model);
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(0);
  }
  LogInfo("serve: stopped");
  return 0;
}

}  // namespace

RunCommand AddServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeCommandOptions>();
  ServerOptions& server = options->server;
  CLI::App* command = app.add_subcommand(
      "serve",
      "Serve a model over HTTP: POST /v1/rank ranks candidates by the blended score, POST /v1/predict scores rows,\n"
      "GET /healthz, GET /metrics (Prometheus). The model file is reloaded when it changes. See docs/serving.md.\n"
      "A model with derived [time_series] columns computes them for each request row from --history files (read\n"
      "with every model loaded) and the request's own rows; without --history a request gives their values.\n\n"
      "Examples:\n"
      "  mtrec serve --model model.mtrec                       # http://127.0.0.1:8080\n"
      "  mtrec serve --model model.mtrec --host 0.0.0.0 --port 9000 --threads 2\n"
      "  mtrec serve --model retail.mtrec --history train.csv --history valid.csv");
  command->add_option("--model", server.model, "Model file")->required();
  command->add_option("--history", server.history,
                      "File of the rows before the requests (repeatable, oldest first): the past the model's derived "
                      "time-series columns read, computed for rows that leave them out (docs/time_series.md)");
  command->add_option("--host", server.host, "Address to listen on (127.0.0.1: this machine only)")
      ->capture_default_str();
  command->add_option("--port", server.port, "Port (0: any free port, printed on start)")->capture_default_str();
  command->add_option("--threads", options->threads, "Threads for scoring (0 = all cores)")->capture_default_str();
  command
      ->add_option("--scorers", server.scorers,
                   "Micro-batches scored at once, each by its own copy of the model with its share of --threads; 0: "
                   "one per thread as far as the copies beyond the first fit in 1 GiB (docs/serving.md)")
      ->capture_default_str();
  AddScoringPrecisionOption(command, &options->precision);
  command
      ->add_option("--http-threads", server.http_threads,
                   "Requests parsed and answered at once (idle and slow connections take no thread)")
      ->capture_default_str();
  command->add_option("--max-connections", server.max_connections, "Open connections; one more is answered 503")
      ->capture_default_str();
  command
      ->add_option("--idle-timeout-ms", server.idle_timeout_ms,
                   "A connection without a request in progress is closed after this")
      ->capture_default_str();
  command
      ->add_option("--header-timeout-ms", server.header_timeout_ms,
                   "From a request's first byte to the end of its headers (then 408)")
      ->capture_default_str();
  command
      ->add_option("--body-timeout-ms", server.body_timeout_ms,
                   "From a request's first byte to the end of its body (then 408)")
      ->capture_default_str();
  command->add_option("--write-timeout-ms", server.write_timeout_ms, "To write one answer (then the connection closes)")
      ->capture_default_str();
  command
      ->add_option("--max-header-bytes", server.max_header_bytes, "Request line and headers together (then 431)")
      ->capture_default_str();
  command->add_option("--max-headers", server.max_headers, "Header lines of a request (then 431)")
      ->capture_default_str();
  command->add_option("--max-items", server.max_items, "Most candidates per rank request / rows per predict request")
      ->capture_default_str();
  command->add_option("--max-body-bytes", server.max_body_bytes, "Largest request body")->capture_default_str();
  command->add_option("--timeout-ms", server.timeout_ms, "Longest time from a request's arrival to its scores, parsing included (then 503)")
      ->capture_default_str();
  command
      ->add_option("--reload-interval-ms", server.reload_interval_ms,
                   "How often the model file is checked for a new version (0: never)")
      ->capture_default_str();
  return [options] { return RunServe(*options); };
}

}  // namespace mtrec
