// `mtrec tune`: a search over config keys (tune/), each trial `mtrec train` in a child process of its own — the
// same binary, so a trial is exactly what the user would run; a crash or a bad point fails that trial alone, and a
// killed tuning run leaves whole trials behind.
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "common/config.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "io/model_io.h"
#include "tune/tune_report.h"
#include "tune/tuner.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

struct TuneCommandOptions {
  std::string config_path;
  std::string space_path;
  std::string out = "tune";
  std::string method = "tpe";
  int64_t trials = 20;
  int parallel = 1;
  int threads = 0;
  uint64_t seed = 1;
  std::vector<std::string> objectives = {"auc"};
  std::vector<double> tradeoff;
  bool asha = false;
  int64_t asha_min_epochs = 1;
  int64_t asha_eta = 3;
  int64_t startup_trials = 10;
  double budget_cpu = 0;
  std::vector<std::string> overrides;
};

// User and system time of a resource usage, in seconds.
double CpuSeconds(const struct rusage& usage) {
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// The value of one objective at one epoch: the task's metric, or its mean over the main tasks that have it (binary,
// not auxiliary, for auc). NaN when the epoch has none.
double ObjectiveAt(const Config& config, const EpochRecord& record, const Objective& objective) {
  double sum = 0;
  int count = 0;
  for (size_t k = 0; k < record.valid.size() && k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    if (!objective.task.empty() ? task.name != objective.task : task.auxiliary) continue;
    const double value = record.valid[k].Get(objective.metric);
    if (std::isfinite(value)) {
      sum += value;
      ++count;
    }
  }
  return count ? sum / count : NAN;
}

// One trial: `mtrec train` with the point's overrides into DIR/trials/NNNN/, its output in train.log there.
class TrialProcess {
 public:
  TrialProcess(const TuneCommandOptions& options, const std::vector<Objective>& objectives, int threads)
      : options_(options), objectives_(objectives), threads_(threads) {}

  TrialOutcome operator()(const TrialRequest& request) const {
    const std::string dir = fmt::format("{}/trials/{:04d}", options_.out, request.id);
    fs::create_directories(dir);
    const std::string model = dir + "/model.mtrec";
    std::vector<std::string> args = {"mtrec", "train", "--config", options_.config_path, "--out", model};
    if (request.resume) {
      args.push_back("--resume");
      args.push_back(model + ".ckpt");
    }
    args.insert(args.end(), options_.overrides.begin(), options_.overrides.end());
    args.insert(args.end(), request.overrides.begin(), request.overrides.end());
    // The rung's epochs under the full run's schedule (a cosine over train.epochs stays that cosine).
    args.push_back(fmt::format("train.stop_after_epochs={}", request.epochs));
    args.push_back(fmt::format("train.threads={}", threads_));
    args.push_back(fmt::format("train.checkpoint={}", QuoteToml(model + ".ckpt")));

    TrialOutcome outcome;
    const std::string log = dir + "/train.log";
    const Run run = Spawn(args, log);
    outcome.cpu_seconds = run.cpu_seconds;
    if (run.status != 0) {
      outcome.error = fmt::format("mtrec train {} (see {}): {}", run.what, log, LastLine(log));
      return outcome;
    }
    const LoadedModel loaded = LoadModel(model, /*max_batch=*/1);  // for its config and history: no batch buffers
    // The epoch with the best score: the one early stopping keeps when it watches the objective (the default).
    double best = -INFINITY;
    for (const EpochRecord& record : loaded.history) {
      std::vector<double> values;
      bool complete = true;
      for (const Objective& objective : objectives_) {
        values.push_back(ObjectiveAt(loaded.config, record, objective));
        complete = complete && std::isfinite(values.back());
      }
      if (complete && WeightedScore(objectives_, values) > best) {
        best = WeightedScore(objectives_, values);
        outcome.values = values;
      }
    }
    if (outcome.values.empty()) {
      outcome.error = fmt::format("no validation {} in {}'s history: the config needs validation data (data.valid "
                                  "or data.valid_fraction) and tasks with that metric",
                                  objectives_.front().Name(), model);
      return outcome;
    }
    outcome.ok = true;
    return outcome;
  }

 private:
  struct Run {
    int status = -1;
    std::string what;  // "exited with status 1", "was killed by signal 9"
    double cpu_seconds = 0;
  };

  static Run Spawn(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) Fail("cannot write {}: {}", log, std::strerror(errno));
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      close(fd);
      Fail("cannot start a trial: fork: {}", std::strerror(errno));
    }
    if (pid == 0) {
      // Only async-signal-safe calls here. The trial dies with the tuner rather than training on unobserved.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    close(fd);
    int status = 0;
    struct rusage usage {};
    while (wait4(pid, &status, 0, &usage) < 0) {
      if (errno != EINTR) Fail("waiting for a trial: {}", std::strerror(errno));
    }
    Run run;
    run.cpu_seconds = CpuSeconds(usage);
    if (WIFEXITED(status)) {
      run.status = WEXITSTATUS(status);
      run.what = fmt::format("exited with status {}", run.status);
    } else {
      run.what = fmt::format("was killed by signal {}", WTERMSIG(status));
    }
    return run;
  }

  // The last non-empty line of a trial's log: mtrec's error message when it failed.
  static std::string LastLine(const std::string& path) {
    const std::string text = ReadFileBytes(path);
    size_t end = text.find_last_not_of("\r\n");
    if (end == std::string::npos) return "(no output)";
    const size_t start = text.rfind('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
  }

  const TuneCommandOptions& options_;
  const std::vector<Objective>& objectives_;
  int threads_;
};

// The best point's config as TOML, its data paths made relative to the folder it is written to.
void WriteBestConfig(const TuneCommandOptions& options, const Tuner& tuner, const Trial& best) {
  std::vector<std::string> overrides = options.overrides;
  const std::vector<std::string> point = tuner.space().Overrides(best.point);
  overrides.insert(overrides.end(), point.begin(), point.end());
  Config config = LoadConfig(options.config_path, overrides);
  const fs::path out_dir = fs::absolute(options.out);
  for (std::string* path : {&config.data.train, &config.data.valid, &config.data.test}) {
    if (!path->empty()) *path = fs::relative(fs::absolute(DataPath(config, *path)), out_dir).string();
  }
  std::string text = fmt::format("# The best point of `mtrec tune` (trial {}, {:.5f}): {}\n", best.id,
                                 fmt::join(best.values, ", "), tuner.space().Describe(best.point));
  text += ConfigToToml(config);
  WriteFileAtomic(options.out + "/best.toml", text);
}

int RunTune(const TuneCommandOptions& options) {
  const SearchSpace space = SearchSpace::Load(options.space_path);
  const Config config = LoadConfig(options.config_path, options.overrides);
  // Every point must make a valid config: found now, with the key's place in the space, not in trial 7's log.
  for (size_t p = 0; p < space.params().size(); ++p) {
    const Param& param = space.params()[p];
    for (size_t c = 0; c < std::max<size_t>(param.choices.size(), 1); ++c) {
      std::vector<std::string> overrides = options.overrides;
      const bool choice = param.kind == Param::Kind::kChoice;
      const ParamValue value{true, choice ? 0 : param.low, choice ? static_cast<int64_t>(c) : -1};
      overrides.push_back(param.key + "=" + space.Text(p, value));
      try {
        LoadConfig(options.config_path, overrides);
      } catch (const Error& error) {
        Fail("{}: params.\"{}\" = {} does not make a valid config: {}", param.where, param.key, space.Text(p, value),
             error.what());
      }
    }
  }
  TuneOptions tune;
  tune.method = *ParseName<SearchMethod>(options.method);
  tune.trials = options.trials;
  tune.parallel = options.parallel;
  tune.seed = options.seed;
  tune.objectives.clear();
  for (const std::string& text : options.objectives) {
    tune.objectives.push_back(ParseObjective(text));
    const std::string& task = tune.objectives.back().task;
    if (!task.empty() && config.TaskIndex(task) < 0) {
      std::vector<std::string> names;
      for (const TaskConfig& t : config.tasks) names.push_back(t.name);
      Fail("--objective {}: no task '{}' in {}{}", text, task, options.config_path, DidYouMeanSuffix(task, names));
    }
  }
  if (!options.tradeoff.empty()) {
    MTREC_CHECK(options.tradeoff.size() == tune.objectives.size(), "--tradeoff has {} weights for {} objectives",
                options.tradeoff.size(), tune.objectives.size());
    for (size_t i = 0; i < tune.objectives.size(); ++i) {
      MTREC_CHECK(options.tradeoff[i] >= 0, "--tradeoff weights must be >= 0, got {}", options.tradeoff[i]);
      tune.objectives[i].weight = options.tradeoff[i];
    }
  }
  tune.tpe.startup_trials = options.startup_trials;
  tune.asha = options.asha;
  tune.min_epochs = options.asha_min_epochs;
  tune.eta = options.asha_eta;
  tune.max_epochs = config.train.epochs;
  MTREC_CHECK(options.budget_cpu >= 0, "--budget-cpu-seconds must be >= 0, got {}", options.budget_cpu);
  tune.cpu_budget = options.budget_cpu;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.threads > 0 ? options.threads : std::max(1, cores / options.parallel);
  fs::create_directories(options.out);
  LogInfo("tune: {} trials of {} ({} at a time, {} thread{} each){}; objective {}", tune.trials, options.method,
          tune.parallel, threads, threads == 1 ? "" : "s", tune.asha ? fmt::format(", ASHA eta {}", tune.eta) : "",
          options.objectives.size() == 1 ? options.objectives[0] : fmt::format("{}", fmt::join(options.objectives, ", ")));
  Tuner tuner(space, tune, options.out, TrialProcess(options, tune.objectives, threads));
  tuner.Run();

  const Trial* best = tuner.Best();
  if (best == nullptr) Fail("no trial finished; see {}/trials/*/train.log", options.out);
  WriteBestConfig(options, tuner, *best);
  WriteFileAtomic(options.out + "/report.html",
                  RenderHtmlReport(TuneReport(tuner, fs::path(options.config_path).filename().string())));
  // The finished trials, best first.
  double cpu = 0;
  for (const Trial& trial : tuner.trials()) cpu += trial.cpu_seconds;
  const std::vector<const Trial*> ranked = tuner.Ranked();
  fmt::print("{:>5}  {:>6}  {:>9}  {}\n", "trial", "epochs", "score", "params");
  for (size_t i = 0; i < ranked.size() && i < 10 && Finished(ranked[i]->state); ++i) {
    fmt::print("{:>5}  {:>6}  {:>9.5f}  {}\n", ranked[i]->id, ranked[i]->epochs, ranked[i]->score,
               tuner.space().Describe(ranked[i]->point));
  }
  if (tune.objectives.size() > 1) {
    fmt::print("Pareto front ({}):\n", fmt::join(options.objectives, ", "));
    for (size_t t : tuner.ParetoFront()) {
      const Trial& trial = tuner.trials()[t];
      fmt::print("  trial {}: {:.5f}  {}\n", trial.id, fmt::join(trial.values, ", "), tuner.space().Describe(trial.point));
    }
  }
  fmt::print("best config: {0}/best.toml; every trial: {0}/tune.json; report: {0}/report.html\n", options.out);
  struct rusage own {};  // the tuner's own sampling and bookkeeping, beside its trials
  getrusage(RUSAGE_SELF, &own);
  cpu += CpuSeconds(own);
  fmt::print("tune: best={:.5f} trial={} trials={} cpu_s={:.1f}\n", best->score, best->id, tuner.trials().size(), cpu);
  return 0;
}

}  // namespace

RunCommand AddTuneCommand(CLI::App& app) {
  auto options = std::make_shared<TuneCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "tune",
      "Search config keys for the best validation metric: each trial is `mtrec train` with a point of the space\n"
      "(docs/tune.md). Trials are kept in OUT/tune.json as they finish, so a killed run goes on when started again;\n"
      "the best point's config is written to OUT/best.toml.\n\n"
      "Examples:\n"
      "  mtrec tune --config examples/census/config.toml --space examples/census/space.toml --trials 40 --out tune\n"
      "  mtrec tune --config C --space S --trials 60 --asha --parallel 2 --threads 1\n"
      "  mtrec tune --config C --space S --objective income:auc --objective never_married:auc --tradeoff 0.7,0.3");
  command->add_option("--config", options->config_path, "Config file (TOML) the points are applied to")->required();
  command->add_option("--space", options->space_path, "Search space (TOML, docs/tune.md)")->required();
  command->add_option("--out", options->out, "Folder for tune.json, best.toml and the trials")->capture_default_str();
  command->add_option("--trials", options->trials, "Points to try (grid: at most the grid's size; 0 = all of it)")
      ->capture_default_str();
  command->add_option("--method", options->method, "grid, random, or tpe (the tree-structured Parzen estimator)")
      ->check(CLI::IsMember({"grid", "random", "tpe"}))
      ->capture_default_str();
  command->add_option("--parallel", options->parallel, "Trials trained at once")->capture_default_str();
  command->add_option("--threads", options->threads, "Threads of each trial (0 = the cores / --parallel)")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed of the sampler")->capture_default_str();
  command->add_option("--objective", options->objectives,
                      "Validation metric to maximise (auc) or minimise (logloss, rmse, ...): METRIC (its mean over the "
                      "main tasks) or TASK:METRIC; repeat for several (a Pareto front)")
      ->capture_default_str();
  command->add_option("--tradeoff", options->tradeoff, "With several objectives: their weights in the best trial's score")
      ->delimiter(',');
  command->add_flag("--asha", options->asha,
                    "Asynchronous successive halving: trials train --asha-min-epochs first and go on only while in "
                    "the best 1/eta of their rung");
  command->add_option("--asha-min-epochs", options->asha_min_epochs, "ASHA: epochs of the first rung")
      ->capture_default_str();
  command->add_option("--asha-eta", options->asha_eta, "ASHA: a rung keeps the best 1/eta, for eta times the epochs")
      ->capture_default_str();
  command->add_option("--startup-trials", options->startup_trials, "TPE: random points before the estimator")
      ->capture_default_str();
  command->add_option("--budget-cpu-seconds", options->budget_cpu,
                      "Start no trial (nor ASHA promotion) once the trials have used this many CPU seconds; 0 = no "
                      "limit but --trials")
      ->capture_default_str();
  command->add_option("overrides", options->overrides, "section.key=value settings applied to every trial");
  return [options] { return RunTune(*options); };
}

}  // namespace mtrec
