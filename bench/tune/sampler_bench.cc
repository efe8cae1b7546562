// The samplers of `mtrec tune` on a synthetic objective over the census search space, many seeds in seconds:
// what a search of N trials finds, as the median regret (the objective's optimum minus the best value found) over
// the seeds, after 10, 20 and 40 trials. A real search costs minutes a trial, so its three seeds decide little;
// this measures the samplers alone, on a function shaped like the census results (ple a little ahead of mmoe,
// each with its own learning-rate optimum, expert counts and sizes that matter, gradnorm's alpha under gradnorm).
// sampler_optuna.py runs Optuna's TPE on the same objective through `--serve`, so both read one definition.
//
//   mtrec_sampler_bench --space examples/census/space.toml --method tpe --seeds 200 --trials 40
//   mtrec_sampler_bench --space examples/census/space.toml --serve      # stdin: overrides per line;
//                                                                        # stdout: "observed true" values
//
// --noise SD adds Gaussian noise to what a search observes (a trial's AUC varies with its seed): the search keeps
// the trial it observed best, and its regret is that trial's true value's. Last line:
// `sampler: method=M seeds=S noise=SD regret10=X regret20=X regret40=X` (medians; lower is better).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "tune/search_space.h"
#include "tune/tpe.h"

namespace mtrec {
namespace {

using Values = std::map<std::string, std::string>;  // config key -> value as TOML text (active params only)

double Number(const Values& values, const std::string& key) {
  const auto it = values.find(key);
  MTREC_CHECK(it != values.end(), "the objective needs '{}', which the point does not have", key);
  return std::stod(it->second);
}

const std::string& Text(const Values& values, const std::string& key) {
  const auto it = values.find(key);
  MTREC_CHECK(it != values.end(), "the objective needs '{}', which the point does not have", key);
  return it->second;
}

double Square(double x) { return x * x; }

// Census-like: AUC-scale values, the best 0.9737 (ple, 6 experts of [512, 256], lr 0.0021, embedding lr 0.12,
// dropout 0.05, uncertainty weighting).
double CensusLike(const Values& v) {
  const std::string& arch = Text(v, "model.arch");
  double value = 0;
  double lr_best = 0.001;
  if (arch == "\"shared_bottom\"") {
    value = 0.9715 + (Text(v, "model.bottom") == "[256, 128]" ? 0.0004 : 0.0);
  } else {
    const bool ple = arch == "\"ple\"";
    value = ple ? 0.9732 : 0.9728;
    lr_best = ple ? 0.0021 : 0.0017;
    value -= 0.00004 * Square(Number(v, "model.experts") - (ple ? 6 : 4));
    const std::string& expert = Text(v, "model.expert");
    value += expert == "[128]" ? -0.0006 : expert == "[512, 256]" ? (ple ? 0.0003 : 0.0004) : 0.0;
  }
  value -= 0.0015 * Square(std::log(Number(v, "train.lr") / lr_best));
  value -= 0.0008 * Square(std::log(Number(v, "train.embedding_lr") / 0.12));
  value -= 0.01 * Square(Number(v, "model.dropout") - 0.05);
  const std::string& weighting = Text(v, "train.weighting");
  if (weighting == "\"uncertainty\"") value += 0.0002;
  if (weighting == "\"gradnorm\"") value += 0.0001 - 0.0005 * Square(Number(v, "train.gradnorm_alpha") - 1.2);
  return value;
}
constexpr double kCensusLikeBest = 0.9732 + 0.0003 + 0.0002;

Values ValuesOf(const SearchSpace& space, const Point& point) {
  Values values;
  for (size_t p = 0; p < space.params().size(); ++p) {
    if (point[p].active) values[space.params()[p].key] = space.Text(p, point[p]);
  }
  return values;
}

// "key=value key=value ..." (values without spaces but inside brackets) -> Values.
Values ParseLine(const std::string& line) {
  Values values;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    const size_t eq = line.find('=', i);
    MTREC_CHECK(eq != std::string::npos, "expected key=value at column {} of '{}'", i + 1, line);
    size_t end = eq + 1;
    int depth = 0;
    while (end < line.size() && (depth > 0 || line[end] != ' ')) {
      depth += line[end] == '[' ? 1 : line[end] == ']' ? -1 : 0;
      ++end;
    }
    values[line.substr(i, eq - i)] = line.substr(eq + 1, end - eq - 1);
    i = end;
  }
  return values;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int Main(int argc, char** argv) {
  std::string space_path = "examples/census/space.toml";
  std::string method = "tpe";
  int64_t seeds = 200;
  int64_t trials = 40;
  bool serve = false;
  double noise = 0;
  TpeSettings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      MTREC_CHECK(i + 1 < argc, "{} needs a value", arg);
      return argv[++i];
    };
    if (arg == "--space") space_path = next();
    else if (arg == "--method") method = next();
    else if (arg == "--seeds") seeds = std::stoll(next());
    else if (arg == "--trials") trials = std::stoll(next());
    else if (arg == "--startup") settings.startup_trials = std::stoll(next());
    else if (arg == "--candidates") settings.candidates = std::stoll(next());
    else if (arg == "--prior-weight") settings.prior_weight = std::stod(next());
    else if (arg == "--serve") serve = true;
    else if (arg == "--noise") noise = std::stod(next());
    else Fail("unknown argument '{}'; see the comment at the top of bench/tune/sampler_bench.cc", arg);
  }
  MTREC_CHECK(method == "tpe" || method == "random", "--method takes tpe or random, not '{}'", method);
  const SearchSpace space = SearchSpace::Load(space_path);
  Rng noise_rng(12345);
  if (serve) {
    std::string line;
    while (std::getline(std::cin, line)) {
      const double value = CensusLike(ParseLine(line));
      std::printf("%.9f %.9f\n", value + noise * noise_rng.Normal(), value);
      std::fflush(stdout);
    }
    return 0;
  }
  std::vector<std::vector<double>> regret_at(3);  // after 10, 20, 40 trials
  const int64_t marks[3] = {10, 20, 40};
  for (int64_t seed = 1; seed <= seeds; ++seed) {
    Rng rng(static_cast<uint64_t>(seed));
    std::vector<Observation> history;
    double best_observed = -1e300, best_true = 0;
    for (int64_t t = 1; t <= trials; ++t) {
      const Point point = method == "tpe" ? SampleTpe(space, history, settings, rng) : space.Random(rng);
      const double value = CensusLike(ValuesOf(space, point));
      const double observed = value + noise * noise_rng.Normal();
      if (observed > best_observed) best_observed = observed, best_true = value;
      history.push_back({point, -observed});
      for (int m = 0; m < 3; ++m) {
        if (t == marks[m]) regret_at[m].push_back(kCensusLikeBest - best_true);
      }
    }
  }
  std::printf("sampler: method=%s seeds=%lld noise=%g", method.c_str(), static_cast<long long>(seeds), noise);
  for (int m = 0; m < 3; ++m) {
    if (!regret_at[m].empty()) std::printf(" regret%lld=%.6f", static_cast<long long>(marks[m]), Median(regret_at[m]));
  }
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace mtrec

int main(int argc, char** argv) {
  try {
    return mtrec::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtrec_sampler_bench: %s\n", e.what());
    return 1;
  }
}
