// mtrec: multi-task learning for e-commerce ranking, from CSV to a trained, evaluated, servable model.
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cli/commands.h"
#include "common/communicator.h"
#include "common/error.h"
#include "common/log.h"
#include "dist/mpi_communicator.h"

namespace {

// `mtrec serve` and `mtrec bench serve`: the scoring path, whose forward pass is a dozen short parallel regions.
bool Serving(int argc, char** argv) {
  int i = 1;
  while (i < argc && argv[i][0] == '-') ++i;  // the global flags (-q, -v) before the command
  const std::string_view command = i < argc ? argv[i] : "";
  return command == "serve" || (command == "bench" && i + 1 < argc && std::string_view(argv[i + 1]) == "serve");
}

// GOMP_SPINCOUNT for a spin of about kSpinMicroseconds. libgomp counts spins, not time, and a spin is mostly one
// PAUSE instruction, whose latency differs by CPU about tenfold (about 10 ns on the Xeon with AMX measured here,
// 140 cycles on Skylake-SP): a fixed 1,000 spins was 10 us there, too short to bridge the gap between two
// requests' forward passes, and bench serve ran at 1,500 requests/s where 10,000 spins gave 2,500. So the count
// is calibrated by timing PAUSE once at start-up (about a tenth of a millisecond).
std::string CalibratedSpinCount() {
  constexpr double kSpinMicroseconds = 100.0;
#if defined(__x86_64__)
  constexpr int kPauses = 10000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kPauses; ++i) _mm_pause();
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kPauses;
  const double count = kSpinMicroseconds * 1e3 / std::max(ns, 1.0);
#else
  const double count = kSpinMicroseconds * 100.0;  // a spin of about 10 ns
#endif
  return std::to_string(static_cast<long>(std::clamp(count, 1000.0, 200000.0)));
}

// libgomp reads OMP_WAIT_POLICY once, when the library is loaded, before main runs. Left unset, its default
// spin-then-sleep waiting collapses on small machines: a training step has dozens of short parallel regions,
// and with the batch-prefetch thread on one of two cores, 2 threads ran 14x slower than with an explicit policy
// (5k vs 72k rows/s). So the binary re-executes itself once with the policy set, unless the user chose one:
// passive for everything but serving. A scoring call's regions are microseconds apart, and a sleeping team pays
// a futex wake-up for each; a short spin (about 100 us, CalibratedSpinCount) keeps it awake through a forward
// pass and the next request's parse without holding a core while the server is idle. Measured on the serving
// benchmark's MMoE (bench serve, 2 cores): 2,220 -> 2,740 requests/s with 1 client, 3,280 -> 3,590 with 8.
void EnsureOpenMpWaitPolicy(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (Serving(argc, argv)) {
    setenv("OMP_WAIT_POLICY", "ACTIVE", 1);
    if (std::getenv("GOMP_SPINCOUNT") == nullptr) setenv("GOMP_SPINCOUNT", CalibratedSpinCount().c_str(), 1);
  } else {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  }
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with the default policy, slower but correct.
}

}  // namespace

int main(int argc, char** argv) {
  EnsureOpenMpWaitPolicy(argc, argv);
  mtrec::MpiSession mpi(&argc, &argv);
  if (mpi.active()) mtrec::SetWorld(mpi.World());
  mtrec::Communicator& world = mtrec::World();
  CLI::App app{
      "mtrec: multi-task learning for e-commerce (click, cart, purchase, GMV...) in one native binary.\n\n"
      "Examples:\n"
      "  mtrec init --data your.csv --label click --out config.toml\n"
      "  mtrec simulate --preset ecommerce --rows 200000 --seed 1 --out data/sim\n"
      "  mtrec train --config data/sim/config.toml --out model.mtrec\n"
      "  mtrec eval --model model.mtrec --data data/sim/test.csv --json metrics.json\n"
      "  mtrec backtest --config data/retail/config.toml --folds 4 --horizon 14\n"
      "  mtrec predict --model model.mtrec --data data/sim/test.csv --out predictions.csv\n"
      "  mtrec inspect model.mtrec\n"
      "  mtrec list archs\n"
      "  mtrec export --model model.mtrec --format safetensors --out model.safetensors\n",
      "mtrec"};
  app.require_subcommand(1);
  bool quiet = false;
  bool verbose = false;
  app.add_flag("-q,--quiet", quiet, "Print only results (no progress or log lines)");
  app.add_flag("-v,--verbose", verbose, "Print debug log lines");
  app.set_version_flag("--version", "mtrec " MTREC_VERSION);

  std::map<CLI::App*, mtrec::RunCommand> commands;
  auto add = [&](mtrec::RunCommand run) { commands[app.get_subcommands({}).back()] = std::move(run); };
  add(mtrec::AddInitCommand(app));
  add(mtrec::AddSimulateCommand(app));
  add(mtrec::AddTrainCommand(app));
  add(mtrec::AddEvalCommand(app));
  add(mtrec::AddBacktestCommand(app));
  add(mtrec::AddPredictCommand(app));
  add(mtrec::AddInspectCommand(app));
  add(mtrec::AddListCommand(app));
  add(mtrec::AddExportCommand(app));
  add(mtrec::AddTuneCommand(app));
  add(mtrec::AddServeCommand(app));
  add(mtrec::AddBenchCommand(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (quiet) mtrec::SetLogLevel(mtrec::LogLevel::kQuiet);
  if (verbose) mtrec::SetLogLevel(mtrec::LogLevel::kDebug);
  // Under mpirun the ranks train one model: rank 0 speaks for the run, the others only report their errors.
  if (world.distributed() && world.rank() > 0) mtrec::SetLogLevel(mtrec::LogLevel::kQuiet);
  // An error on one rank ends them all: the others would wait forever in their next collective.
  const auto fail = [&](const char* kind, const char* what, int code) {
    if (world.distributed()) {
      std::fprintf(stderr, "mtrec: %s on rank %d of %d: %s\n", kind, world.rank(), world.size(), what);
      std::fflush(stderr);
      world.Abort(code);
    }
    std::fprintf(stderr, "mtrec: %s: %s\n", kind, what);
    return code;
  };
  try {
    for (auto& [command, run] : commands) {
      if (!command->parsed()) continue;
      const bool bench_train = command->get_name() == "bench" && !command->get_subcommands().empty() &&
                               command->get_subcommands().front()->get_name() == "train";
      MTREC_CHECK(!world.distributed() || command->get_name() == "train" || bench_train,
                  "mtrec {} runs in one process; of the commands only train and bench train run on several ranks "
                  "(mpirun -np {})",
                  command->get_name(), world.size());
      return run();
    }
  } catch (const mtrec::Error& error) {
    return fail("error", error.what(), 1);
  } catch (const std::exception& error) {
    return fail("internal error", error.what(), 2);
  }
  return 1;
}
