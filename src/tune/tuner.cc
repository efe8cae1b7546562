#include "tune/tuner.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/strings.h"

namespace mtrec {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 6> kStateNames = {"pending",  "running", "paused",
                                                         "complete", "stopped", "failed"};

// The metrics a trial can be judged on: those early stopping can watch (train.early_stop_metric).
const std::vector<std::string>& ObjectiveMetrics() {
  static const std::vector<std::string> metrics = {"auc", "logloss", "rmse", "mae", "wape", "mase", "pinball", "loss"};
  return metrics;
}

}  // namespace

bool Finished(Trial::State state) {
  return state == Trial::State::kPaused || state == Trial::State::kComplete || state == Trial::State::kStopped;
}

double WeightedScore(const std::vector<Objective>& objectives, const std::vector<double>& values) {
  double sum = 0, weights = 0;
  for (size_t i = 0; i < objectives.size(); ++i) {
    sum += objectives[i].weight * (objectives[i].maximize ? values[i] : -values[i]);
    weights += objectives[i].weight;
  }
  return sum / weights;
}

std::string_view StateName(Trial::State state) { return kStateNames[static_cast<size_t>(state)]; }

Objective ParseObjective(const std::string& text) {
  Objective objective;
  const size_t colon = text.find(':');
  objective.task = colon == std::string::npos ? "" : text.substr(0, colon);
  objective.metric = colon == std::string::npos ? text : text.substr(colon + 1);
  const auto& metrics = ObjectiveMetrics();
  if (std::find(metrics.begin(), metrics.end(), objective.metric) == metrics.end()) {
    Fail("objective '{}': unknown metric '{}'{}; one of {}", text, objective.metric,
         DidYouMeanSuffix(objective.metric, metrics), QuotedList(metrics));
  }
  if (colon != std::string::npos && objective.task.empty()) Fail("objective '{}': no task before ':'", text);
  objective.maximize = objective.metric == "auc";
  return objective;
}

struct Tuner::Job {
  size_t trial = 0;
  int64_t epochs = 0;
  int64_t rung = 0;
  bool resume = false;
};

Tuner::Tuner(SearchSpace space, TuneOptions options, std::string dir, TrialRunner runner)
    : space_(std::move(space)), options_(std::move(options)), dir_(std::move(dir)), runner_(std::move(runner)) {
  MTREC_CHECK(options_.parallel >= 1, "--parallel must be at least 1, got {}", options_.parallel);
  MTREC_CHECK(!options_.objectives.empty(), "no objective");
  double weights = 0;
  for (const Objective& objective : options_.objectives) {
    MTREC_CHECK(objective.weight >= 0, "objective {}: weight {} < 0", objective.Name(), objective.weight);
    weights += objective.weight;
  }
  MTREC_CHECK(weights > 0, "the objectives' weights (--tradeoff) sum to 0; give at least one a positive weight");
  MTREC_CHECK(options_.max_epochs >= 1, "train.epochs must be at least 1 to tune, got {}", options_.max_epochs);
  if (options_.asha) {
    MTREC_CHECK(options_.eta >= 2, "--asha-eta must be at least 2, got {}", options_.eta);
    MTREC_CHECK(options_.min_epochs >= 1 && options_.min_epochs <= options_.max_epochs,
                "--asha-min-epochs must be between 1 and train.epochs ({}), got {}", options_.max_epochs,
                options_.min_epochs);
  }
  if (options_.method == SearchMethod::kGrid) {
    grid_ = space_.Grid();
    if (options_.trials <= 0 || options_.trials > static_cast<int64_t>(grid_.size())) {
      options_.trials = static_cast<int64_t>(grid_.size());
    }
  }
  MTREC_CHECK(options_.trials >= 1, "--trials must be at least 1, got {}", options_.trials);
}

std::vector<int64_t> Tuner::Rungs() const {
  if (!options_.asha) return {options_.max_epochs};
  std::vector<int64_t> rungs;
  for (int64_t epochs = options_.min_epochs; epochs < options_.max_epochs; epochs *= options_.eta) {
    rungs.push_back(epochs);
  }
  rungs.push_back(options_.max_epochs);
  return rungs;
}

// A promotion first (from the highest rung down: the trials nearest their full budget), then a trial that a
// restart left pending, then a new point.
bool Tuner::NextJob(Job* job) {
  if (options_.cpu_budget > 0) {
    double spent = 0;
    for (const Trial& trial : trials_) spent += trial.cpu_seconds;
    if (spent >= options_.cpu_budget) return false;
  }
  const std::vector<int64_t> rungs = Rungs();
  for (int64_t k = static_cast<int64_t>(rungs.size()) - 2; k >= 0; --k) {
    // The trials that finished rung k, best first by their score there; the best 1/eta of them go on.
    std::vector<size_t> reached;
    for (size_t t = 0; t < trials_.size(); ++t) {
      if (trials_[t].rung >= k && trials_[t].state != Trial::State::kFailed) reached.push_back(t);
    }
    std::stable_sort(reached.begin(), reached.end(), [&](size_t a, size_t b) {
      return trials_[a].rung_scores[k] > trials_[b].rung_scores[k];
    });
    const size_t promoted = reached.size() / static_cast<size_t>(options_.eta);
    for (size_t i = 0; i < promoted; ++i) {
      const Trial& trial = trials_[reached[i]];
      if (trial.state == Trial::State::kPaused && trial.rung == k) {
        *job = {reached[i], rungs[k + 1], k + 1, /*resume=*/true};
        return true;
      }
    }
  }
  for (size_t t = 0; t < trials_.size(); ++t) {
    if (trials_[t].state == Trial::State::kPending) {
      *job = {t, rungs[0], 0, /*resume=*/false};
      return true;
    }
  }
  if (static_cast<int64_t>(trials_.size()) >= options_.trials) return false;
  Trial trial;
  trial.id = static_cast<int64_t>(trials_.size());
  Rng rng(Mix64(options_.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(trial.id)));
  if (options_.method == SearchMethod::kGrid) {
    trial.point = grid_[static_cast<size_t>(trial.id)];
  } else if (options_.method == SearchMethod::kRandom) {
    trial.point = space_.Random(rng);
  } else {
    // Under ASHA a trial that went further ranks above any that stopped earlier (as Optuna ranks pruned trials),
    // then by score: the rung is folded into the loss far beyond any score's range.
    // Trials still training (with --parallel) are passed as running: TPE neither repeats nor crowds them.
    std::vector<Observation> history;
    std::vector<Point> running;
    const auto last_rung = static_cast<double>(Rungs().size() - 1);
    for (const Trial& seen : trials_) {
      if (Finished(seen.state)) {
        history.push_back({seen.point, -seen.score + 1e12 * (last_rung - static_cast<double>(seen.rung))});
      } else if (seen.state == Trial::State::kPending || seen.state == Trial::State::kRunning) {
        running.push_back(seen.point);
      }
    }
    trial.point = SampleTpe(space_, history, options_.tpe, rng, running);
  }
  trials_.push_back(std::move(trial));
  *job = {trials_.size() - 1, rungs[0], 0, /*resume=*/false};
  return true;
}

void Tuner::Finish(const Job& job, const TrialOutcome& outcome, double cpu_before) {
  Trial& trial = trials_[job.trial];
  trial.cpu_seconds = cpu_before + outcome.cpu_seconds;
  if (!outcome.ok) {
    trial.error = outcome.error;
    // A promotion that fails keeps what the trial reached: stopped at its last rung.
    trial.state = job.resume ? Trial::State::kStopped : Trial::State::kFailed;
    LogWarning("trial {} failed{}: {}", trial.id, job.resume ? fmt::format(" going on to {} epochs", job.epochs) : "",
               outcome.error);
    return;
  }
  MTREC_CHECK(outcome.values.size() == options_.objectives.size(), "trial {}: {} objective values for {} objectives",
              trial.id, outcome.values.size(), options_.objectives.size());
  trial.values = outcome.values;
  trial.score = WeightedScore(options_.objectives, outcome.values);
  trial.epochs = job.epochs;
  trial.rung = job.rung;
  trial.rung_scores.resize(static_cast<size_t>(job.rung) + 1, NAN);
  trial.rung_scores[static_cast<size_t>(job.rung)] = trial.score;
  const bool last_rung = job.rung + 1 >= static_cast<int64_t>(Rungs().size());
  trial.state = last_rung ? Trial::State::kComplete : Trial::State::kPaused;
  const Trial* best = Best();
  std::string values;
  for (size_t i = 0; i < options_.objectives.size(); ++i) {
    values += fmt::format("{}{} {:.5f}", i ? ", " : "", options_.objectives[i].Name(), outcome.values[i]);
  }
  LogInfo("trial {} ({} epoch{}): {} | {} | best so far: trial {}, {:.5f}", trial.id, job.epochs,
          job.epochs == 1 ? "" : "s", values, space_.Describe(trial.point), best->id, best->score);
}

const Trial* Tuner::Best() const {
  const Trial* best = nullptr;
  for (const Trial& trial : trials_) {
    if (!Finished(trial.state)) continue;
    // Under ASHA a trial is judged at the furthest rung any trial reached, so that a full-budget score is not
    // beaten by a one-epoch score.
    if (best == nullptr || trial.rung > best->rung || (trial.rung == best->rung && trial.score > best->score)) {
      best = &trial;
    }
  }
  return best;
}

std::vector<size_t> Tuner::ParetoFront() const {
  const Trial* best = Best();
  std::vector<size_t> front;
  if (best == nullptr) return front;
  auto signed_value = [&](const Trial& trial, size_t i) {
    return options_.objectives[i].maximize ? trial.values[i] : -trial.values[i];
  };
  for (size_t a = 0; a < trials_.size(); ++a) {
    if (!Finished(trials_[a].state) || trials_[a].rung != best->rung) continue;
    bool dominated = false;
    for (size_t b = 0; b < trials_.size() && !dominated; ++b) {
      if (b == a || !Finished(trials_[b].state) || trials_[b].rung != best->rung) continue;
      bool no_worse = true, better = false;
      for (size_t i = 0; i < options_.objectives.size(); ++i) {
        no_worse = no_worse && signed_value(trials_[b], i) >= signed_value(trials_[a], i);
        better = better || signed_value(trials_[b], i) > signed_value(trials_[a], i);
      }
      dominated = no_worse && better;
    }
    if (!dominated) front.push_back(a);
  }
  return front;
}

std::vector<const Trial*> Tuner::Ranked() const {
  std::vector<const Trial*> ranked;
  for (const Trial& trial : trials_) ranked.push_back(&trial);
  std::stable_sort(ranked.begin(), ranked.end(), [](const Trial* a, const Trial* b) {
    if (Finished(a->state) != Finished(b->state)) return Finished(a->state);
    if (!Finished(a->state)) return false;
    return a->epochs != b->epochs ? a->epochs > b->epochs : a->score > b->score;
  });
  return ranked;
}

void Tuner::Run() {
  std::filesystem::create_directories(dir_);
  Load();
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  const auto start = std::chrono::steady_clock::now();
  auto now = [&] { return clock_offset_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  // The first error outside a trial (tune.json not writable, say) stops every worker and is rethrown after them.
  std::exception_ptr failure;
  auto worker = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      if (failure) return;
      Job job;
      try {
        if (!NextJob(&job)) {
          if (running == 0) return;
          changed.wait(lock);
          continue;
        }
      } catch (...) {
        failure = std::current_exception();
        changed.notify_all();
        return;
      }
      Trial& trial = trials_[job.trial];
      trial.state = Trial::State::kRunning;
      if (!job.resume) trial.started = now();
      const double cpu_before = trial.cpu_seconds;
      const TrialRequest request{trial.id, space_.Overrides(trial.point), job.epochs, job.resume};
      ++running;
      try {
        Save();
      } catch (...) {
        failure = std::current_exception();
        --running;
        changed.notify_all();
        return;
      }
      lock.unlock();
      TrialOutcome outcome;
      try {
        outcome = runner_(request);
      } catch (const std::exception& error) {
        outcome.ok = false;
        outcome.error = error.what();
      }
      lock.lock();
      --running;
      try {
        Finish(job, outcome, cpu_before);
        trials_[job.trial].finished = now();
        Save();
      } catch (...) {
        if (!failure) failure = std::current_exception();
      }
      changed.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < options_.parallel; ++w) workers.emplace_back(worker);
  for (auto& thread : workers) thread.join();
  if (failure) std::rethrow_exception(failure);
  // Trials ASHA left at a lower rung are done: stopped early.
  for (Trial& trial : trials_) {
    if (trial.state == Trial::State::kPaused) trial.state = Trial::State::kStopped;
  }
  Save();
}

// What tune.json keeps of the search, compared when it is resumed.
nlohmann::json Tuner::SpaceJson() const {
  json space = json::array();
  for (size_t p = 0; p < space_.params().size(); ++p) space.push_back(space_.Signature(p));
  return space;
}

nlohmann::json Tuner::ObjectivesJson() const {
  json objectives = json::array();
  for (const Objective& objective : options_.objectives) {
    objectives.push_back({{"name", objective.Name()}, {"weight", objective.weight}});
  }
  return objectives;
}

void Tuner::Save() const {
  json trials = json::array();
  for (const Trial& trial : trials_) {
    json params = json::object();
    json point = json::array();
    for (size_t p = 0; p < space_.params().size(); ++p) {
      const ParamValue& value = trial.point[p];
      point.push_back({value.active, value.number, value.choice});
      if (value.active) params[space_.params()[p].key] = space_.Text(p, value);
    }
    json rung_scores = json::array();
    for (double score : trial.rung_scores) rung_scores.push_back(score);
    trials.push_back({{"id", trial.id},
                      {"state", StateName(trial.state)},
                      {"params", params},
                      {"point", point},
                      {"epochs", trial.epochs},
                      {"rung", trial.rung},
                      {"values", trial.values},
                      {"score", trial.score},
                      {"rung_scores", rung_scores},
                      {"cpu_seconds", trial.cpu_seconds},
                      {"started", trial.started},
                      {"finished", trial.finished},
                      {"error", trial.error}});
  }
  const json document = {{"format", "mtrec tune 1"},     {"method", fmt::format("{}", options_.method)},
                         {"seed", options_.seed},       {"asha", options_.asha},
                         {"rungs", Rungs()},            {"objectives", ObjectivesJson()},
                         {"space", SpaceJson()},        {"trials", trials}};
  WriteFileAtomic(dir_ + "/tune.json", document.dump(1) + "\n");
}

void Tuner::Load() {
  const std::string path = dir_ + "/tune.json";
  if (!std::filesystem::exists(path)) return;
  json document;
  try {
    document = json::parse(ReadFileBytes(path));
  } catch (const json::exception& error) {
    Fail("{}: not a tune.json that mtrec wrote ({}); delete it or tune into another --out", path, error.what());
  }
  auto differs = [&](const char* what, const json& expected) {
    if (document.value(what, json()) != expected) {
      Fail("{} was written by another search ({} {} there, {} now); tune into another --out or delete it", path, what,
           document.value(what, json()).dump(), expected.dump());
    }
  };
  differs("format", "mtrec tune 1");
  differs("method", fmt::format("{}", options_.method));
  differs("seed", options_.seed);
  differs("asha", options_.asha);
  differs("rungs", Rungs());
  differs("objectives", ObjectivesJson());
  differs("space", SpaceJson());
  try {
    for (const json& item : document.at("trials")) {
      Trial trial;
      trial.id = item.at("id").get<int64_t>();
      const std::string state = item.at("state").get<std::string>();
      const auto name = std::find(kStateNames.begin(), kStateNames.end(), state);
      if (name == kStateNames.end()) Fail("unknown state '{}'", state);
      trial.state = static_cast<Trial::State>(name - kStateNames.begin());
      for (const json& value : item.at("point")) {
        trial.point.push_back({value.at(0).get<bool>(), value.at(1).get<double>(), value.at(2).get<int64_t>()});
      }
      if (!space_.Holds(trial.point)) Fail("trial {}'s point does not fit the space", trial.id);
      trial.epochs = item.at("epochs").get<int64_t>();
      trial.rung = item.at("rung").get<int64_t>();
      trial.values = item.at("values").get<std::vector<double>>();
      trial.score = item.at("score").is_number() ? item.at("score").get<double>() : NAN;
      for (const json& score : item.at("rung_scores")) trial.rung_scores.push_back(score.is_number() ? score.get<double>() : NAN);
      trial.cpu_seconds = item.at("cpu_seconds").get<double>();
      trial.started = item.at("started").get<double>();
      trial.finished = item.at("finished").get<double>();
      trial.error = item.at("error").get<std::string>();
      if (trial.id != static_cast<int64_t>(trials_.size())) Fail("trial {} out of order", trial.id);
      if (trial.rung >= 0 && (trial.values.size() != options_.objectives.size() ||
                              trial.rung_scores.size() != static_cast<size_t>(trial.rung) + 1)) {
        Fail("trial {}: {} values and {} rung scores for {} objectives at rung {}", trial.id, trial.values.size(),
             trial.rung_scores.size(), options_.objectives.size(), trial.rung);
      }
      // A trial the kill interrupted trains again: from the start, or from its last rung.
      if (trial.state == Trial::State::kRunning) trial.state = trial.rung >= 0 ? Trial::State::kPaused : Trial::State::kPending;
      clock_offset_ = std::max(clock_offset_, trial.finished);
      trials_.push_back(std::move(trial));
    }
  } catch (const json::exception& error) {
    Fail("{}: not a tune.json that mtrec wrote ({})", path, error.what());
  } catch (const Error& error) {
    Fail("{}: {}", path, error.what());
  }
  LogInfo("{}: {} trials so far; going on", path, trials_.size());
}

}  // namespace mtrec
